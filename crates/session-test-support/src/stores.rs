//! Every bundled store, for tests that must hold on each: the MemoryStore
//! and SQLite always, Redis, PostgreSQL and MySQL when `REDIS_URL`,
//! `POSTGRES_URL` and `MYSQL_URL` are set (an unset one prints `SKIPPED: …`,
//! and fails under `SESSION_REQUIRE_SERVICES=1`).

use std::sync::Arc;

use server_session::{MemoryStore, Store};
use server_session_redis::RedisStore;
use server_session_sql::{MySqlStore, PostgresStore, SqliteStore};

/// The stores the store-dependent cases run on, by name.
pub async fn stores() -> Vec<(&'static str, Arc<dyn Store>)> {
    let required = std::env::var("SESSION_REQUIRE_SERVICES").as_deref() == Ok("1");
    let url = |var: &str| match std::env::var(var) {
        Ok(url) => Some(url),
        Err(_) if required => panic!("{var} is unset and SESSION_REQUIRE_SERVICES=1"),
        Err(_) => {
            println!("SKIPPED: {var} is unset, so that store is not tested");
            None
        }
    };
    let mut stores: Vec<(&'static str, Arc<dyn Store>)> =
        vec![("memory", Arc::new(MemoryStore::new()))];
    let sqlite_path = std::env::temp_dir().join(format!(
        "server-session-security-{}.db",
        server_session::__private::generate_id()
    ));
    let sqlite = SqliteStore::connect(&format!("sqlite://{}", sqlite_path.display()))
        .await
        .expect("SQLite opens a temporary file");
    sqlite.migrate().await.expect("SQLite migrates");
    stores.push(("sqlite", Arc::new(sqlite)));
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
