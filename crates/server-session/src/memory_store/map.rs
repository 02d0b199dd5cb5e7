//! The sharded map behind [`MemoryStore`](super::MemoryStore). Every method
//! is synchronous and takes `now` as an argument, so the async `Store`
//! methods are thin and the expiry rules can be tested with fixed clocks.

use std::collections::HashMap;
use std::hash::BuildHasher;

// Keys are session IDs this process generated (or verified by signature),
// so the cheaper keyed hash of foldhash is enough; no HashDoS input reaches it.
use foldhash::fast::RandomState;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use tokio::sync::watch;

use serde_json::Map;

use self::eviction::Victim;
use crate::store::{
    CookieData, LoadedRecord, Record, SaveCondition, SaveOutcome, StoreError, Version,
};

mod eviction;

/// How long the sweeping done by writes takes to visit every shard once:
/// a write that finds the next step due sweeps one shard, and the steps
/// are `AUTO_SWEEP_CYCLE_MS / shards` apart. So an expired session stays
/// in memory at most about this long after it expired (as long as there
/// are writes at all; without writes nothing new is stored either), and
/// the store scans each session once per cycle, not once per write. Ten
/// seconds is nothing next to session lifetimes of hours; a full store
/// does not wait for it (see `sweep_if_due`).
pub(super) const AUTO_SWEEP_CYCLE_MS: i64 = 10_000;
/// `AutoSweep::next_due_ms` while automatic sweeping is off.
const AUTO_SWEEP_OFF: i64 = i64::MAX;
/// When the store is full, expired entries are swept from every shard at
/// most this often, so that a full store costs one O(n) pass per second,
/// not one per insert.
const FULL_SWEEP_EVERY_MS: i64 = 1_000;
/// Tables smaller than this are never shrunk: the rehash is not worth it.
const SHRINK_MIN_CAPACITY: usize = 64;

/// One stored session.
///
/// Kept small on purpose, since an idle session costs this struct, its key
/// and its data text, nothing else. No expiry index is kept; the sweeper and
/// eviction read `expires_at` in place instead.
///
/// The data is kept as its compact JSON text, as express's MemoryStore keeps
/// `JSON.stringify(sess)`, not as a parsed map: a parsed `serde_json::Map`
/// costs an `IndexMap` (its index table, an entries vector with spare room,
/// one `String` per key) and was two thirds of an idle session's memory.
/// The price is a parse of the (usually small) data on each load, made
/// after the shard is unlocked (see [`Stored`]).
pub(super) struct Entry {
    /// The cookie settings, parsed: `touch` rewrites them and the expiry
    /// rules read them, so they stay cheap to reach.
    pub(super) cookie: CookieData,
    /// The data object as compact JSON, or empty for no keys. Shared, so
    /// that a load copies a pointer under the shard lock and parses after
    /// releasing it: a large session must not hold up its shard's other
    /// sessions while it is parsed.
    pub(super) data: Arc<str>,
    /// When the entry stops being visible, in ms since the epoch: the
    /// cookie's `expires`, or last save/touch plus the idle lifetime for a
    /// browser-session cookie.
    pub(super) expires_at: i64,
    /// The store-wide generation of the last save; the record's version.
    pub(super) generation: u64,
}

/// `record`'s data as an entry keeps it: compact JSON, or empty for no keys.
/// Written before the shard is locked, for the same reason loads parse
/// after unlocking it.
fn encode_data(record: &Record) -> Arc<str> {
    if record.data.is_empty() {
        Arc::default()
    } else {
        // Writing string keys and JSON values to a string cannot fail.
        Arc::from(serde_json::to_string(&*record.data).unwrap_or_default())
    }
}

impl Entry {
    fn new(record: &Record, data: Arc<str>, expires_at: i64, generation: u64) -> Self {
        Self {
            cookie: record.cookie.clone(),
            data,
            expires_at,
            generation,
        }
    }

    /// What a load takes out of the shard: cheap copies, parsed later.
    fn stored(&self) -> Stored {
        Stored {
            cookie: self.cookie.clone(),
            data: Arc::clone(&self.data),
            generation: self.generation,
        }
    }
}

/// An entry as a load copied it out of its shard, to be parsed unlocked.
pub(super) struct Stored {
    cookie: CookieData,
    data: Arc<str>,
    generation: u64,
}

