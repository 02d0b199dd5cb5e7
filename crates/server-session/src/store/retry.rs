//! One retry of a store call that lost its connection.
//!
//! A store's connection can drop under a call: a Redis `CLIENT KILL`, a
//! PostgreSQL `pg_terminate_backend`, a proxy or failover closing sockets.
//! The stores reconnect on the next call, so the request that happened to
//! be in flight is the only one that fails, and it need not: the call is
//! made once more, within the same store timeout.
//!
//! Loads, touches and deletes can always be repeated. A save cannot: its
//! reply may be what was lost, after the write landed. So a save that lost
//! its connection first reads the record back. If it holds what this save
//! wrote, the save landed and reports the stored version; if the save's
//! condition still holds, nothing was written and it is made again; if not,
//! another writer got there first and it is a conflict, which the layer's
//! conflict policy resolves as for any other.

use std::sync::Arc;

use super::{LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreError, StoreFuture};

/// A store whose calls are made once more after a connection error.
pub(crate) struct RetryOnce {
    inner: Arc<dyn Store>,
}

impl RetryOnce {
    /// Wraps `store`, except the MemoryStore: it has no connection to lose,
    /// and its calls need not pay for the wrapper.
    pub(crate) fn wrap(store: Arc<dyn Store>) -> Arc<dyn Store> {
        if store.kind() == crate::memory_store::KIND {
            return store;
        }
        Arc::new(Self { inner: store })
    }
}

/// Whether a call failed because its connection did: the only failure a
/// second try on a new connection can cure at once. A timeout is not one:
/// the store is slow, and asking again would only wait longer.
fn lost_connection<T>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Connection(_)))
}

/// Runs `call`, and once more if it lost its connection.
async fn twice<'a, T>(call: impl Fn() -> StoreFuture<'a, T>) -> Result<T, StoreError> {
    let first = call().await;
    if lost_connection(&first) {
        return call().await;
    }
    first
}

impl Store for RetryOnce {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        Box::pin(twice(move || self.inner.load(id)))
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        Box::pin(async move {
            let first = self.inner.save(id, record, condition).await;
            if !lost_connection(&first) {
                return first;
            }
            // The outcome is unknown: read it back. If that fails too,
            // the first error stands.
            let Ok(stored) = twice(|| self.inner.load(id)).await else {
                return first;
            };
            match stored {
                Some(stored) if stored.record == *record => Ok(SaveOutcome::Saved(stored.version)),
                stored if condition.allows(stored.as_ref().map(|stored| &stored.version)) => {
                    self.inner.save(id, record, condition).await
                }
                _ => Ok(SaveOutcome::Conflict),
            }
        })
    }

    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        Box::pin(twice(move || self.inner.touch(id, record)))
    }

    fn load_and_touch<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(LoadedRecord, bool)>> {
        // Touching twice sets the same expiry twice.
        Box::pin(twice(move || self.inner.load_and_touch(id)))
    }

    fn load_with_expiry<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Option<(LoadedRecord, Option<i64>)>> {
        Box::pin(twice(move || self.inner.load_with_expiry(id)))
    }

    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(twice(move || self.inner.destroy(id)))
    }

    fn all(&self) -> StoreFuture<'_, Vec<(String, Record)>> {
        Box::pin(twice(move || self.inner.all()))
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        Box::pin(twice(move || self.inner.len()))
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(twice(move || self.inner.clear()))
    }

    fn prune_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(twice(move || self.inner.prune_expired()))
    }

    fn is_ready(&self) -> bool {
        self.inner.is_ready()
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn own_timeout(&self) -> Option<std::time::Duration> {
        self.inner.own_timeout()
    }
}
