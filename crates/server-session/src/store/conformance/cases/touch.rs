//! Touch: a later expiry for a live record, nothing for any other.

use serde_json::json;

use super::run::{in_ms, live, record, wait_past, Run};
use crate::conformance::Harness;
use crate::store::{now_ms, SaveCondition};

/// Touch extends the expiry; data and version stay as they were, and the
/// record outlives its original expiry.
pub async fn touch_extends_expiry_keeps_data_and_version<H: Harness>(h: &H) {
    let run = Run::new(h, "touch_extends_expiry_keeps_data_and_version").await;
    let id = run.id();
    let expires = now_ms() + 1_500;
    let original = record(Some(expires), json!({"n": 1, "keep": "me"}));
    let version = run.upsert(&id, &original, "save").await;
    // The session as a request holds it: a later expiry, and data the
    // store must not write.
    let touched = record(in_ms(20_000), json!({"n": 2}));
    run.touch(&id, &touched, "touch").await;
    run.load_same_data(&id, "load after touch", &original, version)
        .await;
    wait_past(expires).await;
    run.load_same_data(&id, "load past the original expiry", &original, version)
        .await;
    run.save(
        &id,
        &live(json!({"n": 3})),
        SaveCondition::IfVersion(version),
        "IfVersion after touch",
    )
    .await;
}

/// Touching a missing record does not create it.
pub async fn touch_missing_does_not_create<H: Harness>(h: &H) {
    let run = Run::new(h, "touch_missing_does_not_create").await;
    let id = run.id();
    run.touch(&id, &live(json!({"n": 1})), "touch of a missing ID")
        .await;
    run.load_none(&id, "load after touch").await;
}

/// Touching an expired record (one a sweeper may not have removed yet)
/// does not bring it back.
pub async fn touch_expired_does_not_resurrect<H: Harness>(h: &H) {
    let run = Run::new(h, "touch_expired_does_not_resurrect").await;
    let id = run.id();
    let expires = run
        .upsert_short(&id, json!({"n": 1}), "short-lived save")
        .await;
    wait_past(expires).await;
    run.touch(&id, &live(json!({"n": 1})), "touch of an expired record")
        .await;
    run.load_none(&id, "load after touch").await;
}
