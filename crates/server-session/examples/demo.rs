//! A small web app on the library's hardened configuration
//! ([`SessionConfig::hardened`]): sign-in, a visit counter, "keep me signed
//! in", and sign-out, on the MemoryStore by default.
//!
//! ```text
//! cargo run -p server-session --example demo
//! ```
//!
//! Then open the printed URL (<http://127.0.0.1:3000/>). `PORT` picks the
//! port (default 3000), `SESSION_SECRET` the signing secret (at least 32
//! bytes; the built-in one is public, so set it in real deployments), and
//! `--store URL` another store: `redis://127.0.0.1:6379`,
//! `postgres://postgres@127.0.0.1/test`, `mysql://root@127.0.0.1/test`,
//! `sqlite://demo.db` or `redis+cluster://127.0.0.1:7001,127.0.0.1:7002`.
//!
//! What the hardened configuration does here:
//! - the cookie is `__Host-sid`: `Secure`, `HttpOnly`, `SameSite=Lax`,
//!   `Path=/`, no `Domain`;
//! - it is persistent, and lasts 30 minutes from the latest request (an
//!   idle timeout: `rolling`), so closing the browser does not sign anyone
//!   out, while walking away for half an hour does;
//! - every session ends 12 hours after sign-in whatever happens (the
//!   absolute timeout; the layer never lets the cookie's expiry pass it);
//! - sign-in draws a new session ID (`regenerate`, against session
//!   fixation) and sign-out deletes the session and expires the cookie in
//!   the browser (`destroy` with `with_clear_cookie_on_destroy`).
//!
//! "Your sessions" (`/sessions`) lists every browser signed in to the
//! account, with its user agent, address and last activity, and signs any
//! of them out, or all but this one ([`UserSessions`](server_session::UserSessions)): the layer keeps a
//! per-user index because the configuration names where the user lives
//! (`with_user_path("user")`), and records each sign-in's client
//! (`with_sign_in_details(true)`).
//!
//! "Keep me signed in" lifts the idle timeout for that one session to the
//! 12-hour limit: the session then simply lasts until 12 hours after
//! sign-in. That trades the 30-minute idle timeout away (which
//! NIST SP 800-63B asks for at AAL2), so offer it only where the risk
//! analysis allows it.
//!
//! The demo serves plain HTTP on the loopback interface only, and tells the
//! layer its requests are secure (see [`loopback_is_secure`]): browsers
//! treat `http://127.0.0.1` as a secure context and keep `Secure` cookies
//! set over it.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Form, Request};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use server_session::config::{HARDENED_ABSOLUTE_TIMEOUT, HARDENED_IDLE_TIMEOUT};
use server_session::users::{RevokeError, SessionInfo, SessionRef};
use server_session::{IsSecure, Session, SessionConfig, SessionError, SessionLayer};

/// The only address the demo listens on; [`loopback_is_secure`] relies on it.
const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The secret when `SESSION_SECRET` is not set. It is in the source for
/// anyone to read, so it protects nothing; it is just long enough for the
/// hardened configuration's 32-byte minimum.
const DEMO_SECRET: &str =
    "demo secret, public in the source: set SESSION_SECRET in real deployments";

/// Where the demo keeps the sign-in time, for the page to show when the
/// absolute timeout ends the session (the layer keeps its own creation time
/// hidden from handlers).
const SIGNED_IN_AT: &str = "signed_in_at_ms";

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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// When a session signed in at `signed_in_at_ms` reaches the absolute
/// timeout, as an HTTP date (the same form as the cookie's `Expires`).
/// `None` past year 9999, which `httpdate` cannot write (it panics): the
/// time comes back from the store, so it is not trusted to be sane.
fn deadline_text(signed_in_at_ms: u64) -> Option<String> {
    const YEAR_10000_S: u64 = 253_402_300_800;
    let deadline = Duration::from_millis(signed_in_at_ms).checked_add(HARDENED_ABSOLUTE_TIMEOUT)?;
    if deadline.as_secs() >= YEAR_10000_S {
        return None;
    }
    Some(httpdate::fmt_http_date(UNIX_EPOCH.checked_add(deadline)?))
}

