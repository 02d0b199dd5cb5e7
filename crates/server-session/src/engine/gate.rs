use std::sync::Arc;

use http::header::COOKIE;
use http::request::Parts;
use http::HeaderMap;

use crate::codec::{self, Secrets};
use crate::config::PathMatch;
use crate::IsSecure;

/// Whether a request for `request_path` falls inside the cookie path, so
/// that the layer gives it a session.
pub(crate) fn path_matches(request_path: &str, cookie_path: &str, mode: PathMatch) -> bool {
    let request_path = if request_path.is_empty() {
        "/"
    } else {
        request_path
    };
    let cookie_path = if cookie_path.is_empty() {
        "/"
    } else {
        cookie_path
    };
    let Some(rest) = request_path.strip_prefix(cookie_path) else {
        return false;
    };
    match mode {
        PathMatch::Prefix => true,
        PathMatch::Rfc6265 => {
            rest.is_empty() || cookie_path.ends_with('/') || rest.starts_with('/')
        }
    }
}

/// express's `issecure(req)`, with the server's [`IsSecure`] hint standing
/// for both `req.connection.encrypted` and `req.secure`.
///
/// `proxy: false` trusts nothing, `proxy: true` trusts the first
/// `X-Forwarded-Proto` value, and an unset `proxy` asks the hint. The
/// request URI's scheme is never consulted: a client chooses it (an
/// absolute-form target `https://…` sent over plain HTTP/1.1), so it
/// proves nothing about the connection.
pub(crate) fn is_secure(parts: &Parts, proxy: Option<bool>) -> bool {
    match proxy {
        Some(false) => false,
        None => parts
            .extensions
            .get::<IsSecure>()
            .is_some_and(|hint| hint.0),
        Some(true) => parts
            .headers
            .get("x-forwarded-proto")
            .map(|value| value.as_bytes())
            .map(|value| value.split(|&b| b == b',').next().unwrap_or(value))
            .is_some_and(|first| first.trim_ascii().eq_ignore_ascii_case(b"https")),
    }
}

/// A validly signed session ID from the request's cookie or header.
pub(crate) struct SignedId {
    pub(crate) id: Arc<str>,
    /// The signed text (`<id>.<mac>`, no `s:`) when the signing secret
    /// verified it: a `Set-Cookie` or response header for this ID can send
    /// it back as is instead of signing again.
    pub(crate) signed_value: Option<Arc<str>>,
}

impl SignedId {
    fn new(unsigned: codec::Unsigned<'_>) -> Option<Self> {
        // An empty ID is no session, as in express, where it is falsy.
        if unsigned.id.is_empty() {
            return None;
        }
        Some(Self {
            id: Arc::from(unsigned.id),
            signed_value: unsigned.by_first_secret.then(|| Arc::from(unsigned.signed)),
        })
    }
}

/// What the request's session cookie (or header) says.
pub(crate) enum Lookup {
    /// No cookie of that name (no such header).
    Absent,
    /// A value that no secret verifies (forged, tampered, signed with a
    /// retired secret, or not signed): no session.
    Rejected,
    /// A validly signed session ID.
    Found(SignedId),
}

impl Lookup {
    pub(crate) fn found(unsigned: Option<codec::Unsigned<'_>>) -> Self {
        match unsigned.and_then(SignedId::new) {
            Some(found) => Self::Found(found),
            None => Self::Rejected,
        }
    }
}

/// The session ID a request's cookie carries, if it is signed with one of
/// the secrets. Repeated `Cookie` headers count as one joined header, where
/// the first occurrence of the name wins, as in Node.
pub(crate) fn session_id_from_cookie(headers: &HeaderMap, name: &str, secrets: &Secrets) -> Lookup {
    let Some(value) = headers
        .get_all(COOKIE)
        .iter()
        .find_map(|header| codec::find_cookie(header.as_bytes(), name))
    else {
        return Lookup::Absent;
    };
    Lookup::found(codec::unsign_session_id_noting_primary(&value, secrets))
}
