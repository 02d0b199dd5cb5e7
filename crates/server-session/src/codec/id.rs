//! Session IDs: express-session's default `genid`, and the signed
//! `s:<id>.<mac>` cookie value.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;

use super::signature::Secrets;
use super::uri::push_encoded;

/// The prefix express-session puts before a signed value (cookie-parser's
/// convention for signed cookies).
const SIGNED_PREFIX: &str = "s:";

/// The session cookie's value on the wire:
/// `encodeURIComponent("s:" + sign(id))`.
///
/// The MAC covers the raw `id`, not its encoded form.
///
/// ```
/// # use server_session::__private::{sign_session_id, Secrets};
/// let secrets = Secrets::new(["keyboard cat"]).expect("one secret");
/// assert_eq!(
///     sign_session_id("apple", &secrets),
///     "s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU"
/// );
/// ```
pub fn sign_session_id(id: &str, secrets: &Secrets) -> String {
    encode_signed(&secrets.sign(id))
}

/// The cookie value for an already signed `<id>.<mac>`:
/// `encodeURIComponent("s:" + signed)`.
pub(crate) fn encode_signed(signed: &str) -> String {
    // Written encoded in one pass: `s:` is always `s%3A`, and only the ID
    // and the MAC's `+` and `/` can need escaping.
    let mut encoded = String::with_capacity(signed.len() + 16);
    encoded.push_str("s%3A");
    push_encoded(&mut encoded, signed);
    encoded
}

/// The session ID in a cookie value as [`find_cookie`](super::find_cookie)
/// returns it (already URI-decoded): the value must start with `s:` and carry
/// a valid signature under one of the secrets.
///
/// An unsigned value or a bad signature gives `None`: no session. The ID may
/// be empty (`s:` followed by the signature of `""`); express-session treats
/// that as no session too.
///
/// ```
/// # use server_session::__private::{unsign_session_id, Secrets};
/// let secrets = Secrets::new(["keyboard cat"]).expect("one secret");
/// let value = "s:apple.D8Y+pkTAmeR0PobOhY4G97PRW+j7bUnP/5m6/On1MCU";
/// assert_eq!(unsign_session_id(value, &secrets), Some("apple"));
/// assert_eq!(unsign_session_id("apple", &secrets), None);
/// ```
pub fn unsign_session_id<'a>(value: &'a str, secrets: &Secrets) -> Option<&'a str> {
    secrets.unsign(value.strip_prefix(SIGNED_PREFIX)?)
}

/// A value one of the secrets verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unsigned<'a> {
    /// The session ID.
    pub(crate) id: &'a str,
    /// The signed text `<id>.<mac>`, without the `s:` prefix.
    pub(crate) signed: &'a str,
    /// The first secret (the one that signs) verified it: then `signed` is
    /// exactly what signing again would write, and can be sent back as is.
    pub(crate) by_first_secret: bool,
}

/// [`unsign_session_id`], also giving the signed text and telling whether
/// the signing secret verified it.
pub(crate) fn unsign_session_id_noting_primary<'a>(
    value: &'a str,
    secrets: &Secrets,
) -> Option<Unsigned<'a>> {
    unsigned(value.strip_prefix(SIGNED_PREFIX)?, secrets)
}

/// The session ID in a request header's value: the cookie's signed value
/// without its URL encoding, with or without its `s:` prefix (`:` is not
/// allowed in an RFC 6750 `b64token`, so the library sends it without).
/// Anything no secret verifies gives `None`, as for the cookie.
///
/// An ID that itself starts with `s:` (from a custom `genid`) is sent as
/// `s:<rest>.<mac>`; reading the prefix as optional would lose it, so the
/// whole value is tried when the value without the prefix is not signed.
pub(crate) fn unsign_header_value<'a>(value: &'a str, secrets: &Secrets) -> Option<Unsigned<'a>> {
    value
        .strip_prefix(SIGNED_PREFIX)
        .and_then(|rest| unsigned(rest, secrets))
        .or_else(|| unsigned(value, secrets))
}

fn unsigned<'a>(signed: &'a str, secrets: &Secrets) -> Option<Unsigned<'a>> {
    let (id, by_first_secret) = secrets.unsign_noting_primary(signed)?;
    Some(Unsigned {
        id,
        signed,
        by_first_secret,
    })
}

/// The token of an `Authorization` value in the `Bearer` scheme (RFC 6750
/// §2.1; the scheme in any case), or `None` for another scheme, which
/// carries no session ID. `Bearer` without a token gives `Some("")`.
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim_matches([' ', '\t']);
    let (scheme, token) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches([' ', '\t']))
}

