//! Real store connections killed under load cost no request and lose no
//! write (issue 12, item 2): 8 clients increment their own session's
//! counter non-stop while the store's connections are killed every 200 ms,
//! Redis with `CLIENT KILL`, PostgreSQL with `pg_terminate_backend`.
//! Before the layer retried a call that lost its connection, each kill
//! failed the 1–8 requests in flight.
//!
//! The kills only hit this test's connections: Redis ones by their ACL user,
//! PostgreSQL ones by their `application_name`. Needs `REDIS_URL` and
//! `POSTGRES_URL` (an unset one prints `SKIPPED: …`, and fails under
//! `SESSION_REQUIRE_SERVICES=1`).

use session_test_support as support;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use server_session::{CookieOptions, Session, SessionConfig, SessionError, SessionLayer, Store};
use server_session_redis::RedisStore;
use server_session_sql::PostgresStore;

use support::{get as get_path, get_with_cookie, services, stores, wrap_tower, SECRET};

const CLIENTS: usize = 8;
const LOAD: Duration = Duration::from_secs(3);
const KILL_EVERY: Duration = Duration::from_millis(200);

fn app(store: impl Store) -> Router {
    async fn inc(session: Session) -> Result<String, SessionError> {
        let n = session.get::<i64>("n")?.unwrap_or(0) + 1;
        session.insert("n", n)?;
        Ok(n.to_string())
    }
    async fn read(session: Session) -> Result<String, SessionError> {
        Ok(session.get::<i64>("n")?.unwrap_or(0).to_string())
    }
    let config = SessionConfig::new(SECRET)
        .with_resave(false)
        .with_save_uninitialized(false)
        .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_secs(600))));
    let routes = Router::new()
        .route("/inc", get(inc))
        .route("/get", get(read));
    wrap_tower(
        routes,
        SessionLayer::new(store, config).expect("valid options"),
    )
}

/// What one run saw.
#[derive(Debug, Default)]
struct Run {
    requests: usize,
    failed: Vec<String>,
    /// Acknowledged increments that the store no longer had.
    lost: i64,
    kills: usize,
    killed_connections: u64,
}

/// Runs the load on `app` while `kill` kills the store's connections (it
/// answers how many it killed), then checks every client's last
/// acknowledged value is stored.
async fn load_with_kills<K, F>(app: Router, kill: K) -> Run
where
    K: Fn() -> F,
    F: Future<Output = u64>,
{
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let app = app.clone();
        let stop = Arc::clone(&stop);
        clients.push(tokio::spawn(async move {
            let first = get_path(&app, "/inc").await;
            assert_eq!(first.status.as_u16(), 200, "the session is created");
            let cookie = first.cookie();
            let (mut acked, mut requests, mut failed) = (1_i64, 1, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                let res = get_with_cookie(&app, "/inc", &cookie).await;
                requests += 1;
                match res.body.parse::<i64>() {
                    Ok(value) if res.status.as_u16() == 200 => acked = acked.max(value),
                    _ => failed.push(format!("{} {}", res.status, res.body)),
                }
                // A request that fails fast never waits, and would keep this
                // worker from running the killer and the stop.
                tokio::task::yield_now().await;
            }
            (cookie, acked, requests, failed)
        }));
    }
    let mut run = Run::default();
    let started = Instant::now();
    while started.elapsed() < LOAD {
        tokio::time::sleep(KILL_EVERY).await;
        run.killed_connections += kill().await;
        run.kills += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let (cookie, acked, requests, failed) = client.await.expect("a client");
        run.requests += requests;
        run.failed.extend(failed);
        let stored = get_with_cookie(&app, "/get", &cookie).await;
        assert_eq!(
            stored.status.as_u16(),
            200,
            "the final read: {}",
            stored.body
        );
        let stored: i64 = stored.body.parse().expect("a number");
        run.lost += (acked - stored).max(0);
    }
    run
}

#[track_caller]
fn check(store: &str, run: &Run) {
    println!("{store}: {run:?}");
    assert!(
        run.killed_connections > 0,
        "{store}: the kills hit the store's connections"
    );
    assert_eq!(run.lost, 0, "{store}: acknowledged writes lost");
    assert!(
        run.failed.is_empty(),
        "{store}: {} of {} requests failed across {} kills: {:?}",
        run.failed.len(),
        run.requests,
        run.kills,
        &run.failed[..run.failed.len().min(10)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_connection_kills_cost_no_request() {
    let Some(url) = stores::url("REDIS_URL") else {
        return;
    };
    let Some(rest) = services::redis_address(&url) else {
        panic!("REDIS_URL must be redis://host:port[/db] without credentials: {url}");
    };
    let user = "server-session-kills";
    let password = server_session::__private::generate_id();
    let admin = redis::Client::open(url.as_str()).expect("REDIS_URL parses");
    let mut admin = admin
        .get_multiplexed_tokio_connection()
        .await
        .expect("Redis answers");
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(user)
        .arg("reset")
        .arg("on")
        .arg(format!(">{password}"))
        .arg("~*")
        .arg("+@all")
        .query_async(&mut admin)
        .await
        .expect("ACL SETUSER");
    let store = RedisStore::connect(&format!("redis://{user}:{password}@{rest}"))
        .await
        .expect("the test user connects");
    let run = load_with_kills(app(store), || {
        let mut admin = admin.clone();
        async move {
            redis::cmd("CLIENT")
                .arg("KILL")
                .arg("USER")
                .arg(user)
                .query_async::<u64>(&mut admin)
                .await
                .expect("CLIENT KILL")
        }
    })
    .await;
    let _: () = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(user)
        .query_async(&mut admin)
        .await
        .expect("ACL DELUSER");
    check("redis", &run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connection_kills_cost_no_request() {
    let Some(url) = stores::url("POSTGRES_URL") else {
        return;
    };
    let name = "server-session-kills";
    let separator = if url.contains('?') { '&' } else { '?' };
    let store = PostgresStore::connect(&format!("{url}{separator}application_name={name}"))
        .await
        .expect("PostgreSQL answers");
    store.migrate().await.expect("PostgreSQL migrates");
    let admin = sqlx::PgPool::connect(&url)
        .await
        .expect("PostgreSQL answers");
    let run = load_with_kills(app(store), || {
        let admin = admin.clone();
        async move {
            // The terminate call in the select list, not in the WHERE
            // clause: PostgreSQL may evaluate WHERE conditions in any
            // order, and would then terminate every backend.
            let killed: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1",
            )
            .bind(name)
            .fetch_all(&admin)
            .await
            .expect("pg_terminate_backend");
            let killed = killed.into_iter().filter(|killed| *killed).count();
            u64::try_from(killed).unwrap_or(0)
        }
    })
    .await;
    check("postgres", &run);
}
