//! [`SqliteStore`]: sessions in an SQLite database file.

use std::str::FromStr;
use std::sync::Arc;

use server_session::store::{SaveCondition, StoreError, Version};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteQueryResult,
};
use sqlx::Executor as _;
use tokio::sync::OnceCell;

use crate::backend::{pool_options, store_impl, Backend, Statements};
use crate::settings::{common_builders, map_sqlx, timed, Settings};

/// A session store in SQLite: the same three columns as connect-pg-simple's
/// table, with `expire` in whole seconds since the Unix epoch.
///
/// See the [crate docs](crate) for the schema and an example. Suits a single
/// server (or several processes on one machine sharing the file).
///
/// Cloning is cheap and shares the pool.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    settings: Settings,
    sql: Arc<Sql>,
    /// Set once the table is known to exist, so the check runs once.
    ensured: Arc<OnceCell<()>>,
}

impl SqliteStore {
    /// Opens the database at `url` (`sqlite://path/to/sessions.db`, or
    /// `sqlite::memory:`), creating the file if it is missing and switching
    /// it to WAL journaling, so that readers do not wait for writers.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] for a bad URL or a file that cannot be
    /// opened, [`StoreError::Timeout`] after the default call timeout (5 s).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let limit = crate::settings::DEFAULT_CALL_TIMEOUT;
        let options = connect_options(url)?;
        let pool = timed(limit, async {
            pool_options().connect_with(options).await.map_err(map_sqlx)
        })
        .await?;
        Ok(Self::from_pool(pool))
    }

    /// A store over a pool that opens the database on first use, as
    /// [`connect`](Self::connect) would. Only parses `url`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when `url` is not a SQLite URL.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        Ok(Self::from_pool(
            pool_options().connect_lazy_with(connect_options(url)?),
        ))
    }

    /// A store over an existing pool.
    pub fn from_pool(pool: SqlitePool) -> Self {
        let settings = Settings::default();
        let sql = Arc::new(Sql::new(&settings.table));
        Self {
            pool,
            settings,
            sql,
            ensured: Arc::new(OnceCell::new()),
        }
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The quoted table name, as it appears in the SQL.
    pub fn quoted_table(&self) -> &str {
        &self.sql.table
    }

    /// Creates the table and its expiry index (`IF NOT EXISTS`). The first
    /// store call does this by itself unless
    /// [`with_create_table_if_missing(false)`](Self::with_create_table_if_missing).
    ///
    /// # Errors
    ///
    /// Any error from SQLite, such as a read-only file.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        timed(self.settings.call_timeout, self.create_table()).await
    }

    fn rebuilt(mut self) -> Self {
        self.sql = Arc::new(Sql::new(&self.settings.table));
        self.ensured = Arc::new(OnceCell::new());
        self
    }

    /// SQLite has no SHA-256 function to compare against in SQL, so the
    /// stored text is read and compared in a write transaction: `BEGIN
    /// IMMEDIATE` takes the write lock first, so no other writer can slip
    /// in between the read and the write. `new` of `None` deletes the row.
    async fn compare_and_set(
        &self,
        id: &str,
        now_s: i64,
        expected: Version,
        new: Option<(&str, i64)>,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_sqlx)?;
        let stored: Option<Vec<u8>> = sqlx::query_scalar(&self.sql.shared.load)
            .bind(id)
            .bind(now_s)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if stored.map(|bytes| Version::digest_of(&bytes)) != Some(expected) {
            // Dropping the transaction rolls it back.
            return Ok(false);
        }
        let statement = match new {
            Some((json, expire)) => sqlx::query(&self.sql.update)
                .bind(json)
                .bind(expire)
                .bind(id),
            None => sqlx::query(&self.sql.shared.destroy).bind(id),
        };
        statement.execute(&mut *tx).await.map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }
}

common_builders!(SqliteStore);
store_impl!(SqliteStore, "sqlite");

impl Backend for SqliteStore {
    type Db = Sqlite;
    /// `expire` is whole seconds since the epoch.
    type Instant = i64;
    /// Bytes, so that a `sess` that is not UTF-8 is reported as a corrupt
    /// record.
    type Sess = Vec<u8>;
    type Sid = String;
    /// `COUNT(*)`.
    type Found = i64;

