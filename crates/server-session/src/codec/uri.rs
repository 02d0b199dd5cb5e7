//! JavaScript's `encodeURIComponent` and `decodeURIComponent`.

use std::borrow::Cow;

/// Whether `encodeURIComponent` leaves a byte as it is:
/// `A-Z a-z 0-9 - _ . ! ~ * ' ( )`. A table, since this runs for every
/// byte of every cookie value written.
const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        byte += 1;
    }
    table
};

fn is_unreserved(byte: u8) -> bool {
    UNRESERVED[usize::from(byte)]
}

/// JavaScript's `encodeURIComponent`: every byte of the UTF-8 text except
/// `A-Z a-z 0-9 - _ . ! ~ * ' ( )` becomes `%XX` in uppercase hex.
///
/// Borrows when there is nothing to escape. (JavaScript throws on a lone
/// surrogate; a Rust `str` cannot hold one, so this never fails.)
///
/// ```
/// # use server_session::__private::encode_uri_component;
/// assert_eq!(encode_uri_component("s:a/b+c"), "s%3Aa%2Fb%2Bc");
/// assert_eq!(encode_uri_component("€"), "%E2%82%AC");
/// ```
pub fn encode_uri_component(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let Some(first) = bytes.iter().position(|&byte| !is_unreserved(byte)) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(bytes.len() + 16);
    out.push_str(&text[..first]);
    push_encoded(&mut out, &text[first..]);
    Cow::Owned(out)
}

/// Appends `text` to `out`, encoded as `encodeURIComponent` does.
pub(crate) fn push_encoded(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = text;
    while !rest.is_empty() {
        // Copy the run of unreserved bytes at once, then escape one byte.
        let run = rest
            .bytes()
            .position(|byte| !is_unreserved(byte))
            .unwrap_or(rest.len());
        out.push_str(&rest[..run]);
        let Some(&byte) = rest.as_bytes().get(run) else {
            break;
        };
        out.push('%');
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        // A non-ASCII character is escaped byte by byte; the run resumes
        // after its last byte, which is the next char boundary.
        let width = rest[run..].chars().next().map_or(1, char::len_utf8);
        for &continuation in &rest.as_bytes()[run + 1..run + width] {
            out.push('%');
            out.push(char::from(HEX[usize::from(continuation >> 4)]));
            out.push(char::from(HEX[usize::from(continuation & 0x0f)]));
        }
        rest = &rest[run + width..];
    }
}

/// JavaScript's `decodeURIComponent`; `None` where it would throw a
/// `URIError`.
///
/// Every `%` must start two hex digits (either case), and the escaped bytes
/// must form valid UTF-8 together with the text around them: an escaped
/// multi-byte character must be escaped whole, and overlong forms,
/// surrogates and code points past U+10FFFF are refused, as JavaScript
/// refuses them. Nothing else is special (`+` stays `+`).
///
/// ```
/// # use server_session::__private::decode_uri_component;
/// assert_eq!(decode_uri_component("s%3A%E2%82%AC").as_deref(), Some("s:€"));
/// assert_eq!(decode_uri_component("%ZZ"), None);
/// assert_eq!(decode_uri_component("%C3"), None);
/// ```
pub fn decode_uri_component(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        // Copy the literal run up to the next escape at once.
        let run = bytes[index..]
            .iter()
            .position(|&byte| byte == b'%')
            .unwrap_or(bytes.len() - index);
        out.extend_from_slice(&bytes[index..index + run]);
        index += run;
        if index < bytes.len() {
            let high = hex_value(*bytes.get(index + 1)?)?;
            let low = hex_value(*bytes.get(index + 2)?)?;
            out.push(high << 4 | low);
            index += 3;
        }
    }
    // Literal text is whole UTF-8 characters, whose first byte is never a
    // continuation byte, so validating the bytes as one run refuses exactly
    // what JavaScript refuses: a truncated or mixed escaped sequence, an
    // overlong form, a surrogate, or a code point past U+10FFFF.
    String::from_utf8(out).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_javascript() {
        // node -e "console.log(encodeURIComponent(...))" on the same text.
        assert_eq!(
            encode_uri_component(
                "aZ09-_.!~*'() :/?#[]@$&+,;=%\"<>\\^`{|}\u{e9}\u{20ac}\u{1f600}\u{0}\u{7f}"
            ),
            "aZ09-_.!~*'()%20%3A%2F%3F%23%5B%5D%40%24%26%2B%2C%3B%3D%25%22%3C%3E%5C%5E%60%7B%7C%7D\
             %C3%A9%E2%82%AC%F0%9F%98%80%00%7F"
        );
    }

    #[test]
    fn borrows_when_nothing_needs_escaping() {
        assert!(matches!(
            encode_uri_component("abc-_.!~*'()"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(encode_uri_component(""), Cow::Borrowed(_)));
    }

    #[test]
    fn decodes_like_javascript() {
        assert_eq!(decode_uri_component("").as_deref(), Some(""));
        assert_eq!(decode_uri_component("a+b").as_deref(), Some("a+b"));
        assert_eq!(decode_uri_component("%e2%82%ac").as_deref(), Some("€"));
        assert_eq!(decode_uri_component("%25%32%35").as_deref(), Some("%25"));
        assert_eq!(decode_uri_component("é%41").as_deref(), Some("éA"));
        assert_eq!(decode_uri_component("%00").as_deref(), Some("\0"));
        assert_eq!(
            decode_uri_component("%F0%9F%98%80").as_deref(),
            Some("\u{1f600}")
        );
    }

    #[test]
    fn refuses_what_javascript_throws_on() {
        for text in [
            "%",
            "%4",
            "%G1",
            "a%",
            "%C3",          // truncated sequence
            "%C3a%A9",      // literal text inside a sequence
            "%A9",          // lone continuation byte
            "é%A9",         // escaped continuation after a literal character
            "%C0%80",       // overlong NUL
            "%ED%A0%80",    // a surrogate
            "%F4%90%80%80", // past U+10FFFF
            "%FF",
        ] {
            assert_eq!(decode_uri_component(text), None, "{text:?}");
        }
    }
}
