//! What every case does: save, load and compare, each step checked and
//! named in the panic message.

use std::time::Duration;

use serde_json::{json, Value};

use super::super::Harness;
use crate::store::{
    now_ms, CookieData, LoadedRecord, Priority, Record, SameSite, SaveCondition, SaveOutcome,
    Store, StoreError, Version,
};

pub(super) const HOUR_MS: i64 = 60 * 60 * 1000;
/// The lifetime of records that must expire while a case runs.
pub(super) const SHORT_MS: i64 = 1_200;
/// How long past `cookie.expires` a store may still return a record:
/// connect-redis's TTL and connect-pg-simple's `expire` are whole seconds,
/// rounded up.
const EXPIRY_SLACK_MS: i64 = 1_100;

/// A random session ID that names its case, so records left on a shared
/// server say where they came from.
pub(super) fn new_id(case: &str) -> String {
    format!("{case}-{:016x}", rand::random::<u64>())
}

/// A record with default cookie settings, `cookie.expires` and `data`.
pub(super) fn record(expires_ms: Option<i64>, data: Value) -> Record {
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

pub(super) fn in_ms(ms: i64) -> Option<i64> {
    Some(now_ms() + ms)
}

/// A record of `data` that expires in an hour: alive for the whole case.
pub(super) fn live(data: Value) -> Record {
    record(in_ms(HOUR_MS), data)
}

pub(super) fn ok<T>(case: &str, what: &str, result: Result<T, StoreError>) -> T {
    result.unwrap_or_else(|error| panic!("{case}: {what} failed: {error} ({error:?})"))
}

fn saved(case: &str, what: &str, outcome: Result<SaveOutcome, StoreError>) -> Version {
    match ok(case, what, outcome) {
        SaveOutcome::Saved(version) => version,
        SaveOutcome::Conflict => panic!("{case}: {what} was a conflict, expected it to be saved"),
    }
}

pub(super) fn assert_same(case: &str, what: &str, loaded: &Record, expected: &Record) {
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
pub(super) async fn wait_past(expires_ms: i64) {
    let left = expires_ms + EXPIRY_SLACK_MS - now_ms();
    if let Ok(left) = u64::try_from(left) {
        tokio::time::sleep(Duration::from_millis(left)).await;
    }
}

pub(super) fn skip(case: &str, why: &str) {
    println!("SKIPPED: {case}: {why}");
}

/// A record that shows off every cookie field and the JSON value kinds.
pub(super) fn rich_record() -> Record {
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

/// One case's run: its name, for the messages, and its store.
pub(super) struct Run<S> {
    pub(super) case: &'static str,
    pub(super) store: S,
}

impl<S: Store> Run<S> {
    /// A run of `case` on a fresh store from the harness.
    pub(super) async fn new<H: Harness<Store = S>>(h: &H, case: &'static str) -> Self {
        Self {
            case,
            store: h.store().await,
        }
    }

    /// A fresh ID for this case.
    pub(super) fn id(&self) -> String {
        new_id(self.case)
    }

    /// The value of `result`, or a panic that names `what` failed.
    pub(super) fn ok<T>(&self, what: &str, result: Result<T, StoreError>) -> T {
        ok(self.case, what, result)
    }

    /// Destroys `id`; panics on an error.
    pub(super) async fn destroy(&self, id: &str, what: &str) {
        self.ok(what, self.store.destroy(id).await);
    }

    /// Touches `id` with `record`; panics on an error.
    pub(super) async fn touch(&self, id: &str, record: &Record, what: &str) {
        self.ok(what, self.store.touch(id, record).await);
    }

    /// Saves `record` under `condition` and returns the new version; panics
    /// on an error or a conflict.
    pub(super) async fn save(
        &self,
        id: &str,
        record: &Record,
        condition: SaveCondition,
        what: &str,
    ) -> Version {
        saved(
            self.case,
            what,
            self.store.save(id, record, condition).await,
        )
    }

    /// [`save`](Self::save) with `Upsert`.
    pub(super) async fn upsert(&self, id: &str, record: &Record, what: &str) -> Version {
        self.save(id, record, SaveCondition::Upsert, what).await
    }

    /// Upserts `data` with a lifetime of [`SHORT_MS`] and returns its
    /// `cookie.expires`, to [`wait_past`].
    pub(super) async fn upsert_short(&self, id: &str, data: Value, what: &str) -> i64 {
        let expires = now_ms() + SHORT_MS;
        self.upsert(id, &record(Some(expires), data), what).await;
        expires
    }

    /// Saves `record` under `condition` and asserts that it was a conflict.
    pub(super) async fn conflict(
        &self,
        id: &str,
        record: &Record,
        condition: SaveCondition,
        what: &str,
    ) {
        let outcome = self.store.save(id, record, condition).await;
        if let SaveOutcome::Saved(version) = self.ok(what, outcome) {
            panic!(
                "{}: {what} was saved ({version:?}), expected a conflict",
                self.case
            );
        }
    }

    /// Loads `id` and asserts that it is there.
    pub(super) async fn load_some(&self, id: &str, what: &str) -> LoadedRecord {
        self.ok(what, self.store.load(id).await)
            .unwrap_or_else(|| panic!("{}: {what}: the record is missing", self.case))
    }

    /// Loads `id` and asserts that it is not there.
    pub(super) async fn load_none(&self, id: &str, what: &str) {
        if let Some(loaded) = self.ok(what, self.store.load(id).await) {
            panic!(
                "{}: {what}: expected no record, found one (version {:?}): {}",
                self.case,
                loaded.version,
                loaded.record.to_json()
            );
        }
    }

    /// Asserts that `loaded` is at `version`, the one the last save returned.
    fn assert_version(&self, what: &str, loaded: &LoadedRecord, version: Version) {
        assert_eq!(
            loaded.version, version,
            "{}: {what}: the version is not the one the last save returned",
            self.case
        );
    }

    /// Loads `id` and asserts that it is `expected`, at `version`.
    pub(super) async fn load_same(
        &self,
        id: &str,
        what: &str,
        expected: &Record,
        version: Version,
    ) {
        let loaded = self.load_some(id, what).await;
        assert_same(self.case, what, &loaded.record, expected);
        self.assert_version(what, &loaded, version);
    }

    /// Loads `id` and asserts that it holds `expected`'s data, at `version`;
    /// its cookie may differ (a touch replaces it).
    pub(super) async fn load_same_data(
        &self,
        id: &str,
        what: &str,
        expected: &Record,
        version: Version,
    ) {
        let loaded = self.load_some(id, what).await;
        assert_eq!(
            loaded.record.data(),
            expected.data(),
            "{}: {what}: the data is not the data last saved",
            self.case
        );
        self.assert_version(what, &loaded, version);
    }

    /// Saves `record` under `condition`, then loads it back the same, at
    /// the version the save returned; returns that version.
    pub(super) async fn round_trip(
        &self,
        id: &str,
        record: &Record,
        condition: SaveCondition,
        what: &str,
    ) -> Version {
        let version = self.save(id, record, condition, what).await;
        self.load_same(id, &format!("load after {what}"), record, version)
            .await;
        version
    }
}
