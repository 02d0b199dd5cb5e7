//! The `cookie_header` target's check, shared with the corpus replay test
//! (`crates/server-session/tests/fuzz_corpus.rs`).
//!
//! Input: arbitrary bytes, used as one `Cookie` request header.

use server_session::__private::{
    decode_uri_component, encode_uri_component, find_cookie, parse_cookie_header,
};

/// Pairs looked up one by one with `find_cookie`: enough to check the
/// agreement without making long headers quadratic.
const LOOKUPS: usize = 16;

/// Parsing never panics; `find_cookie` agrees with the full parse for every
/// name it found and for a few it may not have; parsed names are trimmed,
/// unique and never `__proto__`; `encodeURIComponent` output is plain ASCII
/// that `decodeURIComponent` turns back into the text.
pub(crate) fn check(header: &[u8]) {
    let cookies = parse_cookie_header(header);

    for name in ["connect.sid", "a", "", "__proto__"] {
        let expected = cookies
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str());
        assert_eq!(find_cookie(header, name).as_deref(), expected, "{name:?}");
    }
    for (name, value) in cookies.iter().take(LOOKUPS) {
        assert_eq!(
            find_cookie(header, name).as_deref(),
            Some(value.as_str()),
            "{name:?}"
        );
    }

    for (index, (name, _)) in cookies.iter().enumerate() {
        // The header was split on these, and names trimmed of spaces and tabs.
        assert!(!name.contains([';', '=']), "{name:?}");
        assert_eq!(name.trim_matches([' ', '\t']), name, "{name:?}");
        assert_ne!(name, "__proto__");
        // The first occurrence of a name wins; later ones are dropped.
        assert!(
            cookies[..index].iter().all(|(earlier, _)| earlier != name),
            "{name:?} twice"
        );
    }

    let text = String::from_utf8_lossy(header);
    let _ = decode_uri_component(&text);
    let encoded = encode_uri_component(&text);
    assert!(
        encoded
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.!~*'()%".contains(&byte)),
        "{encoded:?}"
    );
    assert_eq!(decode_uri_component(&encoded).as_deref(), Some(&*text));
}
