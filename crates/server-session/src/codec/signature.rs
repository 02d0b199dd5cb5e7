//! cookie-signature 1.0.7: `value.base64(HMAC-SHA256(secret, value))`.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The length of an HMAC-SHA256 in unpadded base64: 32 bytes, 43 characters.
const MAC_BASE64_LEN: usize = 43;

/// The signing keys: the first signs, all verify (in order).
///
/// This is express-session's `secret` option given as a list, which is how
/// secrets are rotated: put the new secret first and keep the old ones after
/// it until the cookies they signed have expired.
///
/// `Debug` prints how many secrets there are, never their bytes. Cloning is
/// cheap (the keys are shared).
#[derive(Clone)]
pub struct Secrets {
    // One keyed HMAC per secret, in the caller's order. HMAC key setup hashes
    // the padded key into the inner and outer states; doing it once here
    // means signing or verifying only clones two SHA-256 states. Never empty.
    keys: Arc<[HmacSha256]>,
}

impl Secrets {
    /// The secrets, the first of which signs. `None` when the list is empty.
    ///
    /// Each secret is any bytes (a string, or a `Buffer` in express). An empty
    /// secret is accepted, as cookie-signature accepts it, though it protects
    /// nothing.
    pub fn new<I, K>(secrets: I) -> Option<Self>
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        let keys: Arc<[HmacSha256]> = secrets
            .into_iter()
            .map(|secret| {
                // HMAC takes keys of any length (longer ones are hashed first),
                // so this never fails.
                <HmacSha256 as Mac>::new_from_slice(secret.as_ref())
                    .expect("HMAC accepts keys of any length")
            })
            .collect();
        if keys.is_empty() {
            return None;
        }
        Some(Self { keys })
    }

    /// How many secrets there are (at least one).
    #[allow(clippy::len_without_is_empty)] // never empty: `new` refuses an empty list
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// cookie-signature's `sign` with the first secret:
    /// `value + "." + base64(HMAC-SHA256(secret, value))`, standard alphabet,
    /// `=` padding stripped.
    ///
    /// ```
    /// # use server_session::__private::Secrets;
    /// let secrets = Secrets::new(["keyboard cat"]).expect("one secret");
    /// assert_eq!(secrets.sign("apple"), "apple.D8Y+pkTAmeR0PobOhY4G97PRW+j7bUnP/5m6/On1MCU");
    /// ```
    pub fn sign(&self, value: &str) -> String {
        let mac = mac_of(&self.keys[0], value).finalize().into_bytes();
        let mut signed = String::with_capacity(value.len() + 1 + MAC_BASE64_LEN);
        signed.push_str(value);
        signed.push('.');
        STANDARD_NO_PAD.encode_string(mac, &mut signed);
        signed
    }

    /// cookie-signature's `unsign`: the value before the **last** `.`, if
    /// what follows is its MAC under one of the secrets (tried in order).
    ///
    /// Exactly the text [`sign`](Self::sign) produces is accepted: `=` padding
    /// or any other non-canonical base64 is refused, as cookie-signature
    /// refuses it by comparing the whole string. The MAC itself is compared in
    /// constant time.
    ///
    /// ```
    /// # use server_session::__private::Secrets;
    /// let secrets = Secrets::new(["keyboard cat"]).expect("one secret");
    /// let signed = secrets.sign("a.b");
    /// assert_eq!(secrets.unsign(&signed), Some("a.b"));
    /// assert_eq!(secrets.unsign("a.b.AAAA"), None);
    /// ```
    pub fn unsign<'a>(&self, signed: &'a str) -> Option<&'a str> {
        self.unsign_noting_primary(signed).map(|(value, _)| value)
    }

    /// [`unsign`](Self::unsign), also telling whether the first secret (the
    /// one that signs) verified it: then the signed text is exactly what
    /// [`sign`](Self::sign) would write again, and can be sent back as is.
    pub(crate) fn unsign_noting_primary<'a>(&self, signed: &'a str) -> Option<(&'a str, bool)> {
        let dot = signed.rfind('.')?;
        let (value, encoded_mac) = (&signed[..dot], &signed[dot + 1..]);
        // The length of the encoding is public (the same for every MAC); checking
        // it first keeps hostile long input from being decoded at all.
        if encoded_mac.len() != MAC_BASE64_LEN {
            return None;
        }
        // STANDARD_NO_PAD refuses '=' and non-zero trailing bits, so each
        // 32-byte MAC has exactly one accepted spelling: the one `sign` writes.
        // The buffer has one spare byte because decode_slice sizes its check by
        // a rounded-up estimate (33 for 43 characters).
        let mut mac = [0u8; 33];
        let decoded_len = STANDARD_NO_PAD.decode_slice(encoded_mac, &mut mac).ok()?;
        let mac = mac.get(..decoded_len)?;
        self.keys
            .iter()
            .position(|key| mac_of(key, value).verify_slice(mac).is_ok())
            .map(|index| (value, index == 0))
    }
}

