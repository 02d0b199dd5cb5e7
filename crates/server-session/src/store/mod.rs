//! The store contract every backend implements, and the record it stores.
//!
//! A store keeps express-session records ([`Record`]) by session ID. The
//! contract is small and the same for every backend, so one conformance
//! suite (feature `conformance`) checks them all:
//!
//! - [`Store::load`] returns the record and a [`Version`] naming the stored
//!   bytes, or `None` when the record is missing **or expired**;
//! - [`Store::save`] writes under a [`SaveCondition`]: always, only if absent,
//!   or only if the stored version is still the one loaded (compare-and-set);
//! - [`Store::touch`] extends the expiry without rewriting the data;
//! - [`Store::destroy`] deletes; `all`, `len`, `clear` and `prune_expired`
//!   are optional.
//!
//! A store that keeps its own expiry (a TTL, an `expire` column) computes it
//! as the Node stores do with [`expiry`].
//!
//! # Example: a store over a `HashMap`
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use server_session::store::{
//!     LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreFuture, Version,
//! };
//!
//! #[derive(Default)]
//! struct MapStore(Mutex<HashMap<String, Vec<u8>>>);
//!
//! impl Store for MapStore {
//!     fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
//!         Box::pin(async move {
//!             let Some(bytes) = self.0.lock().unwrap().get(id).cloned() else {
//!                 return Ok(None);
//!             };
//!             let record = Record::from_json(&bytes)?;
//!             if record.is_expired_at(server_session::store::now_ms()) {
//!                 return Ok(None);
//!             }
//!             Ok(Some(LoadedRecord::new(record, Version::digest_of(&bytes))))
//!         })
//!     }
//!
//!     fn save<'a>(
//!         &'a self,
//!         id: &'a str,
//!         record: &'a Record,
//!         condition: SaveCondition,
//!     ) -> StoreFuture<'a, SaveOutcome> {
//!         Box::pin(async move {
//!             let mut map = self.0.lock().unwrap();
//!             let current = map.get(id).map(|bytes| Version::digest_of(bytes));
//!             if !condition.allows(current.as_ref()) {
//!                 return Ok(SaveOutcome::Conflict);
//!             }
//!             let bytes = record.to_json_vec();
//!             let version = Version::digest_of(&bytes);
//!             map.insert(id.to_owned(), bytes);
//!             Ok(SaveOutcome::Saved(version))
//!         })
//!     }
//!
//!     fn touch<'a>(&'a self, _id: &'a str, _record: &'a Record) -> StoreFuture<'a, ()> {
//!         // Expiry lives in the record here, and touching must not rewrite data.
//!         Box::pin(async { Ok(()) })
//!     }
//!
//!     fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
//!         Box::pin(async move {
//!             self.0.lock().unwrap().remove(id);
//!             Ok(())
//!         })
//!     }
//!
//!     fn kind(&self) -> &'static str {
//!         "map"
//!     }
//! }
//! ```

#[cfg(feature = "conformance")]
pub mod conformance;
pub(crate) mod cookie_data;
mod error;
pub mod expiry;
pub(crate) mod hashed_ids;
mod js_json;
mod record;
pub(crate) mod retry;
mod version;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use crate::codec::{Priority, SameSite};
pub use crate::user_path::{InvalidUserPath, UserPath};
pub use cookie_data::CookieData;
pub use error::{BoxError, StoreError};
pub(crate) use record::is_reserved;
pub use record::{Record, RESERVED_KEYS};
pub use version::Version;

/// The future every store method returns: boxed, so that `dyn Store` works
/// and a layer can pick its store at run time.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Now, in milliseconds since the Unix epoch: the clock stores compare
/// `cookie.expires` against.
pub fn now_ms() -> i64 {
    crate::clock::now_ms()
}

/// A record as loaded, with the version of the bytes it came from. A store
/// builds one with [`LoadedRecord::new`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoadedRecord {
    /// The session.
    pub record: Record,
    /// Names the stored bytes; pass it back in [`SaveCondition::IfVersion`].
    pub version: Version,
}

impl LoadedRecord {
    /// The record `record`, loaded from the bytes `version` names.
    pub fn new(record: Record, version: Version) -> Self {
        Self { record, version }
    }
}

