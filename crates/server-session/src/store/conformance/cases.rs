//! The cases. Each takes the harness, gets its own store from it, and
//! panics with a message that names the case when the store breaks the
//! contract.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::Harness;
use crate::store::{
    now_ms, CookieData, LoadedRecord, Priority, Record, SameSite, SaveCondition, SaveOutcome,
    Store, StoreError, Version,
};

const HOUR_MS: i64 = 60 * 60 * 1000;
/// The lifetime of records that must expire while a case runs.
const SHORT_MS: i64 = 1_200;
/// How long past `cookie.expires` a store may still return a record:
/// connect-redis's TTL and connect-pg-simple's `expire` are whole seconds,
/// rounded up.
const EXPIRY_SLACK_MS: i64 = 1_100;
/// An unreachable server must be reported within this.
const UNREACHABLE_LIMIT: Duration = Duration::from_secs(10);
/// Tasks racing in the concurrency cases.
const TASKS: usize = 8;
/// Increments per task in the lost-update case.
const INCREMENTS: u64 = 5;

// ---------------------------------------------------------------- helpers

/// A random session ID that names its case, so records left on a shared
/// server say where they came from.
fn new_id(case: &str) -> String {
    format!("{case}-{:016x}", rand::random::<u64>())
}

/// A record with default cookie settings, `cookie.expires` and `data`.
fn record(expires_ms: Option<i64>, data: Value) -> Record {
    let map = match data {
        Value::Object(map) => map,
        other => {
            let mut map = serde_json::Map::new();
            map.insert("value".into(), other);
            map
        }
    };
    let cookie = CookieData::default()
        .with_expires_ms(expires_ms)
        .with_original_max_age_ms(expires_ms.map(|at| at - now_ms()));
    Record::new(cookie, map)
}

fn in_ms(ms: i64) -> Option<i64> {
    Some(now_ms() + ms)
}

fn ok<T>(case: &str, what: &str, result: Result<T, StoreError>) -> T {
    result.unwrap_or_else(|error| panic!("{case}: {what} failed: {error} ({error:?})"))
}

fn saved(case: &str, what: &str, outcome: Result<SaveOutcome, StoreError>) -> Version {
    match ok(case, what, outcome) {
        SaveOutcome::Saved(version) => version,
        SaveOutcome::Conflict => panic!("{case}: {what} was a conflict, expected it to be saved"),
    }
}

fn conflict(case: &str, what: &str, outcome: Result<SaveOutcome, StoreError>) {
    if let SaveOutcome::Saved(version) = ok(case, what, outcome) {
        panic!("{case}: {what} was saved ({version:?}), expected a conflict");
    }
}

async fn load_some<S: Store>(case: &str, store: &S, id: &str, what: &str) -> LoadedRecord {
    ok(case, what, store.load(id).await)
        .unwrap_or_else(|| panic!("{case}: {what}: the record is missing"))
}

async fn load_none<S: Store>(case: &str, store: &S, id: &str, what: &str) {
    if let Some(loaded) = ok(case, what, store.load(id).await) {
        panic!(
            "{case}: {what}: expected no record, found one (version {:?}): {}",
            loaded.version,
            loaded.record.to_json()
        );
    }
}

fn assert_same(case: &str, what: &str, loaded: &Record, expected: &Record) {
    assert_eq!(
        loaded.to_json(),
        expected.to_json(),
        "{case}: {what}: the loaded record differs from the saved one"
    );
    assert!(
        loaded == expected,
        "{case}: {what}: the loaded record is not equal to the saved one"
    );
}

/// Sleeps until a record that expires at `expires_ms` must be gone.
async fn wait_past(expires_ms: i64) {
    let left = expires_ms + EXPIRY_SLACK_MS - now_ms();
    if let Ok(left) = u64::try_from(left) {
        tokio::time::sleep(Duration::from_millis(left)).await;
    }
}

fn skip(case: &str, why: &str) {
    println!("SKIPPED: {case}: {why}");
}

