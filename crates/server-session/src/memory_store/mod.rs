//! [`MemoryStore`]: sessions in this process's memory, fit for production
//! on a single process.
//!
//! express's own `MemoryStore` is not meant for production: it never
//! sweeps, so sessions that are never read again stay forever, and
//! browser-session records (no `cookie.expires`) never expire at all. With
//! `saveUninitialized: true` every cookieless request (bots, health checks)
//! adds one, and memory only grows. This store fixes all of that, with
//! nothing to configure and nothing to start:
//!
//! - **Expiry.** A record is invisible once its `cookie.expires` has passed,
//!   and `load` removes it. A browser-session record lives for the
//!   *idle lifetime* (24 hours unless [`MemoryStore::with_idle_lifetime`]
//!   says otherwise) after its last save or touch, like connect-redis's
//!   default TTL.
//! - **Sweeping, driven by writes.** Every write (a save, a touch, the touch
//!   in `load_and_touch`) checks whether the next sweep step is due, which
//!   costs one atomic load; the write that finds it due removes the expired
//!   records of one shard, the next in turn. Every shard is visited once
//!   every 10 seconds while there are writes, so an expired record leaves
//!   memory within about 10 seconds of expiring, and a write never sweeps
//!   more than one shard. This needs no task and no runtime, so
//!   [`MemoryStore::new`] works outside tokio and cannot be "forgotten".
//!   While there are no writes nothing is swept, but nothing new is stored
//!   either. [`MemoryStore::spawn_sweeper`] and [`MemoryStore::sweep`]
//!   sweep on your own schedule as well; [`with_auto_sweep(false)`](
//!   MemoryStore::with_auto_sweep) leaves sweeping to them alone.
//! - **A bound.** At most [`MemoryStore::DEFAULT_MAX_SESSIONS`] (100,000)
//!   records unless [`MemoryStore::with_max_sessions`] says otherwise, or
//!   [`MemoryStore::unbounded`] lifts the bound. What happens at the bound
//!   is below.
//! - **Concurrency.** Records live in independently locked shards; no lock
//!   is ever held across an `.await`.
//! - **Versions.** Each record's [`Version`](crate::store::Version) is a
//!   generation number from one store-wide counter
//!   ([`Version::from_u64`](crate::store::Version::from_u64)). That is sound
//!   because nothing but this store can write to its map; stores that other
//!   processes share must derive versions from the stored bytes instead.
//!
//! Records keep their data as compact JSON text, as express's MemoryStore
//! does, parsed on load after the shard is unlocked; only the cookie
//! settings, which touches and the expiry rules read, are kept parsed.
//! Sessions are lost when the process exits, and several processes do not
//! share them: use the Redis or SQL stores for that.
//!
//! # At the bound
//!
//! Replacing or touching a record never needs room. A save that would add
//! a record to a full store makes room first, in this order:
//!
//! 1. **Expired records.** While the store is full, every shard is swept
//!    before an eviction, unless that was done within the last second;
//!    and a shard that picks its next victims removes its expired records
//!    instead, if it holds any. So no live record is evicted while one
//!    that expired more than a second ago is held.
//! 2. **The live records closest to expiry.** In a shard of at least 64
//!    records (any store of ordinary size: 100,000 records are about 1,500
//!    per shard), the new record's shard evicts its own record that
//!    expires soonest. It finds them exactly, 1/32 of the shard per pass,
//!    and evicts them one per insert, skipping any whose expiry has moved
//!    since (its user came back); so each insert costs a constant amount
//!    of work, and since the shards hold random parts of the store, the
//!    victims are the store's soonest to expire, give or take. In a
//!    smaller store the victim is the soonest to expire among a few
//!    records sampled from several shards.
//!
//! With one max age for everyone, and express touching a session on every
//! request, "closest to expiry" is "used least recently": an active user's
//! session, refreshed moments ago, is among the last to go, and the session
//! of a visitor who left hours ago among the first. A "remember me" session
//! with a longer max age outlives default ones; a short-lived one goes
//! sooner. A save never fails because of the bound (under a race with
//! other inserts the store may briefly hold a record or two over it).
//! Evicting live records is logged with `tracing` as a warning, at most
//! once a minute.
//!
//! ## Why evict, rather than refuse new sessions
//!
//! A full store must either refuse the new session (a store error, so an
//! error response) or evict an old one. Refusing spares existing sessions,
//! but then whoever fills the store locks every new visitor out, and every
//! login with them (a login regenerates the session, which adds a record),
//! until the filling sessions expire. Filling takes 100,000 cookieless requests
//! to any route that writes a new visitor's session: about one request a
//! second keeps the default bound full for the default 24-hour lifetime.
//! Evicting keeps the store serving everyone: a flood pushes out the
//! sessions idle the longest, and a user who made a request within the
//! last `max_sessions / flood rate` keeps their session (the last 100
//! seconds, against a flood of 1,000 new sessions a second and the default
//! bound). Logging out active users thus takes a sustained flood, not a
//! trickle, and memory is bounded either way. If even that matters, keep
//! `save_uninitialized` off (the default here, unlike express), so that a
//! route must put data in a session before it is stored, and limit session
//! creation per client upstream.
//!
//! ## Choosing the bound
//!
//! An idle session costs about 240 bytes plus its data's JSON text:
//! 352 bytes for a small one, measured (`BENCHMARKS.md`). The default of
//! 100,000 is therefore about 35 MB of small sessions, or 125 MB at 1 kB of
//! data each: safe in a small container, and room for 100,000 visitors a
//! day at the default 24-hour lifetime. To hold more, size it to your
//! memory budget, `budget / (240 B + typical JSON size)`: a million small
//! sessions take about 350 MB. [`MemoryStore::unbounded`] is for when
//! something else limits how many sessions can be created.
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
//! // Bounded and sweeping as it is; here sized for half a million small
//! // sessions (about 175 MB).
//! let store = MemoryStore::new()
//!     .with_max_sessions(500_000)
//!     .with_idle_lifetime(Duration::from_secs(60 * 60));
//! assert_eq!(store.max_sessions(), Some(500_000));
//! assert!(store.auto_sweep());
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
mod users;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use sweeper::SweeperHandle;

