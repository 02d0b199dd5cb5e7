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

use rand::Rng;
use tokio::sync::watch;

use serde_json::Map;

use crate::store::{
    CookieData, LoadedRecord, Record, SaveCondition, SaveOutcome, StoreError, Version,
};

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
/// A shard at least this large picks eviction victims from its own
/// entries, exactly; a smaller one is too small a sample of the store, so
/// victims are sampled across shards instead.
const BATCH_EVICTION_MIN_SHARD_LEN: usize = 64;
/// A shard that must evict live sessions picks this fraction (1/n) of its
/// entries at once, the soonest to expire, and evicts them one per insert:
/// the scan that finds them costs O(shard), so it is shared by the next
/// inserts that need room there.
const EVICTION_BATCH_DIVISOR: usize = 32;
/// Evicting live sessions is logged as a warning at most this often.
const EVICTION_WARN_EVERY_MS: i64 = 60_000;
/// Entries looked at per shard when the bound forces an eviction from
/// small shards. Redis samples five keys for its approximated LRU; a few
/// more cost little here because a shard is a plain in-process map.
const EVICTION_SAMPLE: usize = 8;
/// How far into a shard the sample may start. A random start makes repeated
/// samples differ; the cap keeps skipping cheap in very large shards.
const EVICTION_MAX_SKIP: usize = 256;
/// Other shards sampled per eviction besides the one being written.
const EVICTION_OTHER_SHARDS: usize = 2;
/// Evictions tried per insert before the insert goes over the bound.
const EVICTION_ATTEMPTS: usize = 4;
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
/// the eviction sampling read `expires_at` in place instead.
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
            serde_json::from_str(&self.data).map_err(|error| StoreError::Corrupt {
                reason: error.to_string(),
                source: Some(Box::new(error)),
            })?
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

/// An entry chosen for eviction, and its expiry when chosen. If its expiry
/// has moved since (its user is active) or it is gone, it is skipped.
struct Victim {
    key: Box<str>,
    expires_at: i64,
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

/// What one look at a shard found for the eviction.
struct Sample {
    /// Expired entries, removed already.
    removed: Vec<Entry>,
    /// The live entry closest to expiry among those sampled.
    closest: Option<(i64, Box<str>)>,
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

    /// Counts the new entry about to go into `own` (shard `own_index`,
    /// locked by the caller) against the bound, evicting to make room.
    /// Returns the evicted entries, so they are freed after unlocking.
    fn reserve_slot(&self, own: &mut Shard, own_index: usize, now: i64) -> Vec<Entry> {
        let mut evicted = Vec::new();
        let max = self.max_sessions.load(Ordering::Relaxed);
        if max == usize::MAX {
            self.count.fetch_add(1, Ordering::Relaxed);
            return evicted;
        }
        let mut attempts = 0;
        loop {
            let current = self.count.load(Ordering::Relaxed);
            if current < max {
                if self
                    .count
                    .compare_exchange_weak(
                        current,
                        current + 1,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    return evicted;
                }
                continue;
            }
            attempts += 1;
            if attempts > EVICTION_ATTEMPTS {
                // Nothing could be evicted (every other shard busy or empty,
                // and this one empty). A save never fails because of the
                // bound, so go over it; the next insert evicts again.
                self.count.fetch_add(1, Ordering::Relaxed);
                return evicted;
            }
            let before = evicted.len();
            self.evict(own, own_index, now, &mut evicted);
            self.forget(evicted.len() - before);
        }
    }

