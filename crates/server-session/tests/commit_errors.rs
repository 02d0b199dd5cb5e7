//! Never acknowledge a write that was not stored (issue 12, item 1): when
//! the end-of-request write of a change fails, the client gets no 2xx by
//! default; a failed touch of an unchanged session keeps the response.

use session_test_support as support;

use axum::routing::get;
use axum::Router;
use server_session::{CommitErrorPolicy, Session, SessionConfig};

use support::store::{Op, TestStore};
use support::{get as get_path, layer, wrap_tower, CookieClient, SECRET};

fn app(store: &TestStore, config: SessionConfig) -> Router {
    async fn change(session: Session) -> &'static str {
        session
            .update("n", |n: Option<u64>| n.unwrap_or(0) + 1)
            .expect("update");
        "changed"
    }
    async fn read(session: Session) -> String {
        format!("{:?}", session.get::<u64>("n").expect("a number"))
    }
    let routes = Router::new()
        .route("/change", get(change))
        .route("/read", get(read));
    wrap_tower(routes, layer(store.clone(), config))
}

#[tokio::test]
async fn a_change_that_was_not_stored_is_never_answered_with_a_success() {
    let store = TestStore::new();
    let app = app(&store, SessionConfig::new(SECRET));
    let first = get_path(&app, "/change").await;
    first.expect(200, "changed");
    let client = CookieClient::new(&app, first.cookie());

    store.fail(Op::Save, true);
    let failed = client.get("/change").await;
    failed.expect(503, "");
    assert_eq!(failed.header("retry-after"), Some("1"));
    store.fail(Op::Save, false);
    // The change the client was not told about is indeed not there.
    client.get("/read").await.expect(200, "Some(1)");
}

#[tokio::test]
async fn an_unchanged_session_whose_touch_fails_keeps_its_response() {
    let store = TestStore::new();
    let app = app(&store, SessionConfig::new(SECRET));
    let client = CookieClient::new(&app, get_path(&app, "/change").await.cookie());
    store.fail(Op::Touch, true);
    store.fail(Op::Save, true);
    client.get("/read").await.expect(200, "Some(1)");
}

#[tokio::test]
async fn the_policy_can_answer_500_or_keep_the_response_as_express() {
    for (policy, status) in [
        (CommitErrorPolicy::InternalServerError, 500),
        (CommitErrorPolicy::KeepResponse, 200),
    ] {
        let store = TestStore::new();
        let app = app(
            &store,
            SessionConfig::new(SECRET).with_commit_error_policy(policy),
        );
        let client = CookieClient::new(&app, get_path(&app, "/change").await.cookie());
        store.fail(Op::Save, true);
        let res = client.get("/change").await;
        res.expect_status(status);
        assert_eq!(res.header("retry-after"), None, "{policy:?}");
    }
}
