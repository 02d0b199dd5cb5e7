//! What every benchmark server shares: the port, the secret, the cookie
//! lifetime and the ready line the harness waits for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::{routing::get, Router};
use server_session::{CookieOptions, SessionConfig, SessionLayer, Store};

/// The signing secret every server uses (the peers derive their keys from it).
pub const SECRET: &str = "benchmark secret: at least 32 bytes of entropy here";

/// The cookie lifetime every server is configured with: one day.
pub const MAX_AGE_SECS: u64 = 24 * 60 * 60;

/// 127.0.0.1 and `$PORT` (default 3000). Servers never bind anything else.
pub fn addr() -> SocketAddr {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The store URL from `$STORE` (`memory` when unset).
pub fn store_url() -> String {
    std::env::var("STORE").unwrap_or_else(|_| String::from("memory"))
}

/// A 64-byte key derived from [`SECRET`], for peers that want raw key bytes.
pub fn key_bytes() -> [u8; 64] {
    let mut key = [0u8; 64];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = SECRET.as_bytes()[i % SECRET.len()] ^ (i as u8);
    }
    key
}

/// Runs a server's `main` on the tokio runtime `$RUNTIME` names: `current`
/// for tokio's single-threaded runtime (the model actix-web runs each of its
/// workers on), anything else for the multi-threaded one `#[tokio::main]`
/// builds (one worker here: the server is pinned to one core). Every axum
/// server goes through this, so that a run compares them on the same runtime.
pub fn run<F: std::future::Future>(main: F) -> F::Output {
    let mut builder = if std::env::var("RUNTIME").is_ok_and(|v| v == "current") {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(main)
}

/// Serves an axum router on [`addr`] and prints the ready line.
pub async fn serve_axum(app: axum::Router) {
    let addr = addr();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    println!("listening on {addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .unwrap_or_else(|e| panic!("serve: {e}"));
}

/// The routes with no session layer: the baseline.
pub fn bare_router() -> Router {
    Router::new()
        .route("/none", get(|| async { "ok" }))
        .route("/read", get(|| async { "0" }))
        .route("/counter", get(|| async { "1" }))
}

/// This library's configuration for every run: the library's defaults
/// (resave false, saveUninitialized false, rolling false) and a one-day
/// cookie maxAge.
pub fn ours_config() -> SessionConfig {
    SessionConfig::new(SECRET)
        .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_secs(MAX_AGE_SECS))))
        .with_touch_after(touch_after())
}

/// `TOUCH_AFTER_SECS=n`: connect-mongo's `touchAfter` (issue 14 item 3),
/// off when unset, as in express.
fn touch_after() -> Option<Duration> {
    let secs = std::env::var("TOUCH_AFTER_SECS").ok()?;
    Some(Duration::from_secs(
        secs.parse().expect("TOUCH_AFTER_SECS is whole seconds"),
    ))
}

/// The store `STORE` names for this library's servers: `redis://…`,
/// `postgres://…`, `mysql://…`, `sqlite://…` (table `$PG_TABLE`, default
/// `bench_session`), or the MemoryStore. `REDIS_DISABLE_TOUCH=1` sets
/// connect-redis's `disableTouch`.
pub async fn ours_store(url: &str) -> Arc<dyn Store> {
    if url.starts_with("redis") {
        let disable_touch = std::env::var("REDIS_DISABLE_TOUCH").is_ok_and(|v| v == "1");
        return Arc::new(
            server_session_redis::RedisStore::connect(url)
                .await
                .expect("redis")
                .with_disable_touch(disable_touch),
        );
    }
    // Each SQL store, connected and its table migrated.
    macro_rules! sql_store {
        ($store:ty) => {{
            let store = <$store>::connect(url)
                .await
                .expect("connect to STORE")
                .with_table(bench_table());
            store.migrate().await.expect("migrate");
            return Arc::new(store);
        }};
    }
    if url.starts_with("postgres") {
        sql_store!(server_session_sql::PostgresStore);
    }
    if url.starts_with("mysql") {
        sql_store!(server_session_sql::MySqlStore);
    }
    if url.starts_with("sqlite") {
        sql_store!(server_session_sql::SqliteStore);
    }
    // Unbounded, as the peers' MemoryStores are: the default bound
    // (100,000) would evict the integrity check's session while the
    // no-cookie scenario creates 100,000+ sessions in a few seconds.
    let store = server_session::MemoryStore::new().unbounded();
    // As a production deployment would run it.
    store.spawn_sweeper(Duration::from_secs(60)).detach();
    Arc::new(store)
}

