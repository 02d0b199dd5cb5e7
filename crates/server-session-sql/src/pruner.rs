//! The background task that deletes expired rows.
//!
//! SQL rows do not expire by themselves: [`Store::load`] ignores them, but
//! they stay on disk until something deletes them. connect-pg-simple runs
//! `DELETE … WHERE expire < now` on a timer; [`spawn_pruner`] does the same
//! for any [`Store`] that implements [`Store::prune_expired`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use server_session::Store;
use tokio::task::JoinHandle;

/// The longest wait between attempts while the store keeps failing, unless
/// the interval itself is longer.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The shortest interval accepted, so that a zero interval cannot spin.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Starts a tokio task that calls [`Store::prune_expired`] right away and
/// then about every `interval`.
///
/// Like connect-pg-simple, each wait is randomised to between 50 % and
/// 150 % of `interval`, so that several servers sharing one database do not
/// all prune at once. A failed run is logged with `tracing::warn!` and
/// retried after an exponentially growing delay (`interval × 2ⁿ` after `n`
/// failures in a row, capped at one hour or `interval` if longer); the task
/// never stops by itself. Each run that deleted rows is logged with
/// `tracing::info!`, one that deleted nothing with `tracing::debug!`.
///
/// The task belongs to the returned [`PrunerHandle`]: dropping the handle,
/// or calling [`PrunerHandle::abort`], stops it; [`PrunerHandle::detach`]
/// lets it run without the handle (as `SweeperHandle::detach` does for the
/// MemoryStore).
///
/// # Panics
///
/// When called outside a tokio runtime.
pub fn spawn_pruner<S: Store>(store: S, interval: Duration) -> PrunerHandle {
    let stats = Arc::new(Counters::default());
    let task = tokio::spawn(run(store, interval.max(MIN_INTERVAL), Arc::clone(&stats)));
    PrunerHandle {
        task: Some(task),
        stats,
    }
}

/// Owns a pruning task started by [`spawn_pruner`]; the task stops when the
/// handle is dropped.
#[derive(Debug)]
#[must_use = "dropping the handle stops the pruner; call `detach` to keep it running"]
pub struct PrunerHandle {
    /// `None` once detached.
    task: Option<JoinHandle<()>>,
    stats: Arc<Counters>,
}

impl PrunerHandle {
    /// Stops the task. It stops at its next await point; a `DELETE` already
    /// sent to the server may still complete.
    pub fn abort(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }

    /// Lets the pruner run without the handle, for as long as the runtime
    /// does (it owns a clone of the store, and so its pool). The counts are
    /// no longer readable.
    pub fn detach(mut self) {
        // Dropping a JoinHandle detaches the task.
        drop(self.task.take());
    }

    /// Whether the task has stopped (only after [`abort`](Self::abort)).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().map_or(true, JoinHandle::is_finished)
    }

    /// What the task has done so far.
    pub fn stats(&self) -> PrunerStats {
        PrunerStats {
            runs: self.stats.runs.load(Ordering::Relaxed),
            failures: self.stats.failures.load(Ordering::Relaxed),
            deleted: self.stats.deleted.load(Ordering::Relaxed),
        }
    }
}

impl Drop for PrunerHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Counts kept by a pruning task, read with [`PrunerHandle::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrunerStats {
    /// Runs that succeeded.
    pub runs: u64,
    /// Runs that failed.
    pub failures: u64,
    /// Rows deleted by all runs together.
    pub deleted: u64,
}

#[derive(Debug, Default)]
struct Counters {
    runs: AtomicU64,
    failures: AtomicU64,
    deleted: AtomicU64,
}

async fn run<S: Store>(store: S, interval: Duration, stats: Arc<Counters>) {
    let kind = store.kind();
    let mut failures_in_a_row: u32 = 0;
    loop {
        let delay = match store.prune_expired().await {
            Ok(deleted) => {
                failures_in_a_row = 0;
                stats.runs.fetch_add(1, Ordering::Relaxed);
                stats.deleted.fetch_add(deleted, Ordering::Relaxed);
                if deleted > 0 {
                    tracing::info!(
                        store = kind,
                        deleted,
                        "session.prune: deleted expired sessions"
                    );
                } else {
                    tracing::debug!(store = kind, deleted, "session.prune: nothing to delete");
                }
                jittered(interval)
            }
            Err(error) => {
                failures_in_a_row = failures_in_a_row.saturating_add(1);
                stats.failures.fetch_add(1, Ordering::Relaxed);
                let delay = jittered(backoff(interval, failures_in_a_row));
                tracing::warn!(
                    store = kind,
                    error = &error as &dyn std::error::Error,
                    failures_in_a_row,
                    retry_in = ?delay,
                    "session.prune failed; will retry",
                );
                delay
            }
        };
        tokio::time::sleep(delay).await;
    }
}

/// `interval × 2ⁿ`, capped at `max(interval, MAX_BACKOFF)`.
fn backoff(interval: Duration, failures_in_a_row: u32) -> Duration {
    let cap = interval.max(MAX_BACKOFF);
    let factor = 1u32 << failures_in_a_row.min(20);
    interval
        .checked_mul(factor)
        .map_or(cap, |delay| delay.min(cap))
}

/// A uniformly random 50–150 % of `base`, as connect-pg-simple does.
fn jittered(base: Duration) -> Duration {
    let factor: f64 = rand::rng().random_range(0.5..1.5);
    base.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let second = Duration::from_secs(1);
        assert_eq!(backoff(second, 1), Duration::from_secs(2));
        assert_eq!(backoff(second, 3), Duration::from_secs(8));
        assert_eq!(backoff(second, 40), MAX_BACKOFF);
        let day = Duration::from_secs(86_400);
        assert_eq!(backoff(day, 2), day);
    }

    #[test]
    fn jitter_stays_within_half_and_one_and_a_half() {
        let base = Duration::from_secs(100);
        for _ in 0..1000 {
            let delay = jittered(base);
            assert!(delay >= Duration::from_secs(50) && delay < Duration::from_secs(150));
        }
    }
}
