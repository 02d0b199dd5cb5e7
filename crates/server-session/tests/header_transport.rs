//! Sessions for clients without cookies: the signed session ID in a
//! request header (`Authorization: Bearer <value>`, or a named header),
//! and a new value in a response header when the client needs one. Each
//! case runs on the tower layer and on the actix-web middleware
//! (`<case>::tower`, `<case>::actix`).

use session_test_support as support;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use hmac::Mac as _;
use server_session::{
    CommitErrorPolicy, ConfigError, HeaderTransport, MemoryStore, Session, SessionConfig,
    SessionLayer, Store,
};

use support::cookies::{set_cookies, sid};
use support::store::{Op, TestStore};
use support::{
    get as get_path, get_with_cookie, get_with_headers, on_both_adapters, read_user, wrap, App, Res,
};

const SECRET: &str = "the header secret, 32 bytes or more";
const OLD: &str = "the old secret, 32 bytes or more.";

/// The response header of `HeaderTransport::bearer()`.
const TOKEN: &str = "x-session-token";

/// `/set/{value}` (stores `user`, answers the ID), `/get` (`user`, or
/// `none`), `/id`, `/cycle` and `/regenerate` (the new ID), `/destroy`.
fn app(store: impl Store, config: SessionConfig) -> App {
    async fn set(session: Session, Path(value): Path<String>) -> String {
        session.insert("user", value).expect("insert");
        session.id()
    }
    async fn id(session: Session) -> String {
        session.id()
    }
    async fn cycle(session: Session) -> String {
        session.cycle_id().await.expect("cycle_id");
        session.id()
    }
    async fn regenerate(session: Session) -> String {
        session.regenerate().await.expect("regenerate");
        session.id()
    }
    async fn destroy(session: Session) -> &'static str {
        session.destroy().await.expect("destroy");
        "destroyed"
    }
    let routes = Router::new()
        .route("/set/{value}", get(set))
        .route("/get", get(read_user))
        .route("/id", get(id))
        .route("/cycle", get(cycle))
        .route("/regenerate", get(regenerate))
        .route("/destroy", get(destroy));
    wrap(
        routes,
        SessionLayer::new(store, config).expect("valid options"),
    )
}

/// [`app`] on a fresh memory store.
fn app_with(config: SessionConfig) -> App {
    app(MemoryStore::new(), config)
}

fn config() -> SessionConfig {
    SessionConfig::new(SECRET)
}

fn bearer() -> SessionConfig {
    config().with_header(Some(HeaderTransport::bearer()))
}

/// cookie-signature's `<id>.<mac>` for `id` under `secret`, written out
/// so that the tests do not check the codec against itself.
fn hand_signed(id: &str, secret: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(id.as_bytes());
    let mac = base64::engine::general_purpose::STANDARD_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{id}.{mac}")
}

/// `value` with its `+` and `/` percent-encoded, as a cookie or a URL
/// carries it.
fn url_encoded(value: &str) -> String {
    value.replace('+', "%2B").replace('/', "%2F")
}

/// The response header's value, which must be there.
#[track_caller]
fn token(res: &Res, name: &str) -> String {
    res.header(name)
        .unwrap_or_else(|| panic!("a {name} header in {:?}", res.headers))
        .to_owned()
}

async fn with_bearer(app: &App, uri: &str, value: &str) -> Res {
    get_with_headers(app, uri, &[("authorization", &format!("Bearer {value}"))]).await
}

on_both_adapters! {
#[tokio::test]
async fn a_new_session_answers_with_its_signed_id_in_the_response_header() {
    let store = TestStore::new();
    let app = app(store.clone(), bearer());

    let res = get_path(&app, "/set/ada").await;
    res.expect_status(200);
    let id = res.body.clone();
    // `<id>.<mac>`: the cookie's signed value without `s:` and URL encoding.
    assert_eq!(token(&res, TOKEN), hand_signed(&id, SECRET));
    assert!(set_cookies(&res.headers).is_empty(), "{:?}", res.headers);
    // The store holds it, under the ID, as for a cookie.
    let record = store.record(&id).await.expect("stored");
    assert_eq!(record.data().get("user"), Some(&serde_json::json!("ada")));

    // Nothing stored, nothing sent (saveUninitialized is off).
    let untouched = get_path(&app, "/get").await;
    untouched.expect(200, "none");
    assert_eq!(untouched.header(TOKEN), None);
}
}

