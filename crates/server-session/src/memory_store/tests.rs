use std::time::Duration;

use serde_json::{json, Map, Value};

use super::map::{Sessions, AUTO_SWEEP_CYCLE_MS};
use super::MemoryStore;
use crate::clock;
use crate::store::{CookieData, Record, SaveCondition, SaveOutcome, Store, Version};

const HOUR_MS: i64 = 60 * 60 * 1000;

fn record(expires_ms: Option<i64>, data: Value) -> Record {
    let Value::Object(map) = data else {
        panic!("test data must be an object");
    };
    Record::new(CookieData::default().with_expires_ms(expires_ms), map)
}

/// A record with no data whose cookie expires at `expires_ms`.
fn no_data(expires_ms: Option<i64>) -> Record {
    record(expires_ms, json!({}))
}

fn saved(outcome: SaveOutcome) -> Version {
    match outcome {
        SaveOutcome::Saved(version) => version,
        SaveOutcome::Conflict => panic!("expected the save to succeed"),
    }
}

/// Upserts `record` under `id` through the `Store` API.
async fn upsert(store: &MemoryStore, id: &str, record: &Record) -> Version {
    saved(
        store
            .save(id, record, SaveCondition::Upsert)
            .await
            .expect("save"),
    )
}

/// A map on a fixed clock, so expiry is tested without sleeping.
fn sessions() -> Sessions {
    Sessions::new(16, 10_000)
}

#[test]
fn load_hides_and_removes_expired_records() {
    let map = sessions();
    saved(map.save("a", &no_data(Some(1_000)), SaveCondition::Upsert, 0));
    assert!(map.load("a", 999).expect("load").is_some());
    assert_eq!(map.count(), 1);
    assert!(
        map.load("a", 1_000).expect("load").is_none(),
        "expires is exclusive"
    );
    assert_eq!(map.count(), 0, "load removed the expired entry");
}

#[test]
fn browser_session_records_live_for_the_idle_lifetime_after_save_or_touch() {
    let map = sessions(); // idle lifetime 10 s
    let browser = record(None, json!({"n": 1}));
    saved(map.save("a", &browser, SaveCondition::Upsert, 0));
    assert!(map.load("a", 9_999).expect("load").is_some());
    map.touch("a", &browser, 9_000);
    assert!(
        map.load("a", 18_999).expect("load").is_some(),
        "touch restarted the idle lifetime"
    );
    assert!(map.load("a", 19_000).expect("load").is_none());
}

#[test]
fn touch_replaces_the_cookie_and_expiry_but_not_data_or_version() {
    let map = sessions();
    let version = saved(map.save(
        "a",
        &record(Some(1_000), json!({"n": 1})),
        SaveCondition::Upsert,
        0,
    ));
    // The session as a request holds it: same cookie path, later expiry,
    // and data the store must ignore.
    let touched = record(Some(5_000), json!({"n": 2}));
    map.touch("a", &touched, 500);
    let loaded = map
        .load("a", 4_000)
        .expect("load")
        .expect("touch extended the expiry");
    assert_eq!(loaded.version, version);
    assert_eq!(loaded.record.data()["n"], 1);
    assert_eq!(loaded.record.cookie().expires_ms(), Some(5_000));
}

#[test]
fn touch_never_revives_or_creates() {
    let map = sessions();
    saved(map.save("a", &no_data(Some(1_000)), SaveCondition::Upsert, 0));
    map.touch("a", &no_data(Some(9_000)), 1_000);
    assert!(map.load("a", 1_001).expect("load").is_none());
    map.touch("missing", &no_data(Some(9_000)), 1_000);
    assert!(map.load("missing", 1_001).expect("load").is_none());
    assert_eq!(map.count(), 0);
}

#[test]
fn touch_with_a_past_expiry_deletes() {
    let map = sessions();
    saved(map.save("a", &no_data(Some(1_000)), SaveCondition::Upsert, 0));
    map.touch("a", &no_data(Some(100)), 500);
    assert_eq!(map.count(), 0);
}

#[test]
fn versions_never_repeat_after_destroy_and_recreate() {
    let map = sessions();
    let first = saved(map.save("a", &no_data(None), SaveCondition::IfAbsent, 0));
    map.destroy("a");
    let second = saved(map.save("a", &no_data(None), SaveCondition::IfAbsent, 0));
    assert_ne!(first, second);
    assert_eq!(
        map.save("a", &no_data(None), SaveCondition::IfVersion(first), 0),
        SaveOutcome::Conflict
    );
}

