//! The tower middleware: [`SessionLayer`] and [`SessionService`].
//!
//! For each request inside the cookie path, the service reads the signed
//! session cookie, loads the session (only when the signature is valid),
//! puts a [`Session`](crate::Session) into the request extensions, runs the
//! inner service, and then saves, touches or destroys the session and
//! appends `Set-Cookie`, following express-session's rules. The store work
//! finishes before the response is handed on, so a client that sees the
//! response can rely on the session being saved.
//!
//! The service only translates between tower and the
//! [`SessionDriver`](crate::driver::SessionDriver), which makes every
//! session decision, for the actix-web middleware too.
//!
//! ```
//! use axum::{routing::get, Router};
//! use server_session::{MemoryStore, Session, SessionConfig, SessionLayer};
//!
//! async fn count(session: Session) -> String {
//!     let n = session.update("n", |n: Option<u64>| n.unwrap_or(0) + 1).unwrap_or(0);
//!     format!("visit {n}")
//! }
//!
//! # fn main() -> Result<(), server_session::ConfigError> {
//! let layer = SessionLayer::new(MemoryStore::new(), SessionConfig::new("a long random secret"))?;
//! let app: Router = Router::new().route("/", get(count)).layer(layer);
//! # Ok(())
//! # }
//! ```

mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::SessionLayer;
pub use service::SessionService;
