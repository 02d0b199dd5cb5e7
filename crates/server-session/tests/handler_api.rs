//! The API a handler uses (issue 16): `?` on `SessionError` in axum, one
//! rule for a dead session, and named reserved keys.

use session_test_support as support;

use std::sync::{Arc, Mutex};

use axum::routing::get;
use axum::Router;
use server_session::store::{Store, RESERVED_KEYS};
use server_session::{Session, SessionConfig, SessionError};

use support::store::{Op, TestStore};
use support::{get as get_path, get_with_cookie, layer, wrap_tower, SECRET};

fn app(store: &TestStore, seen: Arc<Mutex<Vec<String>>>) -> Router {
    async fn count(session: Session) -> Result<String, SessionError> {
        let n = session.update("n", |n: Option<u64>| n.unwrap_or(0) + 1)?;
        session.save().await?;
        Ok(n.to_string())
    }
    async fn wrong_type(session: Session) -> Result<String, SessionError> {
        session.insert("n", "not a number")?;
        let n: Option<u64> = session.get("n")?;
        Ok(format!("{n:?}"))
    }
    let dead = move |session: Session| {
        let seen = Arc::clone(&seen);
        async move {
            session.insert("user", "ada")?;
            session.destroy().await?;
            seen.lock().expect("lock").push(format!(
                "{:?} {:?} {:?} {} {} {:?} {}",
                session.get::<String>("user")?,
                session.get_value("user"),
                session.keys(),
                session.len(),
                session.contains_key("user"),
                session.id(),
                session.is_live(),
            ));
            let write = session.insert("user", "bob");
            Ok::<_, SessionError>(format!("{write:?}"))
        }
    };
    let routes = Router::new()
        .route("/count", get(count))
        .route("/wrong-type", get(wrong_type))
        .route("/dead", get(dead));
    wrap_tower(routes, layer(store.clone(), SessionConfig::new(SECRET)))
}

#[tokio::test]
async fn question_mark_in_a_handler_answers_by_kind_with_an_opaque_body() {
    let store = TestStore::new();
    let app = app(&store, Arc::default());
    get_path(&app, "/count").await.expect(200, "1");

    // A store that fails: 503, retry later, nothing internal shown.
    store.fail(Op::Save, true);
    let res = get_path(&app, "/count").await;
    res.expect_status(503);
    assert_eq!(res.header("retry-after"), Some("1"));
    assert!(!res.body.contains("boom"), "{}", res.body);
    store.fail(Op::Save, false);

    // A value of the wrong type is the application's bug: 500.
    let res = get_path(&app, "/wrong-type").await;
    res.expect(500, "internal server error");
}

