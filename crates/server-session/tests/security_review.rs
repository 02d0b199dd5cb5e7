//! Regression tests for the defects an independent security review found
//! in the layer (issue 15, items 1, 3 and 6, and item 5's "an unreadable
//! record is not a 500 loop"). Each one failed before its fix.
//!
//! The store-dependent cases run on every store: the MemoryStore and SQLite
//! always, Redis, PostgreSQL and MySQL when `REDIS_URL`, `POSTGRES_URL` and
//! `MYSQL_URL` are set (an unset one prints `SKIPPED: …`, and fails under
//! `SESSION_REQUIRE_SERVICES=1`).

use session_test_support as support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use server_session::store::Store;
use server_session::{
    ConflictPolicy, CookieOptions, CorruptRecordPolicy, MemoryStore, SecurePolicy, Session,
    SessionConfig, SessionError,
};
use tokio::sync::Notify;

use support::cookies::{set_cookies, sid};
use support::store::TestStore;
use support::stores::stores;
use support::{get as get_path, get_with_cookie, layer, send, wrap_tower, SECRET};

fn config() -> SessionConfig {
    SessionConfig::new(SECRET).with_cookie(CookieOptions::new().with_max_age(Some(MINUTE)))
}

const MINUTE: Duration = Duration::from_secs(60);

/// Routes for the held-session cases: `/set/{value}` writes `value`,
/// `/get` reads it, and `/hold/{value}` writes `value` only once the test
/// releases it, keeping its session live in the meantime.
fn held_session_app(store: Arc<dyn Store>, config: SessionConfig, release: Arc<Notify>) -> Router {
    async fn set(session: Session, Path(value): Path<String>) -> String {
        session.insert("value", &value).expect("insert");
        session.id()
    }
    async fn read(session: Session) -> String {
        session
            .get::<String>("value")
            .expect("a string")
            .unwrap_or_else(|| String::from("none"))
    }
    let hold = move |session: Session, Path(value): Path<String>| {
        let release = Arc::clone(&release);
        async move {
            release.notified().await;
            // Under `LastWriteWins` this write used to put a destroyed
            // record back.
            match session.insert("value", &value) {
                Ok(()) => "written",
                Err(_) => "gone",
            }
        }
    };
    let routes = Router::new()
        .route("/set/{value}", get(set))
        .route("/get", get(read))
        .route("/hold/{value}", get(hold));
    wrap_tower(routes, layer(store, config))
}

/// Starts `/hold/{value}` with `cookie` and returns once its session is
/// live in the layer (the handler is waiting on `release`).
async fn start_held_request(
    app: &Router,
    cookie: &str,
    value: &str,
) -> tokio::task::JoinHandle<support::Res> {
    let app = app.clone();
    let cookie = cookie.to_owned();
    let uri = format!("/hold/{value}");
    let held = tokio::spawn(async move { get_with_cookie(&app, &uri, &cookie).await });
    // Long enough for the request to load its session and reach the handler.
    tokio::time::sleep(Duration::from_millis(200)).await;
    held
}

#[tokio::test]
async fn a_session_destroyed_elsewhere_is_not_served_to_a_request_joining_a_held_one() {
    for (name, store) in stores().await {
        for policy in [ConflictPolicy::Merge, ConflictPolicy::LastWriteWins] {
            let release = Arc::new(Notify::new());
            let app = held_session_app(
                Arc::clone(&store),
                config().with_conflict_policy(policy),
                Arc::clone(&release),
            );
            let first = get_path(&app, "/set/secret").await;
            first.expect_status(200);
            let cookie = first.cookie();
            let id = first.body.clone();

            let held = start_held_request(&app, &cookie, "late").await;
            // "Sign out everywhere", another process, or a Node service.
            store.destroy(&id).await.expect("destroy");

            let joined = get_with_cookie(&app, "/get", &cookie).await;
            assert_eq!(
                joined.body, "none",
                "{name} {policy:?}: a destroyed session was served while another request held it"
            );

            release.notify_one();
            held.await
                .expect("the held request ends")
                .expect_status(200);
            assert!(
                store.load(&id).await.expect("load").is_none(),
                "{name} {policy:?}: the held request wrote a destroyed session back"
            );
        }
    }
}

