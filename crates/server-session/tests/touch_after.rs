//! `SessionConfig::with_touch_after` on every bundled store: an unchanged
//! request within `touch_after` is a pure read (the stored expiry does not
//! move, and PostgreSQL counts no update), one past it touches, a changed
//! session still saves, and the stored expiry never trails express's by
//! more than `touch_after`, so the session stays live for Node.
//!
//! The stored expiry is read straight from each store's own bookkeeping
//! (Redis `PTTL`, the SQL `expire` column, the MemoryStore's record, which
//! its touch rewrites), not through the method under test.

use session_test_support as support;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use server_session::store::{
    now_ms, CookieData, LoadedRecord, Record, SaveCondition, SaveOutcome, StoreFuture,
};
use server_session::{CookieOptions, MemoryStore, Session, SessionConfig, SessionLayer, Store};
use server_session_redis::RedisStore;
use server_session_sql::{MySqlStore, PostgresStore, SqliteStore};

use support::{
    cookie_pair, get as get_path, get_with_cookie, layer, read_user, stores, wrap_tower,
    CookieClient,
};

const SECRET: &str = "a touch-after secret of 32 bytes or more";
const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(24 * 3_600);

/// A store, and a way to read the expiry it enforces without the layer.
enum Probe {
    Memory(MemoryStore),
    Sqlite(SqliteStore),
    Redis(RedisStore, redis::aio::MultiplexedConnection),
    Postgres(PostgresStore),
    MySql(MySqlStore),
}

impl Probe {
    fn name(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Sqlite(_) => "sqlite",
            Self::Redis(..) => "redis",
            Self::Postgres(_) => "postgres",
            Self::MySql(_) => "mysql",
        }
    }

    fn store(&self) -> Arc<dyn Store> {
        match self {
            Self::Memory(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
            Self::Redis(store, _) => Arc::new(store.clone()),
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::MySql(store) => Arc::new(store.clone()),
        }
    }

    /// The expiry the store holds for `id`, in ms since the epoch.
    async fn stored_expiry(&self, id: &str) -> i64 {
        match self {
            Self::Memory(store) => store
                .load(id)
                .await
                .expect("load")
                .and_then(|loaded| loaded.record.cookie().expires_ms())
                .expect("a stored expiry"),
            Self::Sqlite(store) => sqlx::query_scalar::<_, i64>(&format!(
                "SELECT expire * 1000 FROM {} WHERE sid = ?1",
                store.quoted_table()
            ))
            .bind(id)
            .fetch_one(store.pool())
            .await
            .expect("the row"),
            Self::Redis(store, conn) => {
                let before = now_ms();
                let pttl: i64 = redis::cmd("PTTL")
                    .arg(store.key(id))
                    .query_async(&mut conn.clone())
                    .await
                    .expect("PTTL");
                assert!(pttl > 0, "no TTL on {}", store.key(id));
                before + pttl
            }
            Self::Postgres(store) => sqlx::query_scalar::<_, i64>(&format!(
                "SELECT CAST(EXTRACT(EPOCH FROM expire::timestamptz) * 1000 AS bigint) \
                 FROM {} WHERE sid = $1",
                store.quoted_table()
            ))
            .bind(id)
            .fetch_one(store.pool())
            .await
            .expect("the row"),
            Self::MySql(store) => sqlx::query_scalar::<_, i64>(&format!(
                "SELECT CAST(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', expire) * 1000 AS SIGNED) \
                 FROM {} WHERE sid = ?",
                store.quoted_table()
            ))
            .bind(id)
            .fetch_one(store.pool())
            .await
            .expect("the row"),
        }
    }

    /// How far the expiry may seem to move with no write: Redis's is read
    /// as now + PTTL, which drifts by the time between the two readings.
    fn jitter_ms(&self) -> i64 {
        match self {
            Self::Redis(..) => 250,
            _ => 0,
        }
    }
}

