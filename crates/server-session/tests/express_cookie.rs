//! express-session 1.19's `test/cookie.js`, ported (spec §7.1): unit tests
//! of `new Cookie(options)`.
//!
//! express's `Cookie` is three things in Rust: [`CookieOptions`] (what a
//! new session's cookie is made from), [`CookieData`] (the cookie as stored,
//! and as read back from a store) and [`SessionCookie`] (a live session's
//! `req.session.cookie`). `new Cookie(options)` is the cookie a session
//! generated under `options` starts with, so [`fresh_cookie`] runs one
//! request through the layer and reads its session's cookie.
//!
//! Test c15 ("maxAge should reject invalid types": `'42'`, `true`, a
//! function) has no Rust analogue: the max age is an `Option<Duration>` by
//! type. It is listed in the README.
//!
//! [`SessionCookie`]: server_session::SessionCookie

use session_test_support as support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use server_session::{
    CookieData, CookieOptions, MemoryStore, Priority, Record, Session, SessionConfig, StoreError,
};

use support::{get, layer, SECRET};

/// What a fresh session's `req.session.cookie` showed in the handler.
#[derive(Clone, Debug)]
struct Fresh {
    data: CookieData,
    expires: Option<SystemTime>,
    max_age_ms: Option<i64>,
    original_max_age_ms: Option<i64>,
    http_only: bool,
    path: String,
    partitioned: bool,
    priority: Option<Priority>,
    /// When the request was sent, in milliseconds since the epoch.
    sent_at_ms: i64,
}

/// `new Cookie(options)`: the cookie of a session generated under
/// `options`, read in the handler before the layer touches it.
async fn fresh_cookie(options: CookieOptions) -> Fresh {
    let seen: Arc<Mutex<Option<Fresh>>> = Arc::default();
    let slot = Arc::clone(&seen);
    let path = options.path().to_owned();
    let config = SessionConfig::new(SECRET).with_cookie(options);
    let app = axum::Router::new()
        .fallback(move |session: Session| {
            let slot = Arc::clone(&slot);
            async move {
                let cookie = session.cookie();
                let fresh = Fresh {
                    data: cookie.data(),
                    expires: cookie.expires(),
                    max_age_ms: cookie.max_age_ms(),
                    original_max_age_ms: cookie.original_max_age_ms(),
                    http_only: cookie.http_only(),
                    path: cookie.path(),
                    partitioned: cookie.partitioned(),
                    priority: cookie.priority(),
                    sent_at_ms: 0,
                };
                *slot.lock().expect("not poisoned") = Some(fresh);
            }
        })
        .layer(layer(MemoryStore::new(), config));
    let sent_at_ms = now_ms();
    get(&app, &path).await.expect_status(200);
    let fresh = seen.lock().expect("not poisoned").take();
    Fresh {
        sent_at_ms,
        ..fresh.expect("the handler ran")
    }
}

fn now_ms() -> i64 {
    ms(SystemTime::now())
}

fn ms(at: SystemTime) -> i64 {
    let since = at.duration_since(UNIX_EPOCH).expect("after 1970");
    i64::try_from(since.as_millis()).expect("fits")
}

#[track_caller]
fn assert_within(actual: i64, expected: i64, tolerance: i64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{actual} is not within {tolerance} of {expected}"
    );
}

// --- new Cookie() ---------------------------------------------------------

#[tokio::test]
async fn c01_new_cookie_should_create_a_new_cookie_object() {
    // An object with express's default fields, in express's order.
    let json = serde_json::to_string(&CookieData::default()).expect("JSON");
    assert_eq!(
        json,
        r#"{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}"#
    );
    assert_eq!(
        fresh_cookie(CookieOptions::new()).await.data,
        CookieData::default()
    );
}

#[tokio::test]
async fn c02_new_cookie_should_default_expires_to_null() {
    assert_eq!(CookieData::default().expires(), None);
    assert_eq!(CookieData::default().expires_ms(), None);
    assert_eq!(fresh_cookie(CookieOptions::new()).await.expires, None);
}

#[tokio::test]
async fn c03_new_cookie_should_default_httponly_to_true() {
    assert!(CookieData::default().http_only());
    assert!(fresh_cookie(CookieOptions::new()).await.http_only);
}

#[tokio::test]
async fn c04_new_cookie_should_default_path_to_root() {
    assert_eq!(CookieOptions::new().path(), "/");
    assert_eq!(CookieData::default().path(), "/");
    assert_eq!(fresh_cookie(CookieOptions::new()).await.path, "/");
}

#[tokio::test]
async fn c05_new_cookie_should_default_maxage_to_null() {
    assert_eq!(CookieOptions::new().max_age(), None);
    assert_eq!(CookieData::default().max_age_ms(now_ms()), None);
    let fresh = fresh_cookie(CookieOptions::new()).await;
    assert_eq!(fresh.max_age_ms, None);
    assert_eq!(fresh.original_max_age_ms, None);
}

// --- new Cookie(options) --------------------------------------------------

#[test]
fn c06_new_cookie_with_options_should_create_a_new_cookie_object() {
    // `new Cookie({})`: an empty object gives the defaults.
    let cookie: CookieData = serde_json::from_str("{}").expect("an empty object is a cookie");
    assert_eq!(cookie, CookieData::default());
}

