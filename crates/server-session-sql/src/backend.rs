//! The store logic the three backends share, written once over sqlx's
//! generic [`Database`]: each backend supplies its SQL, the types it binds
//! and reads, and the save steps whose SQL differs in shape; everything
//! else (table creation on first use, version digests, expired records,
//! the row-to-record mapping, the [`Store`](server_session::Store) plumbing
//! and its call timeout) is here.

use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};
use tokio::sync::OnceCell;

use server_session::store::{
    now_ms, LoadedRecord, Record, SaveCondition, SaveOutcome, StoreError, Version,
};

use crate::settings::{map_sqlx, now_epoch_secs, Settings, DEFAULT_CALL_TIMEOUT};

/// The statements the shared code runs, each written by its backend in that
/// backend's dialect. The placeholders are bound in the order given.
#[derive(Debug)]
pub(crate) struct Statements {
    /// `sess` of the live row of `sid`; binds id, now.
    pub(crate) load: String,
    /// Moves `expire` of the live row of `sid` as a touch made now would,
    /// and returns its `sess` (as `load` does) and whether it moved
    /// `expire`; binds id, now, now in milliseconds, and the `expire` of a
    /// browser-session record touched now, all as integers (seconds since
    /// the epoch, except the milliseconds). `None` where the dialect cannot
    /// return rows from an `UPDATE` (MySQL/MariaDB): then a load and a
    /// separate touch at the end of the request.
    pub(crate) load_and_touch: Option<String>,
    /// `sess` of the live row of `sid` (as `load`) and its `expire` in
    /// milliseconds since the epoch, as a 64-bit integer; binds id, now.
    pub(crate) load_with_expiry: String,
    /// Whether `sid` has a live row; binds id, now.
    pub(crate) exists_live: String,
    /// Moves `expire` of the live row of `sid`; binds expire, id, now.
    pub(crate) touch: String,
    /// Deletes the row of `sid`; binds id.
    pub(crate) destroy: String,
    /// `sid, sess` of every live row; binds now.
    pub(crate) all: String,
    /// The number of live rows; binds now.
    pub(crate) len: String,
    /// Deletes every row.
    pub(crate) clear: String,
    /// Deletes the dead rows; binds now.
    pub(crate) prune: String,
}

/// A session ID as `all` reads it back.
pub(crate) trait SidColumn {
    /// The ID as a string.
    fn into_sid(self) -> String;
}

impl SidColumn for String {
    fn into_sid(self) -> String {
        self
    }
}

/// Where the driver returns the ID as bytes (MySQL's `_bin` columns): IDs
/// were written from Rust strings or by Node, so they are UTF-8; a stray
/// byte is shown, not fatal.
impl SidColumn for Vec<u8> {
    fn into_sid(self) -> String {
        String::from_utf8_lossy(&self).into_owned()
    }
}

/// A truth value as the backend returns it: a boolean, or an integer
/// (`exists_live`'s `COUNT(*)`, SQLite's comparisons).
pub(crate) trait FoundColumn {
    /// Whether the value is true.
    fn found(self) -> bool;
}

impl FoundColumn for bool {
    fn found(self) -> bool {
        self
    }
}

impl FoundColumn for i64 {
    fn found(self) -> bool {
        self != 0
    }
}