/// A record that shows off every cookie field and the JSON value kinds.
fn rich_record() -> Record {
    let cookie = CookieData::default()
        .with_expires_ms(in_ms(HOUR_MS))
        .with_original_max_age_ms(Some(HOUR_MS))
        .with_path("/app")
        .with_domain(Some("example.com".into()))
        .with_http_only(false)
        .with_secure(Some(true))
        .with_same_site(Some(SameSite::Lax))
        .with_priority(Some(Priority::High))
        .with_partitioned(Some(true));
    let Value::Object(data) = json!({
        "user": {"name": "bob", "roles": ["admin", "dev"], "age": 42},
        "n": 1,
        "big": 9_007_199_254_740_993_i64,
        "float": 1.5,
        "yes": true,
        "nothing": null,
        "empty": {},
        "list": [],
    }) else {
        unreachable!("a json! object literal is an object");
    };
    Record::new(cookie, data)
}

// ------------------------------------------------------------ load / save

/// Loading an ID that was never saved gives `None`.
pub async fn load_missing_is_none<H: Harness>(h: &H) {
    let case = "load_missing_is_none";
    let store = h.store().await;
    load_none(case, &store, &new_id(case), "load of a missing ID").await;
}

/// An upserted record loads back byte for byte, with the version the save
/// returned.
pub async fn upsert_then_load_round_trips<H: Harness>(h: &H) {
    let case = "upsert_then_load_round_trips";
    let store = h.store().await;
    let id = new_id(case);
    let saved_record = rich_record();
    let version = saved(
        case,
        "upsert",
        store.save(&id, &saved_record, SaveCondition::Upsert).await,
    );
    let loaded = load_some(case, &store, &id, "load after upsert").await;
    assert_same(case, "load after upsert", &loaded.record, &saved_record);
    assert_eq!(
        loaded.version, version,
        "{case}: load must give the version the save returned"
    );
    let again = load_some(case, &store, &id, "second load").await;
    assert_eq!(
        again.version, version,
        "{case}: loading must not change the version"
    );
}

/// A record whose `cookie.expires` has passed is gone.
pub async fn expired_record_is_none<H: Harness>(h: &H) {
    let case = "expired_record_is_none";
    let store = h.store().await;
    let id = new_id(case);
    let expires = now_ms() + SHORT_MS;
    saved(
        case,
        "upsert",
        store
            .save(
                &id,
                &record(Some(expires), json!({"a": 1})),
                SaveCondition::Upsert,
            )
            .await,
    );
    load_some(case, &store, &id, "load before expiry").await;
    wait_past(expires).await;
    load_none(case, &store, &id, "load after expiry").await;
}

/// `IfAbsent` creates a record that does not exist.
pub async fn if_absent_creates_when_absent<H: Harness>(h: &H) {
    let case = "if_absent_creates_when_absent";
    let store = h.store().await;
    let id = new_id(case);
    let created = record(in_ms(HOUR_MS), json!({"new": true}));
    let version = saved(
        case,
        "IfAbsent on a missing ID",
        store.save(&id, &created, SaveCondition::IfAbsent).await,
    );
    let loaded = load_some(case, &store, &id, "load after IfAbsent").await;
    assert_same(case, "load after IfAbsent", &loaded.record, &created);
    assert_eq!(
        loaded.version, version,
        "{case}: version differs from the one IfAbsent returned"
    );
}

/// `IfAbsent` over a live record is a conflict and writes nothing.
pub async fn if_absent_conflicts_with_live_record<H: Harness>(h: &H) {
    let case = "if_absent_conflicts_with_live_record";
    let store = h.store().await;
    let id = new_id(case);
    let first = record(in_ms(HOUR_MS), json!({"first": true}));
    let version = saved(
        case,
        "first save",
        store.save(&id, &first, SaveCondition::Upsert).await,
    );
    conflict(
        case,
        "IfAbsent over a live record",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"second": true})),
                SaveCondition::IfAbsent,
            )
            .await,
    );
    let loaded = load_some(case, &store, &id, "load after the conflict").await;
    assert_same(case, "load after the conflict", &loaded.record, &first);
    assert_eq!(
        loaded.version, version,
        "{case}: a conflicting save changed the version"
    );
}

