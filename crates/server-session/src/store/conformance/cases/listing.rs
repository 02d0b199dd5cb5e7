//! Listing and pruning: `all`, `len`, `clear` and `prune_expired` see the
//! live records and only those.

use serde_json::json;

use super::run::{assert_same, live, record, skip, wait_past, Run};
use crate::conformance::Harness;
use crate::store::{Record, Store, StoreError};

/// `all`, `len` and `clear` see exactly the live records of an isolated
/// store; or, when the harness says the store has no listing, they answer
/// `Unsupported`.
pub async fn listing_all_len_clear<H: Harness>(h: &H) {
    let run = Run::new(h, "listing_all_len_clear").await;
    let (case, store) = (run.case, &run.store);
    if !h.supports_listing() {
        for (name, unsupported) in [
            (
                "all",
                matches!(store.all().await, Err(StoreError::Unsupported(_))),
            ),
            (
                "len",
                matches!(store.len().await, Err(StoreError::Unsupported(_))),
            ),
            (
                "clear",
                matches!(store.clear().await, Err(StoreError::Unsupported(_))),
            ),
        ] {
            assert!(
                unsupported,
                "{case}: the harness says no listing, but `{name}` did not answer Unsupported"
            );
        }
        skip(
            case,
            "the store has no listing; checked that it says Unsupported",
        );
        return;
    }
    assert_eq!(
        len(&run, "len of a fresh store").await,
        0,
        "{case}: a fresh store from the harness is not empty"
    );
    let mut ids: Vec<String> = (0..3).map(|_| run.id()).collect();
    let mut records = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let saved_record = live(json!({ "n": n }));
        run.upsert(id, &saved_record, "save").await;
        records.push(saved_record);
    }
    let expires = run
        .upsert_short(&run.id(), json!({"short": true}), "short-lived save")
        .await;
    assert_eq!(len(&run, "len").await, 4, "{case}: len with 4 live records");

    wait_past(expires).await;
    assert_eq!(
        len(&run, "len").await,
        3,
        "{case}: len must not count an expired record"
    );
    let mut all = run.ok("all", store.all().await);
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected: Vec<(String, Record)> = ids.iter().cloned().zip(records).collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    let listed: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    let wanted: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        listed, wanted,
        "{case}: all must list exactly the live records"
    );
    for ((id, got), (_, want)) in all.iter().zip(&expected) {
        assert_same(case, &format!("all() record {id}"), got, want);
    }

    ids.sort();
    run.ok("destroy", store.destroy(&ids[0]).await);
    assert_eq!(len(&run, "len").await, 2, "{case}: len after destroy");
    run.ok("clear", store.clear().await);
    assert_eq!(len(&run, "len").await, 0, "{case}: len after clear");
    assert!(
        run.ok("all", store.all().await).is_empty(),
        "{case}: all after clear"
    );
    for id in &ids {
        run.load_none(id, "load after clear").await;
    }
}

async fn len<S: Store>(run: &Run<S>, what: &str) -> usize {
    run.ok(what, run.store.len().await)
}

/// `prune_expired`, when the store has it, removes expired records and
/// never a live one.
pub async fn prune_expired_keeps_live_records<H: Harness>(h: &H) {
    let run = Run::new(h, "prune_expired_keeps_live_records").await;
    let (live_id, short, browser) = (run.id(), run.id(), run.id());
    run.upsert(&live_id, &live(json!({"n": 1})), "live save")
        .await;
    run.upsert(
        &browser,
        &record(None, json!({"n": 2})),
        "browser-session save",
    )
    .await;
    let expires = run
        .upsert_short(&short, json!({"n": 3}), "short-lived save")
        .await;
    wait_past(expires).await;
    match run.store.prune_expired().await {
        Err(StoreError::Unsupported(_)) => {
            skip(
                run.case,
                "the store has no prune_expired (it expires records by itself)",
            );
            return;
        }
        result => {
            run.ok("prune_expired", result);
        }
    }
    run.load_some(&live_id, "load of a live record after prune")
        .await;
    run.load_some(&browser, "load of a browser-session record after prune")
        .await;
    run.load_none(&short, "load of an expired record after prune")
        .await;
    if h.supports_listing() {
        assert_eq!(
            run.ok("len", run.store.len().await),
            2,
            "{}: len after prune",
            run.case
        );
    }
}
