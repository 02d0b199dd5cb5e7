//! express-session 1.19's `test/session.js`, ported: the "req.session
//! .cookie" groups (`.*`, `.originalMaxAge`, `.secure`, `.maxAge`,
//! `.expires`, `.partitioned`; spec §7.2, tests 115–136).

use session_test_support as support;

use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::SET_COOKIE;
use http::{HeaderValue, StatusCode};
use serde_json::Value;
use server_session::__private::SetCookie;
use server_session::{
    CookieOptions, MemoryStore, Priority, SecurePolicy, Session, SessionConfig, SessionLayer,
};

use support::*;

// --- req.session.cookie ---------------------------------------------------

on_both_adapters! {
#[tokio::test]
async fn t115_req_session_cookie_should_serialize_as_parameters() {
    let config = express_config().with_proxy(Some(true));
    let app = server(config, MemoryStore::new(), |session: Session| async move {
        session.cookie().set_http_only(false);
        session.cookie().set_secure(true);
    });

    let res = get_with_headers(&app, "/", &[("x-forwarded-proto", "https")]).await;
    should_set_cookie_without_attribute(&res, "connect.sid", "HttpOnly");
    should_set_cookie_with_attribute(&res, "connect.sid", "Secure");
    res.expect_status(200);
}
}

fn admin_browser_session_server() -> App {
    let config = express_config().with_cookie(CookieOptions::new().with_path("/admin"));
    server(config, MemoryStore::new(), end)
}

on_both_adapters! {
#[tokio::test]
async fn t116_req_session_cookie_should_default_to_a_browser_session_length_cookie() {
    let app = admin_browser_session_server();
    let res = get(&app, "/admin").await;
    should_set_cookie_without_attribute(&res, "connect.sid", "Expires");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t117_req_session_cookie_should_set_cookie_only_once_for_browser_session_cookies() {
    let app = admin_browser_session_server();

    let res = get(&app, "/admin/foo").await;
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);

    let res = get_with_cookie(&app, "/admin", &res.cookie()).await;
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t118_req_session_cookie_should_override_defaults() {
    let options = CookieOptions::new()
        .with_http_only(false)
        .with_max_age(Some(Duration::from_secs(5)))
        .with_path("/admin")
        .with_priority(Some(Priority::High))
        .with_secure(SecurePolicy::Always);
    let config = express_config().with_cookie(options);
    let app = server(config, MemoryStore::new(), |session: Session| async move {
        session.cookie().set_secure(false);
    });

    let res = get(&app, "/admin").await;
    should_set_cookie_with_attribute(&res, "connect.sid", "Expires");
    should_set_cookie_without_attribute(&res, "connect.sid", "HttpOnly");
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "Path", "/admin");
    should_set_cookie_without_attribute(&res, "connect.sid", "Secure");
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "Priority", "High");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t119_req_session_cookie_should_forward_errors_setting_cookie() {
    // express's `expires: new Date(NaN)` fails on every response. A
    // `SystemTime` cannot be NaN, and one past JavaScript's dates (±8.64e15
    // ms), just as invalid to express, is refused when the layer is built.
    let beyond_js_dates = UNIX_EPOCH + Duration::from_millis(9_000_000_000_000_000);
    let refused = SessionLayer::new(
        MemoryStore::new(),
        express_config().with_cookie(CookieOptions::new().with_expires(Some(beyond_js_dates))),
    )
    .expect_err("an expiry past JavaScript's dates");
    assert_eq!(refused.option(), "cookie.expires");

    // What no build can check, a per-request cookie function's options,
    // still fails when the cookie is written, and the error is forwarded.
    let errors = ErrorLog::default();
    let config = errors.install(express_config().with_cookie_fn(|_| {
        CookieOptions::new()
            .with_max_age(Some(MIN))
            .with_domain("bad domain!")
    }));
    let app = server(config, MemoryStore::new(), end);

    let res = get(&app, "/admin").await;
    res.expect_status(200);
    should_not_have_header(&res, "set-cookie");
    assert_eq!(errors.roots(), ["option domain is invalid"]);
}
}

/// upstream's `new Cookie().serialize('previous', 'cookieValue')`.
fn previous_cookie() -> String {
    let mut cookie = SetCookie::new("previous", "cookieValue");
    cookie.path = Some("/");
    cookie.http_only = true;
    cookie.to_header_value().expect("a valid cookie")
}

#[track_caller]
fn assert_previous_cookie_kept_first(res: &Res) {
    should_set_cookie_to_value(res, "previous", "cookieValue");
    let all = set_cookies(&res.headers);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all[1].starts_with("connect.sid="), "{all:?}");
}

