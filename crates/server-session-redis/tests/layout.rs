//! The keys, values and TTLs on the server are connect-redis's, byte for
//! byte, on a standalone server (`REDIS_URL`) and on a cluster
//! (`REDIS_CLUSTER_URLS`).

mod common;

use common::{unique, Raw};
use server_session::store::{
    expiry, now_ms, CookieData, Record, SaveCondition, SaveOutcome, Store,
};
use server_session_redis::RedisStore;

/// What express-session and connect-redis store, for a cookie with
/// `maxAge: 60000` set far in the future.
const EXPRESS: &str = r#"{"cookie":{"originalMaxAge":60000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"user":{"name":"bob"},"n":1}"#;

/// The same session after a request changed `n`, as Node writes it.
const EXPRESS_BY_NODE: &str = r#"{"cookie":{"originalMaxAge":60000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"user":{"name":"bob"},"n":2}"#;

struct Fixture {
    store: RedisStore,
    raw: Raw,
}

async fn standalone() -> Option<Fixture> {
    let (store, raw) = common::standalone().await?;
    assert!(!store.is_cluster());
    Some(Fixture { store, raw })
}

#[cfg(feature = "cluster")]
async fn cluster() -> Option<Fixture> {
    let (store, raw) = common::cluster().await?;
    assert!(store.is_cluster());
    Some(Fixture { store, raw })
}

/// A record expiring `in_ms` from now (browser-session when `None`).
fn record_expiring(in_ms: Option<i64>, n: i64) -> Record {
    let cookie = CookieData::default()
        .with_expires_ms(in_ms.map(|ms| now_ms() + ms))
        .with_original_max_age_ms(in_ms);
    let mut data = serde_json::Map::new();
    data.insert("n".to_owned(), n.into());
    Record::new(cookie, data)
}

fn express_record() -> Record {
    Record::from_json(EXPRESS.as_bytes()).expect("express JSON is a record")
}

fn assert_ttl_near(actual: i64, expected: i64) {
    assert!(
        (actual - expected).abs() <= 1,
        "TTL {actual}, expected {expected} ± 1"
    );
}

async fn key_is_sess_id_and_value_is_express_json(f: Fixture) {
    let id = unique("layout");
    let record = express_record();
    let outcome = f
        .store
        .save(&id, &record, SaveCondition::Upsert)
        .await
        .expect("save");
    assert!(matches!(outcome, SaveOutcome::Saved(_)));

    let key = format!("sess:{id}");
    assert_eq!(f.store.key(&id), key);
    let stored = f.raw.get(&key).await.expect("the key is sess:<id>");
    assert_eq!(String::from_utf8_lossy(&stored), EXPRESS);

    let expected = expiry::ttl_secs(&record, now_ms(), 86_400);
    assert_ttl_near(f.raw.ttl(&key).await, expected);
    f.store.destroy(&id).await.expect("destroy");
    assert_eq!(f.raw.get(&key).await, None);
}

async fn ttl_is_ceil_of_the_time_left(f: Fixture) {
    let id = unique("ttl");
    let key = f.store.key(&id);
    // 90.5 s left rounds up to 91, as connect-redis's Math.ceil.
    let record = record_expiring(Some(90_500), 1);
    let _ = f
        .store
        .save(&id, &record, SaveCondition::IfAbsent)
        .await
        .expect("save");
    assert_ttl_near(f.raw.ttl(&key).await, 91);
    f.store.destroy(&id).await.expect("destroy");
}

async fn no_expiry_means_a_day(f: Fixture) {
    let (id, key) = common::save_new(&f.store, "day", &record_expiring(None, 1)).await;
    assert_ttl_near(f.raw.ttl(&key).await, 86_400);

    // Another default TTL, and 0 meaning the default, as `opts.ttl || 86400`.
    let store = f
        .store
        .clone()
        .with_default_ttl(std::time::Duration::from_secs(120));
    let _ = store
        .save(&id, &record_expiring(None, 2), SaveCondition::Upsert)
        .await
        .expect("save");
    assert_ttl_near(f.raw.ttl(&key).await, 120);
    f.store.destroy(&id).await.expect("destroy");
}

