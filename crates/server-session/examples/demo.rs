//! A small web app with sign-in, a visit counter and sign-out, on the
//! MemoryStore by default.
//!
//! ```text
//! cargo run -p server-session --example demo
//! ```
//!
//! Then open the printed URL. `PORT` picks the port (default 3000), and
//! `--store URL` another store: `redis://127.0.0.1:6379`,
//! `postgres://postgres@127.0.0.1/test`, `mysql://root@127.0.0.1/test`,
//! `sqlite://demo.db` or `redis+cluster://127.0.0.1:7001,127.0.0.1:7002`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Form;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use server_session::{SameSitePolicy, Session, SessionConfig, SessionLayer};

mod support;

/// "Remember me" keeps the session for this long; otherwise the cookie
/// lasts until the browser closes.
const REMEMBER_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn internal(error: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
}

async fn home(session: Session) -> Response {
    let user = match session.get::<String>("user") {
        Ok(user) => user,
        Err(error) => return internal(error),
    };
    let Some(user) = user else {
        return page(
            "Sign in",
            "<form method=\"post\" action=\"/login\">\
             <p><label>Name <input id=\"name\" name=\"name\" required autofocus></label></p>\
             <p><label><input id=\"remember\" type=\"checkbox\" name=\"remember\" value=\"on\"> Remember me for 30 days</label></p>\
             <p><button id=\"signin\" type=\"submit\">Sign in</button></p></form>",
        )
        .into_response();
    };
    let visits = match session.update("visits", |n: Option<u64>| n.unwrap_or(0) + 1) {
        Ok(visits) => visits,
        Err(error) => return internal(error),
    };
    let remembered = session.cookie().expires().is_some();
    page(
        "Welcome",
        &format!(
            "<p>Signed in as <strong id=\"user\">{}</strong>.</p>\
             <p>Visits this session: <span id=\"visits\">{visits}</span></p>\
             <p id=\"remembered\">{}</p>\
             <form method=\"post\" action=\"/logout\"><button id=\"signout\" type=\"submit\">Sign out</button></form>",
            escape(&user),
            if remembered {
                "You will stay signed in for 30 days."
            } else {
                "You will be signed out when the browser closes."
            }
        ),
    )
    .into_response()
}

#[derive(Deserialize)]
struct SignIn {
    name: String,
    remember: Option<String>,
}

async fn login(session: Session, Form(form): Form<SignIn>) -> Response {
    let name = form.name.trim();
    if name.is_empty() {
        return Redirect::to("/").into_response();
    }
    // A new ID on every privilege change defeats session fixation.
    if let Err(error) = session.regenerate().await {
        return internal(error);
    }
    if let Err(error) = session.insert("user", name) {
        return internal(error);
    }
    if form.remember.is_some() {
        session.cookie().set_max_age(Some(REMEMBER_FOR));
    }
    Redirect::to("/").into_response()
}

async fn logout(session: Session) -> Response {
    if let Err(error) = session.destroy().await {
        return internal(error);
    }
    Redirect::to("/").into_response()
}

#[tokio::main]
async fn main() {
    let secret = std::env::var("SESSION_SECRET")
        .unwrap_or_else(|_| String::from("demo secret: set SESSION_SECRET in real deployments"));
    let config = SessionConfig::new(secret)
        .with_cookie(server_session::CookieOptions::new().with_same_site(SameSitePolicy::Lax));
    let mut args = std::env::args().skip(1);
    let mut store_url = String::from("memory");
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--store", Some(url)) => store_url = url,
            _ => {
                eprintln!("usage: demo [--store URL]");
                std::process::exit(2);
            }
        }
    }
    let (store, _background) = match support::store_from_url(&store_url).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("demo: {error}");
            std::process::exit(2);
        }
    };
    let layer = match SessionLayer::from_arc(store, config) {
        Ok(layer) => layer,
        Err(error) => {
            eprintln!("demo: {error}");
            std::process::exit(2);
        }
    };
    let app = Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .layer(layer);

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener =
        match tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("demo: cannot listen on 127.0.0.1:{port}: {error}");
                std::process::exit(2);
            }
        };
    let port = listener.local_addr().map_or(port, |address| address.port());
    println!("demo listening on http://127.0.0.1:{port}/");
    if let Err(error) = axum::serve(listener, app).await {
        eprintln!("demo: {error}");
        std::process::exit(1);
    }
}
