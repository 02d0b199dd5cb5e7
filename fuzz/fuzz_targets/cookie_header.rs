//! Arbitrary `Cookie` header bytes: parsing never panics, `find_cookie`
//! agrees with the full parse, and URI decoding never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server_session::codec::{
    decode_uri_component, encode_uri_component, find_cookie, parse_cookie_header,
};

fuzz_target!(|header: &[u8]| {
    let cookies = parse_cookie_header(header);
    for name in ["connect.sid", "a", ""] {
        let expected = cookies
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str());
        assert_eq!(find_cookie(header, name).as_deref(), expected);
    }
    // The first parsed name, whatever it is, must be found too.
    if let Some((name, value)) = cookies.first() {
        assert_eq!(find_cookie(header, name).as_deref(), Some(value.as_str()));
    }

    let text = String::from_utf8_lossy(header);
    let _ = decode_uri_component(&text);
    assert_eq!(
        decode_uri_component(&encode_uri_component(&text)).as_deref(),
        Some(&*text)
    );
});
