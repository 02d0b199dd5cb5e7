//! The axum extractor for [`Session`].

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use std::sync::Arc;

use crate::layer::deferred::{Deferred, Outcome};
use crate::layer::service::StoreUnavailable;
use crate::{Session, SessionError};

/// The request has no session. Either the store could not give one (it is
/// not ready, or loading failed under
/// [`LoadErrorPolicy::ContinueWithoutSession`](crate::LoadErrorPolicy::ContinueWithoutSession)):
/// 503; or no [`SessionLayer`](crate::SessionLayer) is installed, or the
/// path is outside the cookie path: 500, a setup error. Take
/// `Option<Session>` in handlers that can do without one.
///
/// With [`SessionConfig::with_lazy_load`](crate::SessionConfig::with_lazy_load),
/// the extractor is where the session loads, so a load error arrives here
/// too: the load-error policy's status, with an empty body as the layer
/// answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRejection {
    kind: RejectionKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RejectionKind {
    NoLayer,
    StoreUnavailable,
    LoadFailed(StatusCode),
}

impl SessionRejection {
    /// Whether the store was the cause (rather than the setup).
    pub fn is_store_unavailable(&self) -> bool {
        !matches!(self.kind, RejectionKind::NoLayer)
    }

    /// The status the rejection answers with: 503 when the store was
    /// unavailable, the load-error policy's status when a lazy load failed,
    /// else 500.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            RejectionKind::NoLayer => StatusCode::INTERNAL_SERVER_ERROR,
            RejectionKind::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            RejectionKind::LoadFailed(status) => status,
        }
    }

    /// The text the rejection answers with.
    pub fn body_text(&self) -> &'static str {
        match self.kind {
            RejectionKind::NoLayer => "no session for this request: is `SessionLayer` installed, and is the path inside the cookie path?",
            RejectionKind::StoreUnavailable => "session store unavailable",
            RejectionKind::LoadFailed(_) => "",
        }
    }
}

/// The request's session: the one the layer put in the extensions, or, in
/// lazy mode, the one loaded now. `Ok(None)`: there is none.
async fn session_of(parts: &mut Parts) -> Result<Option<Session>, SessionRejection> {
    if let Some(session) = parts.extensions.get::<Session>() {
        return Ok(Some(session.clone()));
    }
    let Some(deferred) = parts.extensions.get::<Arc<Deferred>>().cloned() else {
        if parts.extensions.get::<StoreUnavailable>().is_some() {
            return Err(SessionRejection {
                kind: RejectionKind::StoreUnavailable,
            });
        }
        return Ok(None);
    };
    match deferred.resolve(parts).await {
        Outcome::Session(session) => {
            // Later extractors of this request find it directly.
            parts.extensions.insert(session.clone());
            Ok(Some(session))
        }
        Outcome::Refused(status) => Err(SessionRejection {
            kind: RejectionKind::LoadFailed(status),
        }),
        Outcome::Unavailable => Err(SessionRejection {
            kind: RejectionKind::StoreUnavailable,
        }),
        Outcome::Abandoned => Ok(None),
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
        session_of(parts).await?.ok_or(SessionRejection {
            kind: RejectionKind::NoLayer,
        })
    }
}

/// `None` outside the cookie path, without a layer, or when the store could
/// give no session; a lazy load that failed under a refusing load-error
/// policy is still a rejection.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match session_of(parts).await {
            Ok(session) => Ok(session),
            Err(rejection) if rejection.kind == RejectionKind::StoreUnavailable => Ok(None),
            Err(rejection) => Err(rejection),
        }
    }
}
