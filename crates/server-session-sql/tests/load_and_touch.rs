//! `load_and_touch`: one `UPDATE … RETURNING` loads a live row and moves its
//! `expire` exactly as the end-of-request touch would (PostgreSQL, SQLite).
//! Rows are written as raw SQL, so the cases see what Node could have stored.
#![cfg(any(feature = "postgres", feature = "sqlite"))]

#[cfg(feature = "postgres")]
use session_test_support::services as common;

use serde_json::{Map, Value};
use server_session::store::{
    now_ms, CookieData, LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreError,
    Version,
};
use session_test_support::backend_tests::load_and_touch_live;

/// What a case needs beyond the store: raw access to its table.
trait Fixture: Store + Sized {
    /// Writes a row as it is, bypassing the store.
    async fn insert_raw(&self, id: &str, sess: &str, expire_secs: i64);
    /// The row's `expire` in seconds since the epoch.
    async fn expire_secs(&self, id: &str) -> Option<i64>;
    /// The row's `sess` as stored.
    async fn stored_sess(&self, id: &str) -> Option<Vec<u8>>;
    /// Drops the table (PostgreSQL tables outlive the test).
    async fn cleanup(&self);
}

/// The default TTL every case's store is given.
const DEFAULT_TTL_SECS: i64 = 1234;

fn ceil_secs(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

/// An express record with `originalMaxAge` written as `max_age` (raw JSON),
/// with spacing that a re-serialisation would lose.
fn sess_with_max_age(max_age: &str) -> String {
    format!(
        r#"{{"cookie":{{"originalMaxAge":{max_age},"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}}, "n" : 1,"ü":"✓"}}"#
    )
}

/// `load_and_touch` of a live row, and the clock just before and after it
/// (ms), between which the touch took its "now".
async fn timed_load_and_touch<S: Fixture>(store: &S, id: &str) -> (LoadedRecord, bool, i64, i64) {
    let before = now_ms();
    let (loaded, touched) = load_and_touch_live(store, id).await;
    (loaded, touched, before, now_ms())
}

/// The row's `expire` lies within `earliest..=latest` (seconds).
async fn assert_expire_within<S: Fixture>(store: &S, id: &str, earliest: i64, latest: i64) {
    let expire = store.expire_secs(id).await.expect("row");
    assert!(
        (earliest..=latest).contains(&expire),
        "expire {expire} not in {earliest}..={latest}"
    );
}

async fn a_live_record_with_max_age_gets_expire_now_plus_max_age<S: Fixture>(store: S) {
    let max_age = 3_600_123;
    let sess = sess_with_max_age(&max_age.to_string());
    let old_expire = ceil_secs(now_ms()) + 600;
    store.insert_raw("a", &sess, old_expire).await;
    let loaded = store.load("a").await.expect("load").expect("live");

    let (touched_load, touched, before, after) = timed_load_and_touch(&store, "a").await;

    assert!(touched, "a max-age record is touched");
    assert_expire_within(
        &store,
        "a",
        ceil_secs(before + max_age),
        ceil_secs(after + max_age),
    )
    .await;
    assert_eq!(
        store.stored_sess("a").await.expect("row"),
        sess.as_bytes(),
        "sess must stay byte for byte"
    );
    assert_eq!(touched_load.version, loaded.version);
    assert_eq!(touched_load.version, Version::digest_of(sess.as_bytes()));
    assert_eq!(touched_load.record, loaded.record);
    let reloaded = store.load("a").await.expect("load").expect("live");
    assert_eq!(
        reloaded.version, loaded.version,
        "a touch keeps the version"
    );
    store.cleanup().await;
}

async fn a_browser_session_record_gets_the_default_ttl<S: Fixture>(store: S) {
    let sess =
        r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"a":1}"#;
    let old_expire = ceil_secs(now_ms()) + 5;
    store.insert_raw("b", sess, old_expire).await;

    let (loaded, touched, before, after) = timed_load_and_touch(&store, "b").await;

    assert!(touched, "a browser-session record is touched");
    assert_eq!(loaded.version, Version::digest_of(sess.as_bytes()));
    assert_expire_within(
        &store,
        "b",
        ceil_secs(before) + DEFAULT_TTL_SECS,
        ceil_secs(after) + DEFAULT_TTL_SECS,
    )
    .await;
    store.cleanup().await;
}

