//! [`MemoryStore`]: sessions in this process's memory, fit for production
//! on a single process.
//!
//! express's own `MemoryStore` is not meant for production: it never
//! sweeps, so sessions that are never read again stay forever, and
//! browser-session records (no `cookie.expires`) never expire at all. With
//! `saveUninitialized: true` every cookieless request (bots, health checks)
//! adds one, and memory only grows. This store fixes all of that:
//!
//! - **Expiry.** A record is invisible once its `cookie.expires` has passed,
//!   and `load` removes it. A browser-session record lives for the
//!   *idle lifetime* (24 hours unless [`MemoryStore::with_idle_lifetime`]
//!   says otherwise) after its last save or touch, like connect-redis's
//!   default TTL.
//! - **Sweeping.** [`MemoryStore::spawn_sweeper`] removes expired records in
//!   the background, one shard at a time; [`MemoryStore::sweep`] does the
//!   same by hand. [`MemoryStore::new`] spawns nothing.
//! - **A bound.** [`MemoryStore::with_max_sessions`] caps the number of
//!   records. A save into a full store first drops expired records, then
//!   evicts the records closest to expiry. A save never fails because of
//!   the bound.
//! - **Concurrency.** Records live in independently locked shards; no lock
//!   is ever held across an `.await`.
//! - **Versions.** Each record's [`Version`](crate::store::Version) is a
//!   generation number from one store-wide counter
//!   ([`Version::from_u64`](crate::store::Version::from_u64)). That is sound
//!   because nothing but this store can write to its map; stores that other
//!   processes share must derive versions from the stored bytes instead.
//!
//! Records are kept parsed, so `load` costs no JSON parsing; the session
//! data is shared with the caller (it sits behind an `Arc`), not copied.
//! Sessions are lost when the process exits, and several processes do not
//! share them: use the Redis or SQL stores for that.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use server_session::store::{CookieData, Record, SaveCondition, SaveOutcome, Store};
//! use server_session::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), server_session::StoreError> {
//! let store = MemoryStore::new()
//!     .with_max_sessions(100_000)
//!     .with_idle_lifetime(Duration::from_secs(60 * 60));
//! // Remove expired sessions every minute until `store` (and every clone
//! // of it) is dropped.
//! store.spawn_sweeper(Duration::from_secs(60)).detach();
//!
//! let record = Record::new(CookieData::default(), Default::default());
//! let SaveOutcome::Saved(version) = store.save("some-id", &record, SaveCondition::IfAbsent).await?
//! else {
//!     unreachable!("the store was empty");
//! };
//! let loaded = store.load("some-id").await?.expect("saved just now");
//! assert_eq!(loaded.version, version);
//! assert_eq!(store.kind(), "memory");
//! # Ok(())
//! # }
//! ```

mod map;
mod sweeper;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use sweeper::SweeperHandle;

use self::map::Sessions;
use crate::clock;
use crate::store::{LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreFuture};

/// The fewest shards a store has, whatever the core count.
const MIN_SHARDS: usize = 64;

/// How long a browser-session record lives after its last save or touch,
/// unless configured: one day, connect-redis's default TTL.
const DEFAULT_IDLE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Sessions in memory, sharded, expiring, optionally bounded. See the
/// [module docs](self) for what it guarantees and an example.
///
/// Cloning is cheap and every clone shares the same sessions.
#[derive(Clone)]
pub struct MemoryStore {
    sessions: Arc<Sessions>,
}

impl MemoryStore {
    /// An empty, unbounded store with a 24-hour idle lifetime for
    /// browser-session records. It spawns no task; see
    /// [`spawn_sweeper`](Self::spawn_sweeper).
    pub fn new() -> Self {
        // Four shards per core, as dashmap does, so that two requests
        // rarely wait on the same lock; and at least MIN_SHARDS, so that a
        // shard's table stays small: when it doubles, the requests for that
        // shard wait for the whole table to be copied (with 8 shards of a
        // million sessions that took milliseconds, and set the p99 of new
        // sessions). An empty shard costs a few dozen bytes.
        let cores = std::thread::available_parallelism().map_or(4, std::num::NonZeroUsize::get);
        Self {
            sessions: Arc::new(Sessions::new(
                cores.saturating_mul(4).max(MIN_SHARDS),
                clock::duration_to_ms(DEFAULT_IDLE_LIFETIME),
            )),
        }
    }