/// An expired record counts as absent for `IfAbsent`.
pub async fn if_absent_succeeds_over_expired_record<H: Harness>(h: &H) {
    let case = "if_absent_succeeds_over_expired_record";
    let store = h.store().await;
    let id = new_id(case);
    let expires = now_ms() + SHORT_MS;
    saved(
        case,
        "short-lived save",
        store
            .save(
                &id,
                &record(Some(expires), json!({"old": true})),
                SaveCondition::Upsert,
            )
            .await,
    );
    wait_past(expires).await;
    let fresh = record(in_ms(HOUR_MS), json!({"fresh": true}));
    let version = saved(
        case,
        "IfAbsent over an expired record",
        store.save(&id, &fresh, SaveCondition::IfAbsent).await,
    );
    let loaded = load_some(case, &store, &id, "load after IfAbsent").await;
    assert_same(case, "load after IfAbsent", &loaded.record, &fresh);
    assert_eq!(
        loaded.version, version,
        "{case}: version differs from the one IfAbsent returned"
    );
}

// --------------------------------------------------------- compare-and-set

/// `IfVersion` with the loaded version writes and returns a new version.
pub async fn if_version_succeeds_with_loaded_version<H: Harness>(h: &H) {
    let case = "if_version_succeeds_with_loaded_version";
    let store = h.store().await;
    let id = new_id(case);
    saved(
        case,
        "first save",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"n": 1})),
                SaveCondition::Upsert,
            )
            .await,
    );
    let loaded = load_some(case, &store, &id, "load").await;
    let next = record(loaded.record.expires_ms(), json!({"n": 2}));
    let version = saved(
        case,
        "IfVersion with the loaded version",
        store
            .save(&id, &next, SaveCondition::IfVersion(loaded.version))
            .await,
    );
    assert_ne!(
        version, loaded.version,
        "{case}: new bytes must get a new version"
    );
    let after = load_some(case, &store, &id, "load after IfVersion").await;
    assert_same(case, "load after IfVersion", &after.record, &next);
    assert_eq!(
        after.version, version,
        "{case}: version differs from the one IfVersion returned"
    );
    let third = record(loaded.record.expires_ms(), json!({"n": 3}));
    saved(
        case,
        "IfVersion with the version the last save returned",
        store
            .save(&id, &third, SaveCondition::IfVersion(version))
            .await,
    );
}

/// `IfVersion` with a version that has been replaced is a conflict.
pub async fn if_version_conflicts_when_stale<H: Harness>(h: &H) {
    let case = "if_version_conflicts_when_stale";
    let store = h.store().await;
    let id = new_id(case);
    saved(
        case,
        "first save",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"n": 1})),
                SaveCondition::Upsert,
            )
            .await,
    );
    let stale = load_some(case, &store, &id, "load").await.version;
    let winner = record(in_ms(HOUR_MS), json!({"n": 2}));
    let version = saved(
        case,
        "IfVersion",
        store
            .save(&id, &winner, SaveCondition::IfVersion(stale))
            .await,
    );
    conflict(
        case,
        "IfVersion with a stale version",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"n": 99})),
                SaveCondition::IfVersion(stale),
            )
            .await,
    );
    let loaded = load_some(case, &store, &id, "load after the conflict").await;
    assert_same(case, "load after the conflict", &loaded.record, &winner);
    assert_eq!(
        loaded.version, version,
        "{case}: a conflicting save changed the version"
    );
}

/// `IfVersion` on a destroyed record is a conflict: no resurrection.
pub async fn if_version_conflicts_after_destroy<H: Harness>(h: &H) {
    let case = "if_version_conflicts_after_destroy";
    let store = h.store().await;
    let id = new_id(case);
    saved(
        case,
        "first save",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"n": 1})),
                SaveCondition::Upsert,
            )
            .await,
    );
    let loaded = load_some(case, &store, &id, "load").await;
    ok(case, "destroy", store.destroy(&id).await);
    conflict(
        case,
        "IfVersion after destroy",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"n": 2})),
                SaveCondition::IfVersion(loaded.version),
            )
            .await,
    );
    load_none(case, &store, &id, "load after the conflict").await;
}

