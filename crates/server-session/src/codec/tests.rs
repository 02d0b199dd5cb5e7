//! Properties of the codec as a whole, over arbitrary input.

use proptest::prelude::*;

use super::*;

fn secrets() -> Secrets {
    Secrets::new(["keyboard cat", "old secret"]).expect("two secrets")
}

/// The whole round: a cookie issued for a fresh session comes back among
/// other cookies and verifies; a tampered one is simply "no session".
#[test]
fn an_issued_cookie_is_found_and_verified_and_a_forged_one_is_no_session() {
    let secrets = secrets();
    let id = generate_id();
    let value = sign_session_id(&id, &secrets);
    let mut cookie = SetCookie::new("connect.sid", &value);
    cookie.path = Some("/");
    cookie.http_only = true;
    let header = cookie.to_header_value().expect("a valid cookie");
    assert_eq!(header, format!("connect.sid={value}; Path=/; HttpOnly"));

    let cookie_header = format!("theme=dark; connect.sid={value}");
    let found = find_cookie(cookie_header.as_bytes(), "connect.sid").expect("cookie present");
    assert_eq!(unsign_session_id(&found, &secrets), Some(id.as_str()));

    let forged = find_cookie(b"connect.sid=s%3Aadmin.AAAA", "connect.sid").expect("present");
    assert_eq!(unsign_session_id(&forged, &secrets), None);
}

/// Headers built from the characters the parser cares about, so the
/// interesting paths (quotes, escapes, empty names, duplicates) are hit often.
fn cookie_ish_header() -> impl Strategy<Value = Vec<u8>> {
    const PIECES: &[&[u8]] = &[
        b";",
        b"=",
        b" ",
        b"\t",
        b"\"",
        b"%",
        b"%3A",
        b"%C3%A9",
        b"a",
        b"b",
        b"sid",
        b"__proto__",
        "é".as_bytes(),
        &[0xff],
        &[0xc3],
    ];
    proptest::collection::vec(proptest::sample::select(PIECES), 0..24)
        .prop_map(|pieces| pieces.concat())
}

/// A direct port of cookie@0.7.2's `parse()` loop (index arithmetic and all),
/// over the lossy text, to check the pair-splitting restatement against.
fn reference_parse(header: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(header);
    let chars: Vec<char> = text.chars().collect();
    let len = chars.len();
    let mut out: Vec<(String, String)> = Vec::new();
    // `str.length` counts UTF-16 code units.
    if text.encode_utf16().count() < 2 {
        return out;
    }
    let find = |c: char, from: usize| (from..len).find(|&i| chars[i] == c);
    let is_ws = |i: usize| chars.get(i).is_some_and(|&c| c == ' ' || c == '\t');
    let mut index = 0;
    while let Some(eq) = find('=', index) {
        let end = match find(';', index) {
            None => len,
            Some(semi) if eq > semi => {
                index = (0..eq)
                    .rev()
                    .find(|&i| chars[i] == ';')
                    .map_or(0, |i| i + 1);
                continue;
            }
            Some(semi) => semi,
        };
        let mut key_start = index;
        while key_start < eq && is_ws(key_start) {
            key_start += 1;
        }
        let mut key_end = eq;
        while key_end > key_start && is_ws(key_end - 1) {
            key_end -= 1;
        }
        let key: String = chars[key_start..key_end].iter().collect();
        if key != "__proto__" && !out.iter().any(|(k, _)| *k == key) {
            let mut start = eq + 1;
            while start < end && is_ws(start) {
                start += 1;
            }
            let mut stop = end;
            while stop > start && is_ws(stop - 1) {
                stop -= 1;
            }
            let raw: String = if stop > start && chars[start] == '"' && chars[stop - 1] == '"' {
                // JavaScript's slice(start + 1, stop - 1) is empty when the
                // indices cross (a lone quote).
                chars[start + 1..(stop - 1).max(start + 1)].iter().collect()
            } else {
                chars[start..stop].iter().collect()
            };
            let value = if raw.contains('%') {
                decode_uri_component(&raw).unwrap_or(raw)
            } else {
                raw
            };
            out.push((key, value));
        }
        index = end + 1;
        if index >= len {
            break;
        }
    }
    out
}

proptest! {
    #[test]
    fn sign_then_unsign_round_trips(id in any::<String>()) {
        let secrets = secrets();
        let wire = sign_session_id(&id, &secrets);
        let header = format!("other=1; connect.sid={wire}; x=y");
        let found = find_cookie(header.as_bytes(), "connect.sid").expect("the cookie is there");
        prop_assert_eq!(unsign_session_id(&found, &secrets), Some(id.as_str()));
        let signed = secrets.sign(&id);
        prop_assert_eq!(secrets.unsign(&signed), Some(id.as_str()));
    }

    #[test]
    fn encode_then_decode_round_trips(text in any::<String>()) {
        let encoded = encode_uri_component(&text);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_graphic()));
        prop_assert_eq!(decode_uri_component(&encoded), Some(text));
    }

    #[test]
    fn the_header_functions_never_panic(header in any::<Vec<u8>>(), name in any::<String>()) {
        let _ = find_cookie(&header, &name);
        let _ = find_cookie(&header, "sid");
        let _ = parse_cookie_header(&header);
    }

    #[test]
    fn unsign_and_decode_never_panic(text in any::<String>()) {
        let secrets = secrets();
        let _ = secrets.unsign(&text);
        let _ = unsign_session_id(&text, &secrets);
        let _ = decode_uri_component(&text);
    }

    #[test]
    fn parsing_matches_a_port_of_the_javascript_loop(header in cookie_ish_header()) {
        prop_assert_eq!(parse_cookie_header(&header), reference_parse(&header));
    }

    #[test]
    fn find_cookie_agrees_with_the_full_parse(
        header in cookie_ish_header(),
        name in prop_oneof![
            Just(String::new()),
            Just("a".to_owned()),
            Just("sid".to_owned()),
            Just("\u{fffd}".to_owned()),
            Just("__proto__".to_owned()),
        ],
    ) {
        let expected = parse_cookie_header(&header)
            .into_iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value);
        prop_assert_eq!(find_cookie(&header, &name).map(|v| v.into_owned()), expected);
    }

    #[test]
    fn set_cookie_of_a_signed_value_is_accepted(id in any::<String>()) {
        let value = sign_session_id(&id, &secrets());
        let header = SetCookie { name: "connect.sid", value: &value, ..SetCookie::default() }
            .to_header_value();
        prop_assert_eq!(header, Ok(format!("connect.sid={value}")));
    }
}
