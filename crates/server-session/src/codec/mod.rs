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
//!   ([`CookieError`]).
//!
//! Hostile input never panics: an unparsable header, a bad escape or a
//! forged signature gives `None` ("no session").
//!
//! # Example
//!
//! ```
//! use server_session::codec::{
//!     find_cookie, generate_id, sign_session_id, unsign_session_id, Secrets, SetCookie,
//! };
//!
//! // The first secret signs; the second still verifies cookies signed before a rotation.
//! let secrets = Secrets::new(["keyboard cat", "an older secret"]).expect("at least one secret");
//!
//! // Issue a cookie for a fresh session.
//! let id = generate_id();
//! let value = sign_session_id(&id, &secrets);
//! let header = SetCookie {
//!     name: "connect.sid",
//!     value: &value,
//!     path: Some("/"),
//!     http_only: true,
//!     ..SetCookie::default()
//! }
//! .to_header_value()?;
//! assert_eq!(header, format!("connect.sid={value}; Path=/; HttpOnly"));
//!
//! // The browser sends it back among other cookies.
//! let cookie_header = format!("theme=dark; connect.sid={value}");
//! let found = find_cookie(cookie_header.as_bytes(), "connect.sid").expect("cookie present");
//! assert_eq!(unsign_session_id(&found, &secrets), Some(id.as_str()));
//!
//! // A tampered value is simply "no session".
//! let forged = find_cookie(b"connect.sid=s%3Aadmin.AAAA", "connect.sid").expect("present");
//! assert_eq!(unsign_session_id(&forged, &secrets), None);
//! # Ok::<(), server_session::codec::CookieError>(())
//! ```

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
pub(crate) use id::unsign_session_id_noting_primary;
pub use id::{generate_id, sign_session_id, unsign_session_id};
pub use set_cookie::{validate_domain, validate_name, validate_path, CookieError, SetCookie};
pub use signature::Secrets;
pub use uri::{decode_uri_component, encode_uri_component};
