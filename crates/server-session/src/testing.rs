//! Helpers for testing handlers that use sessions.
//!
//! - [`session`] makes the [`Session`] a request without a cookie would get,
//!   with no server: call a handler with it, then look at what it stored.
//! - [`TestClient`] sends requests through any tower service with the
//!   session layer, and keeps cookies between them as a browser does.
//!
//! The example needs the `axum` feature (on by default).
//!
//! ```
//! use axum::{routing::get, Router};
//! use server_session::testing::{self, TestClient};
//! use server_session::{MemoryStore, Session, SessionConfig, SessionError, SessionLayer};
//!
//! async fn visit(session: Session) -> Result<String, SessionError> {
//!     let n = session.update("visits", |n: Option<u64>| n.unwrap_or(0) + 1)?;
//!     Ok(n.to_string())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A handler on its own:
//! let session = testing::session(MemoryStore::new(), SessionConfig::new("a test secret")).await?;
//! assert_eq!(visit(session.clone()).await?, "1");
//! assert_eq!(session.get::<u64>("visits")?, Some(1));
//!
//! // Through the layer, with the cookie carried from one request to the next:
//! let layer = SessionLayer::new(MemoryStore::new(), SessionConfig::new("a test secret"))?;
//! let app = Router::new().route("/", get(visit)).layer(layer);
//! let mut client = TestClient::new(app);
//! client.get("/").await?;
//! let second = client.get("/").await?;
//! let body = axum::body::to_bytes(second.into_body(), 1024).await?;
//! assert_eq!(&body[..], b"2");
//! assert!(client.cookie("connect.sid").is_some());
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::future::poll_fn;

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderName, HeaderValue, Request, Response};
use tower_service::Service;

use crate::driver::{SessionDriver, Start};
use crate::{ConfigError, HeaderTransport, Session, SessionConfig, Store};

/// The session a `GET /` request without a cookie would get from a layer
/// over `store` with `config`: new, empty, under a fresh ID. Nothing is
/// written until [`Session::save`] is called (no layer commits it).
///
/// # Errors
/// A [`ConfigError`], as [`SessionLayer::new`](crate::SessionLayer::new)
/// would give for `config`.
pub async fn session(store: impl Store, config: SessionConfig) -> Result<Session, ConfigError> {
    let driver = SessionDriver::new(store, config)?;
    let (head, ()) = Request::new(()).into_parts();
    let session = match driver.start(&head).await {
        Start::Run(slot) => slot.loaded(),
        Start::WithoutSession | Start::Refuse(_) => None,
    };
    // Only a store that is not ready, or a custom `genid` returning an
    // unusable ID, stops a request without a cookie from getting one.
    session.ok_or_else(|| {
        ConfigError::invalid(
            "store",
            "the store is not ready, or genid returned an unusable id",
        )
    })
}

/// Sends requests through a service and keeps the cookies it sets, as a
/// browser would (by name; an expired or empty cookie is forgotten). See
/// the [module docs](self) for an example.
#[derive(Clone, Debug)]
pub struct TestClient<S> {
    service: S,
    cookies: BTreeMap<String, String>,
    /// The header transport the client speaks, and the value it holds.
    header: Option<HeldHeader>,
}

/// A session value carried in a header, as a client without cookies holds
/// it.
#[derive(Clone, Debug)]
struct HeldHeader {
    request: HeaderName,
    response: HeaderName,
    bearer: bool,
    value: Option<String>,
}

impl<S> TestClient<S> {
    /// A client for `service` (a `Router`, or any tower service), with no
    /// cookies yet.
    pub fn new(service: S) -> Self {
        Self {
            service,
            cookies: BTreeMap::new(),
            header: None,
        }
    }

    /// Also carries the session in `transport`'s headers, as a client
    /// without cookies does
    /// ([`SessionConfig::with_header`](crate::SessionConfig::with_header)):
    /// it keeps the value the response header brings (forgets it when the
    /// value is empty) and sends it back in the request header, as
    /// `Bearer <value>` for [`HeaderTransport::bearer`].
    ///
    /// Header names that are not valid HTTP header names are ignored, as the
    /// layer refuses them anyway.
    #[must_use]
    pub fn with_header_transport(mut self, transport: &HeaderTransport) -> Self {
        let request = HeaderName::from_bytes(transport.request_header().as_bytes());
        let response = HeaderName::from_bytes(transport.response_header().as_bytes());
        if let (Ok(request), Ok(response)) = (request, response) {
            self.header = Some(HeldHeader {
                request,
                response,
                bearer: transport.is_bearer(),
                value: None,
            });
        }
        self
    }

    /// The session value the client holds for the header transport, if any.
    pub fn header_value(&self) -> Option<&str> {
        self.header.as_ref()?.value.as_deref()
    }

    /// The value of the cookie `name` the client holds, as sent back in
    /// `Cookie` (for the session cookie: the URL-encoded signed ID).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Forgets every cookie, as a browser restart forgets session cookies.
    pub fn clear_cookies(&mut self) {
        self.cookies.clear();
    }

    /// Sends `request` with the held cookies (added to any `Cookie` header it
    /// has), and keeps the cookies the response sets.
    ///
    /// # Errors
    /// The service's error.
    pub async fn send<B, RB>(&mut self, mut request: Request<B>) -> Result<Response<RB>, S::Error>
    where
        S: Service<Request<B>, Response = Response<RB>>,
    {
        if !self.cookies.is_empty() {
            let held = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ");
            // Cookie values the client kept came from valid `Set-Cookie`
            // headers, so they make a valid header value again.
            if let Ok(value) = HeaderValue::try_from(held) {
                request.headers_mut().append(COOKIE, value);
            }
        }
        if let Some(held) = &self.header {
            let value = held.value.as_ref().map(|value| match held.bearer {
                true => format!("Bearer {value}"),
                false => value.clone(),
            });
            if let Some(Ok(value)) = value.map(HeaderValue::try_from) {
                request.headers_mut().insert(held.request.clone(), value);
            }
        }
        poll_fn(|cx| self.service.poll_ready(cx)).await?;
        let response = self.service.call(request).await?;
        for header in response.headers().get_all(SET_COOKIE) {
            if let Ok(text) = header.to_str() {
                self.keep(text);
            }
        }
        if let Some(held) = &mut self.header {
            if let Some(Ok(value)) = response.headers().get(&held.response).map(|v| v.to_str()) {
                held.value = (!value.is_empty()).then(|| value.to_owned());
            }
        }
        Ok(response)
    }

    /// `GET uri` with the held cookies and an empty axum body (feature
    /// `axum`; [`send`](Self::send) takes any request).
    ///
    /// # Errors
    /// The service's error.
    #[cfg(feature = "axum")]
    pub async fn get<RB>(&mut self, uri: &str) -> Result<Response<RB>, S::Error>
    where
        S: Service<Request<axum_core::body::Body>, Response = Response<RB>>,
    {
        let mut request = Request::new(axum_core::body::Body::empty());
        if let Ok(uri) = uri.parse() {
            *request.uri_mut() = uri;
        }
        self.send(request).await
    }

    /// Applies one `Set-Cookie` header: keeps the value, or forgets the
    /// cookie when it is empty or already expired.
    fn keep(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        let expired = parts.any(|attribute| {
            let attribute = attribute.trim();
            attribute
                .get(..8)
                .is_some_and(|key| key.eq_ignore_ascii_case("expires="))
                && httpdate::parse_http_date(&attribute[8..])
                    .is_ok_and(|at| at <= std::time::SystemTime::now())
        });
        if value.is_empty() || expired {
            self.cookies.remove(name);
        } else {
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
    }
}
