//! tower-sessions 0.14 with tower-sessions-redis-store 0.16 (fred), behind the benchmark routes.
//! Closest to ours: signed cookie, not Secure, one-day inactivity expiry.

use axum::{routing::get, Router};
use tower_sessions_014::cookie::{time::Duration, Key};
use tower_sessions_014::{Expiry, Session, SessionManagerLayer};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_redis_store::RedisStore;

async fn none() -> &'static str {
    "ok"
}

async fn read(session: Session) -> String {
    session
        .get::<u64>("counter")
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
        .to_string()
}

async fn counter(session: Session) -> String {
    let n = session
        .get::<u64>("counter")
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
        + 1;
    let _ = session.insert("counter", n).await;
    n.to_string()
}

fn main() {
    session_bench::run(serve());
}

async fn serve() {
    let url = session_bench::store_url();
    let config = Config::from_url(&url).expect("redis url");
    // One connection, as our RedisStore uses (fred pipelines over it).
    let pool = Pool::new(config, None, None, None, 1).expect("pool");
    let _connection = pool.connect();
    pool.wait_for_connect().await.expect("connect");
    let layer = SessionManagerLayer::new(RedisStore::new(pool))
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(Duration::seconds(
            session_bench::MAX_AGE_SECS as i64,
        )))
        .with_signed(Key::from(&session_bench::key_bytes()));
    let app = Router::new()
        .route("/none", get(none))
        .route("/read", get(read))
        .route("/counter", get(counter))
        .layer(layer);
    session_bench::serve_axum(app).await;
}
