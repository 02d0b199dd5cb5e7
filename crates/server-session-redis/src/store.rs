//! [`RedisStore`]: the options, and the [`Store`] implementation.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::{Script, Value};
use server_session::store::{
    expiry, now_ms, LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreError,
    StoreFuture, UserPath, Version,
};
use sha1::{Digest, Sha1};
use tokio::sync::OnceCell;

use crate::connection::{evalsha, Conn, Target};
use crate::durability::Durability;
use crate::error::map_redis_error;

mod connect;
mod durable;
mod load_and_touch;
mod load_with_expiry;
mod users;

use load_and_touch::TouchState;

/// connect-redis's default key prefix.
const DEFAULT_PREFIX: &str = "sess:";
/// connect-redis's default TTL for records without `cookie.expires`: a day.
const DEFAULT_TTL_SECS: u64 = 86_400;
/// The default budget of one store call.
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// connect-redis's default `scanCount`.
const DEFAULT_SCAN_COUNT: usize = 100;
/// How many keys one MGET or DEL of a listing call carries, so that a large
/// store does not turn into one huge command.
const KEYS_PER_BATCH: usize = 100;

/// The compare-and-set save, run atomically on the server.
///
/// `KEYS[1]` is the session key; `ARGV` is the expected SHA-1 (lowercase
/// hex) of the stored value, the new value, the write mode (`ex`: SET with
/// EX, `keep`: plain SET as with `disableTTL`, `del`: the record has expired
/// and is deleted) and the TTL in seconds. Returns 1 when it wrote, 0 on a
/// conflict. A missing key is a conflict, so a save never resurrects a
/// session destroyed meanwhile. Redis 7's Lua has `redis.sha1hex` but no
/// SHA-256, which is why this store's versions are SHA-1 digests.
static COMPARE_AND_SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = redis.call('GET', KEYS[1])
if not current or redis.sha1hex(current) ~= ARGV[1] then
  return 0
end
if ARGV[3] == 'del' then
  redis.call('DEL', KEYS[1])
elseif ARGV[3] == 'keep' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[4])
end
return 1
",
    )
});

/// A session store on Redis or Redis Cluster, in connect-redis's layout.
///
/// See the [crate docs](crate) for the layout, the options and an example.
/// Cloning is cheap: clones share the connection.
#[derive(Clone)]
pub struct RedisStore {
    /// Shared by clones so they share one connection. The connection is
    /// opened by the first call (or [`RedisStore::ping`]) inside that call's
    /// timeout, so building a store never blocks and a store whose Redis is
    /// down fails its calls quickly instead of hanging at start-up.
    shared: Arc<Shared>,
    prefix: String,
    default_ttl_secs: i64,
    disable_touch: bool,
    disable_ttl: bool,
    call_timeout: Duration,
    scan_count: usize,
    /// `None` when off (the default), never `Some` of zero replicas.
    durability: Option<Durability>,
}

struct Shared {
    target: Target,
    conn: OnceCell<Conn>,
    touch: TouchState,
}

impl RedisStore {
    fn with_target(target: Target) -> Self {
        Self {
            shared: Arc::new(Shared {
                target,
                conn: OnceCell::new(),
                touch: TouchState::default(),
            }),
            prefix: DEFAULT_PREFIX.to_owned(),
            default_ttl_secs: ttl_secs_i64(DEFAULT_TTL_SECS),
            disable_touch: false,
            disable_ttl: false,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            scan_count: DEFAULT_SCAN_COUNT,
            durability: None,
        }
    }

    /// The key prefix (connect-redis's `prefix`, default `"sess:"`; `""` is
    /// allowed). It is added on top of anything the server itself prefixes.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The TTL of records whose cookie has no `expires` (connect-redis's
    /// `ttl`, default 1 day), in whole seconds, rounded up; as in
    /// connect-redis, zero means the default. The SQL stores' option of the
    /// same name.
    #[must_use]
    pub fn with_default_ttl(mut self, ttl: Duration) -> Self {
        let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        self.default_ttl_secs = ttl_secs_i64(if secs == 0 { DEFAULT_TTL_SECS } else { secs });
        self
    }