/// When a [`Store::save`] may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveCondition {
    /// Always write (express's `store.set`).
    Upsert,
    /// Write only if no live record has this ID (a new session).
    IfAbsent,
    /// Write only if the live record's version still equals this one.
    /// A missing or expired record is a conflict too: a save must not
    /// resurrect a session another request destroyed.
    IfVersion(Version),
}

impl SaveCondition {
    /// Whether the condition allows a write over the live record whose
    /// version is `current` (`None`: no live record).
    pub fn allows(&self, current: Option<&Version>) -> bool {
        match self {
            Self::Upsert => true,
            Self::IfAbsent => current.is_none(),
            Self::IfVersion(expected) => current == Some(expected),
        }
    }
}

/// What a [`Store::save`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a conflict means nothing was written"]
#[non_exhaustive]
pub enum SaveOutcome {
    /// The record was written; this is its new version.
    Saved(Version),
    /// The condition did not hold, and nothing was written.
    Conflict,
}

/// A session store. See the [module docs](self) for the contract and an
/// example.
///
/// Methods return boxed futures so that `Arc<dyn Store>` works. Every
/// implementation must be cancel-safe enough to be dropped by a timeout.
#[allow(clippy::len_without_is_empty)] // `len` is an optional, fallible listing call
pub trait Store: Send + Sync + 'static {
    /// The live record with this ID, or `None` if it is missing or expired.
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>>;

    /// Writes `record` under `id` if `condition` holds. The record's
    /// `cookie.expires` sets the expiry; a record already expired is
    /// deleted instead of written (connect-redis does the same).
    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome>;

    /// Extends the expiry of a live record to `record.cookie().expires()`,
    /// **without rewriting its data**. Missing records stay missing.
    /// The stored version must not change.
    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()>;

    /// Loads the record and, in the same round trip, extends its expiry as
    /// [`touch`](Self::touch) would for the record touched now (`expires =
    /// now + originalMaxAge`, or the default lifetime for a browser-session
    /// cookie). The flag says whether it did; the layer then skips the
    /// end-of-request touch of an unchanged session, so that such a request
    /// costs one round trip instead of two.
    ///
    /// The default only loads (`false`). The bundled stores override it:
    /// MemoryStore under one shard lock, Redis with one `GETEX`, PostgreSQL
    /// and SQLite with one `UPDATE … RETURNING` (MySQL has no such
    /// statement and keeps the default).
    fn load_and_touch<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(LoadedRecord, bool)>> {
        Box::pin(async move { Ok(self.load(id).await?.map(|loaded| (loaded, false))) })
    }

    /// Loads the record together with the expiry the store itself will
    /// enforce on it, in milliseconds since the epoch, in one pure read
    /// (nothing is written). `None` for the expiry: the store keeps none, or
    /// cannot tell.
    ///
    /// The layer calls this instead of
    /// [`load_and_touch`](Self::load_and_touch) under
    /// [`SessionConfig::with_touch_after`](crate::SessionConfig::with_touch_after),
    /// to decide whether an unchanged request needs to touch at all.
    ///
    /// The default loads and returns the record's `cookie.expires`, right
    /// for a store whose touch rewrites it. Stores whose touch moves only
    /// their own expiry (a TTL, an `expire` column) and leaves the JSON as
    /// it was, as connect-redis and connect-pg-simple do, must override it:
    /// the bundled stores do (Redis with `GET` and `PTTL` in one round trip,
    /// SQL with one `SELECT` of `sess` and `expire`, MemoryStore from its
    /// entry).
    fn load_with_expiry<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Option<(LoadedRecord, Option<i64>)>> {
        Box::pin(async move {
            Ok(self.load(id).await?.map(|loaded| {
                let expires = loaded.record.cookie.expires;
                (loaded, expires)
            }))
        })
    }

    /// Deletes the record. Deleting a missing record is not an error.
    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()>;

    /// Every live record, with its ID. Optional.
    fn all(&self) -> StoreFuture<'_, Vec<(String, Record)>> {
        Box::pin(async { Err(StoreError::Unsupported("all")) })
    }

    /// The number of live records. Optional.
    fn len(&self) -> StoreFuture<'_, usize> {
        Box::pin(async { Err(StoreError::Unsupported("len")) })
    }

    /// Deletes every record. Optional.
    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Err(StoreError::Unsupported("clear")) })
    }

    /// Deletes expired records and returns how many. Optional.
    fn prune_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(async { Err(StoreError::Unsupported("prune_expired")) })
    }

    /// Adds session `id` to the index of `user`'s sessions, for
    /// [`UserSessions`](crate::UserSessions). Optional: the default answers
    /// `Unsupported`, and listing then answers it too.
    ///
    /// The layer calls it before the save that first stores `id` with
    /// `user` at the configured user path (a sign-in, or a new ID for a
    /// signed-in session), so that the index never misses a live session.
    /// The index is by user alone: [`user_sessions`](Self::user_sessions)
    /// is given the path, to tell the live entries from the stale. Entries
    /// whose session is gone, or no longer `user`'s, are stale: listing
    /// finds them out, and [`unindex_user`](Self::unindex_user) drops them.
    /// A store that finds a user's sessions by a query over the stored JSON
    /// (as the SQL stores do, with an index on `user_path`) has nothing to
    /// do here and answers `Ok(())`.
    fn index_user<'a>(&'a self, _user: &'a str, _id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async { Err(StoreError::Unsupported("index_user")) })
    }

    /// The live sessions indexed under `user`, with their IDs: every live
    /// session whose data holds `user` at `user_path`, and possibly stale
    /// ones, which the caller tells apart by reading the user in each
    /// record. It must touch only `user`'s entries, never scan the store.
    /// Optional: the default answers `Unsupported`.
    fn user_sessions<'a>(
        &'a self,
        _user_path: &'a UserPath,
        _user: &'a str,
    ) -> StoreFuture<'a, Vec<(String, LoadedRecord)>> {
        Box::pin(async { Err(StoreError::Unsupported("user_sessions")) })
    }

    /// Drops the entries `ids` from `user`'s index, for maintenance jobs and
    /// stores that prune. The layer never calls it for an entry whose session
    /// holds another user: that may be a sign-in whose save has not landed
    /// yet. The default does nothing, right for a store whose index is a
    /// query.
    fn unindex_user<'a>(&'a self, _user: &'a str, _ids: &'a [String]) -> StoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    /// Whether the store can take requests now. While it answers false, the
    /// layer lets requests through without a session, as express does while
    /// its store is disconnected.
    fn is_ready(&self) -> bool {
        true
    }

    /// A short name for logs and spans (`"memory"`, `"redis"`, …).
    fn kind(&self) -> &'static str;

    /// The timeout the store puts on each of its own calls, if it has one
    /// (the bundled Redis and SQL stores do: their `with_call_timeout`).
    /// The layer then adds no timer of its own; a store that answers `None`
    /// (the default) gets the layer's
    /// [`with_store_timeout`](crate::SessionConfig::with_store_timeout).
    fn own_timeout(&self) -> Option<std::time::Duration> {
        None
    }
}

