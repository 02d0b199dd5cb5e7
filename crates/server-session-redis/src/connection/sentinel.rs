//! The connection to a master found through Redis Sentinel, found again
//! after a failover.
//!
//! The store keeps one multiplexed connection to the master the sentinels
//! named. A reply that says this node is no longer the master to write to
//! (`READONLY`: a demoted master now replicating the new one), a broken or
//! refused connection, or a call that ran out of time drops that
//! connection; the next call asks the sentinels again (one discovery at a
//! time; the calls that wait for it share its answer). redis-rs's own
//! discovery checks the master's `ROLE` before it is used, so a sentinel
//! with an old view cannot point the store at a replica.

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::sentinel::{Sentinel, SentinelNodeConnectionInfo};
use redis::{AsyncConnectionConfig, Cmd, ErrorKind, FromRedisValue, RedisError, RedisResult};

use super::batch::Batcher;
use super::stranded::unless_stranded;
use crate::sentinel::ResolvedSentinel;

/// After a failed discovery, calls fail at once for this long instead of
/// asking the sentinels again, so that a burst of calls during a failover
/// does not become a burst of discoveries.
const DISCOVERY_BACKOFF: Duration = Duration::from_millis(100);

/// The least time one sentinel gets to answer, however small the call
/// timeout is split.
const MIN_SENTINEL_BUDGET: Duration = Duration::from_millis(100);

/// What the store's clones share about a Sentinel target.
pub(crate) struct SentinelShared {
    master_name: String,
    /// The master's credentials and database.
    master_login: SentinelNodeConnectionInfo,
    /// The connection to the master found last, until an error drops it.
    current: RwLock<Option<Master>>,
    /// Held while asking the sentinels.
    discovery: tokio::sync::Mutex<Discovery>,
}

#[derive(Clone)]
struct Master {
    /// Which discovery found it, so that an error on an older connection
    /// does not drop a newer one.
    generation: u64,
    conn: MultiplexedConnection,
    /// Single commands for `conn`, sent in batches; its task ends when the
    /// master is forgotten and the last call on it is done.
    batch: Batcher,
}

struct Discovery {
    /// One redis-rs `Sentinel` per sentinel, so that each is asked on its
    /// own, with its own time limit: redis-rs asks only the first one that
    /// answers, and waits on a sentinel that hangs without a limit.
    sentinels: Vec<Sentinel>,
    /// The sentinel asked first: the one that answered last.
    first: usize,
    generation: u64,
    failed_at: Option<Instant>,
}

impl SentinelShared {
    pub(crate) fn new(resolved: ResolvedSentinel) -> RedisResult<Self> {
        let sentinels = resolved
            .sentinels
            .into_iter()
            .map(|sentinel| Sentinel::build(vec![sentinel]))
            .collect::<RedisResult<Vec<_>>>()?;
        Ok(Self {
            master_name: resolved.master_name,
            master_login: SentinelNodeConnectionInfo {
                tls_mode: None,
                redis_connection_info: Some(resolved.master),
            },
            current: RwLock::new(None),
            discovery: tokio::sync::Mutex::new(Discovery {
                sentinels,
                first: 0,
                generation: 0,
                failed_at: None,
            }),
        })
    }

    fn current(&self) -> Option<Master> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Drops the current connection, if it is still the one of
    /// `generation` (any, for `None`).
    fn forget(&self, generation: Option<u64>) {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|master| {
            generation.map_or(true, |generation| generation == master.generation)
        }) {
            *current = None;
        }
    }
}

/// A handle on a Sentinel target's connection, as the store's calls use it.
#[derive(Clone)]
pub(crate) struct SentinelConn {
    shared: Arc<SentinelShared>,
    /// The budget of one connection attempt, and of one discovery.
    timeout: Duration,
}

impl SentinelConn {
    pub(crate) fn new(shared: Arc<SentinelShared>, timeout: Duration) -> Self {
        Self { shared, timeout }
    }

