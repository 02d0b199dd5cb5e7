//! `load_with_expiry`: `GET` and `PTTL` in one pipelined round trip, on a
//! single server and on a cluster (both commands name one key, so one
//! slot). The expiry is the key's TTL, which a touch moves, not the stored
//! `cookie.expires`, which it leaves as it was; and the call writes nothing.

mod common;

use common::{unique, Raw};
use server_session::store::{SaveCondition, Store};
use server_session_redis::RedisStore;
use session_test_support::backend_tests::{
    save_fresh_minute_record, touch_to_five_minutes_and_check_expiry,
};
use session_test_support::services::load_live_with_expiry;

async fn check(store: RedisStore, raw: Raw) {
    let id = unique("lwe");
    let key = store.key(&id);
    let (now, _) = save_fresh_minute_record(&store, &id, SaveCondition::Upsert).await;
    // A touch as connect-redis's: the TTL moves, the JSON stays.
    let expiry = touch_to_five_minutes_and_check_expiry(&store, &id, now, "redis").await;
    // A pure read: the TTL only counted down.
    let pttl = raw.pttl(&key).await;
    assert!(pttl <= expiry - now && pttl > 298_000, "pttl {pttl}");

    // No TTL (a key persisted by hand): no expiry to report.
    let _: i64 = raw.query(redis::cmd("PERSIST").arg(&key)).await;
    let (_, expiry) = load_live_with_expiry(&store, &id).await;
    assert_eq!(expiry, None);
    store.destroy(&id).await.expect("destroy");
}

#[tokio::test]
async fn load_with_expiry_reads_the_ttl_in_the_same_round_trip() {
    common::on_standalone(check).await;
}

#[cfg(feature = "cluster")]
#[tokio::test]
async fn load_with_expiry_reads_the_ttl_in_the_same_round_trip_on_a_cluster() {
    common::on_cluster(check).await;
}