async fn touch_changes_the_ttl_not_the_value(f: Fixture) {
    let record = record_expiring(Some(60_000), 1);
    let (id, key) = common::save_new(&f.store, "touch", &record).await;
    let before = f.raw.get(&key).await.expect("saved");
    let version = f
        .store
        .load(&id)
        .await
        .expect("load")
        .expect("live")
        .version;

    // A later request's cookie, with other data: only the expiry may move.
    f.store
        .touch(&id, &record_expiring(Some(3_600_000), 99))
        .await
        .expect("touch");
    assert_ttl_near(f.raw.ttl(&key).await, 3_600);
    assert_eq!(f.raw.get(&key).await.expect("still there"), before);
    let after = f.store.load(&id).await.expect("load").expect("live");
    assert_eq!(after.version, version);
    assert_eq!(after.record.data()["n"], 1);

    // disable_touch and disable_ttl make touch a no-op.
    for store in [
        f.store.clone().with_disable_touch(true),
        f.store.clone().with_disable_ttl(true),
    ] {
        store
            .touch(&id, &record_expiring(Some(60_000), 1))
            .await
            .expect("touch");
        assert_ttl_near(f.raw.ttl(&key).await, 3_600);
    }

    // Touching a missing session does not create it.
    let missing = unique("missing");
    f.store.touch(&missing, &record).await.expect("touch");
    assert_eq!(f.raw.get(&f.store.key(&missing)).await, None);
    f.store.destroy(&id).await.expect("destroy");
}

async fn a_write_by_node_makes_a_stale_save_conflict(f: Fixture) {
    let (id, key) = common::save_new(&f.store, "node", &express_record()).await;
    let loaded = f.store.load(&id).await.expect("load").expect("live");

    // connect-redis's `set`, from a Node server sharing the store.
    f.raw.set_ex(&key, EXPRESS_BY_NODE.as_bytes(), 3_600).await;

    let mut mine = loaded.record.clone();
    mine = Record::new(mine.cookie().clone(), {
        let mut data = mine.data().clone();
        data.insert("mine".to_owned(), true.into());
        data
    });
    let outcome = f
        .store
        .save(&id, &mine, SaveCondition::IfVersion(loaded.version))
        .await
        .expect("save");
    assert_eq!(outcome, SaveOutcome::Conflict);
    assert_eq!(
        f.raw.get(&key).await.expect("Node's value"),
        EXPRESS_BY_NODE.as_bytes()
    );

    // Node's record loads, with a new version that a save may then use.
    let reloaded = f.store.load(&id).await.expect("load").expect("live");
    assert_ne!(reloaded.version, loaded.version);
    assert_eq!(reloaded.record.data()["n"], 2);
    assert_eq!(reloaded.record.to_json(), EXPRESS_BY_NODE);
    let outcome = f
        .store
        .save(&id, &mine, SaveCondition::IfVersion(reloaded.version))
        .await
        .expect("save");
    let SaveOutcome::Saved(version) = outcome else {
        panic!("a save with the current version must write");
    };
    assert_eq!(
        f.store
            .load(&id)
            .await
            .expect("load")
            .expect("live")
            .version,
        version
    );
    assert_eq!(f.raw.get(&key).await, Some(mine.to_json_vec()));
    assert_ttl_near(
        f.raw.ttl(&key).await,
        expiry::ttl_secs(&mine, now_ms(), 86_400),
    );
    f.store.destroy(&id).await.expect("destroy");
}

async fn an_expired_record_is_deleted_not_written(f: Fixture) {
    let id = unique("expired");
    let key = f.store.key(&id);
    f.raw.set_ex(&key, EXPRESS.as_bytes(), 3_600).await;
    let outcome = f
        .store
        .save(
            &id,
            &record_expiring(Some(-1_000), 1),
            SaveCondition::Upsert,
        )
        .await
        .expect("save");
    assert!(matches!(outcome, SaveOutcome::Saved(_)));
    assert_eq!(f.raw.get(&key).await, None);
}

