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

/// Entries looked at per shard when the bound forces an eviction. Redis
/// samples five keys for its approximated LRU; a few more cost little here
/// because a shard is a plain in-process map.
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

type Shard = HashMap<Box<str>, Entry, RandomState>;

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
    /// Never sent on. Dropping it with the last store clone wakes every
    /// sweeper task, which then ends instead of waiting for its next tick.
    closed: watch::Sender<()>,
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
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            hasher: RandomState::default(),
            generation: AtomicU64::new(0),
            count: AtomicUsize::new(0),
            idle_lifetime_ms: AtomicI64::new(idle_lifetime_ms),
            max_sessions: AtomicUsize::new(usize::MAX),
            last_full_sweep_ms: AtomicI64::new(i64::MIN),
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
        let Some(entry) = shard.get(id) else {
            return Ok(None);
        };
        if entry.expires_at > now {
            let stored = entry.stored();
            drop(shard);
            return stored.loaded().map(Some);
        }
        let expired = shard.remove(id);
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
        let idle = self.idle_lifetime_ms();
        let mut shard = lock(&self.shards[self.shard_index(id)]);
        let Some(entry) = shard.get_mut(id) else {
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
        let expired = shard.remove(id);
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
        let expires_at = self.expiry_of(record, now);
        if expires_at > now && self.count() >= self.max_sessions.load(Ordering::Relaxed) {
            self.sweep_if_due(now);
        }
        // Not needed when the save is refused or deletes, but written
        // unlocked: a conflict is the rare case.
        let data = encode_data(record);
        let index = self.shard_index(id);
        let mut shard = lock(&self.shards[index]);
        if let Some(slot) = shard.get_mut(id) {
            let current = (slot.expires_at > now).then(|| Version::from_u64(slot.generation));
            if !condition.allows(current.as_ref()) {
                return SaveOutcome::Conflict;
            }
            let (generation, version) = self.next_version();
            let old = if expires_at > now {
                std::mem::replace(slot, Entry::new(record, data, expires_at, generation))
            } else {
                // connect-redis deletes instead of writing an expired record.
                let Some(removed) = shard.remove(id) else {
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
        shard.insert(id.into(), Entry::new(record, data, expires_at, generation));
        drop(shard);
        drop(evicted);
        SaveOutcome::Saved(version)
    }

    pub(super) fn touch(&self, id: &str, record: &Record, now: i64) {
        let expires_at = self.expiry_of(record, now);
        let mut shard = lock(&self.shards[self.shard_index(id)]);
        let Some(entry) = shard.get_mut(id) else {
            return;
        };
        // An expired session stays dead: touching must not revive it. And
        // a touch with a past expiry deletes, as Redis's EXPIRE with a TTL
        // <= 0 does.
        if entry.expires_at <= now || expires_at <= now {
            let removed = shard.remove(id);
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
        let removed = lock(&self.shards[self.shard_index(id)]).remove(id);
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
        f: impl FnOnce(&Shard) -> R,
    ) -> (usize, R) {
        let mut shard = lock(&self.shards[index]);
        let before = shard.len();
        shard.retain(|_, entry| entry.expires_at > now);
        let removed = before - shard.len();
        // A hash table keeps its capacity when emptied. After a burst of
        // sessions (a crawler, say) has expired, give the memory back.
        if shard.capacity() >= SHRINK_MIN_CAPACITY && shard.len() < shard.capacity() / 4 {
            let keep = shard.len() * 2;
            shard.shrink_to(keep);
        }
        let out = f(&shard);
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

    /// Evicts at least one entry if it can: the expired entries of a few
    /// sampled windows, or else the sampled live entry closest to expiry.
    ///
    /// This approximates "evict the entries closest to expiry" the way
    /// Redis approximates LRU: it looks at `EVICTION_SAMPLE` entries from a
    /// random point of this shard and of `EVICTION_OTHER_SHARDS` random
    /// others, instead of keeping an expiry index that would cost memory on
    /// every session. Other shards are only `try_lock`ed (we already hold
    /// `own`), so two evicting saves can never deadlock.
    fn evict(&self, own: &mut Shard, own_index: usize, now: i64, evicted: &mut Vec<Entry>) {
        let mut rng = rand::rng();
        let found = sample(own, now, &mut rng);
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
            if other.is_empty() {
                continue;
            }
            sampled += 1;
            let found = sample(&mut other, now, &mut rng);
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
            Some(mut other) => other.remove(&key),
            None => own.remove(&key),
        };
        if let Some(victim) = victim {
            tracing::trace!(
                "memory_store.evict: store full, evicted the session closest to expiry"
            );
            evicted.push(victim);
        }
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
            self.forget(old.len());
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
                    .values()
                    .map(|entry| entry.expires_at)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// Looks at up to `EVICTION_SAMPLE` entries of `shard` from a random point,
/// removes the expired ones among them, and names the live one closest to
/// expiry.
fn sample(shard: &mut Shard, now: i64, rng: &mut impl Rng) -> Sample {
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