/// The SQL stores' table: `$PG_TABLE`, default `bench_session`.
pub fn bench_table() -> String {
    std::env::var("PG_TABLE").unwrap_or_else(|_| "bench_session".into())
}

/// The routes behind this library's layer over `store`.
pub fn ours_router(store: Arc<dyn Store>) -> Router {
    ours_router_with(store, ours_config())
}

/// The routes behind this library's layer over `store`, with `config`.
pub fn ours_router_with(store: Arc<dyn Store>, config: SessionConfig) -> Router {
    let layer = SessionLayer::from_arc(store, config).expect("valid config");
    Router::new()
        .route("/none", get(ours_routes::none))
        .route("/read", get(ours_routes::read))
        .route("/counter", get(ours_routes::counter))
        .layer(layer)
}

/// This library's handlers for the benchmark routes. [`Session`] is an
/// extractor in axum and in actix-web alike, so the axum servers
/// ([`ours_router_with`]) and the actix-web one (`ours_actix`) serve these
/// same functions.
pub mod ours_routes {
    use server_session::Session;

    /// `/none`: no session work.
    pub async fn none() -> &'static str {
        "ok"
    }

    /// `/read`: the counter, 0 when unset (an unchanged session).
    pub async fn read(session: Session) -> String {
        session
            .get::<u64>("counter")
            .ok()
            .flatten()
            .unwrap_or(0)
            .to_string()
    }

    /// `/counter`: the counter, incremented (a changed session).
    pub async fn counter(session: Session) -> String {
        session
            .update("counter", |n: Option<u64>| n.unwrap_or(0) + 1)
            .unwrap_or(0)
            .to_string()
    }
}

/// The benchmark routes behind tower-sessions' layer over `$store`, set
/// as close to ours as it goes: signed cookie, not Secure, an inactivity
/// expiry of `$expiry_secs` (an `i64`). `$tower_sessions` names the
/// tower-sessions crate: 0.15 for its MemoryStore
/// ([`tower_sessions_router`]), 0.14 for tower-sessions-redis-store (the
/// `tower_sessions_redis` server). A macro because the two versions' types
/// share no trait, and both servers must run the same handlers and options.
#[macro_export]
macro_rules! tower_sessions_router {
    ($tower_sessions:ident, $store:expr, $expiry_secs:expr) => {{
        use $tower_sessions::cookie::{time, Key};
        use $tower_sessions::{Expiry, Session, SessionManagerLayer};
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
        let layer = SessionManagerLayer::new($store)
            .with_secure(false)
            .with_expiry(Expiry::OnInactivity(time::Duration::seconds($expiry_secs)))
            .with_signed(Key::from(&$crate::key_bytes()));
        ::axum::Router::new()
            .route("/none", ::axum::routing::get(none))
            .route("/read", ::axum::routing::get(read))
            .route("/counter", ::axum::routing::get(counter))
            .layer(layer)
    }};
}

/// The routes behind tower-sessions 0.15's layer over its MemoryStore
/// (signed cookie, not Secure, one-day inactivity expiry).
pub fn tower_sessions_router(store: tower_sessions::MemoryStore) -> Router {
    tower_sessions_router_with(store, MAX_AGE_SECS as i64)
}

/// As [`tower_sessions_router`], with an inactivity expiry of `expiry_secs`.
pub fn tower_sessions_router_with(store: tower_sessions::MemoryStore, expiry_secs: i64) -> Router {
    tower_sessions_router!(tower_sessions, store, expiry_secs)
}