async fn an_expired_row_is_not_revived<S: Fixture>(store: S) {
    let dead = ceil_secs(now_ms()) - 10;
    store
        .insert_raw("dead", &sess_with_max_age("3600000"), dead)
        .await;
    assert!(store.load_and_touch("dead").await.expect("call").is_none());
    assert_eq!(store.expire_secs("dead").await, Some(dead), "not revived");
    assert!(store
        .load_and_touch("missing")
        .await
        .expect("call")
        .is_none());
    store.cleanup().await;
}

async fn odd_max_ages_are_loaded_but_not_touched<S: Fixture>(store: S) {
    let old_expire = ceil_secs(now_ms()) + 600;
    let max_ages = [
        "0",
        "-5000",
        "-0",
        "1.5",
        "60000.0",
        "6e4",
        "6E+4",
        r#""60000""#,
        "1234567890123456789",
    ];
    for (n, max_age) in max_ages.iter().enumerate() {
        let id = format!("odd{n}");
        let sess = sess_with_max_age(max_age);
        store.insert_raw(&id, &sess, old_expire).await;
        let (loaded, touched) = load_and_touch_live(&store, &id).await;
        assert!(!touched, "originalMaxAge {max_age} must not be touched");
        assert_eq!(loaded.version, Version::digest_of(sess.as_bytes()));
        assert_eq!(
            store.expire_secs(&id).await,
            Some(old_expire),
            "originalMaxAge {max_age}: expire unchanged"
        );
    }
    // No `originalMaxAge` at all: loads (as a browser-session cookie), but
    // only an explicit `null` is touched here.
    let sess = r#"{"cookie":{"expires":null,"path":"/"}}"#;
    store.insert_raw("nokey", sess, old_expire).await;
    let (_, touched) = load_and_touch_live(&store, "nokey").await;
    assert!(!touched);
    assert_eq!(store.expire_secs("nokey").await, Some(old_expire));
    store.cleanup().await;
}

/// Valid JSON that is not a session record: `Corrupt`, as from `load`.
async fn a_corrupt_row_fails_as_load_does<S: Fixture>(store: S) {
    let old_expire = ceil_secs(now_ms()) + 600;
    let corrupt = [
        "[1,2]",
        r#"{"cookie":5}"#,
        r#""text""#,
        r#"{"cookie":{"originalMaxAge":60000,"expires":"soon"}}"#,
    ];
    for (n, sess) in corrupt.iter().enumerate() {
        let id = format!("bad{n}");
        store.insert_raw(&id, sess, old_expire).await;
        assert!(
            matches!(store.load(&id).await, Err(StoreError::Corrupt { .. })),
            "{sess}: load"
        );
        assert!(
            matches!(
                store.load_and_touch(&id).await,
                Err(StoreError::Corrupt { .. })
            ),
            "{sess}: load_and_touch"
        );
        assert_eq!(store.stored_sess(&id).await.expect("row"), sess.as_bytes());
        // The last one has a lifetime to read, so its `expire` may have
        // moved before the record failed to parse; the others have none.
        if n < 3 {
            assert_eq!(store.expire_secs(&id).await, Some(old_expire), "{sess}");
        }
    }
    store.cleanup().await;
}