    /// The former form of [`with_default_ttl`](Self::with_default_ttl), in
    /// seconds.
    #[must_use]
    #[deprecated(note = "use `with_default_ttl(Duration)`, as the SQL stores do")]
    pub fn with_default_ttl_secs(self, secs: u64) -> Self {
        self.with_default_ttl(Duration::from_secs(secs))
    }

    /// Makes [`touch`](Store::touch) a no-op (connect-redis's `disableTouch`).
    #[must_use]
    pub fn with_disable_touch(mut self, disable: bool) -> Self {
        self.disable_touch = disable;
        self
    }

    /// Writes records without an expiry and makes `touch` a no-op
    /// (connect-redis's `disableTTL`). Records whose cookie has already
    /// expired are still deleted instead of written.
    #[must_use]
    pub fn with_disable_ttl(mut self, disable: bool) -> Self {
        self.disable_ttl = disable;
        self
    }

    /// The budget of each store call, connecting included (default 5 s).
    /// A call that takes longer fails with [`StoreError::Timeout`].
    #[must_use]
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The `COUNT` hint of the SCANs behind `all`, `len` and `clear`
    /// (connect-redis's `scanCount`, default 100; 0 means the default).
    #[must_use]
    pub fn with_scan_count(mut self, count: usize) -> Self {
        self.scan_count = if count == 0 {
            DEFAULT_SCAN_COUNT
        } else {
            count
        };
        self
    }

    /// Makes every write wait until this many replicas acknowledged it
    /// (Redis's `WAIT`, in the same round trip as the write); off by
    /// default, and `Durability::replicas(0)` turns it off again.
    ///
    /// A save, destroy or touch that fewer replicas acknowledged within the
    /// timeout fails with [`StoreError::Backend`] whose source is a
    /// [`ReplicationShortfall`](crate::ReplicationShortfall), so the layer
    /// does not acknowledge it (a 503 by default). **The write did land on
    /// the master** and stays there: Redis cannot take it back. A load
    /// that extends the TTL ([`Store::load_and_touch`]) reports its record
    /// untouched instead, and the layer touches it at the end of the
    /// request. See the [crate docs](crate#durability) for what it
    /// guarantees and what it costs.
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = (durability.required_replicas() > 0).then_some(durability);
        self
    }

    /// The durability writes wait for, if any.
    pub fn durability(&self) -> Option<Durability> {
        self.durability
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The TTL, in seconds, of records without `cookie.expires`.
    pub fn default_ttl_secs(&self) -> u64 {
        self.default_ttl_secs.unsigned_abs()
    }

    /// The budget of each store call.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// The `COUNT` hint of listing SCANs.
    pub fn scan_count(&self) -> usize {
        self.scan_count
    }

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.shared.target.is_cluster()
    }

    /// Whether this store finds its master through Redis Sentinel.
    pub fn is_sentinel(&self) -> bool {
        self.shared.target.is_sentinel()
    }

    /// The Redis key of a session ID: prefix + ID.
    pub fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// Connects if not yet connected, and sends a PING, within the call
    /// timeout. Useful as a health check.
    ///
    /// # Errors
    ///
    /// [`StoreError::Connection`] or [`StoreError::Timeout`] when the server
    /// cannot be reached, [`StoreError::Backend`] if it answers with an error.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.query::<Value>(&redis::cmd("PING")).await.map(drop)
    }

    /// Runs `op` on a connection (opened first if needed), all within the
    /// call timeout, and maps redis errors.
    async fn call<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let timeout = self.call_timeout;
        let work = async {
            let mut retried = false;
            loop {
                let conn = self
                    .shared
                    .conn
                    .get_or_try_init(|| self.shared.target.connect(timeout))
                    .await?
                    .clone();
                match op(conn).await {
                    // The connection manager answers the first call after an
                    // outage with the failure of its last reconnection
                    // attempt, and starts a new one. The command was never
                    // sent, so one retry is safe for every operation, and
                    // spares that call an error once Redis is back. So is a
                    // command a demoted master refused (READONLY), on the
                    // master Sentinel names now.
                    Err(error)
                        if !retried
                            && (never_sent(&error)
                                || self.shared.target.retries_elsewhere(&error)) =>
                    {
                        retried = true;
                    }
                    result => return result,
                }
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => result.map_err(|error| map_redis_error(error, timeout)),
            Err(_elapsed) => {
                if let Some(conn) = self.shared.conn.get() {
                    conn.after_timeout();
                }
                Err(StoreError::Timeout(timeout))
            }
        }
    }

    /// Runs one command within the call timeout.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        self.call(|mut conn| async move { conn.query(cmd).await })
            .await
    }

    /// Sends `cmds` and reads their replies, in one store call: each routed
    /// by its own key on a cluster.
    async fn query_each<T: redis::FromRedisValue>(
        &self,
        cmds: &[redis::Cmd],
    ) -> Result<Vec<T>, StoreError> {
        self.call(|mut conn| async move { conn.query_each(cmds).await })
            .await
    }

    /// The glob that matches this store's keys and no others: the prefix
    /// with glob characters escaped. connect-redis leaves them unescaped, so
    /// a prefix like `a*` would list other prefixes' keys there.
    fn scan_pattern(&self) -> Vec<u8> {
        let mut pattern = Vec::with_capacity(self.prefix.len() + 1);
        for byte in self.prefix.bytes() {
            if matches!(byte, b'*' | b'?' | b'[' | b']' | b'\\') {
                pattern.push(b'\\');
            }
            pattern.push(byte);
        }
        pattern.push(b'*');
        pattern
    }

    /// The keys of this store's sessions, on every master: its keys but
    /// the per-user index keys.
    async fn session_keys(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut keys = self.keys().await?;
        keys.retain(|key| !self.is_user_key(key));
        Ok(keys)
    }

    /// The keys of this store, on every master: sessions and per-user
    /// indexes.
    async fn keys(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let pattern = self.scan_pattern();
        let count = self.scan_count;
        let prefix = self.prefix.as_bytes();
        let mut keys = self
            .call(|mut conn| {
                let pattern = &pattern;
                async move { conn.scan_keys(pattern, count).await }
            })
            .await?;
        keys.retain(|key| key.starts_with(prefix));
        Ok(keys)
    }

    /// The TTL a save or touch gives `record`.
    fn ttl_of(&self, record: &Record) -> i64 {
        expiry::ttl_secs(record, now_ms(), self.default_ttl_secs)
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The target is left out: its URL may hold a password.
        f.debug_struct("RedisStore")
            .field("cluster", &self.is_cluster())
            .field("sentinel", &self.is_sentinel())
            .field("connected", &self.shared.conn.initialized())
            .field("prefix", &self.prefix)
            .field("default_ttl_secs", &self.default_ttl_secs)
            .field("disable_touch", &self.disable_touch)
            .field("disable_ttl", &self.disable_ttl)
            .field("call_timeout", &self.call_timeout)
            .field("scan_count", &self.scan_count)
            .field("durability", &self.durability)
            .finish()
    }
}