#[tokio::test]
async fn a_held_session_is_not_served_past_its_max_age() {
    for (name, store) in stores().await {
        let release = Arc::new(Notify::new());
        let short = config()
            .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_millis(1_000))));
        let app = held_session_app(Arc::clone(&store), short, Arc::clone(&release));
        let first = get_path(&app, "/set/secret").await;
        let cookie = first.cookie();
        let id = first.body.clone();

        let held = start_held_request(&app, &cookie, "late").await;
        // Past the idle lifetime, with whole seconds to spare for stores that
        // count expiry in seconds.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        let joined = get_with_cookie(&app, "/get", &cookie).await;
        assert_eq!(
            joined.body, "none",
            "{name}: an expired session was served while another request held it"
        );

        release.notify_one();
        held.await.expect("the held request ends");
        assert!(
            store.load(&id).await.expect("load").is_none(),
            "{name}: the held request wrote an expired session back"
        );
    }
}

/// A `genid` that returns `fixed` for its first `repeats` calls, then
/// fresh random IDs.
fn repeating_genid(fixed: String, repeats: usize) -> impl Fn(&http::request::Parts) -> String {
    let calls = AtomicUsize::new(0);
    move |_| {
        if calls.fetch_add(1, Ordering::Relaxed) < repeats {
            fixed.clone()
        } else {
            server_session::__private::generate_id()
        }
    }
}

fn value_app(store: Arc<dyn Store>, config: SessionConfig) -> Router {
    async fn set(session: Session, Path(value): Path<String>) -> String {
        session.insert("value", &value).expect("insert");
        session.id()
    }
    wrap_tower(
        Router::new().route("/set/{value}", get(set)),
        layer(store, config),
    )
}

async fn stored_value(store: &dyn Store, id: &str) -> Option<String> {
    let loaded = store.load(id).await.expect("load")?;
    loaded
        .record
        .data()
        .get("value")
        .and_then(|value| value.as_str())
        .map(str::to_owned)
}

