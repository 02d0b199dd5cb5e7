//! One retry of a store call that lost its connection.
//!
//! A store's connection can drop under a call: a Redis `CLIENT KILL`, a
//! PostgreSQL `pg_terminate_backend`, a proxy or failover closing sockets.
//! The stores reconnect on the next call, so the request that happened to
//! be in flight is the only one that fails, and it need not: the call is
//! made again, within the same store timeout, up to [`TRIES`] times in all
//! (a burst of kills, such as an operator terminating every backend, can
//! take the connection of the second try too).
//!
//! Loads, touches and deletes can always be repeated. A save cannot: its
//! reply may be what was lost, after the write landed. So a save that lost
//! its connection first reads the record back. If it holds what this save
//! wrote, the save landed and reports the stored version; if the save's
//! condition still holds, nothing was written and it is made again; if not,
//! another writer got there first and it is a conflict, which the layer's
//! conflict policy resolves as for any other.

use std::sync::Arc;

use super::{
    LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreError, StoreFuture, UserPath,
};

/// How many times a call is made at most while it keeps losing its
/// connection.
const TRIES: u32 = 3;

/// A store whose calls are made again after a connection error.
pub(crate) struct RetryOnConnectionLoss {
    inner: Arc<dyn Store>,
}

impl RetryOnConnectionLoss {
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

/// Runs `call`, and again while it loses its connection, [`TRIES`] times
/// at most.
async fn retried<'a, T>(call: impl Fn() -> StoreFuture<'a, T>) -> Result<T, StoreError> {
    let mut result = call().await;
    for _ in 1..TRIES {
        if !lost_connection(&result) {
            break;
        }
        result = call().await;
    }
    result
}

impl Store for RetryOnConnectionLoss {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        Box::pin(retried(move || self.inner.load(id)))
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        Box::pin(async move {
            let mut result = self.inner.save(id, record, condition).await;
            for _ in 1..TRIES {
                if !lost_connection(&result) {
                    break;
                }
                // The outcome is unknown: read it back. If that fails too,
                // the save's error stands.
                let Ok(stored) = retried(|| self.inner.load(id)).await else {
                    break;
                };
                result = match stored {
                    Some(stored) if stored.record == *record => {
                        Ok(SaveOutcome::Saved(stored.version))
                    }
                    stored if condition.allows(stored.as_ref().map(|stored| &stored.version)) => {
                        self.inner.save(id, record, condition).await
                    }
                    _ => Ok(SaveOutcome::Conflict),
                };
            }
            result
        })
    }

    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        Box::pin(retried(move || self.inner.touch(id, record)))
    }

    fn load_and_touch<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(LoadedRecord, bool)>> {
        // Touching again sets the same expiry again.
        Box::pin(retried(move || self.inner.load_and_touch(id)))
    }

    fn load_with_expiry<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Option<(LoadedRecord, Option<i64>)>> {
        Box::pin(retried(move || self.inner.load_with_expiry(id)))
    }

    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(retried(move || self.inner.destroy(id)))
    }

    fn all(&self) -> StoreFuture<'_, Vec<(String, Record)>> {
        Box::pin(retried(move || self.inner.all()))
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        Box::pin(retried(move || self.inner.len()))
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(retried(move || self.inner.clear()))
    }

    fn prune_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(retried(move || self.inner.prune_expired()))
    }

    fn index_user<'a>(&'a self, user: &'a str, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(retried(move || self.inner.index_user(user, id)))
    }

    fn user_sessions<'a>(
        &'a self,
        user_path: &'a UserPath,
        user: &'a str,
    ) -> StoreFuture<'a, Vec<(String, LoadedRecord)>> {
        Box::pin(retried(move || self.inner.user_sessions(user_path, user)))
    }

    fn unindex_user<'a>(&'a self, user: &'a str, ids: &'a [String]) -> StoreFuture<'a, ()> {
        Box::pin(retried(move || self.inner.unindex_user(user, ids)))
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