/// A NUL in the data (a handler that copied `?return_to=%00` into the
/// session) is stored as the escape `\u0000`, which PostgreSQL's JSON
/// functions refuse to unescape. Every call must still work on that row and
/// give back the exact data: the NUL in a value and in a key.
async fn a_nul_in_the_data_is_loaded_touched_and_saved_exactly<S: Fixture>(store: S) {
    let max_age = 3_600_000;
    let cookie = CookieData::default()
        .with_original_max_age_ms(Some(max_age))
        .with_expires_ms(Some(now_ms() + max_age));
    let mut data = Map::new();
    data.insert("return_to".to_owned(), Value::from("/after\u{0}login"));
    data.insert("k\u{0}ey".to_owned(), Value::from("v"));
    let record = Record::new(cookie, data);
    let json = record.to_json();
    assert!(
        json.contains(r"\u0000"),
        "the NUL is written escaped: {json}"
    );

    let Ok(SaveOutcome::Saved(saved)) = store.save("nul", &record, SaveCondition::Upsert).await
    else {
        panic!("an upsert saves");
    };
    assert_eq!(
        store.stored_sess("nul").await.expect("row"),
        json.as_bytes()
    );
    let loaded = store.load("nul").await.expect("load").expect("live");
    assert_eq!(loaded.record.data(), record.data());
    assert_eq!(loaded.version, saved);

    let (touched_load, touched, before, after) = timed_load_and_touch(&store, "nul").await;
    assert!(touched, "a max-age record is touched, NUL or not");
    assert_eq!(touched_load.record.data(), record.data());
    assert_eq!(touched_load.version, saved);
    assert_expire_within(
        &store,
        "nul",
        ceil_secs(before + max_age),
        ceil_secs(after + max_age),
    )
    .await;

    store.touch("nul", &record).await.expect("touch");
    assert_eq!(
        store.stored_sess("nul").await.expect("row"),
        json.as_bytes(),
        "neither touch rewrites sess"
    );

    let mut more = record.data().clone();
    more.insert("next\u{0}".to_owned(), Value::from("\u{0}"));
    let changed = Record::new(record.cookie().clone(), more);
    let Ok(SaveOutcome::Saved(changed_version)) = store
        .save(
            "nul",
            &changed,
            SaveCondition::IfVersion(touched_load.version),
        )
        .await
    else {
        panic!("a compare-and-set against the loaded version saves");
    };
    assert_eq!(
        store
            .save("nul", &record, SaveCondition::IfVersion(saved))
            .await
            .expect("save"),
        SaveOutcome::Conflict,
        "a stale version conflicts"
    );
    let reloaded = store.load("nul").await.expect("load").expect("live");
    assert_eq!(reloaded.record.data(), changed.data());
    assert_eq!(reloaded.version, changed_version);
    let (again, touched) = load_and_touch_live(&store, "nul").await;
    assert!(touched);
    assert_eq!(again.record.data(), changed.data());

    let all = store.all().await.expect("all");
    assert!(all
        .iter()
        .any(|(id, listed)| id == "nul" && listed.data() == changed.data()));
    assert_eq!(store.len().await.expect("len"), 1);
    assert_eq!(store.prune_expired().await.expect("prune"), 0);
    store.cleanup().await;
}

/// Rows as Node writes them (`JSON.stringify` escapes NUL as `\u0000`, in
/// keys too), a max-age one and a browser-session one, are touched by the
/// one statement and come back byte for byte. `\\u0000` (a backslash, then
/// the text `u0000`) is no NUL and must stay what it is.
async fn a_row_node_wrote_with_nul_escapes_is_loaded_and_touched<S: Fixture>(store: S) {
    let old_expire = ceil_secs(now_ms()) + 5;
    let max_age = 3_600_000;
    let rows = [
        (
            "node_max_age",
            format!(
                r#"{{"cookie":{{"originalMaxAge":{max_age},"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}},"return_to":"\u0000","a\u0000b":"x\u0000y","literal":"\\u0000"}}"#
            ),
        ),
        (
            "node_browser",
            r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"\u0000":"\u0000"}"#
                .to_owned(),
        ),
    ];
    for (id, sess) in &rows {
        store.insert_raw(id, sess, old_expire).await;
        let expected: Map<String, Value> = match serde_json::from_str::<Value>(sess) {
            Ok(Value::Object(mut object)) => {
                object.remove("cookie");
                object
            }
            other => panic!("{sess} is a JSON object: {other:?}"),
        };

        let (loaded, touched, before, after) = timed_load_and_touch(&store, id).await;

        assert!(touched, "{id}: touched by load_and_touch");
        assert_eq!(loaded.record.data(), &expected, "{id}");
        assert_eq!(loaded.version, Version::digest_of(sess.as_bytes()), "{id}");
        assert_eq!(store.stored_sess(id).await.expect("row"), sess.as_bytes());
        let (earliest, latest) = if *id == "node_max_age" {
            (ceil_secs(before + max_age), ceil_secs(after + max_age))
        } else {
            (
                ceil_secs(before) + DEFAULT_TTL_SECS,
                ceil_secs(after) + DEFAULT_TTL_SECS,
            )
        };
        assert_expire_within(&store, id, earliest, latest).await;
    }
    assert_eq!(
        rows[0].1.matches(r"\u0000").count(),
        4,
        "three NULs and one literal"
    );
    store.cleanup().await;
}