    fn instant(epoch_secs: i64) -> i64 {
        epoch_secs
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn statements(&self) -> &Statements {
        &self.sql.shared
    }

    fn ensured(&self) -> &OnceCell<()> {
        &self.ensured
    }

    async fn create_table(&self) -> Result<(), StoreError> {
        self.pool
            .execute(sqlx::raw_sql(&self.sql.create))
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn write(
        &self,
        id: &str,
        json: &str,
        expire: i64,
        now_s: i64,
        condition: SaveCondition,
    ) -> Result<bool, StoreError> {
        Ok(match condition {
            SaveCondition::Upsert => {
                sqlx::query(&self.sql.upsert)
                    .bind(id)
                    .bind(json)
                    .bind(expire)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                true
            }
            SaveCondition::IfAbsent => {
                sqlx::query(&self.sql.insert_if_absent)
                    .bind(id)
                    .bind(json)
                    .bind(expire)
                    .bind(now_s)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?
                    .rows_affected()
                    > 0
            }
            SaveCondition::IfVersion(expected) => {
                self.compare_and_set(id, now_s, expected, Some((json, expire)))
                    .await?
            }
        })
    }

    async fn delete_if_version(
        &self,
        id: &str,
        now_s: i64,
        expected: Version,
    ) -> Result<bool, StoreError> {
        self.compare_and_set(id, now_s, expected, None).await
    }
}

/// An SQLite identifier in double quotes, inner quotes doubled.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The statements, built once per table name.
#[derive(Debug)]
struct Sql {
    table: String,
    create: String,
    upsert: String,
    insert_if_absent: String,
    update: String,
    shared: Statements,
}

impl Sql {
    fn new(table: &str) -> Self {
        let t = quote(table);
        // Index names are per database in SQLite, so the index is named
        // after its table (`IDX_session_expire` for the default one).
        let index = quote(&format!("IDX_{table}_expire"));
        let new_expire = touched_expire();
        Self {
            create: format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n  \
                 \"sid\" TEXT NOT NULL PRIMARY KEY,\n  \
                 \"sess\" TEXT NOT NULL,\n  \
                 \"expire\" INTEGER NOT NULL\n);\n\
                 CREATE INDEX IF NOT EXISTS {index} ON {t} (\"expire\");"
            ),
            upsert: format!(
                "INSERT INTO {t} (sid, sess, expire) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire"
            ),
            // In an upsert's WHERE, a bare column names the existing row.
            insert_if_absent: format!(
                "INSERT INTO {t} (sid, sess, expire) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire \
                 WHERE expire < ?4"
            ),
            update: format!("UPDATE {t} SET sess = ?1, expire = ?2 WHERE sid = ?3"),
            shared: Statements {
                load: format!("SELECT sess FROM {t} WHERE sid = ?1 AND expire >= ?2"),
                // `expire = expire` when there is nothing to touch, so that the
                // row is still returned (the layer then touches at the end).
                load_and_touch: Some(format!(
                    "UPDATE {t} SET expire = COALESCE({new_expire}, expire) \
                     WHERE sid = ?1 AND expire >= ?2 RETURNING sess, {new_expire} IS NOT NULL"
                )),
                load_with_expiry: format!(
                    "SELECT sess, expire * 1000 FROM {t} WHERE sid = ?1 AND expire >= ?2"
                ),
                exists_live: format!("SELECT COUNT(*) FROM {t} WHERE sid = ?1 AND expire >= ?2"),
                touch: format!("UPDATE {t} SET expire = ?1 WHERE sid = ?2 AND expire >= ?3"),
                destroy: format!("DELETE FROM {t} WHERE sid = ?1"),
                all: format!("SELECT sid, sess FROM {t} WHERE expire >= ?1"),
                len: format!("SELECT COUNT(*) FROM {t} WHERE expire >= ?1"),
                clear: format!("DELETE FROM {t}"),
                prune: format!("DELETE FROM {t} WHERE expire < ?1"),
            },
            table: t,
        }
    }
}

/// The `expire` that a touch made now would give the row, computed from
/// its own `sess`, as `Record::expire_epoch_secs` computes it after
/// express's `cookie.touch()`: `ceil((now_ms + originalMaxAge) / 1000)`, or
/// `?4` (`ceil(now_ms / 1000)` plus the default TTL) for `"originalMaxAge":
/// null`. Binds `?3`, now in milliseconds, and `?4`.
///
/// NULL, meaning "leave `expire` alone", unless `originalMaxAge` is `null`
/// or a JSON integer from 1 to 15 digits (so the sum stays an integer): a
/// float or exponent notation (`json_type` says `real`), a string, a missing
/// key, or a `sess` without a `cookie` object. A touch that would expire the
/// record, and the odd shapes, are left to the layer's own touch at the end
/// of the request. `sess` is TEXT here and may hold anything, and SQLite's
/// JSON functions fail on malformed text (and read a BLOB as JSONB), so only
/// text that `json_valid` accepts as RFC 8259 JSON is looked into; any other
/// row is returned untouched, to load (or fail as `Corrupt`) as with `load`.
/// `CASE` evaluates its branches lazily, so the guard holds.
fn touched_expire() -> String {
    let max_age = "sess, '$.cookie.originalMaxAge'";
    format!(
        "(CASE WHEN typeof(sess) = 'text' AND json_valid(sess) THEN \
         CASE json_type({max_age}) WHEN 'null' THEN ?4 \
         WHEN 'integer' THEN CASE WHEN json_extract({max_age}) BETWEEN 1 AND 999999999999999 \
         THEN (?3 + json_extract({max_age}) + 999) / 1000 END END END)"
    )
}

/// `url`'s options: the file is created if missing, and WAL journaling lets
/// readers go on while a writer writes.
fn connect_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(map_sqlx)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
        assert!(Sql::new("session")
            .create
            .contains("INDEX IF NOT EXISTS \"IDX_session_expire\""));
    }
}