fn mac_of(key: &HmacSha256, value: &str) -> HmacSha256 {
    let mut mac = key.clone();
    mac.update(value.as_bytes());
    mac
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("len", &self.keys.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The secret of express-session's and cookie-signature's tests.
    pub(crate) fn keyboard_cat() -> Secrets {
        Secrets::new(["keyboard cat"]).expect("one secret")
    }

    #[test]
    fn an_empty_list_is_refused() {
        assert!(Secrets::new(Vec::<String>::new()).is_none());
        assert_eq!(keyboard_cat().len(), 1);
    }

    #[test]
    fn signs_like_cookie_signature() {
        // `node -e "console.log(require('cookie-signature').sign('apple','keyboard cat'))"`
        assert_eq!(
            keyboard_cat().sign("apple"),
            "apple.D8Y+pkTAmeR0PobOhY4G97PRW+j7bUnP/5m6/On1MCU"
        );
        assert_eq!(
            keyboard_cat().sign(""),
            ".aJcKKTu8Uv0mRiw7LTI435t+pOa+giU/WLAuLCKGEFc"
        );
        assert_eq!(
            keyboard_cat().sign("a.b.c."),
            "a.b.c..y635Nw7K1C7eQgRE5UwEiSi2KdB969WyAa0Vw2xOj/4"
        );
        // The MAC is over the value's UTF-8 bytes.
        assert_eq!(
            keyboard_cat().sign("é☃😀"),
            "é☃😀.YGkKJLap2osZvokj8dBZyC1veafgJ+dULPICiDfdw38"
        );
        // An empty secret is accepted, as cookie-signature accepts it.
        let empty = Secrets::new([""]).expect("one secret");
        assert_eq!(
            empty.sign("x"),
            "x.TLyWCZpkZ84AJGHxBUm0iYJl6+YYi0XvrMRCk1FuYsQ"
        );
    }

    #[test]
    fn a_trailing_equals_sign_is_refused() {
        let secrets = keyboard_cat();
        let signed = secrets.sign("apple");
        assert_eq!(secrets.unsign(&signed), Some("apple"));
        assert_eq!(secrets.unsign(&format!("{signed}=")), None);
        assert_eq!(secrets.unsign(&format!("{signed}==")), None);
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        let secrets = keyboard_cat();
        let signed = secrets.sign("apple");
        // The last of 43 characters carries 4 bits of MAC and 2 zero bits; 'U'
        // (20 = 0b010100) becomes 'V' (0b010101) with a trailing bit set, which
        // a lenient decoder would read as the same MAC.
        assert!(signed.ends_with('U'));
        let tweaked = format!("{}V", &signed[..signed.len() - 1]);
        assert_eq!(secrets.unsign(&tweaked), None);
        // The URL-safe alphabet is a different string, so cookie-signature refuses it.
        let url_safe = signed.replace('+', "-").replace('/', "_");
        assert_eq!(secrets.unsign(&url_safe), None);
    }

    #[test]
    fn ids_containing_dots_split_on_the_last_dot() {
        let secrets = keyboard_cat();
        let signed = secrets.sign("a.b.c.");
        assert_eq!(secrets.unsign(&signed), Some("a.b.c."));
        assert_eq!(secrets.unsign(&secrets.sign("")), Some(""));
    }

    #[test]
    fn rotation_signs_with_the_first_and_verifies_with_any() {
        let old = Secrets::new(["old"]).expect("one secret");
        let rotated = Secrets::new(["new", "old"]).expect("two secrets");
        let new_only = Secrets::new(["new"]).expect("one secret");
        assert_eq!(rotated.len(), 2);

        let signed_before = old.sign("sid");
        assert_eq!(rotated.unsign(&signed_before), Some("sid"));
        assert_eq!(new_only.unsign(&signed_before), None);

        let signed_after = rotated.sign("sid");
        assert_eq!(
            signed_after,
            "sid.6lXq4fjW71A9QUVH7rjeDJX9o8wDTOyfzYDcdub/mx8"
        );
        assert_eq!(
            signed_before,
            "sid.QTWAeMBVdPWQvd3kB/HuMx9MoyfTclwp7Bdy9YaVhfs"
        );
        assert_eq!(old.unsign(&signed_after), None);
    }

    #[test]
    fn secrets_are_any_bytes() {
        let bytes = Secrets::new([&[0xff_u8, 0x00, 0x80][..]]).expect("one secret");
        let signed = bytes.sign("x");
        assert_eq!(bytes.unsign(&signed), Some("x"));
        // Node: require('cookie-signature').sign('x', Buffer.from([0xff,0,0x80]))
        assert_eq!(signed, "x.tpVA3PCvyy/hXKNB7SOgIi6DJBSoEnRUhdnXDBalsxY");
    }

    #[test]
    fn garbage_is_refused() {
        let secrets = keyboard_cat();
        for input in [
            "",
            ".",
            "apple",
            "apple.",
            "é.é",
            "a.!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert_eq!(secrets.unsign(input), None, "{input:?}");
        }
    }

    #[test]
    fn debug_prints_no_key_bytes() {
        let text = format!("{:?}", Secrets::new(["hunter2"]).expect("one secret"));
        assert_eq!(text, "Secrets { len: 1, .. }");
    }
}
