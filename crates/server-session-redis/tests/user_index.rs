//! The per-user index beyond the conformance cases: its keys, sessions
//! written by Node, odd user IDs, prefixes, the cluster's slots, and how
//! dead entries go. On a standalone server (`REDIS_URL`) and a cluster
//! (`REDIS_CLUSTER_URLS`).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{unique, Raw};
use serde_json::{json, Value};
use server_session::store::{now_ms, Record, SaveCondition, Store};
use server_session_redis::RedisStore;
use session_test_support::services::{listed, live_record, passport};

struct Fixture {
    store: RedisStore,
    raw: Raw,
}

impl Fixture {
    /// Under a prefix of its own, so that no other test's index keys or
    /// sessions show up in what a test scans or lists.
    fn new(store: RedisStore, raw: Raw) -> Self {
        let store = store.with_prefix(format!("{}:", unique("users")));
        Self { store, raw }
    }
}

async fn standalone() -> Option<Fixture> {
    let (store, raw) = common::standalone().await?;
    Some(Fixture::new(store, raw))
}

#[cfg(feature = "cluster")]
async fn cluster() -> Option<Fixture> {
    let (store, raw) = common::cluster().await?;
    Some(Fixture::new(store, raw))
}

/// Writes one test per server from an `async fn(Fixture)`.
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {
        mod standalone {
            $(
                #[tokio::test]
                async fn $case() {
                    if let Some(fixture) = super::standalone().await {
                        super::$case(fixture).await;
                    }
                }
            )*
        }
        #[cfg(feature = "cluster")]
        mod cluster {
            $(
                #[tokio::test]
                async fn $case() {
                    if let Some(fixture) = super::cluster().await {
                        super::$case(fixture).await;
                    }
                }
            )*
        }
    };
}

on_both!(
    node_written_sessions_are_indexed_by_index_existing_sessions,
    odd_user_ids_each_get_their_own_index,
    index_keys_are_no_sessions,
    prefixes_keep_their_indexes_apart,
    missing_sessions_lose_their_entries_after_the_grace,
    a_sign_in_that_grows_an_index_prunes_it,
    prune_user_indexes_drops_dead_entries_of_every_user,
);

/// A record holding `data`, live for a minute.
fn record(data: Value) -> Record {
    live_record(data, 60_000)
}

/// What express-session and connect-redis store for a signed-in session.
fn express_json(user: &Value) -> String {
    format!(
        r#"{{"cookie":{{"originalMaxAge":60000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}},"passport":{{"user":{user}}}}}"#
    )
}

/// Indexes and saves, as the layer does at sign-in.
async fn sign_in(store: &RedisStore, user: &str, id: &str) {
    store.index_user(user, id).await.expect("index_user");
    let saved = store
        .save(
            id,
            &record(json!({"passport": {"user": user}})),
            SaveCondition::Upsert,
        )
        .await
        .expect("save");
    assert!(matches!(
        saved,
        server_session::store::SaveOutcome::Saved(_)
    ));
}

/// The members of an index key, with their scores.
async fn entries(raw: &Raw, key: &str) -> Vec<(String, f64)> {
    raw.query(
        redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES"),
    )
    .await
}

/// connect-redis never writes the index; `index_existing_sessions` finds
/// its signed-in sessions (string and numeric users), skips the anonymous
/// and the unreadable ones and other prefixes' keys, and lists them with
/// the versions `load` gives.
async fn node_written_sessions_are_indexed_by_index_existing_sessions(f: Fixture) {
    let (ada, number) = (unique("ada"), 4_200_000_u64 + u64::from(rand_u16()));
    let (ada1, ada2, numeric, anonymous, corrupt) = (
        unique("a1"),
        unique("a2"),
        unique("n"),
        unique("anon"),
        unique("bad"),
    );
    for (id, json) in [
        (&ada1, express_json(&json!(ada))),
        (&ada2, express_json(&json!(ada))),
        (&numeric, express_json(&json!(number))),
        (
            &anonymous,
            r#"{"cookie":{"originalMaxAge":null,"httpOnly":true,"path":"/"},"n":1}"#.to_owned(),
        ),
        (&corrupt, "not json".to_owned()),
    ] {
        f.raw.set_ex(&f.store.key(id), json.as_bytes(), 600).await;
    }
    // Another app's session, under another prefix, holding the same user.
    let elsewhere = format!("{}:{}", unique("other"), unique("x"));
    f.raw
        .set_ex(&elsewhere, express_json(&json!(ada)).as_bytes(), 600)
        .await;

    assert!(
        listed(&f.store, &ada).await.is_empty(),
        "nothing indexed yet"
    );
    let added = f
        .store
        .index_existing_sessions(&passport())
        .await
        .expect("index_existing_sessions");
    assert_eq!(added, 3, "ada's two sessions and the numeric user's one");

    assert_eq!(
        listed(&f.store, &ada).await,
        BTreeSet::from([ada1.clone(), ada2.clone()])
    );
    let found = f
        .store
        .user_sessions(&passport(), &number.to_string())
        .await
        .expect("user_sessions of a numeric user");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, numeric);
    let loaded = f.store.load(&numeric).await.expect("load").expect("live");
    assert_eq!(
        found[0].1.version, loaded.version,
        "listing gives the version load gives, so a revocation can compare-and-set"
    );

    // Sessions signed in since are indexed by their sign-in; a second run
    // adds only what came meanwhile.
    assert_eq!(
        f.store
            .index_existing_sessions(&passport())
            .await
            .expect("a second run"),
        0
    );
    let _: i64 = f.raw.query(redis::cmd("DEL").arg(&elsewhere)).await;
}

