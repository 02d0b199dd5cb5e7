//! [`App`]: the server a ported express-session test talks to, in process,
//! on the case's adapter ([`adapter`](crate::adapter)).
//!
//! - On tower, the routes sit behind the [`SessionLayer`] in an axum
//!   [`Router`], as an axum app holds them.
//! - On actix-web, the same session configuration and store run in the
//!   actix-web [`SessionMiddleware`] of an actix-web `App`, called through
//!   `actix_web::test`. Its default service forwards each request to the
//!   same axum routes (without a session layer), with the session slot the
//!   middleware prepared in the request's extensions. So one handler body
//!   serves both adapters, and everything that makes a session (reading the
//!   cookie, loading, the commit, `Set-Cookie`, refusals) is the actix-web
//!   middleware's. The actix-web extractor itself is tested in
//!   `server-session-actix/tests/middleware.rs`.

use std::time::SystemTime;

use axum::body::Body;
use axum::Router;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use server_session::driver::{SessionDriver, SessionSlot};
use server_session::{IsSecure, SessionLayer};
use server_session_actix::SessionMiddleware;
use tower::ServiceExt as _;

use crate::adapter::{adapter, Adapter};
use crate::Res;

/// The routes behind a session layer (tower) or middleware (actix-web).
#[derive(Clone)]
pub struct App {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Tower(Router),
    Actix(ActixApp),
}

/// What an actix-web app is built from; built per request, which costs
/// nothing that matters here and keeps [`App`] `Send` and `Clone`. Clones
/// of the driver share the store and the in-flight sessions, as one
/// middleware instance does.
#[derive(Clone)]
struct ActixApp {
    driver: SessionDriver,
    routes: Router,
    date_header: bool,
}

impl App {
    /// `routes` behind `session`, on the case's adapter, behind the setup
    /// hook that turns `X-Secure: true|false` into express's `req.secure`.
    pub fn new(routes: Router, session: SessionLayer) -> Self {
        let inner = match adapter() {
            Adapter::Tower => Inner::Tower(crate::wrap_tower(routes, session)),
            Adapter::Actix => Inner::Actix(ActixApp {
                driver: session.driver().clone(),
                routes,
                date_header: false,
            }),
        };
        Self { inner }
    }

    /// A router a test composed itself (nested layers, say): tower only.
    pub fn tower(router: Router) -> Self {
        Self {
            inner: Inner::Tower(router),
        }
    }

    /// Adds a `Date` header once the response (session commit included) is
    /// ready, as an HTTP server does when it writes the response head.
    /// In-process calls have no server, so no `Date` otherwise.
    pub fn with_date_header(self) -> Self {
        let inner = match self.inner {
            Inner::Tower(router) => Inner::Tower(crate::with_date_header_tower(router)),
            Inner::Actix(app) => Inner::Actix(ActixApp {
                date_header: true,
                ..app
            }),
        };
        Self { inner }
    }

    /// Sends `request` and reads the whole response.
    pub async fn send(&self, request: http::Request<Body>) -> Res {
        match &self.inner {
            Inner::Tower(router) => crate::TestApp::send(router, request).await,
            Inner::Actix(app) => app.send(request).await,
        }
    }
}

/// `Date: <now>`, in HTTP's format.
pub(crate) fn date_now() -> HeaderValue {
    let date = httpdate::fmt_http_date(SystemTime::now());
    HeaderValue::from_str(&date).expect("an HTTP date is a valid header value")
}