impl Stored {
    /// The record as it was saved. The text was written by [`encode_data`]
    /// from a map, so it always parses; the error is still a typed one,
    /// never a panic.
    fn record(self) -> Result<Record, StoreError> {
        let data = if self.data.is_empty() {
            Map::new()
        } else {
            serde_json::from_str(&self.data).map_err(StoreError::corrupt)?
        };
        Ok(Record {
            cookie: self.cookie,
            data: Arc::new(data),
        })
    }

    fn loaded(self) -> Result<LoadedRecord, StoreError> {
        let version = Version::from_u64(self.generation);
        Ok(LoadedRecord {
            record: self.record()?,
            version,
        })
    }
}

type Entries = HashMap<Box<str>, Entry, RandomState>;

/// One shard: its entries, and the eviction queue of a full store.
#[derive(Default)]
struct Shard {
    entries: Entries,
    /// The live entries this shard evicts next while the store is full,
    /// the soonest to expire last (popped first); see [`Shard::evict_one`].
    /// Empty unless the store has been full; emptied by a sweep once the
    /// store is no longer full.
    victims: Vec<Victim>,
}

/// The shared state of a `MemoryStore` and all its clones.
pub(super) struct Sessions {
    /// std mutexes, not tokio's: no lock is ever held across an `.await`,
    /// and every critical section is a few hash-map operations, which a
    /// blocking lock serves faster than an async one (mini-redis does the
    /// same). Sharding keeps requests for different sessions from queueing
    /// behind each other and lets the sweeper work one shard at a time.
    shards: Box<[Mutex<Shard>]>,
    /// Picks the shard. Seeded per store so that clients cannot aim many
    /// session IDs at one shard.
    hasher: RandomState,
    /// Source of versions. One counter for the whole store (not one per
    /// entry) so that a destroyed and re-created session never gets a
    /// version it had before: a stale `IfVersion` can never match again.
    generation: AtomicU64,
    /// Entries held, expired ones not yet removed included. It is what the
    /// bound limits.
    count: AtomicUsize,
    /// Lifetime of browser-session records (`cookie.expires` = null) after
    /// their last save or touch, in ms. Atomic so that `with_*` works on a
    /// store that was already cloned.
    idle_lifetime_ms: AtomicI64,
    /// The bound on `count`; `usize::MAX` when unbounded.
    max_sessions: AtomicUsize,
    /// When a full store last swept every shard, in ms since the epoch.
    last_full_sweep_ms: AtomicI64,
    /// When eviction of live sessions was last logged as a warning.
    last_eviction_warning_ms: AtomicI64,
    /// The sweeping that writes do; see [`Sessions::sweep_step_if_due`].
    auto_sweep: CacheAligned<AutoSweep>,
    /// Never sent on. Dropping it with the last store clone wakes every
    /// sweeper task, which then ends instead of waiting for its next tick.
    closed: watch::Sender<()>,
}

/// Keeps what it holds on a cache line of its own. Every write reads the
/// automatic sweep's due time; `generation` and `count` next to it are
/// written by every save, and sharing their line would make that read a
/// cache miss on the other cores.
#[repr(align(64))]
struct CacheAligned<T>(T);

