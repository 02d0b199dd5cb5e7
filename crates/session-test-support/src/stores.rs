//! Every bundled store, for tests that must hold on each: the MemoryStore
//! and SQLite always, Redis, PostgreSQL and MySQL when `REDIS_URL`,
//! `POSTGRES_URL` and `MYSQL_URL` are set, and Redis Cluster with
//! `REDIS_CLUSTER_URLS` for [`stores_and_cluster`] (an unset one prints
//! `SKIPPED: …`, and fails under `SESSION_REQUIRE_SERVICES=1`).

use std::sync::Arc;

use server_session::{MemoryStore, Store};
use server_session_redis::RedisStore;
use server_session_sql::{MySqlStore, PostgresStore, SqliteStore};

/// A service's URL from `var`; `None` (printing `SKIPPED: …`) when it is
/// unset, a panic under `SESSION_REQUIRE_SERVICES=1`.
pub fn url(var: &str) -> Option<String> {
    let required = std::env::var("SESSION_REQUIRE_SERVICES").as_deref() == Ok("1");
    match std::env::var(var) {
        Ok(url) => Some(url),
        Err(_) if required => panic!("{var} is unset and SESSION_REQUIRE_SERVICES=1"),
        Err(_) => {
            println!("SKIPPED: {var} is unset, so that store is not tested");
            None
        }
    }
}

/// [`stores`], and Redis Cluster when `REDIS_CLUSTER_URLS` (comma-separated
/// seed URLs) is set.
pub async fn stores_and_cluster() -> Vec<(&'static str, Arc<dyn Store>)> {
    let mut stores = stores().await;
    if let Some(urls) = url("REDIS_CLUSTER_URLS") {
        let urls: Vec<&str> = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        let cluster = RedisStore::connect_cluster(&urls)
            .await
            .expect("Redis Cluster answers");
        stores.push(("redis-cluster", Arc::new(cluster)));
    }
    stores
}

/// The stores the store-dependent cases run on, by name.
pub async fn stores() -> Vec<(&'static str, Arc<dyn Store>)> {
    let mut stores: Vec<(&'static str, Arc<dyn Store>)> = vec![
        ("memory", Arc::new(MemoryStore::new())),
        ("sqlite", Arc::new(temp_sqlite().await)),
    ];
    if let Some(url) = url("REDIS_URL") {
        let redis = RedisStore::connect(&url).await.expect("Redis answers");
        stores.push(("redis", Arc::new(redis)));
    }
    if let Some(url) = url("POSTGRES_URL") {
        let postgres = PostgresStore::connect(&url)
            .await
            .expect("PostgreSQL answers");
        postgres.migrate().await.expect("PostgreSQL migrates");
        stores.push(("postgres", Arc::new(postgres)));
    }
    if let Some(url) = url("MYSQL_URL") {
        let mysql = MySqlStore::connect(&url).await.expect("MySQL answers");
        mysql.migrate().await.expect("MySQL migrates");
        stores.push(("mysql", Arc::new(mysql)));
    }
    stores
}

/// An SQLite store on a new temporary file, its table created.
pub async fn temp_sqlite() -> SqliteStore {
    let path = std::env::temp_dir().join(format!(
        "server-session-{}.db",
        server_session::__private::generate_id()
    ));
    let sqlite = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("SQLite opens a temporary file");
    sqlite.migrate().await.expect("SQLite migrates");
    sqlite
}