async fn disable_ttl_writes_without_expiry(f: Fixture) {
    let id = unique("nottl");
    let store = f.store.clone().with_disable_ttl(true);
    let key = store.key(&id);
    let _ = store
        .save(
            &id,
            &record_expiring(Some(60_000), 1),
            SaveCondition::Upsert,
        )
        .await
        .expect("save");
    assert_eq!(f.raw.ttl(&key).await, -1, "plain SET, no expiry");
    let version = store.load(&id).await.expect("load").expect("live").version;
    let outcome = store
        .save(
            &id,
            &record_expiring(Some(60_000), 2),
            SaveCondition::IfVersion(version),
        )
        .await
        .expect("save");
    assert!(matches!(outcome, SaveOutcome::Saved(_)));
    assert_eq!(
        f.raw.ttl(&key).await,
        -1,
        "the script writes without EX too"
    );
    store.destroy(&id).await.expect("destroy");
}

async fn prefixes_are_used_verbatim(f: Fixture) {
    let prefix = format!("{}:", unique("app"));
    for store in [
        f.store.clone().with_prefix(prefix.clone()),
        f.store.clone().with_prefix(""),
    ] {
        let id = unique("p");
        let _ = store
            .save(&id, &express_record(), SaveCondition::Upsert)
            .await
            .expect("save");
        let key = format!("{}{id}", store.prefix());
        assert_eq!(f.raw.get(&key).await.as_deref(), Some(EXPRESS.as_bytes()));
        store.destroy(&id).await.expect("destroy");
    }
    let store = f.store.clone().with_prefix(prefix.clone());
    let id = unique("listed");
    let _ = store
        .save(&id, &express_record(), SaveCondition::Upsert)
        .await
        .expect("save");
    let all = store.all().await.expect("all");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].0, id);
    assert_eq!(store.len().await.expect("len"), 1);
    store.clear().await.expect("clear");
    assert_eq!(store.len().await.expect("len"), 0);
}

async fn listing_covers_every_master(f: Fixture) {
    // Enough keys that every cluster master holds some.
    let store = f.store.clone().with_prefix(format!("{}:", unique("many")));
    let ids: Vec<String> = (0..60).map(|i| format!("id{i}")).collect();
    for id in &ids {
        let _ = store
            .save(
                id,
                &record_expiring(Some(60_000), 1),
                SaveCondition::IfAbsent,
            )
            .await
            .expect("save");
    }
    let store = store.with_scan_count(7);
    assert_eq!(store.len().await.expect("len"), ids.len());
    let mut listed: Vec<String> = common::stored_ids(&store).await;
    listed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(listed, expected);
    store.clear().await.expect("clear");
    assert_eq!(store.len().await.expect("len"), 0);
    for id in &ids {
        assert_eq!(f.raw.get(&store.key(id)).await, None);
    }
}

macro_rules! layout_tests {
    ($mode:ident, $fixture:path) => {
        mod $mode {
            use super::*;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        if let Some(fixture) = $fixture().await {
                            super::$name(fixture).await;
                        }
                    }
                };
            }

            case!(key_is_sess_id_and_value_is_express_json);
            case!(ttl_is_ceil_of_the_time_left);
            case!(no_expiry_means_a_day);
            case!(touch_changes_the_ttl_not_the_value);
            case!(a_write_by_node_makes_a_stale_save_conflict);
            case!(an_expired_record_is_deleted_not_written);
            case!(disable_ttl_writes_without_expiry);
            case!(prefixes_are_used_verbatim);
            case!(listing_covers_every_master);
        }
    };
}

layout_tests!(standalone, standalone);
#[cfg(feature = "cluster")]
layout_tests!(cluster, cluster);
