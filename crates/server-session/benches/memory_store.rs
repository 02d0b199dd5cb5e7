//! Micro-benchmarks of [`MemoryStore`] `load`, `load_and_touch`, `save`
//! and `touch` on a store of 100,000 sessions, and of inserting new
//! sessions (into a store with room, and into a full store, which evicts),
//! from 1 thread and from 2 threads at once (the machine the numbers in
//! BENCHMARKS.md come from has 2 cores). The time reported is per operation
//! of one thread.
//! Run: `cargo bench -p server-session --bench memory_store`.

// criterion_group! defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::FutureExt;
use server_session::store::{now_ms, SaveCondition, Store};
use server_session::{CookieData, MemoryStore, Record};

const SESSIONS: usize = 100_000;
const THREADS: usize = 2;
/// Fresh IDs per thread for inserting into the full store: more than the
/// store holds, so an ID has usually been evicted before it comes round
/// again and the insert really adds (and evicts).
const FRESH_IDS: usize = 1 << 18;

fn record() -> Record {
    let cookie = CookieData::default()
        .with_original_max_age_ms(Some(86_400_000))
        .with_expires_ms(Some(now_ms() + 86_400_000));
    let mut data = serde_json::Map::new();
    data.insert("counter".into(), serde_json::json!(42));
    Record::new(cookie, data)
}

type Op = Arc<dyn Fn(usize, u64) + Send + Sync>;

/// Runs `op` `iters` times on each of `threads` threads, all started
/// together; returns the slowest thread's time.
fn contended(threads: usize, iters: u64, op: &Op) -> Duration {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let (op, barrier) = (Arc::clone(op), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for i in 0..iters {
                    op(thread, i);
                }
                start.elapsed()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|t| t.join().expect("bench thread"))
        .max()
        .unwrap_or_default()
}

/// Each thread walks the IDs with its own stride, so the threads meet on
/// shards (and sometimes keys) as real requests would.
fn pick(len: usize, thread: usize, i: u64) -> usize {
    ((i as usize).wrapping_mul(7919 + thread * 104_729) + thread) % len
}

fn filled(store: &MemoryStore, ids: &[String]) {
    // One record per session, as real sessions have (a shared record would
    // make the threads bump one reference count, which real traffic does
    // not).
    for id in ids {
        let _ = store
            .save(id, &record(), SaveCondition::Upsert)
            .now_or_never()
            .expect("MemoryStore futures are ready at once");
    }
}

fn store_ops(c: &mut Criterion) {
    // Room for the inserts of "insert new + destroy", whatever the default
    // bound is: these rows measure the store below its bound.
    let store = MemoryStore::new().with_max_sessions(2 * SESSIONS);
    let ids: Arc<Vec<String>> = Arc::new((0..SESSIONS).map(|i| format!("{i:032}")).collect());
    filled(&store, &ids);
    // At its bound: every insert of a new ID has to make room.
    let full = MemoryStore::new().with_max_sessions(SESSIONS);
    filled(&full, &ids);
    // One record per thread for saves and touches.
    let records = Arc::new((0..THREADS).map(|_| record()).collect::<Vec<_>>());
    let fresh: Arc<Vec<Vec<String>>> = Arc::new(
        (0..THREADS)
            .map(|t| (0..FRESH_IDS).map(|i| format!("new-{t}-{i:026}")).collect())
            .collect(),
    );

    let ops: Vec<(&str, Op)> = vec![
        ("load", {
            let (store, ids) = (store.clone(), Arc::clone(&ids));
            Arc::new(move |t, i| {
                let _ = store.load(&ids[pick(ids.len(), t, i)]).now_or_never();
            })
        }),
        ("save (upsert)", {
            let (store, ids, records) = (store.clone(), Arc::clone(&ids), Arc::clone(&records));
            Arc::new(move |t, i| {
                let id = &ids[pick(ids.len(), t, i)];
                let _ = store
                    .save(id, &records[t], SaveCondition::Upsert)
                    .now_or_never();
            })
        }),
        ("load_and_touch", {
            let (store, ids) = (store.clone(), Arc::clone(&ids));
            Arc::new(move |t, i| {
                let _ = store
                    .load_and_touch(&ids[pick(ids.len(), t, i)])
                    .now_or_never();
            })
        }),
        ("insert new + destroy", {
            let (store, fresh, records) = (store.clone(), Arc::clone(&fresh), Arc::clone(&records));
            Arc::new(move |t, i| {
                let id = &fresh[t][i as usize % 1024];
                let _ = store
                    .save(id, &records[t], SaveCondition::IfAbsent)
                    .now_or_never();
                let _ = store.destroy(id).now_or_never();
            })
        }),
        ("insert new into a full store (evicts)", {
            let (full, fresh, records) = (full.clone(), Arc::clone(&fresh), Arc::clone(&records));
            Arc::new(move |t, i| {
                let id = &fresh[t][i as usize % FRESH_IDS];
                let _ = full
                    .save(id, &records[t], SaveCondition::Upsert)
                    .now_or_never();
            })
        }),
        ("touch", {
            let (store, ids, records) = (store.clone(), Arc::clone(&ids), Arc::clone(&records));
            Arc::new(move |t, i| {
                let id = &ids[pick(ids.len(), t, i)];
                let _ = store.touch(id, &records[t]).now_or_never();
            })
        }),
        ("load, every thread on one session", {
            let (store, ids) = (store.clone(), Arc::clone(&ids));
            Arc::new(move |_, _| {
                let _ = store.load(&ids[0]).now_or_never();
            })
        }),
    ];
    for threads in [1, THREADS] {
        let mut group = c.benchmark_group(format!("memory_store/{threads} thread(s)"));
        for (name, op) in &ops {
            group.bench_function(*name, |b| {
                b.iter_custom(|iters| contended(threads, iters, op))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, store_ops);
criterion_main!(benches);