#[tokio::test]
async fn a_new_session_never_takes_over_a_stored_one_with_the_same_id() {
    for (name, store) in stores().await {
        let fixed = format!("fixed-{}", server_session::__private::generate_id());
        // Visitor 1 gets `fixed`; visitor 2 is offered it again, then a fresh ID.
        let app = value_app(
            Arc::clone(&store),
            config().with_genid(repeating_genid(fixed.clone(), 2)),
        );
        let first = get_path(&app, "/set/first").await;
        assert_eq!(first.sid(), fixed, "{name}");
        let second = get_path(&app, "/set/second").await;
        second.expect_status(200);
        let second_id = second.sid();
        assert_ne!(
            second_id, fixed,
            "{name}: the second visitor was handed the first visitor's session"
        );
        assert_eq!(
            stored_value(&*store, &fixed).await.as_deref(),
            Some("first"),
            "{name}: the first visitor's session was overwritten"
        );
        assert_eq!(
            stored_value(&*store, &second_id).await.as_deref(),
            Some("second"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_genid_that_only_repeats_a_stored_id_gets_no_cookie_and_an_error() {
    for (name, store) in stores().await {
        let fixed = format!("fixed-{}", server_session::__private::generate_id());
        let errors = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&errors);
        let app = value_app(
            Arc::clone(&store),
            config()
                .with_genid(move |_| fixed.clone())
                .with_error_hook(move |error| {
                    seen.lock()
                        .expect("lock")
                        .push(matches!(error, SessionError::InvalidId { .. }))
                }),
        );
        let first = get_path(&app, "/set/first").await;
        let fixed = first.sid();
        let second = get_path(&app, "/set/second").await;
        assert!(
            set_cookies(&second.headers).is_empty(),
            "{name}: a cookie was sent for a session that was not stored"
        );
        assert_eq!(*errors.lock().expect("lock"), [true], "{name}");
        assert_eq!(
            stored_value(&*store, &fixed).await.as_deref(),
            Some("first"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn unusable_genid_output_is_refused_with_a_clear_error() {
    for (what, bad) in [
        ("empty", String::new()),
        ("300 bytes", "a".repeat(300)),
        ("NUL", String::from("abc\0def")),
        ("newline", String::from("abc\ndef")),
    ] {
        let store = TestStore::new();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&errors);
        let app = value_app(
            Arc::new(store.clone()),
            config()
                .with_genid(move |_| bad.clone())
                .with_error_hook(move |error| seen.lock().expect("lock").push(error.to_string())),
        );
        let res = get_path(&app, "/set/x").await;
        res.expect_status(500);
        assert!(set_cookies(&res.headers).is_empty(), "{what}");
        assert_eq!(store.saves(), 0, "{what}: nothing reaches the store");
        let errors = errors.lock().expect("lock");
        assert_eq!(errors.len(), 1, "{what}: {errors:?}");
        assert!(errors[0].contains("genid"), "{what}: {errors:?}");
    }
}

#[tokio::test]
async fn regenerate_with_an_unusable_genid_keeps_the_old_session() {
    let store = TestStore::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    // A good ID for the first session, then an unusable one.
    let genid = move |_: &http::request::Parts| {
        if counter.fetch_add(1, Ordering::Relaxed) == 0 {
            server_session::__private::generate_id()
        } else {
            String::new()
        }
    };
    async fn set(session: Session) -> String {
        session.insert("value", "kept").expect("insert");
        session.id()
    }
    async fn regenerate(session: Session) -> String {
        match session.regenerate().await {
            Ok(()) => String::from("regenerated"),
            Err(error) => error.to_string(),
        }
    }
    let routes = Router::new()
        .route("/set", get(set))
        .route("/regenerate", get(regenerate));
    let app = wrap_tower(routes, layer(store.clone(), config().with_genid(genid)));
    let first = get_path(&app, "/set").await;
    let id = first.body.clone();
    let res = get_with_cookie(&app, "/regenerate", &first.cookie()).await;
    assert!(res.body.contains("genid"), "{}", res.body);
    assert_eq!(
        store
            .record(&id)
            .await
            .and_then(|record| record.data().get("value").cloned()),
        Some(serde_json::json!("kept"))
    );
}

#[tokio::test]
async fn an_unreadable_record_starts_a_new_session_instead_of_a_500_loop() {
    for policy in [None, Some(CorruptRecordPolicy::LoadError)] {
        let store = TestStore::new();
        let mut config = config();
        if let Some(policy) = policy {
            config = config.with_corrupt_record_policy(policy);
        }
        let app = value_app(Arc::new(store.clone()), config);
        let first = get_path(&app, "/set/first").await;
        let id = first.sid();
        store.write_raw(&id, r#"{"cookie": "#).await;
        let next = get_with_cookie(&app, "/set/next", &first.cookie()).await;
        match policy {
            None => {
                next.expect_status(200);
                let new_id = sid(&next.headers).expect("a new cookie");
                assert_ne!(new_id, id);
                assert_eq!(next.body, new_id);
            }
            Some(_) => next.expect_status(500),
        }
    }
}

#[tokio::test]
async fn an_https_request_target_over_plain_http_is_not_secure() {
    for secure in [SecurePolicy::Auto, SecurePolicy::Always] {
        let app = value_app(
            Arc::new(MemoryStore::new()),
            config().with_cookie(CookieOptions::new().with_secure(secure)),
        );
        // An absolute-form target, chosen by the client; no `IsSecure` hint.
        let res = send(
            &app,
            support::build(support::req(http::Method::GET, "https://example.com/set/x")),
        )
        .await;
        res.expect_status(200);
        let cookies = set_cookies(&res.headers);
        match secure {
            // `Auto` resolves to "not secure": a cookie without `Secure`.
            SecurePolicy::Auto => {
                assert_eq!(cookies.len(), 1);
                assert!(
                    !cookies[0].to_ascii_lowercase().contains("secure"),
                    "{cookies:?}"
                );
            }
            // A `Secure` cookie is not sent over a request that is not secure.
            _ => assert!(cookies.is_empty(), "{cookies:?}"),
        }
    }
}