#[test]
fn conditions_see_an_expired_entry_as_absent() {
    let map = sessions();
    let version = saved(map.save("a", &no_data(Some(1_000)), SaveCondition::Upsert, 0));
    assert_eq!(
        map.save(
            "a",
            &no_data(Some(9_000)),
            SaveCondition::IfVersion(version),
            1_000
        ),
        SaveOutcome::Conflict,
        "no resurrection"
    );
    saved(map.save("a", &no_data(Some(9_000)), SaveCondition::IfAbsent, 1_000));
    assert_eq!(map.count(), 1);
}

#[test]
fn a_save_with_a_past_expiry_deletes_and_checks_its_condition_first() {
    let map = sessions();
    let version = saved(map.save("a", &no_data(Some(1_000)), SaveCondition::Upsert, 0));
    assert_eq!(
        map.save("a", &no_data(Some(10)), SaveCondition::IfAbsent, 0),
        SaveOutcome::Conflict
    );
    assert_eq!(map.count(), 1);
    saved(map.save(
        "a",
        &no_data(Some(10)),
        SaveCondition::IfVersion(version),
        500,
    ));
    assert_eq!(map.count(), 0);
    saved(map.save("b", &no_data(Some(10)), SaveCondition::Upsert, 500));
    assert_eq!(map.count(), 0, "nothing created");
}

#[test]
fn a_full_store_drops_expired_records_before_live_ones() {
    let map = sessions();
    map.set_max_sessions(10);
    for i in 0..5 {
        saved(map.save(
            &format!("short{i}"),
            &no_data(Some(50)),
            SaveCondition::Upsert,
            0,
        ));
        saved(map.save(
            &format!("long{i}"),
            &no_data(Some(HOUR_MS)),
            SaveCondition::Upsert,
            0,
        ));
    }
    for i in 5..10 {
        saved(map.save(
            &format!("long{i}"),
            &no_data(Some(HOUR_MS)),
            SaveCondition::Upsert,
            100,
        ));
    }
    assert_eq!(map.count(), 10);
    for i in 0..10 {
        assert!(
            map.load(&format!("long{i}"), 100).expect("load").is_some(),
            "long{i} was evicted"
        );
    }
}

#[test]
fn replacing_a_record_in_a_full_store_evicts_nothing() {
    let map = sessions();
    map.set_max_sessions(3);
    for id in ["a", "b", "c"] {
        saved(map.save(id, &no_data(Some(HOUR_MS)), SaveCondition::Upsert, 0));
    }
    for _ in 0..10 {
        saved(map.save(
            "b",
            &record(Some(HOUR_MS), json!({"x": 1})),
            SaveCondition::Upsert,
            0,
        ));
    }
    for id in ["a", "b", "c"] {
        assert!(map.load(id, 1).expect("load").is_some());
    }
}

#[test]
fn eviction_prefers_records_closest_to_expiry() {
    let map = sessions();
    map.set_max_sessions(64);
    for i in 0..64 {
        saved(map.save(
            &format!("soon{i}"),
            &no_data(Some(HOUR_MS + i)),
            SaveCondition::Upsert,
            0,
        ));
    }
    for i in 0..64 {
        saved(map.save(
            &format!("late{i}"),
            &no_data(Some(10 * HOUR_MS + i)),
            SaveCondition::Upsert,
            0,
        ));
    }
    assert_eq!(map.count(), 64);
    let late = map
        .expiries()
        .into_iter()
        .filter(|&at| at >= 10 * HOUR_MS)
        .count();
    // Sampling is approximate (52 to 64 over 5000 runs); random eviction
    // would keep about half.
    assert!(
        late >= 48,
        "only {late} of 64 survivors were the later-expiring records"
    );
}

