//! The `unsign` target's check, shared with the corpus replay test
//! (`crates/server-session/tests/fuzz_corpus.rs`).
//!
//! Input: arbitrary bytes, used three ways: as a signed value a client sent,
//! as a session ID to sign, and (first two bytes) as an edit to the signed
//! form of that ID.

use std::sync::OnceLock;

use server_session::__private::{
    decode_uri_component, find_cookie, sign_session_id, unsign_session_id, Secrets,
};

/// Both secrets (rotation: the first signs, both verify), then each alone.
fn secrets() -> &'static [Secrets; 3] {
    static SECRETS: OnceLock<[Secrets; 3]> = OnceLock::new();
    SECRETS.get_or_init(|| {
        let one = |secret: &str| Secrets::new([secret]).expect("one secret");
        [
            Secrets::new(["keyboard cat", "old"]).expect("two secrets"),
            one("keyboard cat"),
            one("old"),
        ]
    })
}

/// Accepted only if one of the secrets signs exactly this text.
fn assert_only_signed_text_verifies(signed: &str) {
    let [both, first, second] = secrets();
    if let Some(id) = both.unsign(signed) {
        assert!(
            first.sign(id) == signed || second.sign(id) == signed,
            "{signed:?} verified as {id:?}"
        );
    }
}

/// Unsigning never panics and accepts only what signing produces; signing
/// any ID and unsigning it (directly or through a `Cookie` header) gives the
/// ID back, under either secret; one edited byte of a signed value (the
/// MAC, its `.`, `=` padding, a non-canonical last base64 digit) never
/// verifies unless it is the signature of another value.
pub(crate) fn check(data: &[u8]) {
    let [both, first, second] = secrets();

    // As a value a client sent.
    if let Ok(text) = std::str::from_utf8(data) {
        assert_only_signed_text_verifies(text);
        for value in [Some(text.to_owned()), decode_uri_component(text)]
            .into_iter()
            .flatten()
        {
            if let Some(id) = unsign_session_id(&value, both) {
                let signed = &value[2..];
                assert!(first.sign(id) == signed || second.sign(id) == signed);
            }
        }
    }

    // As an ID: sign, then unsign.
    let id = String::from_utf8_lossy(data);
    for signer in [first, second] {
        assert_eq!(both.unsign(&signer.sign(&id)), Some(&*id));
    }
    // Each secret verifies only its own signatures.
    assert_eq!(first.unsign(&second.sign(&id)), None);
    assert_eq!(second.unsign(&first.sign(&id)), None);
    // Through the wire: the cookie value express writes, in a header.
    let value = sign_session_id(&id, both);
    let header = format!("connect.sid={value}");
    let found = find_cookie(header.as_bytes(), "connect.sid").expect("the cookie just written");
    assert_eq!(unsign_session_id(&found, both), Some(&*id));

    // One byte of the MAC end edited: replaced, or inserted.
    if let &[place, byte, ..] = data {
        let signed = first.sign(&id).into_bytes();
        // The last 44 bytes: the `.` and the 43 base64 digits, or one past.
        let from_end = usize::from(place & 0x3f) % 45;
        let at = signed.len().saturating_sub(from_end);
        let mut edited = signed.clone();
        if place & 0x40 == 0 && at < edited.len() {
            edited[at] = byte;
        } else {
            edited.insert(at, byte);
        }
        if let Ok(edited) = std::str::from_utf8(&edited) {
            assert_only_signed_text_verifies(edited);
            if edited.as_bytes() != signed {
                // Another value's signature would need an HMAC collision.
                assert_eq!(first.unsign(edited).filter(|found| *found == id), None);
            }
        }
    }
}