    /// Evicts at least one entry if it can.
    ///
    /// A shard of `BATCH_EVICTION_MIN_SHARD_LEN` entries or more evicts from
    /// itself, exactly: see [`Shard::evict_one`]. Such a shard holds a
    /// random part of the store (the hasher is seeded per store), so its
    /// soonest to expire are the store's, give or take. Smaller shards say
    /// too little about the store, so victims are sampled across shards:
    /// the expired entries of a few sampled windows, or else the sampled
    /// live entry closest to expiry.
    ///
    /// The sampling approximates "evict the entries closest to expiry" the way
    /// Redis approximates LRU: it looks at `EVICTION_SAMPLE` entries from a
    /// random point of this shard and of `EVICTION_OTHER_SHARDS` random
    /// others, instead of keeping an expiry index that would cost memory on
    /// every session. Other shards are only `try_lock`ed (we already hold
    /// `own`), so two evicting saves can never deadlock.
    fn evict(&self, own: &mut Shard, own_index: usize, now: i64, evicted: &mut Vec<Entry>) {
        if own.entries.len() >= BATCH_EVICTION_MIN_SHARD_LEN {
            let before = evicted.len();
            if own.evict_one(now, evicted) {
                self.warn_live_eviction(now);
            }
            if evicted.len() > before {
                return;
            }
        }
        let mut rng = rand::rng();
        let found = sample(&mut own.entries, now, &mut rng);
        if !found.removed.is_empty() {
            evicted.extend(found.removed);
            return;
        }
        // The best candidate so far: its expiry, key, and whose shard.
        let mut best: Option<(i64, Box<str>, Option<MutexGuard<'_, Shard>>)> = found
            .closest
            .map(|(expires_at, key)| (expires_at, key, None));
        // Walk from a random shard to the next non-empty ones, so that a
        // sparse store (fewer records than shards) still finds a victim.
        let shard_count = self.shards.len();
        let start = rng.random_range(0..shard_count);
        let mut sampled = 0;
        for offset in 0..shard_count {
            if sampled == EVICTION_OTHER_SHARDS {
                break;
            }
            let index = (start + offset) & (shard_count - 1);
            if index == own_index {
                continue;
            }
            let Some(mut other) = try_lock(&self.shards[index]) else {
                continue;
            };
            if other.entries.is_empty() {
                continue;
            }
            sampled += 1;
            let found = sample(&mut other.entries, now, &mut rng);
            if !found.removed.is_empty() {
                evicted.extend(found.removed);
                return;
            }
            if let Some((expires_at, key)) = found.closest {
                if best
                    .as_ref()
                    .map_or(true, |(best_at, _, _)| expires_at < *best_at)
                {
                    best = Some((expires_at, key, Some(other)));
                }
            }
        }
        let Some((_, key, guard)) = best else {
            return;
        };
        let victim = match guard {
            Some(mut other) => other.entries.remove(&key),
            None => own.entries.remove(&key),
        };
        if let Some(victim) = victim {
            self.warn_live_eviction(now);
            evicted.push(victim);
        }
    }

    /// Evicting live sessions logs users out, so say so (at most once a
    /// minute): the operator should raise the bound or move to a shared
    /// store, or learn that someone is creating sessions in bulk.
    fn warn_live_eviction(&self, now: i64) {
        tracing::trace!(
            "memory_store.evict: store full, evicted the live session closest to expiry"
        );
        let last = self.last_eviction_warning_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < EVICTION_WARN_EVERY_MS
            || self
                .last_eviction_warning_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        tracing::warn!(
            max_sessions = self.max_sessions.load(Ordering::Relaxed),
            "memory_store: store full, evicting live sessions (those closest to expiry); \
             raise `MemoryStore::with_max_sessions`, or look for a client creating sessions in bulk"
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

impl Shard {
    /// Makes room for one entry in a large shard, exactly rather than by
    /// sampling, and reports whether it evicted a live entry.
    ///
    /// The shard removes the entry at the head of its eviction queue,
    /// skipping those touched (or saved with a new expiry) or removed since
    /// they were queued: an active user is no victim. A save that keeps
    /// the expiry keeps its place: the entry is still among the soonest to
    /// expire. With the queue empty, one pass over the
    /// shard: if it holds expired entries it removes them all (and evicts
    /// nothing live); otherwise it queues its `1/EVICTION_BATCH_DIVISOR`
    /// live entries that expire soonest (ties broken arbitrarily). So each
    /// insert into a full store costs O(divisor) amortised, and evicts from
    /// its own shard, which keeps the shards' sizes even and the victims the
    /// soonest to expire of a shard holding a random part of the store.
    /// Removed entries go to `evicted`, to be freed after unlocking.
    fn evict_one(&mut self, now: i64, evicted: &mut Vec<Entry>) -> bool {
        let mut refilled = false;
        loop {
            while let Some(victim) = self.victims.pop() {
                let unchanged = self
                    .entries
                    .get(&victim.key)
                    .is_some_and(|entry| entry.expires_at == victim.expires_at);
                if let Some(entry) = unchanged
                    .then(|| self.entries.remove(&victim.key))
                    .flatten()
                {
                    evicted.push(entry);
                    return victim.expires_at > now;
                }
            }
            if refilled || self.entries.is_empty() {
                return false;
            }
            refilled = true;
            let mut expiries: Vec<i64> = self
                .entries
                .values()
                .map(|entry| entry.expires_at)
                .collect();
            if expiries.iter().any(|&at| at <= now) {
                let expired: Vec<Box<str>> = self
                    .entries
                    .iter()
                    .filter(|(_, entry)| entry.expires_at <= now)
                    .map(|(key, _)| key.clone())
                    .collect();
                evicted.extend(expired.iter().filter_map(|key| self.entries.remove(key)));
                return false;
            }
            // The position of the batch's last victim in expiry order.
            let last = (expiries.len() / EVICTION_BATCH_DIVISOR).max(1) - 1;
            let (below, &mut threshold, _) = expiries.select_nth_unstable(last);
            // Entries at the threshold itself are queued only up to the
            // batch size, so that many equal expiries (one cookie setting,
            // one instant) do not make the batch the whole shard.
            let mut at_threshold = last + 1 - below.iter().filter(|&&at| at < threshold).count();
            let mut victims: Vec<Victim> = self
                .entries
                .iter()
                .filter(|(_, entry)| {
                    if entry.expires_at < threshold {
                        return true;
                    }
                    let take = entry.expires_at == threshold && at_threshold > 0;
                    at_threshold -= usize::from(take);
                    take
                })
                .map(|(key, entry)| Victim {
                    key: key.clone(),
                    expires_at: entry.expires_at,
                })
                .collect();
            // Popped from the end: the soonest to expire first.
            victims.sort_unstable_by_key(|victim| std::cmp::Reverse(victim.expires_at));
            self.victims = victims;
        }
    }
}

/// Looks at up to `EVICTION_SAMPLE` entries of `shard` from a random point,
/// removes the expired ones among them, and names the live one closest to
/// expiry.
fn sample(shard: &mut Entries, now: i64, rng: &mut impl Rng) -> Sample {
    let len = shard.len();
    let mut expired = Vec::new();
    let mut closest: Option<(i64, &str)> = None;
    if len == 0 {
        return Sample {
            removed: Vec::new(),
            closest: None,
        };
    }
    let skip = if len > EVICTION_SAMPLE {
        rng.random_range(0..len.min(EVICTION_MAX_SKIP))
    } else {
        0
    };
    // Chained with itself so a window that starts near the end wraps around.
    for (key, entry) in shard
        .iter()
        .chain(shard.iter())
        .skip(skip)
        .take(EVICTION_SAMPLE.min(len))
    {
        if entry.expires_at <= now {
            expired.push(Box::<str>::from(&**key));
        } else if closest.map_or(true, |(at, _)| entry.expires_at < at) {
            closest = Some((entry.expires_at, key));
        }
    }
    let closest = closest.map(|(at, key)| (at, Box::<str>::from(key)));
    let removed = expired.iter().filter_map(|key| shard.remove(key)).collect();
    Sample { removed, closest }
}