on_both_adapters! {
#[tokio::test]
async fn the_value_carries_the_session_back_and_is_not_resent() {
    let app = app_with(bearer());
    let value = token(&get_path(&app, "/set/ada").await, TOKEN);

    for authorization in [
        format!("Bearer {value}"),
        format!("bearer {value}"),
        format!("BEARER   s:{value}"),
    ] {
        let res = get_with_headers(&app, "/get", &[("authorization", &authorization)]).await;
        res.expect(200, "ada");
        assert_eq!(res.header(TOKEN), None, "{authorization}: not on every response");
    }
    // A change under the same ID needs no new value.
    let changed = with_bearer(&app, "/set/grace", &value).await;
    changed.expect_status(200);
    assert_eq!(changed.header(TOKEN), None);
    with_bearer(&app, "/get", &value).await.expect(200, "grace");
}
}

on_both_adapters! {
#[tokio::test]
async fn a_named_header_carries_the_value_as_is_both_ways() {
    let named = config().with_header(Some(HeaderTransport::named("X-Session-Id")));
    let app = app_with(named);
    let created = get_path(&app, "/set/ada").await;
    let value = token(&created, "x-session-id");
    assert_eq!(value, hand_signed(&created.body, SECRET));

    let res = get_with_headers(&app, "/get", &[("x-session-id", &value)]).await;
    res.expect(200, "ada");
    let prefixed = format!("s:{value}");
    get_with_headers(&app, "/get", &[("x-session-id", &prefixed)])
        .await
        .expect(200, "ada");
    // The name is the configured one; `Bearer` is not part of this value.
    let bearer = format!("Bearer {value}");
    get_with_headers(&app, "/get", &[("x-session-id", &bearer)])
        .await
        .expect(200, "none");
    with_bearer(&app, "/get", &value).await.expect(200, "none");

    // Another response header when configured.
    let answered_elsewhere = config().with_header(Some(
        HeaderTransport::named("x-session-id").with_response_header("x-new-session"),
    ));
    let app = app_with(answered_elsewhere);
    let created = get_path(&app, "/set/ada").await;
    assert_eq!(created.header("x-session-id"), None);
    let value = token(&created, "x-new-session");
    get_with_headers(&app, "/get", &[("x-session-id", &value)])
        .await
        .expect(200, "ada");
}
}

on_both_adapters! {
#[tokio::test]
async fn a_value_that_is_not_validly_signed_is_no_session() {
    let store = TestStore::new();
    let app = app(store.clone(), bearer());
    let created = get_path(&app, "/set/ada").await;
    let id = created.body.clone();
    let value = token(&created, TOKEN);
    let (_, mac) = value.split_once('.').expect("<id>.<mac>");
    let mut tampered = value.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    let bad = [
        format!("Bearer {id}"),                                // unsigned
        format!("Bearer {tampered}"),                          // forged MAC
        format!("Bearer other{id}.{mac}"),                     // another ID, same MAC
        format!("Bearer {}", hand_signed(&id, "another secret, 32 bytes or more")),
        format!("Bearer {value}="),                            // padded
        format!("Bearer s%3A{}", url_encoded(&value)),         // the cookie's encoding
        format!("Bearer {}", hand_signed("", SECRET)),         // an empty ID
        String::from("Bearer"),
        String::from("Bearer ."),
        format!("Basic {value}"),                              // another scheme
        value.clone(),                                         // no scheme
    ];
    store.reset_counts();
    for authorization in &bad {
        let res = get_with_headers(&app, "/get", &[("authorization", authorization)]).await;
        res.expect(200, "none");
        // A new session, as for a bad cookie; nothing to send until it is used.
        assert_eq!(res.header(TOKEN), None, "{authorization}");
        let fresh = get_with_headers(&app, "/set/eve", &[("authorization", authorization)]).await;
        assert_ne!(fresh.body, id, "{authorization}");
        assert_eq!(token(&fresh, TOKEN), hand_signed(&fresh.body, SECRET));
    }
    // Not one of them reached the store as a lookup.
    assert_eq!(store.loads(), 0);
    // Two fields are ambiguous: no session either.
    let twice = format!("Bearer {value}");
    let res = get_with_headers(&app, "/get", &[("authorization", &twice), ("authorization", &twice)])
        .await;
    res.expect(200, "none");
    // And the session is untouched by all that.
    with_bearer(&app, "/get", &value).await.expect(200, "ada");
}
}

on_both_adapters! {
#[tokio::test]
async fn a_value_signed_by_an_older_secret_works_and_is_resigned_when_asked() {
    let store = MemoryStore::new();
    let before = app(store.clone(), bearer().with_secrets([OLD]));
    let created = get_path(&before, "/set/ada").await;
    let old_value = token(&created, TOKEN);
    assert_eq!(old_value, hand_signed(&created.body, OLD));

    // Rotated, without re-signing: the old value still works, nothing is sent.
    let rotated = bearer().with_secrets([SECRET, OLD]);
    let app_rotated = app(store.clone(), rotated.clone());
    let res = with_bearer(&app_rotated, "/get", &old_value).await;
    res.expect(200, "ada");
    assert_eq!(res.header(TOKEN), None);

    // Re-signing: the client gets the value under the new secret.
    let resigning = app(store.clone(), rotated.with_resign_old_secret(true));
    let res = with_bearer(&resigning, "/get", &old_value).await;
    res.expect(200, "ada");
    let new_value = token(&res, TOKEN);
    assert_eq!(new_value, hand_signed(&created.body, SECRET));
    let again = with_bearer(&resigning, "/get", &new_value).await;
    again.expect(200, "ada");
    assert_eq!(again.header(TOKEN), None, "signed by the first secret already");

    // Once the old secret is dropped, only the new value works.
    let after = app(store, bearer());
    with_bearer(&after, "/get", &old_value).await.expect(200, "none");
    with_bearer(&after, "/get", &new_value).await.expect(200, "ada");
}
}