/// A write by someone else (an `Upsert` of other bytes, as Node's stores
/// make) turns the old version stale.
pub async fn if_version_conflicts_after_another_writer<H: Harness>(h: &H) {
    let case = "if_version_conflicts_after_another_writer";
    let store = h.store().await;
    let id = new_id(case);
    saved(
        case,
        "first save",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"n": 1})),
                SaveCondition::Upsert,
            )
            .await,
    );
    let loaded = load_some(case, &store, &id, "load").await;
    let other = record(in_ms(HOUR_MS), json!({"n": 1, "written_by": "node"}));
    saved(
        case,
        "the other writer's upsert",
        store.save(&id, &other, SaveCondition::Upsert).await,
    );
    conflict(
        case,
        "IfVersion after another writer",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"n": 2})),
                SaveCondition::IfVersion(loaded.version),
            )
            .await,
    );
    let after = load_some(case, &store, &id, "load after the conflict").await;
    assert_same(case, "load after the conflict", &after.record, &other);
}

// ------------------------------------------------------------------ touch

/// Touch extends the expiry; data and version stay as they were, and the
/// record outlives its original expiry.
pub async fn touch_extends_expiry_keeps_data_and_version<H: Harness>(h: &H) {
    let case = "touch_extends_expiry_keeps_data_and_version";
    let store = h.store().await;
    let id = new_id(case);
    let expires = now_ms() + 1_500;
    let original = record(Some(expires), json!({"n": 1, "keep": "me"}));
    let version = saved(
        case,
        "save",
        store.save(&id, &original, SaveCondition::Upsert).await,
    );
    // The session as a request holds it: a later expiry, and data the
    // store must not write.
    let touched = record(in_ms(20_000), json!({"n": 2}));
    ok(case, "touch", store.touch(&id, &touched).await);
    let loaded = load_some(case, &store, &id, "load after touch").await;
    assert_eq!(
        loaded.record.data(),
        original.data(),
        "{case}: touch rewrote the data"
    );
    assert_eq!(loaded.version, version, "{case}: touch changed the version");
    wait_past(expires).await;
    let later = load_some(case, &store, &id, "load past the original expiry").await;
    assert_eq!(
        later.record.data(),
        original.data(),
        "{case}: the data changed"
    );
    assert_eq!(later.version, version, "{case}: the version changed");
    saved(
        case,
        "IfVersion after touch",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"n": 3})),
                SaveCondition::IfVersion(version),
            )
            .await,
    );
}

/// Touching a missing record does not create it.
pub async fn touch_missing_does_not_create<H: Harness>(h: &H) {
    let case = "touch_missing_does_not_create";
    let store = h.store().await;
    let id = new_id(case);
    ok(
        case,
        "touch of a missing ID",
        store
            .touch(&id, &record(in_ms(HOUR_MS), json!({"n": 1})))
            .await,
    );
    load_none(case, &store, &id, "load after touch").await;
}

/// Touching an expired record (one a sweeper may not have removed yet)
/// does not bring it back.
pub async fn touch_expired_does_not_resurrect<H: Harness>(h: &H) {
    let case = "touch_expired_does_not_resurrect";
    let store = h.store().await;
    let id = new_id(case);
    let expires = now_ms() + SHORT_MS;
    saved(
        case,
        "short-lived save",
        store
            .save(
                &id,
                &record(Some(expires), json!({"n": 1})),
                SaveCondition::Upsert,
            )
            .await,
    );
    wait_past(expires).await;
    ok(
        case,
        "touch of an expired record",
        store
            .touch(&id, &record(in_ms(HOUR_MS), json!({"n": 1})))
            .await,
    );
    load_none(case, &store, &id, "load after touch").await;
}

// ---------------------------------------------------------------- destroy

