//! Session security beyond express (issue 10), through the layer: secret
//! rotation that completes, and cookies cleared on destroy.

mod support;

use axum::routing::get;
use axum::Router;
use server_session::{MemoryStore, Session, SessionConfig, SessionLayer, Unset};

use support::cookies::{parse_set_cookie, set_cookies};
use support::{get as get_path, get_with_cookie, wrap};

const OLD: &str = "the old secret, 32 bytes or more.";
const NEW: &str = "the new secret, 32 bytes or more!";

fn app(store: &MemoryStore, config: SessionConfig) -> Router {
    async fn set(session: Session) -> &'static str {
        session.insert("user", "ada").expect("insert");
        "set"
    }
    async fn read(session: Session) -> String {
        session
            .get::<String>("user")
            .expect("a string")
            .unwrap_or_else(|| String::from("none"))
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
        .route("/read", get(read))
        .route("/destroy", get(destroy))
        .route("/unset", get(unset));
    let layer = SessionLayer::new(store.clone(), config).expect("valid options");
    wrap(routes, layer)
}

/// The `name=value` part of a `Set-Cookie`, to send back as `Cookie`.
fn cookie_pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .expect("a name=value pair")
        .to_owned()
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
                server_session::CookieOptions::new()
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