// `?` answers 503 for store trouble and 500 for a bug, with no detail for
// the client (`SessionError::status`); the cause goes to the log.
async fn home(session: Session) -> Result<Response, SessionError> {
    let Some(user) = session.user() else {
        return Ok(page(
            "Sign in",
            "<form method=\"post\" action=\"/login\">\
             <p><label>Name <input id=\"name\" name=\"name\" required autofocus></label></p>\
             <p><label><input id=\"remember\" type=\"checkbox\" name=\"remember\" value=\"on\"> \
             Keep me signed in for up to 12 hours, even when idle</label></p>\
             <p><button id=\"signin\" type=\"submit\">Sign in</button></p></form>\
             <p id=\"policy\">Otherwise you are signed out after 30 minutes without a visit. \
             Every session ends 12 hours after sign-in.</p>",
        )
        .into_response());
    };
    let visits = session.update("visits", |n: Option<u64>| n.unwrap_or(0) + 1)?;
    let deadline = match session
        .get::<u64>(SIGNED_IN_AT)
        .ok()
        .flatten()
        .and_then(deadline_text)
    {
        Some(deadline) => {
            format!("<span id=\"deadline\">{deadline}</span> (12 hours after sign-in)")
        }
        // Not written by this demo's sign-in: say what holds all the same.
        None => String::from("12 hours after sign-in"),
    };
    // The session's own idle lifetime tells what sign-in chose; the hardened
    // default is 30 minutes.
    let idle_ms = i64::try_from(HARDENED_IDLE_TIMEOUT.as_millis()).unwrap_or(i64::MAX);
    let kept = session
        .cookie()
        .original_max_age_ms()
        .is_some_and(|ms| ms > idle_ms);
    let lifetime = if kept {
        format!("You stay signed in on this browser, even when idle, until {deadline}.")
    } else {
        format!(
            "You will be signed out after 30 minutes without a visit, \
             and at {deadline} at the latest."
        )
    };
    Ok(page(
        "Welcome",
        &format!(
            "<p>Signed in as <strong id=\"user\">{}</strong>.</p>\
             <p>Visits this session: <span id=\"visits\">{visits}</span></p>\
             <p id=\"lifetime\">{lifetime} Closing the browser does not sign you out.</p>\
             <p><a id=\"your-sessions\" href=\"/sessions\">Your sessions</a></p>\
             <form method=\"post\" action=\"/logout\"><button id=\"signout\" type=\"submit\">Sign out</button></form>",
            escape(&user),
        ),
    )
    .into_response())
}

#[derive(Deserialize)]
struct SignIn {
    name: String,
    remember: Option<String>,
}

async fn login(session: Session, Form(form): Form<SignIn>) -> Result<Redirect, SessionError> {
    let name = form.name.trim();
    if name.is_empty() {
        return Ok(Redirect::to("/"));
    }
    // A new ID on every privilege change defeats session fixation. The
    // anonymous session holds nothing worth keeping, so `regenerate` (a new,
    // empty session with a fresh 12-hour lifetime) rather than `cycle_id`.
    session.regenerate().await?;
    // The user at the configured user path, indexed for "Your sessions",
    // and (with `with_sign_in_details`) this browser's user agent and
    // address. `sign_in` also moves to a new ID, which here costs nothing:
    // the regenerated session is not stored yet.
    session.sign_in(name).await?;
    session.insert(SIGNED_IN_AT, now_ms())?;
    if form.remember.is_some() {
        // An idle lifetime as long as the absolute timeout: every request
        // would push the expiry 12 hours ahead, and the layer caps it at 12
        // hours after sign-in, so the session lasts exactly that long.
        session
            .cookie()
            .set_max_age(Some(HARDENED_ABSOLUTE_TIMEOUT));
    }
    Ok(Redirect::to("/"))
}

async fn logout(session: Session) -> Result<Redirect, SessionError> {
    // Deletes the session, and (with the hardened configuration) expires the
    // cookie so the browser forgets the ID at once.
    session.destroy().await?;
    Ok(Redirect::to("/"))
}

/// An HTTP date for a listing's time, or a dash.
fn when(time: Option<SystemTime>) -> String {
    time.map_or_else(|| String::from("–"), httpdate::fmt_http_date)
}

/// One row of "Your sessions".
fn session_row(info: &SessionInfo) -> String {
    let action = if info.current {
        String::from("this browser")
    } else {
        format!(
            "<form method=\"post\" action=\"/sessions/revoke\">\
             <input type=\"hidden\" name=\"reference\" value=\"{}\">\
             <button class=\"revoke\" type=\"submit\">Sign out</button></form>",
            escape(info.reference.as_str())
        )
    };
    format!(
        "<tr class=\"session\" data-current=\"{}\"><td class=\"agent\">{}</td>\
         <td class=\"address\">{}</td><td class=\"active\">{}</td><td>{action}</td></tr>",
        info.current,
        escape(info.user_agent.as_deref().unwrap_or("unknown browser")),
        escape(info.address.as_deref().unwrap_or("–")),
        when(info.last_active),
    )
}