on_both_adapters! {
#[tokio::test]
async fn with_both_transports_a_present_header_decides_over_the_cookie() {
    let store = TestStore::new();
    let both = config().with_header(Some(HeaderTransport::bearer().with_cookie(true)));
    let app = app(store.clone(), both);

    // A new session goes out in both.
    let by_header = get_path(&app, "/set/header-user").await;
    let value = token(&by_header, TOKEN);
    assert_eq!(sid(&by_header.headers).as_deref(), Some(by_header.body.as_str()));
    let by_cookie = get_path(&app, "/set/cookie-user").await;
    let cookie = by_cookie.cookie();

    // Both validly signed: the header wins.
    let authorization = format!("Bearer {value}");
    let res = get_with_headers(&app, "/get", &[("authorization", &authorization), ("cookie", &cookie)])
        .await;
    res.expect(200, "header-user");
    assert!(set_cookies(&res.headers).is_empty());
    // A bad header is no session, even beside a valid cookie: an ambient
    // cookie never stands in for the value the client's code sent.
    let forged = format!("Bearer {}", hand_signed(&by_cookie.body, "not the secret, 32 bytes or more"));
    get_with_headers(&app, "/get", &[("authorization", &forged), ("cookie", &cookie)])
        .await
        .expect(200, "none");
    // No header (or another scheme): the cookie decides.
    get_with_cookie(&app, "/get", &cookie).await.expect(200, "cookie-user");
    get_with_headers(&app, "/get", &[("authorization", "Basic YWRhOmFkYQ=="), ("cookie", &cookie)])
        .await
        .expect(200, "cookie-user");
}
}

on_both_adapters! {
#[tokio::test]
async fn header_only_sends_no_cookie_and_reads_none() {
    let store = TestStore::new();
    // A cookie-only server on the same store and secret makes a session.
    let cookie_app = app(store.clone(), config());
    let cookie = get_path(&cookie_app, "/set/ada").await.cookie();

    let app = app(store.clone(), bearer());
    store.reset_counts();
    let res = get_with_cookie(&app, "/get", &cookie).await;
    res.expect(200, "none");
    assert_eq!(store.loads(), 0, "the cookie is not read");
    let created = get_with_cookie(&app, "/set/eve", &cookie).await;
    assert!(set_cookies(&created.headers).is_empty(), "{:?}", created.headers);
    assert!(created.header(TOKEN).is_some());
}
}

on_both_adapters! {
#[tokio::test]
async fn cookie_only_by_default_reads_no_header_and_sends_none() {
    let store = TestStore::new();
    let header_app = app(store.clone(), bearer());
    let created = get_path(&header_app, "/set/ada").await;
    let value = token(&created, TOKEN);

    let app = app(store.clone(), config());
    store.reset_counts();
    for (name, sent) in [
        ("authorization", format!("Bearer {value}")),
        ("x-session-token", value.clone()),
        ("x-session-id", value.clone()),
    ] {
        get_with_headers(&app, "/get", &[(name, &sent)])
            .await
            .expect(200, "none");
    }
    assert_eq!(store.loads(), 0, "no header is read");
    let res = get_path(&app, "/set/eve").await;
    assert_eq!(res.header(TOKEN), None);
    assert_eq!(set_cookies(&res.headers).len(), 1);

    // The same record, the same signature: the cookie form of the value
    // reaches the session the header made.
    let cookie = format!("connect.sid=s%3A{}", url_encoded(&value));
    get_with_cookie(&app, "/get", &cookie).await.expect(200, "ada");
}
}

