//! One write to Redis for the commands that many requests send at once.
//!
//! redis-rs's multiplexed connection writes from a task of its own, woken
//! by each command sent to it. On tokio's multi-thread runtime a task woken
//! by the running task runs right after it (the worker's LIFO slot), so that
//! task wakes after every request's command and writes it alone: one
//! `sendto` on our side and one `read` on Redis's for each command. Redis's
//! CPU per command, network included, was three times what the same
//! commands cost from a current-thread runtime, where the woken task waits
//! its turn and finds many commands queued (BENCHMARKS.md, issue 14).
//!
//! So a standalone or Sentinel store's single commands go through
//! [`Batcher`] (one for each connection to a master): a
//! task that, once woken, yields first. The requests that are ready run in
//! the meantime and queue their commands too; the task then sends all of
//! them as one pipeline, and hands each reply to its caller. A pipeline of
//! independent commands is not a transaction: each command succeeds or
//! fails on its own, as it would alone, and one's server error is only its
//! own.
//!
//! A batch whose replies are late is checked for a connection that dropped
//! under it, as every call on a standalone or Sentinel connection is
//! ([`unless_stranded`]).
//!
//! On a current-thread runtime redis-rs's task already waits its turn, but
//! a store that connected on another runtime (actix-web's main one, used
//! from its workers) wakes that runtime's thread for each command. The
//! batching task coalesces those too: it cut Redis's CPU per request of
//! the actix-web server by a sixth to a quarter (BENCHMARKS.md, issue 14),
//! and made no consistent difference on a current-thread tower server.

use std::io;

use redis::aio::ConnectionLike;
use redis::{Cmd, FromRedisValue, RedisError, RedisResult, Value};
use tokio::sync::{mpsc, oneshot};

use super::stranded::unless_stranded;

/// The most commands one pipeline carries; more wait for the next one.
const MOST_PER_BATCH: usize = 512;

/// A command waiting to be sent, and where its reply goes.
struct Queued {
    cmd: Cmd,
    reply: oneshot::Sender<RedisResult<Value>>,
}

/// The sending side: cheap to clone. The batching task ends when the last
/// clone is dropped.
#[derive(Clone)]
pub(crate) struct Batcher {
    queue: mpsc::UnboundedSender<Queued>,
}

impl Batcher {
    /// Starts the batching task for `conn` on the current tokio runtime.
    pub(crate) fn start<C>(conn: C) -> Self
    where
        C: ConnectionLike + Clone + Send + 'static,
    {
        let (queue, queued) = mpsc::unbounded_channel();
        tokio::spawn(send_in_batches(conn, queued));
        Self { queue }
    }

    /// Runs `cmd` in the next batch.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            cmd: cmd.clone(),
            reply,
        };
        self.queue.send(queued).map_err(|_| stopped())?;
        let value = answer.await.map_err(|_| stopped())??;
        // As `Cmd::query_async` does: a server error reply becomes an `Err`.
        T::from_owned_redis_value(value.extract_error()?)
    }
}

async fn send_in_batches<C>(conn: C, mut queued: mpsc::UnboundedReceiver<Queued>)
where
    C: ConnectionLike + Clone + Send + 'static,
{
    while let Some(first) = queued.recv().await {
        // Let the tasks that are ready run and queue their commands first.
        tokio::task::yield_now().await;
        let mut batch = vec![first];
        while batch.len() < MOST_PER_BATCH {
            match queued.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        // The round trip runs on its own, so that the next batch need not
        // wait for this one's replies.
        tokio::spawn(round_trip(conn.clone(), batch));
    }
}

async fn round_trip<C: ConnectionLike + Clone>(conn: C, batch: Vec<Queued>) {
    let mut pipeline = redis::pipe();
    let mut replies = Vec::with_capacity(batch.len());
    for Queued { cmd, reply } in batch {
        pipeline.add_command(cmd);
        replies.push(reply);
    }
    let count = replies.len();
    let mut sending = conn.clone();
    let sent = sending.req_packed_commands(&pipeline, 0, count);
    match unless_stranded(sent, conn).await {
        Ok(values) if values.len() == count => {
            for (reply, value) in replies.into_iter().zip(values) {
                // A caller that timed out has dropped its receiver.
                let _ = reply.send(Ok(value));
            }
        }
        Ok(values) => {
            let error = RedisError::from((
                redis::ErrorKind::ResponseError,
                "a pipeline's reply count differs from its command count",
                format!("{} replies for {count} commands", values.len()),
            ));
            answer_all(replies, &error);
        }
        Err(error) => answer_all(replies, &error),
    }
}

/// Fails every caller of a batch with `error`, or a copy that keeps what
/// the store's error handling reads: its kind, whether it is an I/O error
/// (and which), and its text.
fn answer_all(replies: Vec<oneshot::Sender<RedisResult<Value>>>, error: &RedisError) {
    for reply in replies {
        let _ = reply.send(Err(copy_of(error)));
    }
}

fn copy_of(error: &RedisError) -> RedisError {
    if error.is_io_error() {
        let kind = std::error::Error::source(error)
            .and_then(|source| source.downcast_ref::<io::Error>())
            .map_or(io::ErrorKind::Other, io::Error::kind);
        return io::Error::new(kind, error.to_string()).into();
    }
    RedisError::from((error.kind(), "a pipelined call failed", error.to_string()))
}

/// The batching task is gone: its runtime shut down.
fn stopped() -> RedisError {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the task that sends this store's commands has stopped (its tokio runtime shut down)",
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::copy_of;
    use redis::{ErrorKind, RedisError};
    use std::io;

    #[test]
    fn a_copied_io_error_keeps_its_kind_and_text() {
        let original: RedisError =
            io::Error::new(io::ErrorKind::ConnectionReset, "Reconnecting failed: reset").into();
        let copy = copy_of(&original);
        assert!(copy.is_io_error());
        assert!(copy.is_connection_dropped());
        assert!(copy.to_string().contains("Reconnecting failed"));
    }

    #[test]
    fn a_copied_server_error_keeps_its_kind() {
        let original = RedisError::from((ErrorKind::ReadOnly, "read only", "detail".to_owned()));
        let copy = copy_of(&original);
        assert_eq!(copy.kind(), ErrorKind::ReadOnly);
        assert!(!copy.is_io_error());
        assert!(copy.to_string().contains("detail"));
    }
}