/// Where the sweeping done by writes stands.
struct AutoSweep {
    /// When the next shard is due, in ms since the epoch; `AUTO_SWEEP_OFF`
    /// when automatic sweeping is off.
    next_due_ms: AtomicI64,
    /// The shard swept next (modulo the shard count).
    cursor: AtomicUsize,
    /// Time between two steps: `AUTO_SWEEP_CYCLE_MS / shards`.
    step_ms: i64,
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic while a shard is locked can only come from an allocation
    // failure inside a map operation; the map is still consistent, so
    // keep serving rather than poisoning the store forever.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

fn try_lock(shard: &Mutex<Shard>) -> Option<MutexGuard<'_, Shard>> {
    match shard.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl Sessions {
    pub(super) fn new(shard_count: usize, idle_lifetime_ms: i64) -> Self {
        let shard_count = shard_count.max(1).next_power_of_two();
        Self {
            shards: (0..shard_count)
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
            hasher: RandomState::default(),
            generation: AtomicU64::new(0),
            count: AtomicUsize::new(0),
            idle_lifetime_ms: AtomicI64::new(idle_lifetime_ms),
            max_sessions: AtomicUsize::new(usize::MAX),
            last_full_sweep_ms: AtomicI64::new(i64::MIN),
            last_eviction_warning_ms: AtomicI64::new(i64::MIN),
            auto_sweep: CacheAligned(AutoSweep {
                next_due_ms: AtomicI64::new(i64::MIN),
                cursor: AtomicUsize::new(0),
                step_ms: (AUTO_SWEEP_CYCLE_MS / shard_count as i64).max(1),
            }),
            closed: watch::Sender::new(()),
        }
    }

    pub(super) fn set_idle_lifetime_ms(&self, ms: i64) {
        self.idle_lifetime_ms.store(ms, Ordering::Relaxed);
    }

    pub(super) fn idle_lifetime_ms(&self) -> i64 {
        self.idle_lifetime_ms.load(Ordering::Relaxed)
    }

    pub(super) fn set_max_sessions(&self, max: usize) {
        self.max_sessions.store(max, Ordering::Relaxed);
    }

    pub(super) fn max_sessions(&self) -> Option<usize> {
        Some(self.max_sessions.load(Ordering::Relaxed)).filter(|&max| max != usize::MAX)
    }

    pub(super) fn set_auto_sweep(&self, enabled: bool) {
        let due = if enabled { i64::MIN } else { AUTO_SWEEP_OFF };
        self.auto_sweep.0.next_due_ms.store(due, Ordering::Relaxed);
    }

    pub(super) fn auto_sweep(&self) -> bool {
        self.auto_sweep.0.next_due_ms.load(Ordering::Relaxed) != AUTO_SWEEP_OFF
    }

    /// Entries held, expired ones included.
    pub(super) fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub(super) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    pub(super) fn subscribe_closed(&self) -> watch::Receiver<()> {
        self.closed.subscribe()
    }

    fn shard_index(&self, id: &str) -> usize {
        // The shard count is a power of two, so the mask keeps the low bits.
        (self.hasher.hash_one(id) as usize) & (self.shards.len() - 1)
    }

    fn next_version(&self) -> (u64, Version) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        (generation, Version::from_u64(generation))
    }

    fn expiry_of(&self, record: &Record, now: i64) -> i64 {
        match record.cookie.expires {
            Some(expires) => expires,
            None => now.saturating_add(self.idle_lifetime_ms()),
        }
    }

    fn forget(&self, removed: usize) {
        if removed > 0 {
            self.count.fetch_sub(removed, Ordering::Relaxed);
        }
    }

    pub(super) fn load(&self, id: &str, now: i64) -> Result<Option<LoadedRecord>, StoreError> {
        let mut shard = lock(&self.shards[self.shard_index(id)]);
        let Some(entry) = shard.entries.get(id) else {
            return Ok(None);
        };
        if entry.expires_at > now {
            let stored = entry.stored();
            drop(shard);
            return stored.loaded().map(Some);
        }
        let expired = shard.entries.remove(id);
        drop(shard);
        self.forget(1);
        // Freed after the shard is unlocked: a large record takes a while.
        drop(expired);
        Ok(None)
    }

