//! IDs hashed at rest: the store sees a keyed hash of each session ID,
//! never the ID itself.
//!
//! Whoever reads the store (a leaked dump, a backup, a read-only
//! credential, a log of store commands) then holds keys that no cookie can
//! carry: the HMAC cannot be inverted, and without the key an ID cannot be
//! tested against it either. The price is that a Node service sharing the
//! store, which looks sessions up by the raw ID, cannot find them.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreFuture, UserPath};

/// A store whose keys are `base64url(HMAC-SHA256(key, id))`.
pub(crate) struct HashedIds {
    inner: Arc<dyn Store>,
    mac: Hmac<Sha256>,
}

impl HashedIds {
    /// `None` for an empty key, which HMAC would accept but which hides
    /// nothing.
    pub(crate) fn new(inner: Arc<dyn Store>, key: &[u8]) -> Option<Self> {
        if key.is_empty() {
            return None;
        }
        let mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        Some(Self { inner, mac })
    }

    /// The store key of a session ID: 43 URL-safe characters.
    pub(crate) fn key_of(&self, id: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

impl Store for HashedIds {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        Box::pin(async move { self.inner.load(&self.key_of(id)).await })
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        Box::pin(async move { self.inner.save(&self.key_of(id), record, condition).await })
    }

    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.inner.touch(&self.key_of(id), record).await })
    }

    fn load_and_touch<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(LoadedRecord, bool)>> {
        Box::pin(async move { self.inner.load_and_touch(&self.key_of(id)).await })
    }

    fn load_with_expiry<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Option<(LoadedRecord, Option<i64>)>> {
        Box::pin(async move { self.inner.load_with_expiry(&self.key_of(id)).await })
    }

    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.inner.destroy(&self.key_of(id)).await })
    }

    /// The records, under their stored keys (hashes, not IDs).
    fn all(&self) -> StoreFuture<'_, Vec<(String, Record)>> {
        self.inner.all()
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        self.inner.len()
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        self.inner.clear()
    }

    fn prune_expired(&self) -> StoreFuture<'_, u64> {
        self.inner.prune_expired()
    }

    fn index_user<'a>(&'a self, user: &'a str, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.inner.index_user(user, &self.key_of(id)).await })
    }

    // Listing gives the store's keys, as `all` does; dropping entries
    // takes them back.
    fn user_sessions<'a>(
        &'a self,
        user_path: &'a UserPath,
        user: &'a str,
    ) -> StoreFuture<'a, Vec<(String, LoadedRecord)>> {
        self.inner.user_sessions(user_path, user)
    }

    fn unindex_user<'a>(&'a self, user: &'a str, ids: &'a [String]) -> StoreFuture<'a, ()> {
        self.inner.unindex_user(user, ids)
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
