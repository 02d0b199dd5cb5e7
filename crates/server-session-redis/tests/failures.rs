//! Unreachable servers and values that are not sessions give typed errors,
//! quickly, and never a panic or a hang.

mod common;

use std::time::{Duration, Instant};

use common::{unique, OwnServer, Raw};
use server_session::store::{Record, SaveCondition, Store, StoreError};
use server_session_redis::RedisStore;

const SHORT: Duration = Duration::from_secs(1);

fn assert_transient<T: std::fmt::Debug>(result: Result<T, StoreError>, started: Instant) {
    match result {
        Err(error) => assert!(error.is_transient(), "{error:?}"),
        Ok(value) => panic!("an unreachable store answered {value:?}"),
    }
    // The call timeout plus scheduling slack.
    assert!(
        started.elapsed() < SHORT * 2,
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_unreachable_server_fails_fast() {
    let started = Instant::now();
    assert_transient(RedisStore::connect("redis://127.0.0.1:1").await, started);

    let store = RedisStore::connect_lazy("redis://127.0.0.1:1")
        .expect("a valid URL")
        .with_call_timeout(SHORT);
    for _ in 0..2 {
        let started = Instant::now();
        assert_transient(store.load("x").await, started);
        let started = Instant::now();
        assert_transient(
            store
                .save("x", &Record::default(), SaveCondition::Upsert)
                .await,
            started,
        );
        let started = Instant::now();
        assert_transient(store.len().await, started);
    }
    assert!(store.is_ready());
}

#[cfg(feature = "cluster")]
#[tokio::test]
async fn an_unreachable_cluster_fails_fast() {
    let store = RedisStore::connect_lazy("redis+cluster://127.0.0.1:1,127.0.0.1:2")
        .expect("a valid URL")
        .with_call_timeout(SHORT);
    let started = Instant::now();
    assert_transient(store.load("x").await, started);
    let started = Instant::now();
    assert_transient(store.all().await, started);
}

#[tokio::test]
async fn a_value_that_is_not_a_session_is_corrupt() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let store = RedisStore::connect(&url).await.expect("connect");
    let raw = Raw::standalone(&url).await;
    let id = unique("corrupt");
    let key = store.key(&id);

    for bad in [
        &b"not json"[..],
        br#"{"foo":"bar"}"#,
        br#"{"cookie":null}"#,
        b"",
    ] {
        raw.set_ex(&key, bad, 60).await;
        assert!(
            matches!(store.load(&id).await, Err(StoreError::Corrupt { .. })),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }

    // A key of another type: the server's error, not a panic.
    let _: redis::Value = raw.query(redis::cmd("DEL").arg(&key)).await;
    let _: redis::Value = raw.query(redis::cmd("RPUSH").arg(&key).arg("a")).await;
    assert!(matches!(store.load(&id).await, Err(StoreError::Backend(_))));
    let _: redis::Value = raw.query(redis::cmd("DEL").arg(&key)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_recovers_when_redis_comes_back() {
    // Only where Redis is available at all.
    if common::redis_url().is_none() {
        return;
    }
    let port = OwnServer::free_port();
    let server = OwnServer::start(port);
    let store = RedisStore::connect(&format!("redis://127.0.0.1:{}", server.port))
        .await
        .expect("connect")
        .with_call_timeout(SHORT);
    let record = Record::default();
    let _ = store
        .save("a", &record, SaveCondition::Upsert)
        .await
        .expect("save");

    drop(server);
    for _ in 0..3 {
        let started = Instant::now();
        assert_transient(store.load("a").await, started);
    }
    // Let the reconnection attempt the last call started fail too.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Nothing persisted, so the record is gone, but the store works again
    // at once: no call fails once the server is back.
    let _server = OwnServer::start(port);
    assert!(store.load("a").await.expect("load").is_none());
    let _ = store
        .save("a", &record, SaveCondition::IfAbsent)
        .await
        .expect("save");
    assert!(store.load("a").await.expect("load").is_some());
}

#[tokio::test]
async fn a_refused_connection_says_so() {
    let error = RedisStore::connect("redis://127.0.0.1:1")
        .await
        .map(drop)
        .expect_err("nothing listens on port 1");
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    assert!(text.to_lowercase().contains("refused"), "{text}");
}