#[tokio::test]
async fn a_destroyed_session_reads_as_empty_and_refuses_writes() {
    let store = TestStore::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = app(&store, Arc::clone(&seen));
    let res = get_path(&app, "/dead").await;
    res.expect(200, "Err(Gone)");
    assert_eq!(
        seen.lock().expect("lock").as_slice(),
        [r#"None None [] 0 false "" false"#]
    );
}

#[tokio::test]
async fn a_session_ended_by_another_request_reads_as_empty_too() {
    let store = TestStore::new();
    let app = app(&store, Arc::default());
    let first = get_path(&app, "/count").await;
    let cookie = first.cookie();
    let id = first.sid();
    // Ended elsewhere: the next request on the cookie starts afresh.
    store.memory().destroy(&id).await.expect("destroy");
    get_with_cookie(&app, "/count", &cookie)
        .await
        .expect(200, "1");
}

#[test]
fn reserved_keys_are_public_and_named_in_the_error() {
    assert!(RESERVED_KEYS.contains(&"cookie") && RESERVED_KEYS.contains(&"id"));
    let message = SessionError::ReservedKey(String::from("id")).to_string();
    assert!(message.contains("RESERVED_KEYS"), "{message}");
    assert!(message.contains("`id`"), "{message}");
}

#[tokio::test]
async fn session_errors_answer_with_their_status_and_no_detail() {
    use axum::response::IntoResponse as _;
    use http_body_util::BodyExt as _;
    let cases = [
        (
            SessionError::Store(server_session::StoreError::Timeout(
                std::time::Duration::from_secs(5),
            )),
            503,
            "session store unavailable",
        ),
        (SessionError::Conflict, 503, "session store unavailable"),
        (
            SessionError::Store(server_session::StoreError::corrupt("secret detail")),
            500,
            "internal server error",
        ),
        (SessionError::Gone, 500, "internal server error"),
    ];
    for (error, status, body) in cases {
        let response = error.into_response();
        assert_eq!(response.status().as_u16(), status);
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        assert_eq!(bytes, body.as_bytes());
    }
}

#[tokio::test]
async fn the_extractor_names_the_store_when_the_store_is_the_cause() {
    use server_session::LoadErrorPolicy;
    async fn whoami(session: Session) -> Result<String, SessionError> {
        Ok(session.get::<String>("user")?.unwrap_or_default())
    }
    let store = TestStore::new();
    let config =
        SessionConfig::new(SECRET).with_load_error_policy(LoadErrorPolicy::ContinueWithoutSession);
    let app = wrap_tower(
        Router::new().route("/whoami", get(whoami)).route(
            "/count",
            get(|session: Session| async move {
                session
                    .update("n", |n: Option<u64>| n.unwrap_or(0) + 1)
                    .map(|n| n.to_string())
            }),
        ),
        layer(store.clone(), config),
    );
    let cookie = get_path(&app, "/count").await.cookie();
    store.fail(Op::Load, true);
    get_with_cookie(&app, "/whoami", &cookie)
        .await
        .expect(503, "session store unavailable");
    store.fail(Op::Load, false);
    store.set_ready(false);
    get_path(&app, "/whoami")
        .await
        .expect(503, "session store unavailable");
    // No layer at all is a setup error.
    let bare = Router::new().route("/whoami", get(whoami));
    let res = get_path(&bare, "/whoami").await;
    res.expect_status(500);
    assert!(res.body.contains("SessionLayer"), "{}", res.body);
}

#[tokio::test]
async fn get_id_is_the_session_id_as_req_session_id_is() {
    let session = server_session::testing::session(
        server_session::MemoryStore::new(),
        SessionConfig::new(SECRET),
    )
    .await
    .expect("a session");
    assert_eq!(
        session.get::<String>("id").expect("a string"),
        Some(session.id())
    );
    assert!(matches!(
        session.insert("id", "mine"),
        Err(SessionError::ReservedKey(key)) if key == "id"
    ));
    // It is no data key: not listed, not stored.
    assert!(!session.contains_key("id") && session.keys().is_empty());
    session.cycle_id().await.expect("a new ID");
    assert_eq!(session.get_value("id"), Some(session.id().into()));
    session.destroy().await.expect("destroyed");
    assert_eq!(session.get_value("id"), None, "a dead session has no ID");
}

#[tokio::test]
async fn a_user_is_set_and_removed_at_any_path() {
    for path in ["user", "passport.user", "a.b.c"] {
        let config = SessionConfig::new(SECRET).with_user_path(Some(path));
        let session = server_session::testing::session(server_session::MemoryStore::new(), config)
            .await
            .expect("a session");
        assert_eq!(session.user(), None, "{path}");
        session.insert("kept", 1).expect("insert");
        session.set_user("ada").expect("set");
        assert_eq!(session.user().as_deref(), Some("ada"), "{path}");
        session.set_user("bob").expect("set again");
        assert_eq!(session.user().as_deref(), Some("bob"), "{path}");
        session.remove_user().expect("remove");
        assert_eq!(session.user(), None, "{path}");
        assert_eq!(
            session.get::<i64>("kept").expect("a number"),
            Some(1),
            "{path}"
        );
    }
    let plain = server_session::testing::session(
        server_session::MemoryStore::new(),
        SessionConfig::new(SECRET),
    )
    .await
    .expect("a session");
    assert!(matches!(
        plain.set_user("ada"),
        Err(SessionError::NoUserPath)
    ));
    assert_eq!(plain.user(), None);
}
