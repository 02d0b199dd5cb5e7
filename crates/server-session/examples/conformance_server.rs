//! express-session semantics over HTTP, so any HTTP client can compare this
//! library with express-session (DESIGN §6, and §6.1 for what goes beyond
//! express).
//!
//! ```text
//! SESSION_OPTIONS='{"secret":"keyboard cat","cookie":{"maxAge":60000}}' \
//!   cargo run --release -p server-session --example conformance_server
//! ```
//!
//! - `PORT` (default 3000); binds 127.0.0.1 and prints `listening on 127.0.0.1:PORT`.
//! - `SESSION_OPTIONS`: express's option names; left-out options take
//!   express 1.x defaults (so `resave` and `saveUninitialized` are true).
//!   A value of the wrong type is refused (exit 2, with the option named).
//! - `SESSION_STORE`: `memory` (default), `redis://…`, `redis+cluster://h:p,h:p`,
//!   `redis+sentinel://h:p,h:p/master`, `postgres://…`, `mysql://…` or `sqlite://…` (Redis prefix `sess:`, SQL
//!   table `session`).
//! - `X-Secure: true|false` request header: express's `req.secure`.
//!
//! Options beyond express (DESIGN §6.1), each off when absent, so that
//! express's own options keep express's behaviour:
//!
//! - `hardened: true`: start from `SessionConfig::hardened(<first secret>)`
//!   instead of express's defaults. The keys given still apply on top; the
//!   ones left out keep the hardened values, not express's: the name stays
//!   `__Host-sid`, `resave` and `saveUninitialized` stay false, `rolling`
//!   stays true, and a `cookie` object changes only the attributes it names
//!   (on `Secure`, `HttpOnly`, `SameSite=Lax` and a 30 min `maxAge`;
//!   `maxAge: null` makes it a browser-session cookie). Every secret must
//!   then be at least 32 bytes (the default `keyboard cat` is refused), and
//!   the hardened checks refuse a cookie browsers would drop.
//! - `absoluteTimeout`: milliseconds (a whole number, at least 1), the hard
//!   maximum lifetime counted from creation; `null` means none (which lifts
//!   hardened's 12 h).
//! - `touchAfter`: milliseconds (a whole number, at least 1): an unchanged
//!   request writes the stored expiry only when it would move by more than
//!   this (`SessionConfig::with_touch_after`).
//! - `resignOldSecret: true`: a cookie an older secret verified is re-issued
//!   signed with the first.
//! - `clearCookieOnDestroy: true`: `/destroy` and `/unset` expire the cookie
//!   (`Expires` in 1970).
//! - `hashIdsAtRest: true`: the store key is a keyed hash of the ID (the key
//!   is derived from the first secret, for this test server only).
//!
//! Routes: DESIGN §6's, and `/cycle`: a new ID with the same data and
//! creation time (`Session::cycle_id`); body: the new ID, or 500 with the
//! error text.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Path, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};
use server_session::{
    CookieOptions, ExpressPriority, ExpressSameSite, IsSecure, SecurePolicy, Session,
    SessionConfig, SessionLayer, Unset,
};

mod support;

type Outcome = Result<String, (StatusCode, String)>;

fn no_session() -> Outcome {
    Ok(String::from("no session"))
}

fn failed(error: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
}

async fn noop() -> &'static str {
    "ok"
}

async fn id(session: Option<Session>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    Ok(session.id())
}

async fn get_key(session: Option<Session>, Path(key): Path<String>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    Ok(match session.get_value(&key) {
        Some(value) => value.to_string(),
        None => String::from("undefined"),
    })
}

async fn set_key(session: Option<Session>, Path((key, value)): Path<(String, String)>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    session.insert(key, value).map_err(failed)?;
    Ok(String::from("ok"))
}

async fn inc_key(session: Option<Session>, Path(key): Path<String>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    let next = session
        .update(key, |n: Option<i64>| n.unwrap_or(0) + 1)
        .map_err(failed)?;
    Ok(next.to_string())
}

async fn del_key(session: Option<Session>, Path(key): Path<String>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    session.remove_value(&key).map_err(failed)?;
    Ok(String::from("ok"))
}

async fn regenerate(session: Option<Session>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    session.regenerate().await.map_err(failed)?;
    Ok(session.id())
}

async fn cycle(session: Option<Session>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    session.cycle_id().await.map_err(failed)?;
    Ok(session.id())
}

async fn destroy(session: Option<Session>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    session.destroy().await.map_err(failed)?;
    Ok(String::from("destroyed"))
}

async fn reload(session: Option<Session>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    session.reload().await.map_err(failed)?;
    Ok(String::from("reloaded"))
}

async fn save(session: Option<Session>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    session.save().await.map_err(failed)?;
    Ok(String::from("saved"))
}

async fn touch(session: Option<Session>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    session.touch();
    Ok(String::from("touched"))
}

async fn unset(session: Option<Session>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    session.unset();
    Ok(String::from("unset"))
}

