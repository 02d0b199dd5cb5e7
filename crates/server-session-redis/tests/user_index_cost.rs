//! What listing one user's sessions costs Redis among many others: counted
//! with `INFO commandstats` and `INFO stats` on a redis-server of the
//! test's own, so no other client's commands mix in. Runs where
//! `REDIS_URL` is set (redis-server is installed there).
//!
//! ```text
//! cargo test -p server-session-redis --all-features --test user_index_cost -- --nocapture
//! ```
//!
//! On the cluster (`REDIS_CLUSTER_URLS`, shared with other tests) the same
//! counts, summed over the masters, are printed but not asserted: another
//! test running at the same time would add its own.

mod common;

use std::collections::BTreeMap;

use common::OwnServer;
use server_session::store::{now_ms, CookieData, Record, SaveCondition, Store, UserPath};
use server_session_redis::RedisStore;

/// How many other sessions are stored, each signed in to a user of its own
/// (so the server also holds as many other index keys): 100,000, or
/// `USER_INDEX_OTHERS` (the closing figures used 1,000,000).
fn others() -> usize {
    std::env::var("USER_INDEX_OTHERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000)
}

/// Pipelines of 10,000 others each that store [`others`] sessions, each
/// signed in to a user of its own, their IDs and users starting with `tag`,
/// living `ttl` seconds (their index too when `expire_index`).
fn others_pipelines(
    store: &RedisStore,
    tag: &str,
    ttl: u64,
    expire_index: bool,
) -> Vec<redis::Pipeline> {
    let json = |user: &str| {
        format!(
            r#"{{"cookie":{{"originalMaxAge":3600000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}},"passport":{{"user":"{user}"}}}}"#
        )
    };
    let ids: Vec<usize> = (0..others()).collect();
    ids.chunks(10_000)
        .map(|chunk| {
            let mut pipeline = redis::pipe();
            for n in chunk {
                let (id, user) = (format!("{tag}session-{n:08}"), format!("{tag}user-{n}"));
                pipeline
                    .cmd("SET")
                    .arg(store.key(&id))
                    .arg(json(&user))
                    .arg("EX")
                    .arg(ttl)
                    .ignore();
                pipeline
                    .cmd("ZADD")
                    .arg(store.user_key(&user))
                    .arg(now_ms())
                    .arg(&id)
                    .ignore();
                if expire_index {
                    pipeline
                        .cmd("EXPIRE")
                        .arg(store.user_key(&user))
                        .arg(ttl)
                        .ignore();
                }
            }
            pipeline
        })
        .collect()
}

/// Signs Ada in to session `ada-session-<n>` for `lifetime_ms`, as the layer
/// does (index, then save); its ID.
async fn sign_in_ada(store: &RedisStore, n: usize, lifetime_ms: i64) -> String {
    let id = format!("ada-session-{n}");
    store.index_user("ada", &id).await.expect("index");
    let cookie = CookieData::default()
        .with_original_max_age_ms(Some(lifetime_ms))
        .with_expires_ms(Some(now_ms() + lifetime_ms));
    let mut data = serde_json::Map::new();
    data.insert("passport".into(), serde_json::json!({"user": "ada"}));
    let _ = store
        .save(&id, &Record::new(cookie, data), SaveCondition::Upsert)
        .await
        .expect("save");
    id
}

#[tokio::test]
async fn listing_one_user_touches_only_their_keys() {
    if common::redis_url().is_none() {
        return;
    }
    let server = OwnServer::start(OwnServer::free_port());
    let url = format!("redis://127.0.0.1:{}", server.port);
    let client = redis::Client::open(url.as_str()).expect("a redis URL");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test's own server");
    let store = RedisStore::connect(&url).await.expect("connect");
    let path = UserPath::parse("passport.user").expect("a valid path");

    // The others, as connect-redis and sign-ins would leave them.
    for pipeline in others_pipelines(&store, "other-", 3_600, false) {
        let () = pipeline.query_async(&mut raw).await.expect("insert others");
    }
    for n in 0..3 {
        sign_in_ada(&store, n, 3_600_000).await;
    }
    let keys: usize = redis::cmd("DBSIZE")
        .query_async(&mut raw)
        .await
        .expect("DBSIZE");

    let before = counters(&mut raw).await;
    let found = store
        .user_sessions(&path, "ada")
        .await
        .expect("user_sessions");
    let after = counters(&mut raw).await;
    assert_eq!(found.len(), 3);

    let mut delta: BTreeMap<String, u64> = BTreeMap::new();
    for (name, value) in &after {
        let moved = value - before.get(name).copied().unwrap_or(0);
        // The two INFO calls of `counters` themselves.
        if moved > 0 && name != "cmdstat_info" {
            delta.insert(name.clone(), moved);
        }
    }
    println!("{keys} keys on the server; user_sessions of a user with 3 sessions: {delta:?}");
    let commands: u64 = delta
        .iter()
        .filter(|(name, _)| name.starts_with("cmdstat_"))
        .map(|(_, calls)| calls)
        .sum();
    assert_eq!(delta.get("cmdstat_zrange"), Some(&1), "{delta:?}");
    assert_eq!(delta.get("cmdstat_mget"), Some(&1), "{delta:?}");
    assert_eq!(commands, 2, "no SCAN, KEYS or other command: {delta:?}");
    assert_eq!(
        delta.get("keyspace_hits"),
        Some(&4),
        "the index and the three sessions: {delta:?}"
    );
    assert_eq!(delta.get("keyspace_misses"), None, "{delta:?}");
}

/// Every command's call count (`cmdstat_<name>`) and the keyspace hits and
/// misses.
async fn counters(conn: &mut redis::aio::MultiplexedConnection) -> BTreeMap<String, u64> {
    let mut counters = BTreeMap::new();
    for section in ["commandstats", "stats"] {
        let info: String = redis::cmd("INFO")
            .arg(section)
            .query_async(conn)
            .await
            .expect("INFO");
        for line in info.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let count = if name.starts_with("cmdstat_") {
                // calls=N,usec=…
                value
                    .split(',')
                    .find_map(|field| field.strip_prefix("calls="))
                    .and_then(|calls| calls.parse().ok())
            } else if matches!(name, "keyspace_hits" | "keyspace_misses") {
                value.trim().parse().ok()
            } else {
                None
            };
            if let Some(count) = count {
                counters.insert(name.to_owned(), count);
            }
        }
    }
    counters
}

