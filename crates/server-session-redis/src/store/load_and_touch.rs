//! [`Store::load_and_touch`](server_session::store::Store::load_and_touch)
//! for Redis: one `GETEX key EX ttl` per unchanged request, with the TTL
//! guessed before the record is read, and a Lua script for servers without
//! GETEX.
//!
//! The touch that express makes at the end of an unchanged request is
//! `EXPIRE key ttl` with `ttl = ceil(originalMaxAge / 1000)` (the touch sets
//! `expires = now + originalMaxAge`), or the store's default TTL for a
//! browser-session cookie (`"originalMaxAge":null`). That TTL is in the
//! record, so it is known only once the record is read. A Lua script can
//! read and then expire in one call, but costs Redis about seven times the
//! CPU of GETEX (3.5 µs against 0.5 µs a call on Redis 7.0); GETEX needs
//! its TTL up front. Most applications give every session the same `maxAge`, so the
//! TTL the previous record needed is nearly always right: it is sent, and a
//! wrong guess is put right with a second command.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::LazyLock;

use redis::{RedisError, Script, Value};
use server_session::store::{LoadedRecord, Record, StoreError};

use super::durable::{shortfall, with_wait, Written};
use super::{version_of, RedisStore};
use crate::connection::evalsha;
use crate::error::RedisFailure;

/// Load and touch in one round trip, for servers without GETEX (Redis
/// before 6.2).
///
/// `KEYS[1]` is the session key; `ARGV[1]` the default TTL for a
/// browser-session cookie (`"originalMaxAge":null`). The stored value puts
/// `cookie` first with `originalMaxAge` first in it (express and this crate
/// both write it so, unless the session has array-index keys such as `"2"`,
/// which JavaScript writes first), which is all the script reads; any other
/// shape is left untouched and reported so (`0`), and the layer then touches
/// at the end as usual. Returns `false` for a missing key, else `{value, touched}`.
static LOAD_AND_TOUCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local value = redis.call('GET', KEYS[1])
if not value then
  return false
end
local ttl
local max_age = string.match(value, '^{"cookie":{"originalMaxAge":(%-?%d+)[,}]')
if max_age then
  ttl = math.ceil(tonumber(max_age) / 1000)
elseif string.find(value, '^{"cookie":{"originalMaxAge":null[,}]') then
  ttl = tonumber(ARGV[1])
end
if ttl and ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  return {value, 1}
end
return {value, 0}
"#,
    )
});

/// What clones of a store learn about `load_and_touch` as they go.
#[derive(Debug, Default)]
pub(super) struct TouchState {
    /// The TTL (seconds) the last record read needed, sent with the next
    /// GETEX; 0 until then, which means the store's default TTL. Only
    /// positive TTLs are kept: GETEX refuses anything else.
    ttl_hint: AtomicI64,
    /// Set for good once the server refuses GETEX.
    use_script: AtomicBool,
}

/// The answer to a GETEX.
enum Getex {
    /// The stored value, if the key exists, and whether enough replicas
    /// acknowledged the new TTL (always, without durability).
    Read(Option<Vec<u8>>, bool),
    /// The server does not run GETEX.
    Refused(RedisError),
}

/// Whether `error` is the server saying it will not run `GETEX key EX ttl`
/// at all, as opposed to failing this one call.
///
/// Redis before 6.2 answers `ERR unknown command 'GETEX', …`; a server or
/// proxy with a GETEX of another shape answers `ERR wrong number of
/// arguments …`; an ACL written for the commands this store used before
/// (GET, EXPIRE, EVALSHA) answers `NOPERM …`. The script needs none of
/// GETEX, so each of these falls back to it.
pub(super) fn getex_unsupported(error: &RedisError) -> bool {
    let detail = error.detail().unwrap_or_default().trim_start();
    match error.code() {
        Some("ERR") => {
            starts_with_ignoring_case(detail, "unknown command")
                || starts_with_ignoring_case(detail, "wrong number of arguments")
        }
        Some("NOPERM") => true,
        _ => false,
    }
}

