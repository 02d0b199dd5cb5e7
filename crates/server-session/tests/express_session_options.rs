//! express-session 1.19's `test/session.js`, ported: the option groups
//! "proxy option", "cookie option", "genid option", "key option" and
//! "name option" (spec §7.2, tests 30–68).
//!
//! Test 60 ("genid should reject non-function values") has no Rust
//! analogue: `genid` is a closure by type. It is listed in the README.

use session_test_support as support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::Uri;
use axum::routing::any;
use axum::Router;
use server_session::{CookieOptions, MemoryStore, SameSitePolicy, SecurePolicy, SessionConfig};

use support::*;

fn five_ms() -> Option<Duration> {
    Some(Duration::from_millis(5))
}

// --- proxy option ---------------------------------------------------------

fn proxy_enabled_server() -> App {
    let config = express_config().with_proxy(Some(true)).with_cookie(
        CookieOptions::new()
            .with_secure(SecurePolicy::Always)
            .with_max_age(five_ms()),
    );
    server(config, MemoryStore::new(), end)
}

on_both_adapters! {
#[tokio::test]
async fn t030_proxy_option_when_enabled_should_trust_x_forwarded_proto_when_string() {
    let app = proxy_enabled_server();
    let res = get_with_headers(&app, "/", &[("x-forwarded-proto", "https")]).await;
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t031_proxy_option_when_enabled_should_trust_x_forwarded_proto_when_comma_separated_list() {
    let app = proxy_enabled_server();
    let res = get_with_headers(&app, "/", &[("x-forwarded-proto", "https,http")]).await;
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t032_proxy_option_when_enabled_should_work_when_no_header() {
    let app = proxy_enabled_server();
    let res = get(&app, "/").await;
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

/// The "when disabled" / "when unspecified" servers: `cookie: { secure:
/// true }`, `req.secure` from `X-Secure`, and a handler echoing it.
fn secure_cookie_server(proxy: Option<bool>) -> App {
    let config = express_config()
        .with_proxy(proxy)
        .with_cookie(CookieOptions::new().with_secure(SecurePolicy::Always));
    server(config, MemoryStore::new(), echo_secure)
}

on_both_adapters! {
#[tokio::test]
async fn t033_proxy_option_when_disabled_should_not_trust_x_forwarded_proto() {
    let app = secure_cookie_server(Some(false));
    let res = get_with_headers(&app, "/", &[("x-forwarded-proto", "https")]).await;
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t034_proxy_option_when_disabled_should_ignore_req_secure() {
    let app = secure_cookie_server(Some(false));
    let headers = [("x-forwarded-proto", "https"), ("x-secure", "true")];
    let res = get_with_headers(&app, "/", &headers).await;
    should_not_have_header(&res, "set-cookie");
    res.expect(200, "true");
}
}

on_both_adapters! {
#[tokio::test]
async fn t035_proxy_option_when_unspecified_should_not_trust_x_forwarded_proto() {
    let app = secure_cookie_server(None);
    let res = get_with_headers(&app, "/", &[("x-forwarded-proto", "https")]).await;
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t036_proxy_option_when_unspecified_should_use_req_secure() {
    let app = secure_cookie_server(None);
    let headers = [("x-forwarded-proto", "https"), ("x-secure", "true")];
    let res = get_with_headers(&app, "/", &headers).await;
    should_set_cookie(&res, "connect.sid");
    res.expect(200, "true");
}
}

// --- cookie option --------------------------------------------------------

fn foo_bar_path_config() -> SessionConfig {
    express_config().with_cookie(CookieOptions::new().with_path("/foo/bar"))
}

on_both_adapters! {
#[tokio::test]
async fn t037_cookie_option_when_path_set_to_foo_bar_should_not_set_cookie_for_root_request() {
    let app = server(foo_bar_path_config(), MemoryStore::new(), end);
    let res = get(&app, "/").await;
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t038_cookie_option_when_path_set_to_foo_bar_should_not_set_cookie_for_http_foo_bar_request(
) {
    // The Host header plays no part in the path gate.
    let app = server(foo_bar_path_config(), MemoryStore::new(), end);
    let res = get_with_headers(&app, "/", &[("host", "http://foo/bar")]).await;
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t039_cookie_option_when_path_set_to_foo_bar_should_set_cookie_for_foo_bar_request() {
    let app = server(foo_bar_path_config(), MemoryStore::new(), end);
    // Upstream requests `/foo/bar/baz` under this title; the path itself is
    // checked too.
    for path in ["/foo/bar/baz", "/foo/bar"] {
        let res = get(&app, path).await;
        should_set_cookie(&res, "connect.sid");
        res.expect_status(200);
    }
}
}

on_both_adapters! {
#[tokio::test]
async fn t040_cookie_option_when_path_set_to_foo_bar_should_set_cookie_for_foo_bar_baz_request() {
    let app = server(foo_bar_path_config(), MemoryStore::new(), end);
    let res = get(&app, "/foo/bar/baz").await;
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
}
}

/// upstream's `mountAt('/foo')`: the application is nested under `/foo`
/// and sees the rest of the path. The layer wraps the mount, so it gates
/// on the full path, as express gates on `req.originalUrl`.
fn mounted_at_foo_server() -> App {
    let mounted = Router::new().route(
        "/{*rest}",
        any(|uri: Uri| async move { uri.path().to_owned() }),
    );
    let routes = Router::new().nest("/foo", mounted);
    wrap(routes, layer(MemoryStore::new(), foo_bar_path_config()))
}

on_both_adapters! {
#[tokio::test]
async fn t041_cookie_option_when_path_set_to_foo_bar_when_mounted_at_foo_should_set_cookie_for_foo_bar_request(
) {
    let app = mounted_at_foo_server();
    let res = get(&app, "/foo/bar").await;
    should_set_cookie(&res, "connect.sid");
    res.expect(200, "/bar");
}
}

on_both_adapters! {
#[tokio::test]
async fn t042_cookie_option_when_path_set_to_foo_bar_when_mounted_at_foo_should_not_set_cookie_for_foo_foo_bar_request(
) {
    let app = mounted_at_foo_server();
    let res = get(&app, "/foo/foo/bar").await;
    should_not_have_header(&res, "set-cookie");
    res.expect(200, "/foo/bar");
}
}

on_both_adapters! {
#[tokio::test]
async fn t043_cookie_option_when_secure_set_to_auto_when_proxy_is_true_should_set_secure_when_x_forwarded_proto_is_https(
) {
    let config = express_config().with_proxy(Some(true)).with_cookie(
        CookieOptions::new()
            .with_max_age(five_ms())
            .with_secure(SecurePolicy::Auto),
    );
    let app = server(config, MemoryStore::new(), end);
    let res = get_with_headers(&app, "/", &[("x-forwarded-proto", "https")]).await;
    should_set_cookie_with_attribute(&res, "connect.sid", "Secure");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t044_cookie_option_when_secure_set_to_auto_when_proxy_is_false_should_not_set_secure_when_x_forwarded_proto_is_https(
) {
    let config = express_config().with_proxy(Some(false)).with_cookie(
        CookieOptions::new()
            .with_max_age(five_ms())
            .with_secure(SecurePolicy::Auto),
    );
    let app = server(config, MemoryStore::new(), end);
    let res = get_with_headers(&app, "/", &[("x-forwarded-proto", "https")]).await;
    should_set_cookie_without_attribute(&res, "connect.sid", "Secure");
    res.expect_status(200);
}
}

fn secure_auto_server() -> App {
    let config = express_config().with_cookie(CookieOptions::new().with_secure(SecurePolicy::Auto));
    server(config, MemoryStore::new(), echo_secure)
}

on_both_adapters! {
#[tokio::test]
async fn t045_cookie_option_when_secure_set_to_auto_when_proxy_is_undefined_should_set_secure_if_req_secure_true(
) {
    let app = secure_auto_server();
    let res = get_with_headers(&app, "/", &[("x-secure", "true")]).await;
    should_set_cookie_with_attribute(&res, "connect.sid", "Secure");
    res.expect(200, "true");
}
}

on_both_adapters! {
#[tokio::test]
async fn t046_cookie_option_when_secure_set_to_auto_when_proxy_is_undefined_should_not_set_secure_if_req_secure_false(
) {
    let app = secure_auto_server();
    let res = get_with_headers(&app, "/", &[("x-secure", "false")]).await;
    should_set_cookie_without_attribute(&res, "connect.sid", "Secure");
    res.expect(200, "false");
}
}

on_both_adapters! {
#[tokio::test]
async fn t047_cookie_option_when_cookie_is_a_function_should_call_custom_function_and_apply_cookie_options(
) {
    let called = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&called);
    let config = express_config().with_cookie_fn(move |_request| {
        flag.store(true, Ordering::SeqCst);
        CookieOptions::new()
            .with_path("/test")
            .with_http_only(true)
            .with_secure(SecurePolicy::Never)
    });
    let app = server(config, MemoryStore::new(), end);

    let res = get(&app, "/test").await;
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "Path", "/test");
    should_set_cookie_with_attribute(&res, "connect.sid", "HttpOnly");
    should_set_cookie_without_attribute(&res, "connect.sid", "Secure");
    res.expect_status(200);
    assert!(
        called.load(Ordering::SeqCst),
        "should have called cookie callback"
    );
}
}

on_both_adapters! {
#[tokio::test]
async fn t048_cookie_option_when_cookie_is_a_function_should_provide_req_argument() {
    let called = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&called);
    let config = express_config().with_cookie_fn(move |request| {
        flag.store(true, Ordering::SeqCst);
        CookieOptions::new()
            .with_path(request.uri.path())
            .with_http_only(true)
            .with_secure(SecurePolicy::Never)
    });
    let app = server(config, MemoryStore::new(), end);

    let res = get(&app, "/test").await;
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "Path", "/test");
    should_set_cookie_with_attribute(&res, "connect.sid", "HttpOnly");
    should_set_cookie_without_attribute(&res, "connect.sid", "Secure");
    res.expect_status(200);
    assert!(
        called.load(Ordering::SeqCst),
        "should have called cookie callback"
    );
}
}

/// A server with `cookie: { sameSite: 'auto', secure }`, `req.secure` from
/// `X-Secure`, and a handler echoing it.
fn same_site_auto_server(secure: Option<SecurePolicy>, proxy: Option<bool>) -> App {
    let mut cookie = CookieOptions::new().with_same_site(SameSitePolicy::Auto);
    if let Some(secure) = secure {
        cookie = cookie.with_secure(secure);
    }
    let config = express_config().with_proxy(proxy).with_cookie(cookie);
    server(config, MemoryStore::new(), echo_secure)
}

on_both_adapters! {
#[tokio::test]
async fn t049_cookie_option_when_samesite_set_to_auto_basic_functionality_should_set_samesite_none_for_secure_connections(
) {
    let app = same_site_auto_server(None, None);
    let res = get_with_headers(&app, "/", &[("x-secure", "true")]).await;
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "SameSite", "None");
    res.expect(200, "true");
}
}

on_both_adapters! {
#[tokio::test]
async fn t050_cookie_option_when_samesite_set_to_auto_basic_functionality_should_set_samesite_lax_for_insecure_connections(
) {
    let app = same_site_auto_server(None, None);
    let res = get_with_headers(&app, "/", &[("x-secure", "false")]).await;
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "SameSite", "Lax");
    res.expect(200, "false");
}
}

on_both_adapters! {
#[tokio::test]
async fn t051_cookie_option_when_samesite_set_to_auto_with_proxy_settings_when_proxy_is_true_should_set_samesite_none_when_x_forwarded_proto_is_https(
) {
    let app = same_site_auto_server(None, Some(true));
    let res = get_with_headers(&app, "/", &[("x-forwarded-proto", "https")]).await;
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "SameSite", "None");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t052_cookie_option_when_samesite_set_to_auto_with_proxy_settings_when_proxy_is_true_should_set_samesite_lax_when_x_forwarded_proto_is_http(
) {
    let app = same_site_auto_server(None, Some(true));
    let res = get_with_headers(&app, "/", &[("x-forwarded-proto", "http")]).await;
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "SameSite", "Lax");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t053_cookie_option_when_samesite_set_to_auto_with_proxy_settings_when_proxy_is_false_should_set_samesite_lax_when_x_forwarded_proto_is_https(
) {
    let app = same_site_auto_server(None, Some(false));
    let res = get_with_headers(&app, "/", &[("x-forwarded-proto", "https")]).await;
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "SameSite", "Lax");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t054_cookie_option_when_samesite_set_to_auto_combined_with_secure_auto_should_set_both_secure_and_samesite_none_when_secure(
) {
    let app = same_site_auto_server(Some(SecurePolicy::Auto), None);
    let res = get_with_headers(&app, "/", &[("x-secure", "true")]).await;
    should_set_cookie_with_attribute(&res, "connect.sid", "Secure");
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "SameSite", "None");
    res.expect(200, "true");
}
}

on_both_adapters! {
#[tokio::test]
async fn t055_cookie_option_when_samesite_set_to_auto_combined_with_secure_auto_should_set_neither_secure_nor_samesite_none_when_insecure(
) {
    let app = same_site_auto_server(Some(SecurePolicy::Auto), None);
    let res = get_with_headers(&app, "/", &[("x-secure", "false")]).await;
    should_set_cookie_without_attribute(&res, "connect.sid", "Secure");
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "SameSite", "Lax");
    res.expect(200, "false");
}
}

on_both_adapters! {
#[tokio::test]
async fn t056_cookie_option_when_samesite_set_to_auto_combined_with_secure_false_should_set_samesite_none_without_secure_when_secure(
) {
    let app = same_site_auto_server(Some(SecurePolicy::Never), None);
    let res = get_with_headers(&app, "/", &[("x-secure", "true")]).await;
    should_set_cookie_without_attribute(&res, "connect.sid", "Secure");
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "SameSite", "None");
    res.expect(200, "true");
}
}

