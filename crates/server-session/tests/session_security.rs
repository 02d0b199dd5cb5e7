//! Session security beyond express (issue 10), through the layer: secret
//! rotation that completes, cookies cleared on destroy, and the absolute
//! timeout (on every store).

use session_test_support as support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::routing::get;
use axum::Router;
use server_session::__private::{sign_session_id, Secrets};
use server_session::store::{SaveCondition, SaveOutcome, Store};
use server_session::{CookieOptions, MemoryStore, Session, SessionConfig, SessionLayer, Unset};

use support::cookies::{cookie_pair, parse_set_cookie, set_cookies};
use support::node_fixtures::iso_from_ms;
use support::services::express_record;
use support::stores::stores;
use support::{get as get_path, get_with_cookie, layer, read_user, wrap_tower, CookieClient};

const OLD: &str = "the old secret, 32 bytes or more.";
const NEW: &str = "the new secret, 32 bytes or more!";

fn app(store: &MemoryStore, config: SessionConfig) -> Router {
    async fn set(session: Session) -> &'static str {
        session.insert("user", "ada").expect("insert");
        "set"
    }
    async fn destroy(session: Session) -> &'static str {
        session.destroy().await.expect("destroy");
        "destroyed"
    }
    async fn unset(session: Session) -> &'static str {
        session.unset();
        "unset"
    }
    let routes = Router::new()
        .route("/set", get(set))
        .route("/read", get(read_user))
        .route("/destroy", get(destroy))
        .route("/unset", get(unset));
    wrap_tower(routes, layer(store.clone(), config))
}

#[tokio::test]
async fn a_cookie_signed_by_an_old_secret_is_reissued_under_the_new_one() {
    let store = MemoryStore::new();
    let before = app(&store, SessionConfig::new(OLD));
    let first = get_path(&before, "/set").await;
    let old_cookie = cookie_pair(&first.cookie());

    // The rotation: the new secret first, the old one still verifying.
    let rotating = SessionConfig::new(NEW).with_secrets([NEW, OLD]);
    let resigning = app(&store, rotating.clone().with_resign_old_secret(true));
    let res = get_with_cookie(&resigning, "/read", &old_cookie).await;
    res.expect(200, "ada");
    let reissued = set_cookies(&res.headers);
    assert_eq!(reissued.len(), 1, "{reissued:?}");
    let new_cookie = cookie_pair(&reissued[0]);
    assert_ne!(new_cookie, old_cookie);

    // After that one request, the browser's cookie needs the new secret only.
    let after = app(&store, SessionConfig::new(NEW));
    get_with_cookie(&after, "/read", &new_cookie)
        .await
        .expect(200, "ada");
    get_with_cookie(&after, "/read", &old_cookie)
        .await
        .expect(200, "none");

    // A cookie already under the new secret is not sent again.
    let res = get_with_cookie(&resigning, "/read", &new_cookie).await;
    assert!(set_cookies(&res.headers).is_empty());

    // Off by default, as in express: the old cookie is never replaced.
    let res = get_with_cookie(&app(&store, rotating), "/read", &old_cookie).await;
    res.expect(200, "ada");
    assert!(set_cookies(&res.headers).is_empty());
}

