//! express-session 1.19's `test/session.js`, ported: the option groups
//! "rolling option", "resave option", "saveUninitialized option", "secret
//! option" and "unset option" (spec §7.2, tests 69–96).
//!
//! Test 92 ("unset should reject unknown values") has no Rust analogue:
//! `Unset` is an enum with only `Keep` and `Destroy`. It is listed in the
//! README.

use session_test_support as support;

use axum::http::{Method, Uri};
use http::header::COOKIE;
use serde_json::{json, Value};
use server_session::{CommitErrorPolicy, MemoryStore, Session, SessionConfig, SessionLayer, Unset};

use support::store::{Op, BOOM};
use support::*;

/// upstream's `req.session.user = 'bob'; res.end()`.
fn bob_server(config: SessionConfig, store: TestStore) -> App {
    server(config, store, |session: Session| async move {
        session.insert("user", "bob").expect("insert");
    })
}

// --- rolling option -------------------------------------------------------

on_both_adapters! {
#[tokio::test]
async fn t069_rolling_option_should_default_to_false() {
    let app = bob_server(express_config(), TestStore::new());

    let res = get(&app, "/").await;
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);

    let res = get_with_cookie(&app, "/", &res.cookie()).await;
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t070_rolling_option_should_force_cookie_on_unmodified_session() {
    let app = bob_server(express_config().with_rolling(true), TestStore::new());

    let res = get(&app, "/").await;
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);

    let res = get_with_cookie(&app, "/", &res.cookie()).await;
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t071_rolling_option_should_not_force_cookie_on_uninitialized_session_if_saveuninitialized_option_is_set_to_false(
) {
    let store = TestStore::new();
    let config = express_config()
        .with_rolling(true)
        .with_save_uninitialized(false);
    let app = server(config, store.clone(), end);

    let res = get(&app, "/").await;
    assert_eq!(store.saves(), 0, "should not set session in store");
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t072_rolling_option_should_force_cookie_and_save_uninitialized_session_if_saveuninitialized_option_is_set_to_true(
) {
    let store = TestStore::new();
    let config = express_config()
        .with_rolling(true)
        .with_save_uninitialized(true);
    let app = server(config, store.clone(), end);

    let res = get(&app, "/").await;
    assert_eq!(store.saves(), 1, "should set session in store");
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t073_rolling_option_should_force_cookie_and_save_modified_session_even_if_saveuninitialized_option_is_set_to_false(
) {
    let store = TestStore::new();
    let config = express_config()
        .with_rolling(true)
        .with_save_uninitialized(false);
    let app = bob_server(config, store.clone());

    let res = get(&app, "/").await;
    assert_eq!(store.saves(), 1, "should set session in store");
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
}
}

// --- resave option --------------------------------------------------------

/// Two requests on one session with the `bob` handler; the number of
/// `store.set` calls made by each.
async fn saves_per_request(config: SessionConfig) -> (usize, usize) {
    let store = TestStore::new();
    let app = bob_server(config, store.clone());

    let res = get(&app, "/").await;
    res.expect_status(200);
    let first = store.saves();

    store.reset_counts();
    get_with_cookie(&app, "/", &res.cookie())
        .await
        .expect_status(200);
    (first, store.saves())
}

on_both_adapters! {
#[tokio::test]
async fn t074_resave_option_should_default_to_true() {
    // express 1.x's default, which the harness sets (our own default is
    // `false`, express's recommendation and v2 default).
    assert_eq!(saves_per_request(express_config()).await, (1, 1));
}
}

on_both_adapters! {
#[tokio::test]
async fn t075_resave_option_when_true_should_force_save_on_unmodified_session() {
    let config = express_config().with_resave(true);
    assert_eq!(saves_per_request(config).await, (1, 1));
}
}

on_both_adapters! {
#[tokio::test]
async fn t076_resave_option_when_false_should_prevent_save_on_unmodified_session() {
    let config = express_config().with_resave(false);
    assert_eq!(saves_per_request(config).await, (1, 0));
}
}

on_both_adapters! {
#[tokio::test]
async fn t077_resave_option_when_false_should_still_save_modified_session() {
    let store = TestStore::new();
    let config = express_config().with_resave(false);
    let app = server(
        config,
        store.clone(),
        |session: Session, method: Method, uri: Uri| async move {
            if method == Method::PUT {
                let token = uri.path().get(1..).unwrap_or_default().to_owned();
                session.insert("token", token).expect("insert");
            }
            let token: Option<String> = session.get("token").expect("a string");
            format!("token={}", token.unwrap_or_default())
        },
    );

    let res = send(&app, build(req(Method::PUT, "/w6RHhwaA"))).await;
    res.expect(200, "token=w6RHhwaA");
    assert_eq!(store.saves(), 1, "should set session in store");
    let sess = res.cookie();

    store.reset_counts();
    let res = get_with_cookie(&app, "/", &sess).await;
    res.expect(200, "token=w6RHhwaA");
    assert_eq!(store.saves(), 0, "should not set session in store");

    store.reset_counts();
    let res = send(
        &app,
        build(req(Method::PUT, "/zfQ3rzM3").header(COOKIE, &sess)),
    )
    .await;
    res.expect(200, "token=zfQ3rzM3");
    assert_eq!(store.saves(), 1, "should set session in store");
}
}

on_both_adapters! {
#[tokio::test]
async fn t078_resave_option_when_false_should_detect_a_cookie_property_as_modified() {
    let store = TestStore::new();
    let config = express_config().with_resave(false);
    let app = server(config, store.clone(), |session: Session| async move {
        let mut user = session.get_value("user").unwrap_or_else(|| json!({}));
        user["name"] = json!("bob");
        let count = user.get("cookie").and_then(Value::as_u64).unwrap_or(0);
        user["cookie"] = json!(count + 1);
        session.insert_value("user", user).expect("insert");
    });

    let res = get(&app, "/").await;
    res.expect_status(200);
    assert_eq!(store.saves(), 1, "should set session in store");

    store.reset_counts();
    get_with_cookie(&app, "/", &res.cookie())
        .await
        .expect_status(200);
    assert_eq!(store.saves(), 1, "a nested `cookie` key is data");
}
}

on_both_adapters! {
#[tokio::test]
async fn t079_resave_option_when_false_should_pass_session_touch_error() {
    let store = TestStore::failing(Op::Touch);
    let errors = ErrorLog::default();
    let config = errors.install(express_config().with_resave(false));
    let app = server(config, store.clone(), |session: Session| async move {
        session.insert("hit", true).expect("insert");
        "session saved"
    });

    let res = get(&app, "/").await;
    res.expect(200, "session saved");
    assert!(errors.roots().is_empty());

    // The response completes normally; the error goes to the hook.
    get_with_cookie(&app, "/", &res.cookie())
        .await
        .expect(200, "session saved");
    assert_eq!(store.touches(), 1);
    assert_eq!(errors.roots(), [BOOM]);
}
}

// --- saveUninitialized option ---------------------------------------------

on_both_adapters! {
#[tokio::test]
async fn t080_saveuninitialized_option_should_default_to_true() {
    // express 1.x's default, which the harness sets.
    let store = TestStore::new();
    let app = server(express_config(), store.clone(), end);
    let res = get(&app, "/").await;
    assert_eq!(store.saves(), 1, "should set session in store");
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t081_saveuninitialized_option_should_force_save_of_uninitialized_session() {
    let store = TestStore::new();
    let config = express_config().with_save_uninitialized(true);
    let app = server(config, store.clone(), end);
    let res = get(&app, "/").await;
    assert_eq!(store.saves(), 1, "should set session in store");
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t082_saveuninitialized_option_should_prevent_save_of_uninitialized_session() {
    let store = TestStore::new();
    let config = express_config().with_save_uninitialized(false);
    let app = server(config, store.clone(), end);
    let res = get(&app, "/").await;
    assert_eq!(store.saves(), 0, "should not set session in store");
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t083_saveuninitialized_option_should_still_save_modified_session() {
    let store = TestStore::new();
    let config = express_config().with_save_uninitialized(false);
    let app = server(config, store.clone(), |session: Session| async move {
        session
            .update("count", |count: Option<u64>| count.unwrap_or(0) + 1)
            .expect("update");
    });
    let res = get(&app, "/").await;
    assert_eq!(store.saves(), 1, "should set session in store");
    should_set_cookie(&res, "connect.sid");
    res.expect_status(200);
}
}

on_both_adapters! {
#[tokio::test]
async fn t084_saveuninitialized_option_should_pass_session_save_error() {
    let store = TestStore::failing(Op::Save);
    let errors = ErrorLog::default();
    let config = errors.install(express_config().with_save_uninitialized(true));
    let app = server(config, store.clone(), || async { "session saved" });

    let res = get(&app, "/").await;
    res.expect(200, "session saved");
    assert_eq!(errors.roots(), [BOOM]);
}
}

on_both_adapters! {
#[tokio::test]
async fn t085_saveuninitialized_option_should_prevent_uninitialized_session_from_being_touched() {
    let store = TestStore::new();
    let config = express_config()
        .with_save_uninitialized(false)
        .with_cookie(server_session::CookieOptions::new().with_max_age(Some(MIN)));
    let app = server(config, store.clone(), end);
    get(&app, "/").await.expect_status(200);
    assert_eq!(store.touches(), 0, "touch should not be called");
}
}

// --- secret option --------------------------------------------------------

#[test]
fn t086_secret_option_should_reject_empty_arrays() {
    let config = express_config().with_secrets(Vec::<&str>::new());
    let error = SessionLayer::new(MemoryStore::new(), config).expect_err("no secret");
    assert_eq!(error.option(), "secret");
    assert!(error.to_string().contains("secret"), "{error}");
}

/// upstream's handler in the "secret option" group: `set` on the first
/// request, then `get:` plus the stored user as JSON.
fn set_get_server(config: SessionConfig, store: impl server_session::Store) -> App {
    server(config, store, |session: Session| async move {
        match session.get_value("user") {
            None => {
                session.insert("user", "bob").expect("insert");
                String::from("set")
            }
            Some(user) => format!("get:{user}"),
        }
    })
}

on_both_adapters! {
#[tokio::test]
async fn t087_secret_option_should_sign_and_unsign_with_a_string() {
    let config = express_config().with_secrets(["awesome cat"]);
    let app = set_get_server(config, MemoryStore::new());

    let res = get(&app, "/").await;
    should_set_cookie(&res, "connect.sid");
    res.expect(200, "set");

    get_with_cookie(&app, "/", &res.cookie())
        .await
        .expect(200, "get:\"bob\"");
}
}

on_both_adapters! {
#[tokio::test]
async fn t088_secret_option_should_sign_and_unsign_with_a_buffer() {
    let secret: [u8; 32] = rand::random();
    let config = express_config().with_secrets([secret]);
    let app = set_get_server(config, MemoryStore::new());

    let res = get(&app, "/").await;
    should_set_cookie(&res, "connect.sid");
    res.expect(200, "set");

    get_with_cookie(&app, "/", &res.cookie())
        .await
        .expect(200, "get:\"bob\"");
}
}

/// upstream's first server in "when an array": stores `bob`.
fn storing_server(config: SessionConfig, store: TestStore) -> App {
    server(config, store, |session: Session| async move {
        session.insert("user", "bob").expect("insert");
        "bob"
    })
}

/// upstream's second server: `String(req.session.user)`.
fn reading_server(config: SessionConfig, store: TestStore) -> App {
    server(config, store, |session: Session| async move {
        session
            .get::<String>("user")
            .expect("a string")
            .unwrap_or_else(|| String::from("undefined"))
    })
}

on_both_adapters! {
#[tokio::test]
async fn t089_secret_option_when_an_array_should_sign_cookies() {
    let config = express_config().with_secrets(["keyboard cat", "nyan cat"]);
    let app = storing_server(config, TestStore::new());
    let res = get(&app, "/").await;
    should_set_cookie(&res, "connect.sid");
    res.expect(200, "bob");
}
}

on_both_adapters! {
#[tokio::test]
async fn t090_secret_option_when_an_array_should_sign_cookies_with_first_element() {
    let store = TestStore::new();
    let server1 = storing_server(
        express_config().with_secrets(["keyboard cat", "nyan cat"]),
        store.clone(),
    );
    let server2 = reading_server(express_config().with_secrets(["nyan cat"]), store.clone());

    let res = get(&server1, "/").await;
    should_set_cookie(&res, "connect.sid");
    res.expect(200, "bob");

    get_with_cookie(&server2, "/", &res.cookie())
        .await
        .expect(200, "undefined");
}
}

on_both_adapters! {
#[tokio::test]
async fn t091_secret_option_when_an_array_should_read_cookies_using_all_elements() {
    let store = TestStore::new();
    let server1 = storing_server(express_config().with_secrets(["nyan cat"]), store.clone());
    let server2 = reading_server(
        express_config().with_secrets(["keyboard cat", "nyan cat"]),
        store.clone(),
    );

    let res = get(&server1, "/").await;
    should_set_cookie(&res, "connect.sid");
    res.expect(200, "bob");

    get_with_cookie(&server2, "/", &res.cookie())
        .await
        .expect(200, "bob");
}
}

// --- unset option ---------------------------------------------------------

/// upstream's handler `count++; if (count === 2) req.session = null`.
fn unset_on_second_server(config: SessionConfig, store: TestStore) -> App {
    server(config, store, |session: Session| async move {
        let count = session
            .update("count", |count: Option<u64>| count.unwrap_or(0) + 1)
            .expect("update");
        if count == 2 {
            session.unset();
        }
    })
}

on_both_adapters! {
#[tokio::test]
async fn t093_unset_option_should_default_to_keep() {
    let store = TestStore::new();
    let app = unset_on_second_server(express_config(), store.clone());

    let res = get(&app, "/").await;
    res.expect_status(200);
    assert_eq!(store.length().await, 1);

    get_with_cookie(&app, "/", &res.cookie())
        .await
        .expect_status(200);
    assert_eq!(store.length().await, 1);
}
}

on_both_adapters! {
#[tokio::test]
async fn t094_unset_option_should_allow_destroy_on_req_session_null() {
    let store = TestStore::new();
    let app = unset_on_second_server(express_config().with_unset(Unset::Destroy), store.clone());

    let res = get(&app, "/").await;
    res.expect_status(200);
    assert_eq!(store.length().await, 1);

    get_with_cookie(&app, "/", &res.cookie())
        .await
        .expect_status(200);
    assert_eq!(store.length().await, 0);
}
}

on_both_adapters! {
#[tokio::test]
async fn t095_unset_option_should_not_set_cookie_if_initial_session_destroyed() {
    let store = TestStore::new();
    let config = express_config().with_unset(Unset::Destroy);
    let app = server(config, store.clone(), |session: Session| async move {
        session.unset();
    });

    let res = get(&app, "/").await;
    should_not_have_header(&res, "set-cookie");
    res.expect_status(200);
    assert_eq!(store.length().await, 0);
}
}

on_both_adapters! {
#[tokio::test]
async fn t096_unset_option_should_pass_session_destroy_error() {
    let store = TestStore::failing(Op::Destroy);
    let errors = ErrorLog::default();
    // express's behaviour is `KeepResponse`; the default answers 503 (below).
    let config = errors.install(
        express_config()
            .with_unset(Unset::Destroy)
            .with_commit_error_policy(CommitErrorPolicy::KeepResponse),
    );
    let handler = |session: Session| async move {
        session.unset();
        "session destroyed"
    };
    let app = server(config, store.clone(), handler);

    let res = get(&app, "/").await;
    res.expect(200, "session destroyed");
    assert_eq!(store.destroys(), 1);
    assert_eq!(errors.roots(), [BOOM]);

    // By default the client is not told the session ended when it did not.
    let app = server(
        express_config().with_unset(Unset::Destroy),
        store.clone(),
        handler,
    );
    let res = get(&app, "/").await;
    res.expect(503, "");
    assert_eq!(res.header("retry-after"), Some("1"));
}
}
