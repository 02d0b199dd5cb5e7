//! A cookie expiring past year 9999, or asked for past JavaScript's last
//! date (13 September 275760), is stored with a TTL Redis takes and a
//! `cookie.expires` Node reads, and loads back (`REDIS_URL`).

mod common;

use common::unique;
use server_session::store::{now_ms, CookieData, Record, SaveCondition, SaveOutcome, Store};

/// The largest distance from the epoch a JavaScript `Date` can hold.
const JS_LIMIT: i64 = 8_640_000_000_000_000;

#[tokio::test]
async fn far_expiries_are_stored_with_a_ttl_redis_takes() {
    let Some((store, raw)) = common::standalone().await else {
        return;
    };
    // +010000-01-01T00:00:00.000Z, the last JavaScript date, and an instant
    // past it (from a lifetime of `Duration::MAX`, say), which is kept to
    // that last date.
    for (asked, stored_ms, stored_iso) in [
        (
            253_402_300_800_000,
            253_402_300_800_000,
            "+010000-01-01T00:00:00.000Z",
        ),
        (JS_LIMIT, JS_LIMIT, "+275760-09-13T00:00:00.000Z"),
        (i64::MAX, JS_LIMIT, "+275760-09-13T00:00:00.000Z"),
    ] {
        let id = unique("far-expiry");
        let now = now_ms();
        let record = Record::new(
            CookieData::default()
                .with_expires_ms(Some(asked))
                .with_original_max_age_ms(Some(stored_ms - now)),
            serde_json::Map::new(),
        );
        let outcome = store
            .save(&id, &record, SaveCondition::IfAbsent)
            .await
            .unwrap_or_else(|error| panic!("{asked}: {error}"));
        assert!(matches!(outcome, SaveOutcome::Saved(_)), "{asked}");

        let key = format!("sess:{id}");
        let value = raw.get(&key).await.expect("stored");
        let text = String::from_utf8(value).expect("UTF-8");
        assert!(
            text.contains(&format!(r#""expires":"{stored_iso}""#)),
            "{text}"
        );
        // connect-redis's TTL: ceil((expires - now) / 1000), give or take
        // the time the save took.
        let ttl = raw.ttl(&key).await;
        let expected = (stored_ms - now) / 1000;
        assert!(
            (expected - 5..=expected + 5).contains(&ttl),
            "{asked}: TTL {ttl}, expected about {expected}"
        );

        let loaded = store
            .load(&id)
            .await
            .expect("load")
            .expect("a live session");
        assert_eq!(loaded.record.expires_ms(), Some(stored_ms), "{asked}");
        store.touch(&id, &loaded.record).await.expect("touch");
        assert!(raw.ttl(&key).await >= expected - 5, "{asked}");
        store.destroy(&id).await.expect("destroy");
    }
}
