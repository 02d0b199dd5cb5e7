//! `server_session::testing`: a handler tested without a server, and a
//! client that carries the session cookie like a browser.

use axum::routing::get;
use axum::Router;
use server_session::testing::{self, TestClient};
use server_session::{MemoryStore, Session, SessionConfig, SessionError, SessionLayer};

async fn sign_in(session: Session) -> Result<String, SessionError> {
    session.cycle_id().await?;
    session.insert("user", "ada")?;
    Ok(session.id())
}

async fn whoami(session: Session) -> Result<String, SessionError> {
    Ok(session.get::<String>("user")?.unwrap_or_default())
}

async fn sign_out(session: Session) -> Result<&'static str, SessionError> {
    session.destroy().await?;
    Ok("bye")
}

/// `/sign-in`, `/whoami` and `/sign-out` behind a layer on a new
/// MemoryStore.
fn app(config: SessionConfig) -> Router {
    let layer = SessionLayer::new(MemoryStore::new(), config).expect("valid");
    Router::new()
        .route("/sign-in", get(sign_in))
        .route("/whoami", get(whoami))
        .route("/sign-out", get(sign_out))
        .layer(layer)
}

async fn body(response: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("a body");
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

#[tokio::test]
async fn a_handler_is_tested_on_its_own() {
    let session = testing::session(MemoryStore::new(), SessionConfig::new("a test secret"))
        .await
        .expect("a session");
    let before = session.id();
    let after = sign_in(session.clone()).await.expect("signed in");
    assert_ne!(before, after, "sign-in moved the session to a new ID");
    assert_eq!(whoami(session.clone()).await.expect("read"), "ada");
    sign_out(session.clone()).await.expect("signed out");
    assert!(!session.is_live());
}

#[tokio::test]
async fn a_session_for_a_bad_config_is_a_config_error() {
    let error = testing::session(MemoryStore::new(), SessionConfig::new(""))
        .await
        .expect_err("an empty secret");
    assert_eq!(error.option(), "secret");
}

#[tokio::test]
async fn the_client_carries_the_cookie_and_forgets_a_cleared_one() {
    let config = SessionConfig::new("a test secret").with_clear_cookie_on_destroy(true);
    let mut client = TestClient::new(app(config));
    assert_eq!(body(client.get("/whoami").await.expect("ok")).await, "");
    client.get("/sign-in").await.expect("ok");
    let cookie = client
        .cookie("connect.sid")
        .expect("a session cookie")
        .to_owned();
    assert!(cookie.starts_with("s%3A"), "{cookie}");
    assert_eq!(body(client.get("/whoami").await.expect("ok")).await, "ada");
    client.get("/sign-out").await.expect("ok");
    assert_eq!(
        client.cookie("connect.sid"),
        None,
        "the cleared cookie is forgotten"
    );
    assert_eq!(body(client.get("/whoami").await.expect("ok")).await, "");
}

#[tokio::test]
async fn the_client_carries_a_header_session_as_a_client_without_cookies() {
    let transport = server_session::HeaderTransport::bearer();
    let config = SessionConfig::new("a test secret").with_header(Some(transport.clone()));
    let mut client = TestClient::new(app(config)).with_header_transport(&transport);
    assert_eq!(client.header_value(), None);
    let id = body(client.get("/sign-in").await.expect("signed in")).await;
    let value = client
        .header_value()
        .expect("the value of the new session")
        .to_owned();
    assert!(value.starts_with(&format!("{id}.")), "{value}");
    assert_eq!(
        client.cookie("connect.sid"),
        None,
        "no cookie in header mode"
    );
    assert_eq!(
        body(client.get("/whoami").await.expect("read")).await,
        "ada"
    );
    assert_eq!(
        client.header_value(),
        Some(value.as_str()),
        "kept, not resent"
    );
}
