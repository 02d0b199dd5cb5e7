//! This library behind the benchmark routes. `STORE` picks the store:
//! `memory` (default), `redis://…` or `postgres://…` (table `$PG_TABLE`,
//! default `bench_session`). Options: see `session_bench::ours_config`.
//! `REDIS_DISABLE_TOUCH=1` sets connect-redis's `disableTouch`, so that an
//! unchanged request is a plain GET, as actix-session's is: the same work
//! as actix-session, for comparing the libraries rather than the semantics.
//! `RUNTIME=current` runs it on tokio's single-threaded runtime
//! (`session_bench::run`).

use std::sync::Arc;
use std::time::Duration;

use server_session::{MemoryStore, Store};
use server_session_redis::RedisStore;
use server_session_sql::PostgresStore;

fn main() {
    session_bench::run(serve());
}

async fn serve() {
    let url = session_bench::store_url();
    let store: Arc<dyn Store> = if url.starts_with("redis") {
        let disable_touch = std::env::var("REDIS_DISABLE_TOUCH").is_ok_and(|v| v == "1");
        Arc::new(
            RedisStore::connect(&url)
                .await
                .expect("redis")
                .with_disable_touch(disable_touch),
        )
    } else if url.starts_with("postgres") {
        let table = std::env::var("PG_TABLE").unwrap_or_else(|_| "bench_session".into());
        let store = PostgresStore::connect(&url)
            .await
            .expect("postgres")
            .with_table(table);
        store.migrate().await.expect("migrate");
        Arc::new(store)
    } else {
        // Unbounded, as the peers' MemoryStores are: the default bound
        // (100,000) would evict the integrity check's session while the
        // no-cookie scenario creates 100,000+ sessions in a few seconds.
        let store = MemoryStore::new().unbounded();
        // As a production deployment would run it.
        store.spawn_sweeper(Duration::from_secs(60)).detach();
        Arc::new(store)
    };
    session_bench::serve_axum(session_bench::ours_router(store)).await;
}