#[test]
fn count_matches_the_entries_after_any_mix_of_operations() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let map = sessions();
    map.set_max_sessions(20);
    let mut now = 0;
    for _ in 0..5_000 {
        now += rng.random_range(0..20);
        let id = format!("s{}", rng.random_range(0..40));
        let expires = match rng.random_range(0..4) {
            0 => None,
            1 => Some(now - 1),
            _ => Some(now + rng.random_range(1..500)),
        };
        let rec = no_data(expires);
        match rng.random_range(0..8) {
            0 => {
                let _ = map.load(&id, now).expect("load");
            }
            1 => map.touch(&id, &rec, now),
            2 => map.destroy(&id),
            3 => {
                map.sweep(now);
            }
            4 => {
                let version = map
                    .load(&id, now)
                    .expect("load")
                    .map(|loaded| loaded.version);
                let _ = map.save(
                    &id,
                    &rec,
                    SaveCondition::IfVersion(version.unwrap_or(Version::from_u64(0))),
                    now,
                );
            }
            5 => {
                let _ = map.save(&id, &rec, SaveCondition::IfAbsent, now);
            }
            _ => {
                let _ = map.save(&id, &rec, SaveCondition::Upsert, now);
            }
        }
        assert_eq!(map.count(), map.expiries().len());
        assert!(map.count() <= 20);
    }
    assert_eq!(map.live_len(now), map.all(now).expect("all").len());
    map.clear();
    assert_eq!(map.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_sessions_bound_holds_under_concurrent_inserts() {
    let store = MemoryStore::new().with_max_sessions(100);
    let expires = clock::now_ms() + HOUR_MS;
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..500 {
                    let id = format!("{task}-{i}");
                    let outcome = store
                        .save(
                            &id,
                            &record(Some(expires + i), json!({"i": i})),
                            SaveCondition::IfAbsent,
                        )
                        .await
                        .expect("memory store never fails");
                    saved(outcome);
                    assert!(store.sessions.count() <= 100 + 8, "bound far exceeded");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("insert task");
    }
    assert!(
        store.sessions.count() <= 100,
        "{} entries",
        store.sessions.count()
    );
    assert_eq!(store.sessions.count(), store.sessions.expiries().len());
    assert_eq!(store.len().await.expect("len"), store.sessions.count());
}

#[tokio::test]
async fn browser_sessions_expire_after_a_short_idle_lifetime() {
    let store = MemoryStore::new().with_idle_lifetime(Duration::from_millis(600));
    let browser = record(None, json!({"n": 1}));
    upsert(&store, "a", &browser).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.touch("a", &browser).await.expect("touch");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        store.load("a").await.expect("load").is_some(),
        "touch extended the lifetime past the first 600 ms"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(store.load("a").await.expect("load").is_none());
}

#[tokio::test]
async fn sweeper_removes_expired_entries() {
    let store = MemoryStore::new();
    let soon = clock::now_ms() + 50;
    for i in 0..100 {
        upsert(&store, &format!("s{i}"), &no_data(Some(soon))).await;
    }
    upsert(&store, "live", &no_data(Some(soon + HOUR_MS))).await;
    let sweeper = store.spawn_sweeper(Duration::from_millis(20));
    for _ in 0..200 {
        if store.sessions.count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        store.sessions.count(),
        1,
        "the sweeper removed expired entries without any load"
    );
    assert!(!sweeper.is_finished());
    sweeper.abort();
    assert!(store.load("live").await.expect("load").is_some());
}

#[tokio::test]
async fn sweeper_stops_when_the_last_store_clone_is_dropped() {
    let store = MemoryStore::new();
    let clone = store.clone();
    // An hour-long period: the task must end on the drop, not on a tick.
    let sweeper = store.spawn_sweeper(Duration::from_secs(3600));
    drop(store);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!sweeper.is_finished(), "a clone is still alive");
    drop(clone);
    for _ in 0..100 {
        if sweeper.is_finished() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the sweeper outlived its store");
}

#[tokio::test]
async fn dropping_the_handle_stops_the_sweeper() {
    let store = MemoryStore::new();
    let sweeper = store.spawn_sweeper(Duration::from_millis(10));
    drop(sweeper);
    upsert(&store, "a", &no_data(Some(clock::now_ms() + 30))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store.sessions.count(),
        1,
        "no sweep ran after the handle was dropped"
    );
    assert_eq!(store.sweep(), 1);
}

#[tokio::test]
async fn a_detached_sweeper_keeps_sweeping() {
    let store = MemoryStore::new();
    store.spawn_sweeper(Duration::from_millis(10)).detach();
    upsert(&store, "a", &no_data(Some(clock::now_ms() + 30))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.sessions.count(), 0);
}

#[test]
fn settings_are_shared_by_clones_and_debug_shows_no_data() {
    let store = MemoryStore::new();
    let clone = store
        .clone()
        .with_max_sessions(0)
        .with_idle_lifetime(Duration::from_secs(5));
    assert_eq!(store.max_sessions(), Some(1), "clamped to 1 and shared");
    assert_eq!(store.idle_lifetime(), Duration::from_secs(5));
    assert_eq!(
        MemoryStore::new().max_sessions(),
        Some(MemoryStore::DEFAULT_MAX_SESSIONS)
    );
    assert!(MemoryStore::new().auto_sweep());
    assert_eq!(
        MemoryStore::new().idle_lifetime(),
        Duration::from_secs(86_400)
    );
    let mut data = Map::new();
    data.insert("secret".into(), json!("hunter2"));
    let _ = clone.sessions.save(
        "id",
        &Record::new(CookieData::default(), data),
        SaveCondition::Upsert,
        0,
    );
    let debug = format!("{clone:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("\"id\""),
        "{debug}"
    );
}

