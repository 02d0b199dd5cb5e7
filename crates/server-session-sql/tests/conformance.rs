//! The store conformance suite, once per backend.
//!
//! Each case gets its own table, named `cf_<unix secs>_<random>`; a harness
//! drops tables of that form left by runs more than an hour old, so the
//! test database does not fill up while parallel runs stay untouched.
//!
//! Every table gets the per-user index on `passport.user` (the path the
//! user-index cases use), so every case also writes through it: rows that
//! are no JSON, or hold `\u0000`, must still be written and read.
#![allow(unreachable_pub)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long an unreachable store may wait before giving up.
#[allow(dead_code)]
const UNREACHABLE_TIMEOUT: Duration = Duration::from_secs(1);

/// Tables older than this are leftovers from earlier runs.
#[allow(dead_code)]
const STALE_AFTER_SECS: u64 = 3600;

#[allow(dead_code)]
fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[allow(dead_code)]
fn fresh_table() -> String {
    format!("cf_{}_{:016x}", unix_secs(), rand::random::<u64>())
}

/// Whether `table` is a `cf_<secs>_<random>` table older than an hour.
#[allow(dead_code)]
fn is_stale(table: &str) -> bool {
    let Some(rest) = table.strip_prefix("cf_") else {
        return false;
    };
    let Some((secs, _)) = rest.split_once('_') else {
        return false;
    };
    secs.parse::<u64>()
        .is_ok_and(|created| created + STALE_AFTER_SECS < unix_secs())
}

/// `raw` as a PostgreSQL `json` value can hold it: the bytes themselves
/// when they are JSON, otherwise a JSON string of them. The `json` type
/// refuses text that is not JSON, so no writer can have stored the bytes
/// as they are; either way the value is not a session record and must
/// load as `Corrupt`.
#[allow(dead_code)]
fn as_storable_json(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).into_owned();
    if serde_json::from_str::<serde_json::Value>(&text).is_ok() {
        text
    } else {
        serde_json::Value::String(text).to_string()
    }
}

