//! A Redis store for [`server_session`] (one server, a master found through
//! Redis Sentinel, or Redis Cluster), in [connect-redis]'s layout, so Rust
//! and Node servers can share sessions.
//!
//! ```no_run
//! use std::time::Duration;
//! use server_session::store::{Record, SaveCondition, SaveOutcome, Store};
//! use server_session_redis::RedisStore;
//!
//! # async fn run() -> Result<(), server_session::StoreError> {
//! // One server…
//! let store = RedisStore::connect("redis://127.0.0.1:6379")
//!     .await?
//!     .with_prefix("myapp:")
//!     .with_call_timeout(Duration::from_secs(2));
//!
//! // …or a cluster, by its seed nodes (either form)…
//! let cluster = RedisStore::connect_cluster(&["redis://127.0.0.1:7001", "redis://127.0.0.1:7002"]).await?;
//! let same = RedisStore::connect("redis+cluster://127.0.0.1:7001,127.0.0.1:7002").await?;
//!
//! // …or the master Sentinel names, found again after a failover.
//! let sentinel = RedisStore::connect("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster").await?;
//!
//! let outcome = store.save("abc", &Record::default(), SaveCondition::IfAbsent).await?;
//! assert!(matches!(outcome, SaveOutcome::Saved(_)));
//! let loaded = store.load("abc").await?.expect("just saved");
//! # let _ = (cluster, same, sentinel, loaded);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout (connect-redis's, byte for byte)
//!
//! | What | Where |
//! |---|---|
//! | key | prefix + session ID, e.g. `sess:<id>` |
//! | value | the record as express's JSON: `{"cookie":{…},"key":value,…}` |
//! | expiry | `SET key json EX ttl`, with `ttl = ceil((cookie.expires − now) / 1000)`, or the default TTL (86400 s) when the cookie has no `expires` |
//! | expired record | saving a record whose TTL is ≤ 0 deletes the key instead |
//! | touch | `EXPIRE key ttl`: the value is never rewritten |
//! | listing | `SCAN MATCH prefix* COUNT scan_count`, on every master of a cluster, keys de-duplicated |
//! | per-user index | prefix + `user:` + user ID, a sorted set of session IDs; see [Per-user index](#per-user-index) |
//!
//! A record written by connect-redis loads here, and the other way round.
//!
//! # Versions and compare-and-set
//!
//! A record's [`Version`](server_session::store::Version) is the SHA-1 of
//! its stored bytes (20 bytes). A [`SaveCondition::IfVersion`](server_session::store::SaveCondition::IfVersion)
//! save runs a Lua script that compares `redis.sha1hex` of the current value
//! with the expected version and writes only on a match, atomically. So a
//! write by Node, which knows nothing of versions, still makes a stale save
//! a conflict. (SHA-1 because Redis's Lua offers no other digest; it names
//! values, it does not protect secrets.) `IfAbsent` is `SET … NX EX`.
//!
//! A record is live while Redis holds its key, as in connect-redis: the
//! stored `cookie.expires` is not checked on load, because `touch` extends
//! the key's TTL without rewriting the value. The TTL is rounded up to whole
//! seconds, so a record may outlive its cookie by up to a second.
//!
//! # Loading and touching in one call
//!
//! A request that leaves its session unchanged ends with a touch. This
//! store does that touch while loading ([`Store::load_and_touch`](server_session::store::Store::load_and_touch)),
//! so such a request costs one Redis call: `GETEX key EX ttl`, about as
//! cheap for Redis as a GET. The TTL the touch needs
//! (`ceil(cookie.originalMaxAge / 1000)`, or the default TTL for a
//! browser-session cookie) is in the record, which is not read yet, so the
//! store sends the TTL the previous record needed (shared by clones). When
//! the record needs another, a second call (`EXPIRE`) sets it. A record
//! whose touch would delete it (a max age of zero or less) is left to the
//! end of the request, as with a separate touch; the expiry GETEX gave it is
//! put back to its `cookie.expires` first.
//!
//! Servers without GETEX (before Redis 6.2), or whose ACL refuses it, get a
//! Lua script that reads and expires in one call instead; the store
//! switches to it at the first refusal and logs that once, as a warning.
//! The script costs Redis several times the CPU of GETEX (on Redis 7.0,
//! about 3.5 µs per call against 0.5 µs, and 0.2 µs for a GET).
//!
//! # Options
//!
//! | Builder | connect-redis | Default |
//! |---|---|---|
//! | [`with_prefix`](RedisStore::with_prefix) | `prefix` | `"sess:"` (`""` allowed) |
//! | [`with_default_ttl`](RedisStore::with_default_ttl) | `ttl` | 1 day, in whole seconds (zero means the default) |
//! | [`with_disable_touch`](RedisStore::with_disable_touch) | `disableTouch` | `false` |
//! | [`with_disable_ttl`](RedisStore::with_disable_ttl) | `disableTTL` | `false` |
//! | [`with_scan_count`](RedisStore::with_scan_count) | `scanCount` | 100 |
//! | [`with_call_timeout`](RedisStore::with_call_timeout) | — | 5 s, connecting included; past it a call fails with `StoreError::Timeout` |
//! | [`with_durability`](RedisStore::with_durability) | — | off; see [Durability](#durability) |
//!
//! # Connections
//!
//! [`RedisStore::connect_lazy`], [`RedisStore::connect_cluster_lazy`] and
//! [`RedisStore::connect_sentinel_lazy`] only parse; the first call
//! connects, within its timeout. [`RedisStore::connect`],
//! [`RedisStore::connect_cluster`] and [`RedisStore::connect_sentinel`]
//! connect (and PING) at once. A standalone store uses redis-rs's
//! `ConnectionManager`, which reconnects after a connection loss; a
//! cluster store uses redis-rs's cluster connection, which follows the
//! slot map and its changes; a Sentinel store, see [Sentinel](#sentinel).
//!
//! A standalone or Sentinel store sends the commands of concurrent
//! requests together: a task collects what the requests ready to run have
//! queued, then sends it as one pipeline (independent commands, not a
//! transaction: each succeeds or fails on its own). On tokio's multi-thread
//! runtime each command otherwise left in a write of its own, which tripled
//! Redis's CPU per command (BENCHMARKS.md). A cluster store sends each
//! command as it comes: a cluster pipeline must stay within one slot.
//!
//! redis-rs can leave a call unsent and unanswered when its connection
//! drops at the moment the call is handed over. So on a standalone or
//! Sentinel store, a call whose reply is 250 ms late is followed by a `PING`
//! on its connection; a `PING` answered first, or one that finds the
//! connection dead, fails the call with `StoreError::Connection`, which
//! the session layer retries, instead of letting it wait out the call
//! timeout.
//!
//! URL forms: `redis://[user:password@]host[:port][/db]`,
//! `redis+unix:///path/to/socket`, for a cluster
//! `redis+cluster://[user:password@]host:port,host:port,…` (the credentials
//! apply to every node), and for Sentinel
//! `redis+sentinel://[user:password@]host[:port],host[:port],…/master-name[?db=N]`.
//!
//! Errors: connection loss, refusal, cluster-down replies, `READONLY` (a
//! write that reached a replica) and "Sentinel names no master yet" are
//! `StoreError::Connection`; other server errors are `StoreError::Backend`,
//! as is a write too few replicas acknowledged ([Durability](#durability));
//! a stored value that is not a session is `StoreError::Corrupt`. An error
//! shows its category and the server's error code (`ERR`, `NOPERM`, …),
//! never the server's message or redis-rs's detail, in `Display`, `Debug`
//! and the `source` chain alike: Redis quotes a command's arguments in some
//! replies (`ERR unknown command 'GETEX', with args beginning with:
//! 'sess:<id>'`), and a session ID is a bearer credential. The same holds
//! for the store's own log lines. I/O errors keep their text.
//!
//! # Sentinel
//!
//! A store can follow the master that [Redis Sentinel] names, by URL or by
//! [`SentinelConfig`]:
//!
//! ```text
//! redis+sentinel://[user:password@]host[:port][,host[:port]…]/master-name[?db=N][&sentinel_username=U][&sentinel_password=P]
//! ```
//!
//! The port defaults to 26379 ([`DEFAULT_SENTINEL_PORT`]). The credentials
//! and `db` are the master's (and so those of whichever replica is promoted);
//! the sentinels' own, if they have any, are the query parameters, or
//! [`SentinelConfig::with_sentinel_password`].
//!
//! The first call asks the sentinels for the master (redis-rs's `sentinel`
//! module: `SENTINEL MASTERS`, then the master's own `ROLE`, so a sentinel
//! with an old view never points the store at a replica), each sentinel in
//! turn with a share of the call timeout, starting with the one that
//! answered last; then it opens one multiplexed connection to the master,
//! shared by the store's clones. The calls go there, with no extra cost,
//! until one of them shows that the master is gone or has moved: the
//! connection broke or was refused (the master died, or Sentinel killed its
//! clients when it demoted it), the reply is `READONLY` (it is a replica
//! now), `MASTERDOWN` or `LOADING`, or the call ran out of its timeout (a
//! hung master). Then the connection is dropped and the next call asks the
//! sentinels again; one call asks, the others wait for its answer, and after
//! a failed discovery calls fail at once for 100 ms before the next one asks.
//! A command refused with `READONLY` never ran, so it is sent again once,
//! to the master found anew, and the caller sees no error; any other failed
//! call fails with `StoreError::Connection`, because a write that may have
//! landed is never replayed.
//!
//! So the application needs no restart: during a failover (about
//! `down-after-milliseconds` plus the election; 2–3 s in this crate's
//! tests, with 1000 ms) calls fail fast with `StoreError::Connection`, and
//! once the sentinels name the new master the next call finds it.
//!
//! Replication is asynchronous: a write the old master acknowledged but had
//! not yet sent to its replicas is lost when Sentinel promotes one of them.
//! [Durability](#durability) closes that window.
//!
//! # Durability
//!
//! [`RedisStore::with_durability`] makes every write wait until the given
//! number of replicas acknowledged it, with `WAIT numreplicas timeout`
//! pipelined after the write: one round trip, on the write's own
//! connection, so `WAIT` counts that write.
//!
//! ```no_run
//! use std::time::Duration;
//! use server_session_redis::{Durability, RedisStore};
//!
//! # async fn run() -> Result<(), server_session::StoreError> {
//! let store = RedisStore::connect("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster")
//!     .await?
//!     .with_durability(Durability::replicas(1).timeout(Duration::from_millis(500)));
//! # let _ = store;
//! # Ok(())
//! # }
//! ```
//!
//! | Write | With too few acknowledgements |
//! |---|---|
//! | `save` (`SET … EX`, `SET … NX EX`, the compare-and-set script, the `DEL` of an expired record) | fails: `StoreError::Backend` whose source is a [`ReplicationShortfall`] |
//! | `touch` (`EXPIRE`), `destroy` (`DEL`), `clear` (`DEL`) | fails, the same way |
//! | `load_and_touch` (`GETEX … EX`, its `EXPIRE` correction, or the script) | the record is returned, reported untouched: the layer touches it at the end of the request, which waits again |
//! | a save that wrote nothing (a conflict) | `SaveOutcome::Conflict`, as without durability |
//!
//! **A failed write did land on the master**: Redis acknowledges the write
//! before `WAIT` starts, and cannot take it back. The next read sees it,
//! and it survives unless the master fails before a replica copies it. The
//! store fails the call only so that the layer does not acknowledge it to
//! the client (a 503, with the default commit policy). The error is not
//! transient: the master answered, so the layer's circuit breaker stays
//! closed and reads go on while the replicas lag.
//!
//! What it buys: an acknowledged write is on the master and on at least
//! that many replicas, and Sentinel promotes the replica with the most
//! data, so a failover keeps it. The failover test (`tests/sentinel.rs`:
//! the replicas cut off for 500 ms, then the master SIGKILLed, under a
//! compare-and-set load) asserts that no acknowledged save is lost with
//! `replicas(1)`; without durability the same run loses the saves the
//! master acknowledged in those 500 ms (about 400 of 3,000). It is not
//! strong consistency: a replica that
//! acknowledged can itself fail, or lose the election to another (Redis's
//! own caveat for `WAIT`). And the count applies after a failover too: a
//! master with one replica and `replicas(1)` accepts no write once that
//! replica is promoted, until another replica joins it.
//!
//! What it costs: every write, and the load of every request that extends
//! the TTL, waits for the replicas to acknowledge (the master asks them at
//! once; about one round trip between master and replica), and up to the
//! timeout when they do not. Keep the timeout well under the call timeout.
//!
//! On Redis Cluster, the pipeline goes to the node that owns the write's
//! key (redis-rs routes a pipeline by its first key; `WAIT` has none) and
//! is sent again whole after a redirection, so `WAIT` counts the replicas of
//! the node that took the write. `clear` then deletes key by key (a `DEL`
//! of several keys spans slots, which one pipeline cannot), one round trip
//! each.
//!
//! # Per-user index
//!
//! For [`UserSessions`](server_session::UserSessions) (list a user's
//! sessions, revoke them), the store keeps one sorted set per user:
//!
//! | What | Where |
//! |---|---|
//! | key | prefix + `user:` + the user ID as it is, e.g. `sess:user:42` ([`RedisStore::user_key`]) |
//! | members | the IDs of the sessions signed in to that user |
//! | scores | when each was indexed, in milliseconds since the epoch |
//! | expiry | none (see below) |
//!
//! - **Sign-in** ([`Store::index_user`](server_session::Store::index_user),
//!   which the layer calls before the save that first stores the ID with
//!   its user): one call, a script that `ZADD`s and answers the set's size.
//!   Nothing else changes: a request that leaves the user alone costs no
//!   extra command.
//! - **Listing** ([`Store::user_sessions`](server_session::Store::user_sessions)):
//!   `ZRANGE` of the set, then one `MGET` of the sessions, with the
//!   versions `load` gives. Among 100,000 other sessions and indexes, a
//!   user with 3 sessions costs 2 commands and 4 keys read (on a cluster:
//!   the `ZRANGE` and one `MGET` per slot); never a `SCAN`.
//! - **Stale entries**: a session that is gone, or now holds another user,
//!   leaves its entry behind. Listing returns the sessions that are there;
//!   the caller drops those holding someone else
//!   ([`Store::unindex_user`](server_session::Store::unindex_user), a
//!   `ZREM`). The store drops the entries of missing sessions itself, when
//!   a listing finds them, once they are an hour old: a younger entry may
//!   be a sign-in that has not saved yet, and dropping it would lose a live
//!   session from the index. A sign-in that grows a set to 64, 128, 256, …
//!   entries also checks its old entries (`EXISTS` of each session) and
//!   drops the dead ones, in a task of its own, so the sign-in does not
//!   wait; [`RedisStore::prune_user_indexes`] does it for every user, as an
//!   admin job.
//! - **No TTL on the set**: a rolling session's TTL moves at every request
//!   without the index being told, so any TTL on the set could run out
//!   while a session it names lives on. `clear` deletes the sets with the
//!   sessions; `len` and `all` skip them.
//! - **Redis Cluster**: the set and the sessions it names hash to different
//!   slots. No command names keys of two slots and nothing needs a
//!   transaction across them: each command names one key (or, for `MGET`,
//!   keys that redis-rs splits by slot and sends to each slot's master).
//!   Consistency comes from the order instead: the entry is written before
//!   the session, and removed only after its session was seen gone (and
//!   the entry is old) or holding someone else.
//! - **Keys**: the user ID goes into the key unescaped. Redis keys are
//!   binary-safe and the prefix is fixed, so each user has a key of their
//!   own whatever the ID holds (`:`, `*`, spaces, Unicode); no index key is
//!   ever used as a SCAN pattern, and a `{…}` in an ID only picks the
//!   set's slot. No session key can be an index key: session IDs from
//!   express-session (uid-safe) and from this crate are base64url, which
//!   has no `:` (a custom `genid` that makes IDs starting with `user:`
//!   would collide).
//! - **Sessions written by Node**: connect-redis keeps no index. A Node app
//!   wraps its store with `interop/node/user-index.js` in this repository
//!   (a `ZADD NX` before each save of a signed-in session), and
//!   [`RedisStore::index_existing_sessions`] (an admin or migration job
//!   that SCANs every session once) indexes those signed in before.
//!
//! # Differences from connect-redis
//!
//! - The prefix's glob characters (`*?[]\`) are escaped in listing SCANs,
//!   so a prefix matches only its own keys.
//! - `ttl` as a function of the session is not offered; the TTL always
//!   comes from `cookie.expires` or the default.
//! - The per-user index keys (`<prefix>user:<user>`) sit under the prefix,
//!   so connect-redis's `length` and `ids` count them (its `all` skips
//!   them: `MGET` answers nil for a set) and its `clear` deletes them.
//!
//! # Features
//!
//! | Feature | Enables | Default |
//! |---|---|---|
//! | `cluster` | Redis Cluster: [`RedisStore::connect_cluster`], `redis+cluster://` URLs | yes |
//! | `sentinel` | Redis Sentinel: [`RedisStore::connect_sentinel`], `redis+sentinel://` URLs | yes |
//!
//! [connect-redis]: https://github.com/tj/connect-redis
//! [Redis Sentinel]: https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod connection;
mod durability;
mod error;
mod sentinel;
mod store;

pub use durability::{Durability, ReplicationShortfall};
pub use sentinel::{SentinelConfig, DEFAULT_SENTINEL_PORT};
pub use store::RedisStore;
