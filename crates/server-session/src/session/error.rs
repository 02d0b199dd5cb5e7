use http::StatusCode;

use crate::codec::CookieError;
use crate::store::StoreError;

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `reload` found no stored session (express's message).
    #[error("failed to load session")]
    NotFound,
    /// The session was destroyed or unset earlier in this request.
    #[error("the session was destroyed or unset in this request, or ended by another")]
    Gone,
    /// express keeps these names for itself (`cookie`, `id`, `save`, …).
    #[error("`{0}` is a reserved session key (express keeps `cookie`, `id`, `req`, its methods and `Object.prototype`'s names; the layer keeps `__sessionCreatedAt`; see `server_session::store::RESERVED_KEYS`)")]
    ReservedKey(String),
    /// Another writer kept changing the stored session, and the save gave
    /// up (always with [`ConflictPolicy::Fail`](crate::ConflictPolicy::Fail),
    /// and after the last retry with `Merge`).
    #[error("the stored session changed concurrently and the save gave up")]
    Conflict,
    /// A value did not convert to or from JSON; the source says why.
    #[error("session value `{key}` does not convert to or from JSON")]
    Value {
        /// The key of the value.
        key: String,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// The configured `genid` returned an ID the layer cannot use, or only
    /// IDs already taken by stored sessions.
    #[error("generated session id is unusable: {reason}")]
    InvalidId {
        /// What is wrong with it (never the ID itself: it is a credential).
        reason: &'static str,
    },
    /// A user call ([`Session::set_user`](crate::Session::set_user),
    /// [`UserSessions`](crate::UserSessions)) needs
    /// [`SessionConfig::with_user_path`](crate::SessionConfig::with_user_path).
    #[error("no user path is configured (`SessionConfig::with_user_path`)")]
    NoUserPath,
    /// [`Session::sign_in`](crate::Session::sign_in) refused: the user
    /// already has as many live sessions as
    /// [`SessionLimit::RefuseNew`](crate::SessionLimit::RefuseNew) allows.
    #[error("the user already has {max} live sessions, the most allowed")]
    TooManySessions {
        /// The limit.
        max: usize,
    },
    /// The `Set-Cookie` header could not be written (for example a domain
    /// set on the session that is not a valid domain); the source says why.
    #[error("cannot set the session cookie")]
    Cookie(#[from] CookieError),
}

impl SessionError {
    /// The status a handler's `?` answers with (axum's `IntoResponse`):
    ///
    /// | error | status |
    /// |---|---|
    /// | `Store`: connection, timeout, backend error | 503, `Retry-After: 1` |
    /// | `Conflict` (concurrent writers kept winning) | 503, `Retry-After: 1` |
    /// | `Store`: corrupt record, unsupported call | 500 |
    /// | `TooManySessions` (a refused sign-in) | 403 |
    /// | `NotFound`, `Gone`, `ReservedKey`, `Value`, `InvalidId`, `NoUserPath`, `Cookie` | 500 |
    ///
    /// 503 where the same request may well succeed a moment later, 500 where
    /// it will not: those are bugs or bad data for the application to fix.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Store(StoreError::Corrupt { .. } | StoreError::Unsupported(_)) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::Store(_) | Self::Conflict => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManySessions { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body a handler's `?` answers with: what the client may know,
    /// never the cause (it goes to `tracing`).
    #[cfg(any(feature = "axum", feature = "actix"))]
    pub(crate) fn public_body(&self) -> &'static str {
        match self.status() {
            StatusCode::SERVICE_UNAVAILABLE => "session store unavailable",
            StatusCode::FORBIDDEN => "too many sessions: sign out of another one first",
            _ => "internal server error",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// The message names what failed; the source, and only the source,
    /// says why.
    #[test]
    fn the_cause_is_the_source_and_not_in_the_message() {
        let json = serde_json::from_str::<u8>("x").expect_err("not a number");
        let errors = [
            (
                json.to_string(),
                SessionError::Value {
                    key: String::from("visits"),
                    source: json,
                },
            ),
            (
                CookieError::InvalidDomain.to_string(),
                SessionError::Cookie(CookieError::InvalidDomain),
            ),
        ];
        for (cause, error) in errors {
            assert!(!error.to_string().contains(&cause), "{error}");
            assert_eq!(error.source().map(ToString::to_string), Some(cause));
        }
    }
}
