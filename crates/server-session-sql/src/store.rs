//! [`SqlStore`]: the session store, written once over its [`Dialect`]. The
//! dialect supplies its SQL and the types it binds and reads; running them
//! (table creation on first use, conditional writes, expired records,
//! version digests, the row-to-record mapping), the options and the call
//! timeout are here.

use std::sync::Arc;
use std::time::Duration;

use server_session::store::{
    expiry, now_ms, LoadedRecord, Record, SaveCondition, SaveOutcome, StoreError, StoreFuture,
    UserPath, Version,
};
use server_session::Store;
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};
use tokio::sync::OnceCell;

use crate::dialect::{
    Dialect, DigestColumn as _, FoundColumn as _, IfAbsent, IfVersion, InstantColumn as _,
    SidColumn as _, Sql,
};
use crate::settings::{map_sqlx, now_epoch_secs, timed, ttl_secs, Settings, DEFAULT_TABLE};
use crate::PrunerHandle;

mod users;

/// A session store in an SQL database: [`PostgresStore`](crate::PostgresStore),
/// [`MySqlStore`](crate::MySqlStore) or [`SqliteStore`](crate::SqliteStore),
/// whose docs say what each dialect keeps where.
///
/// See the [crate docs](crate) for the schemas, the version strategy and an
/// example. Cloning is cheap and shares the pool.
#[derive(Debug)]
pub struct SqlStore<D: Dialect> {
    pool: Pool<D>,
    settings: Settings,
    sql: Arc<Sql>,
    /// Set once the table is known to exist, so the check runs once.
    ensured: Arc<OnceCell<()>>,
}

impl<D: Dialect> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            settings: self.settings.clone(),
            sql: Arc::clone(&self.sql),
            ensured: Arc::clone(&self.ensured),
        }
    }
}

impl<D: Dialect> SqlStore<D> {
    /// Connects to `url`, opening one connection now so that a wrong URL
    /// fails here: `postgres://user@host/db`, `mysql://user:password@host/db`,
    /// or `sqlite://path/to/sessions.db` (`sqlite::memory:`), an SQLite file
    /// being created if it is missing and switched to WAL journaling, so
    /// that readers do not wait for writers. Bounded by the default call
    /// timeout (5 s).
    ///
    /// # Errors
    ///
    /// [`StoreError::Connection`] or [`StoreError::Timeout`] when the server
    /// cannot be reached, [`StoreError::Backend`] for a bad URL, a refused
    /// login, or an SQLite file that cannot be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self::from_pool(D::connect(url).await?))
    }

    /// A store over a pool that connects (or opens the SQLite file, as
    /// [`connect`](Self::connect) would) on first use. Only parses `url`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when `url` is not a URL of this database.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        Ok(Self::from_pool(D::connect_lazy(url)?))
    }

    /// A store over an existing pool, such as the one the rest of the
    /// application uses. MySQL: its connections must use the `utf8mb4`
    /// character set (sqlx's default).
    pub fn from_pool(pool: Pool<D>) -> Self {
        Self {
            pool,
            settings: Settings::default(),
            sql: Arc::new(Sql::new::<D>(None, DEFAULT_TABLE.to_owned())),
            ensured: Arc::new(OnceCell::new()),
        }
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &Pool<D> {
        &self.pool
    }

    /// Keeps sessions in this table (default `session`). The name is
    /// quoted, so any characters are allowed.
    #[must_use]
    pub fn with_table(self, table: impl Into<String>) -> Self {
        let schema = self.schema().map(str::to_owned);
        self.rebuilt(schema, table.into())
    }

    /// The lifetime of a record whose cookie has no `expires` (a
    /// browser-session cookie): one day by default, like connect-pg-simple's
    /// `ttl`. Rounded up to whole seconds, at least one.
    #[must_use]
    pub fn with_default_ttl(mut self, ttl: Duration) -> Self {
        self.settings.default_ttl_secs = ttl_secs(ttl);
        self
    }

    /// Bounds every call, waiting for a pooled connection included (default
    /// 5 s). A call that takes longer fails with [`StoreError::Timeout`].
    #[must_use]
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.settings.call_timeout = timeout;
        self
    }

    /// Makes [`touch`](Store::touch) a no-op, like connect-pg-simple's
    /// `disableTouch` (default false).
    #[must_use]
    pub fn with_disable_touch(mut self, disable: bool) -> Self {
        self.settings.disable_touch = disable;
        self
    }

    /// Whether the first call creates the table when it is missing (default
    /// true, like connect-pg-simple's `createTableIfMissing: true`). When
    /// false, create it yourself or call [`migrate`](Self::migrate).
    #[must_use]
    pub fn with_create_table_if_missing(mut self, create: bool) -> Self {
        self.settings.create_table_if_missing = create;
        self
    }

    /// The table name, unquoted.
    pub fn table(&self) -> &str {
        &self.sql.table
    }

    /// The schema name, unquoted (PostgreSQL's
    /// [`with_schema`](Self::with_schema)).
    pub(crate) fn schema(&self) -> Option<&str> {
        self.sql.schema.as_deref()
    }

    /// The table name as it appears in the SQL: quoted, and
    /// schema-qualified when a schema is set (for example
    /// `"public"."session"`).
    pub fn quoted_table(&self) -> &str {
        &self.sql.quoted
    }

    /// The store with its statements built for a new table or schema name;
    /// the table is looked for again.
    pub(crate) fn rebuilt(mut self, schema: Option<String>, table: String) -> Self {
        self.sql = Arc::new(Sql::new::<D>(schema, table));
        self.ensured = Arc::new(OnceCell::new());
        self
    }

    /// `ceil(now_s)`, connect-pg-simple's "now", as this dialect binds it.
    fn now() -> D::Instant {
        D::Instant::from_epoch_secs(now_epoch_secs(now_ms()))
    }

    /// Runs one store call under the call timeout, boxed.
    fn timed<'a, T: 'a>(
        &self,
        call: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        Box::pin(timed(self.settings.call_timeout, call))
    }
}