/// Destroy removes the record, and only that one.
pub async fn destroy_removes<H: Harness>(h: &H) {
    let case = "destroy_removes";
    let store = h.store().await;
    let id = new_id(case);
    let neighbour = new_id(case);
    saved(
        case,
        "save",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"n": 1})),
                SaveCondition::Upsert,
            )
            .await,
    );
    saved(
        case,
        "save of another ID",
        store
            .save(
                &neighbour,
                &record(in_ms(HOUR_MS), json!({"n": 2})),
                SaveCondition::Upsert,
            )
            .await,
    );
    ok(case, "destroy", store.destroy(&id).await);
    load_none(case, &store, &id, "load after destroy").await;
    load_some(case, &store, &neighbour, "load of another ID after destroy").await;
    saved(
        case,
        "IfAbsent after destroy",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"n": 3})),
                SaveCondition::IfAbsent,
            )
            .await,
    );
}

/// Destroying a missing record is not an error.
pub async fn destroy_missing_is_ok<H: Harness>(h: &H) {
    let case = "destroy_missing_is_ok";
    let store = h.store().await;
    ok(
        case,
        "destroy of a missing ID",
        store.destroy(&new_id(case)).await,
    );
}

// -------------------------------------------------------------- lifetimes

/// A save whose `cookie.expires` has already passed deletes the record
/// (connect-redis does the same) and creates nothing.
pub async fn save_already_expired_deletes<H: Harness>(h: &H) {
    let case = "save_already_expired_deletes";
    let store = h.store().await;
    let id = new_id(case);
    saved(
        case,
        "live save",
        store
            .save(
                &id,
                &record(in_ms(HOUR_MS), json!({"n": 1})),
                SaveCondition::Upsert,
            )
            .await,
    );
    saved(
        case,
        "upsert with a past expiry over a live record",
        store
            .save(
                &id,
                &record(in_ms(-1_000), json!({"n": 2})),
                SaveCondition::Upsert,
            )
            .await,
    );
    load_none(case, &store, &id, "load after saving an expired record").await;
    let missing = new_id(case);
    saved(
        case,
        "upsert with a past expiry of a missing ID",
        store
            .save(
                &missing,
                &record(in_ms(-1_000), json!({"n": 3})),
                SaveCondition::Upsert,
            )
            .await,
    );
    load_none(
        case,
        &store,
        &missing,
        "load after saving an expired record",
    )
    .await;
}

/// A browser-session record (`cookie.expires` = null) gets the store's
/// default lifetime, so it is there right after the save.
pub async fn browser_session_record_is_loadable<H: Harness>(h: &H) {
    let case = "browser_session_record_is_loadable";
    let store = h.store().await;
    let id = new_id(case);
    let browser = record(None, json!({"n": 1}));
    let version = saved(
        case,
        "save",
        store.save(&id, &browser, SaveCondition::IfAbsent).await,
    );
    let loaded = load_some(case, &store, &id, "load").await;
    assert_same(case, "load", &loaded.record, &browser);
    assert_eq!(
        loaded.version, version,
        "{case}: version differs from the one the save returned"
    );
    ok(case, "touch", store.touch(&id, &browser).await);
    load_some(case, &store, &id, "load after touch").await;
}

// ---------------------------------------------------------------- listing

/// `all`, `len` and `clear` see exactly the live records of an isolated
/// store; or, when the harness says the store has no listing, they answer
/// `Unsupported`.
pub async fn listing_all_len_clear<H: Harness>(h: &H) {
    let case = "listing_all_len_clear";
    let store = h.store().await;
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
        ok(case, "len of a fresh store", store.len().await),
        0,
        "{case}: a fresh store from the harness is not empty"
    );
    let mut ids: Vec<String> = (0..3).map(|_| new_id(case)).collect();
    let mut records = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let saved_record = record(in_ms(HOUR_MS), json!({ "n": n }));
        saved(
            case,
            "save",
            store.save(id, &saved_record, SaveCondition::Upsert).await,
        );
        records.push(saved_record);
    }
    let short = new_id(case);
    let expires = now_ms() + SHORT_MS;
    saved(
        case,
        "short-lived save",
        store
            .save(
                &short,
                &record(Some(expires), json!({"short": true})),
                SaveCondition::Upsert,
            )
            .await,
    );
    assert_eq!(
        ok(case, "len", store.len().await),
        4,
        "{case}: len with 4 live records"
    );

    wait_past(expires).await;
    assert_eq!(
        ok(case, "len", store.len().await),
        3,
        "{case}: len must not count an expired record"
    );
    let mut all = ok(case, "all", store.all().await);
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
    ok(case, "destroy", store.destroy(&ids[0]).await);
    assert_eq!(
        ok(case, "len", store.len().await),
        2,
        "{case}: len after destroy"
    );
    ok(case, "clear", store.clear().await);
    assert_eq!(
        ok(case, "len", store.len().await),
        0,
        "{case}: len after clear"
    );
    assert!(
        ok(case, "all", store.all().await).is_empty(),
        "{case}: all after clear"
    );
    for id in &ids {
        load_none(case, &store, id, "load after clear").await;
    }
}

