//! express-session semantics over HTTP, so any HTTP client can compare this
//! library with express-session (DESIGN §6, and §6.1 for what goes beyond
//! express).
//!
//! ```text
//! SESSION_OPTIONS='{"secret":"keyboard cat","cookie":{"maxAge":60000}}' \
//!   cargo run --release -p server-session --example conformance_server
//! ```
//!
//! - `PORT` (default 3000); binds 127.0.0.1 and prints `listening on 127.0.0.1:PORT`.
//! - `SESSION_OPTIONS`: express's option names; left-out options take
//!   express 1.x defaults (so `resave` and `saveUninitialized` are true).
//!   A value of the wrong type is refused (exit 2, with the option named).
//! - `SESSION_STORE`: `memory` (default), `redis://…`, `redis+cluster://h:p,h:p`,
//!   `redis+sentinel://h:p,h:p/master`, `postgres://…`, `mysql://…` or `sqlite://…` (Redis prefix `sess:`, SQL
//!   table `session`).
//! - `X-Secure: true|false` request header: express's `req.secure`.
//!
//! Options beyond express (DESIGN §6.1), each off when absent, so that
//! express's own options keep express's behaviour:
//!
//! - `hardened: true`: start from `SessionConfig::hardened(<first secret>)`
//!   instead of express's defaults. The keys given still apply on top; the
//!   ones left out keep the hardened values, not express's: the name stays
//!   `__Host-sid`, `resave` and `saveUninitialized` stay false, `rolling`
//!   stays true, and a `cookie` object changes only the attributes it names
//!   (on `Secure`, `HttpOnly`, `SameSite=Lax` and a 30 min `maxAge`;
//!   `maxAge: null` makes it a browser-session cookie). Every secret must
//!   then be at least 32 bytes (the default `keyboard cat` is refused), and
//!   the hardened checks refuse a cookie browsers would drop.
//! - `absoluteTimeout`: milliseconds (a whole number, at least 1), the hard
//!   maximum lifetime counted from creation; `null` means none (which lifts
//!   hardened's 12 h).
//! - `touchAfter`: milliseconds (a whole number, at least 1): an unchanged
//!   request writes the stored expiry only when it would move by more than
//!   this (`SessionConfig::with_touch_after`).
//! - `resignOldSecret: true`: a cookie an older secret verified is re-issued
//!   signed with the first.
//! - `clearCookieOnDestroy: true`: `/destroy` and `/unset` expire the cookie
//!   (`Expires` in 1970).
//! - `hashIdsAtRest: true`: the store key is a keyed hash of the ID (the key
//!   is derived from the first secret, for this test server only).
//!
//! Routes: DESIGN §6's, and `/cycle`: a new ID with the same data and
//! creation time (`Session::cycle_id`); body: the new ID, or 500 with the
//! error text.
//!
//! The options, the routes and the stores are the `session-examples`
//! crate's, shared with the actix-web server
//! (`cargo run -p server-session-actix --example actix_conformance_server`):
//! this file only puts them on axum.

use std::net::SocketAddr;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use server_session::{IsSecure, SessionLayer};
use session_examples::axum_handlers::{peer_as_client_addr, route};
use session_examples::{driver_from_env, fail, port_from_env};

const NAME: &str = "conformance_server";

/// Every route: the path picks it, and the session is extracted only if
/// the route uses it.
async fn secure_hint(mut request: Request, next: Next) -> Response {
    let secure = request
        .headers()
        .get("x-secure")
        .is_some_and(|value| value.as_bytes() == b"true");
    request.extensions_mut().insert(IsSecure(secure));
    // The peer's address, for `signInDetails`: no proxy is trusted here.
    peer_as_client_addr(&mut request);
    next.run(request).await
}

#[tokio::main]
async fn main() {
    let (driver, _background) = driver_from_env(NAME).await;
    let app = Router::new()
        .fallback(route)
        .layer(SessionLayer::from_driver(driver))
        .layer(middleware::from_fn(secure_hint));

    let port = port_from_env();
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap_or_else(|e| fail(NAME, format!("bind 127.0.0.1:{port}: {e}")));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    println!("listening on 127.0.0.1:{port}");
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(error) = axum::serve(listener, app).await {
        fail(NAME, error);
    }
}
