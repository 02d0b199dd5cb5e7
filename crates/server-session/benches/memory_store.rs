//! Micro-benchmarks of [`MemoryStore`] `load`, `save` and `touch`, each
//! from 2 threads at once on a shared store of 100,000 sessions (the
//! machine the numbers in BENCHMARKS.md come from has 2 cores). The time
//! reported is per operation of one thread.
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

fn record() -> Record {
    let cookie = CookieData::default()
        .with_original_max_age_ms(Some(86_400_000))
        .with_expires_ms(Some(now_ms() + 86_400_000));
    let mut data = serde_json::Map::new();
    data.insert("counter".into(), serde_json::json!(42));
    Record::new(cookie, data)
}

/// Runs `op` `iters` times on each of `THREADS` threads, all started
/// together; returns the slowest thread's time.
fn contended(iters: u64, op: impl Fn(usize, u64) + Send + Sync + 'static) -> Duration {
    let op = Arc::new(op);
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (op, barrier) = (Arc::clone(&op), Arc::clone(&barrier));
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
    threads
        .into_iter()
        .map(|t| t.join().expect("bench thread"))
        .max()
        .unwrap_or_default()
}

fn store_ops(c: &mut Criterion) {
    let store = MemoryStore::new();
    let ids: Arc<Vec<String>> = Arc::new((0..SESSIONS).map(|i| format!("{i:032}")).collect());
    let record = Arc::new(record());
    for id in ids.iter() {
        let _ = store
            .save(id, &record, SaveCondition::Upsert)
            .now_or_never()
            .expect("MemoryStore futures are ready at once");
    }
    // Each thread walks the IDs with its own stride, so the two threads
    // meet on shards (and sometimes keys) as real requests would.
    let pick = |ids: &[String], thread: usize, i: u64| -> usize {
        ((i as usize).wrapping_mul(7919 + thread * 104_729) + thread) % ids.len()
    };

    let mut group = c.benchmark_group("memory_store/2 threads");
    {
        let (store, ids) = (store.clone(), Arc::clone(&ids));
        group.bench_function("load", move |b| {
            let (store, ids) = (store.clone(), Arc::clone(&ids));
            b.iter_custom(move |iters| {
                let (store, ids) = (store.clone(), Arc::clone(&ids));
                contended(iters, move |t, i| {
                    let id = &ids[pick(&ids, t, i)];
                    let _ = store.load(id).now_or_never();
                })
            })
        });
    }
    {
        let (store, ids, record) = (store.clone(), Arc::clone(&ids), Arc::clone(&record));
        group.bench_function("save (upsert)", move |b| {
            let (store, ids, record) = (store.clone(), Arc::clone(&ids), Arc::clone(&record));
            b.iter_custom(move |iters| {
                let (store, ids, record) = (store.clone(), Arc::clone(&ids), Arc::clone(&record));
                contended(iters, move |t, i| {
                    let id = &ids[pick(&ids, t, i)];
                    let _ = store
                        .save(id, &record, SaveCondition::Upsert)
                        .now_or_never();
                })
            })
        });
    }
    {
        let (store, ids, record) = (store.clone(), Arc::clone(&ids), Arc::clone(&record));
        group.bench_function("touch", move |b| {
            let (store, ids, record) = (store.clone(), Arc::clone(&ids), Arc::clone(&record));
            b.iter_custom(move |iters| {
                let (store, ids, record) = (store.clone(), Arc::clone(&ids), Arc::clone(&record));
                contended(iters, move |t, i| {
                    let id = &ids[pick(&ids, t, i)];
                    let _ = store.touch(id, &record).now_or_never();
                })
            })
        });
    }
    {
        let (store, ids) = (store.clone(), Arc::clone(&ids));
        group.bench_function("load (both threads, one session)", move |b| {
            let (store, ids) = (store.clone(), Arc::clone(&ids));
            b.iter_custom(move |iters| {
                let (store, ids) = (store.clone(), Arc::clone(&ids));
                contended(iters, move |_, _| {
                    let _ = store.load(&ids[0]).now_or_never();
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, store_ops);
criterion_main!(benches);
