//! Arbitrary signed values: unsigning never panics, and accepts only what
//! signing with one of the secrets produces.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use server_session::codec::{decode_uri_component, unsign_session_id, Secrets};

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

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let [both, first, second] = secrets();
    if let Some(id) = both.unsign(text) {
        assert!(first.sign(id) == text || second.sign(id) == text);
    }
    if let Some(id) = unsign_session_id(text, both) {
        let signed = &text[2..];
        assert!(first.sign(id) == signed || second.sign(id) == signed);
    }
    let _ = decode_uri_component(text);
});
