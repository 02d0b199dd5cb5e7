//! `load_with_expiry`: `GET` and `PTTL` in one pipelined round trip, on a
//! single server and on a cluster (both commands name one key, so one
//! slot). The expiry is the key's TTL, which a touch moves, not the stored
//! `cookie.expires`, which it leaves as it was; and the call writes nothing.

mod common;

use common::{unique, Raw};
use server_session::store::{now_ms, CookieData, Record, SaveCondition, Store};
use server_session_redis::RedisStore;

async fn check(store: RedisStore, raw: Raw) {
    let id = unique("lwe");
    let key = store.key(&id);
    assert!(store.load_with_expiry(&id).await.expect("load").is_none());

    let now = now_ms();
    let cookie = CookieData::default().with_original_max_age_ms(Some(60_000));
    let record = Record::new(
        cookie.clone().with_expires_ms(Some(now + 60_000)),
        serde_json::Map::new(),
    );
    let _ = store
        .save(&id, &record, SaveCondition::Upsert)
        .await
        .expect("save");
    // A touch as connect-redis's: the TTL moves, the JSON stays.
    let touched = Record::new(
        cookie.with_expires_ms(Some(now + 300_000)),
        serde_json::Map::new(),
    );
    store.touch(&id, &touched).await.expect("touch");

    let (loaded, expiry) = store
        .load_with_expiry(&id)
        .await
        .expect("load")
        .expect("found");
    assert_eq!(loaded.record.cookie().expires_ms(), Some(now + 60_000));
    let expiry = expiry.expect("a TTL");
    assert!(
        (now + 299_000..=now + 301_000).contains(&expiry),
        "{} ms from now",
        expiry - now
    );
    // A pure read: the TTL only counted down.
    let pttl: i64 = raw.query(redis::cmd("PTTL").arg(&key)).await;
    assert!(pttl <= expiry - now && pttl > 298_000, "pttl {pttl}");

    // No TTL (a key persisted by hand): no expiry to report.
    let _: i64 = raw.query(redis::cmd("PERSIST").arg(&key)).await;
    let (_, expiry) = store
        .load_with_expiry(&id)
        .await
        .expect("load")
        .expect("found");
    assert_eq!(expiry, None);
    store.destroy(&id).await.expect("destroy");
}

#[tokio::test]
async fn load_with_expiry_reads_the_ttl_in_the_same_round_trip() {
    let Some((store, raw)) = common::standalone().await else {
        return;
    };
    check(store, raw).await;
}

#[cfg(feature = "cluster")]
#[tokio::test]
async fn load_with_expiry_reads_the_ttl_in_the_same_round_trip_on_a_cluster() {
    let Some((store, raw)) = common::cluster().await else {
        return;
    };
    check(store, raw).await;
}
