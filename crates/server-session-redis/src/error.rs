//! How redis-rs errors become [`StoreError`]s.

use std::fmt;
use std::time::Duration;

use redis::{ErrorKind, RedisError};
use server_session::StoreError;

/// Sorts a redis-rs error into the store's error kinds.
///
/// Anything that says "the server or the cluster is not reachable right now"
/// is [`StoreError::Connection`], so the layer's failure policy can treat it
/// as transient: this includes `READONLY` (a write reached a replica, such
/// as a master Sentinel just demoted) and Sentinel knowing no master yet; an I/O timeout inside redis-rs is a [`StoreError::Timeout`]
/// of the call's budget. Everything else (a script error, a wrong type, bad
/// configuration) is [`StoreError::Backend`].
///
/// The error kept as the source is a [`RedisFailure`], never the redis-rs
/// error itself: see there why.
pub(crate) fn map_redis_error(error: RedisError, call_timeout: Duration) -> StoreError {
    if error.is_timeout() {
        return StoreError::Timeout(call_timeout);
    }
    let failure = RedisFailure::of(&error);
    if is_connection_error(&error) {
        StoreError::connection(failure)
    } else {
        StoreError::backend(failure)
    }
}

fn is_connection_error(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || error.is_cluster_error()
        || matches!(
            error.kind(),
            ErrorKind::ClusterDown
                | ErrorKind::MasterDown
                | ErrorKind::TryAgain
                | ErrorKind::BusyLoadingError
                | ErrorKind::ClusterConnectionNotFound
                | ErrorKind::ReadOnly
                | ErrorKind::MasterNameNotFoundBySentinel
                | ErrorKind::NoValidReplicasFoundBySentinel
        )
}

/// A redis-rs error as far as it can be shown in a log: its category and
/// the server's error code (`ERR`, `NOPERM`, `WRONGTYPE`, …), never the
/// server's message or redis-rs's detail.
///
/// Redis quotes a command's arguments in some replies (`ERR unknown command
/// 'GETEX', with args beginning with: 'sess:<id>' …`), so the message may
/// hold a session ID, which is a bearer credential; and redis-rs's detail of
/// a reply it could not convert holds the reply, which may be session data.
/// The layer logs store errors with their `Display`, and error reporters
/// walk the `source` chain, so both stop here. An I/O error keeps its text,
/// which comes from the operating system, not from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedisFailure {
    shown: String,
}

impl RedisFailure {
    /// What may be shown of `error`.
    pub(crate) fn of(error: &RedisError) -> Self {
        if error.kind() == ErrorKind::IoError {
            return Self {
                shown: format!("Redis I/O error: {error}"),
            };
        }
        let shown = match error.code().filter(|code| looks_like_a_code(code)) {
            Some(code) => format!("Redis {} ({code})", error.category()),
            None => format!("Redis {}", error.category()),
        };
        Self { shown }
    }
}

/// Whether `code` is an error code as Redis writes one (the first word of
/// an error reply, such as `ERR` or `NOPERM`), rather than text from an
/// error reply of another shape.
fn looks_like_a_code(code: &str) -> bool {
    (1..=32).contains(&code.len())
        && code
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_')
}

impl fmt::Display for RedisFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::error::Error for RedisFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_connection_errors() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let mapped = map_redis_error(RedisError::from(io), Duration::from_secs(1));
        assert!(matches!(mapped, StoreError::Connection(_)), "{mapped:?}");
    }

    #[test]
    fn cluster_down_is_a_connection_error() {
        let error = RedisError::from((ErrorKind::ClusterDown, "CLUSTERDOWN"));
        let mapped = map_redis_error(error, Duration::from_secs(1));
        assert!(mapped.is_transient(), "{mapped:?}");
    }

    #[test]
    fn a_demoted_master_and_a_missing_one_are_connection_errors() {
        // As redis-rs parses `-READONLY You can't write against a read only
        // replica.` (from a script too: `… script: <sha>, on @user_script:1.`).
        let read_only = RedisError::from((
            ErrorKind::ReadOnly,
            "An error was signalled by the server",
            "You can't write against a read only replica.".to_owned(),
        ));
        let mapped = map_redis_error(read_only, Duration::from_secs(1));
        assert!(matches!(mapped, StoreError::Connection(_)), "{mapped:?}");
        assert_eq!(mapped.to_string(), "session store connection failed");
        assert_eq!(
            std::error::Error::source(&mapped).map(ToString::to_string),
            Some(String::from("Redis read-only (READONLY)"))
        );
        for kind in [
            ErrorKind::MasterNameNotFoundBySentinel,
            ErrorKind::NoValidReplicasFoundBySentinel,
        ] {
            let mapped =
                map_redis_error(RedisError::from((kind, "sentinel")), Duration::from_secs(1));
            assert!(mapped.is_transient(), "{mapped:?}");
        }
    }

    #[test]
    fn server_replies_are_backend_errors() {
        let error = RedisError::from((ErrorKind::TypeError, "WRONGTYPE"));
        let mapped = map_redis_error(error, Duration::from_secs(1));
        assert!(matches!(mapped, StoreError::Backend(_)), "{mapped:?}");
    }

    #[test]
    fn the_server_text_is_never_shown() {
        let echoed = RedisError::from((
            ErrorKind::ResponseError,
            "An error was signalled by the server",
            "unknown command 'GETEX', with args beginning with: 'sess:abc' 'EX' '60' ".to_owned(),
        ));
        assert_eq!(
            RedisFailure::of(&echoed).to_string(),
            "Redis response error (ERR)"
        );
        let mapped = map_redis_error(echoed, Duration::from_secs(1));
        assert_eq!(mapped.to_string(), "session store error");
        assert_eq!(
            std::error::Error::source(&mapped).map(ToString::to_string),
            Some(String::from("Redis response error (ERR)"))
        );
        assert!(!format!("{mapped:?}").contains("sess:abc"), "{mapped:?}");

        let extension = redis::make_extension_error(
            "NOPERM".to_owned(),
            Some("this user has no permissions to access one of the keys: sess:abc".to_owned()),
        );
        assert_eq!(
            RedisFailure::of(&extension).to_string(),
            "Redis extension error (NOPERM)"
        );
        let odd = redis::make_extension_error("sess:abc".to_owned(), None);
        assert_eq!(RedisFailure::of(&odd).to_string(), "Redis extension error");

        let conversion = RedisError::from((
            ErrorKind::TypeError,
            "Response was of incompatible type",
            r#"(response was bulk-string("{\"cookie\":{}}"))"#.to_owned(),
        ));
        assert_eq!(
            RedisFailure::of(&conversion).to_string(),
            "Redis type error"
        );
    }

    #[test]
    fn io_errors_keep_their_text() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(
            RedisFailure::of(&RedisError::from(io)).to_string(),
            "Redis I/O error: refused"
        );
    }

    #[test]
    fn io_timeouts_are_timeouts() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        let mapped = map_redis_error(RedisError::from(io), Duration::from_secs(3));
        assert!(matches!(mapped, StoreError::Timeout(d) if d == Duration::from_secs(3)));
    }
}
