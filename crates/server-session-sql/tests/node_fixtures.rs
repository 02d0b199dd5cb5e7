//! PostgresStore against what the real express-session 1.19 and
//! connect-pg-simple 10 stored (`interop/node/capture-fixtures.js`, fixtures
//! in `crates/server-session/tests/fixtures/express/`): a row Node wrote
//! loads with the same data and cookie, and our save writes the `sess` text
//! Node wrote, with connect-pg-simple's `expire`. Where our bytes differ,
//! `known-differences.json` says how, and that exact difference is asserted.
//!
//! The fixtures were captured in the past, so each value's `cookie.expires`
//! is moved forward by the time since the capture before it is written; the
//! rest of Node's bytes are kept as they are.
#![cfg(feature = "postgres")]

use session_test_support::services as common;

use common::{drop_table, store_in_fresh_table, unique_name};
use serde_json::Value;
use server_session::store::{now_ms, Store, StoreError};
use server_session_sql::PostgresStore;
use session_test_support::connect_pg_simple::{insert_as_node, row};
use session_test_support::node_fixtures::{
    assert_loads_as_node, iso_to_ms, node_records, savable_node_records, save_as_new,
    save_over_node, touch_as_express, touched_node_records, NodeRecord, DEFAULT_TTL_SECS,
};

/// The fixtures' connect-pg-simple run.
const RUN: &str = "postgres";

/// connect-pg-simple's `#getExpireTime`: `Math.ceil(expires / 1000)`, or
/// `Math.ceil(Date.now() / 1000 + ttl)` for a browser-session cookie.
fn connect_pg_simple_expire(json: &Value, now_ms: i64) -> i64 {
    match json["cookie"]["expires"].as_str() {
        Some(iso) => (iso_to_ms(iso) as f64 / 1000.0).ceil() as i64,
        None => (now_ms as f64 / 1000.0 + DEFAULT_TTL_SECS as f64).ceil() as i64,
    }
}

/// A store in a fresh table, created as connect-pg-simple's table.sql does.
async fn setup() -> Option<PostgresStore> {
    let store: PostgresStore = store_in_fresh_table("POSTGRES_URL", "node_fixtures").await?;
    store.migrate().await.expect("create the table");
    Some(store)
}

fn assert_expire_near(label: &str, actual: i64, expected: i64) {
    assert!(
        (actual - expected).abs() <= 1,
        "{label}: expire {actual}, connect-pg-simple's formula gives {expected} (± 1)"
    );
}

/// Our save of `node`'s record at `now` left `expected` in `sid`'s row, with
/// connect-pg-simple's `expire`; returns that `expire`.
async fn assert_written(
    store: &PostgresStore,
    sid: &str,
    expected: &str,
    node: &NodeRecord,
    now: i64,
) -> i64 {
    let (sess, expire) = row(store, sid).await;
    assert_eq!(sess, expected, "{}", node.scenario);
    assert_expire_near(
        node.scenario,
        expire,
        connect_pg_simple_expire(&node.json, now),
    );
    expire
}

#[tokio::test]
async fn a_row_node_wrote_loads_with_the_same_data_and_cookie() {
    let Some(store) = setup().await else {
        return;
    };
    for node in node_records(RUN) {
        let sid = unique_name(node.scenario);
        let expire = match node.json {
            Value::Null => (now_ms() / 1000) + 600,
            ref json => connect_pg_simple_expire(json, now_ms()),
        };
        insert_as_node(&store, &sid, &node.bytes, expire).await;
        // json keeps its input verbatim: the row holds Node's bytes.
        assert_eq!(row(&store, &sid).await.0, node.bytes, "{}", node.scenario);

        assert_loads_as_node(&store, &sid, &node).await;
    }
    drop_table(&store).await;
}