#[test]
fn data_kept_as_text_comes_back_exactly_as_saved() {
    // The store keeps the data as JSON text, so everything a session can
    // hold must survive the round trip: key order (express's JSON order),
    // nesting, number kinds, floats to the last bit, and any string.
    let map = sessions();
    let data = json!({
        "zeta": 1,
        "alpha": {"nested": [1, 2.5, null, true, "x"], "empty": {}},
        "max": u64::MAX,
        "min": i64::MIN,
        "float": 0.1 + 0.2,
        "tiny": 5e-324,
        "text": "quote \" backslash \\ newline \n emoji 🦀 nul \u{0}",
        "": "empty key",
    });
    let saved_record = record(Some(HOUR_MS), data.clone());
    let version = saved(map.save("a", &saved_record, SaveCondition::Upsert, 0));
    let loaded = map.load("a", 1).expect("load").expect("live");
    assert_eq!(loaded.version, version);
    assert_eq!(loaded.record, saved_record);
    assert_eq!(
        loaded.record.data().keys().collect::<Vec<_>>(),
        ["zeta", "alpha", "max", "min", "float", "tiny", "text", ""],
        "insertion order kept"
    );
    assert_eq!(loaded.record.to_json(), saved_record.to_json());

    let (touched, _) = map.load_and_touch("a", 2).expect("load").expect("live");
    assert_eq!(touched.record.data(), saved_record.data());
    let listed = map.all(3).expect("all");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].1.data(), saved_record.data());
}

#[test]
fn a_record_without_data_round_trips() {
    let map = sessions();
    let empty = no_data(Some(HOUR_MS));
    saved(map.save("a", &empty, SaveCondition::Upsert, 0));
    let loaded = map.load("a", 1).expect("load").expect("live");
    assert!(loaded.record.data().is_empty());
    assert_eq!(loaded.record, empty);
}

#[test]
fn a_loaded_record_is_a_copy_the_store_does_not_share() {
    let map = sessions();
    saved(map.save(
        "a",
        &record(Some(HOUR_MS), json!({"n": 1})),
        SaveCondition::Upsert,
        0,
    ));
    let mut first = map.load("a", 1).expect("load").expect("live").record;
    std::sync::Arc::make_mut(&mut first.data).insert("n".into(), json!(2));
    let second = map.load("a", 1).expect("load").expect("live").record;
    assert_eq!(second.data()["n"], 1);
}

const DAY_MS: i64 = 24 * HOUR_MS;

#[test]
fn a_new_store_sweeps_expired_sessions_on_writes_alone() {
    // Nobody calls `sweep` or spawns a sweeper: the writes themselves must
    // keep expired sessions from piling up.
    let store = MemoryStore::new();
    let map = &store.sessions;
    // One new session every 10 ms, each living 1 s: 200 s of traffic.
    const STEP_MS: i64 = 10;
    const LIFETIME_MS: i64 = 1_000;
    const WRITES: i64 = 20_000;
    assert!(
        store
            .max_sessions()
            .map_or(true, |max| max > WRITES as usize),
        "the bound must not be what removes them"
    );
    let mut most_expired_held = 0;
    for i in 0..WRITES {
        let now = i * STEP_MS;
        saved(map.save(
            &format!("s{i}"),
            &no_data(Some(now + LIFETIME_MS)),
            SaveCondition::IfAbsent,
            now,
        ));
        if i % 500 == 499 {
            let expired = map.expiries().into_iter().filter(|&at| at <= now).count();
            most_expired_held = most_expired_held.max(expired);
        }
    }
    // Every shard is swept once per cycle, so what is held expired is at
    // most what expired during the last cycle and one step.
    let step_ms = AUTO_SWEEP_CYCLE_MS / map.shard_count() as i64;
    let bound = ((AUTO_SWEEP_CYCLE_MS + step_ms) / STEP_MS) as usize + 1;
    assert!(
        most_expired_held <= bound,
        "{most_expired_held} expired sessions held at once (bound {bound}) of {WRITES} written"
    );
}

