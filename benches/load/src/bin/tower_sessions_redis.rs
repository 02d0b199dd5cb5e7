//! tower-sessions 0.14 with tower-sessions-redis-store 0.16 (fred), behind the benchmark routes.
//! Closest to ours: signed cookie, not Secure, one-day inactivity expiry.
//! tower-sessions-redis-store 0.16 (the latest) is built on tower-sessions
//! 0.14, not the 0.15 the MemoryStore server runs: the routes come from
//! [`session_bench::tower_sessions_router!`], which builds them for either.

use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_redis_store::RedisStore;

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
    let app = session_bench::tower_sessions_router!(
        tower_sessions_014,
        RedisStore::new(pool),
        session_bench::MAX_AGE_SECS as i64
    );
    session_bench::serve_axum(app).await;
}