on_both_adapters! {
#[tokio::test]
async fn t057_cookie_option_when_samesite_set_to_auto_combined_with_secure_false_should_set_samesite_lax_without_secure_when_insecure(
) {
    let app = same_site_auto_server(Some(SecurePolicy::Never), None);
    let res = get_with_headers(&app, "/", &[("x-secure", "false")]).await;
    should_set_cookie_without_attribute(&res, "connect.sid", "Secure");
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "SameSite", "Lax");
    res.expect(200, "false");
}
}

on_both_adapters! {
#[tokio::test]
async fn t058_cookie_option_when_samesite_set_to_auto_combined_with_secure_true_should_set_both_secure_and_samesite_none_when_secure(
) {
    let app = same_site_auto_server(Some(SecurePolicy::Always), None);
    let res = get_with_headers(&app, "/", &[("x-secure", "true")]).await;
    should_set_cookie_with_attribute(&res, "connect.sid", "Secure");
    should_set_cookie_with_attribute_and_value(&res, "connect.sid", "SameSite", "None");
    res.expect(200, "true");
}
}

on_both_adapters! {
#[tokio::test]
async fn t059_cookie_option_when_samesite_set_to_auto_combined_with_secure_true_should_not_set_cookie_when_insecure(
) {
    let app = same_site_auto_server(Some(SecurePolicy::Always), None);
    let res = get_with_headers(&app, "/", &[("x-secure", "false")]).await;
    should_not_have_header(&res, "set-cookie");
    res.expect(200, "false");
}
}