#[tokio::test]
async fn destroy_and_unset_expire_the_browser_cookie_when_asked() {
    for (route, unset) in [
        ("/destroy", Unset::Keep),
        ("/unset", Unset::Keep),
        ("/unset", Unset::Destroy),
    ] {
        let store = MemoryStore::new();
        let config = SessionConfig::new(NEW)
            .with_unset(unset)
            .with_cookie(
                CookieOptions::new()
                    .with_path("/")
                    .with_domain("example.com"),
            )
            .with_clear_cookie_on_destroy(true);
        let app = app(&store, config);
        let first = get_path(&app, "/set").await;
        let res = get_with_cookie(&app, route, &cookie_pair(&first.cookie())).await;
        res.expect_status(200);
        let cookies = set_cookies(&res.headers);
        assert_eq!(cookies.len(), 1, "{route}: {cookies:?}");
        let cleared = parse_set_cookie(&cookies[0]);
        assert!(
            cookies[0].starts_with("connect.sid=;"),
            "{route}: {cookies:?}"
        );
        assert_eq!(
            cleared.attribute("expires"),
            Some("Thu, 01 Jan 1970 00:00:00 GMT"),
            "{route}"
        );
        assert_eq!(cleared.attribute("path"), Some("/"), "{route}");
        assert_eq!(cleared.attribute("domain"), Some("example.com"), "{route}");
    }

    // Off by default, as in express: no cookie at all.
    let store = MemoryStore::new();
    let app = app(&store, SessionConfig::new(NEW));
    let first = get_path(&app, "/set").await;
    let res = get_with_cookie(&app, "/destroy", &cookie_pair(&first.cookie())).await;
    assert!(set_cookies(&res.headers).is_empty());
}

/// `/set`, `/read` and `/clear` on a layer over `store`.
fn shared_app(store: Arc<dyn Store>, config: SessionConfig) -> Router {
    async fn set(session: Session) -> String {
        session.insert("user", "ada").expect("insert");
        session.id()
    }
    async fn clear(session: Session) -> String {
        session.clear().expect("clear");
        session.insert("user", "ada").expect("insert");
        format!("{:?}", session.keys())
    }
    let routes = Router::new()
        .route("/set", get(set))
        .route("/read", get(read_user))
        .route("/clear", get(clear));
    wrap_tower(routes, layer(store, config))
}

/// [`shared_app`] with rolling one-minute cookies and an absolute `timeout`.
fn absolute_app(store: &Arc<dyn Store>, timeout: Duration) -> Router {
    let config = SessionConfig::new(NEW)
        .with_rolling(true)
        .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_secs(60))))
        .with_absolute_timeout(Some(timeout));
    shared_app(Arc::clone(store), config)
}

#[tokio::test]
async fn a_busy_session_ends_at_its_absolute_timeout() {
    for (name, store) in stores().await {
        let app = absolute_app(&store, Duration::from_millis(2_000));
        let first = get_path(&app, "/set").await;
        let id = first.body.clone();
        let client = CookieClient::new(&app, cookie_pair(&first.cookie()));
        // Activity keeps the idle timer fresh, and changes nothing else.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            client.get("/read").await.expect(200, "ada");
        }
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let res = client.get("/read").await;
        assert_eq!(res.body, "none", "{name}: served past its absolute timeout");
        assert!(
            store.load(&id).await.expect("load").is_none(),
            "{name}: the timed-out session is still stored"
        );
    }
}

#[tokio::test]
async fn the_store_drops_a_session_at_its_deadline_by_itself() {
    for (name, store) in stores().await {
        let app = absolute_app(&store, Duration::from_millis(2_000));
        let first = get_path(&app, "/set").await;
        let id = first.body.clone();
        // The cookie the browser keeps expires at the deadline, not in 60 s.
        let expires = first.expires().expect("a persistent cookie");
        let expires = httpdate::parse_http_date(&expires).expect("an HTTP date");
        assert!(
            expires <= SystemTime::now() + Duration::from_secs(3),
            "{name}: the cookie outlives the deadline: {expires:?}"
        );
        // An unchanged request, whose load-time touch would extend the
        // store's expiry by the 60 s idle lifetime.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let cookie = cookie_pair(&first.cookie());
        get_with_cookie(&app, "/read", &cookie)
            .await
            .expect(200, "ada");
        // No request reaches the layer after the deadline: the store alone
        // must have dropped it (whole seconds to spare for second-based TTLs).
        tokio::time::sleep(Duration::from_millis(3_100)).await;
        assert!(
            store.load(&id).await.expect("load").is_none(),
            "{name}: the store kept the session past its absolute deadline"
        );
    }
}

