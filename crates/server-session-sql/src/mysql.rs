//! [`MySqlStore`]: sessions in MySQL or MariaDB.

use std::sync::Arc;

use server_session::store::{SaveCondition, StoreError, Version};
use sqlx::mysql::{MySql, MySqlPool, MySqlQueryResult};
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio::sync::OnceCell;

use crate::backend::{connect_pool, lazy_pool, store_impl, Backend, Statements};
use crate::settings::{common_builders, map_sqlx, timed, Settings};

/// A session store in MySQL (5.7+) or MariaDB (10.2+): the same three
/// columns as connect-pg-simple's table, in types these servers have.
///
/// See the [crate docs](crate) for the schema, the version strategy and an
/// example. Times are written as UTC `DATETIME(6)` values computed by this
/// process, so the session `time_zone` plays no part.
///
/// Cloning is cheap and shares the pool.
#[derive(Clone, Debug)]
pub struct MySqlStore {
    pool: MySqlPool,
    settings: Settings,
    sql: Arc<Sql>,
    /// Set once the table is known to exist, so the check runs once.
    ensured: Arc<OnceCell<()>>,
}

impl MySqlStore {
    /// Connects to `url` (`mysql://user:password@host/db`), opening one
    /// connection now so that a wrong URL fails here. Bounded by the
    /// default call timeout (5 s).
    ///
    /// # Errors
    ///
    /// [`StoreError::Connection`] or [`StoreError::Timeout`] when the server
    /// cannot be reached, [`StoreError::Backend`] for a bad URL or a refused
    /// login.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self::from_pool(connect_pool(url).await?))
    }

    /// A store over a pool that connects on first use. Only parses `url`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when `url` is not a MySQL URL.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        Ok(Self::from_pool(lazy_pool(url)?))
    }

    /// A store over an existing pool. Its connections must use the
    /// `utf8mb4` character set (sqlx's default).
    pub fn from_pool(pool: MySqlPool) -> Self {
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
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// The quoted table name, as it appears in the SQL.
    pub fn quoted_table(&self) -> &str {
        &self.sql.table
    }

    /// Creates the table and its expiry index (`CREATE TABLE IF NOT
    /// EXISTS`). The first store call does this by itself unless
    /// [`with_create_table_if_missing(false)`](Self::with_create_table_if_missing).
    ///
    /// # Errors
    ///
    /// Any error from the server, such as missing `CREATE` rights.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        timed(self.settings.call_timeout, self.create_table()).await
    }

    fn rebuilt(mut self) -> Self {
        self.sql = Arc::new(Sql::new(&self.settings.table));
        self.ensured = Arc::new(OnceCell::new());
        self
    }
}

common_builders!(MySqlStore);
store_impl!(MySqlStore, "mysql");

impl Backend for MySqlStore {
    type Db = MySql;
    /// A UTC `DATETIME`, computed here, so `time_zone` plays no part.
    type Instant = PrimitiveDateTime;
    /// Bytes: sqlx refuses to decode `_bin`-collated text columns as
    /// `String`, and the digest is of the bytes anyway.
    type Sess = Vec<u8>;
    type Sid = Vec<u8>;
    /// `COUNT(*)`.
    type Found = i64;

    fn instant(epoch_secs: i64) -> PrimitiveDateTime {
        datetime(epoch_secs)
    }

    fn rows_affected(result: &MySqlQueryResult) -> u64 {
        result.rows_affected()
    }

    fn pool(&self) -> &MySqlPool {
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
        sqlx::query(&self.sql.create)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn write(
        &self,
        id: &str,
        json: &str,
        expire: PrimitiveDateTime,
        now: PrimitiveDateTime,
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
                // An expired row still holds the key: clear it first. The
                // INSERT is then the atomic check: a live row, even one
                // another process inserted in between, makes it fail.
                sqlx::query(&self.sql.delete_expired_one)
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                match sqlx::query(&self.sql.insert)
                    .bind(id)
                    .bind(json)
                    .bind(expire)
                    .execute(&self.pool)
                    .await
                {
                    Ok(_) => true,
                    Err(sqlx::Error::Database(error)) if error.is_unique_violation() => false,
                    Err(error) => return Err(map_sqlx(error)),
                }
            }
            // sqlx connects with CLIENT_FOUND_ROWS, so the affected-row
            // count is the number of rows matched, even when the new values
            // equal the old ones.
            SaveCondition::IfVersion(expected) => {
                sqlx::query(&self.sql.update_if_version)
                    .bind(json)
                    .bind(expire)
                    .bind(id)
                    .bind(now)
                    .bind(hex(expected.as_bytes()))
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?
                    .rows_affected()
                    > 0
            }
        })
    }

    async fn delete_if_version(
        &self,
        id: &str,
        now: PrimitiveDateTime,
        expected: Version,
    ) -> Result<bool, StoreError> {
        let deleted = sqlx::query(&self.sql.delete_if_version)
            .bind(id)
            .bind(now)
            .bind(hex(expected.as_bytes()))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(deleted.rows_affected() > 0)
    }
}

