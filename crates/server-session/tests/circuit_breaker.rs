//! While the store is stalled or unreachable, requests fail fast instead of
//! each waiting the whole store timeout, and service resumes as soon as the
//! store answers again (issue 12, item 3).
//!
//! The faults come from [`TestStore`], a wrapper around the real MemoryStore
//! that can hang every call (a stalled store) or refuse it at once (a store
//! that is down). The breaker does not depend on the store, so one store is
//! enough here; `benches/faults.py` shows the same on real Redis and
//! PostgreSQL outages.

use session_test_support as support;

use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use server_session::{
    CircuitBreaker, CookieOptions, MemoryStore, Session, SessionConfig, SessionLayer,
};

use support::{get as get_path, get_with_cookie, layer, wrap_tower, Res, TestStore, SECRET};

const STORE_TIMEOUT: Duration = Duration::from_millis(1_500);

/// Far below the store timeout: a request answered within it did not wait
/// on the store.
const FAST: Duration = Duration::from_millis(500);

fn config() -> SessionConfig {
    SessionConfig::new(SECRET)
        .with_resave(false)
        .with_save_uninitialized(false)
        .with_store_timeout(STORE_TIMEOUT)
        .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_secs(60))))
}

fn app(config: SessionConfig) -> (Router, TestStore) {
    async fn inc(session: Session) -> Result<String, server_session::SessionError> {
        let n = session.get::<i64>("n")?.unwrap_or(0) + 1;
        session.insert("n", n)?;
        Ok(n.to_string())
    }
    async fn noop() -> &'static str {
        "ok"
    }
    let faults = TestStore::new();
    let store = faults.clone();
    let routes = Router::new()
        .route("/inc", get(inc))
        .route("/noop", get(noop));
    (wrap_tower(routes, layer(store, config)), faults)
}

async fn timed_get(app: &Router, cookie: &str) -> (Res, Duration) {
    let started = Instant::now();
    let res = get_with_cookie(app, "/inc", cookie).await;
    (res, started.elapsed())
}

/// An app with a session (its cookie returned) whose store then stalls,
/// after requests that opened the breaker: the first ones wait out the
/// store timeout and fail.
async fn opened_by_a_stalled_store() -> (Router, TestStore, String) {
    let (app, faults) = app(config());
    let cookie = get_path(&app, "/inc").await.cookie();
    faults.stall(true);
    let waits: Vec<_> = (0..3).map(|_| timed_get(&app, &cookie)).collect();
    for (res, took) in futures_util::future::join_all(waits).await {
        assert_eq!(res.status.as_u16(), 500, "the load timed out: {}", res.body);
        assert!(took >= STORE_TIMEOUT, "it waited for the store: {took:?}");
    }
    (app, faults, cookie)
}

