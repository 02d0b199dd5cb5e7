//! [`SqliteStore`]: sessions in an SQLite database file.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use server_session::store::{
    now_ms, LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreError, StoreFuture,
    Version,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Executor as _;
use tokio::sync::OnceCell;

use crate::settings::{common_builders, map_sqlx, now_epoch_secs, timed, Settings};

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
        let options = SqliteConnectOptions::from_str(url)
            .map_err(map_sqlx)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = timed(limit, async {
            pool_options(limit)
                .connect_with(options)
                .await
                .map_err(map_sqlx)
        })
        .await?;
        Ok(Self::from_pool(pool))
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

    async fn create_table(&self) -> Result<(), StoreError> {
        self.pool
            .execute(sqlx::raw_sql(&self.sql.create))
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn load_now(&self, id: &str) -> Result<Option<LoadedRecord>, StoreError> {
        self.ensure_table().await?;
        let stored: Option<Vec<u8>> = sqlx::query_scalar(&self.sql.load)
            .bind(id)
            .bind(now_epoch_secs(now_ms()))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        let Some(bytes) = stored else {
            return Ok(None);
        };
        let record = Record::from_json(&bytes)?;
        Ok(Some(LoadedRecord {
            record,
            version: Version::digest_of(&bytes),
        }))
    }

    async fn save_now(
        &self,
        id: &str,
        record: &Record,
        condition: SaveCondition,
    ) -> Result<SaveOutcome, StoreError> {
        self.ensure_table().await?;
        let now = now_ms();
        let now_s = now_epoch_secs(now);
        let json = record.to_json();
        let version = Version::digest_of(json.as_bytes());
        let expired = record.ttl_secs(now, self.settings.default_ttl_secs) <= 0;
        let expire = record.expire_epoch_secs(now, self.settings.default_ttl_secs);
        let written = match (condition, expired) {
            (SaveCondition::Upsert, false) => {
                sqlx::query(&self.sql.upsert)
                    .bind(id)
                    .bind(&json)
                    .bind(expire)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                true
            }
            (SaveCondition::Upsert, true) => {
                self.destroy_now(id).await?;
                true
            }
            (SaveCondition::IfAbsent, false) => {
                sqlx::query(&self.sql.insert_if_absent)
                    .bind(id)
                    .bind(&json)
                    .bind(expire)
                    .bind(now_s)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?
                    .rows_affected()
                    > 0
            }
            (SaveCondition::IfAbsent, true) => {
                let live: i64 = sqlx::query_scalar(&self.sql.exists_live)
                    .bind(id)
                    .bind(now_s)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                live == 0
            }
            (SaveCondition::IfVersion(expected), expired) => {
                self.compare_and_set(id, now_s, expected, (!expired).then_some((&json, expire)))
                    .await?
            }
        };
        Ok(if written {
            SaveOutcome::Saved(version)
        } else {
            SaveOutcome::Conflict
        })
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
        new: Option<(&String, i64)>,
    ) -> Result<bool, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_sqlx)?;
        let stored: Option<Vec<u8>> = sqlx::query_scalar(&self.sql.load)
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
            None => sqlx::query(&self.sql.destroy).bind(id),
        };
        statement.execute(&mut *tx).await.map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }

    async fn touch_now(&self, id: &str, record: &Record) -> Result<(), StoreError> {
        if self.settings.disable_touch {
            return Ok(());
        }
        self.ensure_table().await?;
        let now = now_ms();
        sqlx::query(&self.sql.touch)
            .bind(record.expire_epoch_secs(now, self.settings.default_ttl_secs))
            .bind(id)
            .bind(now_epoch_secs(now))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn destroy_now(&self, id: &str) -> Result<(), StoreError> {
        self.ensure_table().await?;
        sqlx::query(&self.sql.destroy)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn all_now(&self) -> Result<Vec<(String, Record)>, StoreError> {
        self.ensure_table().await?;
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(&self.sql.all)
            .bind(now_epoch_secs(now_ms()))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter()
            .map(|(sid, bytes)| Ok((sid, Record::from_json(&bytes)?)))
            .collect()
    }

    async fn len_now(&self) -> Result<usize, StoreError> {
        self.ensure_table().await?;
        let count: i64 = sqlx::query_scalar(&self.sql.len)
            .bind(now_epoch_secs(now_ms()))
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    async fn clear_now(&self) -> Result<(), StoreError> {
        self.ensure_table().await?;
        sqlx::query(&self.sql.clear)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn prune_now(&self) -> Result<u64, StoreError> {
        self.ensure_table().await?;
        let deleted = sqlx::query(&self.sql.prune)
            .bind(now_epoch_secs(now_ms()))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(deleted.rows_affected())
    }
}

common_builders!(SqliteStore);

impl Store for SqliteStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        Box::pin(timed(self.settings.call_timeout, self.load_now(id)))
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        Box::pin(timed(
            self.settings.call_timeout,
            self.save_now(id, record, condition),
        ))
    }

    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        Box::pin(timed(
            self.settings.call_timeout,
            self.touch_now(id, record),
        ))
    }

    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(timed(self.settings.call_timeout, self.destroy_now(id)))
    }

    fn all(&self) -> StoreFuture<'_, Vec<(String, Record)>> {
        Box::pin(timed(self.settings.call_timeout, self.all_now()))
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        Box::pin(timed(self.settings.call_timeout, self.len_now()))
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(timed(self.settings.call_timeout, self.clear_now()))
    }

    fn prune_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(timed(self.settings.call_timeout, self.prune_now()))
    }

    fn is_ready(&self) -> bool {
        !self.pool.is_closed()
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }
}

fn pool_options(acquire_timeout: Duration) -> SqlitePoolOptions {
    SqlitePoolOptions::new().acquire_timeout(acquire_timeout)
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
    load: String,
    upsert: String,
    insert_if_absent: String,
    update: String,
    exists_live: String,
    touch: String,
    destroy: String,
    all: String,
    len: String,
    clear: String,
    prune: String,
}

impl Sql {
    fn new(table: &str) -> Self {
        let t = quote(table);
        // Index names are per database in SQLite, so the index is named
        // after its table (`IDX_session_expire` for the default one).
        let index = quote(&format!("IDX_{table}_expire"));
        Self {
            create: format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n  \
                 \"sid\" TEXT NOT NULL PRIMARY KEY,\n  \
                 \"sess\" TEXT NOT NULL,\n  \
                 \"expire\" INTEGER NOT NULL\n);\n\
                 CREATE INDEX IF NOT EXISTS {index} ON {t} (\"expire\");"
            ),
            load: format!("SELECT sess FROM {t} WHERE sid = ?1 AND expire >= ?2"),
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
            exists_live: format!("SELECT COUNT(*) FROM {t} WHERE sid = ?1 AND expire >= ?2"),
            touch: format!("UPDATE {t} SET expire = ?1 WHERE sid = ?2 AND expire >= ?3"),
            destroy: format!("DELETE FROM {t} WHERE sid = ?1"),
            all: format!("SELECT sid, sess FROM {t} WHERE expire >= ?1"),
            len: format!("SELECT COUNT(*) FROM {t} WHERE expire >= ?1"),
            clear: format!("DELETE FROM {t}"),
            prune: format!("DELETE FROM {t} WHERE expire < ?1"),
            table: t,
        }
    }
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
