//! Nothing secret in logs or `Debug` output (issue 10, item 6): a whole
//! session lifecycle runs with every `tracing` event captured, and neither
//! the log nor any `Debug` string holds a session ID, a signed cookie value
//! or a secret. The events themselves are there, tagged.

use session_test_support as support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use server_session::{CookieOptions, MemoryStore, Session, SessionConfig, SessionLayer, Store};

use support::store::{Op, TestStore};
use support::{cookie_pair, get as get_path, get_with_cookie, wrap_tower};

const SECRET: &str = "the signing secret, 32 bytes or more";
const OLD_SECRET: &str = "the retired secret, 32 bytes or more";

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

fn app(store: Arc<dyn Store>, debug: Arc<Mutex<Vec<String>>>) -> Router {
    let seen = Arc::clone(&debug);
    let set = move |session: Session| {
        let seen = Arc::clone(&seen);
        async move {
            session.insert("user", "ada").expect("insert");
            seen.lock().expect("lock").push(format!("{session:?}"));
            session.id()
        }
    };
    async fn read(session: Session) -> String {
        session
            .get::<String>("user")
            .ok()
            .flatten()
            .unwrap_or_else(|| String::from("none"))
    }
    async fn cycle(session: Session) -> String {
        match session.cycle_id().await {
            Ok(()) => session.id(),
            Err(error) => error.to_string(),
        }
    }
    async fn regenerate(session: Session) -> String {
        session.regenerate().await.expect("regenerate");
        session.insert("user", "ada").expect("insert");
        session.id()
    }
    async fn destroy(session: Session) -> String {
        let id = session.id();
        session.destroy().await.expect("destroy");
        id
    }
    let routes = Router::new()
        .route("/set", get(set))
        .route("/read", get(read))
        .route("/cycle", get(cycle))
        .route("/regenerate", get(regenerate))
        .route("/destroy", get(destroy));
    // A browser-session cookie: its record outlives the absolute timeout in
    // the store, so the layer is the one to end it (and log it).
    let config = SessionConfig::new(SECRET)
        .with_secrets([SECRET, OLD_SECRET])
        .with_cookie(CookieOptions::new())
        .with_absolute_timeout(Some(Duration::from_millis(1_500)));
    debug.lock().expect("lock").push(format!("{config:?}"));
    let layer = SessionLayer::from_arc(store, config).expect("valid");
    debug.lock().expect("lock").push(format!("{layer:?}"));
    wrap_tower(routes, layer)
}

/// The signed value inside a `name=value` cookie pair.
fn value_of(pair: &str) -> String {
    pair.split_once('=').expect("name=value").1.to_owned()
}

#[tokio::test]
async fn a_whole_lifecycle_logs_no_id_and_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        // Spans too, as each closes with its fields.
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish();
    // The current-thread runtime runs the layer on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);

    let store = TestStore::new();
    let debug = Arc::new(Mutex::new(Vec::new()));
    let app = app(Arc::new(store.clone()), Arc::clone(&debug));
    let mut ids = Vec::new();
    let mut cookies = Vec::new();

    // Created, read, moved to a new ID, regenerated.
    let first = get_path(&app, "/set").await;
    ids.push(first.body.clone());
    let mut cookie = cookie_pair(&first.cookie());
    cookies.push(cookie.clone());
    get_with_cookie(&app, "/read", &cookie)
        .await
        .expect(200, "ada");
    let cycled = get_with_cookie(&app, "/cycle", &cookie).await;
    ids.push(cycled.body.clone());
    cookie = cookie_pair(&cycled.cookie());
    cookies.push(cookie.clone());
    let regenerated = get_with_cookie(&app, "/regenerate", &cookie).await;
    ids.push(regenerated.body.clone());
    cookie = cookie_pair(&regenerated.cookie());
    cookies.push(cookie.clone());

    // A forged signature, and an ID that is no longer stored.
    let forged = format!("connect.sid=s%3A{}.forged", ids[2]);
    get_with_cookie(&app, "/read", &forged)
        .await
        .expect(200, "none");
    get_with_cookie(&app, "/read", &cookies[0])
        .await
        .expect(200, "none");

    // A store failure while saving: the client gets a 503, and the error
    // goes to the log.
    store.fail(Op::Save, true);
    get_path(&app, "/set").await.expect_status(503);
    store.fail(Op::Save, false);

    // The absolute timeout, then a destroy.
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    get_with_cookie(&app, "/read", &cookie)
        .await
        .expect(200, "none");
    let last = get_path(&app, "/set").await;
    ids.push(last.body.clone());
    let last_cookie = cookie_pair(&last.cookie());
    cookies.push(last_cookie.clone());
    get_with_cookie(&app, "/destroy", &last_cookie)
        .await
        .expect_status(200);
    debug
        .lock()
        .expect("lock")
        .push(format!("{:?}", MemoryStore::new()));

    let log = captured.text();
    // The events are there, each with a tag instead of the ID.
    for event in [
        "session created",
        "session moved to a new id",
        "session regenerated",
        "session cookie signature rejected",
        "session expired, destroyed or unknown",
        "session error",
        "session reached its absolute timeout",
        "session destroyed",
    ] {
        assert!(log.contains(event), "no `{event}` event in:\n{log}");
    }
    assert!(
        log.contains("session="),
        "events carry a session tag:\n{log}"
    );
    // Spans as tower-http writes them: one per request, with how its
    // session started and ended, and one per store call.
    for span in [
        r#"session{start="new""#,
        r#"session{start="loaded""#,
        r#"end="saved""#,
        r#"end="unchanged""#,
        r#"end="failed""#,
        r#"session.store{store="test" op="load_and_touch"}"#,
        r#"session.store{store="test" op="save"}"#,
        r#"session.store{store="test" op="destroy"}"#,
    ] {
        assert!(log.contains(span), "no `{span}` span in:\n{log}");
    }

    let debug = debug.lock().expect("lock").join("\n");
    assert!(debug.contains("Session"), "{debug}");
    for id in &ids {
        assert_eq!(id.len(), 32, "a generated ID: {id}");
        assert!(
            !log.contains(id.as_str()),
            "the log holds session ID {id}:\n{log}"
        );
        assert!(
            !debug.contains(id.as_str()),
            "Debug output holds session ID {id}:\n{debug}"
        );
        // Not even a recognisable part of one.
        assert!(!log.contains(&id[..6]), "the log holds part of {id}");
        assert!(!debug.contains(&id[..6]), "Debug output holds part of {id}");
    }
    for pair in &cookies {
        let value = value_of(pair);
        assert!(!log.contains(&value), "the log holds cookie {value}");
        assert!(!debug.contains(&value), "Debug output holds cookie {value}");
    }
    for secret in [SECRET, OLD_SECRET] {
        assert!(!log.contains(secret), "the log holds a secret");
        assert!(!debug.contains(secret), "Debug output holds a secret");
    }
}

#[test]
fn a_secret_shorter_than_32_bytes_is_warned_about_when_the_layer_is_built() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let _layer = SessionLayer::new(MemoryStore::new(), SessionConfig::new("keyboard cat"))
        .expect("accepted");
    let log = captured.text();
    assert!(log.contains("shorter than 32 bytes"), "{log}");
    assert!(
        !log.contains("keyboard cat"),
        "the secret itself is not logged"
    );
    // A long enough secret says nothing.
    let before = log.len();
    let _layer =
        SessionLayer::new(MemoryStore::new(), SessionConfig::new(SECRET)).expect("accepted");
    assert_eq!(captured.text().len(), before);
}