/// Every bundled store (the services when their URLs are set; an unset one
/// prints `SKIPPED`, and fails under `SESSION_REQUIRE_SERVICES=1`).
async fn probes() -> Vec<Probe> {
    let mut probes = vec![
        Probe::Memory(MemoryStore::new()),
        Probe::Sqlite(stores::temp_sqlite().await),
    ];
    if let Some(url) = stores::url("REDIS_URL") {
        let store = RedisStore::connect(&url).await.expect("Redis answers");
        let conn = redis::Client::open(url.as_str())
            .expect("a Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("Redis answers");
        probes.push(Probe::Redis(store, conn));
    }
    if let Some(url) = stores::url("POSTGRES_URL") {
        let store = PostgresStore::connect(&url)
            .await
            .expect("PostgreSQL answers");
        store.migrate().await.expect("PostgreSQL migrates");
        probes.push(Probe::Postgres(store));
    }
    if let Some(url) = stores::url("MYSQL_URL") {
        let store = MySqlStore::connect(&url).await.expect("MySQL answers");
        store.migrate().await.expect("MySQL migrates");
        probes.push(Probe::MySql(store));
    }
    probes
}

fn app(store: Arc<dyn Store>, config: SessionConfig) -> Router {
    async fn set(session: Session) -> String {
        session.insert("user", "ada").expect("insert");
        session.id()
    }
    async fn rename(session: Session) -> &'static str {
        session.insert("user", "grace").expect("insert");
        "renamed"
    }
    let routes = Router::new()
        .route("/set", get(set))
        .route("/rename", get(rename))
        .route("/read", get(read_user));
    wrap_tower(routes, layer(store, config))
}

fn config(max_age: Duration, touch_after: Option<Duration>) -> SessionConfig {
    SessionConfig::new(SECRET)
        .with_cookie(CookieOptions::new().with_max_age(Some(max_age)))
        .with_touch_after(touch_after)
}

/// `/set` on a new session: its ID, and a client that sends its cookie back.
async fn new_session(app: &Router) -> (String, CookieClient<'_, Router>) {
    let created = get_path(app, "/set").await;
    let client = CookieClient::new(app, cookie_pair(&created.cookie()));
    (created.body, client)
}

#[tokio::test]
async fn an_unchanged_request_within_touch_after_leaves_the_stored_expiry_alone() {
    for probe in probes().await {
        let name = probe.name();
        let lazy = app(probe.store(), config(DAY, Some(HOUR)));
        let eager = app(probe.store(), config(DAY, None));
        let (lazy_id, lazy_client) = new_session(&lazy).await;
        let (eager_id, eager_client) = new_session(&eager).await;
        let lazy_before = probe.stored_expiry(&lazy_id).await;
        let eager_before = probe.stored_expiry(&eager_id).await;

        // Past a whole second, so that second-based expiries would move too.
        tokio::time::sleep(Duration::from_millis(1_300)).await;
        let lazy_read = lazy_client.get("/read").await;
        lazy_read.expect(200, "ada");
        assert!(lazy_read.header("set-cookie").is_none(), "{name}");
        eager_client.get("/read").await.expect(200, "ada");

        let lazy_moved = probe.stored_expiry(&lazy_id).await - lazy_before;
        let eager_moved = probe.stored_expiry(&eager_id).await - eager_before;
        assert!(
            lazy_moved.abs() <= probe.jitter_ms(),
            "{name}: the expiry moved by {lazy_moved} ms under touch_after"
        );
        assert!(
            eager_moved >= 900,
            "{name}: without touch_after the touch moved the expiry by only {eager_moved} ms"
        );
    }
}

#[tokio::test]
async fn an_expiry_that_would_move_by_more_than_touch_after_is_touched() {
    for probe in probes().await {
        let name = probe.name();
        let app = app(probe.store(), config(DAY, Some(Duration::from_secs(1))));
        let (id, client) = new_session(&app).await;
        let before = probe.stored_expiry(&id).await;

        tokio::time::sleep(Duration::from_millis(2_300)).await;
        client.get("/read").await.expect(200, "ada");
        let touched = probe.stored_expiry(&id).await;
        assert!(
            touched - before >= 1_500,
            "{name}: 2.3 s later the expiry moved by only {} ms",
            touched - before
        );

        // Right after the touch, the next request is a read again.
        client.get("/read").await.expect(200, "ada");
        let after = probe.stored_expiry(&id).await - touched;
        assert!(
            after.abs() <= probe.jitter_ms(),
            "{name}: moved by {after} ms"
        );
    }
}

#[tokio::test]
async fn a_changed_session_is_still_saved() {
    for probe in probes().await {
        let name = probe.name();
        let store = probe.store();
        let app = app(Arc::clone(&store), config(DAY, Some(HOUR)));
        let (id, client) = new_session(&app).await;
        let before = probe.stored_expiry(&id).await;

        tokio::time::sleep(Duration::from_millis(1_300)).await;
        client.get("/rename").await.expect(200, "renamed");
        let stored = store.load(&id).await.expect("load").expect("stored");
        assert_eq!(
            stored.record.data().get("user"),
            Some(&serde_json::json!("grace")),
            "{name}"
        );
        // The save wrote the expiry as well.
        let moved = probe.stored_expiry(&id).await - before;
        assert!(
            moved >= 900,
            "{name}: the save moved the expiry by {moved} ms"
        );
        client.get("/read").await.expect(200, "grace");
    }
}