/// `prune_expired`, when the store has it, removes expired records and
/// never a live one.
pub async fn prune_expired_keeps_live_records<H: Harness>(h: &H) {
    let case = "prune_expired_keeps_live_records";
    let store = h.store().await;
    let live = new_id(case);
    let short = new_id(case);
    let browser = new_id(case);
    let expires = now_ms() + SHORT_MS;
    saved(
        case,
        "live save",
        store
            .save(
                &live,
                &record(in_ms(HOUR_MS), json!({"n": 1})),
                SaveCondition::Upsert,
            )
            .await,
    );
    saved(
        case,
        "browser-session save",
        store
            .save(
                &browser,
                &record(None, json!({"n": 2})),
                SaveCondition::Upsert,
            )
            .await,
    );
    saved(
        case,
        "short-lived save",
        store
            .save(
                &short,
                &record(Some(expires), json!({"n": 3})),
                SaveCondition::Upsert,
            )
            .await,
    );
    wait_past(expires).await;
    match store.prune_expired().await {
        Err(StoreError::Unsupported(_)) => {
            skip(
                case,
                "the store has no prune_expired (it expires records by itself)",
            );
            return;
        }
        result => {
            ok(case, "prune_expired", result);
        }
    }
    load_some(case, &store, &live, "load of a live record after prune").await;
    load_some(
        case,
        &store,
        &browser,
        "load of a browser-session record after prune",
    )
    .await;
    load_none(
        case,
        &store,
        &short,
        "load of an expired record after prune",
    )
    .await;
    if h.supports_listing() {
        assert_eq!(
            ok(case, "len", store.len().await),
            2,
            "{case}: len after prune"
        );
    }
}

// --------------------------------------------------------------- contents

/// Unicode keys and values, NUL, quotes, backslashes and line separators
/// round-trip exactly.
pub async fn unicode_round_trips<H: Harness>(h: &H) {
    let case = "unicode_round_trips";
    let store = h.store().await;
    let id = new_id(case);
    let saved_record = record(
        in_ms(HOUR_MS),
        json!({
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
        }),
    );
    let version = saved(
        case,
        "save",
        store.save(&id, &saved_record, SaveCondition::Upsert).await,
    );
    let loaded = load_some(case, &store, &id, "load").await;
    assert_same(case, "load", &loaded.record, &saved_record);
    assert_eq!(
        loaded.version, version,
        "{case}: version differs from the one the save returned"
    );
}

/// A 1 MB record round-trips.
pub async fn large_record_round_trips<H: Harness>(h: &H) {
    let case = "large_record_round_trips";
    let store = h.store().await;
    let id = new_id(case);
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let blob: String = (0..1 << 20)
        .map(|i: usize| char::from(ALPHABET[(i * 7_919 + i / 61) % ALPHABET.len()]))
        .collect();
    let saved_record = record(in_ms(HOUR_MS), json!({"blob": blob, "after": "the blob"}));
    let version = saved(
        case,
        "save of a 1 MB record",
        store.save(&id, &saved_record, SaveCondition::Upsert).await,
    );
    let loaded = load_some(case, &store, &id, "load of a 1 MB record").await;
    assert_same(case, "load of a 1 MB record", &loaded.record, &saved_record);
    assert_eq!(
        loaded.version, version,
        "{case}: version differs from the one the save returned"
    );
    ok(case, "destroy", store.destroy(&id).await);
}

