//! Compare-and-set: `IfVersion` writes only over the version it names.

use serde_json::json;

use super::run::{live, record, Run};
use crate::conformance::Harness;
use crate::store::SaveCondition;

/// `IfVersion` with the loaded version writes and returns a new version.
pub async fn if_version_succeeds_with_loaded_version<H: Harness>(h: &H) {
    let run = Run::new(h, "if_version_succeeds_with_loaded_version").await;
    let id = run.id();
    run.upsert(&id, &live(json!({"n": 1})), "first save").await;
    let loaded = run.load_some(&id, "load").await;
    let next = record(loaded.record.expires_ms(), json!({"n": 2}));
    let version = run
        .round_trip(
            &id,
            &next,
            SaveCondition::IfVersion(loaded.version),
            "IfVersion with the loaded version",
        )
        .await;
    assert_ne!(
        version, loaded.version,
        "{}: new bytes must get a new version",
        run.case
    );
    let third = record(loaded.record.expires_ms(), json!({"n": 3}));
    run.save(
        &id,
        &third,
        SaveCondition::IfVersion(version),
        "IfVersion with the version the last save returned",
    )
    .await;
}

/// `IfVersion` with a version that has been replaced is a conflict.
pub async fn if_version_conflicts_when_stale<H: Harness>(h: &H) {
    let run = Run::new(h, "if_version_conflicts_when_stale").await;
    let id = run.id();
    run.upsert(&id, &live(json!({"n": 1})), "first save").await;
    let stale = run.load_some(&id, "load").await.version;
    let winner = live(json!({"n": 2}));
    let version = run
        .save(&id, &winner, SaveCondition::IfVersion(stale), "IfVersion")
        .await;
    run.conflict(
        &id,
        &live(json!({"n": 99})),
        SaveCondition::IfVersion(stale),
        "IfVersion with a stale version",
    )
    .await;
    run.load_same(&id, "load after the conflict", &winner, version)
        .await;
}

/// `IfVersion` on a destroyed record is a conflict: no resurrection.
pub async fn if_version_conflicts_after_destroy<H: Harness>(h: &H) {
    let run = Run::new(h, "if_version_conflicts_after_destroy").await;
    let id = run.id();
    run.upsert(&id, &live(json!({"n": 1})), "first save").await;
    let loaded = run.load_some(&id, "load").await;
    run.destroy(&id, "destroy").await;
    run.conflict(
        &id,
        &live(json!({"n": 2})),
        SaveCondition::IfVersion(loaded.version),
        "IfVersion after destroy",
    )
    .await;
    run.load_none(&id, "load after the conflict").await;
}

/// A write by someone else (an `Upsert` of other bytes, as Node's stores
/// make) turns the old version stale.
pub async fn if_version_conflicts_after_another_writer<H: Harness>(h: &H) {
    let run = Run::new(h, "if_version_conflicts_after_another_writer").await;
    let id = run.id();
    run.upsert(&id, &live(json!({"n": 1})), "first save").await;
    let loaded = run.load_some(&id, "load").await;
    let other = live(json!({"n": 1, "written_by": "node"}));
    run.upsert(&id, &other, "the other writer's upsert").await;
    run.conflict(
        &id,
        &live(json!({"n": 2})),
        SaveCondition::IfVersion(loaded.version),
        "IfVersion after another writer",
    )
    .await;
    let after = run.load_some(&id, "load after the conflict").await;
    super::run::assert_same(run.case, "load after the conflict", &after.record, &other);
}
