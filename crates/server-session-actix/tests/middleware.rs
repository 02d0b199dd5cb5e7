//! What the tower layer refuses, the actix-web middleware refuses the same
//! way, with actix-web's types: bad options when it is built, a missing
//! middleware as a 500 naming it, store failures through the same
//! policies; and a session round trip with express's cookie.

use actix_web::http::header::{COOKIE, RETRY_AFTER, SET_COOKIE};
use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use server_session::{CookieOptions, LoadErrorPolicy, MemoryStore, SessionConfig, StoreError};
use server_session_actix::{Session, SessionError, SessionMiddleware};
use session_test_support::cookie_pair;
use session_test_support::store::{Op, TestStore};

const SECRET: &str = "a secret of at least 32 bytes, for tests";

fn config() -> SessionConfig {
    SessionConfig::new(SECRET)
        .with_cookie(CookieOptions::new().with_max_age(Some(std::time::Duration::from_secs(60))))
}

async fn count(session: Session) -> Result<String, SessionError> {
    let n = session.update("n", |n: Option<u64>| n.unwrap_or(0) + 1)?;
    Ok(n.to_string())
}

async fn saved(session: Session) -> Result<String, SessionError> {
    session.insert("a", 1)?;
    session.save().await?;
    Ok(String::from("saved"))
}

async fn maybe(session: Option<Session>) -> &'static str {
    match session {
        Some(_) => "some",
        None => "none",
    }
}

async fn noop() -> &'static str {
    "ok"
}

/// `GET uri`, with a `Cookie` header when given.
fn get(uri: &str, cookie: Option<&str>) -> actix_http::Request {
    let request = test::TestRequest::get().uri(uri);
    match cookie {
        Some(cookie) => request.insert_header((COOKIE, cookie)),
        None => request,
    }
    .to_request()
}

/// The `name=value` pair of the response's session cookie.
fn cookie_of<B>(response: &actix_web::dev::ServiceResponse<B>) -> String {
    let header = response
        .headers()
        .get(SET_COOKIE)
        .expect("a Set-Cookie")
        .to_str()
        .expect("visible ASCII");
    cookie_pair(header)
}