/// Stored bytes that are not a session record make `load` fail with
/// `Corrupt`, never panic; destroy still removes them.
pub async fn corrupt_record_is_an_error<H: Harness>(h: &H) {
    let case = "corrupt_record_is_an_error";
    if !h.supports_raw() {
        skip(
            case,
            "the store keeps parsed records, so it cannot hold corrupt bytes",
        );
        return;
    }
    let store = h.store().await;
    for raw in [&br#"{"foo":"bar"}"#[..], b"not json", br#"{"cookie":null}"#] {
        let shown = String::from_utf8_lossy(raw);
        let id = new_id(case);
        h.write_raw(&store, &id, raw).await;
        match store.load(&id).await {
            Err(StoreError::Corrupt { .. }) => {}
            other => panic!("{case}: loading `{shown}` gave {other:?}, expected Err(Corrupt)"),
        }
        ok(
            case,
            "destroy of a corrupt record",
            store.destroy(&id).await,
        );
        load_none(case, &store, &id, "load after destroying a corrupt record").await;
    }
}

// ------------------------------------------------------------ unreachable

#[derive(Clone, Copy, Debug)]
enum Call {
    Load,
    Save,
    Touch,
    Destroy,
}

async fn unreachable_fails_fast<H: Harness>(h: &H, case: &str, call: Call) {
    let Ok(store) = tokio::time::timeout(Duration::from_secs(15), h.unreachable_store()).await
    else {
        panic!("{case}: making the unreachable store took over 15 s; connect lazily");
    };
    let Some(store) = store else {
        skip(case, "the store has no server to be unreachable");
        return;
    };
    let id = new_id(case);
    let saved_record = record(in_ms(HOUR_MS), json!({"n": 1}));
    let started = Instant::now();
    let call_store = async {
        match call {
            Call::Load => store.load(&id).await.map(drop),
            Call::Save => store
                .save(&id, &saved_record, SaveCondition::Upsert)
                .await
                .map(drop),
            Call::Touch => store.touch(&id, &saved_record).await,
            Call::Destroy => store.destroy(&id).await,
        }
    };
    let Ok(result) = tokio::time::timeout(Duration::from_secs(30), call_store).await else {
        panic!("{case}: {call:?} on an unreachable server still had no answer after 30 s");
    };
    let elapsed = started.elapsed();
    let Err(error) = result else {
        panic!("{case}: {call:?} on an unreachable server succeeded");
    };
    assert!(
        elapsed < UNREACHABLE_LIMIT,
        "{case}: {call:?} took {elapsed:?} to fail; the store's call timeout must bound it"
    );
    assert!(
        error.is_transient(),
        "{case}: {call:?} failed with {error:?}; an unreachable server is a Connection or Timeout error"
    );
}

/// `load` against an unreachable server fails within the timeout.
pub async fn unreachable_load_fails_fast<H: Harness>(h: &H) {
    unreachable_fails_fast(h, "unreachable_load_fails_fast", Call::Load).await;
}

/// `save` against an unreachable server fails within the timeout.
pub async fn unreachable_save_fails_fast<H: Harness>(h: &H) {
    unreachable_fails_fast(h, "unreachable_save_fails_fast", Call::Save).await;
}

/// `touch` against an unreachable server fails within the timeout.
pub async fn unreachable_touch_fails_fast<H: Harness>(h: &H) {
    unreachable_fails_fast(h, "unreachable_touch_fails_fast", Call::Touch).await;
}

/// `destroy` against an unreachable server fails within the timeout.
pub async fn unreachable_destroy_fails_fast<H: Harness>(h: &H) {
    unreachable_fails_fast(h, "unreachable_destroy_fails_fast", Call::Destroy).await;
}

// ------------------------------------------------------------ concurrency