/// One SQL backend: what its store supplies (the required items) and the
/// logic every backend runs the same way (the provided methods).
///
/// The `where` clauses say what sqlx must be able to do with the database
/// (run statements on the pool, bind IDs and integers, read integers); they
/// hold for all three drivers.
pub(crate) trait Backend: Send + Sync + Sized + 'static
where
    for<'c> &'c mut <Self::Db as Database>::Connection: Executor<'c, Database = Self::Db>,
    for<'q> <Self::Db as Database>::Arguments<'q>: IntoArguments<'q, Self::Db>,
    for<'q> &'q str: Encode<'q, Self::Db> + Type<Self::Db>,
    for<'q> i64: Encode<'q, Self::Db> + Decode<'q, Self::Db> + Type<Self::Db>,
    usize: ColumnIndex<<Self::Db as Database>::Row>,
{
    /// The sqlx database.
    type Db: Database;
    /// How an instant is bound to `expire`: seconds since the epoch, or a
    /// `DATETIME` (see [`instant`](Self::instant)).
    type Instant: for<'q> Encode<'q, Self::Db> + Type<Self::Db> + Copy + Send + Sync + 'static;
    /// How `sess` is read back; its bytes are the stored JSON.
    type Sess: AsRef<[u8]> + for<'r> Decode<'r, Self::Db> + Type<Self::Db> + Send + Unpin;
    /// How `sid` is read back by `all`.
    type Sid: SidColumn + for<'r> Decode<'r, Self::Db> + Type<Self::Db> + Send + Unpin;
    /// What `exists_live` and `load_and_touch`'s flag return.
    type Found: FoundColumn + for<'r> Decode<'r, Self::Db> + Type<Self::Db> + Send + Unpin;

    /// Seconds since the epoch as this backend binds them to `expire`.
    fn instant(epoch_secs: i64) -> Self::Instant;
    /// The rows a statement changed.
    fn rows_affected(result: &<Self::Db as Database>::QueryResult) -> u64;
    /// Whether the `load_and_touch` statement failed on what the row holds,
    /// where a plain `load` would read it: then that load decides.
    fn row_refused_load_and_touch(_error: &sqlx::Error) -> bool {
        false
    }

    /// The pool the store uses.
    fn pool(&self) -> &Pool<Self::Db>;
    /// The store's options.
    fn settings(&self) -> &Settings;
    /// The statements for the current table.
    fn statements(&self) -> &Statements;
    /// Set once the table is known to exist, so the check runs once.
    fn ensured(&self) -> &OnceCell<()>;

    /// Creates the table unless it is there.
    async fn create_table(&self) -> Result<(), StoreError>;
    /// Writes a live record as `condition` allows, atomically on the server;
    /// false when the condition did not hold (a conflict).
    async fn write(
        &self,
        id: &str,
        json: &str,
        expire: Self::Instant,
        now: Self::Instant,
        condition: SaveCondition,
    ) -> Result<bool, StoreError>;
    /// Deletes the live row of `id` if its version is `expected`; false when
    /// there is no such row.
    async fn delete_if_version(
        &self,
        id: &str,
        now: Self::Instant,
        expected: Version,
    ) -> Result<bool, StoreError>;

    /// `ceil(now_s)`, connect-pg-simple's "now", as this backend binds it.
    fn now() -> Self::Instant {
        Self::instant(now_epoch_secs(now_ms()))
    }

    /// Creates the table when the first call needs it, once per store value
    /// (a failed attempt is retried by the next call).
    async fn ensure_table(&self) -> Result<(), StoreError> {
        if !self.settings().create_table_if_missing {
            return Ok(());
        }
        self.ensured()
            .get_or_try_init(|| self.create_table())
            .await
            .map(|_| ())
    }

    /// `Store::load` without the timeout.
    async fn load_now(&self, id: &str) -> Result<Option<LoadedRecord>, StoreError> {
        self.ensure_table().await?;
        let stored: Option<Self::Sess> = sqlx::query_scalar(&self.statements().load)
            .bind(id)
            .bind(Self::now())
            .fetch_optional(self.pool())
            .await
            .map_err(map_sqlx)?;
        let Some(sess) = stored else {
            return Ok(None);
        };
        loaded_from(sess.as_ref()).map(Some)
    }

    /// `Store::load_and_touch` without the timeout: one statement where the
    /// backend has one, otherwise (and with `disable_touch`) a plain load.
    async fn load_and_touch_now(
        &self,
        id: &str,
    ) -> Result<Option<(LoadedRecord, bool)>, StoreError> {
        let statement = match &self.statements().load_and_touch {
            Some(statement) if !self.settings().disable_touch => statement,
            _ => return Ok(self.load_now(id).await?.map(|loaded| (loaded, false))),
        };
        self.ensure_table().await?;
        let now_ms = now_ms();
        let now_s = now_epoch_secs(now_ms);
        // `Record::expire_epoch_secs` of a browser-session record.
        let browser_session_expire = now_s.saturating_add(self.settings().default_ttl_secs);
        let stored: Option<(Self::Sess, Self::Found)> = match sqlx::query_as(statement)
            .bind(id)
            .bind(now_s)
            .bind(now_ms)
            .bind(browser_session_expire)
            .fetch_optional(self.pool())
            .await
        {
            Ok(stored) => stored,
            // The statement failed as a whole, so nothing was touched; the
            // layer touches at the end of the request, as after any load.
            // Failing here instead would fail every request of the session
            // until the row expires.
            Err(error) if Self::row_refused_load_and_touch(&error) => {
                tracing::debug!(
                    code = ?error.as_database_error().and_then(|db| db.code()),
                    "load_and_touch could not read the record's max age; loading it without the touch"
                );
                return Ok(self.load_now(id).await?.map(|loaded| (loaded, false)));
            }
            Err(error) => return Err(map_sqlx(error)),
        };
        let Some((sess, touched)) = stored else {
            return Ok(None);
        };
        Ok(Some((loaded_from(sess.as_ref())?, touched.found())))
    }

    /// `Store::load_with_expiry` without the timeout: one `SELECT`, which
    /// writes nothing. The touch moves only `expire`, never `sess`'s
    /// `cookie.expires` (as connect-pg-simple's), so `expire` is the
    /// expiry the store enforces. With `disable_touch` a plain load: a
    /// touch writes nothing anyway.
    async fn load_with_expiry_now(
        &self,
        id: &str,
    ) -> Result<Option<(LoadedRecord, Option<i64>)>, StoreError> {
        if self.settings().disable_touch {
            return Ok(self.load_now(id).await?.map(|loaded| (loaded, None)));
        }
        self.ensure_table().await?;
        let stored: Option<(Self::Sess, i64)> = sqlx::query_as(&self.statements().load_with_expiry)
            .bind(id)
            .bind(Self::now())
            .fetch_optional(self.pool())
            .await
            .map_err(map_sqlx)?;
        let Some((sess, expire_ms)) = stored else {
            return Ok(None);
        };
        Ok(Some((loaded_from(sess.as_ref())?, Some(expire_ms))))
    }

    /// `Store::save` without the timeout.
    async fn save_now(
        &self,
        id: &str,
        record: &Record,
        condition: SaveCondition,
    ) -> Result<SaveOutcome, StoreError> {
        self.ensure_table().await?;
        let now_ms = now_ms();
        let now = Self::instant(now_epoch_secs(now_ms));
        let default_ttl_secs = self.settings().default_ttl_secs;
        let json = record.to_json();
        let version = Version::digest_of(json.as_bytes());
        let saved = if record.ttl_secs(now_ms, default_ttl_secs) <= 0 {
            self.save_expired(id, now, condition).await?
        } else {
            let expire = Self::instant(record.expire_epoch_secs(now_ms, default_ttl_secs));
            self.write(id, &json, expire, now, condition).await?
        };
        Ok(if saved {
            SaveOutcome::Saved(version)
        } else {
            SaveOutcome::Conflict
        })
    }

    /// A record whose cookie has already expired is deleted, not written;
    /// the condition still decides whether this save may touch the row.
    async fn save_expired(
        &self,
        id: &str,
        now: Self::Instant,
        condition: SaveCondition,
    ) -> Result<bool, StoreError> {
        match condition {
            SaveCondition::Upsert => {
                self.destroy_now(id).await?;
                Ok(true)
            }
            SaveCondition::IfAbsent => {
                let live: Self::Found = sqlx::query_scalar(&self.statements().exists_live)
                    .bind(id)
                    .bind(now)
                    .fetch_one(self.pool())
                    .await
                    .map_err(map_sqlx)?;
                Ok(!live.found())
            }
            SaveCondition::IfVersion(expected) => self.delete_if_version(id, now, expected).await,
        }
    }

    /// `Store::touch` without the timeout.
    async fn touch_now(&self, id: &str, record: &Record) -> Result<(), StoreError> {
        if self.settings().disable_touch {
            return Ok(());
        }
        self.ensure_table().await?;
        let now_ms = now_ms();
        let expire = record.expire_epoch_secs(now_ms, self.settings().default_ttl_secs);
        sqlx::query(&self.statements().touch)
            .bind(Self::instant(expire))
            .bind(id)
            .bind(Self::instant(now_epoch_secs(now_ms)))
            .execute(self.pool())
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    /// `Store::destroy` without the timeout.
    async fn destroy_now(&self, id: &str) -> Result<(), StoreError> {
        self.ensure_table().await?;
        sqlx::query(&self.statements().destroy)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    /// `Store::all` without the timeout.
    async fn all_now(&self) -> Result<Vec<(String, Record)>, StoreError> {
        self.ensure_table().await?;
        let rows: Vec<(Self::Sid, Self::Sess)> = sqlx::query_as(&self.statements().all)
            .bind(Self::now())
            .fetch_all(self.pool())
            .await
            .map_err(map_sqlx)?;
        rows.into_iter()
            .map(|(sid, sess)| Ok((sid.into_sid(), Record::from_json(sess.as_ref())?)))
            .collect()
    }

    /// `Store::len` without the timeout.
    async fn len_now(&self) -> Result<usize, StoreError> {
        self.ensure_table().await?;
        let count: i64 = sqlx::query_scalar(&self.statements().len)
            .bind(Self::now())
            .fetch_one(self.pool())
            .await
            .map_err(map_sqlx)?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    /// `Store::clear` without the timeout.
    async fn clear_now(&self) -> Result<(), StoreError> {
        self.ensure_table().await?;
        sqlx::query(&self.statements().clear)
            .execute(self.pool())
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    /// `Store::prune_expired` without the timeout.
    async fn prune_now(&self) -> Result<u64, StoreError> {
        self.ensure_table().await?;
        let deleted = sqlx::query(&self.statements().prune)
            .bind(Self::now())
            .execute(self.pool())
            .await
            .map_err(map_sqlx)?;
        Ok(Self::rows_affected(&deleted))
    }
}

/// Pool options whose connection wait is bounded by the default call
/// timeout.
pub(crate) fn pool_options<DB: Database>() -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new().acquire_timeout(DEFAULT_CALL_TIMEOUT)
}

/// A pool with one connection opened now, so that a wrong URL fails here;
/// bounded by the default call timeout.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) async fn connect_pool<DB: Database>(url: &str) -> Result<Pool<DB>, StoreError> {
    use sqlx::Connection as _;
    let options = pool_options::<DB>();
    crate::settings::timed(DEFAULT_CALL_TIMEOUT, async {
        // One plain connection first: a pool retries a failing connect until
        // its acquire timeout and then reports only `PoolTimedOut`, losing
        // the cause (connection refused, authentication failed, unknown
        // database) that this reports at once.
        let probe = DB::Connection::connect(url).await.map_err(map_sqlx)?;
        let _ = probe.close().await;
        options.connect(url).await.map_err(map_sqlx)
    })
    .await
}

/// A pool that connects on first use; only parses `url`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn lazy_pool<DB: Database>(url: &str) -> Result<Pool<DB>, StoreError> {
    pool_options::<DB>().connect_lazy(url).map_err(map_sqlx)
}

/// `impl Store` for a [`Backend`]: every call is the shared logic under the
/// call timeout. (A macro, because `Store` is another crate's trait and so
/// cannot be implemented for every `Backend` at once.)
macro_rules! store_impl {
    ($store:ident, $kind:literal) => {
        impl ::server_session::Store for $store {
            fn load<'a>(
                &'a self,
                id: &'a str,
            ) -> ::server_session::store::StoreFuture<
                'a,
                Option<::server_session::store::LoadedRecord>,
            > {
                self.timed($crate::backend::Backend::load_now(self, id))
            }

            fn load_and_touch<'a>(
                &'a self,
                id: &'a str,
            ) -> ::server_session::store::StoreFuture<
                'a,
                Option<(::server_session::store::LoadedRecord, bool)>,
            > {
                self.timed($crate::backend::Backend::load_and_touch_now(self, id))
            }

            fn load_with_expiry<'a>(
                &'a self,
                id: &'a str,
            ) -> ::server_session::store::StoreFuture<
                'a,
                Option<(::server_session::store::LoadedRecord, Option<i64>)>,
            > {
                self.timed($crate::backend::Backend::load_with_expiry_now(self, id))
            }

            fn save<'a>(
                &'a self,
                id: &'a str,
                record: &'a ::server_session::store::Record,
                condition: ::server_session::store::SaveCondition,
            ) -> ::server_session::store::StoreFuture<'a, ::server_session::store::SaveOutcome>
            {
                self.timed($crate::backend::Backend::save_now(self, id, record, condition))
            }

            fn touch<'a>(
                &'a self,
                id: &'a str,
                record: &'a ::server_session::store::Record,
            ) -> ::server_session::store::StoreFuture<'a, ()> {
                self.timed($crate::backend::Backend::touch_now(self, id, record))
            }

            fn destroy<'a>(&'a self, id: &'a str) -> ::server_session::store::StoreFuture<'a, ()> {
                self.timed($crate::backend::Backend::destroy_now(self, id))
            }

            fn all(
                &self,
            ) -> ::server_session::store::StoreFuture<
                '_,
                Vec<(String, ::server_session::store::Record)>,
            > {
                self.timed($crate::backend::Backend::all_now(self))
            }

            fn len(&self) -> ::server_session::store::StoreFuture<'_, usize> {
                self.timed($crate::backend::Backend::len_now(self))
            }

            fn clear(&self) -> ::server_session::store::StoreFuture<'_, ()> {
                self.timed($crate::backend::Backend::clear_now(self))
            }

            fn prune_expired(&self) -> ::server_session::store::StoreFuture<'_, u64> {
                self.timed($crate::backend::Backend::prune_now(self))
            }

            fn is_ready(&self) -> bool {
                !self.pool.is_closed()
            }

            fn kind(&self) -> &'static str {
                $kind
            }
        }

        impl $store {
            /// Runs one store call under the call timeout, boxed.
            fn timed<'a, T: 'a>(
                &self,
                call: impl ::std::future::Future<
                        Output = Result<T, ::server_session::store::StoreError>,
                    > + Send
                    + 'a,
            ) -> ::server_session::store::StoreFuture<'a, T> {
                Box::pin($crate::settings::timed(self.settings.call_timeout, call))
            }
        }
    };
}

pub(crate) use store_impl;

/// A record read from the stored `sess` text, versioned by that text's
/// digest: every read path must agree on it for compare-and-set to hold.
fn loaded_from(bytes: &[u8]) -> Result<LoadedRecord, StoreError> {
    Ok(LoadedRecord {
        record: Record::from_json(bytes)?,
        version: Version::digest_of(bytes),
    })
}