// --- genid option ---------------------------------------------------------

on_both_adapters! {
#[tokio::test]
async fn t061_genid_option_should_provide_default_generator() {
    let app = server(express_config(), MemoryStore::new(), end);
    let res = get(&app, "/").await;
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
    // uid-safe's 24 bytes in base64url.
    let sid = res.sid();
    assert_eq!(sid.len(), 32, "{sid}");
    assert!(
        sid.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{sid}"
    );
}
}

on_both_adapters! {
#[tokio::test]
async fn t062_genid_option_should_allow_custom_function() {
    let config = express_config().with_genid(|_request| String::from("apple"));
    let app = server(config, MemoryStore::new(), end);
    let res = get(&app, "/").await;
    should_set_cookie_to_value(
        &res,
        "connect.sid",
        "s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU",
    );
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t063_genid_option_should_encode_unsafe_chars() {
    let config = express_config().with_genid(|_request| String::from("%"));
    let app = server(config, MemoryStore::new(), end);
    let res = get(&app, "/").await;
    should_set_cookie_to_value(
        &res,
        "connect.sid",
        "s%3A%25.kzQ6x52kKVdF35Qh62AWk4ZekS28K5XYCXKa%2FOTZ01g",
    );
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t064_genid_option_should_provide_req_argument() {
    let config = express_config().with_genid(|request| request.uri.path().to_owned());
    let app = server(config, MemoryStore::new(), end);
    let res = get(&app, "/foo").await;
    should_set_cookie_to_value(
        &res,
        "connect.sid",
        "s%3A%2Ffoo.paEKBtAHbV5s1IB8B2zPnzAgYmmnRPIqObW4VRYj%2FMQ",
    );
    res.expect_status(200);
}
}

// --- key option (express's legacy alias of `name`; Rust has `with_name`) --

on_both_adapters! {
#[tokio::test]
async fn t065_key_option_should_default_to_connect_sid() {
    let app = server(express_config(), MemoryStore::new(), end);
    let res = get(&app, "/").await;
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t066_key_option_should_allow_overriding() {
    let app = server(
        express_config().with_name("session_id"),
        MemoryStore::new(),
        end,
    );
    let res = get(&app, "/").await;
    should_set_cookie(&res, "session_id");
    res.expect_status(200);
}
}

// --- name option ----------------------------------------------------------

on_both_adapters! {
#[tokio::test]
async fn t067_name_option_should_default_to_connect_sid() {
    assert_eq!(express_config().name(), "connect.sid");
    let app = server(express_config(), MemoryStore::new(), end);
    let res = get(&app, "/").await;
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t068_name_option_should_set_the_cookie_name() {
    let app = server(
        express_config().with_name("session_id"),
        MemoryStore::new(),
        end,
    );
    let res = get(&app, "/").await;
    should_set_cookie(&res, "session_id");
    res.expect_status(200);
}
}
