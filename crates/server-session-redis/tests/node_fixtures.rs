//! RedisStore against what the real express-session 1.19 and connect-redis 9
//! stored (`interop/node/capture-fixtures.js`, fixtures in
//! `crates/server-session/tests/fixtures/express/`): a value Node wrote loads
//! with the same data and cookie, and our save writes the bytes Node wrote,
//! with connect-redis's TTL. Where our bytes differ, `known-differences.json`
//! says how, and that exact difference is asserted.
//!
//! The fixtures were captured in the past, so each value's `cookie.expires`
//! is moved forward by the time since the capture before it is written; the
//! rest of Node's bytes are kept as they are.

mod common;

use common::{unique, Raw};
use serde_json::Value;
use server_session::store::{now_ms, Store};
use server_session_redis::RedisStore;
use session_test_support::node_fixtures::{
    assert_loads_as_node, iso_to_ms, node_records, savable_node_records, save_as_new,
    save_over_node, touch_as_express, touched_node_records, NodeRecord, DEFAULT_TTL_SECS,
};

/// The fixtures' connect-redis run.
const RUN: &str = "redis";

/// connect-redis's `getTTL`: `Math.ceil((expires - Date.now()) / 1000)`, or
/// the default for a browser-session cookie.
fn connect_redis_ttl(json: &Value, now_ms: i64) -> i64 {
    match json["cookie"]["expires"].as_str() {
        Some(iso) => ((iso_to_ms(iso) - now_ms) as f64 / 1000.0).ceil() as i64,
        None => DEFAULT_TTL_SECS,
    }
}

fn assert_ttl_near(label: &str, actual: i64, expected: i64) {
    assert!(
        (actual - expected).abs() <= 1,
        "{label}: TTL {actual}, connect-redis's formula gives {expected} (± 1)"
    );
}

/// Our save of `node`'s record at `now` left `expected` at `key`, with
/// connect-redis's TTL.
async fn assert_written(raw: &Raw, key: &str, expected: &str, node: &NodeRecord, now: i64) {
    let written = raw.get(key).await.expect("written");
    assert_eq!(
        String::from_utf8_lossy(&written),
        expected,
        "{}",
        node.scenario
    );
    assert_ttl_near(
        node.scenario,
        raw.ttl(key).await,
        connect_redis_ttl(&node.json, now),
    );
}

async fn setup() -> Option<(RedisStore, Raw)> {
    let (store, raw) = common::standalone().await?;
    assert_eq!(store.prefix(), "sess:", "connect-redis's default prefix");
    Some((store, raw))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_node_wrote_loads_with_the_same_data_and_cookie() {
    let Some((store, raw)) = setup().await else {
        return;
    };
    for node in node_records(RUN) {
        let id = unique(node.scenario);
        let key = format!("sess:{id}");
        let ttl = connect_redis_ttl(&node.json, now_ms());
        raw.set_ex(&key, node.bytes.as_bytes(), ttl).await;

        assert_loads_as_node(&store, &id, &node).await;
        store.destroy(&id).await.expect("destroy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_a_node_record_writes_the_bytes_node_wrote() {
    let Some((store, raw)) = setup().await else {
        return;
    };
    let mut exact = 0;
    for (node, expected, record) in savable_node_records(RUN) {
        // As a new session.
        let id = unique(node.scenario);
        let key = format!("sess:{id}");
        let now = save_as_new(&store, &id, &record, node.scenario).await;
        assert_written(&raw, &key, &expected, &node, now).await;
        if expected == node.bytes {
            exact += 1;
        }

        // Over the value Node wrote, compare-and-set against its version.
        let over = unique(node.scenario);
        let over_key = format!("sess:{over}");
        raw.set_ex(&over_key, node.bytes.as_bytes(), 600).await;
        let now = save_over_node(&store, &over, node.scenario).await;
        assert_written(&raw, &over_key, &expected, &node, now).await;

        store.destroy(&id).await.expect("destroy");
        store.destroy(&over).await.expect("destroy");
    }
    assert_eq!(exact, 15, "scenarios without a known difference");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touching_a_node_record_moves_the_ttl_as_connect_redis_did() {
    let Some((store, raw)) = setup().await else {
        return;
    };
    let mut touched = 0;
    for (node, after) in touched_node_records(RUN) {
        touched += 1;

        let id = unique(node.scenario);
        let key = format!("sess:{id}");
        raw.set_ex(
            &key,
            node.bytes.as_bytes(),
            connect_redis_ttl(&node.json, now_ms()),
        )
        .await;
        let (loaded, _, touched_expires) = touch_as_express(&store, &id).await;
        let ttl = raw.ttl(&key).await;

        // The value is not rewritten; the TTL is the touched one, which is
        // what connect-redis's EXPIRE left (captured right after Node's touch).
        assert_eq!(
            String::from_utf8_lossy(&raw.get(&key).await.expect("kept")),
            node.bytes,
            "{}",
            node.scenario
        );
        let node_ttl = after["ttl"].as_i64().expect("Node's TTL after touch");
        assert_ttl_near(node.scenario, ttl, node_ttl);
        let expected = match touched_expires {
            Some(at) => ((at - now_ms()) as f64 / 1000.0).ceil() as i64,
            None => DEFAULT_TTL_SECS,
        };
        assert_ttl_near(node.scenario, ttl, expected);
        let again = store.load(&id).await.expect("load").expect("live");
        assert_eq!(again.version, loaded.version, "{}", node.scenario);
        store.destroy(&id).await.expect("destroy");
    }
    assert_eq!(touched, 2);
}
