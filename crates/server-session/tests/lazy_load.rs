//! `with_lazy_load`: the session loads when a handler first extracts it,
//! so routes that never use their session survive a store outage (issue 16,
//! item 5). The default stays express's: load before every handler.

use session_test_support as support;

use axum::routing::get;
use axum::Router;
use server_session::{LoadErrorPolicy, Session, SessionConfig, SessionError};

use support::store::{Op, TestStore};
use support::{get as get_path, layer, wrap_tower, CookieClient, SECRET};

fn app(store: &TestStore, config: SessionConfig) -> Router {
    async fn count(session: Session) -> Result<String, SessionError> {
        Ok(session
            .update("n", |n: Option<u64>| n.unwrap_or(0) + 1)?
            .to_string())
    }
    async fn maybe(session: Option<Session>) -> String {
        match session {
            Some(session) => format!("{:?}", session.get::<u64>("n").ok().flatten()),
            None => String::from("no session"),
        }
    }
    async fn health() -> &'static str {
        "ok"
    }
    let routes = Router::new()
        .route("/count", get(count))
        .route("/maybe", get(maybe))
        .route("/health", get(health));
    wrap_tower(routes, layer(store.clone(), config))
}

fn lazy() -> SessionConfig {
    SessionConfig::new(SECRET).with_lazy_load(true)
}

#[tokio::test]
async fn a_route_that_never_uses_its_session_survives_a_store_outage() {
    for (config, health_status) in [(lazy(), 200), (SessionConfig::new(SECRET), 500)] {
        let store = TestStore::new();
        let app = app(&store, config);
        let client = CookieClient::new(&app, get_path(&app, "/count").await.cookie());
        store.fail(Op::Load, true);
        // express's model (the default) fails every route behind the layer.
        client.get("/health").await.expect_status(health_status);
        // A route that needs its session answers the load-error policy's 500.
        client.get("/count").await.expect_status(500);
    }
}

#[tokio::test]
async fn a_lazily_loaded_session_behaves_as_an_eager_one() {
    let store = TestStore::new();
    let app = app(&store, lazy());
    let first = get_path(&app, "/count").await;
    first.expect(200, "1");
    let client = CookieClient::new(&app, first.cookie());
    client.get("/count").await.expect(200, "2");
    client.get("/maybe").await.expect(200, "Some(2)");
    client.get("/count").await.expect(200, "3");
}

#[tokio::test]
async fn a_request_that_never_extracts_its_session_makes_no_store_call() {
    let store = TestStore::new();
    let app = app(&store, lazy());
    let client = CookieClient::new(&app, get_path(&app, "/count").await.cookie());
    store.reset_counts();
    client.get("/health").await.expect(200, "ok");
    assert_eq!(
        (store.loads(), store.saves(), store.touches()),
        (0, 0, 0),
        "no load, and so no touch: the documented cost of lazy loading"
    );
}

#[tokio::test]
async fn option_session_is_none_when_the_store_lets_the_request_go_on() {
    let store = TestStore::new();
    let config = lazy().with_load_error_policy(LoadErrorPolicy::ContinueWithoutSession);
    let app = app(&store, config);
    let client = CookieClient::new(&app, get_path(&app, "/count").await.cookie());
    store.fail(Op::Load, true);
    client.get("/maybe").await.expect(200, "no session");
    client
        .get("/count")
        .await
        .expect(503, "session store unavailable");
}