#[tokio::test]
async fn saving_a_node_record_writes_the_sess_and_expire_node_wrote() {
    let Some(store) = setup().await else {
        return;
    };
    let mut exact = 0;
    for (node, expected, record) in savable_node_records(RUN) {
        // As a new session.
        let sid = unique_name(node.scenario);
        let now = save_as_new(&store, &sid, &record, node.scenario).await;
        let expire = assert_written(&store, &sid, &expected, &node, now).await;
        if node.json["cookie"]["expires"].is_string() {
            // Without a clock in it, the formula is exact.
            assert_eq!(
                expire,
                connect_pg_simple_expire(&node.json, now),
                "{}",
                node.scenario
            );
        }
        if expected == node.bytes {
            exact += 1;
        }

        // Over the row Node wrote, compare-and-set against its version.
        let over = unique_name(node.scenario);
        insert_as_node(&store, &over, &node.bytes, (now / 1000) + 600).await;
        let now = save_over_node(&store, &over, node.scenario).await;
        assert_written(&store, &over, &expected, &node, now).await;
    }
    assert_eq!(exact, 15, "scenarios without a known difference");
    drop_table(&store).await;
}

#[tokio::test]
async fn touching_a_node_row_moves_expire_as_connect_pg_simple_did() {
    let Some(store) = setup().await else {
        return;
    };
    let mut touched = 0;
    for (node, after) in touched_node_records(RUN) {
        touched += 1;

        let sid = unique_name(node.scenario);
        let written = connect_pg_simple_expire(&node.json, now_ms());
        insert_as_node(&store, &sid, &node.bytes, written).await;
        let (loaded, touched_at, touched_expires) = touch_as_express(&store, &sid).await;
        let (sess, expire) = row(&store, &sid).await;

        // `sess` is not rewritten; `expire` is connect-pg-simple's for the
        // touched cookie.
        assert_eq!(sess, node.bytes, "{}", node.scenario);
        let expected = match touched_expires {
            Some(at) => (at as f64 / 1000.0).ceil() as i64,
            None => (touched_at as f64 / 1000.0 + DEFAULT_TTL_SECS as f64).ceil() as i64,
        };
        assert_expire_near(node.scenario, expire, expected);
        // And it lies as far past the touching request as Node's did.
        let node_ahead = after["expire"].as_i64().expect("Node's expire") * 1000
            - after["requested_at_ms"].as_i64().expect("requested_at_ms");
        let ours_ahead = expire * 1000 - touched_at;
        assert!(
            (node_ahead - ours_ahead).abs() <= 1000,
            "{}: Node's touched expire is {node_ahead} ms ahead, ours {ours_ahead} ms",
            node.scenario
        );
        let again = store.load(&sid).await.expect("load").expect("live");
        assert_eq!(again.version, loaded.version, "{}", node.scenario);
    }
    assert_eq!(touched, 2);
    drop_table(&store).await;
}

/// `load_and_touch` (the one statement of an unchanged request) reads every
/// row Node wrote exactly as `load` does. The `unicode` row holds
/// `JSON.stringify`'s `\u0000` and the `lone_surrogate` one a `\ud83d`,
/// escapes that PostgreSQL's JSON functions refuse to unescape.
#[tokio::test]
async fn load_and_touch_reads_every_row_node_wrote_as_load_does() {
    let Some(store) = setup().await else {
        return;
    };
    let (mut loaded_rows, mut touched) = (0, 0);
    for node in node_records(RUN) {
        let sid = unique_name(node.scenario);
        insert_as_node(&store, &sid, &node.bytes, (now_ms() / 1000) + 5).await;
        let loaded = store.load(&sid).await;
        let both = (loaded, store.load_and_touch(&sid).await);
        match both {
            (Ok(Some(loaded)), Ok(Some((again, was_touched)))) => {
                assert_eq!(again.record, loaded.record, "{}", node.scenario);
                assert_eq!(again.version, loaded.version, "{}", node.scenario);
                loaded_rows += 1;
                touched += usize::from(was_touched);
            }
            (Err(StoreError::Corrupt { .. }), Err(StoreError::Corrupt { .. })) => {}
            other => panic!(
                "{}: load and load_and_touch differ: {other:?}",
                node.scenario
            ),
        }
        assert_eq!(row(&store, &sid).await.0, node.bytes, "{}", node.scenario);
    }
    // Every scenario stores `originalMaxAge` as an integer or null, so
    // every row that loads is touched by the one statement.
    assert!(
        loaded_rows >= node_records(RUN).len() - 1,
        "{loaded_rows} rows loaded"
    );
    assert_eq!(touched, loaded_rows, "touched by the one statement");
    drop_table(&store).await;
}
