//! The request lifecycle of express-session as pure decisions.
//!
//! Nothing here does I/O or knows about tower: the layer asks, then carries
//! the answer out against the store. That keeps every rule of spec §2 in
//! one place, testable with plain `#[test]`s.
//!
//! - [`gate`]: does the request get a session at all (path gate), is it
//!   secure, and which session ID does its cookie carry;
//! - [`transport`]: which session ID the request carries when it may come
//!   in a header too, and which wins;
//! - [`cookie`]: the cookie a new session starts with, and the `Set-Cookie`
//!   header for a session;
//! - [`end`]: at the end of the request, whether to save, touch or destroy,
//!   and whether to send `Set-Cookie` (or the header transport's response
//!   header);
//! - [`absolute`]: the absolute timeout's verdict, and the expiry it caps;
//! - [`touch_after`]: whether an unchanged request may skip its touch.

pub(crate) mod absolute;
pub(crate) mod cookie;
pub(crate) mod end;
pub(crate) mod gate;
pub(crate) mod touch_after;
pub(crate) mod transport;

#[cfg(test)]
mod tests;
