//! The durability option: every write waits until replicas acknowledged
//! it (`WAIT`, in the write's round trip), and a write they did not
//! acknowledge in time fails, though it is on the master. The failover
//! measurements are in `sentinel.rs`.

mod common;

use std::time::{Duration, Instant};

use common::{unique, OwnServer, Raw};
use server_session::store::{Record, SaveCondition, SaveOutcome, Store, StoreError};
use server_session_redis::{Durability, RedisStore, ReplicationShortfall};
use session_test_support::backend_tests::load_and_touch_live;

/// A directory of the test's own, removed on drop (after the servers,
/// which are declared after it).
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(unique(label));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn shortfall_of(error: &StoreError) -> &ReplicationShortfall {
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<ReplicationShortfall>())
        .unwrap_or_else(|| panic!("not a replication shortfall: {error:?}"))
}

fn record(value: &str) -> Record {
    let mut data = serde_json::Map::new();
    data.insert("v".to_owned(), value.into());
    Record::new(Default::default(), data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_for_a_replica_and_fail_when_none_acknowledges() {
    // Only where Redis is available at all.
    if common::redis_url().is_none() {
        return;
    }
    // The replica writes the RDB it syncs from to its directory.
    let dir = TempDir::new("durability");
    let dir_arg = dir.0.to_string_lossy().into_owned();
    let master = OwnServer::start_with(
        OwnServer::free_port(),
        &["--repl-diskless-sync-delay", "0", "--dir", &dir_arg],
    );
    let master_port = master.port.to_string();
    let replica = OwnServer::start_with(
        OwnServer::free_port(),
        &["--replicaof", "127.0.0.1", &master_port, "--dir", &dir_arg],
    );
    let url = format!("redis://127.0.0.1:{}", master.port);
    let raw = Raw::standalone(&url).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info: String = raw.query(redis::cmd("INFO").arg("replication")).await;
        if info.contains("state=online") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica did not sync: {info}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let store = RedisStore::connect(&url)
        .await
        .expect("connect")
        .with_durability(Durability::replicas(1).timeout(Duration::from_secs(2)));
    assert_eq!(store.durability().map(|d| d.required_replicas()), Some(1));

    // With the replica: every kind of write succeeds.
    let id = unique("durable");
    let key = store.key(&id);
    let Ok(SaveOutcome::Saved(created)) =
        store.save(&id, &record("1"), SaveCondition::IfAbsent).await
    else {
        panic!("create");
    };
    let Ok(SaveOutcome::Saved(second)) = store
        .save(&id, &record("2"), SaveCondition::IfVersion(created))
        .await
    else {
        panic!("compare-and-set");
    };
    assert!(matches!(
        store.save(&id, &record("3"), SaveCondition::Upsert).await,
        Ok(SaveOutcome::Saved(_))
    ));
    store.touch(&id, &record("3")).await.expect("touch");
    let (_, touched) = load_and_touch_live(&store, &id).await;
    assert!(touched);

    // Without it: the writes land on the master, and fail.
    drop(replica);
    let store = store.with_durability(Durability::replicas(1).timeout(Duration::from_millis(100)));
    let error = store
        .save(&id, &record("4"), SaveCondition::Upsert)
        .await
        .expect_err("no replica acknowledges");
    let shortfall = shortfall_of(&error);
    assert_eq!((shortfall.acknowledged(), shortfall.required()), (0, 1));
    assert_eq!(error.to_string(), "session store error");
    assert_eq!(
        shortfall.to_string(),
        "the write reached the Redis master, but only 0 of 1 replicas \
         acknowledged it within 100ms"
    );
    assert_eq!(raw.get(&key).await, Some(record("4").to_json_vec()));
    let current = store.load(&id).await.expect("load").expect("found").version;

    // A save that writes nothing is a conflict, not an error: there is
    // nothing to replicate.
    assert!(matches!(
        store
            .save(&id, &record("x"), SaveCondition::IfVersion(second))
            .await,
        Ok(SaveOutcome::Conflict)
    ));
    assert!(matches!(
        store.save(&id, &record("x"), SaveCondition::IfAbsent).await,
        Ok(SaveOutcome::Conflict)
    ));
    let error = store
        .save(&id, &record("5"), SaveCondition::IfVersion(current))
        .await
        .expect_err("a compare-and-set no replica acknowledges");
    shortfall_of(&error);
    assert_eq!(raw.get(&key).await, Some(record("5").to_json_vec()));
    let error = store
        .touch(&id, &record("5"))
        .await
        .expect_err("a touch no replica acknowledges");
    shortfall_of(&error);
    // A load that extends the TTL reports the record untouched.
    let (loaded, touched) = load_and_touch_live(&store, &id).await;
    assert_eq!(loaded.record, record("5"));
    assert!(!touched);
    let error = store
        .destroy(&id)
        .await
        .expect_err("a destroy no replica acknowledges");
    shortfall_of(&error);
    assert_eq!(raw.get(&key).await, None);

    // Turned off again, writes do not wait.
    let store = store.with_durability(Durability::replicas(0));
    assert!(store.durability().is_none());
    assert!(matches!(
        store.save(&id, &record("6"), SaveCondition::Upsert).await,
        Ok(SaveOutcome::Saved(_))
    ));
    store.destroy(&id).await.expect("destroy");
}

/// The calls of `cmdstat_<command>` in a node's `INFO commandstats`.
#[cfg(feature = "cluster")]
async fn calls(node: &Raw, command: &str) -> u64 {
    let info: String = node.query(redis::cmd("INFO").arg("commandstats")).await;
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

#[cfg(feature = "cluster")]
#[tokio::test]
async fn on_a_cluster_the_wait_goes_to_the_node_that_took_the_write() {
    let Some(urls) = common::cluster_urls() else {
        return;
    };
    let nodes = {
        let mut nodes = Vec::new();
        for url in &urls {
            nodes.push(Raw::standalone(url).await);
        }
        nodes
    };
    let cluster = Raw::cluster(&urls).await;
    // The test cluster has no replicas, so every durable write falls short.
    let store = RedisStore::connect_cluster(&urls)
        .await
        .expect("connect")
        .with_prefix(format!("{}:", unique("durable")))
        .with_durability(Durability::replicas(1).timeout(Duration::from_millis(50)));

    for round in 0..6 {
        let id = unique("k");
        let key = store.key(&id);
        let mut before = Vec::new();
        for node in &nodes {
            before.push(calls(node, "wait").await);
        }
        let error = store
            .save(&id, &record("1"), SaveCondition::Upsert)
            .await
            .expect_err("no replica acknowledges");
        assert_eq!(shortfall_of(&error).acknowledged(), 0);
        assert_eq!(cluster.get(&key).await, Some(record("1").to_json_vec()));
        // Exactly one WAIT, on the node that holds the key.
        let mut waits = Vec::new();
        for (node, before) in nodes.iter().zip(&before) {
            waits.push(calls(node, "wait").await - before);
        }
        let owner = cluster_owner(&nodes, &key).await;
        let expected: Vec<u64> = (0..nodes.len()).map(|i| u64::from(i == owner)).collect();
        assert_eq!(waits, expected, "round {round}: WAIT calls per node");
    }

    // `clear` deletes key by key, each with its WAIT.
    let error = store.clear().await.expect_err("no replica acknowledges");
    shortfall_of(&error);
    store
        .clone()
        .with_durability(Durability::replicas(0))
        .clear()
        .await
        .expect("clear");
    assert_eq!(store.len().await.expect("len"), 0);
}

/// Which of `nodes` holds `key`: the others answer MOVED.
#[cfg(feature = "cluster")]
async fn cluster_owner(nodes: &[Raw], key: &str) -> usize {
    for (index, node) in nodes.iter().enumerate() {
        if let Raw::Standalone(conn) = node {
            let mut conn = conn.clone();
            let exists: redis::RedisResult<i64> =
                redis::cmd("EXISTS").arg(key).query_async(&mut conn).await;
            if matches!(exists, Ok(1)) {
                return index;
            }
        }
    }
    panic!("no node holds {key}");
}