/// Users with `:`, `*`, spaces, braces (a cluster hash tag), Unicode, or
/// that are another user's prefix, each have their own key, named by the
/// ID as it is, and never see each other's sessions.
async fn odd_user_ids_each_get_their_own_index(f: Fixture) {
    let base = unique("odd");
    let users = [
        format!("{base}:a"),
        format!("{base}:a:b"),
        format!("{base}*"),
        format!("{base} with spaces"),
        format!("{base}{{tag}}"),
        format!("{base}-üñí©ødé-💥"),
        format!("{base}\\[x]?"),
    ];
    let mut ids = Vec::new();
    for user in &users {
        let id = unique("s");
        sign_in(&f.store, user, &id).await;
        ids.push(id);
    }
    for (user, id) in users.iter().zip(&ids) {
        assert_eq!(
            listed(&f.store, user).await,
            BTreeSet::from([id.clone()]),
            "{user:?}"
        );
        let key = f.store.user_key(user);
        assert_eq!(key, format!("{}user:{user}", f.store.prefix()));
        let members: Vec<String> = entries(&f.raw, &key)
            .await
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(members, vec![id.clone()], "{user:?}");
    }
    // A glob never reaches a key: `*` lists only the user named `<base>*`.
    assert!(listed(&f.store, &format!("{base}:*")).await.is_empty());
}

/// `len` and `all` count sessions, not index keys; `clear` deletes both.
async fn index_keys_are_no_sessions(f: Fixture) {
    let ada = unique("ada");
    let (one, two) = (unique("s"), unique("s"));
    sign_in(&f.store, &ada, &one).await;
    sign_in(&f.store, &ada, &two).await;
    assert_eq!(f.store.len().await.expect("len"), 2);
    let all: BTreeSet<String> = common::stored_ids(&f.store).await;
    assert_eq!(all, BTreeSet::from([one, two]));
    f.store.clear().await.expect("clear");
    let exists: i64 = f
        .raw
        .query(redis::cmd("EXISTS").arg(f.store.user_key(&ada)))
        .await;
    assert_eq!(exists, 0, "clear deletes the index too");
    assert!(listed(&f.store, &ada).await.is_empty());
}

/// A store sees only the indexes under its own prefix.
async fn prefixes_keep_their_indexes_apart(f: Fixture) {
    let other = f.store.clone().with_prefix(format!("{}:", unique("other")));
    let ada = unique("ada");
    let (mine, theirs) = (unique("s"), unique("s"));
    sign_in(&f.store, &ada, &mine).await;
    sign_in(&other, &ada, &theirs).await;
    assert_eq!(listed(&f.store, &ada).await, BTreeSet::from([mine]));
    assert_eq!(listed(&other, &ada).await, BTreeSet::from([theirs]));
    assert!(f.store.user_key(&ada).starts_with(f.store.prefix()));
    other.clear().await.expect("clear");
}

/// An entry whose session is missing stays while it is young (its sign-in
/// may not have saved yet) and is dropped by a listing once past the hour's
/// grace; a destroyed session is never listed either way.
async fn missing_sessions_lose_their_entries_after_the_grace(f: Fixture) {
    let ada = unique("ada");
    let key = f.store.user_key(&ada);
    let (live, signing_in, long_gone) = (unique("live"), unique("new"), unique("gone"));
    sign_in(&f.store, &ada, &live).await;
    f.store
        .index_user(&ada, &signing_in)
        .await
        .expect("index_user");
    let two_hours_ago = now_ms() - 2 * 3_600_000;
    let _: i64 = f
        .raw
        .query(
            redis::cmd("ZADD")
                .arg(&key)
                .arg(two_hours_ago)
                .arg(&long_gone),
        )
        .await;

    assert_eq!(listed(&f.store, &ada).await, BTreeSet::from([live.clone()]));
    let members: BTreeSet<String> = entries(&f.raw, &key)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        members,
        BTreeSet::from([live, signing_in]),
        "the old dead entry went, the young one stays"
    );
}