#[test]
fn a_new_store_does_not_grow_past_its_default_bound() {
    let store = MemoryStore::new();
    let bound = store.max_sessions().expect("a new store is bounded");
    let map = &store.sessions;
    let live = record(Some(DAY_MS), json!({"n": 1}));
    let inserts = bound + 1_000;
    for i in 0..inserts {
        saved(map.save(&format!("s{i}"), &live, SaveCondition::IfAbsent, 0));
    }
    assert!(map.count() <= bound, "{} entries", map.count());
    assert_eq!(map.count(), map.expiries().len());
    assert!(
        map.count() >= bound - bound / 100,
        "evicted far more than needed: {} left",
        map.count()
    );
    assert!(
        map.load(&format!("s{}", inserts - 1), 1)
            .expect("load")
            .is_some(),
        "the newest save was stored"
    );
}

#[test]
fn at_the_bound_idle_sessions_go_before_new_ones_and_an_active_users() {
    // The default bound on a fixed shard count, so the outcome does not
    // depend on this machine's cores.
    const BOUND: usize = MemoryStore::DEFAULT_MAX_SESSIONS;
    let map = Sessions::new(64, DAY_MS);
    map.set_max_sessions(BOUND);
    // A store full of idle sessions expiring within the next hour or so,
    // the soonest first, and one user who is active throughout.
    saved(map.save("alice", &no_data(Some(DAY_MS)), SaveCondition::IfAbsent, 0));
    for i in 0..BOUND - 1 {
        saved(map.save(
            &format!("idle{i}"),
            &no_data(Some(HOUR_MS + i as i64)),
            SaveCondition::IfAbsent,
            0,
        ));
    }
    // A client creating sessions as fast as it can (each living a day, as
    // the default cookie does), while alice keeps using hers.
    let flood = BOUND / 2;
    for j in 0..flood {
        let now = 1 + j as i64;
        saved(map.save(
            &format!("new{j}"),
            &no_data(Some(now + DAY_MS)),
            SaveCondition::IfAbsent,
            now,
        ));
        if j % 100 == 0 {
            map.touch("alice", &no_data(Some(now + DAY_MS)), now);
        }
    }
    let now = 1 + flood as i64;
    assert!(map.count() <= BOUND);
    assert!(
        map.load("alice", now).expect("load").is_some(),
        "the active user was evicted"
    );
    let new_lost = (0..flood)
        .filter(|j| map.load(&format!("new{j}"), now).expect("load").is_none())
        .count();
    assert_eq!(
        new_lost, 0,
        "sessions expiring in a day were evicted while ones expiring within the hour remained"
    );
    let survives = |i: usize| map.load(&format!("idle{i}"), now).expect("load").is_some();
    let soonest_quarter_kept = (0..BOUND / 4).filter(|&i| survives(i)).count();
    let latest_quarter_lost = (BOUND * 3 / 4..BOUND - 1).filter(|&i| !survives(i)).count();
    assert_eq!(
        (soonest_quarter_kept, latest_quarter_lost),
        (0, 0),
        "the idle sessions evicted were not the ones expiring soonest"
    );
}

