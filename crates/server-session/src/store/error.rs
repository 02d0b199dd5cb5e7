use std::time::Duration;

/// A boxed error from a store backend, kept as the `source` of a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store call failed.
///
/// "Not found" and "expired" are never errors: [`Store::load`](crate::Store::load)
/// answers `Ok(None)` for both.
///
/// As in axum-core, the message says what failed and
/// [`source`](std::error::Error::source) says why, never both: print the
/// chain (or log the error as a `&dyn Error`, which `tracing` records with
/// its sources) to see the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached, or the connection broke; the source
    /// is the backend's error.
    #[error("session store connection failed")]
    Connection(#[source] BoxError),
    /// The call did not finish in time.
    #[error("session store call timed out after {0:?}")]
    Timeout(Duration),
    /// The stored bytes are not a session record (for example no `cookie`
    /// field); the source is the parser's error, or what is wrong in words.
    #[error("corrupt session record")]
    Corrupt(#[source] BoxError),
    /// The backend answered with an error, which is the source.
    #[error("session store error")]
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

    /// A corrupt-record error from the parser's error, or from what is
    /// wrong in words (a `&str` or `String`).
    pub fn corrupt(cause: impl Into<BoxError>) -> Self {
        Self::Corrupt(cause.into())
    }

    /// True for errors that a retry may cure (connection loss, timeouts).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connection(_) | Self::Timeout(_) | Self::Unavailable
        )
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
        let parse_error = serde_json::from_str::<u8>("x").expect_err("not a number");
        let cause = parse_error.to_string();
        for error in [
            StoreError::connection(std::io::Error::other("refused by the firewall")),
            StoreError::backend("WRONGTYPE in the reply"),
            StoreError::corrupt("no cookie object"),
            StoreError::corrupt(parse_error),
        ] {
            let source = error.source().expect("a source").to_string();
            assert!(!error.to_string().contains(&source), "{error}: {source}");
            assert!(
                [
                    "refused by the firewall",
                    "WRONGTYPE in the reply",
                    "no cookie object",
                    &cause
                ]
                .contains(&source.as_str()),
                "{source}"
            );
        }
    }
}