#[tokio::test]
async fn a_stalled_store_fails_requests_fast_once_the_breaker_opens() {
    let (app, faults, cookie) = opened_by_a_stalled_store().await;
    let calls = faults.calls();
    // The first request after opening probes the store, and waits on it.
    let probe = {
        let app = app.clone();
        let cookie = cookie.clone();
        tokio::spawn(async move { timed_get(&app, &cookie).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..20 {
        let (res, took) = timed_get(&app, &cookie).await;
        assert_eq!(res.status.as_u16(), 500, "the load-error policy answers");
        assert!(
            took < FAST,
            "answered without waiting on the store: {took:?}"
        );
    }
    assert_eq!(
        faults.calls() - calls,
        1,
        "only the probe reached the stalled store"
    );
    // A request without a cookie, and a route that never asks for the
    // session, do not wait either.
    let started = Instant::now();
    let res = get_path(&app, "/noop").await;
    assert_eq!(res.status.as_u16(), 200);
    assert!(started.elapsed() < FAST);
    let (res, took) = probe.await.expect("the probe request");
    assert_eq!(res.status.as_u16(), 500, "the probe timed out");
    assert!(took >= STORE_TIMEOUT);
}

#[tokio::test]
async fn service_resumes_as_soon_as_the_stalled_store_answers() {
    let (app, faults, cookie) = opened_by_a_stalled_store().await;
    // This request becomes the probe: it waits on the stalled store.
    let probe = {
        let app = app.clone();
        let cookie = cookie.clone();
        tokio::spawn(async move { get_with_cookie(&app, "/inc", &cookie).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (res, _) = timed_get(&app, &cookie).await;
    assert_eq!(res.status.as_u16(), 500, "refused while the probe waits");
    faults.stall(false);
    let probe = probe.await.expect("the probe request");
    assert_eq!(
        (probe.status.as_u16(), probe.body.as_str()),
        (200, "2"),
        "the probe gets the store's answer"
    );
    let (res, took) = timed_get(&app, &cookie).await;
    assert_eq!((res.status.as_u16(), res.body.as_str()), (200, "3"));
    assert!(took < FAST, "the circuit closed with the probe's answer");
}

#[tokio::test]
async fn a_store_that_is_down_is_probed_at_most_once_per_interval() {
    let interval = Duration::from_millis(200);
    let config = config().with_circuit_breaker(Some(
        CircuitBreaker::new()
            .with_failure_threshold(2)
            .with_probe_interval(interval),
    ));
    let (app, faults) = app(config);
    let cookie = get_path(&app, "/inc").await.cookie();
    faults.go_down(true);
    for _ in 0..2 {
        let (res, _) = timed_get(&app, &cookie).await;
        assert_eq!(res.status.as_u16(), 500);
    }
    let calls = faults.calls();
    let started = Instant::now();
    let mut requests = 0;
    while started.elapsed() < Duration::from_millis(1_000) {
        let (res, took) = timed_get(&app, &cookie).await;
        assert_eq!(res.status.as_u16(), 500);
        assert!(took < FAST);
        requests += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let probes = faults.calls() - calls;
    // About one probe per interval: 1 s / 200 ms, plus the one at opening.
    // A probe is one call, or up to three when it keeps losing its
    // connection and is retried.
    assert!(
        probes <= 3 * 7,
        "{probes} calls reached the store during {requests} requests"
    );
    assert!(probes >= 1, "the store is still probed");
    faults.go_down(false);
    let back = Instant::now();
    loop {
        let (res, _) = timed_get(&app, &cookie).await;
        if res.status.as_u16() == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(3),
            "service resumed after the store came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_changed_session_is_not_acknowledged_while_the_circuit_is_open() {
    let (app, faults) = app(config());
    faults.stall(true);
    // New sessions: no load, only the save of the change, which times out.
    for _ in 0..3 {
        let res = get_path(&app, "/inc").await;
        assert_eq!(res.status.as_u16(), 503);
    }
    // The next request probes the store, and waits on it.
    let probe = {
        let app = app.clone();
        tokio::spawn(async move { get_path(&app, "/inc").await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let res = get_path(&app, "/inc").await;
    assert_eq!(res.status.as_u16(), 503, "not a success: {}", res.body);
    assert_eq!(res.header("retry-after"), Some("1"));
    assert!(
        res.header("set-cookie").is_none(),
        "no cookie for an unsaved session"
    );
    assert!(started.elapsed() < FAST);
    assert_eq!(probe.await.expect("the probe").status.as_u16(), 503);
}

#[tokio::test]
async fn without_the_breaker_every_request_waits_for_the_store() {
    let (app, faults) = app(config().with_circuit_breaker(None));
    let cookie = get_path(&app, "/inc").await.cookie();
    faults.stall(true);
    for _ in 0..4 {
        let (res, took) = timed_get(&app, &cookie).await;
        assert_eq!(res.status.as_u16(), 500);
        assert!(took >= STORE_TIMEOUT, "it waited: {took:?}");
    }
}

#[test]
fn a_zero_failure_threshold_is_refused() {
    let config =
        config().with_circuit_breaker(Some(CircuitBreaker::new().with_failure_threshold(0)));
    let Err(error) = SessionLayer::new(MemoryStore::new(), config) else {
        panic!("a zero threshold must be refused");
    };
    assert!(
        error
            .to_string()
            .contains("circuit_breaker.failure_threshold"),
        "{error}"
    );
}
