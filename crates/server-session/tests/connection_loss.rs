//! A store call whose connection drops is made again (three tries in all),
//! and costs the
//! request nothing (issue 12, item 2). A save whose reply was lost is read
//! back: it landed, it did not, or another writer got there first, and
//! each ends with the right data and a truthful status.
//!
//! The connection loss is injected by [`Dropping`], a wrapper around each
//! real store that fails one planned call with a connection error, either
//! before passing it on (the request was lost) or after (the reply was).
//! `connection_kills.rs` kills real connections under load instead.
//!
//! Every case runs on every store: the MemoryStore and SQLite always, Redis,
//! PostgreSQL and MySQL when `REDIS_URL`, `POSTGRES_URL` and `MYSQL_URL` are
//! set (an unset one prints `SKIPPED: …`, and fails under
//! `SESSION_REQUIRE_SERVICES=1`).

use session_test_support as support;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use server_session::store::{LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreFuture};
use server_session::{CookieOptions, Session, SessionConfig, StoreError};

use support::stores::stores;
use support::{get as get_path, get_with_cookie, layer, wrap_tower, Res, SECRET};

/// A store call, for planning a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Load,
    Save,
}

/// Where the connection drops.
#[derive(Clone, Debug)]
enum Drop {
    /// Before the call reaches the store: nothing happened there.
    Request,
    /// After the store did the call: only the reply is lost.
    Reply,
    /// After the store did the call and another writer then set this key
    /// to this value, before the reply (lost) would have arrived.
    ReplyThenOtherWriter(&'static str, i64),
}

/// A real store whose planned calls lose their connection.
struct Dropping {
    inner: Arc<dyn Store>,
    plan: Mutex<VecDeque<(Call, Drop)>>,
    /// Saves that reached the inner store.
    saves: AtomicUsize,
}

impl Dropping {
    fn new(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            plan: Mutex::default(),
            saves: AtomicUsize::new(0),
        })
    }

    /// The next `call` loses its connection at `drop`.
    fn plan(&self, call: Call, drop: Drop) {
        self.plan.lock().expect("the plan").push_back((call, drop));
    }

    fn planned(&self) -> usize {
        self.plan.lock().expect("the plan").len()
    }

    fn take(&self, call: Call) -> Option<Drop> {
        let mut plan = self.plan.lock().expect("the plan");
        if plan.front().is_some_and(|(planned, _)| *planned == call) {
            return plan.pop_front().map(|(_, drop)| drop);
        }
        None
    }
}

fn dropped() -> StoreError {
    StoreError::connection(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
}

impl Store for Dropping {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        Box::pin(async move {
            match self.take(Call::Load) {
                Some(Drop::Request) => Err(dropped()),
                Some(_) => {
                    let _ = self.inner.load(id).await;
                    Err(dropped())
                }
                None => self.inner.load(id).await,
            }
        })
    }

    fn load_and_touch<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(LoadedRecord, bool)>> {
        Box::pin(async move {
            match self.take(Call::Load) {
                Some(Drop::Request) => Err(dropped()),
                Some(_) => {
                    let _ = self.inner.load_and_touch(id).await;
                    Err(dropped())
                }
                None => self.inner.load_and_touch(id).await,
            }
        })
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        Box::pin(async move {
            let drop = self.take(Call::Save);
            if matches!(drop, Some(Drop::Request)) {
                return Err(dropped());
            }
            self.saves.fetch_add(1, Ordering::SeqCst);
            let outcome = self.inner.save(id, record, condition).await;
            match drop {
                None => outcome,
                Some(Drop::ReplyThenOtherWriter(key, value)) => {
                    let mut data = record.data().clone();
                    data.insert(key.to_owned(), value.into());
                    let other = Record::new(record.cookie().clone(), data);
                    let written = self
                        .inner
                        .save(id, &other, SaveCondition::Upsert)
                        .await
                        .expect("the other writer saves");
                    assert!(matches!(written, SaveOutcome::Saved(_)));
                    Err(dropped())
                }
                Some(_) => Err(dropped()),
            }
        })
    }

    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        self.inner.touch(id, record)
    }

    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        self.inner.destroy(id)
    }

    fn kind(&self) -> &'static str {
        "dropping"
    }
}

fn config() -> SessionConfig {
    SessionConfig::new(SECRET)
        .with_resave(false)
        .with_save_uninitialized(false)
        .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_secs(60))))
}

/// `/inc` adds one to `n` (read-modify-write) and answers the new value;
/// `/get/{key}` answers a key's value, or `none`.
fn app(store: Arc<Dropping>) -> Router {
    async fn inc(session: Session) -> Result<String, server_session::SessionError> {
        let n = session.get::<i64>("n")?.unwrap_or(0) + 1;
        session.insert("n", n)?;
        Ok(n.to_string())
    }
    async fn read(
        session: Session,
        axum::extract::Path(key): axum::extract::Path<String>,
    ) -> String {
        match session.get::<i64>(&key) {
            Ok(Some(value)) => value.to_string(),
            _ => String::from("none"),
        }
    }
    let routes = Router::new()
        .route("/inc", get(inc))
        .route("/get/{key}", get(read));
    wrap_tower(routes, layer(store, config()))
}

