//! [`SessionMiddleware`]: actix-web's request and response, translated for
//! the [`SessionDriver`].

use std::fmt;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::{header, StatusCode, Version};
use actix_web::{Error, HttpMessage, HttpResponse};
use server_session::driver::{Commit, SessionDriver, SessionSlot, Start};
use server_session::{ConfigError, IsSecure, SessionConfig, Store};

/// Gives each request its [`Session`](server_session::Session) and commits
/// it before the response leaves. Register it with `App::wrap`; clone it
/// into each worker's `App` (clones share the store and the sessions in
/// flight).
#[derive(Clone)]
#[must_use]
pub struct SessionMiddleware {
    driver: SessionDriver,
}

impl fmt::Debug for SessionMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionMiddleware")
            .field(&self.driver)
            .finish()
    }
}

impl SessionMiddleware {
    /// A middleware over `store` (an `Arc<dyn Store>` shared with other
    /// code is a store too) with these options.
    ///
    /// # Errors
    /// The [`ConfigError`] [`SessionDriver::new`] gives, naming the first
    /// option that cannot work.
    pub fn new(store: impl Store, config: SessionConfig) -> Result<Self, ConfigError> {
        SessionDriver::new(store, config).map(Self::from_driver)
    }

    /// A middleware over a driver built elsewhere: one driver can serve a
    /// tower layer and this middleware at once.
    pub fn from_driver(driver: SessionDriver) -> Self {
        Self { driver }
    }

    /// The driver the middleware runs requests with.
    pub fn driver(&self) -> &SessionDriver {
        &self.driver
    }

    /// The options the middleware runs with.
    pub fn config(&self) -> &SessionConfig {
        self.driver.config()
    }

    /// The handle on every session of this middleware's users: list a
    /// user's sessions, revoke one, sign out everywhere. See
    /// [`UserSessions`](server_session::UserSessions).
    pub fn user_sessions(&self) -> server_session::UserSessions {
        self.driver().user_sessions()
    }

    /// How many sessions requests in flight hold right now.
    pub fn live_sessions(&self) -> usize {
        self.driver.live_sessions()
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = SessionService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionService {
            inner: Rc::new(service),
            driver: self.driver.clone(),
        }))
    }
}

/// The service [`SessionMiddleware`] wraps around yours.
pub struct SessionService<S> {
    inner: Rc<S>,
    driver: SessionDriver,
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for SessionService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(inner);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let inner = Rc::clone(&self.inner);
        let driver = self.driver.clone();
        Box::pin(async move {
            // One session middleware per request: an outer one already decided.
            let start = if request.extensions().contains::<SessionSlot>() {
                Start::WithoutSession
            } else {
                driver.start(&head_of(&request)).await
            };
            let slot = match start {
                Start::Run(slot) => slot,
                Start::Refuse(status) => {
                    let response = HttpResponse::new(status_of(status));
                    return Ok(request.into_response(response).map_into_right_body());
                }
                // Outside the cookie path, or anything a newer driver adds.
                _ => return Ok(inner.call(request).await?.map_into_left_body()),
            };
            request.extensions_mut().insert(slot.clone());
            let response = inner.call(request).await?;
            Ok(match slot.loaded() {
                Some(session) => apply(driver.commit(&session).await, response),
                None => response.map_into_left_body(),
            })
        })
    }
}

/// The request's head as the driver reads it: `http` 1 types (actix-web 4
/// is built on `http` 0.2), with the secure hint in its extensions.
fn head_of(request: &ServiceRequest) -> http::request::Parts {
    let mut head = http::Request::new(());
    *head.method_mut() =
        http::Method::from_bytes(request.method().as_str().as_bytes()).unwrap_or_default();
    // A target actix-web parsed is a valid URI for `http` 1 too; the path
    // alone (what the path gate reads) is the fallback.
    *head.uri_mut() = request
        .uri()
        .to_string()
        .parse()
        .or_else(|_| request.path().parse())
        .unwrap_or_default();
    *head.version_mut() = match request.version() {
        Version::HTTP_09 => http::Version::HTTP_09,
        Version::HTTP_10 => http::Version::HTTP_10,
        Version::HTTP_2 => http::Version::HTTP_2,
        Version::HTTP_3 => http::Version::HTTP_3,
        _ => http::Version::HTTP_11,
    };
    let headers = head.headers_mut();
    headers.reserve(request.headers().len());
    for (name, value) in request.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    let secure = request
        .extensions()
        .get::<IsSecure>()
        .copied()
        .unwrap_or(IsSecure(request.app_config().secure()));
    head.extensions_mut().insert(secure);
    head.into_parts().0
}

/// actix-web's status for the driver's.
fn status_of(status: http::StatusCode) -> StatusCode {
    StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Carries the commit's outcome onto actix-web's response: the refusal in
/// place of the handler's response, then the headers it appends.
fn apply<B>(commit: Commit, response: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    let mut response = match commit.refusal() {
        Some(status) => {
            let (request, _) = response.into_parts();
            ServiceResponse::new(request, HttpResponse::new(status_of(status)))
                .map_into_right_body()
        }
        None => response.map_into_left_body(),
    };
    for (name, value) in commit.into_headers() {
        // Valid names and values in one version of `http` are valid in the
        // other: the same bytes, checked by the same rules.
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_str().as_bytes()),
            header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
