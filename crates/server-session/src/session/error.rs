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
    #[error("the session was destroyed or unset in this request")]
    Gone,
    /// express keeps these names for itself (`cookie`, `id`, `save`, …).
    #[error("`{0}` is a reserved session key")]
    ReservedKey(String),
    /// Another writer kept changing the stored session, and the save gave
    /// up (always with [`ConflictPolicy::Fail`](crate::ConflictPolicy::Fail),
    /// and after the last retry with `Merge`).
    #[error("the stored session changed concurrently and the save gave up")]
    Conflict,
    /// A value did not convert to or from JSON.
    #[error("session value `{key}` does not convert to or from JSON: {source}")]
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
    /// The `Set-Cookie` header could not be written (for example a domain
    /// set on the session that is not a valid domain).
    #[error("cannot set the session cookie: {0}")]
    Cookie(#[from] CookieError),
}