/// The latest instant `DATETIME` can hold, 9999-12-31 23:59:59 UTC.
const MAX_DATETIME_SECS: i64 = 253_402_300_799;

/// Seconds since the epoch as a UTC `DATETIME`, clamped to its range.
fn datetime(epoch_secs: i64) -> PrimitiveDateTime {
    let at = OffsetDateTime::from_unix_timestamp(epoch_secs.clamp(0, MAX_DATETIME_SECS))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    PrimitiveDateTime::new(at.date(), at.time())
}

/// Lower-case hex, the form `SHA2()` returns.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(64), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// A MySQL identifier in backticks, inner backticks doubled.
fn quote(identifier: &str) -> String {
    format!("`{}`", identifier.replace('`', "``"))
}

/// The statements, built once per table name.
///
/// The version of a row is the SHA-256 of `sess`; `SHA2(sess, 256)`
/// computes the same digest (as hex) on the server, so compare-and-set is
/// one `UPDATE`.
#[derive(Debug)]
struct Sql {
    table: String,
    create: String,
    upsert: String,
    insert: String,
    delete_expired_one: String,
    update_if_version: String,
    delete_if_version: String,
    shared: Statements,
}

impl Sql {
    fn new(table: &str) -> Self {
        let t = quote(table);
        Self {
            // utf8mb4_bin: session IDs are case-sensitive, and the stored
            // text must come back byte for byte. Index names are per table
            // in MySQL, so connect-pg-simple's index name can be kept.
            create: format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n  \
                 `sid` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n  \
                 `sess` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n  \
                 `expire` DATETIME(6) NOT NULL,\n  \
                 PRIMARY KEY (`sid`),\n  \
                 INDEX `IDX_session_expire` (`expire`)\n\
                 ) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ),
            upsert: format!(
                "INSERT INTO {t} (sid, sess, expire) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE sess = VALUES(sess), expire = VALUES(expire)"
            ),
            insert: format!("INSERT INTO {t} (sid, sess, expire) VALUES (?, ?, ?)"),
            delete_expired_one: format!("DELETE FROM {t} WHERE sid = ? AND expire < ?"),
            update_if_version: format!(
                "UPDATE {t} SET sess = ?, expire = ? \
                 WHERE sid = ? AND expire >= ? AND SHA2(sess, 256) = ?"
            ),
            delete_if_version: format!(
                "DELETE FROM {t} WHERE sid = ? AND expire >= ? AND SHA2(sess, 256) = ?"
            ),
            shared: Statements {
                load: format!("SELECT sess FROM {t} WHERE sid = ? AND expire >= ?"),
                // No `UPDATE … RETURNING` in MySQL or MariaDB, so an unchanged
                // request loads here and touches at its end.
                load_and_touch: None,
                // `expire` holds UTC (see `Instant`): its distance from the
                // epoch, whatever `time_zone` says.
                load_with_expiry: format!(
                    "SELECT sess, \
                     CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expire) DIV 1000 AS SIGNED) \
                     FROM {t} WHERE sid = ? AND expire >= ?"
                ),
                exists_live: format!("SELECT COUNT(*) FROM {t} WHERE sid = ? AND expire >= ?"),
                touch: format!("UPDATE {t} SET expire = ? WHERE sid = ? AND expire >= ?"),
                destroy: format!("DELETE FROM {t} WHERE sid = ?"),
                all: format!("SELECT sid, sess FROM {t} WHERE expire >= ?"),
                len: format!("SELECT COUNT(*) FROM {t} WHERE expire >= ?"),
                clear: format!("DELETE FROM {t}"),
                prune: format!("DELETE FROM {t} WHERE expire < ?"),
            },
            table: t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_backticks() {
        assert_eq!(quote("session"), "`session`");
        assert_eq!(quote("we`ird"), "`we``ird`");
    }

    #[test]
    fn hex_matches_sha2_output() {
        assert_eq!(hex(&[0x01, 0xab, 0xff]), "01abff");
    }

    #[test]
    fn datetimes_are_utc_and_clamped() {
        assert_eq!(datetime(0).to_string(), "1970-01-01 0:00:00.0");
        assert_eq!(datetime(i64::MAX).year(), 9999);
    }
}
