//! Concurrent calls on a standalone Redis share writes, and still answer
//! each on its own.
//!
//! The write count is read from `INFO stats` (`total_reads_processed`: the
//! reads Redis made from its clients' sockets) on a redis-server of the
//! test's own, so no other client's traffic mixes in. Runs where
//! `REDIS_URL` is set (redis-server is installed there).

mod common;

use std::sync::Arc;

use common::{unique, OwnServer, Raw};
use futures_util::future::join_all;
use server_session::store::{
    now_ms, CookieData, Record, SaveCondition, SaveOutcome, Store, StoreError,
};
use server_session_redis::RedisStore;

/// How many calls run at once.
const CALLS: usize = 64;

fn record(count: usize) -> Record {
    let cookie = CookieData::default()
        .with_original_max_age_ms(Some(60_000))
        .with_expires_ms(Some(now_ms() + 60_000));
    let mut data = serde_json::Map::new();
    data.insert("count".into(), count.into());
    Record::new(cookie, data)
}

async fn reads_processed(raw: &Raw) -> u64 {
    let info: String = raw.query(redis::cmd("INFO").arg("stats")).await;
    info.lines()
        .find_map(|line| line.strip_prefix("total_reads_processed:"))
        .and_then(|count| count.trim().parse().ok())
        .expect("INFO stats has total_reads_processed")
}

/// On one worker of the multi-thread runtime, the runtime that ran each
/// command alone before batching (BENCHMARKS.md, issue 14).
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn concurrent_loads_reach_redis_in_a_few_reads() {
    if common::redis_url().is_none() {
        return;
    }
    let server = OwnServer::start(OwnServer::free_port());
    let url = format!("redis://127.0.0.1:{}", server.port);
    let store = Arc::new(RedisStore::connect_lazy(&url).expect("valid URL"));
    let ids: Vec<String> = (0..CALLS).map(|_| unique("batch")).collect();
    for (n, id) in ids.iter().enumerate() {
        let saved = store.save(id, &record(n), SaveCondition::Upsert).await;
        assert!(matches!(saved, Ok(SaveOutcome::Saved(_))), "{saved:?}");
    }
    let raw = Raw::standalone(&url).await;
    let before = reads_processed(&raw).await;

    let loads = ids.iter().cloned().map(|id| {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.load(&id).await })
    });
    let loaded = join_all(loads).await;

    let reads = reads_processed(&raw).await - before;
    for (n, result) in loaded.into_iter().enumerate() {
        let loaded = result.expect("task").expect("load").expect("stored");
        assert_eq!(
            loaded.record.data()["count"],
            n,
            "each call gets its own reply"
        );
    }
    // One read for each INFO, and a few for the loads: without batching,
    // Redis reads each of the 64 commands on its own.
    println!("{CALLS} concurrent loads: {reads} socket reads on Redis");
    assert!(
        reads <= 2 + CALLS as u64 / 8,
        "{CALLS} concurrent loads took {reads} reads on Redis"
    );
}

/// One call's server error stays its own: the others in its batch succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_failing_call_does_not_fail_its_batch() {
    let Some(url) = common::redis_url() else {
        return;
    };
    let prefix = format!("{}:", unique("batch-error"));
    let store = Arc::new(
        RedisStore::connect_lazy(&url)
            .expect("valid URL")
            .with_prefix(prefix.clone()),
    );
    let raw = Raw::standalone(&url).await;
    // A key of the wrong type: GET on it fails with WRONGTYPE.
    let _: () = raw
        .query(
            redis::cmd("HSET")
                .arg(format!("{prefix}wrong"))
                .arg("a")
                .arg("b"),
        )
        .await;
    let ids: Vec<String> = (0..CALLS).map(|n| format!("id{n}")).collect();
    for (n, id) in ids.iter().enumerate() {
        let saved = store.save(id, &record(n), SaveCondition::Upsert).await;
        assert!(matches!(saved, Ok(SaveOutcome::Saved(_))), "{saved:?}");
    }

    let calls = ids
        .iter()
        .cloned()
        .chain(std::iter::once("wrong".to_owned()))
        .map(|id| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { (id.clone(), store.load(&id).await) })
        });
    for result in join_all(calls).await {
        let (id, loaded) = result.expect("task");
        if id == "wrong" {
            assert!(
                matches!(loaded, Err(StoreError::Backend(_))),
                "the wrong-type key fails on its own: {loaded:?}"
            );
        } else {
            assert!(matches!(loaded, Ok(Some(_))), "{id}: {loaded:?}");
        }
    }
}