/// A short idle timeout kept alive by reads every 400 ms for longer than
/// the timeout itself: after each one the stored expiry is at most
/// `touch_after` earlier than express's (`request time + maxAge`), and a
/// plain load, as a Node app on the store makes, still finds the session
/// at the end.
#[tokio::test]
async fn the_stored_expiry_never_trails_express_by_more_than_touch_after() {
    const MAX_AGE_MS: i64 = 3_000;
    const TOUCH_AFTER_MS: i64 = 1_000;
    for probe in probes().await {
        let name = probe.name();
        let store = probe.store();
        let app = app(
            Arc::clone(&store),
            config(
                Duration::from_millis(MAX_AGE_MS as u64),
                Some(Duration::from_millis(TOUCH_AFTER_MS as u64)),
            ),
        );
        let (id, client) = new_session(&app).await;
        let mut touches = 0;
        let mut last = probe.stored_expiry(&id).await;
        for _ in 0..12 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let sent = now_ms();
            client.get("/read").await.expect(200, "ada");
            let stored = probe.stored_expiry(&id).await;
            let express = sent + MAX_AGE_MS;
            assert!(
                stored >= express - TOUCH_AFTER_MS - probe.jitter_ms(),
                "{name}: stored {stored} trails express's {express} by more than touch_after"
            );
            if stored - last > probe.jitter_ms() {
                touches += 1;
            }
            last = stored;
        }
        // 4.8 s of reads on a 3 s idle timeout: alive, with some touches
        // and fewer than one per read.
        assert!((1..12).contains(&touches), "{name}: {touches} touches");
        assert!(
            store.load(&id).await.expect("load").is_some(),
            "{name}: the session died for a plain load"
        );
    }
}

/// PostgreSQL's own statistics: under `touch_after`, unchanged requests
/// update no row of the table; without it, each one updates it.
#[tokio::test]
async fn postgres_counts_no_update_for_unchanged_requests() {
    let Ok(url) = std::env::var("POSTGRES_URL") else {
        assert!(
            std::env::var("SESSION_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "POSTGRES_URL is unset and SESSION_REQUIRE_SERVICES=1"
        );
        println!("SKIPPED: POSTGRES_URL is unset");
        return;
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("PostgreSQL answers");
    let table = format!(
        "touch_after_{}",
        server_session::__private::generate_id()
            .to_lowercase()
            .replace(['-', '_'], "")
    );
    let store = PostgresStore::from_pool(pool).with_table(table);
    store.migrate().await.expect("migrate");
    let updates = || async {
        sqlx::query("SELECT pg_stat_force_next_flush()")
            .execute(store.pool())
            .await
            .expect("flush statistics");
        sqlx::query_scalar::<_, i64>(
            "SELECT n_tup_upd FROM pg_stat_user_tables WHERE relid = to_regclass($1)",
        )
        .bind(store.quoted_table())
        .fetch_one(store.pool())
        .await
        .expect("table statistics")
    };
    for (touch_after, expected) in [(Some(HOUR), 0), (None, 5)] {
        let app = app(Arc::new(store.clone()), config(DAY, touch_after));
        let (_, client) = new_session(&app).await;
        let before = updates().await;
        for _ in 0..5 {
            client.get("/read").await.expect(200, "ada");
        }
        assert_eq!(
            updates().await - before,
            expected,
            "touch_after {touch_after:?}"
        );
    }
    sqlx::query(&format!("DROP TABLE {}", store.quoted_table()))
        .execute(store.pool())
        .await
        .expect("drop the table");
}

/// The store contract behind the option: `load_with_expiry` reports the
/// expiry the store enforces, which is the one a `touch` set (not the
/// record's `cookie.expires`, which Redis's and SQL's touch leave as it
/// was), and nothing for a missing record.
#[tokio::test]
async fn load_with_expiry_reports_the_expiry_the_last_touch_set() {
    for probe in probes().await {
        let name = probe.name();
        let store = probe.store();
        let id = server_session::__private::generate_id();
        assert!(
            store.load_with_expiry(&id).await.expect("load").is_none(),
            "{name}"
        );
        let now = now_ms();
        let cookie = CookieData::default().with_original_max_age_ms(Some(60_000));
        let saved = Record::new(
            cookie.clone().with_expires_ms(Some(now + 60_000)),
            serde_json::Map::new(),
        );
        let outcome = store
            .save(&id, &saved, SaveCondition::IfAbsent)
            .await
            .expect("save");
        assert!(matches!(outcome, SaveOutcome::Saved(_)), "{name}");
        let touched = Record::new(
            cookie.with_expires_ms(Some(now + 120_000)),
            serde_json::Map::new(),
        );
        store.touch(&id, &touched).await.expect("touch");
        let (_, expiry) = store
            .load_with_expiry(&id)
            .await
            .expect("load")
            .expect("stored");
        let expiry = expiry.unwrap_or_else(|| panic!("{name}: no expiry"));
        // Whole seconds on SQL and Redis, rounded up.
        assert!(
            (now + 119_000..=now + 121_500).contains(&expiry),
            "{name}: {} ms from now",
            expiry - now
        );
        let stored = probe.stored_expiry(&id).await;
        assert!(
            (expiry - stored).abs() <= 1_000,
            "{name}: {expiry} vs {stored}"
        );
        store.destroy(&id).await.expect("destroy");
    }
}

/// A MemoryStore that counts the calls the layer makes.
#[derive(Clone, Default)]
struct Counting {
    inner: MemoryStore,
    calls: Arc<std::sync::Mutex<Vec<&'static str>>>,
}

impl Counting {
    fn note(&self, call: &'static str) {
        self.calls.lock().expect("lock").push(call);
    }

    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().expect("lock"))
    }
}

