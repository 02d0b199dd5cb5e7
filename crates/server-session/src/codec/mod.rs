//! The session cookie on the wire, byte for byte as express-session writes
//! and reads it.
//!
//! These are pure functions with no I/O. Each one reproduces a piece of Node:
//!
//! - [`Secrets`]: cookie-signature 1.0.7's `sign`/`unsign` (HMAC-SHA256,
//!   unpadded standard base64), with key rotation: the first secret signs,
//!   every secret verifies, and the MAC is compared in constant time;
//! - [`encode_uri_component`] / [`decode_uri_component`]: JavaScript's
//!   functions of the same names;
//! - [`find_cookie`] / [`parse_cookie_header`]: the `cookie` package 0.7.2's
//!   lenient `parse()` of a `Cookie` request header;
//! - [`sign_session_id`] / [`unsign_session_id`]: the `s:<id>.<mac>` value
//!   express-session puts in its cookie;
//! - [`generate_id`]: express-session's default `genid` (uid-safe, 24 bytes);
//! - [`SetCookie`]: the `cookie` package's `serialize()`, which builds the
//!   `Set-Cookie` header value, with the same validation and messages
//!   ([`CookieError`]);
//! - [`SameSite`] and [`Priority`]: the attributes' values, and the JSON
//!   express keeps for them in a record.
//!
//! Hostile input never panics: an unparsable header, a bad escape or a
//! forged signature gives `None` ("no session").
//!
//! The module is private: users get [`SameSite`], [`Priority`] and
//! [`CookieError`] at the crate root, and the crate's tests, benches and
//! fuzz targets reach the rest through the hidden `server_session::__private`.

pub(crate) mod attributes;
mod cookie_header;
mod date;
mod id;
mod set_cookie;
mod signature;
mod uri;

#[cfg(test)]
mod tests;

pub use attributes::{Priority, SameSite};
pub use cookie_header::{find_cookie, parse_cookie_header};
pub(crate) use id::{
    bearer_token, encode_signed, unsign_header_value, unsign_session_id_noting_primary, Unsigned,
};
pub use id::{generate_id, sign_session_id, unsign_session_id};
pub(crate) use set_cookie::{validate_domain, validate_name, validate_path};
pub use set_cookie::{CookieError, SetCookie};
pub use signature::Secrets;
pub use uri::{decode_uri_component, encode_uri_component};
