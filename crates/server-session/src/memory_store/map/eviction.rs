//! What a full store does to make room: the eviction half of the map in
//! [`super`], kept apart so that each file reads as one concern.

use std::sync::atomic::Ordering;
use std::sync::MutexGuard;

use rand::Rng;

use super::{try_lock, Entries, Entry, Sessions, Shard};

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

/// An entry chosen for eviction, and its expiry when chosen. If its expiry
/// has moved since (its user is active) or it is gone, it is skipped.
pub(super) struct Victim {
    key: Box<str>,
    expires_at: i64,
}

/// What one look at a shard found for the eviction.
struct Sample {
    /// Expired entries, removed already.
    removed: Vec<Entry>,
    /// The live entry closest to expiry among those sampled.
    closest: Option<(i64, Box<str>)>,
}

impl Sessions {
    /// Counts the new entry about to go into `own` (shard `own_index`,
    /// locked by the caller) against the bound, evicting to make room.
    /// Returns the evicted entries, so they are freed after unlocking.
    pub(super) fn reserve_slot(&self, own: &mut Shard, own_index: usize, now: i64) -> Vec<Entry> {
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