on_both_adapters! {
#[tokio::test]
async fn regenerate_and_cycle_id_send_the_new_value() {
    let app = app_with(bearer());
    let first = token(&get_path(&app, "/set/ada").await, TOKEN);

    let cycled = with_bearer(&app, "/cycle", &first).await;
    cycled.expect_status(200);
    let second = token(&cycled, TOKEN);
    assert_eq!(second, hand_signed(&cycled.body, SECRET));
    assert_ne!(second, first);
    with_bearer(&app, "/get", &second).await.expect(200, "ada");
    with_bearer(&app, "/get", &first).await.expect(200, "none");

    let regenerated = with_bearer(&app, "/regenerate", &second).await;
    regenerated.expect_status(200);
    let third = token(&regenerated, TOKEN);
    assert_eq!(third, hand_signed(&regenerated.body, SECRET));
    // A new, empty session; the old one is gone.
    with_bearer(&app, "/get", &third).await.expect(200, "none");
    with_bearer(&app, "/get", &second).await.expect(200, "none");
    let id = with_bearer(&app, "/id", &third).await;
    assert_eq!(id.body, regenerated.body);
}
}

on_both_adapters! {
#[tokio::test]
async fn a_failed_save_sends_no_value() {
    let store = TestStore::failing(Op::Save);
    let refusing = app(store.clone(), bearer());
    let res = get_path(&refusing, "/set/ada").await;
    res.expect_status(503);
    assert_eq!(res.header(TOKEN), None);

    // Even when the response is kept, the client gets no value for a
    // session the store does not hold.
    let keep = bearer().with_commit_error_policy(CommitErrorPolicy::KeepResponse);
    let kept = app(store.clone(), keep);
    let res = get_path(&kept, "/set/ada").await;
    res.expect_status(200);
    assert_eq!(res.header(TOKEN), None);

    // And it comes once the store works again.
    store.fail(Op::Save, false);
    let res = get_path(&kept, "/set/ada").await;
    assert_eq!(token(&res, TOKEN), hand_signed(&res.body, SECRET));
}
}

on_both_adapters! {
#[tokio::test]
async fn the_id_is_never_read_from_the_url() {
    let store = TestStore::new();
    let both = config().with_header(Some(HeaderTransport::named("x-session-id").with_cookie(true)));
    let app = app(store.clone(), both);
    let value = token(&get_path(&app, "/set/ada").await, "x-session-id");
    let encoded = url_encoded(&value);

    store.reset_counts();
    for query in [
        format!("x-session-id={encoded}"),
        format!("x-session-token={encoded}"),
        format!("access_token={encoded}"),
        format!("authorization=Bearer%20{encoded}"),
        format!("connect.sid=s%3A{encoded}"),
        format!("sid={encoded}"),
    ] {
        get_path(&app, &format!("/get?{query}")).await.expect(200, "none");
    }
    assert_eq!(store.loads(), 0, "nothing in the URL reached the store");
}
}

on_both_adapters! {
#[tokio::test]
async fn destroy_sends_an_empty_value_only_when_clearing() {
    let app = app_with(bearer());
    let value = token(&get_path(&app, "/set/ada").await, TOKEN);
    let res = with_bearer(&app, "/destroy", &value).await;
    res.expect(200, "destroyed");
    assert_eq!(res.header(TOKEN), None, "as express sends no cookie");
    with_bearer(&app, "/get", &value).await.expect(200, "none");

    let clearing = app_with(bearer().with_clear_cookie_on_destroy(true));
    let value = token(&get_path(&clearing, "/set/ada").await, TOKEN);
    let res = with_bearer(&clearing, "/destroy", &value).await;
    res.expect(200, "destroyed");
    assert_eq!(res.header(TOKEN), Some(""), "forget the value");
    assert!(set_cookies(&res.headers).is_empty());
    with_bearer(&clearing, "/get", &value).await.expect(200, "none");
}
}

on_both_adapters! {
#[tokio::test]
async fn the_hardened_configuration_takes_the_header_too() {
    // A `Secure` cookie is held back on a plain-HTTP request; the header,
    // which no browser drops, is not.
    let hardened = SessionConfig::hardened(SECRET).with_header(Some(HeaderTransport::bearer()));
    let app = app_with(hardened);
    let created = get_path(&app, "/set/ada").await;
    let value = token(&created, TOKEN);
    assert!(set_cookies(&created.headers).is_empty());
    with_bearer(&app, "/get", &value).await.expect(200, "ada");
}
}

#[test]
fn unusable_header_names_are_refused_when_the_layer_is_built() {
    let refused = |transport: HeaderTransport| -> ConfigError {
        SessionLayer::new(MemoryStore::new(), config().with_header(Some(transport)))
            .expect_err("refused")
    };
    let error = refused(HeaderTransport::named("x session"));
    assert_eq!(
        (error.option(), error.value()),
        ("header", Some("x session"))
    );
    let error = refused(HeaderTransport::named("Cookie"));
    assert_eq!((error.option(), error.value()), ("header", Some("Cookie")));
    let error = refused(HeaderTransport::bearer().with_response_header("set-cookie"));
    assert_eq!(
        (error.option(), error.value()),
        ("header.response", Some("set-cookie"))
    );
    assert!(error.to_string().contains("header.response"), "{error}");
}
