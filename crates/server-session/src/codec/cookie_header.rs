//! The `cookie` package 0.7.2's `parse()` of a `Cookie` request header.
//!
//! Its algorithm, restated over pairs: the header is split on `;`; a pair
//! without `=` is skipped; the name is what comes before the pair's first `=`
//! and the value what comes after, both trimmed of spaces and tabs only; a
//! value starting and ending with `"` loses those two characters (a lone `"`
//! becomes empty); a value containing `%` is URI-decoded, keeping the raw text
//! when that fails; the first pair with a given name wins. A header shorter
//! than 2 characters has no cookies.
//!
//! Node reads header bytes as Latin-1; here they are read as UTF-8, with
//! invalid sequences replaced by U+FFFD, so non-ASCII cookie values come out
//! as their senders meant them. Values express-session writes are ASCII, for
//! which the two agree.

use std::borrow::Cow;
use std::collections::HashSet;

use super::uri::decode_uri_component;

/// `parse()` stores cookies as properties of a plain object, where assigning
/// `__proto__` sets the prototype instead of a property, so a cookie of this
/// name is never in its result.
const JS_PROTO: &str = "__proto__";

/// The first value of cookie `name` in a `Cookie` header, parsed exactly like
/// the `cookie` npm package 0.7.2's `parse()` (see the module docs).
///
/// Works on the raw header bytes: a value that is not UTF-8 is decoded
/// lossily, and junk in other cookies never hides this one. Allocates only
/// when the value is URI-decoded or is not UTF-8.
///
/// Node joins repeated `Cookie` headers with `"; "`; calling this on each
/// header in order and taking the first hit gives the same answer.
///
/// ```
/// # use server_session::__private::find_cookie;
/// let header = b"a=1; sid=\"s%3Aabc\"; sid=second";
/// assert_eq!(find_cookie(header, "sid").as_deref(), Some("s:abc"));
/// assert_eq!(find_cookie(header, "b"), None);
/// ```
pub fn find_cookie<'a>(header: &'a [u8], name: &str) -> Option<Cow<'a, str>> {
    if header.len() < 2 || name == JS_PROTO {
        return None;
    }
    // A key that is not UTF-8 reads as its lossy decoding, which only a name
    // containing U+FFFD can equal; other names need only the byte comparison.
    let lossy_may_match = name.contains(char::REPLACEMENT_CHARACTER);
    pairs(header)
        .find(|(key, _)| {
            *key == name.as_bytes()
                || (lossy_may_match
                    && std::str::from_utf8(key).is_err()
                    && String::from_utf8_lossy(key) == name)
        })
        .map(|(_, value)| decode_value(value))
}

/// Every cookie in a `Cookie` header, parsed like [`find_cookie`]: the first
/// occurrence of each name, in the order of the header.
///
/// (A JavaScript object lists integer-like names such as `"1"` first; this
/// keeps the header's order. The pairs are the same.)
///
/// ```
/// # use server_session::__private::parse_cookie_header;
/// let cookies = parse_cookie_header(b"a=1; b=\"q v\"; c=%E2%82%AC; d=%ZZ; a=2;  e = x ; f");
/// let expected = [("a", "1"), ("b", "q v"), ("c", "€"), ("d", "%ZZ"), ("e", "x")];
/// assert_eq!(
///     cookies,
///     expected.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
/// );
/// ```
pub fn parse_cookie_header(header: &[u8]) -> Vec<(String, String)> {
    let mut cookies = Vec::new();
    if header.len() < 2 {
        return cookies;
    }
    let mut seen = HashSet::new();
    for (key, value) in pairs(header) {
        let key = String::from_utf8_lossy(key);
        if key == JS_PROTO || seen.contains(&key) {
            continue;
        }
        cookies.push((key.clone().into_owned(), decode_value(value).into_owned()));
        seen.insert(key);
    }
    cookies
}

/// The header's `name=value` pairs as raw bytes: name trimmed, value trimmed
/// and unquoted, not yet decoded. Duplicates included.
///
/// Splitting bytes on `;` and `=` finds the same places as splitting the
/// decoded text would: in UTF-8, and in its lossy decoding, ASCII bytes only
/// ever stand for themselves.
fn pairs(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    header.split(|&byte| byte == b';').filter_map(|pair| {
        let equals = pair.iter().position(|&byte| byte == b'=')?;
        let key = trim(&pair[..equals]);
        let value = unquote(trim(&pair[equals + 1..]));
        Some((key, value))
    })
}

fn is_space_or_tab(byte: &u8) -> bool {
    matches!(byte, b' ' | b'\t')
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !is_space_or_tab(byte))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !is_space_or_tab(byte))
        .map_or(start, |last| last + 1);
    &bytes[start..end]
}

/// Drops a leading and a trailing `"` when both are there. A lone `"` is
/// both, and `parse()` slices it to the empty string.
fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"'] => &[],
        [b'"', inner @ .., b'"'] => inner,
        _ => value,
    }
}

