//! `load_and_touch`: one round trip loads a session and extends its TTL as
//! the end-of-request touch would (`ceil(originalMaxAge / 1000)`, or the
//! default for a browser-session cookie), so an unchanged request costs a
//! single Redis call (a GETEX whose TTL is guessed from the previous
//! record, put right by a second call when the guess was wrong).

mod common;

use common::{unique, Raw};
use server_session::store::{now_ms, CookieData, Record, Store, StoreError};
use server_session_redis::RedisStore;
use session_test_support::backend_tests::load_and_touch_live;

/// The stores' default TTL here: not connect-redis's, so that a test can
/// tell it was used.
const DEFAULT_TTL_SECS: u64 = 300;

fn record(original_max_age_ms: Option<i64>, expires_in_ms: Option<i64>) -> Record {
    let cookie = CookieData::default()
        .with_original_max_age_ms(original_max_age_ms)
        .with_expires_ms(expires_in_ms.map(|ms| now_ms() + ms));
    let mut data = serde_json::Map::new();
    data.insert("n".into(), 1.into());
    Record::new(cookie, data)
}

/// Asserts that `key` has just been given a TTL of `secs` (PTTL counts down
/// from `secs * 1000`; a second less would be another TTL).
async fn assert_fresh_ttl(raw: &Raw, key: &str, secs: i64) {
    let ms = raw.pttl(key).await;
    assert!(
        (secs * 1000 - 1000 < ms) && (ms <= secs * 1000),
        "{key}: pttl {ms}, expected a fresh {secs} s"
    );
}

/// Saves `record` under a new ID, gives it `ttl_secs` as if it had been
/// saved that long ago, and returns the ID and key.
async fn saved(store: &RedisStore, raw: &Raw, record: &Record, ttl_secs: i64) -> (String, String) {
    let (id, key) = common::save_new(store, "lat", record).await;
    let _: i64 = raw
        .query(redis::cmd("EXPIRE").arg(&key).arg(ttl_secs))
        .await;
    (id, key)
}

async fn load_and_touch(store: &RedisStore, id: &str) -> bool {
    let (loaded, touched) = load_and_touch_live(store, id).await;
    // The value is untouched, so the version still matches a plain load.
    let again = store.load(id).await.expect("load").expect("found");
    assert_eq!(again.version, loaded.version);
    touched
}

async fn check(store: RedisStore, raw: Raw) {
    let store = store.with_default_ttl(std::time::Duration::from_secs(DEFAULT_TTL_SECS));

    // A persistent cookie: the TTL jumps from 5 s to ceil(originalMaxAge).
    let (id, key) = saved(&store, &raw, &record(Some(60_500), Some(5_000)), 5).await;
    let before = raw.get(&key).await;
    let (loaded, touched) = load_and_touch_live(&store, &id).await;
    assert!(touched);
    assert_eq!(loaded.record.data()["n"], 1);
    assert_fresh_ttl(&raw, &key, 61).await;
    assert_eq!(raw.get(&key).await, before, "the value is never rewritten");
    // Again, now that the guess is right.
    assert!(load_and_touch(&store, &id).await);
    assert_fresh_ttl(&raw, &key, 61).await;

    // Two lifetimes in turn: each wrong guess is put right.
    let (short, short_key) = saved(&store, &raw, &record(Some(60_000), Some(5_000)), 5).await;
    let (long, long_key) = saved(&store, &raw, &record(Some(120_000), Some(5_000)), 5).await;
    for _ in 0..3 {
        assert!(load_and_touch(&store, &short).await);
        assert_fresh_ttl(&raw, &short_key, 60).await;
        assert!(load_and_touch(&store, &long).await);
        assert_fresh_ttl(&raw, &long_key, 120).await;
        assert!(raw.pttl(&short_key).await <= 60_000);
    }

    // A browser-session cookie gets the store's default TTL, as
    // connect-redis's touch; first after a guess of 120 s, then guessed.
    for _ in 0..2 {
        let (id, key) = saved(&store, &raw, &record(None, None), 5).await;
        assert!(load_and_touch(&store, &id).await);
        assert_fresh_ttl(&raw, &key, 300).await;
    }

    // The record is read in full, so any key order is touched (the Lua
    // script of old servers leaves this one to the layer).
    let id = unique("lat");
    let key = store.key(&id);
    raw.set_ex(
        &key,
        br#"{"a":1,"cookie":{"originalMaxAge":60000,"expires":null,"httpOnly":true,"path":"/"}}"#,
        5,
    )
    .await;
    assert!(load_and_touch(&store, &id).await);
    assert_fresh_ttl(&raw, &key, 60).await;

    // Missing stays missing, and is not created.
    let id = unique("lat");
    assert!(store.load_and_touch(&id).await.expect("load").is_none());
    assert!(raw.get(&store.key(&id)).await.is_none());

    // With touching disabled, nothing is touched.
    for quiet in [
        store.clone().with_disable_touch(true),
        store.clone().with_disable_ttl(true),
    ] {
        let (id, key) = saved(&quiet, &raw, &record(Some(60_000), Some(5_000)), 5).await;
        assert!(!load_and_touch(&quiet, &id).await);
        assert!(raw.pttl(&key).await <= 5_000);
    }
}