#[test]
fn c07_new_cookie_with_options_should_reject_non_objects() {
    // express throws `argument options must be a object` for 42, 'foo',
    // true and a function; it builds a stored session's cookie the same
    // way, so a stored `cookie` that is not an object fails. In Rust the
    // options are typed; the stored form is where a non-object can appear.
    for value in ["42", "\"foo\"", "true"] {
        assert!(
            serde_json::from_str::<CookieData>(value).is_err(),
            "{value} is not a cookie"
        );
        let stored = format!(r#"{{"cookie":{value},"a":1}}"#);
        assert!(
            matches!(
                Record::from_json(stored.as_bytes()),
                Err(StoreError::Corrupt { .. })
            ),
            "{stored} is a corrupt record"
        );
    }
}

#[test]
fn c08_new_cookie_with_options_should_ignore_data_option() {
    let cookie: CookieData =
        serde_json::from_str(r#"{"data":{"foo":"bar"},"path":"/foo"}"#).expect("a cookie");
    assert_eq!(cookie.path(), "/foo");
    let json: serde_json::Value = serde_json::to_value(&cookie).expect("JSON");
    assert_eq!(json["path"], "/foo");
    assert!(
        json.get("data").is_none() && json.get("foo").is_none(),
        "{json}"
    );
}

#[tokio::test]
async fn c09_new_cookie_with_options_expires_should_set_expires() {
    // A whole number of milliseconds, the precision express keeps.
    let expires =
        UNIX_EPOCH + Duration::from_millis(u64::try_from(now_ms() + 60_000).expect("positive"));
    let fresh = fresh_cookie(CookieOptions::new().with_expires(Some(expires))).await;
    assert_eq!(fresh.expires, Some(expires));
    assert!(fresh.max_age_ms.is_some(), "maxAge is not null");

    let data = CookieData::default().with_expires_ms(Some(ms(expires)));
    assert_eq!(data.expires(), Some(expires));
}

#[tokio::test]
async fn c10_new_cookie_with_options_expires_should_set_maxage() {
    let expires = SystemTime::now() + Duration::from_millis(60_000);
    let fresh = fresh_cookie(CookieOptions::new().with_expires(Some(expires))).await;
    assert_within(fresh.max_age_ms.expect("a max age"), 60_000, 1000);
}

#[tokio::test]
async fn c11_new_cookie_with_options_httponly_should_set_httponly() {
    let fresh = fresh_cookie(CookieOptions::new().with_http_only(false)).await;
    assert!(!fresh.http_only);
    assert!(!CookieData::default().with_http_only(false).http_only());
}

#[tokio::test]
async fn c12_new_cookie_with_options_maxage_should_set_expires() {
    let max_age = Duration::from_millis(60_000);
    assert_eq!(
        CookieOptions::new().with_max_age(Some(max_age)).max_age(),
        Some(max_age)
    );
    let fresh = fresh_cookie(CookieOptions::new().with_max_age(Some(max_age))).await;
    let expires = ms(fresh.expires.expect("an expiry"));
    assert_within(expires, fresh.sent_at_ms + 60_000, 1000);
}

#[tokio::test]
async fn c13_new_cookie_with_options_maxage_should_set_maxage() {
    let fresh =
        fresh_cookie(CookieOptions::new().with_max_age(Some(Duration::from_millis(60_000)))).await;
    assert_within(fresh.max_age_ms.expect("a number"), 60_000, 1000);
    assert_eq!(fresh.original_max_age_ms, Some(60_000));
}

#[tokio::test]
async fn c14_new_cookie_with_options_maxage_should_accept_date_object() {
    // express takes a `Date` given as `maxAge` as the expiry (deprecated).
    // Rust's form of a date-valued lifetime is `with_expires`, which
    // replaces a max age given before it, as the Date replaces the number.
    let date =
        UNIX_EPOCH + Duration::from_millis(u64::try_from(now_ms() + 60_000).expect("positive"));
    let options = CookieOptions::new()
        .with_max_age(Some(Duration::from_secs(3600)))
        .with_expires(Some(date));
    assert_eq!(options.max_age(), None, "the date replaced the number");
    let fresh = fresh_cookie(options).await;
    assert_eq!(fresh.expires, Some(date));
    assert_within(fresh.max_age_ms.expect("a max age"), 60_000, 1000);
}

#[tokio::test]
async fn c16_new_cookie_with_options_partitioned_should_set_partitioned() {
    let fresh = fresh_cookie(CookieOptions::new().with_partitioned(true)).await;
    assert!(fresh.partitioned);
    assert_eq!(fresh.data.partitioned(), Some(true));
}

#[tokio::test]
async fn c17_new_cookie_with_options_path_should_set_path() {
    let options = CookieOptions::new().with_path("/foo");
    assert_eq!(options.path(), "/foo");
    let fresh = fresh_cookie(options).await;
    assert_eq!(fresh.path, "/foo");
    assert_eq!(fresh.data.path(), "/foo");
}

#[tokio::test]
async fn c18_new_cookie_with_options_priority_should_set_priority() {
    let fresh = fresh_cookie(CookieOptions::new().with_priority(Some(Priority::High))).await;
    assert_eq!(fresh.priority, Some(Priority::High));
    // Kept as given: stored as express stores `'high'`.
    let json = serde_json::to_value(&fresh.data).expect("JSON");
    assert_eq!(json["priority"], "high");
}