/// express-session's default `genid` (uid-safe's `sync(24)`): 24 random
/// bytes in unpadded base64url, 32 characters from `[A-Za-z0-9_-]`.
///
/// The bytes come from rand's thread-local generator, a CSPRNG (ChaCha12)
/// seeded and periodically reseeded from the operating system, so an ID
/// carries 192 bits of unpredictable randomness.
///
/// ```
/// # use server_session::__private::generate_id;
/// let id = generate_id();
/// assert_eq!(id.len(), 32);
/// assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
/// ```
pub fn generate_id() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::signature::tests::keyboard_cat;

    #[test]
    fn the_upstream_vectors() {
        // Spec §6.3, from express-session's tests, verified with Node.
        let cases = [
            (
                "apple",
                "s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU",
            ),
            ("%", "s%3A%25.kzQ6x52kKVdF35Qh62AWk4ZekS28K5XYCXKa%2FOTZ01g"),
            (
                "/foo",
                "s%3A%2Ffoo.paEKBtAHbV5s1IB8B2zPnzAgYmmnRPIqObW4VRYj%2FMQ",
            ),
        ];
        let secrets = keyboard_cat();
        for (id, wire) in cases {
            assert_eq!(sign_session_id(id, &secrets), wire, "{id:?}");
            let header = format!("connect.sid={wire}");
            let found = super::super::find_cookie(header.as_bytes(), "connect.sid")
                .expect("the cookie is there");
            assert_eq!(unsign_session_id(&found, &secrets), Some(id));
        }
    }

    #[test]
    fn non_ascii_ids_are_signed_raw_and_encoded() {
        // Node: encodeURIComponent('s:' + sign('é☃😀', 'keyboard cat'))
        assert_eq!(
            sign_session_id("é☃😀", &keyboard_cat()),
            "s%3A%C3%A9%E2%98%83%F0%9F%98%80.YGkKJLap2osZvokj8dBZyC1veafgJ%2BdULPICiDfdw38"
        );
    }

    #[test]
    fn unsigned_and_badly_signed_values_are_no_session() {
        let secrets = keyboard_cat();
        let signed = secrets.sign("apple");
        assert_eq!(unsign_session_id(&signed, &secrets), None, "no s: prefix");
        assert_eq!(unsign_session_id(&format!("S:{signed}"), &secrets), None);
        assert_eq!(unsign_session_id(&format!("s:{signed}="), &secrets), None);
        assert_eq!(unsign_session_id("s:", &secrets), None);
        assert_eq!(unsign_session_id("", &secrets), None);
        let other = Secrets::new(["other"]).expect("one secret");
        assert_eq!(unsign_session_id(&format!("s:{signed}"), &other), None);
    }

    #[test]
    fn a_header_value_is_the_signed_value_with_or_without_its_prefix() {
        let secrets = keyboard_cat();
        let signed = secrets.sign("apple");
        for value in [signed.clone(), format!("s:{signed}")] {
            let found = unsign_header_value(&value, &secrets).expect("signed");
            assert_eq!((found.id, found.signed), ("apple", signed.as_str()));
            assert!(found.by_first_secret);
        }
        // An ID of its own starting with `s:` keeps it.
        let odd = secrets.sign("s:odd");
        assert_eq!(
            unsign_header_value(&odd, &secrets).map(|u| u.id),
            Some("s:odd")
        );
        // The cookie's URL encoding is not undone.
        let encoded = sign_session_id("a/b", &secrets);
        assert_eq!(unsign_header_value(&encoded, &secrets), None);
        for bad in [
            "",
            "s:",
            "apple",
            "apple.",
            "s:apple.AAAA",
            &format!("{signed}x"),
        ] {
            assert_eq!(unsign_header_value(bad, &secrets), None, "{bad:?}");
        }
        let rotated = Secrets::new(["new", "keyboard cat"]).expect("two secrets");
        let by_old = unsign_header_value(&signed, &rotated).expect("an old secret verifies");
        assert!(!by_old.by_first_secret);
    }

    #[test]
    fn only_the_bearer_scheme_carries_a_token() {
        assert_eq!(bearer_token("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer_token("bearer  abc.def "), Some("abc.def"));
        assert_eq!(bearer_token("BEARER\tabc"), Some("abc"));
        assert_eq!(bearer_token("Bearer"), Some(""));
        assert_eq!(bearer_token("Basic YWxhZGRpbjpvcGVuc2VzYW1l"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
        assert_eq!(bearer_token("abc.def"), None);
        assert_eq!(bearer_token(""), None);
        assert_eq!(bearer_token("é Bearer x"), None);
    }

    #[test]
    fn generated_ids_are_32_url_safe_characters_and_differ() {
        let first = generate_id();
        let second = generate_id();
        for id in [&first, &second] {
            assert_eq!(id.len(), 32);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
        assert_ne!(first, second);
    }
}