/// The value as `parse()` returns it: URI-decoded only if it contains `%`,
/// and left as it is when decoding fails.
fn decode_value(value: &[u8]) -> Cow<'_, str> {
    // Cookie values are almost always ASCII: validate in one pass and only
    // fall back to the lossy conversion for the rare bad bytes.
    let text = match std::str::from_utf8(value) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value),
    };
    if !text.contains('%') {
        return text;
    }
    match decode_uri_component(&text) {
        Some(decoded) => Cow::Owned(decoded),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(header: &str) -> Vec<(String, String)> {
        parse_cookie_header(header.as_bytes())
    }

    fn pairs_of(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|&(key, value)| (key.to_owned(), value.to_owned()))
            .collect()
    }

    #[test]
    fn the_spec_example() {
        assert_eq!(
            parsed("a=1; b=\"q v\"; c=%E2%82%AC; d=%ZZ; a=2;  e = x ; f"),
            pairs_of(&[
                ("a", "1"),
                ("b", "q v"),
                ("c", "€"),
                ("d", "%ZZ"),
                ("e", "x")
            ])
        );
    }

    #[test]
    fn a_set_cookie_line_sent_back_as_a_cookie_header() {
        let header = "connect.sid=s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU; \
                      Path=/; Expires=Fri, 27 Nov 2026 14:05:08 GMT; HttpOnly";
        let sid = "s:apple.D8Y+pkTAmeR0PobOhY4G97PRW+j7bUnP/5m6/On1MCU";
        assert_eq!(
            parsed(header),
            pairs_of(&[
                ("connect.sid", sid),
                ("Path", "/"),
                ("Expires", "Fri, 27 Nov 2026 14:05:08 GMT"),
            ])
        );
        assert_eq!(
            find_cookie(header.as_bytes(), "connect.sid").as_deref(),
            Some(sid)
        );
        assert_eq!(find_cookie(header.as_bytes(), "HttpOnly"), None);
    }

    #[test]
    fn edge_cases_match_node() {
        // Each expectation is cookie@0.7.2's `parse()` output for the header.
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("", &[]),
            ("=", &[]),
            ("=1", &[("", "1")]),
            (" =1", &[("", "1")]),
            ("a==1", &[("a", "=1")]),
            ("x;y;a=1;b", &[("a", "1")]),
            ("a=1;;;b=2", &[("a", "1"), ("b", "2")]),
            ("\ta\t=\t1\t", &[("a", "1")]),
            ("a=\"", &[("a", "")]),
            ("a=\"\"", &[("a", "")]),
            ("a=\" x \"", &[("a", " x ")]),
            ("a=\"1", &[("a", "\"1")]),
            ("a=1\"", &[("a", "1\"")]),
            ("a= \"x\" ;", &[("a", "x")]),
            ("a=%22x%22", &[("a", "\"x\"")]),
            ("a=%", &[("a", "%")]),
            ("a=%C3", &[("a", "%C3")]),
            ("a=%ED%A0%80", &[("a", "%ED%A0%80")]),
            ("a=%e2%82%ac", &[("a", "€")]),
            ("a=\u{a0}1\u{a0}", &[("a", "\u{a0}1\u{a0}")]),
            ("__proto__=1; b=2; __proto__=3", &[("b", "2")]),
            (
                "constructor=1; toString=2; c=4",
                &[("constructor", "1"), ("toString", "2"), ("c", "4")],
            ),
            ("2=x; 1=y; b=z", &[("2", "x"), ("1", "y"), ("b", "z")]),
        ];
        for &(header, expected) in cases {
            assert_eq!(parsed(header), pairs_of(expected), "{header:?}");
            for (key, value) in pairs_of(expected) {
                assert_eq!(
                    find_cookie(header.as_bytes(), &key).as_deref(),
                    Some(value.as_str()),
                    "{header:?} {key:?}"
                );
            }
        }
        assert_eq!(find_cookie(b"__proto__=1", "__proto__"), None);
    }

    #[test]
    fn borrows_unless_it_must_decode() {
        let header = b"a=1; sid=abc.def; enc=%41";
        assert!(matches!(
            find_cookie(header, "sid"),
            Some(Cow::Borrowed("abc.def"))
        ));
        assert!(matches!(find_cookie(header, "enc"), Some(Cow::Owned(text)) if text == "A"));
        assert!(matches!(
            find_cookie(b"a=%ZZ", "a"),
            Some(Cow::Borrowed("%ZZ"))
        ));
    }

    #[test]
    fn junk_bytes_in_other_cookies_do_not_hide_ours() {
        let header = b"\xff\xfe=\x80; junk=\xc3; sid=s%3Aok; x=\xe9";
        assert_eq!(find_cookie(header, "sid").as_deref(), Some("s:ok"));
        assert_eq!(find_cookie(header, "junk").as_deref(), Some("\u{fffd}"));
        assert_eq!(
            find_cookie(header, "\u{fffd}\u{fffd}").as_deref(),
            Some("\u{fffd}")
        );
        assert_eq!(
            parse_cookie_header(header),
            pairs_of(&[
                ("\u{fffd}\u{fffd}", "\u{fffd}"),
                ("junk", "\u{fffd}"),
                ("sid", "s:ok"),
                ("x", "\u{fffd}"),
            ])
        );
    }

    #[test]
    fn utf8_values_are_read_as_utf8() {
        assert_eq!(find_cookie("a=é%41".as_bytes(), "a").as_deref(), Some("éA"));
    }
}
