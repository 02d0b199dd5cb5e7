//! Server-side sessions for actix-web that behave like Node's
//! express-session, and share its formats: the actix-web adapter of
//! [`server_session`].
//!
//! [`SessionMiddleware`] gives each request its [`Session`] and commits it
//! before the response leaves; `Session` is an extractor. The middleware
//! only translates between actix-web and the framework-free
//! [`SessionDriver`], which the tower
//! layer uses too: the same options, stores, failure policies and
//! no-lost-updates guarantee, byte for byte the same cookies and records.
//!
//! ```
//! use actix_web::{web, App, HttpServer};
//! use server_session_actix::{MemoryStore, Session, SessionConfig, SessionError, SessionMiddleware};
//!
//! async fn count(session: Session) -> Result<String, SessionError> {
//!     let visits = session.update("visits", |n: Option<u64>| n.unwrap_or(0) + 1)?;
//!     Ok(format!("visit number {visits}"))
//! }
//!
//! # fn main() -> Result<(), server_session_actix::ConfigError> {
//! let sessions = SessionMiddleware::new(MemoryStore::new(), SessionConfig::new("a long random secret"))?;
//! let app = move || App::new().wrap(sessions.clone()).route("/", web::get().to(count));
//! # let _ = app;
//! // HttpServer::new(app).bind(("127.0.0.1", 8080))?.run().await
//! # Ok(())
//! # }
//! ```
//!
//! # actix-web's conventions
//!
//! - A handler that takes `Session` without the middleware gets a 500 that
//!   names `SessionMiddleware`; when the store could give no session, a
//!   503. `Option<Session>` turns either into `None`, as actix-web does for
//!   every extractor.
//! - `?` on a [`SessionError`] answers its [`status`](SessionError::status)
//!   with an opaque body, through actix-web's `ResponseError`.
//! - Register the middleware with `wrap` like any other. Middleware
//!   registered after it (outer) sees the response with the session's
//!   `Set-Cookie` on it.
//! - `req.app_config().secure()` (a TLS listener) is the "request is secure"
//!   hint, express's `req.secure`; a [`IsSecure`] in the request's
//!   extensions, put there by an earlier middleware, overrides it.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod middleware;

pub use middleware::{SessionMiddleware, SessionService};
pub use server_session::{
    driver::SessionDriver, CommitErrorPolicy, ConfigError, ConflictPolicy, CookieOptions,
    CorruptRecordPolicy, IsSecure, LoadErrorPolicy, MemoryStore, SameSitePolicy, SecurePolicy,
    Session, SessionConfig, SessionCookie, SessionError, SessionRejection, Store, StoreError,
    Unset,
};