impl Store for Counting {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        self.note("load");
        self.inner.load(id)
    }
    fn load_and_touch<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(LoadedRecord, bool)>> {
        self.note("load_and_touch");
        self.inner.load_and_touch(id)
    }
    fn load_with_expiry<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Option<(LoadedRecord, Option<i64>)>> {
        self.note("load_with_expiry");
        self.inner.load_with_expiry(id)
    }
    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        self.note("save");
        self.inner.save(id, record, condition)
    }
    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        self.note("touch");
        self.inner.touch(id, record)
    }
    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        self.note("destroy");
        self.inner.destroy(id)
    }
    fn kind(&self) -> &'static str {
        "counting"
    }
}

/// The calls an unchanged request makes: with default options the one
/// `load_and_touch` as before; under `touch_after` one `load_with_expiry`
/// and nothing else, also through the wrapper that hashes IDs at rest; a
/// browser-session cookie still touches at the end.
#[tokio::test]
async fn an_unchanged_request_makes_one_pure_read_under_touch_after() {
    let cases = [
        (config(DAY, None), vec!["load_and_touch"]),
        (config(DAY, Some(HOUR)), vec!["load_with_expiry"]),
        (
            config(DAY, Some(HOUR)).with_hashed_ids_at_rest("a key of at least 32 bytes, for ids"),
            vec!["load_with_expiry"],
        ),
        (
            SessionConfig::new(SECRET).with_touch_after(Some(HOUR)),
            vec!["load_with_expiry", "touch"],
        ),
    ];
    for (config, expected) in cases {
        let store = Counting::default();
        let app = app(Arc::new(store.clone()), config);
        let (_, client) = new_session(&app).await;
        assert_eq!(store.take(), ["save"]);
        for _ in 0..3 {
            client.get("/read").await.expect(200, "ada");
            assert_eq!(store.take(), expected);
        }
    }
}

/// `rolling` still sends the cookie, with a fresh `Expires`, on every
/// request; the store's expiry follows `touch_after`. `resave` still saves
/// every request: that write is what it asks for.
#[tokio::test]
async fn rolling_sends_the_cookie_and_resave_saves_as_before() {
    let store = Counting::default();
    let rolling = app(
        Arc::new(store.clone()),
        config(DAY, Some(HOUR)).with_rolling(true),
    );
    let (_, client) = new_session(&rolling).await;
    store.take();
    let read = client.get("/read").await;
    read.expect(200, "ada");
    assert!(
        read.header("set-cookie").is_some(),
        "rolling sends the cookie"
    );
    assert_eq!(store.take(), ["load_with_expiry"]);

    let resave = app(
        Arc::new(store.clone()),
        config(DAY, Some(HOUR)).with_resave(true),
    );
    get_with_cookie(&resave, "/read", client.cookie())
        .await
        .expect(200, "ada");
    assert_eq!(store.take(), ["load_with_expiry", "save"]);
}

#[test]
fn touch_after_must_be_at_least_a_millisecond() {
    for bad in [Duration::ZERO, Duration::from_micros(999)] {
        let error =
            SessionLayer::new(MemoryStore::new(), config(DAY, Some(bad))).expect_err("refused");
        assert_eq!(error.option(), "touch_after", "{bad:?}");
    }
    let _layer = SessionLayer::new(
        MemoryStore::new(),
        config(DAY, Some(Duration::from_millis(1))),
    )
    .expect("1 ms is accepted");
}