#[tokio::test]
async fn clearing_the_data_does_not_restart_the_absolute_timeout() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let app = absolute_app(&store, Duration::from_millis(1_500));
    let first = get_path(&app, "/set").await;
    let client = CookieClient::new(&app, cookie_pair(&first.cookie()));
    tokio::time::sleep(Duration::from_millis(800)).await;
    // The handler never sees the creation time, and cannot clear it.
    client.get("/clear").await.expect(200, r#"["user"]"#);
    tokio::time::sleep(Duration::from_millis(900)).await;
    client.get("/read").await.expect(200, "none");
}

#[tokio::test]
async fn a_session_stored_without_a_creation_time_gets_one_on_first_use() {
    for (name, store) in stores().await {
        // As express-session writes it: no creation time anywhere.
        let id = server_session::__private::generate_id();
        let expires = server_session::store::now_ms() + 60_000;
        let record = express_record(&iso_from_ms(expires), r#","user":"ada""#);
        let saved = store
            .save(&id, &record, SaveCondition::IfAbsent)
            .await
            .expect("save");
        assert!(matches!(saved, SaveOutcome::Saved(_)), "{name}");
        let secrets = Secrets::new([NEW]).expect("a secret");
        let cookie = format!("connect.sid={}", sign_session_id(&id, &secrets));

        let app = absolute_app(&store, Duration::from_secs(3_600));
        let before = server_session::store::now_ms();
        get_with_cookie(&app, "/read", &cookie)
            .await
            .expect(200, "ada");
        let stored = store.load(&id).await.expect("load").expect("still stored");
        let created = stored
            .record
            .data()
            .get("__sessionCreatedAt")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or_else(|| panic!("{name}: no creation time was stored"));
        assert!(
            created >= before && created <= server_session::store::now_ms(),
            "{name}"
        );
        assert_eq!(
            stored.record.data().get("user"),
            Some(&serde_json::json!("ada"))
        );
        store.destroy(&id).await.expect("destroy");
    }
}

#[test]
fn an_absolute_timeout_of_zero_is_refused_when_the_layer_is_built() {
    let config = SessionConfig::new(NEW).with_absolute_timeout(Some(Duration::ZERO));
    let error = SessionLayer::new(MemoryStore::new(), config).expect_err("refused");
    assert_eq!(error.option(), "absolute_timeout");
}

const HASH_KEY: &[u8] = b"a separate key for IDs at rest, 32+ bytes";

fn hashed_key_of(id: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(HASH_KEY).expect("any key length");
    mac.update(id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn ids_hashed_at_rest_never_reach_the_store() {
    for (name, store) in stores().await {
        let config = SessionConfig::new(NEW).with_hashed_ids_at_rest(HASH_KEY);
        let app = shared_app(Arc::clone(&store), config);
        let first = get_path(&app, "/set").await;
        let id = first.body.clone();
        let cookie = cookie_pair(&first.cookie());
        get_with_cookie(&app, "/read", &cookie)
            .await
            .expect(200, "ada");

        assert!(
            store.load(&id).await.expect("load").is_none(),
            "{name}: the raw ID is a store key"
        );
        let stored = store
            .load(&hashed_key_of(&id))
            .await
            .expect("load")
            .unwrap_or_else(|| panic!("{name}: nothing under the hashed key"));
        assert_eq!(
            stored.record.data().get("user"),
            Some(&serde_json::json!("ada"))
        );
        // A dump of the store holds no usable ID.
        if let Ok(all) = store.all().await {
            assert!(all.iter().all(|(key, _)| key != &id), "{name}");
        }
        store.destroy(&hashed_key_of(&id)).await.expect("destroy");
    }
}

#[test]
fn a_short_key_for_ids_at_rest_is_refused_when_the_layer_is_built() {
    let config = SessionConfig::new(NEW).with_hashed_ids_at_rest("short");
    let error = SessionLayer::new(MemoryStore::new(), config).expect_err("refused");
    assert_eq!(error.option(), "hashed_ids_at_rest");
}