/// A max age of zero or less: the end-of-request touch deletes the record,
/// so `load_and_touch` leaves it to the layer (`false`) as the Lua script
/// did, with the expiry its save gave it, never a longer one.
async fn check_non_positive_max_age(store: RedisStore, raw: Raw) {
    let store = store.with_default_ttl(std::time::Duration::from_secs(DEFAULT_TTL_SECS));
    for max_age in [0, -5_000] {
        // Make the guess something long first.
        let (warm, _) = saved(&store, &raw, &record(Some(120_000), Some(5_000)), 5).await;
        assert!(load_and_touch(&store, &warm).await);

        let stored = record(Some(max_age), Some(5_000));
        let (id, key) = common::save_new(&store, "lat", &stored).await;
        let saved_pttl = raw.pttl(&key).await;
        assert!((1..=5_000).contains(&saved_pttl), "pttl {saved_pttl}");
        let before = raw.get(&key).await;
        assert!(!load_and_touch(&store, &id).await);
        let after = raw.pttl(&key).await;
        assert!(
            (1..=saved_pttl).contains(&after),
            "pttl {after} > {saved_pttl}"
        );
        assert_eq!(raw.get(&key).await, before);

        // The layer's touch at the end (cookie touched: expires = now +
        // maxAge) then deletes it, as connect-redis's does.
        let touched = record(Some(max_age), Some(max_age));
        store.touch(&id, &touched).await.expect("touch");
        assert!(raw.get(&key).await.is_none());
    }

    // A cookie already past its `expires` but still in Redis (its TTL
    // rounds up to the second): its expiry is put back to `expires`, which
    // has passed, so the key goes now instead of at the end of the request.
    let id = unique("lat");
    let key = store.key(&id);
    let past = record(Some(0), Some(-1)).to_json_vec();
    raw.set_ex(&key, &past, 5).await;
    assert!(!load_and_touch_without_reload(&store, &id).await);
    assert!(raw.get(&key).await.is_none());
}

async fn load_and_touch_without_reload(store: &RedisStore, id: &str) -> bool {
    load_and_touch_live(store, id).await.1
}

/// A value that is not a session is a typed error. It cannot be read for
/// its TTL before GETEX, so it has the guessed TTL afterwards.
async fn check_corrupt(store: RedisStore, raw: Raw) {
    let store = store.with_default_ttl(std::time::Duration::from_secs(DEFAULT_TTL_SECS));
    let (warm, _) = saved(&store, &raw, &record(Some(120_000), Some(5_000)), 5).await;
    assert!(load_and_touch(&store, &warm).await);
    let id = unique("lat");
    let key = store.key(&id);
    raw.set_ex(&key, b"not json", 5).await;
    let result = store.load_and_touch(&id).await;
    assert!(
        matches!(result, Err(StoreError::Corrupt { .. })),
        "{result:?}"
    );
    assert_fresh_ttl(&raw, &key, 120).await;
}

/// Every check above, on one server.
async fn check_all(store: RedisStore, raw: Raw) {
    check(store.clone(), raw.clone()).await;
    check_non_positive_max_age(store.clone(), raw.clone()).await;
    check_corrupt(store, raw).await;
}

#[tokio::test]
async fn load_and_touch_extends_the_ttl_in_one_call() {
    common::on_standalone(check_all).await;
}

#[cfg(feature = "cluster")]
#[tokio::test]
async fn load_and_touch_extends_the_ttl_in_one_call_on_a_cluster() {
    common::on_cluster(check_all).await;
}
