//! Every session of a user (issue 11): sign-in indexes the session, a user
//! lists their sessions, revokes one, signs out everywhere else or
//! everywhere; a revoked session is never served again, by this process or
//! another, and a request in flight on it cannot save it back.
//!
//! The requests go through the conformance server's routes (DESIGN §6.1:
//! `/login/{user}`, `/sessions`, `/revoke/{ref}`, `/revoke-others`,
//! `/revoke-all`) on both adapters, and every case runs on every bundled
//! store (the MemoryStore and SQLite always; Redis, Redis Cluster,
//! PostgreSQL and MySQL when their URLs are set).

use session_test_support as support;

use std::sync::Arc;
use std::time::Duration;

use http::header::{COOKIE, SET_COOKIE};
use http::StatusCode;
use serde_json::Value;
use server_session::users::{RevokeError, SessionRef};
use server_session::{CookieOptions, Session, SessionConfig, SessionLimit, Store};
use session_examples::axum_handlers::route as routes;

use support::stores::stores_and_cluster as stores;
use support::{cookie_pair, on_both_adapters, server, App, Res, TestStore, SECRET};

fn config() -> SessionConfig {
    SessionConfig::new(SECRET)
        .with_user_path(Some("passport.user"))
        .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_secs(600))))
}

fn app(store: Arc<dyn Store>) -> App {
    server(config(), store, routes)
}

/// A user name no other run shares, so that runs on one store never see
/// each other's sessions.
fn unique_user() -> String {
    format!("ada-{}", server_session::__private::generate_id())
}

/// A client that keeps its session cookie, as a browser does.
#[derive(Default)]
struct Browser {
    cookie: Option<String>,
}

impl Browser {
    async fn get(&mut self, app: &App, path: &str) -> Res {
        let mut request = http::Request::builder().uri(path);
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        let request = request
            .body(axum::body::Body::empty())
            .expect("a valid request");
        let res = support::send(app, request).await;
        if let Some(set) = res.headers.get(SET_COOKIE) {
            let set = set.to_str().expect("ASCII");
            self.cookie = Some(cookie_pair(set));
        }
        res
    }

    /// `GET path`, which must answer 200; its body.
    async fn ok(&mut self, app: &App, path: &str, store: &str) -> String {
        let res = self.get(app, path).await;
        assert_eq!(res.status, StatusCode::OK, "{store}: {path}: {}", res.body);
        res.body
    }

    async fn sessions(&mut self, app: &App, store: &str) -> Vec<Value> {
        let body = self.ok(app, "/sessions", store).await;
        serde_json::from_str::<Vec<Value>>(&body).expect("/sessions is a JSON array")
    }
}

/// The reference of the one listed session that is (or is not) current.
fn reference(listed: &[Value], current: bool) -> String {
    let found: Vec<&Value> = listed
        .iter()
        .filter(|info| info["current"] == Value::Bool(current))
        .collect();
    assert_eq!(found.len(), 1, "{listed:?}");
    found[0]["ref"].as_str().expect("a ref").to_owned()
}

on_both_adapters! {
#[tokio::test]
async fn a_user_lists_their_sessions_and_revokes_one() {
    for (name, store) in stores().await {
        let app = app(Arc::clone(&store));
        let user = unique_user();
        let (mut laptop, mut phone, mut other) = (Browser::default(), Browser::default(), Browser::default());
        laptop.ok(&app, &format!("/login/{user}"), name).await;
        phone.ok(&app, &format!("/login/{user}"), name).await;
        other.ok(&app, &format!("/login/bob-{user}"), name).await;

        let listed = laptop.sessions(&app, name).await;
        assert_eq!(listed.len(), 2, "{name}: the laptop and the phone: {listed:?}");
        for info in &listed {
            assert!(info["lastActive"].is_u64() && info["expires"].is_u64(), "{name}: {info}");
        }
        let phone_ref = reference(&listed, false);
        // Nothing in a listing can be turned into a cookie.
        let phone_cookie = phone.cookie.clone().expect("the phone's cookie");
        assert!(!phone_cookie.contains(&phone_ref), "{name}");

        let res = laptop.get(&app, &format!("/revoke/{phone_ref}")).await;
        assert_eq!((res.status.as_u16(), res.body.as_str()), (200, "revoked"), "{name}");
        // The phone's cookie now starts a new session: nobody is signed in.
        assert_eq!(phone.ok(&app, "/get/passport", name).await, "undefined", "{name}");
        assert_eq!(phone.sessions(&app, name).await, Vec::<Value>::new(), "{name}");
        let listed = laptop.sessions(&app, name).await;
        assert_eq!(listed.len(), 1, "{name}: {listed:?}");
        assert_eq!(listed[0]["current"], Value::Bool(true), "{name}");
        // The other user was not touched.
        assert_eq!(other.sessions(&app, name).await.len(), 1, "{name}");
    }
}
}

