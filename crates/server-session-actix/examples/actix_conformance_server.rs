//! The conformance server (DESIGN §6 and §6.1) on actix-web: the same
//! options, routes, bodies and status codes as the tower/axum
//! `conformance_server`, from the same `session-examples` crate; this file
//! only puts them on actix-web.
//!
//! ```text
//! SESSION_OPTIONS='{"secret":"keyboard cat","cookie":{"maxAge":60000}}' \
//!   cargo run --release -p server-session-actix --example actix_conformance_server
//! ```
//!
//! `PORT` (default 3000; binds 127.0.0.1 and prints `listening on
//! 127.0.0.1:PORT`), `SESSION_OPTIONS`, `SESSION_STORE` and the `X-Secure`
//! request header mean what they mean for `conformance_server`.

use actix_web::dev::Service as _;
use actix_web::http::StatusCode;
use actix_web::{web, App, FromRequest, HttpMessage, HttpRequest, HttpResponse, HttpServer};
use server_session_actix::{IsSecure, Session, SessionMiddleware};
use session_examples::routes::{answer, session_or_none};
use session_examples::{driver_from_env, fail, port_from_env};

const NAME: &str = "actix_conformance_server";

/// Every route: the path picks it, and the session is extracted only if
/// the route uses it.
async fn route(request: HttpRequest) -> HttpResponse {
    let reply = answer(request.path(), async {
        session_or_none(Session::extract(&request).await)
    })
    .await;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(reply.body)
}

fn main() {
    // actix-web's own runtime: one current-thread runtime per worker.
    let result = actix_web::rt::System::new().block_on(async {
        let (driver, _background) = driver_from_env(NAME).await;
        let sessions = SessionMiddleware::from_driver(driver);
        let port = port_from_env();
        let server = HttpServer::new(move || {
            App::new()
                .default_service(web::to(route))
                .wrap(sessions.clone())
                // Outermost: `X-Secure: true|false` is the server's opinion
                // of the connection, express's `req.secure`.
                .wrap_fn(|request, service| {
                    let secure = request
                        .headers()
                        .get("x-secure")
                        .is_some_and(|value| value.as_bytes() == b"true");
                    request.extensions_mut().insert(IsSecure(secure));
                    service.call(request)
                })
        })
        .bind(("127.0.0.1", port))
        .unwrap_or_else(|e| fail(NAME, format!("bind 127.0.0.1:{port}: {e}")));
        let port = server.addrs().first().map_or(port, |a| a.port());
        println!("listening on 127.0.0.1:{port}");
        server.run().await
    });
    if let Err(error) = result {
        fail(NAME, error);
    }
}