async fn max_age(session: Option<Session>, Path(ms): Path<String>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    let ms = match ms.as_str() {
        "null" => None,
        text => Some(
            text.parse::<i64>()
                .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?,
        ),
    };
    session.cookie().set_max_age_ms(ms);
    Ok(String::from("ok"))
}

async fn cookie(session: Option<Session>) -> Outcome {
    let Some(session) = session else {
        return no_session();
    };
    serde_json::to_string(&session.cookie().data()).map_err(failed)
}

/// express's `req.secure`, from the `X-Secure` header.
async fn secure_hint(mut request: Request, next: Next) -> Response {
    let secure = request
        .headers()
        .get("x-secure")
        .is_some_and(|value| value.as_bytes() == b"true");
    request.extensions_mut().insert(IsSecure(secure));
    next.run(request).await
}

fn bad_option(option: &str, value: &Value) -> String {
    format!("SESSION_OPTIONS: unsupported value for `{option}`: {value}")
}

/// A boolean option, or `None` when it is absent or `null` (express reads
/// both as "not given").
fn given_flag(options: &Map<String, Value>, name: &str) -> Result<Option<bool>, String> {
    match options.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(bad_option(name, other)),
    }
}

/// express's `secret`: a string or an array of strings (the first signs).
fn secrets_from(options: &Map<String, Value>) -> Result<Vec<String>, String> {
    match options.get("secret") {
        Some(Value::String(secret)) => Ok(vec![secret.clone()]),
        Some(Value::Array(list)) => list
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad_option("secret", s))
            })
            .collect(),
        None => Ok(vec![String::from("keyboard cat")]),
        Some(other) => Err(bad_option("secret", other)),
    }
}

/// The cookie options `SessionConfig::hardened` sets, rebuilt from the
/// public constants: a `cookie` object replaces the config's options as a
/// whole, so the keys it gives must land on these, not on express's
/// defaults, or `cookie: {"maxAge": …}` would silently drop `Secure`.
/// express's options object → `SessionConfig`, with express 1.x defaults,
/// or the hardened configuration's with `hardened: true`.
fn config_from_options(options: &Value) -> Result<SessionConfig, String> {
    let empty = Map::new();
    let options = options.as_object().unwrap_or(&empty);
    let secrets = secrets_from(options)?;
    let hardened = given_flag(options, "hardened")?.unwrap_or(false);
    let mut config = if hardened {
        // An empty `secret` array reaches the layer, which refuses it.
        let first = secrets.first().map_or("", String::as_str);
        // Only the keys given change the hardened values: express's
        // defaults (resave and saveUninitialized true, rolling false) would
        // undo what `hardened` is for.
        let mut config = SessionConfig::hardened(first).with_secrets(&secrets);
        if let Some(resave) = given_flag(options, "resave")? {
            config = config.with_resave(resave);
        }
        if let Some(save) = given_flag(options, "saveUninitialized")? {
            config = config.with_save_uninitialized(save);
        }
        if let Some(rolling) = given_flag(options, "rolling")? {
            config = config.with_rolling(rolling);
        }
        config
    } else {
        SessionConfig::new("unused")
            .with_secrets(&secrets)
            .with_resave(given_flag(options, "resave")?.unwrap_or(true))
            .with_save_uninitialized(given_flag(options, "saveUninitialized")?.unwrap_or(true))
            .with_rolling(given_flag(options, "rolling")?.unwrap_or(false))
    };
    if let Some(name) = options
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        config = config.with_name(name);
    }
    match options.get("unset") {
        Some(Value::String(unset)) if unset == "destroy" => {
            config = config.with_unset(Unset::Destroy)
        }
        None | Some(Value::Null) => {}
        Some(Value::String(unset)) if unset == "keep" => {}
        Some(other) => return Err(bad_option("unset", other)),
    }
    config = config.with_proxy(options.get("proxy").and_then(Value::as_bool));
    if let Some(cookie) = options.get("cookie").and_then(Value::as_object) {
        let base = if hardened {
            CookieOptions::hardened()
        } else {
            CookieOptions::new()
        };
        config = config.with_cookie(cookie_from_options(cookie, base)?);
    }
    match options.get("absoluteTimeout") {
        None => {}
        // `null` is "no absolute timeout": the way to lift hardened's 12 h.
        Some(Value::Null) => config = config.with_absolute_timeout(None),
        Some(value) => {
            let ms = value.as_u64().filter(|ms| *ms > 0).ok_or_else(|| {
                format!(
                    "{} (a whole number of milliseconds, at least 1)",
                    bad_option("absoluteTimeout", value)
                )
            })?;
            config = config.with_absolute_timeout(Some(Duration::from_millis(ms)));
        }
    }
    if let Some(value) = options.get("touchAfter") {
        let ms = value.as_u64().filter(|ms| *ms > 0).ok_or_else(|| {
            format!(
                "{} (a whole number of milliseconds, at least 1)",
                bad_option("touchAfter", value)
            )
        })?;
        config = config.with_touch_after(Some(Duration::from_millis(ms)));
    }
    if let Some(resign) = given_flag(options, "resignOldSecret")? {
        config = config.with_resign_old_secret(resign);
    }
    if let Some(clear) = given_flag(options, "clearCookieOnDestroy")? {
        config = config.with_clear_cookie_on_destroy(clear);
    }
    if given_flag(options, "hashIdsAtRest")? == Some(true) {
        // A test server's key, derived from the first secret so that two
        // servers with the same options find each other's sessions. A real
        // deployment keeps a separate random key.
        let first = secrets.first().map(String::as_str).unwrap_or_default();
        let key = format!("conformance server hashIdsAtRest key for: {first}");
        config = config.with_hashed_ids_at_rest(key);
    }
    Ok(config)
}

