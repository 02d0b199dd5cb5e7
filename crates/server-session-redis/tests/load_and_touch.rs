//! `load_and_touch`: one round trip loads a session and extends its TTL as
//! the end-of-request touch would (`ceil(originalMaxAge / 1000)`, or the
//! default for a browser-session cookie), so an unchanged request costs a
//! single Redis call.

mod common;

use common::{unique, Raw};
use server_session::store::{now_ms, CookieData, Record, SaveCondition, Store};
use server_session_redis::RedisStore;

fn record(original_max_age_ms: Option<i64>, expires_in_ms: i64) -> Record {
    let cookie = CookieData::default()
        .with_original_max_age_ms(original_max_age_ms)
        .with_expires_ms(Some(now_ms() + expires_in_ms));
    let mut data = serde_json::Map::new();
    data.insert("n".into(), 1.into());
    Record::new(cookie, data)
}

async fn check(store: RedisStore, raw: Raw) {
    // A persistent cookie: the TTL jumps from ~5 s to originalMaxAge.
    let id = unique("lat");
    let _ = store
        .save(&id, &record(Some(60_000), 5_000), SaveCondition::Upsert)
        .await
        .expect("save");
    assert!(raw.ttl(&store.key(&id)).await <= 5);
    let (loaded, touched) = store
        .load_and_touch(&id)
        .await
        .expect("load")
        .expect("found");
    assert!(touched);
    assert_eq!(loaded.record.data()["n"], 1);
    let ttl = raw.ttl(&store.key(&id)).await;
    assert!((59..=60).contains(&ttl), "ttl {ttl}");
    // The value is untouched, so the version still matches.
    let again = store.load(&id).await.expect("load").expect("found");
    assert_eq!(again.version, loaded.version);

    // A browser-session cookie gets the default TTL, as connect-redis's touch.
    let id = unique("lat");
    let key = store.key(&id);
    let browser = Record::new(CookieData::default(), serde_json::Map::new());
    let _ = store
        .save(&id, &browser, SaveCondition::Upsert)
        .await
        .expect("save");
    let _: i64 = raw.query(redis::cmd("EXPIRE").arg(&key).arg(5)).await;
    let (_, touched) = store
        .load_and_touch(&id)
        .await
        .expect("load")
        .expect("found");
    assert!(touched);
    assert!(raw.ttl(&key).await > 86_000);

    // A value of another shape is loaded but left for the ordinary touch.
    let id = unique("lat");
    let key = store.key(&id);
    raw.set_ex(
        &key,
        br#"{"a":1,"cookie":{"originalMaxAge":60000,"expires":null,"httpOnly":true,"path":"/"}}"#,
        5,
    )
    .await;
    let (_, touched) = store
        .load_and_touch(&id)
        .await
        .expect("load")
        .expect("found");
    assert!(!touched);
    assert!(raw.ttl(&key).await <= 5);

    // Missing stays missing, and is not created.
    let id = unique("lat");
    assert!(store.load_and_touch(&id).await.expect("load").is_none());
    assert!(raw.get(&store.key(&id)).await.is_none());

    // With touching disabled, nothing is touched.
    let quiet = store.clone().with_disable_touch(true);
    let id = unique("lat");
    let _ = quiet
        .save(&id, &record(Some(60_000), 5_000), SaveCondition::Upsert)
        .await
        .expect("save");
    let (_, touched) = quiet
        .load_and_touch(&id)
        .await
        .expect("load")
        .expect("found");
    assert!(!touched);
    assert!(raw.ttl(&quiet.key(&id)).await <= 5);
}

#[tokio::test]
async fn load_and_touch_extends_the_ttl_in_one_call() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let store = RedisStore::connect(&url).await.expect("connect");
    check(store, Raw::standalone(&url).await).await;
}

#[cfg(feature = "cluster")]
#[tokio::test]
async fn load_and_touch_extends_the_ttl_in_one_call_on_a_cluster() {
    let Some(urls) = common::cluster_urls() else {
        return;
    };
    let store = RedisStore::connect_cluster(&urls).await.expect("connect");
    check(store, Raw::cluster(&urls).await).await;
}