/// The MemoryStore's [`Store::kind`].
pub(crate) const KIND: &str = "memory";

use self::map::Sessions;
use crate::clock;
use crate::store::{
    LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreFuture, UserPath,
};

/// The fewest shards a store has, whatever the core count.
const MIN_SHARDS: usize = 64;

/// How long a browser-session record lives after its last save or touch,
/// unless configured: one day, connect-redis's default TTL.
const DEFAULT_IDLE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Sessions in memory: sharded, expiring, swept by its writes, and bounded
/// (100,000 records unless configured). See the [module docs](self) for
/// what it guarantees, what happens at the bound, and an example.
///
/// Cloning is cheap and every clone shares the same sessions.
#[derive(Clone)]
pub struct MemoryStore {
    sessions: Arc<Sessions>,
    /// Which sessions each user signed in to, for `UserSessions`.
    users: Arc<users::UserIndex>,
}

impl MemoryStore {
    /// The bound of a new store: 100,000 records, about 35 MB of small
    /// sessions. See [Choosing the bound](self#choosing-the-bound).
    pub const DEFAULT_MAX_SESSIONS: usize = 100_000;

    /// An empty store holding at most
    /// [`DEFAULT_MAX_SESSIONS`](Self::DEFAULT_MAX_SESSIONS) records, swept
    /// by its own writes, with a 24-hour idle lifetime for browser-session
    /// records. It spawns no task and needs no runtime.
    pub fn new() -> Self {
        // Four shards per core, as dashmap does, so that two requests
        // rarely wait on the same lock; and at least MIN_SHARDS, so that a
        // shard's table stays small: when it doubles, the requests for that
        // shard wait for the whole table to be copied (with 8 shards of a
        // million sessions that took milliseconds, and set the p99 of new
        // sessions). An empty shard costs a few dozen bytes.
        let cores = std::thread::available_parallelism().map_or(4, std::num::NonZeroUsize::get);
        let sessions = Sessions::new(
            cores.saturating_mul(4).max(MIN_SHARDS),
            clock::duration_to_ms(DEFAULT_IDLE_LIFETIME),
        );
        sessions.set_max_sessions(Self::DEFAULT_MAX_SESSIONS);
        Self {
            sessions: Arc::new(sessions),
            users: Arc::default(),
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

    /// Caps the number of records held (at least 1). Default:
    /// [`DEFAULT_MAX_SESSIONS`](Self::DEFAULT_MAX_SESSIONS).
    ///
    /// A save that adds a record to a full store first removes expired
    /// records, then evicts the live records closest to expiry; it never
    /// fails because of the bound. See [At the bound](self#at-the-bound) for
    /// the details and why the store evicts rather than refuses.
    ///
    /// The bound is shared by every clone of the store. Lowering it below
    /// the current size does not shrink the store at once: the inserts that
    /// follow evict as they need room.
    #[must_use]
    pub fn with_max_sessions(self, max: usize) -> Self {
        self.sessions.set_max_sessions(max.max(1));
        self
    }

    /// Lifts the bound: the store holds as many records as are saved.
    ///
    /// Only for when something else limits how many sessions can be
    /// created (only signed-in users get one, say): otherwise every client that gets a new
    /// session adds a record that lives a day, and memory grows without
    /// limit. Each automatic sweep step then also scans a shard of
    /// unbounded size. Shared by every clone of the store.
    #[must_use]
    pub fn unbounded(self) -> Self {
        self.sessions.set_max_sessions(usize::MAX);
        self
    }

    /// Whether writes sweep expired records (`true`, the default).
    ///
    /// With `false`, expired records are still invisible, and are removed
    /// when loaded, when a full store makes room, and by
    /// [`sweep`](Self::sweep) or [`spawn_sweeper`](Self::spawn_sweeper),
    /// which you then should run; writes no longer pay for sweeping. That
    /// suits a store swept on a schedule of its own. Shared by every clone
    /// of the store.
    #[must_use]
    pub fn with_auto_sweep(self, enabled: bool) -> Self {
        self.sessions.set_auto_sweep(enabled);
        self
    }

    /// The idle lifetime of browser-session records.
    pub fn idle_lifetime(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.sessions.idle_lifetime_ms()).unwrap_or(0))
    }

