//! Lifetimes: a record already expired is not kept, a browser-session
//! record is.

use serde_json::json;

use super::run::{in_ms, live, record, Run};
use crate::conformance::Harness;
use crate::store::SaveCondition;

/// A save whose `cookie.expires` has already passed deletes the record
/// (connect-redis does the same) and creates nothing.
pub async fn save_already_expired_deletes<H: Harness>(h: &H) {
    let run = Run::new(h, "save_already_expired_deletes").await;
    let (id, missing) = (run.id(), run.id());
    run.upsert(&id, &live(json!({"n": 1})), "live save").await;
    for (id, n, what) in [
        (&id, 2, "upsert with a past expiry over a live record"),
        (&missing, 3, "upsert with a past expiry of a missing ID"),
    ] {
        run.upsert(id, &record(in_ms(-1_000), json!({ "n": n })), what)
            .await;
        run.load_none(id, "load after saving an expired record")
            .await;
    }
}

/// A browser-session record (`cookie.expires` = null) gets the store's
/// default lifetime, so it is there right after the save.
pub async fn browser_session_record_is_loadable<H: Harness>(h: &H) {
    let run = Run::new(h, "browser_session_record_is_loadable").await;
    let id = run.id();
    let browser = record(None, json!({"n": 1}));
    run.round_trip(&id, &browser, SaveCondition::IfAbsent, "save")
        .await;
    run.touch(&id, &browser, "touch").await;
    run.load_some(&id, "load after touch").await;
}