on_both_adapters! {
#[tokio::test]
async fn t120_req_session_cookie_should_preserve_cookies_set_before_writehead_is_called() {
    // `res.setHeader('Set-Cookie', …)`: the handler puts the header on its
    // response itself.
    let app = server(express_config(), MemoryStore::new(), || async {
        let mut response = Response::new(Body::empty());
        let value = HeaderValue::from_str(&previous_cookie()).expect("ASCII");
        response.headers_mut().insert(SET_COOKIE, value);
        response
    });

    let res = get(&app, "/").await;
    assert_previous_cookie_kept_first(&res);
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t121_req_session_cookie_should_preserve_cookies_set_in_writehead() {
    // `res.writeHead(200, { 'Set-Cookie': … })`: status and headers given
    // together.
    let app = server(express_config(), MemoryStore::new(), || async {
        (StatusCode::OK, [(SET_COOKIE, previous_cookie())]).into_response()
    });

    let res = get(&app, "/").await;
    assert_previous_cookie_kept_first(&res);
    res.expect_status(200);
}
}

/// upstream's `res.end(JSON.stringify(req.session.cookie.originalMaxAge))`
/// with `maxAge: 2000`.
fn original_max_age_server(store: TestStore) -> App {
    let config = express_config()
        .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_millis(2000))));
    server(config, store, |session: Session| async move {
        serde_json::to_string(&session.cookie().original_max_age_ms()).expect("JSON")
    })
}

// upstream accepts 2000 or 1999 (two clock reads in Node); the layer reads
// the clock once, so exactly 2000 is expected.
on_both_adapters! {
#[tokio::test]
async fn t122_req_session_cookie_originalmaxage_should_equal_original_maxage() {
    let app = original_max_age_server(TestStore::new());
    get(&app, "/").await.expect(200, "2000");
}
}

on_both_adapters! {
#[tokio::test]
async fn t123_req_session_cookie_originalmaxage_should_equal_original_maxage_for_all_requests() {
    let app = original_max_age_server(TestStore::new());

    let res = get(&app, "/").await;
    res.expect(200, "2000");

    tokio::time::sleep(Duration::from_millis(100)).await;
    get_with_cookie(&app, "/", &res.cookie())
        .await
        .expect(200, "2000");
}
}

on_both_adapters! {
#[tokio::test]
async fn t124_req_session_cookie_originalmaxage_should_equal_original_maxage_for_all_requests() {
    // upstream's `SmartStore` returns `cookie.expires` revived as a `Date`
    // rather than an ISO string; here the stored value is rewritten with
    // `expires` as epoch milliseconds, the other form stores revive dates to.
    let store = TestStore::new();
    let app = original_max_age_server(store.clone());

    let res = get(&app, "/").await;
    res.expect(200, "2000");

    let sid = res.sid();
    let record = store.record(&sid).await.expect("stored");
    let expires = record.cookie().expires_ms().expect("an expiry");
    let mut json: Value = serde_json::from_str(&record.to_json()).expect("record JSON");
    json["cookie"]["expires"] = Value::from(expires);
    store.write_raw(&sid, &json.to_string()).await;

    tokio::time::sleep(Duration::from_millis(100)).await;
    let res = get_with_cookie(&app, "/", &res.cookie()).await;
    res.expect(200, "2000");
    // The rewritten record was loaded: a new session would get a cookie.
    should_not_have_header(&res, "set-cookie");
}
}

fn secure_cookie_config() -> SessionConfig {
    express_config().with_cookie(CookieOptions::new().with_secure(SecurePolicy::Always))
}

on_both_adapters! {
#[tokio::test]
async fn t125_req_session_cookie_secure_should_set_cookie_when_secure() {
    // upstream runs a real HTTPS server; the server's `IsSecure` hint is
    // the layer's view of a TLS connection (an `https` request URI is the
    // client's choice, and proves nothing).
    let app = server(secure_cookie_config(), MemoryStore::new(), end);
    let res = get_with_headers(&app, "/", &[("x-secure", "true")]).await;
    should_set_cookie(&res, "connect.sid");
    should_set_cookie_with_attribute(&res, "connect.sid", "Secure");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t126_req_session_cookie_secure_should_not_set_cookie_when_insecure() {
    let app = server(secure_cookie_config(), MemoryStore::new(), end);
    let res = get(&app, "http://express-session.local/").await;
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

/// upstream's ".maxAge" group: one session primed by a first request, then
/// requests whose handler leaves `maxAge` alone (count 1), sets it to
/// 5000 (count 2), then to 3000000000 (count 3). Returns the response to
/// the `steps`-th request after the priming one.
///
/// The `Date` header is added as the response leaves (see
/// `with_date_header`), and each request starts early in a wall-clock
/// second, so `Expires` and `Date`, both truncated to seconds, come from
/// the same second and their difference is exact.
async fn max_age_step(steps: usize) -> Res {
    let config = express_config()
        .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_millis(2000))));
    let app = with_date_header(server(
        config,
        MemoryStore::new(),
        |session: Session| async move {
            // `++req.session.count`: undefined becomes NaN, which no case matches.
            let next = session
                .get::<i64>("count")
                .expect("a number")
                .map(|n| n + 1);
            let count = match next {
                Some(1) => 1,
                Some(2) => {
                    session.cookie().set_max_age_ms(Some(5000));
                    2
                }
                Some(3) => {
                    session.cookie().set_max_age_ms(Some(3_000_000_000));
                    3
                }
                _ => 0,
            };
            session.insert("count", count).expect("insert");
            count.to_string()
        },
    ));

    let primed = get(&app, "/").await;
    primed.expect(200, "0");
    let cookie = primed.cookie();
    let mut last = None;
    for _ in 0..steps {
        avoid_second_boundary().await;
        last = Some(get_with_cookie(&app, "/", &cookie).await);
    }
    last.expect("at least one step")
}