async fn join<T: Send + 'static>(case: &str, task: tokio::task::JoinHandle<T>) -> T {
    match task.await {
        Ok(value) => value,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("{case}: a task did not finish: {error}"),
        },
    }
}

/// Eight tasks load the same version and all save with `IfVersion` at
/// once: exactly one is saved, the rest conflict.
pub async fn concurrent_compare_and_set<H: Harness>(h: &H) {
    let case = "concurrent_compare_and_set";
    let store = Arc::new(h.store().await);
    let id = new_id(case);
    let expires = in_ms(HOUR_MS);
    saved(
        case,
        "first save",
        store
            .save(
                &id,
                &record(expires, json!({"winner": null})),
                SaveCondition::Upsert,
            )
            .await,
    );
    // Every task loads before any saves, so they all hold one version.
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, id, barrier) = (Arc::clone(&store), id.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                let loaded = store.load(&id).await;
                // Wait even after an error, or the other tasks never go on.
                barrier.wait().await;
                let loaded = ok(case, "load", loaded)
                    .unwrap_or_else(|| panic!("{case}: the record is missing"));
                let mine = record(expires, json!({ "winner": task }));
                let outcome = ok(
                    case,
                    "IfVersion save",
                    store
                        .save(&id, &mine, SaveCondition::IfVersion(loaded.version))
                        .await,
                );
                (task, loaded.version, outcome)
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(join(case, task).await);
    }
    let first_version = results[0].1;
    assert!(
        results
            .iter()
            .all(|(_, version, _)| *version == first_version),
        "{case}: the tasks loaded different versions before any save"
    );
    let winners: Vec<(usize, Version)> = results
        .iter()
        .filter_map(|(task, _, outcome)| match outcome {
            SaveOutcome::Saved(version) => Some((*task, *version)),
            SaveOutcome::Conflict => None,
        })
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{case}: {} of {TASKS} saves with one version succeeded, expected exactly 1",
        winners.len()
    );
    let (winner, version) = winners[0];
    let loaded = load_some(case, &*store, &id, "load after the race").await;
    assert_eq!(
        loaded.record.data()["winner"],
        json!(winner),
        "{case}: the stored record is not the winner's"
    );
    assert_eq!(
        loaded.version, version,
        "{case}: the stored version is not the winner's"
    );
}

/// Eight tasks each add 1 five times with load + `IfVersion` retries: the
/// counter ends at exactly 40. The store-level version of the "no lost
/// updates" test.
pub async fn concurrent_increments_are_not_lost<H: Harness>(h: &H) {
    let case = "concurrent_increments_are_not_lost";
    let store = Arc::new(h.store().await);
    let id = new_id(case);
    let expires = in_ms(HOUR_MS);
    saved(
        case,
        "first save",
        store
            .save(
                &id,
                &record(expires, json!({"n": 0})),
                SaveCondition::Upsert,
            )
            .await,
    );
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, id) = (Arc::clone(&store), id.clone());
            tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    let mut attempts = 0;
                    loop {
                        attempts += 1;
                        assert!(
                            attempts <= 500,
                            "{case}: task {task} got 500 conflicts in a row"
                        );
                        let loaded = ok(case, "load", store.load(&id).await)
                            .unwrap_or_else(|| panic!("{case}: the counter record is missing"));
                        let Some(n) = loaded.record.data().get("n").and_then(Value::as_u64) else {
                            panic!(
                                "{case}: the counter is not a number: {}",
                                loaded.record.to_json()
                            );
                        };
                        let next = record(expires, json!({ "n": n + 1, "by": task }));
                        let outcome = store
                            .save(&id, &next, SaveCondition::IfVersion(loaded.version))
                            .await;
                        match ok(case, "IfVersion save", outcome) {
                            SaveOutcome::Saved(_) => break,
                            SaveOutcome::Conflict => tokio::task::yield_now().await,
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        join(case, task).await;
    }
    let loaded = load_some(case, &*store, &id, "load after the increments").await;
    assert_eq!(
        loaded.record.data().get("n").and_then(Value::as_u64),
        Some(TASKS as u64 * INCREMENTS),
        "{case}: increments were lost"
    );
}