impl<S: Store + ?Sized> Store for Arc<S> {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        (**self).load(id)
    }
    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        (**self).save(id, record, condition)
    }
    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        (**self).touch(id, record)
    }
    fn load_and_touch<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(LoadedRecord, bool)>> {
        (**self).load_and_touch(id)
    }
    fn load_with_expiry<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Option<(LoadedRecord, Option<i64>)>> {
        (**self).load_with_expiry(id)
    }
    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        (**self).destroy(id)
    }
    fn all(&self) -> StoreFuture<'_, Vec<(String, Record)>> {
        (**self).all()
    }
    fn len(&self) -> StoreFuture<'_, usize> {
        (**self).len()
    }
    fn clear(&self) -> StoreFuture<'_, ()> {
        (**self).clear()
    }
    fn prune_expired(&self) -> StoreFuture<'_, u64> {
        (**self).prune_expired()
    }
    fn index_user<'a>(&'a self, user: &'a str, id: &'a str) -> StoreFuture<'a, ()> {
        (**self).index_user(user, id)
    }
    fn user_sessions<'a>(
        &'a self,
        user_path: &'a UserPath,
        user: &'a str,
    ) -> StoreFuture<'a, Vec<(String, LoadedRecord)>> {
        (**self).user_sessions(user_path, user)
    }
    fn unindex_user<'a>(&'a self, user: &'a str, ids: &'a [String]) -> StoreFuture<'a, ()> {
        (**self).unindex_user(user, ids)
    }
    fn is_ready(&self) -> bool {
        (**self).is_ready()
    }
    fn kind(&self) -> &'static str {
        (**self).kind()
    }
    fn own_timeout(&self) -> Option<std::time::Duration> {
        (**self).own_timeout()
    }
}