impl ActixApp {
    async fn send(&self, request: http::Request<Body>) -> Res {
        use actix_web::dev::Service as _;
        use actix_web::{test, web, HttpMessage as _};

        let routes = self.routes.clone();
        let date_header = self.date_header;
        let app = actix_web::App::new()
            .app_data(web::Data::new(routes))
            .default_service(web::to(forward))
            .wrap(SessionMiddleware::from_driver(self.driver.clone()))
            .wrap_fn(|request, service| {
                // upstream's setup hook `req.secure = JSON.parse(req.headers['x-secure'])`.
                if let Some(secure) = x_secure(request.headers().get("x-secure")) {
                    request.extensions_mut().insert(IsSecure(secure));
                }
                service.call(request)
            })
            .wrap_fn(move |request, service| {
                let response = service.call(request);
                async move {
                    let mut response = response.await?;
                    if date_header {
                        let date = actix_value(&date_now());
                        response
                            .headers_mut()
                            .insert(actix_web::http::header::DATE, date);
                    }
                    Ok(response)
                }
            });
        let service = test::init_service(app).await;

        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX)
            .await
            .expect("the test's request body can be read");
        let mut sent = test::TestRequest::default()
            .method(
                actix_web::http::Method::from_bytes(parts.method.as_str().as_bytes())
                    .expect("the test's method is valid"),
            )
            .uri(&parts.uri.to_string())
            .set_payload(body);
        for (name, value) in &parts.headers {
            sent = sent.append_header((name.as_str(), actix_value(value)));
        }

        // An error from the service becomes its response, as actix-web's
        // server does.
        let response = match service.call(sent.to_request()).await {
            Ok(response) => response.map_into_boxed_body().into_parts().1,
            Err(error) => error.error_response(),
        };
        let mut headers = HeaderMap::new();
        for (name, value) in response.headers() {
            headers.append(
                HeaderName::from_bytes(name.as_str().as_bytes()).expect("a header name"),
                HeaderValue::from_bytes(value.as_bytes()).expect("a header value"),
            );
        }
        let status = StatusCode::from_u16(response.status().as_u16()).expect("a status");
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap_or_else(|_| panic!("the response body can be read"));
        Res {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).expect("the test bodies are UTF-8"),
        }
    }
}

/// The value of an `X-Secure` header as express's `req.secure`.
pub(crate) fn x_secure<V: AsRef<[u8]>>(value: Option<V>) -> Option<bool> {
    match value.as_ref().map(AsRef::as_ref) {
        Some(b"true") => Some(true),
        Some(b"false") => Some(false),
        _ => None,
    }
}

/// A header value in actix-web's `http` 0.2 type.
fn actix_value(value: &HeaderValue) -> actix_web::http::header::HeaderValue {
    actix_web::http::header::HeaderValue::from_bytes(value.as_bytes())
        .expect("a valid header value stays valid")
}

/// The actix-web app's default service: the request, with the session slot
/// and the secure hint the middleware and the setup hook left in its
/// extensions, through the axum routes; their response back to actix-web.
async fn forward(
    request: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
    routes: actix_web::web::Data<Router>,
) -> actix_web::HttpResponse {
    use actix_web::HttpMessage as _;

    let mut forwarded = http::Request::builder()
        .method(request.method().as_str())
        .uri(request.uri().to_string());
    for (name, value) in request.headers() {
        forwarded = forwarded.header(name.as_str(), value.as_bytes());
    }
    let mut forwarded = forwarded
        .body(Body::from(body))
        .expect("a request actix-web accepted is valid");
    {
        let extensions = request.extensions();
        if let Some(slot) = extensions.get::<SessionSlot>() {
            forwarded.extensions_mut().insert(slot.clone());
        }
        if let Some(secure) = extensions.get::<IsSecure>() {
            forwarded.extensions_mut().insert(*secure);
        }
    }
    let response = routes
        .get_ref()
        .clone()
        .oneshot(forwarded)
        .await
        .expect("a Router never fails");
    let (parts, body) = response.into_parts();
    let status = actix_web::http::StatusCode::from_u16(parts.status.as_u16())
        .expect("the handler's status is valid");
    let mut answer = actix_web::HttpResponse::build(status);
    for (name, value) in &parts.headers {
        answer.append_header((name.as_str(), actix_value(value)));
    }
    answer.streaming(body.into_data_stream())
}
