//! [`SqliteStore`]: sessions in an SQLite database file.

use std::str::FromStr;

use server_session::store::{StoreError, UserPath};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteQueryResult,
};

use crate::dialect::{
    pool_options, quote, Backend, Dialect, IfAbsent, IfVersion, OwnStatements, UserIndex,
};
use crate::settings::{map_sqlx, timed, DEFAULT_CALL_TIMEOUT};
use crate::SqlStore;

/// A session store in SQLite: the same three columns as connect-pg-simple's
/// table, with `expire` in whole seconds since the Unix epoch.
///
/// See the [crate docs](crate) for the schema and an example, and
/// [`SqlStore`] for the methods. Suits a single server (or several
/// processes on one machine sharing the file).
///
/// Cloning is cheap and shares the pool.
pub type SqliteStore = SqlStore<Sqlite>;

impl Dialect for Sqlite {}

impl Backend for Sqlite {
    const KIND: &'static str = "sqlite";
    const EXPIRE_MS: &'static str = "expire * 1000";

    /// `expire` is whole seconds since the epoch.
    type Instant = i64;
    /// Bytes, so that a `sess` that is not UTF-8 is reported as a corrupt
    /// record.
    type Sess = Vec<u8>;
    type Sid = String;
    /// `COUNT(*)`.
    type Found = i64;
    /// Never bound: SQLite compares versions in a transaction.
    type Digest = Vec<u8>;

    /// The `expire` that a touch made now would give the row, computed from its
    /// own `sess`, as `Record::expire_epoch_secs` computes it after express's
    /// `cookie.touch()`: `ceil((now_ms + originalMaxAge) / 1000)`, or `?4`
    /// (`ceil(now_ms / 1000)` plus the default TTL) for `"originalMaxAge":
    /// null`. Binds `?3`, now in milliseconds, and `?4`.
    ///
    /// NULL, meaning "leave `expire` alone", unless `originalMaxAge` is `null`
    /// or a JSON integer from 1 to 15 digits (so the sum stays an integer): a
    /// float or exponent notation (`json_type` says `real`), a string, a
    /// missing key, or a `sess` without a `cookie` object. A touch that would
    /// expire the record, and the odd shapes, are left to the layer's own touch
    /// at the end of the request. `sess` is TEXT here and may hold anything,
    /// and SQLite's JSON functions fail on malformed text (and read a BLOB as
    /// JSONB), so only text that `json_valid` accepts as RFC 8259 JSON is
    /// looked into; any other row is returned untouched, to load (or fail as
    /// `Corrupt`) as with `load`. `CASE` evaluates its branches lazily, so the
    /// guard holds.
    fn touched_expire() -> Option<String> {
        let max_age = "sess, '$.cookie.originalMaxAge'";
        Some(format!(
            "(CASE WHEN typeof(sess) = 'text' AND json_valid(sess) THEN \
             CASE json_type({max_age}) WHEN 'null' THEN ?4 \
             WHEN 'integer' THEN CASE WHEN json_extract({max_age}) BETWEEN 1 AND 999999999999999 \
             THEN (?3 + json_extract({max_age}) + 999) / 1000 END END END)"
        ))
    }

    /// `CAST(json_extract(sess, '$."passport"."user"') AS TEXT)`:
    /// `json_extract` answers a string as text and a number as an integer
    /// or a real, which the cast turns into its decimal text; JSON `null`
    /// and a missing path are NULL. Only for text that `json_valid` accepts
    /// as JSON: `sess` may hold anything, SQLite's JSON functions fail on
    /// malformed text, and an index on this is computed at every write.
    fn user_at(path: &UserPath) -> String {
        let mut json_path = String::from("$");
        for segment in path.segments() {
            json_path.push_str(&format!(".\"{segment}\""));
        }
        format!(
            "(CASE WHEN typeof(sess) = 'text' AND json_valid(sess) \
             THEN CAST(json_extract(sess, '{json_path}') AS TEXT) END)"
        )
    }

    /// An index on `user_at` itself, which a listing's `user_at = ?1` uses.
    fn user_index(t: &str, _table: &str, path: &UserPath, index: &str) -> UserIndex {
        UserIndex::Expression {
            create: format!(
                "CREATE INDEX IF NOT EXISTS {} ON {t} ({})",
                quote::<Self>(index),
                Self::user_at(path)
            ),
        }
    }

    fn own_statements(t: &str, table: &str) -> OwnStatements {
        // Index names are per database in SQLite, so the index is named
        // after its table (`IDX_session_expire` for the default one).
        let index = quote::<Self>(&format!("IDX_{table}_expire"));
        OwnStatements {
            create: format!(
                "CREATE TABLE IF NOT EXISTS {t} (\n  \
                 \"sid\" TEXT NOT NULL PRIMARY KEY,\n  \
                 \"sess\" TEXT NOT NULL,\n  \
                 \"expire\" INTEGER NOT NULL\n);\n\
                 CREATE INDEX IF NOT EXISTS {index} ON {t} (\"expire\");"
            ),
            lookup: None,
            create_fallback: None,
            upsert: format!(
                "INSERT INTO {t} (sid, sess, expire) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire"
            ),
            // In an upsert's WHERE, a bare column names the existing row.
            if_absent: IfAbsent::Upsert(format!(
                "INSERT INTO {t} (sid, sess, expire) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire \
                 WHERE expire < ?4"
            )),
            // No SHA-256 function in SQL; `BEGIN IMMEDIATE` takes the write
            // lock before the read.
            if_version: IfVersion::InTransaction {
                begin: "BEGIN IMMEDIATE",
                update: format!("UPDATE {t} SET sess = ?1, expire = ?2 WHERE sid = ?3"),
            },
        }
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    /// Opens the file, creating it if it is missing, in WAL journaling.
    async fn connect(url: &str) -> Result<SqlitePool, StoreError> {
        let options = connect_options(url)?;
        timed(DEFAULT_CALL_TIMEOUT, async {
            pool_options().connect_with(options).await.map_err(map_sqlx)
        })
        .await
    }

    fn connect_lazy(url: &str) -> Result<SqlitePool, StoreError> {
        Ok(pool_options().connect_lazy_with(connect_options(url)?))
    }
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
    use crate::dialect::Sql;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote::<Sqlite>("we\"ird"), "\"we\"\"ird\"");
        assert!(Sql::new::<Sqlite>(None, "session".to_owned())
            .own
            .create
            .contains("INDEX IF NOT EXISTS \"IDX_session_expire\""));
    }
}