    /// How long a browser-session record (`cookie.expires` = null) lives
    /// after its last save or touch. Default: 24 hours.
    ///
    /// express's MemoryStore keeps such records forever. A zero lifetime
    /// means they are not kept at all.
    ///
    /// The setting is shared by every clone of the store, and applies to
    /// saves and touches made after the call.
    #[must_use]
    pub fn with_idle_lifetime(self, lifetime: Duration) -> Self {
        self.sessions
            .set_idle_lifetime_ms(clock::duration_to_ms(lifetime));
        self
    }

    /// Caps the number of records held (at least 1). Default: unbounded.
    ///
    /// A save that adds a record to a full store first removes expired
    /// records (sweeping every shard at most once a second), then evicts
    /// the record closest to expiry. "Closest" is approximate: like Redis's
    /// approximated LRU, the store samples a few records from a few shards
    /// rather than keep an expiry index, which would cost memory on every
    /// session. The save itself always succeeds; if nothing can be evicted
    /// at that instant, the store briefly holds one record over the bound.
    ///
    /// The bound is shared by every clone of the store. Lowering it below
    /// the current size evicts one record per later insert; it does not
    /// shrink the store at once.
    #[must_use]
    pub fn with_max_sessions(self, max: usize) -> Self {
        self.sessions.set_max_sessions(max.max(1));
        self
    }

    /// The idle lifetime of browser-session records.
    pub fn idle_lifetime(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.sessions.idle_lifetime_ms()).unwrap_or(0))
    }

    /// The cap on the number of records, if any.
    pub fn max_sessions(&self) -> Option<usize> {
        self.sessions.max_sessions()
    }

    /// Removes every expired record now, one shard at a time, and returns
    /// how many it removed.
    pub fn sweep(&self) -> usize {
        let removed = self.sessions.sweep(clock::now_ms());
        if removed > 0 {
            tracing::debug!(
                removed,
                remaining = self.sessions.count(),
                "memory_store.sweep: removed expired sessions"
            );
        }
        removed
    }

    /// Starts a tokio task that calls [`sweep`](Self::sweep) every `every`
    /// (at least 1 ms), shard by shard, yielding between shards.
    ///
    /// The task stops when the returned handle is dropped or
    /// [aborted](SweeperHandle::abort), and by itself when the last clone of
    /// the store is dropped (it holds only a weak reference).
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime, like [`tokio::spawn`].
    pub fn spawn_sweeper(&self, every: Duration) -> SweeperHandle {
        sweeper::spawn(&self.sessions, every)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the records: they may hold personal data.
        f.debug_struct("MemoryStore")
            .field("entries", &self.sessions.count())
            .field("max_sessions", &self.max_sessions())
            .field("idle_lifetime", &self.idle_lifetime())
            .finish_non_exhaustive()
    }
}

impl Store for MemoryStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        Box::pin(async move { self.sessions.load(id, clock::now_ms()) })
    }

    fn load_and_touch<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(LoadedRecord, bool)>> {
        Box::pin(async move { self.sessions.load_and_touch(id, clock::now_ms()) })
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        Box::pin(async move { Ok(self.sessions.save(id, record, condition, clock::now_ms())) })
    }

    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.sessions.touch(id, record, clock::now_ms());
            Ok(())
        })
    }

    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.sessions.destroy(id);
            Ok(())
        })
    }

    fn all(&self) -> StoreFuture<'_, Vec<(String, Record)>> {
        Box::pin(async move { self.sessions.all(clock::now_ms()) })
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        Box::pin(async move { Ok(self.sessions.live_len(clock::now_ms())) })
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.sessions.clear();
            Ok(())
        })
    }

    fn prune_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move { Ok(u64::try_from(self.sweep()).unwrap_or(u64::MAX)) })
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}
