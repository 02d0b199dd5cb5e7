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

#[cfg(feature = "postgres")]
mod postgres {
    use server_session::conformance::{service_url, Harness};
    use server_session_sql::PostgresStore;
    use session_test_support::services::passport;
    use sqlx::PgPool;

    pub struct PgHarness {
        pool: PgPool,
    }

    impl PgHarness {
        async fn connect() -> Option<Self> {
            let url = service_url("POSTGRES_URL")?;
            let pool = PgPool::connect(&url)
                .await
                .expect("connect to POSTGRES_URL");
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name LIKE 'cf\\_%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            for table in tables.iter().filter(|table| super::is_stale(table)) {
                let _ = sqlx::query(&format!("DROP TABLE IF EXISTS \"{table}\""))
                    .execute(&pool)
                    .await;
            }
            Some(Self { pool })
        }
    }

    impl Harness for PgHarness {
        type Store = PostgresStore;

        async fn store(&self) -> PostgresStore {
            let store =
                PostgresStore::from_pool(self.pool.clone()).with_table(super::fresh_table());
            store
                .create_user_index(&passport())
                .await
                .expect("create the user index");
            store
        }

        async fn write_raw(&self, store: &PostgresStore, id: &str, raw: &[u8]) {
            store.migrate().await.expect("create the table");
            let sql = format!(
                "INSERT INTO {} (sess, expire, sid) VALUES ($1::json, now() + interval '1 hour', $2) \
                 ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire",
                store.quoted_table()
            );
            sqlx::query(&sql)
                .bind(super::as_storable_json(raw))
                .bind(id)
                .execute(store.pool())
                .await
                .expect("write raw");
        }

        async fn unreachable_store(&self) -> Option<PostgresStore> {
            let store = PostgresStore::connect_lazy("postgres://postgres@127.0.0.1:1/test")
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

    server_session::store_conformance_tests!(PgHarness::connect());
}

#[cfg(feature = "mysql")]
mod mysql {
    use server_session::conformance::{service_url, Harness};
    use server_session_sql::MySqlStore;
    use session_test_support::services::passport;
    use sqlx::MySqlPool;

    pub struct MySqlHarness {
        pool: MySqlPool,
    }

    impl MySqlHarness {
        async fn connect() -> Option<Self> {
            let url = service_url("MYSQL_URL")?;
            let pool = MySqlPool::connect(&url)
                .await
                .expect("connect to MYSQL_URL");
            let tables: Vec<Vec<u8>> = sqlx::query_scalar(
                "SELECT table_name FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name LIKE 'cf\\_%'",
            )
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
            for table in tables.iter().map(|name| String::from_utf8_lossy(name)) {
                if super::is_stale(&table) {
                    let _ = sqlx::query(&format!("DROP TABLE IF EXISTS `{table}`"))
                        .execute(&pool)
                        .await;
                }
            }
            Some(Self { pool })
        }
    }

    impl Harness for MySqlHarness {
        type Store = MySqlStore;

        async fn store(&self) -> MySqlStore {
            let store = MySqlStore::from_pool(self.pool.clone()).with_table(super::fresh_table());
            store
                .create_user_index(&passport())
                .await
                .expect("create the user index");
            store
        }

        async fn write_raw(&self, store: &MySqlStore, id: &str, raw: &[u8]) {
            store.migrate().await.expect("create the table");
            let sql = format!(
                "REPLACE INTO {} (sid, sess, expire) \
                 VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL 1 HOUR)",
                store.quoted_table()
            );
            sqlx::query(&sql)
                .bind(id)
                .bind(raw)
                .execute(store.pool())
                .await
                .expect("write raw");
        }

        async fn unreachable_store(&self) -> Option<MySqlStore> {
            let store = MySqlStore::connect_lazy("mysql://root@127.0.0.1:1/test")
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

    server_session::store_conformance_tests!(MySqlHarness::connect());
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
