//! Calls that a dropped connection left without a reply, ever.
//!
//! redis-rs hands each call to its connection's task through a bounded
//! tokio channel, first reserving a slot, then filling it. When the
//! connection drops in between (a `CLIENT KILL`, a failover, a proxy
//! closing sockets), the task has already dropped the channel's receiving
//! end and emptied it; a call filled in after that is never sent and never
//! answered, not even with an error. Nothing else fails, so the connection
//! manager does not reconnect either, and the call waits for the store's
//! call timeout. The batched calls of every request in flight waited with
//! it: 5-second stalls, in one of tens of runs of `tests/connection_kills.rs`
//! on a loaded machine (and once in CI).
//!
//! So while a call's reply is late, [`unless_stranded`] sends a `PING` after
//! it on the same connection now and then. Redis answers a connection's
//! commands in order, so a `PING` answered first went where the call did
//! not. One that fails with a connection error found the call's connection
//! dead: a connection manager replaces its connection only once it has
//! failed, so the one the `PING` used is the call's or a later one. Either
//! way the call fails as a lost connection, which the store's callers
//! retry (a save reads the record back first). A `PING` that waits, or fails
//! otherwise, proves nothing, and the call goes on waiting.

use std::future::Future;
use std::io;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{RedisError, RedisResult, Value};

/// How long a call waits for its reply before a `PING` checks that it can
/// still come, and between such checks.
const CHECK_AFTER: Duration = Duration::from_millis(250);

/// Waits for `reply`, the reply to a call just sent on `conn`, unless the
/// connection dropped in a way that leaves it unanswered.
pub(crate) async fn unless_stranded<T, C: ConnectionLike>(
    reply: impl Future<Output = RedisResult<T>>,
    mut conn: C,
) -> RedisResult<T> {
    tokio::pin!(reply);
    loop {
        tokio::select! {
            biased;
            result = &mut reply => return result,
            () = tokio::time::sleep(CHECK_AFTER) => {}
        }
        let ping = redis::cmd("PING");
        let check = ping.query_async::<Value>(&mut conn);
        tokio::select! {
            // The call's own reply wins a tie: it came first.
            biased;
            result = &mut reply => return result,
            answered = check => {
                if answered.as_ref().map_or_else(is_lost_connection, |_| true) {
                    return Err(stranded());
                }
            }
        }
    }
}

/// Whether a `PING` failed because its connection is gone. A `PING` that
/// timed out only waited, as the call does.
fn is_lost_connection(error: &RedisError) -> bool {
    !error.is_timeout() && (error.is_io_error() || error.is_unrecoverable_error())
}

/// The call's reply cannot come: its connection dropped.
fn stranded() -> RedisError {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the connection dropped before this call was answered",
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::unless_stranded;
    use redis::aio::{ConnectionLike, MultiplexedConnection};
    use redis::{RedisResult, Value};
    use std::future::Future;
    use std::time::Duration;

    /// A connection to `REDIS_URL`, or `None` after printing why not.
    async fn redis() -> Option<MultiplexedConnection> {
        let Ok(url) = std::env::var("REDIS_URL") else {
            assert_ne!(
                std::env::var("SESSION_REQUIRE_SERVICES").as_deref(),
                Ok("1"),
                "REDIS_URL is unset and SESSION_REQUIRE_SERVICES=1"
            );
            println!("SKIPPED: REDIS_URL is unset, so stranded calls are not tested");
            return None;
        };
        let client = redis::Client::open(url).expect("REDIS_URL parses");
        let conn = client.get_multiplexed_tokio_connection().await;
        Some(conn.expect("Redis answers"))
    }

    /// What a stranded call looks like from outside: no reply, ever.
    fn never() -> impl Future<Output = RedisResult<Value>> {
        std::future::pending()
    }

    /// Bounds a check that would otherwise wait forever when it fails.
    async fn within_5_seconds<T>(work: impl Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(5), work)
            .await
            .expect("the call ended")
    }

    /// A call on `conn` whose reply never comes fails (`why` says why it
    /// must) as a lost connection.
    async fn assert_fails_as_a_lost_connection(conn: MultiplexedConnection, why: &str) {
        let error = within_5_seconds(unless_stranded(never(), conn))
            .await
            .expect_err(why);
        assert!(error.is_unrecoverable_error(), "{error}");
    }

    #[tokio::test]
    async fn a_reply_that_never_comes_fails_as_a_lost_connection() {
        let Some(conn) = redis().await else { return };
        assert_fails_as_a_lost_connection(
            conn,
            "a call on a connection that answers PING, with no reply, fails",
        )
        .await;
    }

    #[tokio::test]
    async fn a_call_on_a_killed_connection_fails_as_a_lost_connection() {
        let (Some(mut conn), Some(mut admin)) = (redis().await, redis().await) else {
            return;
        };
        let id: i64 = redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut conn)
            .await
            .expect("CLIENT ID");
        let () = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(&mut admin)
            .await
            .expect("CLIENT KILL");
        assert_fails_as_a_lost_connection(conn, "a call on a dead connection fails").await;
    }

    #[tokio::test]
    async fn a_slow_reply_is_waited_for() {
        let Some(conn) = redis().await else { return };
        // BLPOP on a key nobody pushes to holds the connection for a second,
        // four checks' worth; each check's PING queues behind it.
        let key = format!("server-session-test:blpop:{}", std::process::id());
        let mut blpop = redis::pipe();
        blpop.cmd("BLPOP").arg(&key).arg(1);
        let mut sending = conn.clone();
        let reply = sending.req_packed_commands(&blpop, 0, 1);
        let values = within_5_seconds(unless_stranded(reply, conn))
            .await
            .expect("BLPOP's own reply");
        assert_eq!(values, vec![Value::Nil]);
    }
}
