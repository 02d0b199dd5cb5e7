//! What the three stores share: options, the call timeout, and how sqlx
//! errors become [`StoreError`]s (without the server's text).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use server_session::store::{BoxError, StoreError};
use sqlx::error::{DatabaseError, ErrorKind};

/// connect-pg-simple's default table name.
pub(crate) const DEFAULT_TABLE: &str = "session";
/// connect-pg-simple's and connect-redis's default TTL: one day.
pub(crate) const DEFAULT_TTL_SECS: i64 = 86_400;
/// How long one store call may take unless changed with `with_call_timeout`.
pub(crate) const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The options every SQL store has, besides the table's name, which is
/// kept with the statements built for it.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Expiry for records without `cookie.expires`, in seconds (at least 1).
    pub(crate) default_ttl_secs: i64,
    /// Bound on every call, connection acquisition included.
    pub(crate) call_timeout: Duration,
    /// connect-pg-simple's `disableTouch`.
    pub(crate) disable_touch: bool,
    /// connect-pg-simple's `createTableIfMissing`, on by default here.
    pub(crate) create_table_if_missing: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_ttl_secs: DEFAULT_TTL_SECS,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            disable_touch: false,
            create_table_if_missing: true,
        }
    }
}

/// A TTL in whole seconds, rounded up and at least one: a zero TTL would
/// make every browser-session record expire as it is written.
pub(crate) fn ttl_secs(ttl: Duration) -> i64 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() != 0);
    i64::try_from(secs).unwrap_or(i64::MAX).max(1)
}

/// `ceil(now / 1000)`: connect-pg-simple's `currentTimestamp()`, the instant
/// a row must not be older than to count as live. Core rounds the same way
/// for a record (`Record::expire_epoch_secs`) but exports nothing for a
/// bare instant, so this is the one rounding the crate does itself.
pub(crate) fn now_epoch_secs(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000) + i64::from(now_ms.rem_euclid(1000) != 0)
}

/// Runs one store call under the call timeout.
pub(crate) async fn timed<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Timeout(limit)),
    }
}

/// Connection trouble (the server is unreachable, the pool is exhausted or
/// closed, a connection broke) is [`StoreError::Connection`], which the layer
/// treats as transient; everything else the server said is `Backend`.
///
/// An error the database returned is kept as a [`DatabaseFailure`], never
/// as sqlx's error: see there why.
pub(crate) fn map_sqlx(error: sqlx::Error) -> StoreError {
    let transient = match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE class 08 is "connection exception"; 57P01..57P03 are
        // PostgreSQL's admin shutdown / crash shutdown / cannot connect now.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    };
    let shown: BoxError = match error {
        sqlx::Error::Database(db) => Box::new(DatabaseFailure::of(&*db)),
        other => Box::new(other),
    };
    if transient {
        StoreError::Connection(shown)
    } else {
        StoreError::Backend(shown)
    }
}

/// A database's error as far as it can be shown in a log: its SQLSTATE (or
/// SQLite's result code), MySQL's error number, the kind of constraint
/// violation, and the table and constraint it names; never the server's
/// message, detail or context.
///
/// Those may quote the values of the statement: MySQL's `Duplicate entry
/// '<sid>' for key …`, PostgreSQL's `Failing row contains (<sid>, <sess>,
/// …)` and `JSON data, line 1: …`, or the message of a trigger that names
/// the row. A session ID is a bearer credential, and the data may be
/// private. The layer logs store errors with their `Display`, and error
/// reporters walk the `source` chain and print `Debug`, so all three stop
/// here. Look the code up in the database's documentation, or in its own
/// log, which has the whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DatabaseFailure {
    shown: String,
}

impl DatabaseFailure {
    /// What may be shown of `error`.
    pub(crate) fn of(error: &dyn DatabaseError) -> Self {
        let mut shown = String::from("database error");
        if let Some(code) = error.code() {
            shown.push(' ');
            shown.push_str(&code);
        }
        #[cfg(feature = "mysql")]
        if let Some(mysql) = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
            shown.push_str(&format!(" (MySQL error {})", mysql.number()));
        }
        let violation = match error.kind() {
            ErrorKind::UniqueViolation => Some("unique"),
            ErrorKind::ForeignKeyViolation => Some("foreign key"),
            ErrorKind::NotNullViolation => Some("not-null"),
            ErrorKind::CheckViolation => Some("check"),
            _ => None,
        };
        if let Some(violation) = violation {
            shown.push_str(&format!(": {violation} constraint violated"));
        }
        if let Some(table) = error.table() {
            shown.push_str(&format!(", table {table:?}"));
        }
        if let Some(constraint) = error.constraint() {
            shown.push_str(&format!(", constraint {constraint:?}"));
        }
        Self { shown }
    }
}

impl fmt::Display for DatabaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::error::Error for DatabaseFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_rounded_up_and_never_zero() {
        assert_eq!(ttl_secs(Duration::from_millis(1500)), 2);
        assert_eq!(ttl_secs(Duration::ZERO), 1);
        assert_eq!(ttl_secs(Duration::from_secs(86_400)), 86_400);
    }

    #[test]
    fn now_is_rounded_up_like_connect_pg_simple() {
        assert_eq!(now_epoch_secs(1_000), 1);
        assert_eq!(now_epoch_secs(1_001), 2);
    }
}
