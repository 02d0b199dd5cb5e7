//! Contents: any text, any size, and bytes that are no record at all.

use serde_json::json;

use super::run::{live, skip, Run};
use crate::conformance::Harness;
use crate::store::{SaveCondition, Store, StoreError};

/// Unicode keys and values, NUL, quotes, backslashes and line separators
/// round-trip exactly.
pub async fn unicode_round_trips<H: Harness>(h: &H) {
    let run = Run::new(h, "unicode_round_trips").await;
    let saved_record = live(json!({
        "ключ": "значение",
        "🔑": "🗝️ emoji with a modifier 👍🏽 and a ZWJ 👩‍💻",
        "nul": "before\u{0}after",
        "quotes": "\"double\" and 'single' and `back`",
        "backslashes": "C:\\path\\to\\file and \\u0041 literally",
        "controls": "\n\r\t\u{1}\u{1f}\u{7f}",
        "separators": "\u{2028}\u{2029}",
        "html": "</script><!-- -->",
        "": "empty key",
        "nested": {"日本語": ["中文", "עברית", "العربية", "ñ", "\u{fffd}"]},
        "astral": "𝄞𐍈",
    }));
    run.round_trip(&run.id(), &saved_record, SaveCondition::Upsert, "save")
        .await;
}

/// A 1 MB record round-trips.
pub async fn large_record_round_trips<H: Harness>(h: &H) {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let run = Run::new(h, "large_record_round_trips").await;
    let id = run.id();
    let blob: String = (0..1 << 20)
        .map(|i: usize| char::from(ALPHABET[(i * 7_919 + i / 61) % ALPHABET.len()]))
        .collect();
    let saved_record = live(json!({"blob": blob, "after": "the blob"}));
    run.round_trip(
        &id,
        &saved_record,
        SaveCondition::Upsert,
        "save of a 1 MB record",
    )
    .await;
    run.destroy(&id, "destroy").await;
}

/// Stored bytes that are not a session record make `load` fail with
/// `Corrupt`, never panic; destroy still removes them.
pub async fn corrupt_record_is_an_error<H: Harness>(h: &H) {
    let case = "corrupt_record_is_an_error";
    if !h.supports_raw() {
        skip(
            case,
            "the store re-encodes what it saves, so it cannot hold corrupt bytes",
        );
        return;
    }
    let run = Run::new(h, case).await;
    for raw in [&br#"{"foo":"bar"}"#[..], b"not json", br#"{"cookie":null}"#] {
        let shown = String::from_utf8_lossy(raw);
        let id = run.id();
        h.write_raw(&run.store, &id, raw).await;
        match run.store.load(&id).await {
            Err(StoreError::Corrupt { .. }) => {}
            other => panic!("{case}: loading `{shown}` gave {other:?}, expected Err(Corrupt)"),
        }
        run.destroy(&id, "destroy of a corrupt record").await;
        run.load_none(&id, "load after destroying a corrupt record")
            .await;
    }
}
