//! upstream's `Set-Cookie` assertions (`shouldSetCookie`,
//! `shouldSetCookieWithAttribute`, …) and `utils.parseSetCookie`.
//!
//! The parsing here is written independently of the library's codec, so
//! the tests do not check the codec against itself.

use http::header::SET_COOKIE;
use http::HeaderMap;

use super::Res;

/// One `Set-Cookie` header, split as upstream's `utils.parseSetCookie`:
/// the name, the raw value, and each attribute under its lowercased name
/// (flags such as `HttpOnly` have an empty value).
#[derive(Debug)]
pub struct ParsedSetCookie {
    /// The cookie's name.
    pub name: String,
    /// The raw value.
    pub value: String,
    /// Each attribute, lowercased name and value.
    pub attributes: Vec<(String, String)>,
}

impl ParsedSetCookie {
    /// The attribute's value, by case-insensitive name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.attributes
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the attribute is present, by case-insensitive name.
    pub fn has(&self, name: &str) -> bool {
        self.attribute(name).is_some()
    }
}

/// Splits a `Set-Cookie` header value.
pub fn parse_set_cookie(header: &str) -> ParsedSetCookie {
    let mut parts = header.split(';');
    let first = parts.next().unwrap_or_default();
    let (name, value) = first.split_once('=').unwrap_or((first, ""));
    let attributes = parts
        .map(|part| {
            let part = part.trim();
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (key.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    ParsedSetCookie {
        name: name.trim().to_owned(),
        value: value.trim().to_owned(),
        attributes,
    }
}

/// The `name=value` part of a `Set-Cookie` header, to send back as
/// `Cookie`.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().expect("name=value").to_owned()
}

/// Every `Set-Cookie` header, in order.
pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().expect("Set-Cookie is ASCII").to_owned())
        .collect()
}

/// The first `Set-Cookie` header.
pub fn first_set_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(SET_COOKIE)
        .map(|value| value.to_str().expect("Set-Cookie is ASCII"))
}

/// JavaScript's `unescape` for the `%XX` escapes a cookie value holds.
pub fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = bytes
            .get(index + 1..index + 3)
            .filter(|_| bytes[index] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// upstream's `sid(res)`: the unescaped cookie value between `s:` and the
/// first `.`.
pub fn sid(headers: &HeaderMap) -> Option<String> {
    let header = first_set_cookie(headers)?;
    let value = unescape(&parse_set_cookie(header).value);
    let dot = value.find('.')?;
    let sid = value.get(2..dot)?;
    (!sid.is_empty()).then(|| sid.to_owned())
}

/// The first cookie, parsed, checked to be named `name`.
#[track_caller]
fn first_cookie_named(res: &Res, name: &str) -> ParsedSetCookie {
    let header = first_set_cookie(&res.headers).expect("should have a cookie header");
    let data = parse_set_cookie(header);
    assert_eq!(data.name, name, "should set cookie {name}");
    data
}

/// upstream's `shouldSetCookie(name)`.
#[track_caller]
pub fn should_set_cookie(res: &Res, name: &str) {
    first_cookie_named(res, name);
}

/// upstream's `shouldNotHaveHeader(header)`.
#[track_caller]
pub fn should_not_have_header(res: &Res, header: &str) {
    assert!(
        !res.headers.contains_key(header),
        "should not have {header} header, got {:?}",
        res.headers.get_all(header).iter().collect::<Vec<_>>()
    );
}

/// upstream's `shouldSetCookieToValue(name, val)`.
#[track_caller]
pub fn should_set_cookie_to_value(res: &Res, name: &str, value: &str) {
    let data = first_cookie_named(res, name);
    assert_eq!(data.value, value, "should set cookie {name} to {value}");
}

/// upstream's `shouldSetCookieToDifferentSessionId(id)`.
#[track_caller]
pub fn should_set_cookie_to_different_session_id(res: &Res, id: &str) {
    assert_ne!(
        sid(&res.headers).as_deref(),
        Some(id),
        "should set a different session id"
    );
}

/// upstream's `shouldSetCookieWithAttribute(name, attrib)`.
#[track_caller]
pub fn should_set_cookie_with_attribute(res: &Res, name: &str, attribute: &str) {
    let data = first_cookie_named(res, name);
    assert!(
        data.has(attribute),
        "should set cookie with attribute {attribute}: {data:?}"
    );
}

/// upstream's `shouldSetCookieWithoutAttribute(name, attrib)`.
#[track_caller]
pub fn should_set_cookie_without_attribute(res: &Res, name: &str, attribute: &str) {
    let data = first_cookie_named(res, name);
    assert!(
        !data.has(attribute),
        "should set cookie without attribute {attribute}: {data:?}"
    );
}

/// upstream's `shouldSetCookieWithAttributeAndValue(name, attrib, value)`.
#[track_caller]
pub fn should_set_cookie_with_attribute_and_value(
    res: &Res,
    name: &str,
    attribute: &str,
    value: &str,
) {
    let data = first_cookie_named(res, name);
    assert_eq!(
        data.attribute(attribute),
        Some(value),
        "should set cookie with attribute {attribute} set to {value}"
    );
}

/// upstream's `shouldSetCookieToExpireIn(name, delta)`: `Expires` minus the
/// `Date` header is exactly `delta` milliseconds.
#[track_caller]
pub fn should_set_cookie_to_expire_in(res: &Res, name: &str, delta_ms: i64) {
    let data = first_cookie_named(res, name);
    let expires = data
        .attribute("expires")
        .expect("should set cookie with attribute Expires");
    let date = res.header("date").expect("should have a date header");
    let millis = |text: &str| {
        let at = httpdate::parse_http_date(text).expect("an HTTP date");
        let since = at
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970");
        i64::try_from(since.as_millis()).expect("fits")
    };
    assert_eq!(
        millis(expires) - millis(date),
        delta_ms,
        "should set cookie {name} to expire in {delta_ms} ms (Expires {expires}, Date {date})"
    );
}