#[test]
fn at_the_bound_expired_sessions_go_before_any_live_one() {
    const BOUND: usize = 10_000;
    let map = Sessions::new(64, DAY_MS);
    map.set_max_sessions(BOUND);
    for i in 0..BOUND / 2 {
        saved(map.save(
            &format!("old{i}"),
            &no_data(Some(1_000)),
            SaveCondition::IfAbsent,
            0,
        ));
        saved(map.save(
            &format!("live{i}"),
            &no_data(Some(HOUR_MS)),
            SaveCondition::IfAbsent,
            0,
        ));
    }
    assert_eq!(map.count(), BOUND);
    // The "old" half has expired; new sessions arrive.
    for i in 0..BOUND / 2 {
        saved(map.save(
            &format!("new{i}"),
            &no_data(Some(DAY_MS)),
            SaveCondition::IfAbsent,
            2_000,
        ));
    }
    let live_lost = (0..BOUND / 2)
        .filter(|i| {
            map.load(&format!("live{i}"), 2_000)
                .expect("load")
                .is_none()
        })
        .count();
    assert_eq!(
        live_lost, 0,
        "live sessions evicted while expired ones were held"
    );
    let new_lost = (0..BOUND / 2)
        .filter(|i| map.load(&format!("new{i}"), 2_000).expect("load").is_none())
        .count();
    assert_eq!(new_lost, 0);
    assert_eq!(map.count(), BOUND);
}

#[test]
fn unbounded_and_manual_sweeping_are_explicit_opt_outs() {
    let store = MemoryStore::new()
        .with_max_sessions(2)
        .unbounded()
        .with_auto_sweep(false);
    assert_eq!(store.max_sessions(), None);
    assert!(!store.auto_sweep());
    // A thousand sessions, one every 100 ms, each expiring 100 ms after its
    // save: saves keep coming long after the first ones expired.
    let save_a_thousand = |map: &Sessions| {
        for i in 0..1_000 {
            let now = i64::from(i) * 100;
            saved(map.save(
                &format!("s{i}"),
                &no_data(Some(now + 100)),
                SaveCondition::IfAbsent,
                now,
            ));
        }
    };
    let map = &store.sessions;
    save_a_thousand(map);
    assert_eq!(map.count(), 1_000, "nothing evicted, nothing swept");
    assert_eq!(map.sweep(100_000), 1_000, "a manual sweep removes them all");

    let swept = MemoryStore::new()
        .with_auto_sweep(false)
        .with_auto_sweep(true);
    save_a_thousand(&swept.sessions);
    assert!(
        swept.sessions.count() < 1_000,
        "turned back on, writes sweep again"
    );
}

#[test]
fn touches_and_load_and_touch_sweep_too() {
    // A store whose traffic is returning users only (no new sessions) must
    // still lose its expired records.
    let store = MemoryStore::new();
    let map = &store.sessions;
    for i in 0..1_000 {
        saved(map.save(
            &format!("gone{i}"),
            &no_data(Some(1_000)),
            SaveCondition::IfAbsent,
            0,
        ));
    }
    saved(map.save("alice", &no_data(None), SaveCondition::IfAbsent, 0));
    saved(map.save("bob", &no_data(None), SaveCondition::IfAbsent, 0));
    let steps = map.shard_count() as i64 + 1;
    let step_ms = AUTO_SWEEP_CYCLE_MS / map.shard_count() as i64;
    for k in 0..steps {
        let now = 2_000 + k * step_ms;
        assert!(map.load_and_touch("alice", now).expect("load").is_some());
        map.touch("bob", &no_data(None), now);
    }
    assert_eq!(map.count(), 2, "only the two active sessions are left");
}

#[test]
fn a_session_touched_after_being_picked_for_eviction_is_spared() {
    // One shard, so every eviction comes from its queue: 64 sessions, a
    // batch of 64 / 32 = 2 picked at a time, the soonest to expire first.
    let map = Sessions::new(1, DAY_MS);
    map.set_max_sessions(64);
    let expiring = |i: i64| no_data(Some(HOUR_MS + i));
    for i in 0..64 {
        saved(map.save(&format!("e{i}"), &expiring(i), SaveCondition::IfAbsent, 0));
    }
    let present = |id: &str| map.load(id, 10).expect("load").is_some();

    // Picks e0 and e1, evicts e0.
    saved(map.save("new0", &expiring(DAY_MS), SaveCondition::IfAbsent, 1));
    assert!(!present("e0") && present("e1"));
    // e1's user comes back before the next insert.
    map.touch("e1", &no_data(Some(DAY_MS)), 2);
    saved(map.save("new1", &expiring(DAY_MS), SaveCondition::IfAbsent, 3));
    assert!(present("e1"), "a touched session was evicted");
    assert!(!present("e2"), "the next soonest went instead");
    // e3 was picked with e2 and is next.
    saved(map.save("new2", &expiring(DAY_MS), SaveCondition::IfAbsent, 4));
    assert!(!present("e3") && present("e4"));
    assert_eq!(map.count(), 64);
}
