//! Test support shared by the workspace's test suites (not published).
//!
//! The crate root is the harness of express-session's `test/session.js`, in
//! Rust: a server ([`App`]) built from the real [`SessionLayer`] and a real
//! axum [`Router`], or from the actix-web middleware on the same routes
//! ([`adapter`]), the request and `Set-Cookie` helpers the upstream tests use,
//! a fault-injecting store ([`store`]), and an error log standing
//! in for the server's `'error'` event ([`errors`]). [`node`] runs the
//! conformance servers, Rust and express, side by side; [`node_fixtures`]
//! holds what express-session and its Node stores wrote, for every store
//! crate's fixture tests; [`services`] what the store crates' tests share.
//!
//! Upstream's `createServer(options, handler)` becomes [`server`] with
//! [`express_config`]: `cookie: { maxAge: 60000 }` unless a test sets cookie
//! options, secret `keyboard cat`, and `resave` / `saveUninitialized` both
//! `true` (express 1.x's defaults, which our `SessionConfig` does not share,
//! so they are set explicitly here).

pub mod adapter;
pub mod app;
pub mod backend_tests;
#[cfg(feature = "sql")]
pub mod connect_pg_simple;
pub mod cookie_client;
pub mod cookies;
pub mod errors;
pub mod node;
pub mod node_fixtures;
pub mod services;
pub mod store;
#[cfg(feature = "stores")]
pub mod stores;

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::Request;
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use http::header::{COOKIE, DATE};
use http::{HeaderMap, Method, StatusCode};
use server_session::{CookieOptions, IsSecure, SessionConfig, SessionLayer, Store};
use tower::ServiceExt as _;

pub use self::app::App;
pub use self::cookie_client::CookieClient;
pub use self::cookies::*;
pub use self::errors::ErrorLog;
pub use self::store::TestStore;

/// The secret upstream's `createSession` adds when a test sets none.
pub const SECRET: &str = "keyboard cat";

/// One minute, upstream's `min`.
pub const MIN: Duration = Duration::from_secs(60);

/// upstream's default `cookie: { maxAge: 60 * 1000 }`.
pub fn default_cookie() -> CookieOptions {
    CookieOptions::new().with_max_age(Some(MIN))
}

/// upstream's `createSession({})`: secret `keyboard cat`, `maxAge` one
/// minute, and express 1.x's `resave: true`, `saveUninitialized: true`.
pub fn express_config() -> SessionConfig {
    SessionConfig::new(SECRET)
        .with_resave(true)
        .with_save_uninitialized(true)
        .with_cookie(default_cookie())
}

/// A layer that must build; the tests that check refusals call
/// `SessionLayer::new` themselves.
pub fn layer(store: impl Store, config: SessionConfig) -> SessionLayer {
    SessionLayer::new(store, config).expect("the test's session options are valid")
}

/// upstream's `createServer(setup, options, respond)`: every path goes to
/// `handler`, behind the session layer (or actix-web middleware, on the
/// case's adapter), behind the setup hook that turns an
/// `X-Secure: true|false` header into express's `req.secure` ([`IsSecure`]).
pub fn server<H, T>(config: SessionConfig, store: impl Store, handler: H) -> App
where
    H: Handler<T, ()>,
    T: 'static,
{
    wrap(Router::new().fallback(handler), layer(store, config))
}

/// Puts the session layer (or middleware) and the `X-Secure` setup hook
/// around `routes`, on the case's adapter.
pub fn wrap(routes: Router, session: SessionLayer) -> App {
    App::new(routes, session)
}

/// [`wrap`] on tower only, as an axum [`Router`]: for tests that add
/// layers of their own or spawn their requests.
pub fn wrap_tower(routes: Router, session: SessionLayer) -> Router {
    routes
        .layer(session)
        .layer(middleware::from_fn(x_secure_setup))
}

/// upstream's default handler, `res.end()`: 200 with an empty body.
pub async fn end() {}

/// The session's data keys, sorted and comma-joined: what a handler
/// answers so a test can compare the keys it set.
pub fn sorted_keys(session: &server_session::Session) -> String {
    let mut keys = session.keys();
    keys.sort();
    keys.join(",")
}

/// The session's `user` string, or `none`: how the tests read back what
/// their `/set` routes stored.
pub async fn read_user(session: server_session::Session) -> String {
    session
        .get::<String>("user")
        .expect("a string")
        .unwrap_or_else(|| String::from("none"))
}

/// upstream's `respond` in the `req.secure` groups: `String(req.secure)`.
pub async fn echo_secure(secure: Option<axum::Extension<IsSecure>>) -> &'static str {
    match secure {
        Some(axum::Extension(IsSecure(true))) => "true",
        Some(axum::Extension(IsSecure(false))) => "false",
        None => "undefined",
    }
}

/// upstream's setup hook `req.secure = JSON.parse(req.headers['x-secure'])`.
async fn x_secure_setup(mut request: Request, next: Next) -> Response {
    if let Some(secure) = app::x_secure(request.headers().get("x-secure")) {
        request.extensions_mut().insert(IsSecure(secure));
    }
    next.run(request).await
}

/// Adds a `Date` header once the response is ready ([`App::with_date_header`]).
pub fn with_date_header(app: App) -> App {
    app.with_date_header()
}

