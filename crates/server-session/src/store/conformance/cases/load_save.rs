//! Load and save: what is saved loads back, what is not does not.

use serde_json::json;

use super::run::{live, rich_record, wait_past, Run};
use crate::conformance::Harness;
use crate::store::SaveCondition;

/// Loading an ID that was never saved gives `None`.
pub async fn load_missing_is_none<H: Harness>(h: &H) {
    let run = Run::new(h, "load_missing_is_none").await;
    run.load_none(&run.id(), "load of a missing ID").await;
}

/// An upserted record loads back byte for byte, with the version the save
/// returned.
pub async fn upsert_then_load_round_trips<H: Harness>(h: &H) {
    let run = Run::new(h, "upsert_then_load_round_trips").await;
    let id = run.id();
    let version = run
        .round_trip(&id, &rich_record(), SaveCondition::Upsert, "upsert")
        .await;
    let again = run.load_some(&id, "second load").await;
    assert_eq!(
        again.version, version,
        "{}: loading must not change the version",
        run.case
    );
}

/// A record whose `cookie.expires` has passed is gone.
pub async fn expired_record_is_none<H: Harness>(h: &H) {
    let run = Run::new(h, "expired_record_is_none").await;
    let id = run.id();
    let expires = run.upsert_short(&id, json!({"a": 1}), "upsert").await;
    run.load_some(&id, "load before expiry").await;
    wait_past(expires).await;
    run.load_none(&id, "load after expiry").await;
}

/// `IfAbsent` creates a record that does not exist.
pub async fn if_absent_creates_when_absent<H: Harness>(h: &H) {
    let run = Run::new(h, "if_absent_creates_when_absent").await;
    let created = live(json!({"new": true}));
    run.round_trip(
        &run.id(),
        &created,
        SaveCondition::IfAbsent,
        "IfAbsent on a missing ID",
    )
    .await;
}

/// `IfAbsent` over a live record is a conflict and writes nothing.
pub async fn if_absent_conflicts_with_live_record<H: Harness>(h: &H) {
    let run = Run::new(h, "if_absent_conflicts_with_live_record").await;
    let id = run.id();
    let first = live(json!({"first": true}));
    let version = run.upsert(&id, &first, "first save").await;
    run.conflict(
        &id,
        &live(json!({"second": true})),
        SaveCondition::IfAbsent,
        "IfAbsent over a live record",
    )
    .await;
    run.load_same(&id, "load after the conflict", &first, version)
        .await;
}

/// An expired record counts as absent for `IfAbsent`.
pub async fn if_absent_succeeds_over_expired_record<H: Harness>(h: &H) {
    let run = Run::new(h, "if_absent_succeeds_over_expired_record").await;
    let id = run.id();
    let expires = run
        .upsert_short(&id, json!({"old": true}), "short-lived save")
        .await;
    wait_past(expires).await;
    let fresh = live(json!({"fresh": true}));
    run.round_trip(
        &id,
        &fresh,
        SaveCondition::IfAbsent,
        "IfAbsent over an expired record",
    )
    .await;
}
