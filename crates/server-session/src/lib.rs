//! Server-side sessions for tower and axum that behave like Node's
//! express-session, and share its formats.
//!
//! The browser's cookie carries only a signed session ID, in express's
//! `s:<id>.<hmac>` format; the data lives in a [`Store`]. A Node service
//! and a Rust service with the same secret and store share sessions.
//!
//! # A tour of the modules
//!
//! - `codec` (private): the `Cookie` header parser, cookie-signature's
//!   signing, and `Set-Cookie` text, byte for byte as express writes them;
//! - [`config`]: [`SessionConfig`], every express option under its Rust name;
//! - `engine` (private): express's request lifecycle as pure decisions;
//! - [`session`]: the [`Session`] handle handlers use;
//! - [`store`]: the [`Store`] contract and the stored [`Record`], and
//!   [`store::expiry`], the Node stores' expiry arithmetic for store authors;
//! - [`memory_store`]: [`MemoryStore`], fit for production on one process;
//! - [`driver`]: the request lifecycle (start, then commit) every framework
//!   adapter shares;
//! - [`layer`]: the tower [`SessionLayer`], which only translates for the
//!   driver;
//! - [`testing`]: a `Session` for a handler's unit test, and a client that
//!   carries cookies between requests;
//! - the axum extractor for `Session` and `Option<Session>` (feature `axum`).
//!
//! # Quick start
//!
//! ```
//! use axum::{routing::get, Router};
//! use server_session::{MemoryStore, Session, SessionConfig, SessionError, SessionLayer};
//!
//! async fn hello(session: Session) -> Result<String, SessionError> {
//!     let visits = session.update("visits", |n: Option<u64>| n.unwrap_or(0) + 1)?;
//!     Ok(format!("visit number {visits}"))
//! }
//!
//! # fn main() -> Result<(), server_session::ConfigError> {
//! let store = MemoryStore::new();
//! let config = SessionConfig::new("use at least 32 random bytes here!");
//! let app: Router = Router::new()
//!     .route("/", get(hello))
//!     .layer(SessionLayer::new(store, config)?);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! | feature | enables | default |
//! |---|---|---|
//! | `axum` | the `Session` extractor (`axum-core`) | yes |
//! | `actix` | the `Session` extractor for actix-web (use `server-session-actix`, which turns it on) | no |
//! | `conformance` | `server_session::conformance`, the store test kit for store authors | no |
//!
//! # Foreign types in the API
//!
//! `http` (request heads, status codes), `serde_json::Value` and `tower_layer::Layer`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod breaker;
mod clock;
mod codec;
pub mod config;
mod context;
pub mod driver;
mod engine;
#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "actix")]
mod extract_actix;
mod id_tag;
pub mod layer;
pub mod memory_store;
mod secure_hint;
pub mod session;
pub mod store;
pub mod testing;
mod user_path;
pub mod users;

pub use codec::{CookieError, Priority, SameSite};
pub use config::{
    CircuitBreaker, CommitErrorPolicy, ConfigError, ConflictPolicy, CookieOptions,
    CorruptRecordPolicy, ExpressPriority, ExpressSameSite, LoadErrorPolicy, PathMatch,
    SameSitePolicy, SecurePolicy, SessionConfig, SessionLimit, Unset,
};
pub use driver::SessionRejection;
pub use layer::SessionLayer;
pub use memory_store::MemoryStore;
pub use secure_hint::IsSecure;
pub use session::{Session, SessionCookie, SessionError};
#[cfg(feature = "conformance")]
pub use store::conformance;
pub use store::{CookieData, Record, Store, StoreError};
pub use users::UserSessions;

/// Not public API: the codec, for this crate's own tests, benches and fuzz
/// targets. Anything here may change or go in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::codec::{
        decode_uri_component, encode_uri_component, find_cookie, generate_id, parse_cookie_header,
        sign_session_id, unsign_session_id, Secrets, SetCookie,
    };
}

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
