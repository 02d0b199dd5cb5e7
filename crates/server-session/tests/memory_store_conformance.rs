//! The store conformance kit, run on [`MemoryStore`]; and the kit's own
//! checks: a reference store that keeps raw JSON bytes (so the corrupt-record
//! and no-listing branches run too), and flawed variants of it that the kit
//! must reject.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use server_session::conformance::Harness;
use server_session::store::{
    now_ms, LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreFuture, Version,
};
use server_session::MemoryStore;

struct MemoryHarness;

impl Harness for MemoryHarness {
    type Store = MemoryStore;

    async fn store(&self) -> MemoryStore {
        // A new store per case: isolated by construction.
        MemoryStore::new()
    }

    async fn write_raw(&self, store: &MemoryStore, id: &str, raw: &[u8]) {
        // MemoryStore re-encodes what it saves and never stores bytes as
        // given, so only a valid record can be planted (`supports_raw` is
        // false, and the corrupt-record case is skipped).
        if let Ok(record) = Record::from_json(raw) {
            let _ = store.save(id, &record, SaveCondition::Upsert).await;
        }
    }

    async fn unreachable_store(&self) -> Option<MemoryStore> {
        // No server, nothing to be unreachable.
        None
    }

    fn supports_listing(&self) -> bool {
        true
    }

    fn supports_raw(&self) -> bool {
        false
    }

    fn supports_user_index(&self) -> bool {
        true
    }
}

server_session::store_conformance_tests!(async { Some(MemoryHarness) });

/// Every case in the kit has a test above: a case missing from the macro
/// would not show up in `CASES` either, but a renamed one would fail to
/// compile, and this keeps the count visible.
#[test]
fn every_case_is_listed_once() {
    let cases = server_session::conformance::CASES;
    let mut unique = cases.to_vec();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), cases.len(), "a case is listed twice");
    assert_eq!(cases.len(), 31);
}

/// How a [`JsonMapStore`] breaks the contract, for checking that the kit
/// notices.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Flaw {
    LoadIgnoresExpiry,
    IfVersionIgnored,
    IfVersionResurrects,
    TouchRewritesData,
    TouchResurrects,
    ExpiredSaveWrites,
}

/// A store that keeps express's JSON bytes with an expiry and derives
/// versions from the bytes, as the Redis and SQL stores do. No listing.
#[derive(Default)]
struct JsonMapStore {
    map: Mutex<HashMap<String, (Vec<u8>, i64)>>,
    flaw: Option<Flaw>,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl JsonMapStore {
    fn has(&self, flaw: Flaw) -> bool {
        self.flaw == Some(flaw)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<u8>, i64)>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for JsonMapStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        Box::pin(async move {
            let Some((bytes, expires)) = self.entries().get(id).cloned() else {
                return Ok(None);
            };
            if expires <= now_ms() && !self.has(Flaw::LoadIgnoresExpiry) {
                return Ok(None);
            }
            let record = Record::from_json(&bytes)?;
            Ok(Some(LoadedRecord::new(record, Version::digest_of(&bytes))))
        })
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        Box::pin(async move {
            let now = now_ms();
            let mut map = self.entries();
            let current = map
                .get(id)
                .filter(|(_, expires)| *expires > now)
                .map(|(bytes, _)| Version::digest_of(bytes));
            let allowed = match condition {
                SaveCondition::IfVersion(_) if self.has(Flaw::IfVersionIgnored) => true,
                SaveCondition::IfVersion(_)
                    if self.has(Flaw::IfVersionResurrects) && current.is_none() =>
                {
                    true
                }
                _ => condition.allows(current.as_ref()),
            };
            if !allowed {
                return Ok(SaveOutcome::Conflict);
            }
            let bytes = record.to_json_vec();
            let version = Version::digest_of(&bytes);
            let expires = record.expires_ms().unwrap_or(now + DAY_MS);
            if expires > now {
                map.insert(id.to_owned(), (bytes, expires));
            } else if self.has(Flaw::ExpiredSaveWrites) {
                // Treats "no TTL left" as "use the default TTL".
                map.insert(id.to_owned(), (bytes, now + DAY_MS));
            } else {
                map.remove(id);
            }
            Ok(SaveOutcome::Saved(version))
        })
    }

    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let now = now_ms();
            let mut map = self.entries();
            if let Some((bytes, expires)) = map.get_mut(id) {
                if *expires > now || self.has(Flaw::TouchResurrects) {
                    *expires = record.expires_ms().unwrap_or(now + DAY_MS);
                    if self.has(Flaw::TouchRewritesData) {
                        *bytes = record.to_json_vec();
                    }
                }
            }
            Ok(())
        })
    }

    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.entries().remove(id);
            Ok(())
        })
    }

    fn prune_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let now = now_ms();
            let mut map = self.entries();
            let before = map.len();
            map.retain(|_, (_, expires)| *expires > now);
            Ok((before - map.len()) as u64)
        })
    }

    fn kind(&self) -> &'static str {
        "json-map"
    }
}

struct JsonHarness(Option<Flaw>);

impl Harness for JsonHarness {
    type Store = JsonMapStore;

    fn store(&self) -> impl Future<Output = JsonMapStore> + Send {
        let flaw = self.0;
        async move {
            JsonMapStore {
                flaw,
                ..JsonMapStore::default()
            }
        }
    }

    async fn write_raw(&self, store: &JsonMapStore, id: &str, raw: &[u8]) {
        store
            .entries()
            .insert(id.to_owned(), (raw.to_vec(), now_ms() + 60 * 60 * 1000));
    }

    async fn unreachable_store(&self) -> Option<JsonMapStore> {
        None
    }

    fn supports_listing(&self) -> bool {
        false
    }
}

/// The whole kit on the reference store.
mod json_map_store {
    server_session::store_conformance_tests!(async { Some(super::JsonHarness(None)) });
}

/// Asserts that `case` panics (fails) on a store with `flaw`.
async fn assert_rejects<F, Fut>(flaw: Flaw, case: F)
where
    F: FnOnce(JsonHarness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let rejected = tokio::spawn(case(JsonHarness(Some(flaw)))).await.is_err();
    assert!(rejected, "the kit accepted a store with {flaw:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kit_rejects_flawed_stores() {
    use server_session::conformance as kit;
    assert_rejects(Flaw::LoadIgnoresExpiry, |h| async move {
        kit::expired_record_is_none(&h).await
    })
    .await;
    assert_rejects(Flaw::IfVersionIgnored, |h| async move {
        kit::if_version_conflicts_when_stale(&h).await
    })
    .await;
    assert_rejects(Flaw::IfVersionIgnored, |h| async move {
        kit::concurrent_compare_and_set(&h).await
    })
    .await;
    assert_rejects(Flaw::IfVersionResurrects, |h| async move {
        kit::if_version_conflicts_after_destroy(&h).await
    })
    .await;
    assert_rejects(Flaw::TouchRewritesData, |h| async move {
        kit::touch_extends_expiry_keeps_data_and_version(&h).await
    })
    .await;
    assert_rejects(Flaw::TouchResurrects, |h| async move {
        kit::touch_expired_does_not_resurrect(&h).await
    })
    .await;
    assert_rejects(Flaw::ExpiredSaveWrites, |h| async move {
        kit::save_already_expired_deletes(&h).await
    })
    .await;
}