on_both_adapters! {
#[tokio::test]
async fn t127_req_session_cookie_maxage_should_set_cookie_expires_relative_to_maxage() {
    let res = max_age_step(1).await;
    should_set_cookie_to_expire_in(&res, "connect.sid", 2000);
    res.expect(200, "1");
}
}

on_both_adapters! {
#[tokio::test]
async fn t128_req_session_cookie_maxage_should_modify_cookie_expires_when_changed() {
    let res = max_age_step(2).await;
    should_set_cookie_to_expire_in(&res, "connect.sid", 5000);
    res.expect(200, "2");
}
}

on_both_adapters! {
#[tokio::test]
async fn t129_req_session_cookie_maxage_should_modify_cookie_expires_when_changed_to_large_value() {
    let res = max_age_step(3).await;
    should_set_cookie_to_expire_in(&res, "connect.sid", 3_000_000_000);
    res.expect(200, "3");
}
}

on_both_adapters! {
#[tokio::test]
async fn t130_req_session_cookie_expires_when_given_a_date_should_set_absolute() {
    let app = server(
        express_config(),
        MemoryStore::new(),
        |session: Session| async move {
            session.cookie().set_expires(Some(UNIX_EPOCH));
        },
    );

    let res = get(&app, "/").await;
    should_set_cookie_with_attribute_and_value(
        &res,
        "connect.sid",
        "Expires",
        "Thu, 01 Jan 1970 00:00:00 GMT",
    );
    res.expect_status(200);
}
}

/// upstream's `req.session.cookie.expires = null`, and `hit++` when asked.
fn browser_session_by_hand_server(count_hits: bool) -> App {
    server(
        express_config(),
        MemoryStore::new(),
        move |session: Session| async move {
            session.cookie().set_expires(None);
            if count_hits {
                session
                    .update("hit", |hit: Option<u64>| hit.unwrap_or(0) + 1)
                    .expect("update");
            }
        },
    )
}

on_both_adapters! {
#[tokio::test]
async fn t131_req_session_cookie_expires_when_null_should_be_a_browser_session_cookie() {
    let app = browser_session_by_hand_server(false);
    let res = get(&app, "/").await;
    should_set_cookie_without_attribute(&res, "connect.sid", "Expires");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t132_req_session_cookie_expires_when_null_should_not_reset_cookie() {
    let app = browser_session_by_hand_server(false);

    let res = get(&app, "/").await;
    should_set_cookie_without_attribute(&res, "connect.sid", "Expires");
    res.expect_status(200);

    let res = get_with_cookie(&app, "/", &res.cookie()).await;
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t133_req_session_cookie_expires_when_null_should_not_reset_cookie_when_modified() {
    let app = browser_session_by_hand_server(true);

    let res = get(&app, "/").await;
    should_set_cookie_without_attribute(&res, "connect.sid", "Expires");
    res.expect_status(200);

    let res = get_with_cookie(&app, "/", &res.cookie()).await;
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t134_req_session_cookie_partitioned_by_default_should_not_set_partitioned_attribute() {
    let app = server(express_config(), MemoryStore::new(), end);
    let res = get(&app, "/").await;
    should_set_cookie_without_attribute(&res, "connect.sid", "Partitioned");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t135_req_session_cookie_partitioned_when_false_should_not_set_partitioned_attribute() {
    let config = express_config().with_cookie(CookieOptions::new().with_partitioned(false));
    let app = server(config, MemoryStore::new(), end);
    let res = get(&app, "/").await;
    should_set_cookie_without_attribute(&res, "connect.sid", "Partitioned");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t136_req_session_cookie_partitioned_when_true_should_set_partitioned_attribute() {
    let config = express_config().with_cookie(CookieOptions::new().with_partitioned(true));
    let app = server(config, MemoryStore::new(), end);
    let res = get(&app, "/").await;
    should_set_cookie_with_attribute(&res, "connect.sid", "Partitioned");
    res.expect_status(200);
}
}