/// "Your sessions": every browser signed in to this account.
async fn sessions(session: Session) -> Result<Response, SessionError> {
    if session.user().is_none() {
        return Ok(Redirect::to("/").into_response());
    }
    let listed = session.user_sessions().list_for(&session).await?;
    let rows: String = listed.iter().map(session_row).collect();
    Ok(page(
        "Your sessions",
        &format!(
            "<table><thead><tr><th>Browser</th><th>Address</th><th>Last active</th><th></th></tr></thead>\
             <tbody>{rows}</tbody></table>\
             <form method=\"post\" action=\"/sessions/revoke-others\">\
             <button id=\"revoke-others\" type=\"submit\">Sign out everywhere else</button></form>\
             <p><a href=\"/\">Back</a></p>"
        ),
    )
    .into_response())
}

#[derive(Deserialize)]
struct Revoke {
    reference: String,
}

/// Signs one of the user's other browsers out. A reference that names no
/// session of this user (forged, stale) changes nothing.
async fn revoke(session: Session, Form(form): Form<Revoke>) -> Result<Redirect, SessionError> {
    let (Some(user), Ok(reference)) = (session.user(), form.reference.parse::<SessionRef>()) else {
        return Ok(Redirect::to("/sessions"));
    };
    match session.user_sessions().revoke(&user, &reference).await {
        Err(RevokeError::Session(error)) => Err(error),
        // Revoked, or named nothing of this user's: back to the list.
        _ => Ok(Redirect::to("/sessions")),
    }
}

/// "Sign out everywhere else".
async fn revoke_others(session: Session) -> Result<Redirect, SessionError> {
    if session.user().is_some() {
        session
            .user_sessions()
            .revoke_others(&session)
            .await
            .map_err(|error| error.source)?;
    }
    Ok(Redirect::to("/sessions"))
}

/// Tells the session layer that every request arrived over a secure
/// connection, so that it sends the `Secure` `__Host-sid` cookie.
///
/// Sound here only because the demo listens on [`LOOPBACK`] alone: its
/// plain-HTTP traffic never leaves the machine, and browsers treat
/// `http://127.0.0.1` and `http://localhost` as secure contexts, keeping
/// `Secure` cookies set over them and sending them back. Never copy this
/// into a server reachable over a network: there, a server that terminates
/// TLS itself inserts `IsSecure(true)` for its TLS connections only, and
/// one behind a TLS-terminating proxy uses `with_proxy(Some(true))` so that
/// the proxy's `X-Forwarded-Proto` decides.
async fn loopback_is_secure(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(IsSecure(true));
    // The peer's address, recorded at sign-in: no proxy stands in front of
    // the demo, so the connection's address is the client's.
    session_examples::axum_handlers::peer_as_client_addr(&mut request);
    next.run(request).await
}

/// The signing secret: `SESSION_SECRET`, or the demo's public one.
fn secret() -> Result<String, String> {
    match std::env::var("SESSION_SECRET") {
        Ok(secret) => Ok(secret),
        Err(std::env::VarError::NotPresent) => {
            eprintln!(
                "demo: using the demo's public secret; set SESSION_SECRET \
                 (at least 32 random bytes) in real deployments"
            );
            Ok(String::from(DEMO_SECRET))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(String::from("SESSION_SECRET is not valid UTF-8"))
        }
    }
}

#[tokio::main]
async fn main() {
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
    let secret = match secret() {
        Ok(secret) => secret,
        Err(error) => {
            eprintln!("demo: {error}");
            std::process::exit(2);
        }
    };
    let config = SessionConfig::hardened(secret)
        .with_user_path(Some("user"))
        .with_sign_in_details(true);
    let (store, _background) = match session_examples::stores::store_from_url(&store_url).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("demo: {error}");
            std::process::exit(2);
        }
    };
    // Building the layer checks the configuration: a SESSION_SECRET under
    // 32 bytes is refused here, with the reason.
    let layer = match SessionLayer::from_arc(store, config) {
        Ok(layer) => layer,
        Err(error) if error.option() == "secret" => {
            eprintln!(
                "demo: {} (SESSION_SECRET)",
                session_examples::stores::Chain(&error)
            );
            std::process::exit(2);
        }
        Err(error) => {
            eprintln!("demo: {}", session_examples::stores::Chain(&error));
            std::process::exit(2);
        }
    };
    let app = Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/sessions", get(sessions))
        .route("/sessions/revoke", post(revoke))
        .route("/sessions/revoke-others", post(revoke_others))
        .layer(layer)
        // Added last, so it runs first: the session layer sees the hint.
        .layer(middleware::from_fn(loopback_is_secure));

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = match tokio::net::TcpListener::bind(SocketAddr::from((LOOPBACK, port))).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("demo: cannot listen on {LOOPBACK}:{port}: {error}");
            std::process::exit(2);
        }
    };
    let port = listener.local_addr().map_or(port, |address| address.port());
    println!("demo listening on http://{LOOPBACK}:{port}/");
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(error) = axum::serve(listener, app).await {
        eprintln!("demo: {error}");
        std::process::exit(1);
    }
}
