//! The axum extractor for [`Session`].

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::driver::{SessionRejection, SessionSlot};
use crate::{Session, SessionError};

/// The request's session: the one the layer put in the extensions, or, in
/// lazy mode, the one loaded now. `Ok(None)`: there is none.
async fn session_of(parts: &mut Parts) -> Result<Option<Session>, SessionRejection> {
    if let Some(session) = parts.extensions.get::<Session>() {
        return Ok(Some(session.clone()));
    }
    let Some(slot) = parts.extensions.get::<SessionSlot>().cloned() else {
        return Ok(None);
    };
    let session = slot.session().await?;
    if let Some(session) = &session {
        // Later extractors of this request find it at once.
        parts.extensions.insert(session.clone());
    }
    Ok(session)
}

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
        tracing::error!(
            error = &self as &dyn std::error::Error,
            status = status.as_u16(),
            "session error in a handler"
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let retry = [(http::header::RETRY_AFTER, "1")];
            return (status, retry, self.public_body()).into_response();
        }
        (status, self.public_body()).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        session_of(parts)
            .await?
            .ok_or_else(SessionRejection::no_layer)
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
            Err(rejection) if rejection.is_no_session() => Ok(None),
            Err(rejection) => Err(rejection),
        }
    }
}