    /// Runs `op` on the master's connection, discovering the master first
    /// if needed; an error that says the master is gone or moved drops the
    /// connection, so that the next call asks the sentinels again.
    ///
    /// `op` makes one round trip: while its reply is late, a `PING` sent
    /// after it checks that it can still come ([`unless_stranded`]).
    pub(crate) async fn run<T, F, Fut>(&self, op: F) -> RedisResult<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let master = self.master().await?;
        let result = unless_stranded(op(master.conn.clone()), master.conn.clone()).await;
        self.after(&master, &result);
        result
    }

    /// Runs one command on the master, batched with other calls' commands
    /// ([`Batcher`]); an error drops the connection as [`run`](Self::run)'s do.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        let master = self.master().await?;
        let result = master.batch.query(cmd).await;
        self.after(&master, &result);
        result
    }

    /// After a call on `master`: an error that says the master is gone or
    /// moved makes the next call ask the sentinels again.
    fn after<T>(&self, master: &Master, result: &RedisResult<T>) {
        if let Err(error) = result {
            if loses_the_master(error) {
                self.shared.forget(Some(master.generation));
            }
        }
    }

    /// Drops the current connection whatever its generation: a call on it
    /// ran out of time, and a master that hangs may be failing over.
    pub(crate) fn forget_master(&self) {
        self.shared.forget(None);
    }

    async fn master(&self) -> RedisResult<Master> {
        if let Some(master) = self.shared.current() {
            return Ok(master);
        }
        let mut discovery = self.shared.discovery.lock().await;
        // Another call may have found it while this one waited.
        if let Some(master) = self.shared.current() {
            return Ok(master);
        }
        if discovery
            .failed_at
            .is_some_and(|failed_at| failed_at.elapsed() < DISCOVERY_BACKOFF)
        {
            return Err(no_master_yet());
        }
        match discovery
            .find(
                &self.shared.master_name,
                &self.shared.master_login,
                self.timeout,
            )
            .await
        {
            Ok(conn) => {
                discovery.failed_at = None;
                discovery.generation += 1;
                let master = Master {
                    generation: discovery.generation,
                    batch: Batcher::start(conn.clone()),
                    conn,
                };
                *self
                    .shared
                    .current
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(master.clone());
                Ok(master)
            }
            Err(error) => {
                discovery.failed_at = Some(Instant::now());
                Err(error)
            }
        }
    }
}

impl Discovery {
    /// Asks each sentinel in turn, starting with the last one that
    /// answered, for the master (redis-rs checks its `ROLE`), and connects
    /// to the first one found.
    async fn find(
        &mut self,
        master_name: &str,
        login: &SentinelNodeConnectionInfo,
        timeout: Duration,
    ) -> RedisResult<MultiplexedConnection> {
        let count = self.sentinels.len();
        let share = u32::try_from(count).unwrap_or(u32::MAX).max(1);
        let budget = (timeout / share).max(MIN_SENTINEL_BUDGET);
        let config = AsyncConnectionConfig::new().set_connection_timeout(timeout);
        let mut last_error = None;
        for step in 0..count {
            let index = (self.first + step) % count;
            let sentinel = &mut self.sentinels[index];
            let asked = tokio::time::timeout(budget, async {
                let client = sentinel.async_master_for(master_name, Some(login)).await?;
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
            })
            .await;
            match asked {
                Ok(Ok(conn)) => {
                    self.first = index;
                    return Ok(conn);
                }
                Ok(Err(error)) => last_error = Some(error),
                Err(_elapsed) => {
                    last_error = Some(RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "a sentinel or the master it named did not answer in time",
                    )));
                }
            }
        }
        Err(last_error.unwrap_or_else(no_master_yet))
    }
}

/// Whether `error` says that this connection no longer reaches the master:
/// it broke or was refused (the master died, or Sentinel's reconfiguration
/// killed its clients), or the node now refuses writes as a replica.
fn loses_the_master(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || matches!(
            error.kind(),
            ErrorKind::ReadOnly | ErrorKind::MasterDown | ErrorKind::BusyLoadingError
        )
}

fn no_master_yet() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "no Redis master found through Sentinel yet; asking again shortly",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_that_lose_the_master() {
        let io = |kind| RedisError::from(std::io::Error::from(kind));
        assert!(loses_the_master(&io(std::io::ErrorKind::BrokenPipe)));
        assert!(loses_the_master(&io(std::io::ErrorKind::ConnectionRefused)));
        assert!(loses_the_master(&RedisError::from((
            ErrorKind::ReadOnly,
            "READONLY"
        ))));
        assert!(loses_the_master(&RedisError::from((
            ErrorKind::MasterDown,
            "MASTERDOWN"
        ))));
        assert!(!loses_the_master(&RedisError::from((
            ErrorKind::TypeError,
            "WRONGTYPE"
        ))));
        assert!(!loses_the_master(&RedisError::from((
            ErrorKind::NoScriptError,
            "NOSCRIPT"
        ))));
    }
}
