//! An unreachable server: every call fails fast, with a transient error.

use std::time::{Duration, Instant};

use serde_json::json;

use super::run::{live, new_id, skip};
use crate::conformance::Harness;
use crate::store::{SaveCondition, Store};

/// An unreachable server must be reported within this.
const UNREACHABLE_LIMIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug)]
enum Call {
    Load,
    Save,
    Touch,
    Destroy,
}

async fn unreachable_fails_fast<H: Harness>(h: &H, case: &str, call: Call) {
    let Ok(store) = tokio::time::timeout(Duration::from_secs(15), h.unreachable_store()).await
    else {
        panic!("{case}: making the unreachable store took over 15 s; connect lazily");
    };
    let Some(store) = store else {
        skip(case, "the store has no server to be unreachable");
        return;
    };
    let id = new_id(case);
    let saved_record = live(json!({"n": 1}));
    let started = Instant::now();
    let call_store = async {
        match call {
            Call::Load => store.load(&id).await.map(drop),
            Call::Save => store
                .save(&id, &saved_record, SaveCondition::Upsert)
                .await
                .map(drop),
            Call::Touch => store.touch(&id, &saved_record).await,
            Call::Destroy => store.destroy(&id).await,
        }
    };
    let Ok(result) = tokio::time::timeout(Duration::from_secs(30), call_store).await else {
        panic!("{case}: {call:?} on an unreachable server still had no answer after 30 s");
    };
    let elapsed = started.elapsed();
    let Err(error) = result else {
        panic!("{case}: {call:?} on an unreachable server succeeded");
    };
    assert!(
        elapsed < UNREACHABLE_LIMIT,
        "{case}: {call:?} took {elapsed:?} to fail; the store's call timeout must bound it"
    );
    assert!(
        error.is_transient(),
        "{case}: {call:?} failed with {error:?}; an unreachable server is a Connection or Timeout error"
    );
}

/// `load` against an unreachable server fails within the timeout.
pub async fn unreachable_load_fails_fast<H: Harness>(h: &H) {
    unreachable_fails_fast(h, "unreachable_load_fails_fast", Call::Load).await;
}

/// `save` against an unreachable server fails within the timeout.
pub async fn unreachable_save_fails_fast<H: Harness>(h: &H) {
    unreachable_fails_fast(h, "unreachable_save_fails_fast", Call::Save).await;
}

/// `touch` against an unreachable server fails within the timeout.
pub async fn unreachable_touch_fails_fast<H: Harness>(h: &H) {
    unreachable_fails_fast(h, "unreachable_touch_fails_fast", Call::Touch).await;
}

/// `destroy` against an unreachable server fails within the timeout.
pub async fn unreachable_destroy_fails_fast<H: Harness>(h: &H) {
    unreachable_fails_fast(h, "unreachable_destroy_fails_fast", Call::Destroy).await;
}
