//! `SESSION_OPTIONS`: express's option names (DESIGN §6) and the keys
//! beyond express (§6.1), read into a [`SessionConfig`].

use std::time::Duration;

use serde_json::{Map, Value};
use server_session::{
    CookieOptions, ExpressPriority, ExpressSameSite, HeaderTransport, SecurePolicy, SessionConfig,
    SessionLimit, Unset,
};

/// The options of `SESSION_OPTIONS` (none when unset).
///
/// # Errors
/// The message names the option whose value is refused.
pub fn config_from_env() -> Result<SessionConfig, String> {
    let options: Value = match std::env::var("SESSION_OPTIONS") {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("SESSION_OPTIONS: {e}"))?,
        Err(_) => Value::Object(Map::new()),
    };
    config_from_options(&options)
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

/// A [`SessionConfig`] builder that takes a boolean option.
type FlagBuilder = fn(SessionConfig, bool) -> SessionConfig;

/// `config` with each boolean option of `flags` that is given (see
/// [`given_flag`]) applied by its builder.
fn with_given_flags(
    mut config: SessionConfig,
    options: &Map<String, Value>,
    flags: &[(&str, FlagBuilder)],
) -> Result<SessionConfig, String> {
    for (name, builder) in flags {
        if let Some(flag) = given_flag(options, name)? {
            config = builder(config, flag);
        }
    }
    Ok(config)
}

/// A duration option in milliseconds: a whole number, at least 1.
fn millis_option(name: &str, value: &Value) -> Result<Duration, String> {
    let ms = value.as_u64().filter(|ms| *ms > 0).ok_or_else(|| {
        format!(
            "{} (a whole number of milliseconds, at least 1)",
            bad_option(name, value)
        )
    })?;
    Ok(Duration::from_millis(ms))
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

/// express's options object → `SessionConfig`, with express 1.x defaults,
/// or the hardened configuration's with `hardened: true`.
///
/// # Errors
/// The message names the option whose value is refused.
pub fn config_from_options(options: &Value) -> Result<SessionConfig, String> {
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
        with_given_flags(
            SessionConfig::hardened(first).with_secrets(&secrets),
            options,
            &[
                ("resave", SessionConfig::with_resave),
                ("saveUninitialized", SessionConfig::with_save_uninitialized),
                ("rolling", SessionConfig::with_rolling),
            ],
        )?
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
            config = config.with_absolute_timeout(Some(millis_option("absoluteTimeout", value)?));
        }
    }
    if let Some(value) = options.get("touchAfter") {
        config = config.with_touch_after(Some(millis_option("touchAfter", value)?));
    }
    if let Some(value) = options.get("userPath") {
        let path = value
            .as_str()
            .ok_or_else(|| format!("{} (a dotted path)", bad_option("userPath", value)))?;
        config = config.with_user_path(Some(path));
    }
    if let Some(value) = options.get("sessionsPerUser") {
        let limit = value
            .get("max")
            .and_then(Value::as_u64)
            .and_then(|max| usize::try_from(max).ok());
        let limit = match (limit, value.get("whenFull").and_then(Value::as_str)) {
            (Some(max), Some("evictOldest") | None) => SessionLimit::EvictOldest(max),
            (Some(max), Some("refuseNew")) => SessionLimit::RefuseNew(max),
            _ => {
                return Err(format!(
                    "{} ({{\"max\": n, \"whenFull\": \"evictOldest\" | \"refuseNew\"}})",
                    bad_option("sessionsPerUser", value)
                ))
            }
        };
        config = config.with_sessions_per_user(Some(limit));
    }
    config = with_given_flags(
        config,
        options,
        &[
            ("signInDetails", SessionConfig::with_sign_in_details),
            ("resignOldSecret", SessionConfig::with_resign_old_secret),
            (
                "clearCookieOnDestroy",
                SessionConfig::with_clear_cookie_on_destroy,
            ),
        ],
    )?;
    if let Some(header) = options.get("header") {
        config = config.with_header(header_from_option(header)?);
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

/// `header` (DESIGN §6.1): the session ID travels in this header instead
/// of the cookie; `"authorization"` (in any case) is `Authorization:
/// Bearer <value>`, answered in `X-Session-Token`, and any other name
/// carries the value as is, both ways. The object form
/// `{"name": "x-session-id", "cookie": true, "response": "x-new-id"}` keeps
/// the cookie besides the header (`cookie`, default false) or answers in
/// another header (`response`). `null` is no header. A name HTTP cannot
/// carry is refused when the layer is built, naming `header`.
fn header_from_option(header: &Value) -> Result<Option<HeaderTransport>, String> {
    let transport = |name: &str| {
        if name.eq_ignore_ascii_case("authorization") {
            HeaderTransport::bearer()
        } else {
            HeaderTransport::named(name)
        }
    };
    match header {
        Value::Null => Ok(None),
        Value::String(name) => Ok(Some(transport(name))),
        Value::Object(fields) => {
            let name = fields
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad_option("header.name", header))?;
            let mut transport = transport(name);
            match fields.get("cookie") {
                None | Some(Value::Null) => {}
                Some(Value::Bool(cookie)) => transport = transport.with_cookie(*cookie),
                Some(other) => return Err(bad_option("header.cookie", other)),
            }
            match fields.get("response") {
                None | Some(Value::Null) => {}
                Some(Value::String(response)) => {
                    transport = transport.with_response_header(response.as_str());
                }
                Some(other) => return Err(bad_option("header.response", other)),
            }
            Ok(Some(transport))
        }
        other => Err(bad_option("header", other)),
    }
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
