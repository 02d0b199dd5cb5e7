//! Concurrency: of writers racing on one version, exactly one wins, and
//! retried increments are never lost.

use std::sync::Arc;

use serde_json::{json, Value};

use super::run::{in_ms, ok, record, Run};
use crate::conformance::Harness;
use crate::store::{SaveCondition, SaveOutcome, Store, Version};

/// Tasks racing in the concurrency cases.
const TASKS: usize = 8;
/// Increments per task in the lost-update case.
const INCREMENTS: u64 = 5;

async fn join<T: Send + 'static>(case: &str, task: tokio::task::JoinHandle<T>) -> T {
    match task.await {
        Ok(value) => value,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("{case}: a task did not finish: {error}"),
        },
    }
}

/// A run whose store the racing tasks share, with one record holding
/// `data`, and its `cookie.expires`.
async fn shared_run<H: Harness>(
    h: &H,
    case: &'static str,
    data: Value,
) -> (Run<Arc<H::Store>>, String, Option<i64>) {
    let run = Run {
        case,
        store: Arc::new(h.store().await),
    };
    let id = run.id();
    let expires = in_ms(super::run::HOUR_MS);
    run.upsert(&id, &record(expires, data), "first save").await;
    (run, id, expires)
}

/// Eight tasks load the same version and all save with `IfVersion` at
/// once: exactly one is saved, the rest conflict.
pub async fn concurrent_compare_and_set<H: Harness>(h: &H) {
    let case = "concurrent_compare_and_set";
    let (run, id, expires) = shared_run(h, case, json!({"winner": null})).await;
    // Every task loads before any saves, so they all hold one version.
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, id, barrier) = (Arc::clone(&run.store), id.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                let loaded = store.load(&id).await;
                // Wait even after an error, or the other tasks never go on.
                barrier.wait().await;
                let loaded = ok(case, "load", loaded)
                    .unwrap_or_else(|| panic!("{case}: the record is missing"));
                let mine = record(expires, json!({ "winner": task }));
                let outcome = ok(
                    case,
                    "IfVersion save",
                    store
                        .save(&id, &mine, SaveCondition::IfVersion(loaded.version))
                        .await,
                );
                (task, loaded.version, outcome)
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(join(case, task).await);
    }
    let first_version = results[0].1;
    assert!(
        results
            .iter()
            .all(|(_, version, _)| *version == first_version),
        "{case}: the tasks loaded different versions before any save"
    );
    let winners: Vec<(usize, Version)> = results
        .iter()
        .filter_map(|(task, _, outcome)| match outcome {
            SaveOutcome::Saved(version) => Some((*task, *version)),
            SaveOutcome::Conflict => None,
        })
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{case}: {} of {TASKS} saves with one version succeeded, expected exactly 1",
        winners.len()
    );
    let (winner, version) = winners[0];
    let loaded = run.load_some(&id, "load after the race").await;
    assert_eq!(
        loaded.record.data()["winner"],
        json!(winner),
        "{case}: the stored record is not the winner's"
    );
    assert_eq!(
        loaded.version, version,
        "{case}: the stored version is not the winner's"
    );
}

/// Eight tasks each add 1 five times with load + `IfVersion` retries: the
/// counter ends at exactly 40. The store-level version of the "no lost
/// updates" test.
pub async fn concurrent_increments_are_not_lost<H: Harness>(h: &H) {
    let case = "concurrent_increments_are_not_lost";
    let (run, id, expires) = shared_run(h, case, json!({"n": 0})).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, id) = (Arc::clone(&run.store), id.clone());
            tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    let mut attempts = 0;
                    loop {
                        attempts += 1;
                        assert!(
                            attempts <= 500,
                            "{case}: task {task} got 500 conflicts in a row"
                        );
                        let loaded = ok(case, "load", store.load(&id).await)
                            .unwrap_or_else(|| panic!("{case}: the counter record is missing"));
                        let Some(n) = loaded.record.data().get("n").and_then(Value::as_u64) else {
                            panic!(
                                "{case}: the counter is not a number: {}",
                                loaded.record.to_json()
                            );
                        };
                        let next = record(expires, json!({ "n": n + 1, "by": task }));
                        let outcome = store
                            .save(&id, &next, SaveCondition::IfVersion(loaded.version))
                            .await;
                        match ok(case, "IfVersion save", outcome) {
                            SaveOutcome::Saved(_) => break,
                            SaveOutcome::Conflict => tokio::task::yield_now().await,
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        join(case, task).await;
    }
    let loaded = run.load_some(&id, "load after the increments").await;
    assert_eq!(
        loaded.record.data().get("n").and_then(Value::as_u64),
        Some(TASKS as u64 * INCREMENTS),
        "{case}: increments were lost"
    );
}
