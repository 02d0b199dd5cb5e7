//! [`MySqlStore`]: sessions in MySQL or MariaDB.

use server_session::store::{UserPath, Version};
use sqlx::mysql::{MySql, MySqlQueryResult};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::dialect::{
    bounded_name, quote, Backend, Dialect, DigestColumn, IfAbsent, IfVersion, InstantColumn,
    OwnStatements, UserIndex,
};
use crate::SqlStore;

/// A session store in MySQL (5.7+) or MariaDB (10.2+): the same three
/// columns as connect-pg-simple's table, in types these servers have.
///
/// See the [crate docs](crate) for the schema, the version strategy and an
/// example, and [`SqlStore`] for the methods. Times are written as UTC
/// `DATETIME(6)` values computed by this process, so the session
/// `time_zone` plays no part.
///
/// Cloning is cheap and shares the pool.
pub type MySqlStore = SqlStore<MySql>;

impl Dialect for MySql {}

/// The version of a row is the SHA-256 of `sess`; `SHA2(sess, 256)`
/// computes the same digest (as hex) on the server, so compare-and-set is
/// one `UPDATE`. No `UPDATE … RETURNING` in MySQL or MariaDB, so an
/// unchanged request loads, and touches at its end (`touched_expire` stays
/// `None`).
impl Backend for MySql {
    const KIND: &'static str = "mysql";
    const QUOTE: char = '`';
    /// `expire` holds UTC (see `Instant`): its distance from the epoch,
    /// whatever `time_zone` says.
    const EXPIRE_MS: &'static str =
        "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', expire) DIV 1000 AS SIGNED)";

    /// A UTC `DATETIME`, computed here, so `time_zone` plays no part.
    type Instant = PrimitiveDateTime;
    /// Bytes: sqlx refuses to decode `_bin`-collated text columns as
    /// `String`, and the digest is of the bytes anyway.
    type Sess = Vec<u8>;
    type Sid = Vec<u8>;
    /// `COUNT(*)`.
    type Found = i64;
    /// `SHA2()` answers lower-case hex.
    type Digest = String;

    fn param(_: usize) -> String {
        "?".to_owned()
    }

    fn own_statements(t: &str, _table: &str) -> OwnStatements {
        let digest = "SHA2(sess, 256)";
        OwnStatements {
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
            lookup: None,
            create_fallback: None,
            upsert: format!(
                "INSERT INTO {t} (sid, sess, expire) VALUES (?, ?, ?) \
                 ON DUPLICATE KEY UPDATE sess = VALUES(sess), expire = VALUES(expire)"
            ),
            if_absent: IfAbsent::DeleteExpiredThenInsert {
                delete_expired: format!("DELETE FROM {t} WHERE sid = ? AND expire < ?"),
                insert: format!("INSERT INTO {t} (sid, sess, expire) VALUES (?, ?, ?)"),
            },
            if_version: IfVersion::OnServer {
                update: format!(
                    "UPDATE {t} SET sess = ?, expire = ? \
                     WHERE sid = ? AND expire >= ? AND {digest} = ?"
                ),
                delete: format!("DELETE FROM {t} WHERE sid = ? AND expire >= ? AND {digest} = ?"),
            },
        }
    }

    /// `JSON_UNQUOTE(JSON_EXTRACT(sess, '$."passport"."user"'))`: the
    /// string unquoted, a number as its text (MySQL writes it in its own
    /// normal form, MariaDB as stored; integers read the same either way),
    /// NULL where the path leads nowhere. Only for `sess` that `JSON_VALID`
    /// accepts: `sess` is `LONGTEXT` and may hold anything, and MySQL's
    /// `JSON_EXTRACT` fails on text that is not JSON.
    fn user_at(path: &UserPath) -> String {
        format!(
            "(CASE WHEN JSON_VALID(sess) THEN JSON_UNQUOTE(JSON_EXTRACT(sess, '{}')) END)",
            json_path(path)
        )
    }

    /// A virtual column `user_<path>` holding the first 255 characters of
    /// `user_at`, and an index on it: MariaDB has no functional index, and
    /// uses an index on a generated column only where the query names the
    /// column; MySQL 8 takes the same. The column is `utf8mb4_bin`, so user
    /// IDs compare exactly, and cut to 255 characters so that no user ID,
    /// however long, makes a write fail; the listing compares the whole
    /// expression too.
    fn user_index(t: &str, table: &str, path: &UserPath, index: &str) -> UserIndex {
        let column = bounded_name(&format!("user_{path}"), "user_", table, path);
        let user = Self::user_at(path);
        UserIndex::GeneratedColumn {
            create: format!(
                "ALTER TABLE {t} ADD COLUMN {column_q} VARCHAR(255) \
                 CHARACTER SET utf8mb4 COLLATE utf8mb4_bin AS (LEFT({user}, 255)) VIRTUAL, \
                 ADD INDEX {index_q} ({column_q})",
                column_q = quote::<Self>(&column),
                index_q = quote::<Self>(index),
            ),
            condition: format!("{} = LEFT(?, 255) AND {user} = ?", quote::<Self>(&column)),
            column,
        }
    }

    /// ER_BAD_FIELD_ERROR, SQLSTATE 42S22: the table has no such column.
    fn missing_user_column(error: &sqlx::Error) -> bool {
        matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("42S22"))
    }

    fn rows_affected(result: &MySqlQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// `path` as a MySQL JSON path, each key double-quoted
/// (`$."passport"."user"`); the segments hold no quote or backslash.
fn json_path(path: &UserPath) -> String {
    let mut json_path = String::from("$");
    for segment in path.segments() {
        json_path.push_str(&format!(".\"{segment}\""));
    }
    json_path
}

/// The latest instant `DATETIME` can hold, 9999-12-31 23:59:59 UTC.
const MAX_DATETIME_SECS: i64 = 253_402_300_799;

/// Seconds since the epoch as a UTC `DATETIME`, clamped to its range.
impl InstantColumn for PrimitiveDateTime {
    fn from_epoch_secs(secs: i64) -> Self {
        let at = OffsetDateTime::from_unix_timestamp(secs.clamp(0, MAX_DATETIME_SECS))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        PrimitiveDateTime::new(at.date(), at.time())
    }
}

/// Lower-case hex, the form `SHA2()` returns.
impl DigestColumn for String {
    fn from_version(version: Version) -> Self {
        hex(version.as_bytes())
    }
}

/// `bytes` in lower-case hex.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(64), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Sql;

    #[test]
    fn identifiers_are_quoted_with_backticks() {
        let quoted = |table: &str| Sql::new::<MySql>(None, table.to_owned()).quoted;
        assert_eq!(quoted("session"), "`session`");
        assert_eq!(quoted("we`ird"), "`we``ird`");
    }

    #[test]
    fn hex_matches_sha2_output() {
        assert_eq!(hex(&[0x01, 0xab, 0xff]), "01abff");
    }

    #[test]
    fn datetimes_are_utc_and_clamped() {
        assert_eq!(
            PrimitiveDateTime::from_epoch_secs(0).to_string(),
            "1970-01-01 0:00:00.0"
        );
        assert_eq!(PrimitiveDateTime::from_epoch_secs(i64::MAX).year(), 9999);
    }
}
