//! What the SQL and Redis stores' tests share beyond [`services`](crate::services):
//! calls on a session that must be there, and the checks both make.

use server_session::store::LoadedRecord;
use server_session::Store;

use crate::services::{load_live_with_expiry, minute_cookie_record};

/// `load_and_touch` of `id`, which must be live: the record and whether it
/// was touched.
pub async fn load_and_touch_live(store: &(impl Store + ?Sized), id: &str) -> (LoadedRecord, bool) {
    store
        .load_and_touch(id)
        .await
        .expect("load_and_touch")
        .expect("live")
}

/// Touches `id`, saved at `now` as [`minute_cookie_record`]`(now + 60_000)`,
/// with a five-minute cookie, and checks what `load_with_expiry` reports:
/// the expiry moved to five minutes from `now` (± 1 s), the stored
/// `cookie.expires` did not. Returns that expiry.
pub async fn touch_to_five_minutes_and_check_expiry(
    store: &(impl Store + ?Sized),
    id: &str,
    now: i64,
    label: &str,
) -> i64 {
    let touched = minute_cookie_record(now + 300_000);
    store.touch(id, &touched).await.expect("touch");
    let (loaded, expiry) = load_live_with_expiry(store, id).await;
    assert_eq!(
        loaded.record.cookie().expires_ms(),
        Some(now + 60_000),
        "{label}"
    );
    let expiry = expiry.expect("an expiry");
    assert!(
        (now + 299_000..=now + 301_000).contains(&expiry),
        "{label}: touched, {} ms from now",
        expiry - now
    );
    expiry
}

/// Saves [`minute_cookie_record`]`(now + 60_000)` as `id` under
/// `condition`, after checking that `id` has no record yet: the `now` that
/// [`touch_to_five_minutes_and_check_expiry`] takes, and the save's outcome.
pub async fn save_fresh_minute_record(
    store: &(impl Store + ?Sized),
    id: &str,
    condition: server_session::store::SaveCondition,
) -> (i64, server_session::store::SaveOutcome) {
    assert!(store.load_with_expiry(id).await.expect("load").is_none());
    let now = server_session::store::now_ms();
    let saved = store
        .save(id, &minute_cookie_record(now + 60_000), condition)
        .await
        .expect("save");
    (now, saved)
}