/// The same on the cluster: the index is read on its own master, and the
/// sessions by one `MGET` per slot, each on the master owning it.
#[cfg(feature = "cluster")]
#[tokio::test]
async fn listing_one_user_on_a_cluster() {
    let Some(urls) = common::cluster_urls() else {
        return;
    };
    let raw = common::Raw::cluster(&urls).await;
    let store = RedisStore::connect_cluster(&urls)
        .await
        .expect("connect")
        .with_prefix(format!("{}:", common::unique("cost")));
    let path = UserPath::parse("passport.user").expect("a valid path");
    // The others, with a TTL of their own so they go by themselves. A hash
    // tag puts them in one slot, so that they can be written by pipelines
    // (a cluster pipeline keeps to one slot); where they sit plays no part
    // in what listing Ada's sessions reads.
    for pipeline in others_pipelines(&store, "{others}-", 120, true) {
        let () = raw.query_pipeline(&pipeline).await;
    }
    let mut slots = std::collections::BTreeSet::new();
    for n in 0..3 {
        let id = sign_in_ada(&store, n, 60_000).await;
        let slot: i64 = raw
            .query(redis::cmd("CLUSTER").arg("KEYSLOT").arg(store.key(&id)))
            .await;
        slots.insert(slot);
    }

    let nodes = cluster_nodes(&urls).await;
    let before = sum_counters(&nodes).await;
    let found = store
        .user_sessions(&path, "ada")
        .await
        .expect("user_sessions");
    let after = sum_counters(&nodes).await;
    assert_eq!(found.len(), 3);
    let delta: BTreeMap<String, u64> = after
        .iter()
        .map(|(name, value)| (name.clone(), value - before.get(name).copied().unwrap_or(0)))
        .filter(|(name, moved)| *moved > 0 && name != "cmdstat_info")
        .collect();
    println!(
        "cluster, {} other sessions and indexes; the 3 sessions in {} slots; user_sessions: {delta:?}",
        others(),
        slots.len()
    );
    // The rest expires by itself.
    let _: i64 = raw
        .query(redis::cmd("DEL").arg(store.user_key("ada")))
        .await;
}

/// A plain connection to each seed node.
#[cfg(feature = "cluster")]
async fn cluster_nodes(urls: &[String]) -> Vec<redis::aio::MultiplexedConnection> {
    let mut nodes = Vec::new();
    for url in urls {
        let client = redis::Client::open(url.as_str()).expect("a redis URL");
        nodes.push(
            client
                .get_multiplexed_async_connection()
                .await
                .expect("connect to a node"),
        );
    }
    nodes
}

/// `counters` summed over the nodes.
#[cfg(feature = "cluster")]
async fn sum_counters(nodes: &[redis::aio::MultiplexedConnection]) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    for node in nodes {
        for (name, value) in counters(&mut node.clone()).await {
            *sum.entry(name).or_insert(0) += value;
        }
    }
    sum
}
