//! The limit an SQL store's unchanged request is measured against (issue 14
//! item 3): an axum handler that does one `SELECT` by key on the PostgreSQL
//! store's own pool, with no session layer. Every path answers it. The keys
//! are the sessions the table (`session_bench::bench_table`) holds when the
//! server starts, up to 32, taken in turn; run it after `ours` has filled
//! the table on the same `STORE`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::Router;

struct Keys {
    pool: sqlx::PgPool,
    select: String,
    sids: Vec<String>,
    next: AtomicUsize,
}

async fn select(State(keys): State<Arc<Keys>>) -> String {
    let n = keys.next.fetch_add(1, Ordering::Relaxed) % keys.sids.len();
    let sess: Option<String> = sqlx::query_scalar(&keys.select)
        .bind(&keys.sids[n])
        .fetch_optional(&keys.pool)
        .await
        .expect("SELECT");
    sess.map_or(0, |sess| sess.len()).to_string()
}

fn main() {
    session_bench::run(async {
        let store = server_session_sql::PostgresStore::connect(&session_bench::store_url())
            .await
            .expect("postgres");
        let pool = store.pool().clone();
        let table = session_bench::bench_table();
        let mut sids: Vec<String> =
            sqlx::query_scalar(&format!("SELECT sid FROM {table} LIMIT 32"))
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
        if sids.is_empty() {
            sids.push("none".to_owned());
        }
        let keys = Arc::new(Keys {
            pool,
            select: format!("SELECT sess::text FROM {table} WHERE sid = $1"),
            sids,
            next: AtomicUsize::new(0),
        });
        session_bench::serve_axum(Router::new().fallback(select).with_state(keys)).await;
    });
}
