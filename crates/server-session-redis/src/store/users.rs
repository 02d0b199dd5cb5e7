//! The per-user index behind
//! [`UserSessions`](server_session::UserSessions): one sorted set per user,
//! `<prefix>user:<user>`, whose members are session IDs scored by the time
//! (ms since the epoch) they were indexed.
//!
//! The set and the sessions it names live in different hash slots of a
//! cluster, so nothing here is atomic across them, and nothing needs to be:
//! the index may hold stale entries, it must only never miss a live
//! session. So the entry is added before the session is saved (the layer
//! calls [`Store::index_user`](server_session::Store::index_user) first),
//! and an entry is dropped only once the session it names is seen gone *and*
//! the entry is older than [`INDEX_GRACE_MS`]: a session whose sign-in is
//! still between its `index_user` and its save is missing too, and must
//! keep its entry. Every command names one key (the set, or one session),
//! so a cluster routes each by its own key and no command crosses slots.
//!
//! The user path plays no part in the key: one index per user, whatever
//! path the layer reads them at (`unindex_user` names none).
//!
//! The set has no TTL: a rolling session's TTL moves at every request and
//! the index is not told (that would cost every request a write), so any
//! TTL on the set could run out while a session it names lives on.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::LazyLock;

use redis::{Cmd, Script};
use server_session::store::{now_ms, LoadedRecord, Record, StoreError, UserPath};

use super::{version_of, RedisStore, KEYS_PER_BATCH};
use crate::connection::evalsha;

/// What follows the prefix in an index key: `sess:user:<user>`. Session
/// IDs made by express-session (uid-safe) and by this crate are base64url,
/// which has no `:`, so no session key can be an index key.
const USER_INFIX: &str = "user:";

/// How long an entry is kept, after it was added, even though its session
/// is missing: longer than any sign-in takes from its `index_user` to its
/// save. Dead entries cost only this much longer in the set.
pub(super) const INDEX_GRACE_MS: i64 = 60 * 60 * 1000;

/// The smallest index a sign-in prunes. A sign-in that grows an index to a
/// power of two at least this large checks it for dead entries, in the
/// background, so an index never grows past about twice its live (or
/// recent) entries, at an amortised few `EXISTS` per sign-in.
const PRUNE_FROM: u64 = 64;

/// Adds a session to a user's index.
///
/// `KEYS[1]` is the index; `ARGV[1]` the score (now, in ms), `ARGV[2]` the
/// session ID. A plain `ZADD`, so that re-indexing an ID renews its grace.
/// Returns `{added, entries}`: whether the ID is new there, and how many
/// entries the index holds now.
static INDEX_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local added = redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
return {added, redis.call('ZCARD', KEYS[1])}
",
    )
});

/// Drops entries whose session is gone, if they are still older than the
/// cutoff.
///
/// `KEYS[1]` is the index; `ARGV[1]` the cutoff (ms), the rest session IDs.
/// An ID indexed again since its session was found missing has a score past
/// the cutoff and stays. Returns how many entries it dropped.
static DROP_IF_OLD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local dropped = 0
local cutoff = tonumber(ARGV[1])
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) < cutoff then
    dropped = dropped + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return dropped
",
    )
});

impl RedisStore {
    /// The Redis key of `user`'s session index: prefix + `user:` + the user
    /// ID as it is (`sess:user:42`). Redis keys are binary-safe and the
    /// prefix is fixed, so every user has their own key whatever characters
    /// the ID holds (`:`, `*`, spaces, braces, any Unicode); the key is never
    /// used as a SCAN pattern. A `{…}` in the ID only chooses the set's hash
    /// slot on a cluster. See the [crate docs](crate#per-user-index).
    pub fn user_key(&self, user: &str) -> String {
        format!("{}{USER_INFIX}{user}", self.prefix)
    }

    /// Whether `key` is one of this store's index keys, not a session's.
    pub(super) fn is_user_key(&self, key: &[u8]) -> bool {
        key.strip_prefix(self.prefix.as_bytes())
            .is_some_and(|rest| rest.starts_with(USER_INFIX.as_bytes()))
    }

    /// Indexes, under the user each holds at `user_path`, every session
    /// stored now: for sessions that no sign-in of this store indexed, such
    /// as those Node's express-session (with connect-redis, which keeps no
    /// index) signed in. Returns how many entries it added; sessions
    /// already indexed are not counted, so a second run answers 0 unless
    /// new sessions came meanwhile.
    ///
    /// **An admin or migration job**, not for a request: it SCANs every key
    /// under the prefix (on every master of a cluster) and reads every
    /// session, a page of [`scan_count`](Self::scan_count) keys at a time.
    /// Each page is one store call, under the call timeout; the job as a
    /// whole is not. Run it once when Rust servers start sharing a store
    /// with Node ones; from then on, Node's saves index their sessions
    /// through `interop/node/user-index.js`.
    /// A session that cannot be read as a record is skipped (and logged,
    /// without its ID).
    ///
    /// # Errors
    ///
    /// The first store error; what was indexed by then stays indexed, and a
    /// new run starts over.
    pub async fn index_existing_sessions(&self, user_path: &UserPath) -> Result<usize, StoreError> {
        self.sum_over_scan(&self.scan_pattern(), |keys| async move {
            let keys: Vec<Vec<u8>> = keys
                .into_iter()
                .filter(|key| key.starts_with(self.prefix.as_bytes()) && !self.is_user_key(key))
                .collect();
            let mut added = 0;
            for batch in keys.chunks(KEYS_PER_BATCH) {
                added += self.index_batch(user_path, batch).await?;
            }
            Ok(added)
        })
        .await
    }