/// One harness for the database servers (PostgreSQL, MySQL/MariaDB): a
/// pool on the server, and a fresh table per case. What differs between
/// the servers is in [`Server`](server::Server).
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server {
    use std::future::Future;

    use server_session::conformance::{service_url, Harness};
    use server_session_sql::{Dialect, SqlStore};
    use session_test_support::services::passport;
    use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Pool, Type};

    /// A server the suite runs on: where it is, and its SQL.
    pub trait Server: Dialect {
        /// The variable holding the server's URL.
        const URL_VAR: &'static str;
        /// A URL of this database where nothing listens.
        const UNREACHABLE_URL: &'static str;
        /// How a raw value is bound to `sess`.
        type Raw: for<'q> Encode<'q, Self> + Type<Self> + Send;

        /// The names of the tables in the current schema that start with `cf_`.
        fn case_tables(pool: &Pool<Self>) -> impl Future<Output = Vec<String>> + Send;

        /// Writes (or overwrites) the row of the ID bound first, `sess`
        /// bound second, expiring an hour from now.
        fn upsert_raw_sql(quoted_table: &str) -> String;

        /// `raw` as this server's `sess` column can hold it.
        fn raw(raw: &[u8]) -> Self::Raw;
    }

    pub struct ServerHarness<D: Dialect> {
        pool: Pool<D>,
    }

    /// The bounds let sqlx run statements on the pool.
    impl<D: Server> ServerHarness<D>
    where
        for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
        for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    {
        /// Connects, after dropping the case tables of runs more than an
        /// hour old.
        pub async fn connect() -> Option<Self> {
            let url = service_url(D::URL_VAR)?;
            let pool = Pool::<D>::connect(&url)
                .await
                .unwrap_or_else(|error| panic!("connect to {}: {error}", D::URL_VAR));
            for table in D::case_tables(&pool).await {
                if super::is_stale(&table) {
                    let stale = SqlStore::<D>::from_pool(pool.clone()).with_table(table);
                    let drop = format!("DROP TABLE IF EXISTS {}", stale.quoted_table());
                    let _ = sqlx::raw_sql(&drop).execute(&pool).await;
                }
            }
            Some(Self { pool })
        }
    }

    /// The bounds are those of `SqlStore`'s calls (`migrate`,
    /// `create_user_index`, the `Store` methods).
    impl<D: Server> Harness for ServerHarness<D>
    where
        SqlStore<D>: server_session::Store,
        for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
        for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
        for<'q> &'q str: Encode<'q, D> + Type<D>,
        for<'q> i64: Encode<'q, D> + Decode<'q, D> + Type<D>,
        usize: ColumnIndex<D::Row>,
    {
        type Store = SqlStore<D>;

        async fn store(&self) -> SqlStore<D> {
            let store = SqlStore::from_pool(self.pool.clone()).with_table(super::fresh_table());
            store
                .create_user_index(&passport())
                .await
                .expect("create the user index");
            store
        }

        async fn write_raw(&self, store: &SqlStore<D>, id: &str, raw: &[u8]) {
            store.migrate().await.expect("create the table");
            sqlx::query(&D::upsert_raw_sql(store.quoted_table()))
                .bind(id)
                .bind(D::raw(raw))
                .execute(store.pool())
                .await
                .expect("write raw");
        }

        async fn unreachable_store(&self) -> Option<SqlStore<D>> {
            let store = SqlStore::connect_lazy(D::UNREACHABLE_URL)
                .expect("a valid URL")
                .with_call_timeout(super::UNREACHABLE_TIMEOUT);
            Some(store)
        }

        fn supports_listing(&self) -> bool {
            true
        }

        fn supports_user_index(&self) -> bool {
            true
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::server::{Server, ServerHarness};
    use sqlx::{PgPool, Postgres};

    impl Server for Postgres {
        const URL_VAR: &'static str = "POSTGRES_URL";
        const UNREACHABLE_URL: &'static str = "postgres://postgres@127.0.0.1:1/test";
        type Raw = String;

        async fn case_tables(pool: &PgPool) -> Vec<String> {
            sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name LIKE 'cf\\_%'",
            )
            .fetch_all(pool)
            .await
            .unwrap_or_default()
        }

        fn upsert_raw_sql(quoted_table: &str) -> String {
            format!(
                "INSERT INTO {quoted_table} (sid, sess, expire) \
                 VALUES ($1, $2::json, now() + interval '1 hour') \
                 ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire"
            )
        }

        fn raw(raw: &[u8]) -> String {
            super::as_storable_json(raw)
        }
    }

    server_session::store_conformance_tests!(ServerHarness::<Postgres>::connect());
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::server::{Server, ServerHarness};
    use sqlx::{MySql, MySqlPool};

    impl Server for MySql {
        const URL_VAR: &'static str = "MYSQL_URL";
        const UNREACHABLE_URL: &'static str = "mysql://root@127.0.0.1:1/test";
        type Raw = Vec<u8>;

        async fn case_tables(pool: &MySqlPool) -> Vec<String> {
            let tables: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT table_name FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name LIKE 'cf\\_%'",
            )
            .fetch_all(pool)
            .await
            .unwrap_or_default();
            tables
                .iter()
                .map(|name| String::from_utf8_lossy(name).into_owned())
                .collect()
        }

        fn upsert_raw_sql(quoted_table: &str) -> String {
            format!(
                "REPLACE INTO {quoted_table} (sid, sess, expire) \
                 VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL 1 HOUR)"
            )
        }

        fn raw(raw: &[u8]) -> Vec<u8> {
            raw.to_vec()
        }
    }

    server_session::store_conformance_tests!(ServerHarness::<MySql>::connect());
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use server_session::conformance::Harness;
    use server_session_sql::SqliteStore;
    use session_test_support::services::passport;

    /// One database file per case, deleted with the harness.
    pub struct SqliteHarness {
        _dir: tempfile::TempDir,
        store: SqliteStore,
    }

    impl SqliteHarness {
        async fn open() -> Option<Self> {
            let dir = tempfile::tempdir().expect("a temp dir");
            let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
            let store = SqliteStore::connect(&url).await.expect("open SQLite");
            Some(Self { _dir: dir, store })
        }
    }

    impl Harness for SqliteHarness {
        type Store = SqliteStore;

        async fn store(&self) -> SqliteStore {
            let store = self.store.clone().with_table(super::fresh_table());
            store
                .create_user_index(&passport())
                .await
                .expect("create the user index");
            store
        }

        async fn write_raw(&self, store: &SqliteStore, id: &str, raw: &[u8]) {
            store.migrate().await.expect("create the table");
            let sql = format!(
                "INSERT OR REPLACE INTO {} (sid, sess, expire) VALUES (?1, ?2, unixepoch() + 3600)",
                store.quoted_table()
            );
            // As text when it is UTF-8 (what a writer would store),
            // else as the bytes themselves.
            let query = sqlx::query(&sql).bind(id);
            let query = match std::str::from_utf8(raw) {
                Ok(text) => query.bind(text),
                Err(_) => query.bind(raw),
            };
            query.execute(store.pool()).await.expect("write raw");
        }

        async fn unreachable_store(&self) -> Option<SqliteStore> {
            None // no server to be unreachable
        }

        fn supports_listing(&self) -> bool {
            true
        }

        fn supports_user_index(&self) -> bool {
            true
        }
    }

    server_session::store_conformance_tests!(SqliteHarness::open());
}