fn starts_with_ignoring_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// `ceil(ms / 1000)`, as connect-redis computes a TTL (and as Lua's
/// `math.ceil` did in the script): zero or less for a max age of zero or less.
fn ceil_secs(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

impl RedisStore {
    /// The TTL express's end-of-request touch gives `record`:
    /// `ceil(originalMaxAge / 1000)`, or the default TTL for a
    /// browser-session cookie. Zero or less: the touch deletes it.
    fn touch_ttl_of(&self, record: &Record) -> i64 {
        record
            .cookie()
            .original_max_age_ms()
            .map_or(self.default_ttl_secs, ceil_secs)
    }

    /// The TTL to send with GETEX: the last one a record needed, or the
    /// default TTL before any.
    fn ttl_guess(&self) -> i64 {
        match self.shared.touch.ttl_hint.load(Ordering::Relaxed) {
            hint if hint > 0 => hint,
            _ => self.default_ttl_secs,
        }
    }

    /// See [`Store::load_and_touch`](server_session::store::Store::load_and_touch);
    /// touching is known to be enabled.
    pub(super) async fn load_and_touch_enabled(
        &self,
        id: &str,
    ) -> Result<Option<(LoadedRecord, bool)>, StoreError> {
        let touch = &self.shared.touch;
        if touch.use_script.load(Ordering::Relaxed) {
            return self.load_and_touch_by_script(id).await;
        }
        let key = self.key(id);
        let sent = self.ttl_guess();
        let mut cmd = redis::cmd("GETEX");
        cmd.arg(&key).arg("EX").arg(sent);
        let cmd = &cmd;
        let durable = self
            .durability
            .map(|durability| (with_wait(cmd, durability), durability));
        let durable = durable.as_ref();
        let reply = self
            .call(|mut conn| async move {
                let read = match durable {
                    None => conn.query(cmd).await.map(|stored| (stored, true)),
                    Some((pipeline, durability)) => conn
                        .query_pipeline::<(Option<Vec<u8>>, i64)>(pipeline)
                        .await
                        .map(|(stored, acknowledged)| {
                            (stored, shortfall(acknowledged, *durability).is_none())
                        }),
                };
                match read {
                    Ok((stored, replicated)) => Ok(Getex::Read(stored, replicated)),
                    // Kept out of `call`'s error mapping, which would make it
                    // an ordinary backend error.
                    Err(error) if getex_unsupported(&error) => Ok(Getex::Refused(error)),
                    Err(error) => Err(error),
                }
            })
            .await?;
        let (stored, replicated) = match reply {
            Getex::Read(stored, replicated) => (stored, replicated),
            Getex::Refused(error) => {
                if !touch.use_script.swap(true, Ordering::Relaxed) {
                    // Not the server's message: an old server's `unknown
                    // command` reply quotes the arguments, the session's key
                    // among them.
                    tracing::warn!(
                        error = %RedisFailure::of(&error),
                        "Redis refused GETEX (it needs Redis 6.2); \
                         load_and_touch falls back to a Lua script, which costs Redis more CPU"
                    );
                }
                return self.load_and_touch_by_script(id).await;
            }
        };
        let Some(bytes) = stored else {
            return Ok(None);
        };
        let loaded = LoadedRecord::new(Record::from_json(&bytes)?, version_of(&bytes));
        let needed = self.touch_ttl_of(&loaded.record);
        let touched = if needed == sent {
            // Under durability, a TTL too few replicas acknowledged is
            // reported untouched: the layer's touch at the end of the
            // request tries again, and fails if they still lag.
            replicated
        } else if needed > 0 {
            // A wrong guess: a second round trip, and a better guess next
            // time. Applications that mix lifetimes (a "remember me" box)
            // pay it when consecutive loads differ. It is not atomic with
            // the GETEX: a save landing in between gets this record's TTL,
            // which differs from its own only if it changed the max age,
            // and the next load of it puts that right.
            let mut cmd = redis::cmd("EXPIRE");
            cmd.arg(&key).arg(needed);
            let corrected = self.touch_step(&cmd, "correct the TTL GETEX set").await;
            if corrected {
                touch.ttl_hint.store(needed, Ordering::Relaxed);
            }
            corrected
        } else {
            // The end-of-request touch deletes this record, but the request
            // may still save it with a new max age, or destroy it, or keep
            // it, so it is left as the script left it: untouched, for the
            // layer to decide. GETEX has extended it, though, so its expiry
            // is put back to the one its save gave it (`cookie.expires`,
            // which a save rounded up to the second; a past one deletes
            // it), or the default TTL a browser-session save gave it.
            self.restore_expiry(&key, &loaded.record).await;
            false
        };
        Ok(Some((loaded, touched)))
    }

    /// Puts back, as nearly as is known, the expiry `record` had before a
    /// GETEX extended it.
    async fn restore_expiry(&self, key: &str, record: &Record) {
        let cmd = match record.expires_ms() {
            Some(expires_ms) => {
                let mut cmd = redis::cmd("PEXPIREAT");
                cmd.arg(key).arg(expires_ms);
                cmd
            }
            None => {
                let mut cmd = redis::cmd("EXPIRE");
                cmd.arg(key).arg(self.default_ttl_secs);
                cmd
            }
        };
        self.touch_step(&cmd, "restore the expiry GETEX extended")
            .await;
    }

    /// Runs the second command of a load and touch. Its failure does not
    /// fail the load: the record was read, and reporting it untouched makes
    /// the layer touch it at the end of the request, as without
    /// `load_and_touch`. Returns whether it succeeded.
    async fn touch_step(&self, cmd: &redis::Cmd, what: &str) -> bool {
        match self
            .write::<Value>(cmd, None)
            .await
            .and_then(Written::replicated)
        {
            Ok(_) => true,
            Err(error) => {
                tracing::debug!(
                    error = &error as &dyn std::error::Error,
                    "load_and_touch could not {what}; the layer touches instead"
                );
                false
            }
        }
    }

    /// Load and touch with the Lua script, for servers without GETEX.
    async fn load_and_touch_by_script(
        &self,
        id: &str,
    ) -> Result<Option<(LoadedRecord, bool)>, StoreError> {
        let key = self.key(id);
        let mut cmd = evalsha(&LOAD_AND_TOUCH, &key);
        cmd.arg(self.default_ttl_secs);
        let written = self
            .write::<Option<(Vec<u8>, i64)>>(&cmd, Some(&LOAD_AND_TOUCH))
            .await?;
        let replicated = written.is_replicated();
        let Some((bytes, touched)) = written.reply else {
            return Ok(None);
        };
        let loaded = LoadedRecord::new(Record::from_json(&bytes)?, version_of(&bytes));
        Ok(Some((loaded, touched == 1 && replicated)))
    }

    /// Makes this store (and its clones) load and touch with the script,
    /// as after a server refused GETEX.
    #[cfg(test)]
    pub(super) fn use_script_for_load_and_touch(&self) {
        self.shared.touch.use_script.store(true, Ordering::Relaxed);
    }

    /// The TTL the next GETEX sends.
    #[cfg(test)]
    pub(super) fn next_getex_ttl(&self) -> i64 {
        self.ttl_guess()
    }
}

#[cfg(test)]
mod tests {
    use redis::ErrorKind;
    use server_session::store::{now_ms, CookieData, SaveCondition, Store};

    use super::*;

    fn server_error(detail: &str) -> RedisError {
        RedisError::from((
            ErrorKind::ResponseError,
            "An error was signalled by the server",
            detail.to_owned(),
        ))
    }

    #[test]
    fn old_servers_refusals_of_getex_are_recognised() {
        // Redis < 6.0, Redis 6.0, a GETEX of another shape, an old ACL.
        assert!(getex_unsupported(&server_error("unknown command 'GETEX'")));
        assert!(getex_unsupported(&server_error(
            "unknown command `GETEX`, with args beginning with: `sess:a`, `EX`, `60`, "
        )));
        assert!(getex_unsupported(&server_error(
            "wrong number of arguments for 'getex' command"
        )));
        assert!(getex_unsupported(&redis::make_extension_error(
            "NOPERM".to_owned(),
            Some("User app has no permissions to run the 'getex' command".to_owned()),
        )));
    }

    #[test]
    fn other_failures_are_not_taken_for_a_missing_getex() {
        let not = |error: RedisError| assert!(!getex_unsupported(&error), "{error:?}");
        not(server_error("invalid expire time in 'getex' command"));
        not(server_error("syntax error"));
        not(RedisError::from((ErrorKind::ResponseError, "no detail")));
        not(redis::make_extension_error(
            "WRONGTYPE".to_owned(),
            Some("Operation against a key holding the wrong kind of value".to_owned()),
        ));
        not(RedisError::from((ErrorKind::ClusterDown, "CLUSTERDOWN")));
        not(RedisError::from((ErrorKind::TryAgain, "TRYAGAIN")));
        not(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "unknown command",
        )));
    }

    #[test]
    fn ttls_round_up_as_connect_redis_does() {
        assert_eq!(ceil_secs(60_000), 60);
        assert_eq!(ceil_secs(60_001), 61);
        assert_eq!(ceil_secs(999), 1);
        assert_eq!(ceil_secs(0), 0);
        assert_eq!(ceil_secs(-1), 0);
        assert_eq!(ceil_secs(-1_500), -1);
        assert_eq!(ceil_secs(i64::MAX), i64::MAX / 1000 + 1);
        assert_eq!(ceil_secs(i64::MIN), i64::MIN / 1000);
    }

    /// A name no other test (or test run) uses.
    fn unique(label: &str) -> String {
        use std::sync::atomic::AtomicU64;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let next = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("{label}-{}-{:x}-{next}", std::process::id(), now_ms())
    }

    fn record(original_max_age_ms: Option<i64>, expires_in_ms: Option<i64>) -> Record {
        let cookie = CookieData::default()
            .with_original_max_age_ms(original_max_age_ms)
            .with_expires_ms(expires_in_ms.map(|ms| now_ms() + ms));
        Record::new(cookie, serde_json::Map::new())
    }

    /// Saves `record` under a fresh ID, then loads and touches it: the
    /// record's key, what the load returned, and whether it touched.
    async fn save_then_load_and_touch(
        store: &RedisStore,
        record: &Record,
    ) -> (String, LoadedRecord, bool) {
        let id = unique("lat");
        let _ = store
            .save(&id, record, SaveCondition::Upsert)
            .await
            .expect("save");
        let (loaded, touched) = store
            .load_and_touch(&id)
            .await
            .expect("load")
            .expect("found");
        (store.key(&id), loaded, touched)
    }

    async fn pttl(store: &RedisStore, key: &str) -> i64 {
        let mut cmd = redis::cmd("PTTL");
        cmd.arg(key);
        store.query(&cmd).await.expect("PTTL")
    }

    /// The error the server itself sends for `cmd`, classified.
    async fn refused_as_unsupported(store: &RedisStore, cmd: &redis::Cmd) -> bool {
        store
            .call(|mut conn| async move {
                let error = conn.query::<Value>(cmd).await.expect_err("an error reply");
                Ok(getex_unsupported(&error))
            })
            .await
            .expect("a reply")
    }

    async fn check_real_server(store: RedisStore) {
        // The server's own wording of the refusals, as redis-rs parses them.
        assert!(refused_as_unsupported(&store, &redis::cmd("GETEX")).await);
        assert!(refused_as_unsupported(&store, redis::cmd("NOSUCHCOMMAND").arg(unique("k"))).await);
        // (A missing key answers nil before the TTL is checked.)
        let key = store.key(&unique("lat"));
        let mut set = redis::cmd("SET");
        set.arg(&key).arg("{}").arg("EX").arg(5);
        store.query::<Value>(&set).await.expect("SET");
        let mut zero = redis::cmd("GETEX");
        zero.arg(&key).arg("EX").arg(0);
        assert!(!refused_as_unsupported(&store, &zero).await);

        // The guess follows the last record read, and only positive TTLs.
        assert_eq!(store.next_getex_ttl(), 300);
        let (_, _, touched) =
            save_then_load_and_touch(&store, &record(Some(120_000), Some(5_000))).await;
        assert!(touched);
        assert_eq!(store.next_getex_ttl(), 120);
        assert_eq!(store.clone().with_prefix("other:").next_getex_ttl(), 120);
        let (_, _, touched) = save_then_load_and_touch(&store, &record(Some(0), Some(5_000))).await;
        assert!(!touched);
        assert_eq!(store.next_getex_ttl(), 120);

        // The script path, as after a refusal, still touches correctly.
        store.use_script_for_load_and_touch();
        let (key, loaded, touched) =
            save_then_load_and_touch(&store, &record(Some(60_500), Some(5_000))).await;
        assert!(touched);
        assert_eq!(loaded.record.cookie().original_max_age_ms(), Some(60_500));
        let ttl = pttl(&store, &key).await;
        assert!((60_001..=61_000).contains(&ttl), "pttl {ttl}");
        let (key, _, touched) = save_then_load_and_touch(&store, &record(None, None)).await;
        assert!(touched);
        let ttl = pttl(&store, &key).await;
        assert!((299_001..=300_000).contains(&ttl), "pttl {ttl}");
        let (key, _, touched) =
            save_then_load_and_touch(&store, &record(Some(-5_000), Some(5_000))).await;
        assert!(!touched);
        let ttl = pttl(&store, &key).await;
        assert!((1..=5_000).contains(&ttl), "pttl {ttl}");
        assert!(store
            .load_and_touch(&unique("lat"))
            .await
            .expect("load")
            .is_none());
        // The script path leaves the guess alone.
        assert_eq!(store.next_getex_ttl(), 120);
    }

    #[tokio::test]
    async fn getex_guesses_and_the_script_fallback_on_a_real_server() {
        let Some(url) = server_session::conformance::service_url("REDIS_URL") else {
            return;
        };
        let store = RedisStore::connect(&url)
            .await
            .expect("connect")
            .with_default_ttl(std::time::Duration::from_secs(300));
        check_real_server(store).await;
    }

    #[cfg(feature = "cluster")]
    #[tokio::test]
    async fn getex_guesses_and_the_script_fallback_on_a_real_cluster() {
        let Some(urls) = server_session::conformance::service_url("REDIS_CLUSTER_URLS") else {
            return;
        };
        let urls: Vec<&str> = urls.split(',').map(str::trim).collect();
        let store = RedisStore::connect_cluster(&urls)
            .await
            .expect("connect")
            .with_default_ttl(std::time::Duration::from_secs(300));
        check_real_server(store).await;
    }
}
