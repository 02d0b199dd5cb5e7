//! Server-side sessions for tower and axum that behave like Node's
//! express-session.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
pub mod store;

pub use store::{CookieData, Priority, Record, SameSite, Store, StoreError};