/// Node writes an unpaired UTF-16 surrogate as the escape `\ud83d`, which
/// PostgreSQL's JSON functions refuse: `load_and_touch` must load it, or
/// fail, exactly as `load` does, never with a backend error of its own,
/// which would fail every request of the session.
async fn a_lone_surrogate_loads_or_fails_as_load_does<S: Fixture>(store: S) {
    let old_expire = ceil_secs(now_ms()) + 600;
    let sess = r#"{"cookie":{"originalMaxAge":60000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"s":"\ud83d"}"#;
    store.insert_raw("lone", sess, old_expire).await;
    let loaded = store.load("lone").await;
    let touched = store.load_and_touch("lone").await;
    match (&loaded, &touched) {
        (Err(StoreError::Corrupt { .. }), Err(StoreError::Corrupt { .. })) => {}
        (Ok(Some(loaded)), Ok(Some((again, _)))) => {
            assert_eq!(again.record, loaded.record);
            assert_eq!(again.version, loaded.version);
            assert_eq!(again.version, Version::digest_of(sess.as_bytes()));
        }
        other => panic!("load and load_and_touch differ: {other:?}"),
    }
    assert_eq!(
        store.stored_sess("lone").await.expect("row"),
        sess.as_bytes()
    );
    store.cleanup().await;
}

async fn disable_touch_only_loads<S: Fixture>(store: S) {
    let old_expire = ceil_secs(now_ms()) + 600;
    let sess = sess_with_max_age("3600000");
    store.insert_raw("d", &sess, old_expire).await;
    let (loaded, touched) = load_and_touch_live(&store, "d").await;
    assert!(!touched);
    assert_eq!(loaded.version, Version::digest_of(sess.as_bytes()));
    assert_eq!(store.expire_secs("d").await, Some(old_expire));
    store.cleanup().await;
}

/// The first call of a store creates the table, as `load` does.
async fn the_first_call_creates_the_table<S: Fixture>(store: S) {
    assert!(store.load_and_touch("x").await.expect("call").is_none());
    assert!(store.load("x").await.expect("load").is_none());
    store.cleanup().await;
}

/// One `#[tokio::test]` per case. Each backend module has `async fn
/// store(configure) -> Option<(store, guard)>` (None: skipped), giving a
/// store on a table that does not exist yet, with the default TTL
/// [`DEFAULT_TTL_SECS`]; the guard lives until the case ends.
macro_rules! cases {
    ($($case:ident => $configure:expr),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                if let Some((store, _guard)) = store($configure).await {
                    super::$case(store).await;
                }
            }
        )*
    };
}