#[actix_web::test]
async fn a_session_counts_across_requests_with_express_s_cookie() {
    let sessions = SessionMiddleware::new(MemoryStore::new(), config()).expect("valid");
    let app = test::init_service(
        App::new()
            .wrap(sessions.clone())
            .route("/", web::get().to(count)),
    )
    .await;
    let first = test::call_service(&app, get("/", None)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let cookie = cookie_of(&first);
    assert!(cookie.starts_with("connect.sid=s%3A"), "{cookie}");
    assert_eq!(test::read_body(first).await, "1");
    let second = test::call_service(&app, get("/", Some(&cookie))).await;
    assert_eq!(test::read_body(second).await, "2");
    assert_eq!(
        sessions.live_sessions(),
        0,
        "nothing held once requests end"
    );
}

#[actix_web::test]
async fn bad_options_fail_when_the_middleware_is_built() {
    let error = SessionMiddleware::new(MemoryStore::new(), SessionConfig::new(""))
        .expect_err("an empty secret is refused");
    assert_eq!(error.option(), "secret");
}

#[actix_web::test]
async fn a_session_without_the_middleware_is_a_500_naming_it() {
    let app = test::init_service(
        App::new()
            .route("/", web::get().to(count))
            .route("/maybe", web::get().to(maybe)),
    )
    .await;
    let response = test::call_service(&app, get("/", None)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = test::read_body(response).await;
    assert!(
        String::from_utf8_lossy(&body).contains("SessionMiddleware"),
        "{body:?}"
    );
    // actix-web's convention for every extractor: `Option` turns it into None.
    let response = test::call_service(&app, get("/maybe", None)).await;
    assert_eq!(test::read_body(response).await, "none");
}

#[actix_web::test]
async fn a_failed_save_of_a_change_answers_503_with_retry_after() {
    let store = TestStore::failing(Op::Save);
    let sessions = SessionMiddleware::new(store, config()).expect("valid");
    let app = test::init_service(
        App::new()
            .wrap(sessions)
            .route("/", web::get().to(count))
            .route("/saved", web::get().to(saved)),
    )
    .await;
    // The commit-error policy, after the handler.
    let response = test::call_service(&app, get("/", None)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers().get(RETRY_AFTER).expect("Retry-After"),
        "1"
    );
    assert!(
        response.headers().get(SET_COOKIE).is_none(),
        "no cookie for an unstored session"
    );
    // `?` on the handler's own save: the same answer (the commit then
    // finds the change unstored too, and its policy answers).
    let response = test::call_service(&app, get("/saved", None)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers().get(RETRY_AFTER).expect("Retry-After"),
        "1"
    );
}

#[actix_web::test]
async fn session_errors_answer_their_status_with_an_opaque_body() {
    use actix_web::ResponseError as _;
    let unavailable = SessionError::Store(StoreError::Unavailable).error_response();
    assert_eq!(unavailable.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        unavailable.headers().get(RETRY_AFTER).expect("Retry-After"),
        "1"
    );
    let body = actix_web::body::to_bytes(unavailable.into_body())
        .await
        .expect("body");
    assert_eq!(body, "session store unavailable");
    let gone = SessionError::Gone.error_response();
    assert_eq!(gone.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(gone.headers().get(RETRY_AFTER).is_none());
    let body = actix_web::body::to_bytes(gone.into_body())
        .await
        .expect("body");
    assert_eq!(body, "internal server error");
}

#[actix_web::test]
async fn a_failed_load_answers_the_load_error_policy_without_running_the_handler() {
    let store = TestStore::new();
    let app = test::init_service(
        App::new()
            .wrap(
                SessionMiddleware::new(
                    store.clone(),
                    config().with_load_error_policy(LoadErrorPolicy::InternalServerError),
                )
                .expect("valid"),
            )
            .route("/", web::get().to(count)),
    )
    .await;
    let first = test::call_service(&app, get("/", None)).await;
    let cookie = cookie_of(&first);
    store.fail(Op::Load, true);
    let response = test::call_service(&app, get("/", Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        test::read_body(response).await,
        "",
        "the handler did not run"
    );
}

#[actix_web::test]
async fn under_lazy_loading_a_handler_that_takes_no_session_costs_no_store_call() {
    let store = TestStore::new();
    let app = test::init_service(
        App::new()
            .wrap(
                SessionMiddleware::new(store.clone(), config().with_lazy_load(true))
                    .expect("valid"),
            )
            .route("/", web::get().to(count))
            .route("/noop", web::get().to(noop)),
    )
    .await;
    let first = test::call_service(&app, get("/", None)).await;
    let cookie = cookie_of(&first);
    store.reset_counts();
    let response = test::call_service(&app, get("/noop", Some(&cookie))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!((store.loads(), store.touches(), store.saves()), (0, 0, 0));
    // The extractor loads it when a handler asks.
    let response = test::call_service(&app, get("/", Some(&cookie))).await;
    assert_eq!(test::read_body(response).await, "2");
    assert_eq!(store.loads(), 1);
}

#[actix_web::test]
async fn a_handler_response_keeps_its_own_headers_and_gets_the_cookie_after_them() {
    async fn with_cookie(session: Session) -> HttpResponse {
        let _ = session.insert("a", 1);
        HttpResponse::Ok()
            .insert_header((SET_COOKIE, "theirs=1"))
            .body("ok")
    }
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(MemoryStore::new(), config()).expect("valid"))
            .route("/", web::get().to(with_cookie)),
    )
    .await;
    let response = test::call_service(&app, get("/", None)).await;
    let cookies: Vec<_> = response
        .headers()
        .get_all(SET_COOKIE)
        .map(|value| value.to_str().expect("ASCII").to_owned())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert_eq!(cookies[0], "theirs=1", "the handler's first, as express");
    assert!(cookies[1].starts_with("connect.sid=s%3A"), "{cookies:?}");
}
