//! The pruning task: it deletes expired rows, counts them, keeps going
//! after errors, and stops with its handle. Runs on SQLite (a temp file),
//! so it needs no server and stays deterministic.
#![cfg(feature = "sqlite")]

use session_test_support::services as common;

use std::time::Duration;

use server_session::store::{now_ms, SaveCondition, Store};
use server_session_sql::SqliteStore;

use common::{eventually, express_record};

const INTERVAL: Duration = Duration::from_millis(20);

async fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
    let store = SqliteStore::connect(&url).await.expect("open SQLite");
    (dir, store)
}

/// Inserts rows that expired long ago, as a crashed server would leave them.
async fn insert_expired(store: &SqliteStore, ids: &[&str]) {
    store.migrate().await.expect("migrate");
    let sql = format!(
        "INSERT INTO {} (sid, sess, expire) VALUES (?1, '{{\"cookie\":{{}}}}', ?2)",
        store.quoted_table()
    );
    for id in ids {
        sqlx::query(&sql)
            .bind(id)
            .bind(now_ms() / 1000 - 3600)
            .execute(store.pool())
            .await
            .expect("insert an expired row");
    }
}

async fn row_count(store: &SqliteStore) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {}", store.quoted_table());
    sqlx::query_scalar(&sql)
        .fetch_one(store.pool())
        .await
        .expect("count")
}

#[tokio::test]
async fn the_pruner_deletes_expired_rows_and_counts_them() {
    let (_dir, store) = open().await;
    insert_expired(&store, &["old1", "old2", "old3"]).await;
    let live = express_record("2099-01-01T00:00:00.000Z", "");
    let _ = store
        .save("live", &live, SaveCondition::Upsert)
        .await
        .expect("save");

    let pruner = store.spawn_pruner(INTERVAL);
    eventually("a successful run", || pruner.stats().runs >= 1).await;
    let stats = pruner.stats();
    assert_eq!(stats.deleted, 3, "{stats:?}");
    assert_eq!(stats.failures, 0, "{stats:?}");
    assert_eq!(row_count(&store).await, 1);
    assert!(store.load("live").await.expect("load").is_some());

    // Rows that expire later are found by a later run.
    insert_expired(&store, &["old4"]).await;
    eventually("the fourth row deleted", || pruner.stats().deleted == 4).await;
    assert_eq!(row_count(&store).await, 1);
}

#[tokio::test]
async fn the_pruner_keeps_running_after_errors() {
    let (_dir, store) = open().await;
    // No table and no permission to create one: every run fails.
    let strict = store.clone().with_create_table_if_missing(false);
    let pruner = strict.spawn_pruner(INTERVAL);
    eventually("two failed runs", || pruner.stats().failures >= 2).await;
    assert_eq!(pruner.stats().runs, 0);
    assert!(!pruner.is_finished(), "the task must survive errors");

    // The table appears (say, a migration ran): the next run succeeds.
    insert_expired(&store, &["old"]).await;
    eventually("a successful run after the failures", || {
        pruner.stats().runs >= 1
    })
    .await;
    assert_eq!(pruner.stats().deleted, 1);
    assert_eq!(row_count(&store).await, 0);
}

#[tokio::test]
async fn abort_and_drop_stop_the_task() {
    let (_dir, store) = open().await;
    let pruner = store.spawn_pruner(INTERVAL);
    eventually("a first run", || pruner.stats().runs >= 1).await;
    pruner.abort();
    eventually("the task stopped", || pruner.is_finished()).await;

    // After the handle is dropped, expired rows stay where they are.
    let pruner = store.spawn_pruner(INTERVAL);
    eventually("a first run", || pruner.stats().runs >= 1).await;
    drop(pruner);
    tokio::time::sleep(Duration::from_millis(50)).await;
    insert_expired(&store, &["old"]).await;
    tokio::time::sleep(INTERVAL * 5).await;
    assert_eq!(
        row_count(&store).await,
        1,
        "a dropped pruner still deleted a row"
    );
}

#[tokio::test]
async fn spawn_pruner_works_with_any_store() {
    let (_dir, store) = open().await;
    insert_expired(&store, &["old"]).await;
    let shared: std::sync::Arc<dyn Store> = std::sync::Arc::new(store.clone());
    let pruner = server_session_sql::spawn_pruner(shared, INTERVAL);
    eventually("the row deleted", || pruner.stats().deleted == 1).await;
}

#[tokio::test]
async fn a_detached_pruner_keeps_running_without_its_handle() {
    let (_dir, store) = open().await;
    insert_expired(&store, &["old1"]).await;
    store.spawn_pruner(INTERVAL).detach();
    for _ in 0..1000 {
        if row_count(&store).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(row_count(&store).await, 0, "the first run pruned");
    // And it goes on: a row that expires later is deleted too.
    insert_expired(&store, &["old2"]).await;
    for _ in 0..1000 {
        if row_count(&store).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(row_count(&store).await, 0, "a later run pruned");
}