    /// Drops, from every user's index, the entries whose session is gone
    /// (and that are older than an hour, see the [crate
    /// docs](crate#per-user-index)). Returns how many it dropped.
    ///
    /// Listing a user's sessions, and a sign-in that grows an index past
    /// 64, 128, … entries, drop that user's dead entries already; this is
    /// for the users who never come back, whose index would otherwise keep
    /// their dead entries (a few dozen bytes each). **An admin job**: it
    /// SCANs the index keys (`<prefix>user:*`, on every master of a
    /// cluster), each page one store call under the call timeout.
    ///
    /// # Errors
    ///
    /// The first store error; what was dropped by then stays dropped.
    pub async fn prune_user_indexes(&self) -> Result<usize, StoreError> {
        let mut pattern = self.scan_pattern();
        pattern.pop(); // the trailing `*`
        pattern.extend_from_slice(USER_INFIX.as_bytes());
        pattern.push(b'*');
        self.sum_over_scan(&pattern, |keys| async move {
            let mut dropped = 0;
            for key in keys.iter().filter(|key| self.is_user_key(key)) {
                dropped += self.drop_dead_entries(key).await?;
            }
            Ok(dropped)
        })
        .await
    }

    /// SCANs `pattern` on every master, a page at a time, and adds up what
    /// `per_page` answers for each page's keys; the first error ends it.
    async fn sum_over_scan<F, Fut>(
        &self,
        pattern: &[u8],
        mut per_page: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(Vec<Vec<u8>>) -> Fut,
        Fut: Future<Output = Result<usize, StoreError>>,
    {
        let mut total = 0;
        for node in self
            .call(|mut conn| async move { conn.scan_nodes().await })
            .await?
        {
            let mut cursor = 0;
            loop {
                let (next, keys) = self.scan_page(node, cursor, pattern).await?;
                total += per_page(keys).await?;
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(total)
    }

    /// One page of a SCAN of `node`, under the call timeout.
    async fn scan_page(
        &self,
        node: Option<u16>,
        cursor: u64,
        pattern: &[u8],
    ) -> Result<(u64, Vec<Vec<u8>>), StoreError> {
        let count = self.scan_count;
        self.call(|mut conn| async move { conn.scan_page(node, cursor, pattern, count).await })
            .await
    }

    /// Indexes the sessions of `keys` (session keys) that hold a user;
    /// how many entries that added.
    async fn index_batch(
        &self,
        user_path: &UserPath,
        keys: &[Vec<u8>],
    ) -> Result<usize, StoreError> {
        let mut mget = redis::cmd("MGET");
        mget.arg(keys);
        let values: Vec<Option<Vec<u8>>> = self.query(&mget).await?;
        let mut by_user: BTreeMap<String, Vec<&[u8]>> = BTreeMap::new();
        for (key, value) in keys.iter().zip(values) {
            // Gone since the SCAN.
            let Some(bytes) = value else { continue };
            let Ok(record) = Record::from_json(&bytes) else {
                tracing::warn!(
                    "index_existing_sessions: skipping a stored value that is not a session record"
                );
                continue;
            };
            if let Some(user) = user_path.user_in(record.data()) {
                let id = &key[self.prefix.len()..];
                by_user.entry(user).or_default().push(id);
            }
        }
        let score = now_ms();
        let adds: Vec<Cmd> = by_user
            .iter()
            .map(|(user, ids)| {
                // NX: an entry a sign-in made keeps its score.
                let mut cmd = redis::cmd("ZADD");
                cmd.arg(self.user_key(user)).arg("NX");
                for id in ids {
                    cmd.arg(score).arg(*id);
                }
                cmd
            })
            .collect();
        let added: Vec<usize> = self.query_each(&adds).await?;
        Ok(added.into_iter().sum())
    }

    /// [`Store::index_user`](server_session::Store::index_user): one call,
    /// the `INDEX_USER` script on the index's own key (with `WAIT` when
    /// [durability](Self::with_durability) is on, so that a failover cannot
    /// lose the entry of a session it keeps).
    pub(super) async fn index_user_now(&self, user: &str, id: &str) -> Result<(), StoreError> {
        let key = self.user_key(user);
        let mut cmd = evalsha(&INDEX_USER, &key);
        cmd.arg(now_ms()).arg(id);
        let (added, entries): (i64, u64) =
            self.write(&cmd, Some(&INDEX_USER)).await?.replicated()?;
        if added == 1 && entries >= PRUNE_FROM && entries.is_power_of_two() {
            self.prune_in_background(key);
        }
        Ok(())
    }

    /// Drops the dead entries of the index `key` in a task of its own, so
    /// that the sign-in that found the index grown waits for nothing more.
    fn prune_in_background(&self, key: String) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.clone();
        runtime.spawn(async move {
            match store.drop_dead_entries(key.as_bytes()).await {
                Ok(dropped) => {
                    tracing::debug!(dropped, "session.user_index: pruned a user's index")
                }
                Err(error) => tracing::debug!(
                    error = &error as &dyn std::error::Error,
                    "session.user_index: pruning a user's index failed; the next growth retries"
                ),
            }
        });
    }

    /// Drops the entries of the index `key` that are older than the grace
    /// and whose session is gone; how many it dropped.
    async fn drop_dead_entries(&self, key: &[u8]) -> Result<usize, StoreError> {
        let cutoff = now_ms().saturating_sub(INDEX_GRACE_MS);
        let mut old = redis::cmd("ZRANGEBYSCORE");
        old.arg(key).arg("-inf").arg(format!("({cutoff}"));
        let old: Vec<Vec<u8>> = self.query(&old).await?;
        let mut dropped = 0;
        for batch in old.chunks(KEYS_PER_BATCH) {
            let checks: Vec<Cmd> = batch
                .iter()
                .map(|id| {
                    let mut cmd = redis::cmd("EXISTS");
                    cmd.arg([self.prefix.as_bytes(), id].concat());
                    cmd
                })
                .collect();
            let exists: Vec<i64> = self.query_each(&checks).await?;
            let gone: Vec<&[u8]> = batch
                .iter()
                .zip(exists)
                .filter(|(_, exists)| *exists == 0)
                .map(|(id, _)| id.as_slice())
                .collect();
            dropped += self.drop_if_old(key, &gone, cutoff).await?;
        }
        Ok(dropped)
    }

    /// Runs `DROP_IF_OLD` for `ids` on the index `key`.
    async fn drop_if_old<I: redis::ToRedisArgs>(
        &self,
        key: &[u8],
        ids: &[I],
        cutoff: i64,
    ) -> Result<usize, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(DROP_IF_OLD.get_hash())
            .arg(1)
            .arg(key)
            .arg(cutoff)
            .arg(ids);
        self.call(|mut conn| {
            let cmd = &cmd;
            async move { conn.eval(&DROP_IF_OLD, cmd).await }
        })
        .await
    }

    /// [`Store::user_sessions`](server_session::Store::user_sessions): the
    /// index's members (`ZRANGE`, on the index's node), then their sessions
    /// (`MGET`, which a cluster client splits by slot and sends to each
    /// slot's node): two round trips, touching only this user's keys.
    /// Entries whose session is gone and that are past the grace are
    /// dropped on the way (one more call, only when there are some).
    pub(super) async fn user_sessions_now(
        &self,
        user: &str,
    ) -> Result<Vec<(String, LoadedRecord)>, StoreError> {
        let key = self.user_key(user);
        let mut members = redis::cmd("ZRANGE");
        members.arg(&key).arg(0).arg(-1).arg("WITHSCORES");
        let entries: Vec<(Vec<u8>, f64)> = self.query(&members).await?;
        let cutoff = now_ms().saturating_sub(INDEX_GRACE_MS);
        let mut found = Vec::with_capacity(entries.len());
        let mut dead = Vec::new();
        for batch in entries.chunks(KEYS_PER_BATCH) {
            let mut mget = redis::cmd("MGET");
            for (id, _) in batch {
                mget.arg([self.prefix.as_bytes(), id].concat());
            }
            let values: Vec<Option<Vec<u8>>> = self.query(&mget).await?;
            for ((id, score), value) in batch.iter().zip(values) {
                let Some(bytes) = value else {
                    // Scores are whole milliseconds, exact in an f64.
                    if *score < cutoff as f64 {
                        dead.push(id.as_slice());
                    }
                    continue;
                };
                let Ok(id) = std::str::from_utf8(id) else {
                    // Not an ID this crate or express wrote.
                    continue;
                };
                match Record::from_json(&bytes) {
                    Ok(record) => {
                        found.push((id.to_owned(), LoadedRecord::new(record, version_of(&bytes))))
                    }
                    // One unreadable session must not hide the others from
                    // the user who wants to revoke them; `load` reports it.
                    Err(_) => tracing::warn!(
                        "user_sessions: skipping a session whose stored value is not a record"
                    ),
                }
            }
        }
        self.drop_if_old(key.as_bytes(), &dead, cutoff).await?;
        Ok(found)
    }

    /// [`Store::unindex_user`](server_session::Store::unindex_user): `ZREM`
    /// on the index's own key. The caller found these entries stale by
    /// reading their sessions, so they go at once, without the grace.
    pub(super) async fn unindex_user_now(
        &self,
        user: &str,
        ids: &[String],
    ) -> Result<(), StoreError> {
        let key = self.user_key(user);
        for batch in ids.chunks(KEYS_PER_BATCH) {
            let mut cmd = redis::cmd("ZREM");
            cmd.arg(&key).arg(batch);
            self.query::<i64>(&cmd).await?;
        }
        Ok(())
    }
}
