//! This library behind the benchmark routes. `STORE` picks the store:
//! `memory` (default), `redis://…` or `postgres://…` (table `$PG_TABLE`,
//! default `bench_session`). Options: see `session_bench::ours_config`.

use std::sync::Arc;
use std::time::Duration;

use server_session::{MemoryStore, Store};
use server_session_redis::RedisStore;
use server_session_sql::PostgresStore;

#[tokio::main]
async fn main() {
    let url = session_bench::store_url();
    let store: Arc<dyn Store> = if url.starts_with("redis") {
        Arc::new(RedisStore::connect(&url).await.expect("redis"))
    } else if url.starts_with("postgres") {
        let table = std::env::var("PG_TABLE").unwrap_or_else(|_| "bench_session".into());
        let store = PostgresStore::connect(&url)
            .await
            .expect("postgres")
            .with_table(table);
        store.migrate().await.expect("migrate");
        Arc::new(store)
    } else {
        let store = MemoryStore::new();
        // As a production deployment would run it.
        store.spawn_sweeper(Duration::from_secs(60)).detach();
        Arc::new(store)
    };
    session_bench::serve_axum(session_bench::ours_router(store)).await;
}
