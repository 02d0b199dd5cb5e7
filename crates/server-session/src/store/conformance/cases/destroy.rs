//! Destroy: the record is gone, and only that one.

use serde_json::json;

use super::run::{live, Run};
use crate::conformance::Harness;
use crate::store::SaveCondition;

/// Destroy removes the record, and only that one.
pub async fn destroy_removes<H: Harness>(h: &H) {
    let run = Run::new(h, "destroy_removes").await;
    let (id, neighbour) = (run.id(), run.id());
    run.upsert(&id, &live(json!({"n": 1})), "save").await;
    run.upsert(&neighbour, &live(json!({"n": 2})), "save of another ID")
        .await;
    run.destroy(&id, "destroy").await;
    run.load_none(&id, "load after destroy").await;
    run.load_some(&neighbour, "load of another ID after destroy")
        .await;
    run.save(
        &id,
        &live(json!({"n": 3})),
        SaveCondition::IfAbsent,
        "IfAbsent after destroy",
    )
    .await;
}

/// Destroying a missing record is not an error.
pub async fn destroy_missing_is_ok<H: Harness>(h: &H) {
    let run = Run::new(h, "destroy_missing_is_ok").await;
    run.destroy(&run.id(), "destroy of a missing ID").await;
}
