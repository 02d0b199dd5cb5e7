use std::time::Duration;

/// A boxed error from a store backend, kept as the `source` of a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store call failed.
///
/// "Not found" and "expired" are never errors: [`Store::load`](crate::Store::load)
/// answers `Ok(None)` for both.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached, or the connection broke.
    #[error("session store connection failed: {0}")]
    Connection(#[source] BoxError),
    /// The call did not finish in time.
    #[error("session store call timed out after {0:?}")]
    Timeout(Duration),
    /// The stored bytes are not a session record (for example no `cookie` field).
    #[error("corrupt session record: {reason}")]
    Corrupt {
        /// What is wrong with the record.
        reason: String,
        /// The parser's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The backend answered with an error.
    #[error("session store error: {0}")]
    Backend(#[source] BoxError),
    /// The store does not implement this optional operation.
    #[error("session store does not support `{0}`")]
    Unsupported(&'static str),
    /// The call was not made: the store's recent calls failed, so the
    /// layer's circuit breaker answers at once instead of waiting on it
    /// until a probe call succeeds (see
    /// [`CircuitBreaker`](crate::config::CircuitBreaker)).
    #[error("session store unavailable: recent calls failed, failing fast until it answers again")]
    Unavailable,
}

impl StoreError {
    /// A backend error from any error value.
    pub fn backend(error: impl Into<BoxError>) -> Self {
        Self::Backend(error.into())
    }

    /// A connection error from any error value.
    pub fn connection(error: impl Into<BoxError>) -> Self {
        Self::Connection(error.into())
    }

    /// A corrupt-record error with a reason and no underlying cause.
    pub fn corrupt(reason: impl Into<String>) -> Self {
        Self::Corrupt {
            reason: reason.into(),
            source: None,
        }
    }

    /// True for errors that a retry may cure (connection loss, timeouts).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connection(_) | Self::Timeout(_) | Self::Unavailable
        )
    }
}
