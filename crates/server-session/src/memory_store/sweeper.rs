//! The background task that removes expired sessions.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{self, Instant, MissedTickBehavior};

use super::map::Sessions;
use crate::clock;

/// Stops the sweeper of a [`MemoryStore`](super::MemoryStore) when dropped.
///
/// Returned by [`MemoryStore::spawn_sweeper`](super::MemoryStore::spawn_sweeper).
/// The task also ends by itself once the last clone of the store is
/// dropped, so [`detach`](Self::detach) is safe: a detached sweeper never
/// outlives its store.
#[derive(Debug)]
#[must_use = "dropping the handle stops the sweeper at once; call `detach` to keep it running"]
pub struct SweeperHandle {
    /// `None` once detached.
    task: Option<JoinHandle<()>>,
}

impl SweeperHandle {
    /// Stops the sweeper. Dropping the handle does the same.
    pub fn abort(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Lets the sweeper run until the store is dropped, without keeping
    /// the handle.
    pub fn detach(mut self) {
        // Dropping a JoinHandle detaches the task.
        drop(self.task.take());
    }

    /// Whether the task has ended (aborted, or its store was dropped).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().map_or(true, JoinHandle::is_finished)
    }
}

impl Drop for SweeperHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub(super) fn spawn(sessions: &Arc<Sessions>, every: Duration) -> SweeperHandle {
    // `interval` panics on a zero period.
    let every = every.max(Duration::from_millis(1));
    let task = tokio::spawn(run(
        Arc::downgrade(sessions),
        sessions.subscribe_closed(),
        every,
    ));
    SweeperHandle { task: Some(task) }
}

/// Sweeps every `every` until the store goes away.
///
/// The task holds only a `Weak` to the map, so it never keeps a dropped
/// store's sessions alive.
async fn run(sessions: Weak<Sessions>, mut closed: watch::Receiver<()>, every: Duration) {
    let mut ticker = time::interval_at(Instant::now() + every, every);
    // After a stall, sweep once and carry on: catching up would only
    // sweep an already clean map several times in a row.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            // Nothing is ever sent, so this resolves (with an error) only
            // when the store drops the sender: end now rather than at the
            // next tick, which may be an hour away.
            _ = closed.changed() => return,
        }
        let Some(shards) = sessions.upgrade().map(|sessions| sessions.shard_count()) else {
            return;
        };
        let mut removed = 0;
        for index in 0..shards {
            let Some(strong) = sessions.upgrade() else {
                return;
            };
            removed += strong.sweep_shard(index, clock::now_ms());
            drop(strong);
            // One shard at a time, yielding in between, so a sweep of a
            // large store neither holds every shard nor hogs the worker.
            tokio::task::yield_now().await;
        }
        if removed > 0 {
            let remaining = sessions.upgrade().map_or(0, |sessions| sessions.count());
            tracing::debug!(
                removed,
                remaining,
                "memory_store.sweep: removed expired sessions"
            );
        }
    }
}