on_both_adapters! {
#[tokio::test]
async fn a_forged_or_foreign_reference_revokes_nothing() {
    for (name, store) in stores().await {
        let app = app(Arc::clone(&store));
        let user = unique_user();
        let (mut ada, mut bob) = (Browser::default(), Browser::default());
        ada.ok(&app, &format!("/login/{user}"), name).await;
        bob.ok(&app, &format!("/login/bob-{user}"), name).await;
        let bob_ref = reference(&bob.sessions(&app, name).await, true);
        let forged = "AAAAAAAAAAAAAAAAAAAAAA";
        for reference in [bob_ref.as_str(), forged, "not-a-reference", "s%3Aabc.def"] {
            let res = ada.get(&app, &format!("/revoke/{reference}")).await;
            assert_eq!(
                (res.status.as_u16(), res.body.as_str()),
                (404, "unknown"),
                "{name}: {reference}"
            );
        }
        assert_eq!(bob.sessions(&app, name).await.len(), 1, "{name}: bob is still signed in");
        assert_eq!(ada.sessions(&app, name).await.len(), 1, "{name}");
    }
}
}

on_both_adapters! {
#[tokio::test]
async fn sign_out_everywhere_else_and_everywhere() {
    for (name, store) in stores().await {
        let app = app(Arc::clone(&store));
        let user = unique_user();
        let mut browsers: Vec<Browser> = (0..4).map(|_| Browser::default()).collect();
        for browser in &mut browsers {
            browser.ok(&app, &format!("/login/{user}"), name).await;
        }
        assert_eq!(browsers[0].ok(&app, "/revoke-others", name).await, "3", "{name}");
        let listed = browsers[0].sessions(&app, name).await;
        assert_eq!(listed.len(), 1, "{name}: {listed:?}");
        for browser in &mut browsers[1..] {
            assert_eq!(browser.ok(&app, "/get/passport", name).await, "undefined", "{name}");
        }
        browsers[1].ok(&app, &format!("/login/{user}"), name).await;
        assert_eq!(browsers[0].ok(&app, "/revoke-all", name).await, "2", "{name}");
        for browser in &mut browsers[..2] {
            assert_eq!(browser.ok(&app, "/get/passport", name).await, "undefined", "{name}");
        }
    }
}
}

on_both_adapters! {
#[tokio::test]
async fn another_process_never_serves_a_revoked_session() {
    for (name, store) in stores().await {
        // Two layers on one store: two processes of one service.
        let (first, second) = (app(Arc::clone(&store)), app(Arc::clone(&store)));
        let user = unique_user();
        let (mut laptop, mut phone) = (Browser::default(), Browser::default());
        laptop.ok(&first, &format!("/login/{user}"), name).await;
        phone.ok(&second, &format!("/login/{user}"), name).await;
        assert_eq!(laptop.sessions(&second, name).await.len(), 2, "{name}");
        assert_eq!(laptop.ok(&first, "/revoke-others", name).await, "1", "{name}");
        assert_eq!(phone.ok(&second, "/get/passport", name).await, "undefined", "{name}");
    }
}
}