/// The store calls without their timeout. The bounds say what sqlx must be
/// able to do with the database (run statements on the pool, bind IDs and
/// integers, read integers); they hold for all three dialects.
impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    for<'q> &'q str: Encode<'q, D> + Type<D>,
    for<'q> i64: Encode<'q, D> + Decode<'q, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
{
    /// Creates the table and its expiry index unless they are there:
    /// PostgreSQL, exactly as connect-pg-simple's `table.sql` does, when
    /// `to_regclass` does not find the table; MySQL and SQLite, `CREATE …
    /// IF NOT EXISTS`. The first store call does this by itself unless
    /// [`with_create_table_if_missing(false)`](Self::with_create_table_if_missing).
    ///
    /// # Errors
    ///
    /// Any error from the database, such as missing `CREATE` rights or a
    /// read-only file.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        timed(self.settings.call_timeout, self.create_table()).await
    }

    /// Starts a task that deletes expired rows about every `interval`
    /// (randomised to 50–150 %, like connect-pg-simple's
    /// `pruneSessionInterval`). See [`spawn_pruner`](crate::spawn_pruner).
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime.
    pub fn spawn_pruner(&self, interval: Duration) -> PrunerHandle {
        crate::spawn_pruner(self.clone(), interval)
    }

    /// Creates the table when the first call needs it, once per store value
    /// (a failed attempt is retried by the next call).
    async fn ensure_table(&self) -> Result<(), StoreError> {
        if !self.settings.create_table_if_missing {
            return Ok(());
        }
        self.ensured
            .get_or_try_init(|| self.create_table())
            .await
            .map(|_| ())
    }

    /// Creates the table unless it is there.
    async fn create_table(&self) -> Result<(), StoreError> {
        let own = &self.sql.own;
        if self.table_exists().await? {
            return Ok(());
        }
        // A batch runs as one implicit transaction on PostgreSQL, so a
        // failure leaves nothing half-created.
        let Err(first) = self.pool.execute(sqlx::raw_sql(&own.create)).await else {
            return Ok(());
        };
        let first = map_sqlx(first);
        // Another process may have created it in the meantime.
        if self.table_exists().await? {
            return Ok(());
        }
        let Some(fallback) = &own.create_fallback else {
            return Err(first);
        };
        // `WITH (OIDS=FALSE)` is accepted by every PostgreSQL release so
        // far, but a server that refuses it still gets the same table
        // without it.
        tracing::debug!(
            error = &first as &dyn std::error::Error,
            "session table creation failed; retrying without WITH (OIDS=FALSE)"
        );
        match self.pool.execute(sqlx::raw_sql(fallback)).await {
            Ok(_) => Ok(()),
            Err(_) if self.table_exists().await? => Ok(()),
            Err(_) => Err(first),
        }
    }

    /// Whether the dialect's lookup finds the table; false where it has
    /// none, its `create` saying `IF NOT EXISTS`.
    async fn table_exists(&self) -> Result<bool, StoreError> {
        let Some(lookup) = &self.sql.own.lookup else {
            return Ok(false);
        };
        let found: Option<D::Sess> = sqlx::query_scalar(lookup)
            .bind(self.sql.quoted.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(found.is_some())
    }

    /// Runs `statement` on the pool; the number of rows it changed.
    async fn run<'q>(
        &self,
        statement: Query<'q, D, <D as Database>::Arguments<'q>>,
    ) -> Result<u64, StoreError> {
        let done = statement.execute(&self.pool).await.map_err(map_sqlx)?;
        Ok(D::rows_affected(&done))
    }

    /// `Store::load` without the timeout.
    async fn load_now(&self, id: &str) -> Result<Option<LoadedRecord>, StoreError> {
        self.ensure_table().await?;
        let stored: Option<D::Sess> = sqlx::query_scalar(&self.sql.shared.load)
            .bind(id)
            .bind(Self::now())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        let Some(sess) = stored else {
            return Ok(None);
        };
        loaded_from(sess.as_ref()).map(Some)
    }

    /// `Store::load_and_touch` without the timeout: one statement where the
    /// dialect has one, otherwise (and with `disable_touch`) a plain load.
    async fn load_and_touch_now(
        &self,
        id: &str,
    ) -> Result<Option<(LoadedRecord, bool)>, StoreError> {
        let statement = match &self.sql.shared.load_and_touch {
            Some(statement) if !self.settings.disable_touch => statement,
            _ => return Ok(self.load_now(id).await?.map(|loaded| (loaded, false))),
        };
        self.ensure_table().await?;
        let now_ms = now_ms();
        let now_s = now_epoch_secs(now_ms);
        // `Record::expire_epoch_secs` of a browser-session record.
        let browser_session_expire = now_s.saturating_add(self.settings.default_ttl_secs);
        let stored: Option<(D::Sess, D::Found)> = match sqlx::query_as(statement)
            .bind(id)
            .bind(now_s)
            .bind(now_ms)
            .bind(browser_session_expire)
            .fetch_optional(&self.pool)
            .await
        {
            Ok(stored) => stored,
            // The statement failed as a whole, so nothing was touched; the
            // layer touches at the end of the request, as after any load.
            // Failing here instead would fail every request of the session
            // until the row expires.
            Err(error) if D::row_refused_load_and_touch(&error) => {
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
        if self.settings.disable_touch {
            return Ok(self.load_now(id).await?.map(|loaded| (loaded, None)));
        }
        self.ensure_table().await?;
        let stored: Option<(D::Sess, i64)> = sqlx::query_as(&self.sql.shared.load_with_expiry)
            .bind(id)
            .bind(Self::now())
            .fetch_optional(&self.pool)
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
        let now = D::Instant::from_epoch_secs(now_epoch_secs(now_ms));
        let default_ttl_secs = self.settings.default_ttl_secs;
        let json = record.to_json();
        let version = Version::digest_of(json.as_bytes());
        let saved = if expiry::ttl_secs(record, now_ms, default_ttl_secs) <= 0 {
            self.save_expired(id, now, condition).await?
        } else {
            let expire = D::Instant::from_epoch_secs(expiry::expire_epoch_secs(
                record,
                now_ms,
                default_ttl_secs,
            ));
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
        now: D::Instant,
        condition: SaveCondition,
    ) -> Result<bool, StoreError> {
        match condition {
            SaveCondition::Upsert => {
                self.destroy_now(id).await?;
                Ok(true)
            }
            SaveCondition::IfAbsent => {
                let live: D::Found = sqlx::query_scalar(&self.sql.shared.exists_live)
                    .bind(id)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                Ok(!live.found())
            }
            SaveCondition::IfVersion(expected) => self.delete_if_version(id, now, expected).await,
        }
    }

    /// Writes a live record as `condition` allows, atomically on the server;
    /// false when the condition did not hold (a conflict).
    async fn write(
        &self,
        id: &str,
        json: &str,
        expire: D::Instant,
        now: D::Instant,
        condition: SaveCondition,
    ) -> Result<bool, StoreError> {
        let own = &self.sql.own;
        match condition {
            SaveCondition::Upsert => {
                self.run(sqlx::query(&own.upsert).bind(id).bind(json).bind(expire))
                    .await?;
                Ok(true)
            }
            SaveCondition::IfAbsent => self.insert_if_absent(id, json, expire, now).await,
            SaveCondition::IfVersion(expected) => match &own.if_version {
                // MySQL: sqlx connects with CLIENT_FOUND_ROWS, so the
                // affected-row count is the number of rows matched, even
                // when the new values equal the old ones.
                IfVersion::OnServer { update, .. } => {
                    let update = sqlx::query(update)
                        .bind(json)
                        .bind(expire)
                        .bind(id)
                        .bind(now)
                        .bind(D::Digest::from_version(expected));
                    Ok(self.run(update).await? > 0)
                }
                IfVersion::InTransaction { begin, update } => {
                    let new = Some((update.as_str(), json, expire));
                    self.compare_and_set(begin, id, now, expected, new).await
                }
            },
        }
    }

    /// [`SaveCondition::IfAbsent`]: inserts, or replaces only an expired
    /// row; false when a live row is there.
    async fn insert_if_absent(
        &self,
        id: &str,
        json: &str,
        expire: D::Instant,
        now: D::Instant,
    ) -> Result<bool, StoreError> {
        match &self.sql.own.if_absent {
            IfAbsent::Upsert(upsert) => {
                let upsert = sqlx::query(upsert).bind(id).bind(json).bind(expire);
                Ok(self.run(upsert.bind(now)).await? > 0)
            }
            IfAbsent::DeleteExpiredThenInsert {
                delete_expired,
                insert,
            } => {
                self.run(sqlx::query(delete_expired).bind(id).bind(now))
                    .await?;
                let inserted = sqlx::query(insert)
                    .bind(id)
                    .bind(json)
                    .bind(expire)
                    .execute(&self.pool)
                    .await;
                match inserted {
                    Ok(_) => Ok(true),
                    Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(false),
                    Err(error) => Err(map_sqlx(error)),
                }
            }
        }
    }

    /// Deletes the live row of `id` if its version is `expected`; false when
    /// there is no such row.
    async fn delete_if_version(
        &self,
        id: &str,
        now: D::Instant,
        expected: Version,
    ) -> Result<bool, StoreError> {
        match &self.sql.own.if_version {
            IfVersion::OnServer { delete, .. } => {
                let delete = sqlx::query(delete).bind(id).bind(now);
                Ok(self
                    .run(delete.bind(D::Digest::from_version(expected)))
                    .await?
                    > 0)
            }
            IfVersion::InTransaction { begin, .. } => {
                self.compare_and_set(begin, id, now, expected, None).await
            }
        }
    }

    /// [`IfVersion::InTransaction`]: in a transaction opened by `begin`,
    /// reads the live row's `sess` and, if its digest is `expected`, runs
    /// `new` (an update statement, json and expire) or, for `None`, deletes
    /// the row. False when the row is missing or has another version.
    async fn compare_and_set(
        &self,
        begin: &'static str,
        id: &str,
        now: D::Instant,
        expected: Version,
        new: Option<(&str, &str, D::Instant)>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with(begin).await.map_err(map_sqlx)?;
        let stored: Option<D::Sess> = sqlx::query_scalar(&self.sql.shared.load)
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if stored.map(|sess| Version::digest_of(sess.as_ref())) != Some(expected) {
            // Dropping the transaction rolls it back.
            return Ok(false);
        }
        let statement = match new {
            Some((update, json, expire)) => sqlx::query(update).bind(json).bind(expire).bind(id),
            None => sqlx::query(&self.sql.shared.destroy).bind(id),
        };
        statement.execute(&mut *tx).await.map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }

    /// `Store::touch` without the timeout.
    async fn touch_now(&self, id: &str, record: &Record) -> Result<(), StoreError> {
        if self.settings.disable_touch {
            return Ok(());
        }
        self.ensure_table().await?;
        let now_ms = now_ms();
        let expire = expiry::expire_epoch_secs(record, now_ms, self.settings.default_ttl_secs);
        let touch = sqlx::query(&self.sql.shared.touch)
            .bind(D::Instant::from_epoch_secs(expire))
            .bind(id)
            .bind(D::Instant::from_epoch_secs(now_epoch_secs(now_ms)));
        self.run(touch).await?;
        Ok(())
    }

    /// `Store::destroy` without the timeout.
    async fn destroy_now(&self, id: &str) -> Result<(), StoreError> {
        self.ensure_table().await?;
        self.run(sqlx::query(&self.sql.shared.destroy).bind(id))
            .await?;
        Ok(())
    }

    /// `Store::all` without the timeout.
    async fn all_now(&self) -> Result<Vec<(String, Record)>, StoreError> {
        self.ensure_table().await?;
        let rows: Vec<(D::Sid, D::Sess)> = sqlx::query_as(&self.sql.shared.all)
            .bind(Self::now())
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter()
            .map(|(sid, sess)| Ok((sid.into_sid(), Record::from_json(sess.as_ref())?)))
            .collect()
    }

    /// `Store::len` without the timeout.
    async fn len_now(&self) -> Result<usize, StoreError> {
        self.ensure_table().await?;
        let count: i64 = sqlx::query_scalar(&self.sql.shared.len)
            .bind(Self::now())
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    /// `Store::clear` without the timeout.
    async fn clear_now(&self) -> Result<(), StoreError> {
        self.ensure_table().await?;
        self.run(sqlx::query(&self.sql.shared.clear)).await?;
        Ok(())
    }

    /// `Store::prune_expired` without the timeout.
    async fn prune_now(&self) -> Result<u64, StoreError> {
        self.ensure_table().await?;
        self.run(sqlx::query(&self.sql.shared.prune).bind(Self::now()))
            .await
    }
}

/// Every call is the logic above under the call timeout.
impl<D: Dialect> Store for SqlStore<D>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    for<'q> &'q str: Encode<'q, D> + Type<D>,
    for<'q> i64: Encode<'q, D> + Decode<'q, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
{
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        self.timed(self.load_now(id))
    }

    fn load_and_touch<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(LoadedRecord, bool)>> {
        self.timed(self.load_and_touch_now(id))
    }

    fn load_with_expiry<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Option<(LoadedRecord, Option<i64>)>> {
        self.timed(self.load_with_expiry_now(id))
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        self.timed(self.save_now(id, record, condition))
    }

    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        self.timed(self.touch_now(id, record))
    }

    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        self.timed(self.destroy_now(id))
    }

    fn all(&self) -> StoreFuture<'_, Vec<(String, Record)>> {
        self.timed(self.all_now())
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        self.timed(self.len_now())
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        self.timed(self.clear_now())
    }

    fn prune_expired(&self) -> StoreFuture<'_, u64> {
        self.timed(self.prune_now())
    }

    /// Nothing to do: the index is a query over `sess`.
    fn index_user<'a>(&'a self, _user: &'a str, _id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async { Ok(()) })
    }

    fn user_sessions<'a>(
        &'a self,
        user_path: &'a UserPath,
        user: &'a str,
    ) -> StoreFuture<'a, Vec<(String, LoadedRecord)>> {
        self.timed(self.user_sessions_now(user_path, user))
    }

    fn is_ready(&self) -> bool {
        !self.pool.is_closed()
    }

    fn kind(&self) -> &'static str {
        D::KIND
    }

    /// Every call (waiting for a pooled connection included) runs under the
    /// call timeout.
    fn own_timeout(&self) -> Option<Duration> {
        Some(self.settings.call_timeout)
    }
}

/// A record read from the stored `sess` text, versioned by that text's
/// digest: every read path must agree on it for compare-and-set to hold.
fn loaded_from(bytes: &[u8]) -> Result<LoadedRecord, StoreError> {
    Ok(LoadedRecord::new(
        Record::from_json(bytes)?,
        Version::digest_of(bytes),
    ))
}