/// express's `cookie` object, applied on `base`.
fn cookie_from_options(
    cookie: &Map<String, Value>,
    base: CookieOptions,
) -> Result<CookieOptions, String> {
    let mut cookie_options = base;
    match cookie.get("maxAge") {
        // express's `maxAge: null` is a browser-session cookie; on express's
        // defaults that changes nothing, on hardened's it drops the 30 min.
        Some(Value::Null) => cookie_options = cookie_options.with_max_age(None),
        Some(max_age) => {
            if let Some(max_age) = max_age.as_u64() {
                cookie_options = cookie_options.with_max_age(Some(Duration::from_millis(max_age)));
            }
        }
        None => {}
    }
    if let Some(http_only) = cookie.get("httpOnly").and_then(Value::as_bool) {
        cookie_options = cookie_options.with_http_only(http_only);
    }
    if let Some(path) = cookie.get("path").and_then(Value::as_str) {
        cookie_options = cookie_options.with_path(path);
    }
    if let Some(domain) = cookie.get("domain").and_then(Value::as_str) {
        cookie_options = cookie_options.with_domain(domain);
    }
    if let Some(secure) = cookie.get("secure") {
        cookie_options = cookie_options.with_secure(match secure {
            Value::Bool(true) => SecurePolicy::Always,
            Value::Bool(false) | Value::Null => SecurePolicy::Never,
            Value::String(s) if s == "auto" => SecurePolicy::Auto,
            other => return Err(bad_option("cookie.secure", other)),
        });
    }
    // Kept as given (`true`, `"Lax"`, `"HIGH"`, `null`): new sessions store
    // them so, as express does.
    if let Some(same_site) = cookie.get("sameSite") {
        let same_site = ExpressSameSite::from_json(same_site)
            .ok_or_else(|| bad_option("cookie.sameSite", same_site))?;
        cookie_options = cookie_options.with_express_same_site(same_site);
    }
    if let Some(priority) = cookie.get("priority") {
        let priority = ExpressPriority::from_json(priority)
            .ok_or_else(|| bad_option("cookie.priority", priority))?;
        cookie_options = cookie_options.with_express_priority(priority);
    }
    if let Some(partitioned) = cookie.get("partitioned").and_then(Value::as_bool) {
        cookie_options = cookie_options.with_partitioned(partitioned);
    }
    Ok(cookie_options)
}

fn app(layer: SessionLayer) -> Router {
    Router::new()
        .route("/noop", get(noop))
        .route("/id", get(id))
        .route("/get/{key}", get(get_key))
        .route("/set/{key}/{value}", get(set_key))
        .route("/inc/{key}", get(inc_key))
        .route("/del/{key}", get(del_key))
        .route("/regenerate", get(regenerate))
        .route("/cycle", get(cycle))
        .route("/destroy", get(destroy))
        .route("/reload", get(reload))
        .route("/save", get(save))
        .route("/touch", get(touch))
        .route("/unset", get(unset))
        .route("/maxage/{ms}", get(max_age))
        .route("/cookie", get(cookie))
        .layer(layer)
        .layer(middleware::from_fn(secure_hint))
}

fn fail(message: impl std::fmt::Display) -> ! {
    eprintln!("conformance_server: {message}");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let options: Value = match std::env::var("SESSION_OPTIONS") {
        Ok(text) => {
            serde_json::from_str(&text).unwrap_or_else(|e| fail(format!("SESSION_OPTIONS: {e}")))
        }
        Err(_) => Value::Object(serde_json::Map::new()),
    };
    let config = config_from_options(&options).unwrap_or_else(|e| fail(e));
    let store_url = std::env::var("SESSION_STORE").unwrap_or_else(|_| String::from("memory"));
    let (store, _background) = support::store_from_url(&store_url)
        .await
        .unwrap_or_else(|e| fail(format!("SESSION_STORE: {e}")));
    let layer = SessionLayer::from_arc(store, config).unwrap_or_else(|e| fail(e));

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap_or_else(|e| fail(format!("bind 127.0.0.1:{port}: {e}")));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    println!("listening on 127.0.0.1:{port}");
    if let Err(error) = axum::serve(listener, app(layer)).await {
        fail(error);
    }
}
