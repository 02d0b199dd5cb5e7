//! The axum extractor for [`Session`].

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::layer::service::StoreUnavailable;
use crate::{Session, SessionError};

/// The request has no session. Either the store could not give one (it is
/// not ready, or loading failed under
/// [`LoadErrorPolicy::ContinueWithoutSession`](crate::LoadErrorPolicy::ContinueWithoutSession)):
/// 503; or no [`SessionLayer`](crate::SessionLayer) is installed, or the
/// path is outside the cookie path: 500, a setup error. Take
/// `Option<Session>` in handlers that can do without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRejection {
    store_unavailable: bool,
}

impl SessionRejection {
    /// Whether the store was the cause (rather than the setup).
    pub fn is_store_unavailable(&self) -> bool {
        self.store_unavailable
    }

    /// The status the rejection answers with: 503 when the store was the
    /// cause, else 500.
    pub fn status(&self) -> StatusCode {
        if self.store_unavailable {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }

    /// The text the rejection answers with.
    pub fn body_text(&self) -> &'static str {
        if self.store_unavailable {
            "session store unavailable"
        } else {
            "no session for this request: is `SessionLayer` installed, and is the path inside the cookie path?"
        }
    }
}

impl std::fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.body_text())
    }
}

impl std::error::Error for SessionRejection {}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        tracing::trace!(rejection = "SessionRejection", "{}", self.body_text());
        (self.status(), self.body_text()).into_response()
    }
}

/// `?` on a [`SessionError`] in an axum handler: the status of
/// [`SessionError::status`] with an opaque body (no internal detail reaches
/// the client), and the cause logged with `tracing`.
///
/// ```
/// use server_session::{Session, SessionError};
///
/// async fn visits(session: Session) -> Result<String, SessionError> {
///     let visits = session.update("visits", |n: Option<u64>| n.unwrap_or(0) + 1)?;
///     Ok(format!("visit number {visits}"))
/// }
/// # let _: axum::routing::MethodRouter = axum::routing::get(visits);
/// ```
impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        let status = self.status();
        tracing::error!(error = %self, status = status.as_u16(), "session error in a handler");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let retry = [(http::header::RETRY_AFTER, "1")];
            return (status, retry, "session store unavailable").into_response();
        }
        (status, "internal server error").into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| SessionRejection {
                store_unavailable: parts.extensions.get::<StoreUnavailable>().is_some(),
            })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Session>().cloned())
    }
}
