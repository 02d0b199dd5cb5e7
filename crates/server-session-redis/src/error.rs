//! How redis-rs errors become [`StoreError`]s.

use std::time::Duration;

use redis::{ErrorKind, RedisError};
use server_session::StoreError;

/// Sorts a redis-rs error into the store's error kinds.
///
/// Anything that says "the server or the cluster is not reachable right now"
/// is [`StoreError::Connection`], so the layer's failure policy can treat it
/// as transient; an I/O timeout inside redis-rs is a [`StoreError::Timeout`]
/// of the call's budget. Everything else (a script error, a wrong type, bad
/// configuration) is [`StoreError::Backend`].
pub(crate) fn map_redis_error(error: RedisError, call_timeout: Duration) -> StoreError {
    if error.is_timeout() {
        return StoreError::Timeout(call_timeout);
    }
    if is_connection_error(&error) {
        StoreError::connection(error)
    } else {
        StoreError::backend(error)
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
        )
}

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
    fn server_replies_are_backend_errors() {
        let error = RedisError::from((ErrorKind::TypeError, "WRONGTYPE"));
        let mapped = map_redis_error(error, Duration::from_secs(1));
        assert!(matches!(mapped, StoreError::Backend(_)), "{mapped:?}");
    }

    #[test]
    fn io_timeouts_are_timeouts() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        let mapped = map_redis_error(RedisError::from(io), Duration::from_secs(3));
        assert!(matches!(mapped, StoreError::Timeout(d) if d == Duration::from_secs(3)));
    }
}
