//! Safe ID rotation (issue 10, item 2): `cycle_id` keeps the data under a
//! new ID, a store failure during `cycle_id` or `regenerate` leaves the old
//! session intact, and requests in flight on the old ID follow the move in
//! this process, while another process finds it gone.

use session_test_support as support;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use server_session::{Session, SessionConfig, Store};
use tokio::sync::Notify;

use support::cookies::{cookie_pair, set_cookies};
use support::store::{Op, TestStore};
use support::stores::stores;
use support::{get as get_path, get_with_cookie, layer, wrap_tower, CookieClient, Res, SECRET};

/// `/set/{key}/{value}`, `/get/{key}`, `/cycle`, `/regenerate`, and
/// `/hold/{key}/{value}`, which writes only once the test releases it.
fn app(store: Arc<dyn Store>, release: Arc<Notify>) -> Router {
    async fn set(session: Session, Path((key, value)): Path<(String, String)>) -> String {
        session.insert(key, value).expect("insert");
        session.id()
    }
    async fn read(session: Session, Path(key): Path<String>) -> String {
        session
            .get::<String>(&key)
            .expect("a string")
            .unwrap_or_else(|| String::from("none"))
    }
    async fn cycle(session: Session) -> String {
        let before = session.id();
        match session.cycle_id().await {
            Ok(()) => session.id(),
            Err(error) => format!("error {error}; still {}", before == session.id()),
        }
    }
    async fn regenerate(session: Session) -> String {
        let before = session.id();
        match session.regenerate().await {
            Ok(()) => session.id(),
            Err(error) => format!("error {error}; still {}", before == session.id()),
        }
    }
    let hold = move |session: Session, Path((key, value)): Path<(String, String)>| {
        let release = Arc::clone(&release);
        async move {
            release.notified().await;
            match session.insert(key, value) {
                Ok(()) => session.id(),
                Err(error) => error.to_string(),
            }
        }
    };
    let routes = Router::new()
        .route("/set/{key}/{value}", get(set))
        .route("/get/{key}", get(read))
        .route("/cycle", get(cycle))
        .route("/regenerate", get(regenerate))
        .route("/hold/{key}/{value}", get(hold));
    wrap_tower(routes, layer(store, SessionConfig::new(SECRET)))
}

async fn value_of(store: &dyn Store, id: &str, key: &str) -> Option<String> {
    let loaded = store.load(id).await.expect("load")?;
    loaded
        .record
        .data()
        .get(key)
        .and_then(|value| value.as_str())
        .map(str::to_owned)
}

#[tokio::test]
async fn cycle_id_keeps_the_data_under_a_new_id_and_ends_the_old_one() {
    for (name, store) in stores().await {
        let app = app(Arc::clone(&store), Arc::new(Notify::new()));
        let first = get_path(&app, "/set/cart/3-items").await;
        let old_id = first.body.clone();
        let old_client = CookieClient::new(&app, cookie_pair(&first.cookie()));

        let cycled = old_client.get("/cycle").await;
        cycled.expect_status(200);
        let new_id = cycled.body.clone();
        assert_ne!(new_id, old_id, "{name}");
        let new_client = CookieClient::new(&app, cookie_pair(&cycled.cookie()));
        assert_eq!(cycled.sid(), new_id, "{name}: the cookie names the new ID");

        assert_eq!(
            value_of(&*store, &new_id, "cart").await.as_deref(),
            Some("3-items"),
            "{name}"
        );
        assert!(store.load(&old_id).await.expect("load").is_none(), "{name}");
        new_client.get("/get/cart").await.expect(200, "3-items");
        old_client.get("/get/cart").await.expect(200, "none");
    }
}