    /// [`load`](Self::load), with the entry's expiry: the cookie's
    /// `expires`, or the idle lifetime's end for a browser-session cookie.
    pub(super) fn load_with_expiry(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<(LoadedRecord, Option<i64>)>, StoreError> {
        let shard = lock(&self.shards[self.shard_index(id)]);
        match shard.entries.get(id) {
            Some(entry) if entry.expires_at > now => {
                let (stored, expires_at) = (entry.stored(), entry.expires_at);
                drop(shard);
                Ok(Some((stored.loaded()?, Some(expires_at))))
            }
            Some(_) => {
                drop(shard);
                // Removes the expired entry, as a plain load does.
                self.load(id, now).map(|_| None)
            }
            None => Ok(None),
        }
    }

    /// [`load`](Self::load), and under the same lock the touch express
    /// would make at the end of an unchanged request: `expires = now +
    /// originalMaxAge` (the idle lifetime for a browser-session cookie).
    /// One shard lock instead of two per unchanged request. A touch that
    /// would expire the record (a max age of zero or less) is left to the
    /// end of the request, and reported as not done.
    pub(super) fn load_and_touch(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<(LoadedRecord, bool)>, StoreError> {
        self.sweep_step_if_due(now);
        let idle = self.idle_lifetime_ms();
        let mut shard = lock(&self.shards[self.shard_index(id)]);
        let Some(entry) = shard.entries.get_mut(id) else {
            return Ok(None);
        };
        if entry.expires_at > now {
            let expires = entry
                .cookie
                .original_max_age
                // As `CookieData::touch`: a date JavaScript can hold.
                .map(|max_age| crate::clock::clamp_to_js_range(now.saturating_add(max_age)));
            let expires_at = expires.unwrap_or_else(|| now.saturating_add(idle));
            // The caller sees the record as it was stored, as with a
            // separate touch at the end (express shows the stored expiry
            // during the request).
            let stored = entry.stored();
            let touched = expires_at > now;
            if touched {
                entry.cookie.expires = expires;
                entry.expires_at = expires_at;
            }
            drop(shard);
            return Ok(Some((stored.loaded()?, touched)));
        }
        let expired = shard.entries.remove(id);
        drop(shard);
        self.forget(1);
        drop(expired);
        Ok(None)
    }

    pub(super) fn save(
        &self,
        id: &str,
        record: &Record,
        condition: SaveCondition,
        now: i64,
    ) -> SaveOutcome {
        self.sweep_step_if_due(now);
        let expires_at = self.expiry_of(record, now);
        if expires_at > now && self.count() >= self.max_sessions.load(Ordering::Relaxed) {
            self.sweep_if_due(now);
        }
        // Not needed when the save is refused or deletes, but written
        // unlocked: a conflict is the rare case.
        let data = encode_data(record);
        let index = self.shard_index(id);
        let mut shard = lock(&self.shards[index]);
        if let Some(slot) = shard.entries.get_mut(id) {
            let current = (slot.expires_at > now).then(|| Version::from_u64(slot.generation));
            if !condition.allows(current.as_ref()) {
                return SaveOutcome::Conflict;
            }
            let (generation, version) = self.next_version();
            let old = if expires_at > now {
                std::mem::replace(slot, Entry::new(record, data, expires_at, generation))
            } else {
                // connect-redis deletes instead of writing an expired record.
                let Some(removed) = shard.entries.remove(id) else {
                    return SaveOutcome::Saved(version);
                };
                self.forget(1);
                removed
            };
            drop(shard);
            // Freed after the shard is unlocked: a large record takes a while.
            drop(old);
            return SaveOutcome::Saved(version);
        }
        if !condition.allows(None) {
            return SaveOutcome::Conflict;
        }
        let (generation, version) = self.next_version();
        if expires_at <= now {
            return SaveOutcome::Saved(version);
        }
        let evicted = self.reserve_slot(&mut shard, index, now);
        shard
            .entries
            .insert(id.into(), Entry::new(record, data, expires_at, generation));
        drop(shard);
        drop(evicted);
        SaveOutcome::Saved(version)
    }

    pub(super) fn touch(&self, id: &str, record: &Record, now: i64) {
        self.sweep_step_if_due(now);
        let expires_at = self.expiry_of(record, now);
        let mut shard = lock(&self.shards[self.shard_index(id)]);
        let Some(entry) = shard.entries.get_mut(id) else {
            return;
        };
        // An expired session stays dead: touching must not revive it. And
        // a touch with a past expiry deletes, as Redis's EXPIRE with a TTL
        // <= 0 does.
        if entry.expires_at <= now || expires_at <= now {
            let removed = shard.entries.remove(id);
            drop(shard);
            self.forget(1);
            drop(removed);
            return;
        }
        // express's MemoryStore stores the session's cookie on touch; the
        // data stays as it is, and so does the version.
        entry.cookie = record.cookie.clone();
        entry.expires_at = expires_at;
    }

    pub(super) fn destroy(&self, id: &str) {
        let removed = lock(&self.shards[self.shard_index(id)]).entries.remove(id);
        if removed.is_some() {
            self.forget(1);
        }
    }

    /// Locks one shard, removes its expired entries and runs `f` on what
    /// is left. Returns how many were removed, and `f`'s result.
    fn with_swept_shard<R>(
        &self,
        index: usize,
        now: i64,
        f: impl FnOnce(&Entries) -> R,
    ) -> (usize, R) {
        let mut shard = lock(&self.shards[index]);
        let entries = &mut shard.entries;
        let before = entries.len();
        entries.retain(|_, entry| entry.expires_at > now);
        let removed = before - entries.len();
        // A hash table keeps its capacity when emptied. After a burst of
        // sessions (a crawler, say) has expired, give the memory back.
        if entries.capacity() >= SHRINK_MIN_CAPACITY && entries.len() < entries.capacity() / 4 {
            let keep = entries.len() * 2;
            entries.shrink_to(keep);
        }
        // A store no longer full has no use for the eviction queue, which
        // holds copies of keys (some maybe just removed): free it. A full
        // one keeps it; the entries it names that are gone are skipped.
        if !shard.victims.is_empty()
            && self.count().saturating_sub(removed) < self.max_sessions.load(Ordering::Relaxed)
        {
            shard.victims = Vec::new();
        }
        let out = f(&shard.entries);
        drop(shard);
        self.forget(removed);
        (removed, out)
    }

    /// Removes the expired entries of one shard; returns how many.
    pub(super) fn sweep_shard(&self, index: usize, now: i64) -> usize {
        if index >= self.shards.len() {
            return 0;
        }
        self.with_swept_shard(index, now, |_| ()).0
    }

    /// Removes every expired entry, one shard at a time.
    pub(super) fn sweep(&self, now: i64) -> usize {
        (0..self.shards.len())
            .map(|index| self.sweep_shard(index, now))
            .sum()
    }

    /// The sweeping that needs no task: called by every write (save, touch,
    /// and the touch in `load_and_touch`) before it locks its own shard. It
    /// costs one relaxed load and a few comparisons (about 8 instructions,
    /// measured with callgrind), except on the write that
    /// finds a step due, which sweeps one shard (the next in turn, so every
    /// shard is visited once per `AUTO_SWEEP_CYCLE_MS`, whichever shards
    /// the writes land on). A write never sweeps more than one shard, so
    /// its extra latency is bounded by the shard size, which the bound
    /// limits; spread over the writes, it is the store's size once per
    /// cycle.
    #[inline]
    fn sweep_step_if_due(&self, now: i64) {
        let due = self.auto_sweep.0.next_due_ms.load(Ordering::Relaxed);
        // Not due yet (or sweeping is off), and due within one step: a wall
        // clock set back, which moves `now` back, must not stop sweeping
        // until it has caught up again.
        if now < due
            && (due.saturating_sub(now) <= self.auto_sweep.0.step_ms || due == AUTO_SWEEP_OFF)
        {
            return;
        }
        self.sweep_step(due, now);
    }

    /// The rare part of [`sweep_step_if_due`](Self::sweep_step_if_due), out
    /// of line so that the check every write makes stays a few
    /// instructions.
    #[cold]
    #[inline(never)]
    fn sweep_step(&self, due: i64, now: i64) {
        let state = &self.auto_sweep.0;
        if state
            .next_due_ms
            .compare_exchange(
                due,
                now.saturating_add(state.step_ms),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_err()
        {
            // Another write took this step (or sweeping was turned off).
            return;
        }
        let index = state.cursor.fetch_add(1, Ordering::Relaxed) & (self.shards.len() - 1);
        let removed = self.sweep_shard(index, now);
        if removed > 0 {
            tracing::trace!(
                removed,
                shard = index,
                "memory_store.sweep: a write swept one shard of expired sessions"
            );
        }
    }

    /// When full, sweep every shard first, but at most once a second.
    fn sweep_if_due(&self, now: i64) {
        let last = self.last_full_sweep_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < FULL_SWEEP_EVERY_MS {
            return;
        }
        if self
            .last_full_sweep_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            // Another save is sweeping already.
            return;
        }
        let removed = self.sweep(now);
        tracing::debug!(
            removed,
            remaining = self.count(),
            "memory_store.sweep: store full, removed expired sessions"
        );
    }

    /// Live records, with their IDs. Expired entries met on the way are
    /// removed, as express's MemoryStore does in `all`.
    pub(super) fn all(&self, now: i64) -> Result<Vec<(String, Record)>, StoreError> {
        let mut out = Vec::new();
        for index in 0..self.shards.len() {
            let (_, listed) = self.with_swept_shard(index, now, |shard| {
                shard
                    .iter()
                    .map(|(id, entry)| (id.to_string(), entry.stored()))
                    .collect::<Vec<_>>()
            });
            for (id, stored) in listed {
                out.push((id, stored.record()?));
            }
        }
        Ok(out)
    }

    /// The number of live records; expired entries are removed on the way.
    pub(super) fn live_len(&self, now: i64) -> usize {
        (0..self.shards.len())
            .map(|index| self.with_swept_shard(index, now, |shard| shard.len()).1)
            .sum()
    }

    pub(super) fn clear(&self) {
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let old = std::mem::take(&mut *shard);
            drop(shard);
            self.forget(old.entries.len());
            drop(old);
        }
    }

    /// Every `expires_at` held, expired entries included (tests only).
    #[cfg(test)]
    pub(super) fn expiries(&self) -> Vec<i64> {
        self.shards
            .iter()
            .flat_map(|shard| {
                lock(shard)
                    .entries
                    .values()
                    .map(|entry| entry.expires_at)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}