#[track_caller]
fn expect_ok(store: &str, what: &str, res: &Res, body: &str) {
    assert_eq!(
        (res.status.as_u16(), res.body.as_str()),
        (200, body),
        "{store}: {what}"
    );
}

/// One store's case: the app over a [`Dropping`] wrapper of the store, and
/// a session holding `n = 1`.
struct Case {
    name: &'static str,
    store: Arc<Dropping>,
    app: Router,
    cookie: String,
}

impl Case {
    async fn started(name: &'static str, store: Arc<dyn Store>) -> Case {
        let store = Dropping::new(store);
        let app = app(Arc::clone(&store));
        let first = get_path(&app, "/inc").await;
        expect_ok(name, "the session is created", &first, "1");
        Case {
            name,
            store,
            app,
            cookie: first.cookie(),
        }
    }

    /// `GET path` with the session's cookie answers 200 with `body`.
    async fn expect(&self, path: &str, what: &str, body: &str) {
        let res = get_with_cookie(&self.app, path, &self.cookie).await;
        expect_ok(self.name, what, &res, body);
    }
}

#[tokio::test]
async fn a_load_whose_request_was_lost_is_made_again() {
    for (name, store) in stores().await {
        let case = Case::started(name, store).await;
        case.store.plan(Call::Load, Drop::Request);
        case.expect("/get/n", "the load is made again", "1").await;
        assert_eq!(case.store.planned(), 0, "{name}: the fault was hit");
    }
}

#[tokio::test]
async fn a_load_whose_reply_was_lost_is_made_again() {
    for (name, store) in stores().await {
        let case = Case::started(name, store).await;
        case.store.plan(Call::Load, Drop::Reply);
        case.expect("/inc", "the increment goes through", "2").await;
        case.expect("/get/n", "and is stored", "2").await;
    }
}

#[tokio::test]
async fn a_save_whose_request_was_lost_is_made_again() {
    for (name, store) in stores().await {
        let case = Case::started(name, store).await;
        case.store.plan(Call::Save, Drop::Request);
        case.expect("/inc", "the save is made again", "2").await;
        case.expect("/get/n", "and is stored", "2").await;
    }
}

#[tokio::test]
async fn a_save_whose_reply_was_lost_is_read_back_and_not_written_twice() {
    for (name, store) in stores().await {
        let case = Case::started(name, store).await;
        let saves = case.store.saves.load(Ordering::SeqCst);
        case.store.plan(Call::Save, Drop::Reply);
        case.expect("/inc", "the save landed and says so", "2")
            .await;
        assert_eq!(
            case.store.saves.load(Ordering::SeqCst) - saves,
            1,
            "{name}: the read-back found the save, so it was not made again"
        );
        // The version the read-back reported is the stored one: the next
        // compare-and-set save succeeds at once.
        case.expect("/inc", "the next increment", "3").await;
        case.expect("/get/n", "every increment is stored once", "3")
            .await;
    }
}

#[tokio::test]
async fn a_new_session_whose_first_save_lost_its_reply_keeps_its_cookie() {
    for (name, store) in stores().await {
        let store = Dropping::new(store);
        let app = app(Arc::clone(&store));
        store.plan(Call::Save, Drop::Reply);
        let first = get_path(&app, "/inc").await;
        expect_ok(name, "the new session is saved", &first, "1");
        // Not mistaken for an ID another session holds: the same ID, and
        // its cookie loads the data.
        let res = get_with_cookie(&app, "/get/n", &first.cookie()).await;
        expect_ok(name, "the cookie names the stored session", &res, "1");
    }
}

#[tokio::test]
async fn a_lost_reply_after_another_writer_merges_both_changes() {
    for (name, store) in stores().await {
        let case = Case::started(name, store).await;
        case.store
            .plan(Call::Save, Drop::ReplyThenOtherWriter("other", 7));
        case.expect("/inc", "the increment is acknowledged", "2")
            .await;
        case.expect("/get/other", "the other writer's change is kept", "7")
            .await;
        case.expect("/get/n", "the increment is kept", "2").await;
    }
}

#[tokio::test]
async fn a_save_that_loses_its_connection_twice_lands_on_the_third_try() {
    for (name, store) in stores().await {
        let case = Case::started(name, store).await;
        case.store.plan(Call::Save, Drop::Request);
        case.store.plan(Call::Save, Drop::Reply);
        case.expect("/inc", "the increment is acknowledged", "2")
            .await;
        case.expect("/get/n", "the increment is kept", "2").await;
    }
}

#[tokio::test]
async fn a_save_that_loses_its_connection_on_every_try_is_not_acknowledged() {
    for (name, store) in stores().await {
        let case = Case::started(name, store).await;
        for _ in 0..3 {
            case.store.plan(Call::Save, Drop::Request);
        }
        let res = get_with_cookie(&case.app, "/inc", &case.cookie).await;
        assert_eq!(
            res.status.as_u16(),
            503,
            "{name}: an unsaved change is not a success ({})",
            res.body
        );
        assert_eq!(res.header("retry-after"), Some("1"), "{name}");
        case.expect("/get/n", "nothing was stored", "1").await;
    }
}