/// A sign-in that grows an index to 64 entries drops, in the background,
/// the dead ones past the grace; the live and the young stay.
async fn a_sign_in_that_grows_an_index_prunes_it(f: Fixture) {
    let ada = unique("ada");
    let key = f.store.user_key(&ada);
    let live = unique("live");
    sign_in(&f.store, &ada, &live).await;
    let long_ago = now_ms() - 2 * 3_600_000;
    let mut zadd = redis::cmd("ZADD");
    zadd.arg(&key);
    for n in 0..62 {
        zadd.arg(long_ago).arg(format!("gone-{n}"));
    }
    let _: i64 = f.raw.query(&zadd).await;
    let newest = unique("new");
    sign_in(&f.store, &ada, &newest).await; // the 64th entry

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let members: BTreeSet<String> = entries(&f.raw, &key)
            .await
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        if members == BTreeSet::from([live.clone(), newest.clone()]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the index was not pruned: {} entries",
            members.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The admin job drops every user's dead entries past the grace.
async fn prune_user_indexes_drops_dead_entries_of_every_user(f: Fixture) {
    let (ada, bob) = (unique("ada"), unique("bob"));
    let live = unique("live");
    sign_in(&f.store, &ada, &live).await;
    let long_ago = now_ms() - 2 * 3_600_000;
    for (user, dead) in [(&ada, "gone-a"), (&bob, "gone-b1"), (&bob, "gone-b2")] {
        let _: i64 = f
            .raw
            .query(
                redis::cmd("ZADD")
                    .arg(f.store.user_key(user))
                    .arg(long_ago)
                    .arg(dead),
            )
            .await;
    }
    assert_eq!(f.store.prune_user_indexes().await.expect("prune"), 3);
    assert_eq!(entries(&f.raw, &f.store.user_key(&ada)).await.len(), 1);
    let bob_left: i64 = f
        .raw
        .query(redis::cmd("EXISTS").arg(f.store.user_key(&bob)))
        .await;
    assert_eq!(bob_left, 0, "an index with no entry left is gone");
}

/// A small number no other run is likely to use.
fn rand_u16() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    (nanos % 65_521) as u16
}

/// On a cluster the index and the sessions it names sit on different
/// masters; listing reads each on its own node (a cross-slot command would
/// fail with CROSSSLOT), and revoking is a plain `destroy`.
#[cfg(feature = "cluster")]
#[tokio::test]
async fn cluster_index_and_sessions_are_on_different_masters() {
    let Some(f) = cluster().await else {
        return;
    };
    let ada = unique("ada");
    let index_master = master_of(&f.raw, &f.store.user_key(&ada)).await;
    // Three sessions, at least one on a master the index is not on.
    let mut ids = Vec::new();
    while ids.len() < 3 {
        let id = unique("s");
        let elsewhere = master_of(&f.raw, &f.store.key(&id)).await != index_master;
        if elsewhere || ids.len() < 2 {
            ids.push(id);
        }
    }
    let mut masters = BTreeSet::from([index_master]);
    for id in &ids {
        masters.insert(master_of(&f.raw, &f.store.key(id)).await);
        sign_in(&f.store, &ada, id).await;
    }
    assert!(masters.len() >= 2, "keys on {masters:?}");
    let expected: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(listed(&f.store, &ada).await, expected);
    f.store.destroy(&ids[0]).await.expect("destroy");
    assert_eq!(listed(&f.store, &ada).await.len(), 2);
}

/// The port of the master owning `key`'s slot.
#[cfg(feature = "cluster")]
async fn master_of(raw: &Raw, key: &str) -> i64 {
    use redis::Value;
    let slot: i64 = raw
        .query(redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
        .await;
    // `[[start, end, [host, port, id…], replica…], …]`
    let ranges: Vec<Vec<Value>> = raw.query(redis::cmd("CLUSTER").arg("SLOTS")).await;
    ranges
        .iter()
        .find_map(|range| match range.as_slice() {
            [Value::Int(start), Value::Int(end), Value::Array(master), ..]
                if (*start..=*end).contains(&slot) =>
            {
                match master.get(1) {
                    Some(Value::Int(port)) => Some(*port),
                    _ => None,
                }
            }
            _ => None,
        })
        .expect("every slot has a master")
}