/// [`with_date_header`] on tower.
fn with_date_header_tower(app: Router) -> Router {
    app.layer(middleware::from_fn(
        |request: Request, next: Next| async move {
            let mut response = next.run(request).await;
            response.headers_mut().insert(DATE, app::date_now());
            response
        },
    ))
}

/// A response, with its body read to the end.
#[derive(Debug)]
pub struct Res {
    /// The status code.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, read to the end.
    pub body: String,
}

impl Res {
    /// upstream's `cookie(res)`: the whole first `Set-Cookie` string,
    /// attributes included, to send back verbatim as the `Cookie` header.
    pub fn cookie(&self) -> String {
        first_set_cookie(&self.headers)
            .expect("the response should have a Set-Cookie header")
            .to_owned()
    }

    /// upstream's `sid(res)`.
    pub fn sid(&self) -> String {
        sid(&self.headers).expect("the response should carry a session id")
    }

    /// upstream's `expires(res)`: the first cookie's `Expires` attribute.
    pub fn expires(&self) -> Option<String> {
        let header = first_set_cookie(&self.headers)?;
        parse_set_cookie(header)
            .attribute("expires")
            .map(str::to_owned)
    }

    /// Asserts upstream's `.expect(status, body)`.
    #[track_caller]
    pub fn expect(&self, status: u16, body: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "status (body {:?})",
            self.body
        );
        assert_eq!(self.body, body, "body");
    }

    /// Asserts upstream's `.expect(status)`.
    #[track_caller]
    pub fn expect_status(&self, status: u16) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "status (body {:?})",
            self.body
        );
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// What a test sends requests to: an [`App`] on the case's adapter, or an
/// axum [`Router`] a test built itself (whose calls stay `Send`, for tests
/// that spawn them).
pub trait TestApp {
    /// Sends `request` and reads the whole response.
    fn send(&self, request: http::Request<Body>) -> impl std::future::Future<Output = Res>;
}

impl TestApp for App {
    fn send(&self, request: http::Request<Body>) -> impl std::future::Future<Output = Res> {
        App::send(self, request)
    }
}

impl TestApp for Router {
    async fn send(&self, request: http::Request<Body>) -> Res {
        let response = self
            .clone()
            .oneshot(request)
            .await
            .expect("a Router never fails");
        read(response).await
    }
}

/// Sends `request` to `app` and reads the whole response.
pub async fn send(app: &impl TestApp, request: http::Request<Body>) -> Res {
    app.send(request).await
}

/// Reads a response to the end.
pub async fn read(response: Response) -> Res {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("the response body can be read");
    Res {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(bytes.to_vec()).expect("the test bodies are UTF-8"),
    }
}

/// A request builder, for tests that set their own headers.
pub fn req(method: Method, uri: &str) -> http::request::Builder {
    http::Request::builder().method(method).uri(uri)
}

/// A request with no body.
pub fn build(builder: http::request::Builder) -> http::Request<Body> {
    builder
        .body(Body::empty())
        .expect("the test's request is valid")
}

/// `GET uri`.
pub async fn get(app: &impl TestApp, uri: &str) -> Res {
    send(app, build(req(Method::GET, uri))).await
}

/// `GET uri` with `Cookie: cookie`.
pub async fn get_with_cookie(app: &impl TestApp, uri: &str, cookie: &str) -> Res {
    send(app, build(req(Method::GET, uri).header(COOKIE, cookie))).await
}

/// `GET uri` with extra headers.
pub async fn get_with_headers(app: &impl TestApp, uri: &str, headers: &[(&str, &str)]) -> Res {
    let mut builder = req(Method::GET, uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    send(app, build(builder)).await
}

/// Sleeps until `after` past the next whole second, as upstream's
/// `setTimeout(…, 1000 - (Date.now() % 1000) + 200)`, so that two
/// `Expires` values written on either side differ.
pub async fn sleep_past_next_second(after: Duration) {
    let into_second = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .subsec_millis();
    let wait = Duration::from_millis(u64::from(1000 - into_second)) + after;
    tokio::time::sleep(wait).await;
}

/// Waits, if needed, so that the next few hundred milliseconds stay within
/// one wall-clock second: two times truncated to seconds (a cookie's
/// `Expires` and the `Date` header) then come from the same second.
pub async fn avoid_second_boundary() {
    let into_second = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .subsec_millis();
    if into_second > 600 {
        let wait = Duration::from_millis(u64::from(1000 - into_second) + 20);
        tokio::time::sleep(wait).await;
    }
}

/// A streamed body: each chunk after its delay, as a handler that calls
/// `res.write` and later `res.end` sends it.
pub fn chunked_body(chunks: &[(&'static str, Duration)]) -> Body {
    use futures_util::StreamExt as _;
    let chunks = futures_util::stream::iter(chunks.to_vec()).then(|(chunk, wait)| async move {
        tokio::time::sleep(wait).await;
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from_static(chunk.as_bytes()))
    });
    Body::from_stream(chunks)
}

/// upstream's recurring handler
/// `req.session.num = req.session.num || ++count; res.end('session ' + req.session.num)`.
pub fn num_server(config: SessionConfig, store: impl Store) -> App {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    server(config, store, move |session: server_session::Session| {
        let count = std::sync::Arc::clone(&count);
        async move {
            let num = match session.get::<u64>("num").expect("num is a number") {
                Some(num) if num != 0 => num,
                _ => count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1,
            };
            session.insert("num", num).expect("num can be stored");
            format!("session {num}")
        }
    })
}
