//! The actix-web extractor for [`Session`], and `ResponseError` for the
//! errors a handler meets. The middleware that gives requests their
//! session is in the `server-session-actix` crate.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::driver::{SessionRejection, SessionSlot};
use crate::{Session, SessionError};

/// The body of a 500 when no middleware gave the request a session.
const NO_MIDDLEWARE: &str = "no session for this request: is `SessionMiddleware` installed, and is the path inside the cookie path?";

/// actix-web's status for ours: both crates speak HTTP status codes, over
/// two versions of the `http` crate.
fn status_of(status: http::StatusCode) -> StatusCode {
    StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Takes the request's session, loading it now under lazy loading.
///
/// Take `Option<Session>` in handlers that can do without one: actix-web
/// turns any rejection into `None` there, as it does for every extractor.
impl FromRequest for Session {
    type Error = SessionRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let found = request.extensions().get::<Session>().cloned();
        let slot = request.extensions().get::<SessionSlot>().cloned();
        let request = request.clone();
        Box::pin(async move {
            if let Some(session) = found {
                return Ok(session);
            }
            let slot = slot.ok_or_else(SessionRejection::no_layer)?;
            let session = slot
                .session()
                .await?
                .ok_or_else(SessionRejection::no_layer)?;
            // Later extractors of this request find it at once.
            request.extensions_mut().insert(session.clone());
            Ok(session)
        })
    }
}

/// The rejection's status, with its text (an empty body for a refused
/// lazy load, as the middleware answers a refused load).
impl ResponseError for SessionRejection {
    fn status_code(&self) -> StatusCode {
        status_of(self.status())
    }

    fn error_response(&self) -> HttpResponse {
        tracing::trace!(rejection = "SessionRejection", "{}", self.body_text());
        let body = if self.is_missing_layer() {
            NO_MIDDLEWARE
        } else {
            self.body_text()
        };
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body(body)
    }
}

/// `?` on a [`SessionError`] in an actix-web handler: the status of
/// [`SessionError::status`] with an opaque body (no internal detail
/// reaches the client), and the cause logged with `tracing`.
impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        status_of(self.status())
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        tracing::error!(
            error = self as &dyn std::error::Error,
            status = status.as_u16(),
            "session error in a handler"
        );
        let mut response = HttpResponse::build(status);
        response.content_type("text/plain; charset=utf-8");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((RETRY_AFTER, HeaderValue::from_static("1")));
        }
        response.body(self.public_body())
    }
}