/// Whether `error` is the connection manager's report of a failed
/// reconnection, given before the command was sent.
fn never_sent(error: &redis::RedisError) -> bool {
    error.is_io_error() && error.to_string().contains("Reconnecting failed")
}

fn ttl_secs_i64(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// This store's version of stored bytes: their SHA-1, because the
/// compare-and-set script can compute nothing else on the server.
/// [`Store::load`] and [`Store::save`] must agree on it.
fn version_of(stored: &[u8]) -> Version {
    Version::from_bytes(&Sha1::digest(stored))
}

fn lowercase_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

impl Store for RedisStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("GET");
            cmd.arg(self.key(id));
            let stored: Option<Vec<u8>> = self.query(&cmd).await?;
            // Redis's TTL decides what is live, as in connect-redis; the
            // stored `cookie.expires` is not checked, because `touch`
            // extends the TTL without rewriting it.
            let Some(bytes) = stored else {
                return Ok(None);
            };
            Ok(Some(LoadedRecord::new(
                Record::from_json(&bytes)?,
                version_of(&bytes),
            )))
        })
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        Box::pin(async move {
            let key = self.key(id);
            let bytes = record.to_json_vec();
            let version = version_of(&bytes);
            let ttl = self.ttl_of(record);
            let written = match condition {
                SaveCondition::Upsert => {
                    let mut cmd;
                    if ttl > 0 {
                        cmd = redis::cmd("SET");
                        cmd.arg(&key).arg(&bytes);
                        if !self.disable_ttl {
                            cmd.arg("EX").arg(ttl);
                        }
                    } else {
                        // Already expired: connect-redis destroys instead.
                        cmd = redis::cmd("DEL");
                        cmd.arg(&key);
                    }
                    self.write::<Value>(&cmd, None).await?.replicated()?;
                    true
                }
                SaveCondition::IfAbsent if ttl > 0 => {
                    let mut cmd = redis::cmd("SET");
                    cmd.arg(&key).arg(&bytes).arg("NX");
                    if !self.disable_ttl {
                        cmd.arg("EX").arg(ttl);
                    }
                    let written = self.write::<Value>(&cmd, None).await?;
                    // SET NX answers nil when the key exists: nothing was
                    // written, so the replicas' count does not matter.
                    if matches!(written.reply, Value::Nil) {
                        false
                    } else {
                        written.replicated()?;
                        true
                    }
                }
                SaveCondition::IfAbsent => {
                    // An expired new record writes nothing, but must still
                    // report a live record under its ID as a conflict.
                    let mut cmd = redis::cmd("EXISTS");
                    cmd.arg(&key);
                    let exists: i64 = self.query(&cmd).await?;
                    exists == 0
                }
                SaveCondition::IfVersion(expected) => {
                    let mode = if ttl <= 0 {
                        "del"
                    } else if self.disable_ttl {
                        "keep"
                    } else {
                        "ex"
                    };
                    let mut cmd = evalsha(&COMPARE_AND_SET, &key);
                    cmd.arg(lowercase_hex(expected.as_bytes()))
                        .arg(&bytes)
                        .arg(mode)
                        .arg(ttl);
                    let written = self.write::<i64>(&cmd, Some(&COMPARE_AND_SET)).await?;
                    // A conflict wrote nothing.
                    if written.reply == 1 {
                        written.replicated()?;
                        true
                    } else {
                        false
                    }
                }
            };
            Ok(if written {
                SaveOutcome::Saved(version)
            } else {
                SaveOutcome::Conflict
            })
        })
    }

    fn load_and_touch<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(LoadedRecord, bool)>> {
        Box::pin(async move {
            if self.disable_touch || self.disable_ttl {
                return Ok(self.load(id).await?.map(|loaded| (loaded, false)));
            }
            self.load_and_touch_enabled(id).await
        })
    }

    fn load_with_expiry<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Option<(LoadedRecord, Option<i64>)>> {
        Box::pin(async move {
            if self.disable_touch || self.disable_ttl {
                // Touching does nothing here, so there is nothing to spare.
                return Ok(self.load(id).await?.map(|loaded| (loaded, None)));
            }
            self.load_with_expiry_now(id).await
        })
    }

    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if self.disable_touch || self.disable_ttl {
                return Ok(());
            }
            // EXPIRE changes only the expiry and does nothing to a missing
            // key; a TTL of zero or less makes Redis delete the key, as
            // connect-redis relies on.
            let mut cmd = redis::cmd("EXPIRE");
            cmd.arg(self.key(id)).arg(self.ttl_of(record));
            self.write::<Value>(&cmd, None)
                .await?
                .replicated()
                .map(drop)
        })
    }

    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(self.key(id));
            self.write::<Value>(&cmd, None)
                .await?
                .replicated()
                .map(drop)
        })
    }

    fn all(&self) -> StoreFuture<'_, Vec<(String, Record)>> {
        Box::pin(async move {
            let keys = self.session_keys().await?;
            let mut records = Vec::with_capacity(keys.len());
            for batch in keys.chunks(KEYS_PER_BATCH) {
                let mut cmd = redis::cmd("MGET");
                cmd.arg(batch);
                // In a cluster redis-rs splits the MGET by slot and puts the
                // answers back in key order.
                let values: Vec<Option<Vec<u8>>> = self.query(&cmd).await?;
                for (key, value) in batch.iter().zip(values) {
                    // A key that expired or was destroyed since the SCAN.
                    let Some(bytes) = value else { continue };
                    let id = key.strip_prefix(self.prefix.as_bytes()).unwrap_or(key);
                    let Ok(id) = std::str::from_utf8(id) else {
                        // Session IDs are strings; such a key is not ours.
                        tracing::debug!("skipping a non-UTF-8 key under the session prefix");
                        continue;
                    };
                    records.push((id.to_owned(), Record::from_json(&bytes)?));
                }
            }
            Ok(records)
        })
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        // As connect-redis's `length`: the number of keys, without reading
        // them (but not the per-user indexes, which it would count).
        // Redis's TTL keeps this equal to the live count but for the
        // rounding second.
        Box::pin(async move { Ok(self.session_keys().await?.len()) })
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let keys = self.keys().await?;
            if self.durability.is_some() && self.is_cluster() {
                // A pipeline that ends with WAIT must keep to one slot (see
                // `with_wait`), and redis-rs does not tell which keys share
                // one: key by key.
                for key in keys {
                    let mut cmd = redis::cmd("DEL");
                    cmd.arg(key);
                    self.write::<Value>(&cmd, None).await?.replicated()?;
                }
                return Ok(());
            }
            for batch in keys.chunks(KEYS_PER_BATCH) {
                let mut cmd = redis::cmd("DEL");
                cmd.arg(batch);
                // In a cluster redis-rs splits the DEL by slot.
                self.write::<Value>(&cmd, None).await?.replicated()?;
            }
            Ok(())
        })
    }

    fn index_user<'a>(&'a self, user: &'a str, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(self.index_user_now(user, id))
    }

    fn user_sessions<'a>(
        &'a self,
        _user_path: &'a UserPath,
        user: &'a str,
    ) -> StoreFuture<'a, Vec<(String, LoadedRecord)>> {
        Box::pin(self.user_sessions_now(user))
    }

    fn unindex_user<'a>(&'a self, user: &'a str, ids: &'a [String]) -> StoreFuture<'a, ()> {
        Box::pin(self.unindex_user_now(user, ids))
    }

    fn kind(&self) -> &'static str {
        "redis"
    }

    /// Every call runs under [`call_timeout`](RedisStore::call_timeout).
    fn own_timeout(&self) -> Option<Duration> {
        Some(self.call_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_the_sha1_redis_computes() {
        // redis-cli EVAL "return redis.sha1hex(ARGV[1])" 0 abc
        assert_eq!(
            lowercase_hex(version_of(b"abc").as_bytes()),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn options_follow_connect_redis_defaults() {
        let store = RedisStore::connect_lazy("redis://127.0.0.1:1").expect("a valid URL");
        assert_eq!(store.prefix(), "sess:");
        assert_eq!(store.key("abc"), "sess:abc");
        assert_eq!(store.default_ttl_secs(), 86_400);
        assert_eq!(store.scan_count(), 100);
        assert_eq!(store.call_timeout(), Duration::from_secs(5));
        let store = store
            .with_prefix("")
            .with_default_ttl(Duration::ZERO)
            .with_scan_count(0);
        assert_eq!(store.key("abc"), "abc");
        assert_eq!(store.default_ttl_secs(), 86_400);
        assert_eq!(store.scan_count(), 100);
        assert_eq!(
            store
                .with_default_ttl(Duration::from_secs(60))
                .default_ttl_secs(),
            60
        );
    }

    #[test]
    fn scan_patterns_escape_the_prefix() {
        let store = RedisStore::connect_lazy("redis://127.0.0.1:1").expect("a valid URL");
        assert_eq!(store.scan_pattern(), b"sess:*");
        assert_eq!(
            store.with_prefix("a*b?[c]\\:").scan_pattern(),
            b"a\\*b\\?\\[c\\]\\\\:*"
        );
    }

    #[test]
    fn bad_urls_are_errors_not_panics() {
        assert!(RedisStore::connect_lazy("http://nope").is_err());
        assert!(RedisStore::connect_cluster_lazy::<&str>(&[]).is_err());
        assert!(RedisStore::connect_lazy("redis+cluster://").is_err());
    }

    #[test]
    fn debug_output_holds_no_url() {
        let store =
            RedisStore::connect_lazy("redis://user:secret@127.0.0.1:1").expect("a valid URL");
        assert!(!format!("{store:?}").contains("secret"));
    }
}