/// A handler that changes the session, tells the test it is in flight, and
/// waits to be let go: a request in flight when the session is revoked.
#[tokio::test]
async fn a_request_in_flight_cannot_save_a_revoked_session_back() {
    use axum::routing::get;
    use tokio::sync::Notify;

    for (name, store) in stores().await {
        let (in_flight, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (entered, go) = (Arc::clone(&in_flight), Arc::clone(&release));
        let held = move |session: Session| {
            let (entered, go) = (Arc::clone(&entered), Arc::clone(&go));
            async move {
                session.insert("late", "write").expect("insert");
                entered.notify_one();
                go.notified().await;
                "done"
            }
        };
        let routes = axum::Router::new()
            .route("/hold", get(held))
            .fallback(routes);
        let app = support::wrap_tower(routes, support::layer(Arc::clone(&store), config()));
        let user = unique_user();
        let (mut laptop, mut phone) = (Browser::default(), Browser::default());
        let login = format!("/login/{user}");
        for browser in [&mut laptop, &mut phone] {
            let mut request = http::Request::builder().uri(&login);
            if let Some(cookie) = &browser.cookie {
                request = request.header(COOKIE, cookie);
            }
            let res = support::send(
                &app,
                request.body(axum::body::Body::empty()).expect("valid"),
            )
            .await;
            let set = res
                .headers
                .get(SET_COOKIE)
                .expect("a cookie")
                .to_str()
                .expect("ASCII");
            browser.cookie = Some(cookie_pair(set));
        }
        let phone_cookie = phone.cookie.clone().expect("a cookie");
        let held_request = {
            let app = app.clone();
            let cookie = phone_cookie.clone();
            tokio::spawn(async move {
                let request = http::Request::builder()
                    .uri("/hold")
                    .header(COOKIE, cookie)
                    .body(axum::body::Body::empty())
                    .expect("valid");
                support::send(&app, request).await
            })
        };
        in_flight.notified().await;
        let layer = support::layer(Arc::clone(&store), config());
        let revoked = layer
            .user_sessions()
            .revoke_all(&user)
            .await
            .unwrap_or_else(|error| panic!("{name}: {error:?}"));
        assert_eq!(revoked, 2, "{name}");
        release.notify_one();
        let res = held_request.await.expect("the held request");
        assert_eq!(res.status, StatusCode::OK, "{name}: {}", res.body);
        // Nothing resurrected it: a new request with its cookie finds no
        // session, and the user has none.
        assert_eq!(
            layer.user_sessions().count(&user).await.expect("count"),
            0,
            "{name}: the held request saved the revoked session back"
        );
        let request = http::Request::builder()
            .uri("/get/late")
            .header(COOKIE, phone_cookie)
            .body(axum::body::Body::empty())
            .expect("valid");
        let res = support::send(&app, request).await;
        assert_eq!(res.body, "undefined", "{name}");
    }
}

#[tokio::test]
async fn a_sign_in_racing_a_revoke_all_is_listed_or_gone() {
    for (name, store) in stores().await {
        let app = app(Arc::clone(&store));
        let layer = support::layer(Arc::clone(&store), config());
        let user = unique_user();
        for round in 0..10 {
            let mut browsers: Vec<Browser> = (0..4).map(|_| Browser::default()).collect();
            let logins = browsers.iter_mut().map(|browser| {
                let app = &app;
                let login = format!("/login/{user}");
                async move { browser.ok(app, &login, name).await }
            });
            let sessions = layer.user_sessions();
            let (_, revoked) = tokio::join!(
                futures_util::future::join_all(logins),
                sessions.revoke_all(&user)
            );
            revoked.unwrap_or_else(|error| panic!("{name}: {error:?}"));
            // Whatever won, every session still signed in is listed.
            let listed = layer.user_sessions().count(&user).await.expect("count");
            let mut live = 0;
            for browser in &mut browsers {
                if browser.ok(&app, "/get/passport", name).await != "undefined" {
                    live += 1;
                }
            }
            assert_eq!(
                listed, live,
                "{name}: round {round}: live sessions missing from the index"
            );
            layer
                .user_sessions()
                .revoke_all(&user)
                .await
                .expect("clean up");
        }
    }
}

#[tokio::test]
async fn the_limit_per_user_evicts_the_least_recently_active_or_refuses() {
    for (name, store) in stores().await {
        let limited = |limit| {
            let config = config().with_sessions_per_user(Some(limit));
            server(config, Arc::clone(&store), routes)
        };
        let evicting = limited(SessionLimit::EvictOldest(2));
        let user = unique_user();
        let login = format!("/login/{user}");
        let mut browsers: Vec<Browser> = (0..3).map(|_| Browser::default()).collect();
        for browser in &mut browsers {
            browser.ok(&evicting, &login, name).await;
            // Apart in time, so that "least recently active" is one.
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
        let signed_in = |body: &str| body != "undefined";
        assert!(
            !signed_in(&browsers[0].ok(&evicting, "/get/passport", name).await),
            "{name}: the oldest was evicted"
        );
        for browser in &mut browsers[1..] {
            assert!(
                signed_in(&browser.ok(&evicting, "/get/passport", name).await),
                "{name}"
            );
        }
        assert_eq!(
            browsers[1].sessions(&evicting, name).await.len(),
            2,
            "{name}"
        );

        let refusing = limited(SessionLimit::RefuseNew(2));
        let mut late = Browser::default();
        let res = late.get(&refusing, &login).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{name}: {}", res.body);
        assert_eq!(
            late.ok(&refusing, "/get/passport", name).await,
            "undefined",
            "{name}"
        );
        // Signing in again where one is signed in already is no new session.
        browsers[2].ok(&refusing, &login, name).await;
        assert_eq!(
            browsers[1].sessions(&refusing, name).await.len(),
            2,
            "{name}"
        );
    }
}

#[tokio::test]
async fn only_a_sign_in_or_a_new_id_costs_an_index_call() {
    let store = TestStore::new();
    let app = server(config(), store.clone(), routes);
    let mut browser = Browser::default();
    browser.ok(&app, "/set/a/1", "test").await;
    assert_eq!(store.indexes(), 0, "no user, no index");
    browser.ok(&app, "/login/ada", "test").await;
    assert_eq!(store.indexes(), 1, "a sign-in: one index call");
    store.reset_counts();
    for path in ["/get/a", "/set/a/2", "/inc/n", "/touch", "/get/passport"] {
        browser.ok(&app, path, "test").await;
    }
    assert_eq!(store.indexes(), 0, "requests that keep the user cost none");
    browser.ok(&app, "/cycle", "test").await;
    assert_eq!(store.indexes(), 1, "a new ID for a signed-in session: one");
}

#[tokio::test]
async fn the_handle_works_outside_any_request_and_reports_typed_errors() {
    let store = TestStore::new();
    let layer = support::layer(store.clone(), config());
    let app = support::wrap(axum::Router::new().fallback(routes), layer.clone());
    let mut browser = Browser::default();
    browser.ok(&app, "/login/ada", "test").await;
    let sessions = layer.user_sessions();
    let listed = sessions.list("ada").await.expect("a listing");
    assert_eq!(listed.len(), 1);
    assert!(
        !listed[0].current,
        "no session to be current outside a request"
    );
    let forged: SessionRef = "AAAAAAAAAAAAAAAAAAAAAA"
        .parse()
        .expect("the shape of a reference");
    assert!(matches!(
        sessions.revoke("ada", &forged).await,
        Err(RevokeError::UnknownReference)
    ));
    // A store that fails to delete: revoke-all reports what may still be live.
    store.fail(support::store::Op::Destroy, true);
    let error = sessions
        .revoke_all("ada")
        .await
        .expect_err("the store failed");
    assert_eq!(error.revoked, 0);
    assert_eq!(error.still_live, vec![listed[0].reference.clone()]);
    store.fail(support::store::Op::Destroy, false);
    assert_eq!(sessions.revoke_all("ada").await.expect("revoked"), 1);
    // Without a user path, the handle says what is missing.
    let plain = support::layer(TestStore::new(), SessionConfig::new(SECRET));
    assert!(matches!(
        plain.user_sessions().list("ada").await,
        Err(server_session::SessionError::NoUserPath)
    ));
}

on_both_adapters! {
#[tokio::test]
async fn sign_in_details_are_recorded_only_when_asked_for() {
    for record in [false, true] {
        let config = config().with_sign_in_details(record);
        let app = server(config, TestStore::new(), routes);
        let mut browser = Browser::default();
        let login = http::Request::builder()
            .uri("/login/ada")
            .header(http::header::USER_AGENT, "Mozilla/5.0 (X11; Linux x86_64) Test/1.0\t")
            .body(axum::body::Body::empty())
            .expect("valid");
        let res = support::send(&app, login).await;
        let set = res.headers.get(SET_COOKIE).expect("a cookie").to_str().expect("ASCII");
        browser.cookie = Some(cookie_pair(set));
        let listed = browser.sessions(&app, "memory").await;
        assert_eq!(listed.len(), 1);
        if record {
            assert_eq!(
                listed[0]["userAgent"],
                "Mozilla/5.0 (X11; Linux x86_64) Test/1.0",
                "kept, without control characters"
            );
            assert!(listed[0]["signedIn"].is_u64(), "{listed:?}");
        } else {
            assert!(listed[0]["userAgent"].is_null() && listed[0]["signedIn"].is_null());
        }
        // The handler cannot forge them.
        let res = browser.get(&app, "/set/__signIn/x").await;
        assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", res.body);
    }
}
}

#[tokio::test]
async fn the_client_address_is_the_one_the_app_gives() {
    let store = TestStore::new();
    let config = config().with_sign_in_details(true);
    let app = support::wrap_tower(
        axum::Router::new().fallback(routes),
        support::layer(store.clone(), config.clone()),
    );
    let mut login = http::Request::builder()
        .uri("/login/ada")
        .body(axum::body::Body::empty())
        .expect("valid");
    login.extensions_mut().insert(server_session::ClientAddr(
        "192.0.2.7".parse().expect("an address"),
    ));
    support::send(&app, login).await;
    let listed = support::layer(store, config)
        .user_sessions()
        .list("ada")
        .await
        .expect("a listing");
    assert_eq!(listed[0].address.as_deref(), Some("192.0.2.7"));
}

#[tokio::test]
async fn under_hashed_ids_the_listing_and_revocation_still_work() {
    for (name, store) in stores().await {
        let config =
            config().with_hashed_ids_at_rest("a key of at least thirty-two bytes, for hashing");
        let app = server(config, Arc::clone(&store), routes);
        let user = unique_user();
        let (mut laptop, mut phone) = (Browser::default(), Browser::default());
        laptop.ok(&app, &format!("/login/{user}"), name).await;
        phone.ok(&app, &format!("/login/{user}"), name).await;
        let listed = laptop.sessions(&app, name).await;
        assert_eq!(listed.len(), 2, "{name}: {listed:?}");
        let phone_ref = reference(&listed, false);
        let res = laptop.get(&app, &format!("/revoke/{phone_ref}")).await;
        assert_eq!(res.body, "revoked", "{name}");
        assert_eq!(
            phone.ok(&app, "/get/passport", name).await,
            "undefined",
            "{name}"
        );
        assert_eq!(laptop.sessions(&app, name).await.len(), 1, "{name}");
    }
}

#[test]
fn an_invalid_user_path_is_refused_when_the_layer_is_built() {
    for path in [
        "",
        "passport..user",
        "a b",
        "cookie.user",
        "__sessionCreatedAt",
    ] {
        let error = server_session::SessionLayer::new(
            TestStore::new(),
            SessionConfig::new(SECRET).with_user_path(Some(path)),
        )
        .expect_err(path);
        assert_eq!(error.option(), "user_path", "{path}");
    }
}