macro_rules! all_cases {
    () => {
        cases! {
            a_live_record_with_max_age_gets_expire_now_plus_max_age => |store| store,
            a_browser_session_record_gets_the_default_ttl => |store| store,
            an_expired_row_is_not_revived => |store| store,
            odd_max_ages_are_loaded_but_not_touched => |store| store,
            a_corrupt_row_fails_as_load_does => |store| store,
            a_nul_in_the_data_is_loaded_touched_and_saved_exactly => |store| store,
            a_row_node_wrote_with_nul_escapes_is_loaded_and_touched => |store| store,
            a_lone_surrogate_loads_or_fails_as_load_does => |store| store,
            disable_touch_only_loads => |store| store.with_disable_touch(true),
            the_first_call_creates_the_table => |store| store,
        }
    };
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::time::Duration;

    use server_session::store::Store;
    use server_session_sql::PostgresStore;
    use sqlx::postgres::{PgPool, PgPoolOptions};

    use super::common::{drop_table, service_url, store_in_fresh_table, unique_name};
    use super::{
        ceil_secs, load_and_touch_live, now_ms, sess_with_max_age, timed_load_and_touch, Fixture,
        Map, StoreError, Value, DEFAULT_TTL_SECS,
    };
    use session_test_support::connect_pg_simple::{find_row, insert_as_node};

    impl Fixture for PostgresStore {
        async fn insert_raw(&self, id: &str, sess: &str, expire_secs: i64) {
            self.migrate().await.expect("create the table");
            insert_as_node(self, id, sess, expire_secs).await;
        }

        async fn expire_secs(&self, id: &str) -> Option<i64> {
            find_row(self, id).await.map(|(_, expire)| expire)
        }

        async fn stored_sess(&self, id: &str) -> Option<Vec<u8>> {
            find_row(self, id).await.map(|(sess, _)| sess.into_bytes())
        }

        async fn cleanup(&self) {
            drop_table(self).await;
        }
    }

    async fn store(configure: fn(PostgresStore) -> PostgresStore) -> Option<(PostgresStore, ())> {
        let store: PostgresStore = store_in_fresh_table("POSTGRES_URL", "lat").await?;
        let store = store.with_default_ttl(Duration::from_secs(DEFAULT_TTL_SECS as u64));
        Some((configure(store), ()))
    }

    all_cases!();

    /// `(seq_scan + idx_scan, n_tup_upd)` of the store's table, after making
    /// the store's only connection flush its pending statistics.
    async fn scans_and_updates(store: &PostgresStore) -> (i64, i64) {
        // PostgreSQL 15+ flushes a backend's statistics when it goes idle,
        // at most once a second unless forced: forced here, so they are
        // flushed before the answer to this statement is sent.
        sqlx::query("SELECT pg_stat_force_next_flush()")
            .execute(store.pool())
            .await
            .expect("flush statistics");
        sqlx::query_as(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0), n_tup_upd \
             FROM pg_stat_user_tables WHERE relid = to_regclass($1)",
        )
        .bind(store.quoted_table())
        .fetch_one(store.pool())
        .await
        .expect("table statistics")
    }

    /// `POSTGRES_URL`, and a pool of one connection to it.
    async fn one_connection() -> Option<(String, PgPool)> {
        let url = service_url("POSTGRES_URL")?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("connect to POSTGRES_URL");
        Some((url, pool))
    }

    /// The server's own statistics for the table: `load_and_touch` scans
    /// the table once (the `UPDATE`) and updates the row once, where `load`
    /// then `touch` scan it twice. On one pooled connection, so that every
    /// statement runs on the backend whose statistics are flushed.
    #[tokio::test]
    async fn load_and_touch_is_one_statement() {
        let Some((_, pool)) = one_connection().await else {
            return;
        };
        if let Err(error) = sqlx::query("SELECT pg_stat_force_next_flush()")
            .execute(&pool)
            .await
        {
            // PostgreSQL before 15, or a role without the right.
            println!("SKIPPED: pg_stat_force_next_flush() is unavailable: {error}");
            return;
        }
        let store = PostgresStore::from_pool(pool).with_table(unique_name("lat"));
        let old_expire = ceil_secs(now_ms()) + 600;
        store
            .insert_raw("s", &sess_with_max_age("3600000"), old_expire)
            .await;

        let start = scans_and_updates(&store).await;
        let (loaded, touched) = load_and_touch_live(&store, "s").await;
        assert!(touched);
        let one_call = scans_and_updates(&store).await;
        assert_eq!(
            (one_call.0 - start.0, one_call.1 - start.1),
            (1, 1),
            "load_and_touch: one scan, one update"
        );

        // The two calls it replaces, counted the same way, to show that
        // the count sees a separate SELECT.
        let _ = store.load("s").await.expect("load").expect("live");
        store.touch("s", &loaded.record).await.expect("touch");
        let two_calls = scans_and_updates(&store).await;
        assert_eq!(
            (two_calls.0 - one_call.0, two_calls.1 - one_call.1),
            (2, 1),
            "load then touch: two scans, one update"
        );
        store.cleanup().await;
    }

    /// `url` with its database replaced by `database`.
    fn with_database(url: &str, database: &str) -> String {
        let (base, _) = url.rsplit_once('/').expect("a URL with a database");
        format!("{base}/{database}")
    }

    /// In a database whose encoding is not UTF-8, PostgreSQL's JSON
    /// functions refuse to unescape a character the encoding cannot hold
    /// (LATIN1: `€`; SQL_ASCII: anything outside ASCII). Such a row is still
    /// loaded with its exact data and touched by the one statement.
    #[tokio::test]
    async fn rows_in_databases_of_other_encodings_are_touched_by_the_one_statement() {
        let Some((url, admin)) = one_connection().await else {
            return;
        };
        for encoding in ["LATIN1", "SQL_ASCII"] {
            let database = unique_name(&format!("lat_{}", encoding.to_lowercase()));
            let created = sqlx::query(&format!(
                "CREATE DATABASE \"{database}\" ENCODING '{encoding}' TEMPLATE template0 \
                 LC_COLLATE 'C' LC_CTYPE 'C'"
            ))
            .execute(&admin)
            .await;
            match created {
                Ok(_) => {}
                // A role without CREATEDB (42501, insufficient privilege).
                Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42501") => {
                    println!("SKIPPED: POSTGRES_URL's role may not create databases");
                    return;
                }
                Err(error) => panic!("create a database: {error}"),
            }
            // In a task, so that the database is dropped even when a check
            // fails; the failure is raised after.
            let store_url = with_database(&url, &database);
            let checks = tokio::spawn(async move {
                let store = PostgresStore::connect(&store_url)
                    .await
                    .expect("connect to the new database")
                    .with_table(unique_name("lat"));
                let max_age = 3_600_000;
                let sess = format!(
                    r#"{{"cookie":{{"originalMaxAge":{max_age},"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}},"euro":"\u20ac","e":"\u00e9","nul":"\u0000"}}"#
                );
                store
                    .insert_raw("enc", &sess, ceil_secs(now_ms()) + 5)
                    .await;
                let (loaded, touched, before, after) = timed_load_and_touch(&store, "enc").await;
                assert!(touched, "touched by the one statement");
                assert_eq!(loaded.record.data()["euro"], "€");
                assert_eq!(loaded.record.data()["e"], "é");
                assert_eq!(loaded.record.data()["nul"], "\u{0}");
                let expire = store.expire_secs("enc").await.expect("row");
                assert!(
                    (ceil_secs(before + max_age)..=ceil_secs(after + max_age)).contains(&expire),
                    "expire {expire}"
                );
                store.pool().close().await;
            })
            .await;
            sqlx::query(&format!("DROP DATABASE \"{database}\""))
                .execute(&admin)
                .await
                .expect("drop the database");
            if let Err(failed) = checks {
                std::panic::resume_unwind(failed.into_panic());
            }
        }
    }

    /// A hand-made table whose `sess` column is `text` may hold anything.
    /// A row that is not JSON makes the JSON functions fail: `load_and_touch`
    /// then fails as `load` does (Corrupt), not with an error of its own,
    /// and a JSON row with a NUL in it is still touched.
    #[tokio::test]
    async fn a_text_sess_column_that_is_not_json_fails_as_load_does() {
        let Some((store, ())) = store(|store| store.with_create_table_if_missing(false)).await
        else {
            return;
        };
        sqlx::query(&format!(
            "CREATE TABLE {} (sid varchar PRIMARY KEY, sess text NOT NULL, expire timestamp(6) NOT NULL)",
            store.quoted_table()
        ))
        .execute(store.pool())
        .await
        .expect("create a text table");
        let old_expire = ceil_secs(now_ms()) + 600;
        let insert = format!(
            "INSERT INTO {} (sid, sess, expire) VALUES ($1, $2, to_timestamp($3))",
            store.quoted_table()
        );
        for (sid, sess) in [
            ("text", "not json"),
            (
                "nul",
                r#"{"cookie":{"originalMaxAge":null,"expires":null},"a":"\u0000"}"#,
            ),
        ] {
            sqlx::query(&insert)
                .bind(sid)
                .bind(sess)
                .bind(old_expire as f64)
                .execute(store.pool())
                .await
                .expect("insert");
        }
        assert!(matches!(
            store.load("text").await,
            Err(StoreError::Corrupt { .. })
        ));
        let touched = store.load_and_touch("text").await;
        assert!(
            matches!(touched, Err(StoreError::Corrupt { .. })),
            "load_and_touch: {touched:?}"
        );
        assert_eq!(store.expire_secs("text").await, Some(old_expire));

        let (loaded, touched, _, _) = timed_load_and_touch(&store, "nul").await;
        assert!(touched);
        let mut data = Map::new();
        data.insert("a".to_owned(), Value::from("\u{0}"));
        assert_eq!(loaded.record.data(), &data);
        store.cleanup().await;
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_within_the_call_timeout() {
        let store = PostgresStore::connect_lazy("postgres://postgres@127.0.0.1:1/none")
            .expect("a valid URL")
            .with_call_timeout(Duration::from_millis(500));
        let started = std::time::Instant::now();
        assert!(store.load_and_touch("x").await.is_err());
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::time::Duration;

    use server_session::store::Store;
    use server_session_sql::SqliteStore;

    use super::{ceil_secs, now_ms, Fixture, StoreError, Version, DEFAULT_TTL_SECS};

    impl Fixture for SqliteStore {
        async fn insert_raw(&self, id: &str, sess: &str, expire_secs: i64) {
            insert_value(self, id, Value::Text(sess), expire_secs).await;
        }

        async fn expire_secs(&self, id: &str) -> Option<i64> {
            let sql = format!("SELECT expire FROM {} WHERE sid = ?1", self.quoted_table());
            sqlx::query_scalar(&sql)
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .expect("read expire")
        }

        async fn stored_sess(&self, id: &str) -> Option<Vec<u8>> {
            let sql = format!("SELECT sess FROM {} WHERE sid = ?1", self.quoted_table());
            sqlx::query_scalar(&sql)
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .expect("read sess")
        }

        /// The file goes with the case's temporary directory.
        async fn cleanup(&self) {}
    }

    /// A `sess` value as SQLite stores it.
    enum Value<'a> {
        Text(&'a str),
        Blob(&'a [u8]),
    }

    async fn insert_value(store: &SqliteStore, id: &str, sess: Value<'_>, expire: i64) {
        store.migrate().await.expect("create the table");
        let sql = format!(
            "INSERT INTO {} (sid, sess, expire) VALUES (?1, ?2, ?3)",
            store.quoted_table()
        );
        let query = sqlx::query(&sql).bind(id);
        let query = match sess {
            Value::Text(text) => query.bind(text),
            Value::Blob(bytes) => query.bind(bytes),
        };
        query
            .bind(expire)
            .execute(store.pool())
            .await
            .expect("insert");
    }

    /// A store in a fresh file; the directory (the guard) is deleted when
    /// the case ends.
    async fn store(
        configure: fn(SqliteStore) -> SqliteStore,
    ) -> Option<(SqliteStore, tempfile::TempDir)> {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
        let store = SqliteStore::connect(&url)
            .await
            .expect("open SQLite")
            .with_default_ttl(Duration::from_secs(DEFAULT_TTL_SECS as u64));
        Some((configure(store), dir))
    }

    all_cases!();

    /// SQLite's `sess` column holds anything: text that is not JSON, and
    /// BLOBs (which SQLite's JSON functions would read as JSONB). Such rows
    /// load or fail exactly as with `load`, and are not touched, instead of
    /// failing the statement.
    #[tokio::test]
    async fn rows_that_are_not_json_text_behave_as_with_load() {
        let Some((store, _dir)) = store(|store| store).await else {
            return;
        };
        let old_expire = ceil_secs(now_ms()) + 600;
        let rows: [Value<'_>; 4] = [
            Value::Text("not json"),
            Value::Text(r#"{"cookie":{"originalMaxAge":null}"#),
            Value::Blob(b"\xff\xfe"),
            Value::Blob(br#"{"cookie":{"originalMaxAge":null}}"#),
        ];
        for (n, sess) in rows.into_iter().enumerate() {
            let id = format!("raw{n}");
            let bytes: Vec<u8> = match &sess {
                Value::Text(text) => text.as_bytes().to_vec(),
                Value::Blob(bytes) => bytes.to_vec(),
            };
            insert_value(&store, &id, sess, old_expire).await;
            let loaded = store.load(&id).await;
            let touched = store.load_and_touch(&id).await;
            match (&loaded, &touched) {
                (Err(StoreError::Corrupt { .. }), Err(StoreError::Corrupt { .. })) => {}
                // A BLOB holding a valid record loads; it is not touched.
                (Ok(Some(loaded)), Ok(Some((again, false)))) => {
                    assert_eq!(loaded.version, again.version);
                    assert_eq!(loaded.version, Version::digest_of(&bytes));
                }
                other => panic!("row {n}: load and load_and_touch differ: {other:?}"),
            }
            assert_eq!(store.expire_secs(&id).await, Some(old_expire), "row {n}");
        }
    }
}