#[tokio::test]
async fn a_store_failure_during_rotation_leaves_the_old_session_intact() {
    for (route, failing) in [
        ("/cycle", Op::Save),
        ("/cycle", Op::Destroy),
        ("/regenerate", Op::Destroy),
    ] {
        let store = TestStore::new();
        let app = app(Arc::new(store.clone()), Arc::new(Notify::new()));
        let first = get_path(&app, "/set/user/ada").await;
        let old_id = first.body.clone();
        let old_client = CookieClient::new(&app, cookie_pair(&first.cookie()));

        store.fail(failing, true);
        let res = old_client.get(route).await;
        store.fail(failing, false);
        assert!(
            res.body.starts_with("error") && res.body.ends_with("still true"),
            "{route} {failing:?}: {}",
            res.body
        );
        // The browser keeps its cookie, and the store its one session.
        assert!(set_cookies(&res.headers).is_empty(), "{route} {failing:?}");
        // When the store refuses deletes, `cycle_id` cannot undo its copy
        // either: that one is under an ID no browser was given, and expires.
        let copies = if (route, failing) == ("/cycle", Op::Destroy) {
            2
        } else {
            1
        };
        assert_eq!(store.length().await, copies, "{route} {failing:?}");
        assert_eq!(
            store
                .record(&old_id)
                .await
                .and_then(|record| record.data().get("user").cloned()),
            Some(serde_json::json!("ada")),
            "{route} {failing:?}"
        );
        old_client.get("/get/user").await.expect(200, "ada");
    }
}

/// Starts `/hold/theme/dark` with `cookie`, and gives it time to load the
/// session and wait on the app's `release`.
async fn hold_theme(app: &Router, cookie: &str) -> tokio::task::JoinHandle<Res> {
    let held = {
        let app = app.clone();
        let cookie = cookie.to_owned();
        tokio::spawn(async move { get_with_cookie(&app, "/hold/theme/dark", &cookie).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    held
}

#[tokio::test]
async fn a_request_in_flight_on_the_old_id_follows_the_move_in_this_process() {
    for (name, store) in stores().await {
        let release = Arc::new(Notify::new());
        let app = app(Arc::clone(&store), Arc::clone(&release));
        let first = get_path(&app, "/set/user/ada").await;
        let old_cookie = cookie_pair(&first.cookie());

        let held = hold_theme(&app, &old_cookie).await;
        let cycled = get_with_cookie(&app, "/cycle", &old_cookie).await;
        let new_id = cycled.body.clone();

        release.notify_one();
        let late = held.await.expect("the held request ends");
        assert_eq!(late.body, new_id, "{name}: the late write saw the new ID");
        assert_eq!(
            value_of(&*store, &new_id, "theme").await.as_deref(),
            Some("dark"),
            "{name}: the in-flight change was dropped"
        );
        assert_eq!(
            value_of(&*store, &new_id, "user").await.as_deref(),
            Some("ada"),
            "{name}"
        );
    }
}

#[tokio::test]
async fn another_process_on_the_old_id_finds_it_gone_and_writes_nothing_back() {
    for (name, store) in stores().await {
        // Two layers over one store are two processes: no shared live state.
        let release = Arc::new(Notify::new());
        let process_a = app(Arc::clone(&store), Arc::clone(&release));
        let process_b = app(Arc::clone(&store), Arc::new(Notify::new()));
        let first = get_path(&process_a, "/set/user/ada").await;
        let old_id = first.body.clone();
        let old_cookie = cookie_pair(&first.cookie());

        let held = hold_theme(&process_a, &old_cookie).await;
        let new_id = get_with_cookie(&process_b, "/cycle", &old_cookie)
            .await
            .body;

        release.notify_one();
        let late = held.await.expect("the held request ends");
        late.expect_status(200);
        assert!(
            set_cookies(&late.headers).is_empty(),
            "{name}: no cookie for a gone session"
        );
        assert!(
            store.load(&old_id).await.expect("load").is_none(),
            "{name}: the old ID was written back"
        );
        assert_eq!(
            value_of(&*store, &new_id, "user").await.as_deref(),
            Some("ada"),
            "{name}"
        );
        assert_eq!(value_of(&*store, &new_id, "theme").await, None, "{name}");
    }
}