    /// The cap on the number of records; `None` once
    /// [`unbounded`](Self::unbounded).
    pub fn max_sessions(&self) -> Option<usize> {
        self.sessions.max_sessions()
    }

    /// Whether writes sweep expired records; see
    /// [`with_auto_sweep`](Self::with_auto_sweep).
    pub fn auto_sweep(&self) -> bool {
        self.sessions.auto_sweep()
    }

    /// Removes every expired record now, one shard at a time, and returns
    /// how many it removed. The store's writes sweep on their own (see
    /// [`with_auto_sweep`](Self::with_auto_sweep)); this is for sweeping at
    /// a moment of your choosing.
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
    /// Not needed for expired records to leave: the store's writes sweep
    /// too. It sweeps while there are no writes, and on its own schedule
    /// once [`with_auto_sweep(false)`](Self::with_auto_sweep) moves the
    /// work off the writes.
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
            .field("auto_sweep", &self.auto_sweep())
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

    fn load_with_expiry<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Option<(LoadedRecord, Option<i64>)>> {
        Box::pin(async move { self.sessions.load_with_expiry(id, clock::now_ms()) })
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
            self.users.clear();
            Ok(())
        })
    }

    fn index_user<'a>(&'a self, user: &'a str, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = clock::now_ms();
            let live = |id: &str| matches!(self.sessions.load(id, now), Ok(Some(_)));
            self.users.add(user, id, self.sessions.count(), live);
            Ok(())
        })
    }

    fn user_sessions<'a>(
        &'a self,
        _user_path: &'a UserPath,
        user: &'a str,
    ) -> StoreFuture<'a, Vec<(String, LoadedRecord)>> {
        Box::pin(async move {
            let now = clock::now_ms();
            let mut found = Vec::new();
            for id in self.users.ids(user) {
                if let Some(loaded) = self.sessions.load(&id, now)? {
                    found.push((id, loaded));
                }
            }
            Ok(found)
        })
    }

    fn unindex_user<'a>(&'a self, user: &'a str, ids: &'a [String]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.users.remove(user, ids);
            Ok(())
        })
    }

    fn prune_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move { Ok(u64::try_from(self.sweep()).unwrap_or(u64::MAX)) })
    }

    fn kind(&self) -> &'static str {
        KIND
    }
}
