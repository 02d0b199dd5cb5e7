//! [`PostgresStore`]: sessions in connect-pg-simple's table.

use std::sync::Arc;
use std::time::Duration;

use server_session::store::{
    now_ms, LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreError, StoreFuture,
    Version,
};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Executor as _;
use tokio::sync::OnceCell;

use crate::settings::{common_builders, map_sqlx, now_epoch_secs, timed, Settings};

/// A session store in PostgreSQL, in connect-pg-simple's schema, so that
/// Node and Rust servers can share one `session` table.
///
/// See the [crate docs](crate) for the schema, the version strategy and an
/// example. Requires PostgreSQL 11 or later (for `sha256`).
///
/// Cloning is cheap and shares the pool.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    settings: Settings,
    schema: Option<String>,
    sql: Arc<Sql>,
    /// Set once the table is known to exist, so the check runs once.
    ensured: Arc<OnceCell<()>>,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/db`), opening one connection
    /// now so that a wrong URL fails here. Bounded by the default call
    /// timeout (5 s).
    ///
    /// # Errors
    ///
    /// [`StoreError::Connection`] or [`StoreError::Timeout`] when the server
    /// cannot be reached, [`StoreError::Backend`] for a bad URL or a refused
    /// login.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let limit = crate::settings::DEFAULT_CALL_TIMEOUT;
        let options = pool_options(limit);
        let pool = timed(limit, async {
            options.connect(url).await.map_err(map_sqlx)
        })
        .await?;
        Ok(Self::from_pool(pool))
    }

    /// A store over a pool that connects on first use. Only parses `url`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when `url` is not a PostgreSQL URL.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        let limit = crate::settings::DEFAULT_CALL_TIMEOUT;
        let pool = pool_options(limit).connect_lazy(url).map_err(map_sqlx)?;
        Ok(Self::from_pool(pool))
    }

    /// A store over an existing pool, such as the one the rest of the
    /// application uses.
    pub fn from_pool(pool: PgPool) -> Self {
        let settings = Settings::default();
        let sql = Arc::new(Sql::new(None, &settings.table));
        Self {
            pool,
            settings,
            schema: None,
            sql,
            ensured: Arc::new(OnceCell::new()),
        }
    }

    /// Keeps the table in this schema (connect-pg-simple's `schemaName`);
    /// by default the table name is unqualified and `search_path` decides.
    #[must_use]
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self.rebuilt()
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The quoted, schema-qualified table name, as it appears in the SQL
    /// (for example `"public"."session"`).
    pub fn qualified_table(&self) -> &str {
        &self.sql.table
    }

    /// Creates the table, its primary key and its expiry index, exactly as
    /// connect-pg-simple's `table.sql` does, unless `to_regclass` finds the
    /// table already there. The first store call does this by itself unless
    /// [`with_create_table_if_missing(false)`](Self::with_create_table_if_missing).
    ///
    /// # Errors
    ///
    /// Any error from the server, such as missing `CREATE` rights.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        timed(self.settings.call_timeout, self.create_table()).await
    }

    fn rebuilt(mut self) -> Self {
        self.sql = Arc::new(Sql::new(self.schema.as_deref(), &self.settings.table));
        self.ensured = Arc::new(OnceCell::new());
        self
    }

    async fn table_exists(&self) -> Result<bool, StoreError> {
        let found: Option<String> = sqlx::query_scalar(&self.sql.regclass)
            .bind(&self.sql.table)
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(found.is_some())
    }

    async fn create_table(&self) -> Result<(), StoreError> {
        if self.table_exists().await? {
            return Ok(());
        }
        // A simple-protocol batch runs as one implicit transaction, so a
        // failure leaves nothing half-created.
        let Err(first) = self.pool.execute(sqlx::raw_sql(&self.sql.create)).await else {
            return Ok(());
        };
        // Another process may have created it in the meantime.
        if self.table_exists().await? {
            return Ok(());
        }
        // `WITH (OIDS=FALSE)` is accepted by every release so far, but a
        // server that refuses it still gets the same table without it.
        tracing::debug!(error = %first, "session table creation failed; retrying without WITH (OIDS=FALSE)");
        match self
            .pool
            .execute(sqlx::raw_sql(&self.sql.create_without_oids))
            .await
        {
            Ok(_) => Ok(()),
            Err(_) if self.table_exists().await? => Ok(()),
            Err(_) => Err(map_sqlx(first)),
        }
    }

    async fn load_now(&self, id: &str) -> Result<Option<LoadedRecord>, StoreError> {
        self.ensure_table().await?;
        let stored: Option<String> = sqlx::query_scalar(&self.sql.load)
            .bind(id)
            .bind(now_epoch_secs(now_ms()))
            .fetch_optional(&self.pool)
            .await
            .map_err(map_sqlx)?;
        let Some(text) = stored else {
            return Ok(None);
        };
        let record = Record::from_json(text.as_bytes())?;
        Ok(Some(LoadedRecord {
            record,
            version: Version::digest_of(text.as_bytes()),
        }))
    }

    async fn save_now(
        &self,
        id: &str,
        record: &Record,
        condition: SaveCondition,
    ) -> Result<SaveOutcome, StoreError> {
        self.ensure_table().await?;
        let now = now_ms();
        let now_s = now_epoch_secs(now);
        let json = record.to_json();
        let version = Version::digest_of(json.as_bytes());
        if record.ttl_secs(now, self.settings.default_ttl_secs) <= 0 {
            return self.save_expired(id, now_s, condition, version).await;
        }
        let expire = record.expire_epoch_secs(now, self.settings.default_ttl_secs);
        let written = match condition {
            SaveCondition::Upsert => sqlx::query(&self.sql.upsert)
                .bind(&json)
                .bind(expire)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?,
            SaveCondition::IfAbsent => sqlx::query(&self.sql.insert_if_absent)
                .bind(&json)
                .bind(expire)
                .bind(id)
                .bind(now_s)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?,
            SaveCondition::IfVersion(expected) => sqlx::query(&self.sql.update_if_version)
                .bind(&json)
                .bind(expire)
                .bind(id)
                .bind(now_s)
                .bind(expected.as_bytes())
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?,
        };
        Ok(if written.rows_affected() == 0 {
            SaveOutcome::Conflict
        } else {
            SaveOutcome::Saved(version)
        })
    }

    /// A record whose cookie has already expired is deleted, not written;
    /// the condition still decides whether this save may touch the row.
    async fn save_expired(
        &self,
        id: &str,
        now_s: i64,
        condition: SaveCondition,
        version: Version,
    ) -> Result<SaveOutcome, StoreError> {
        let allowed = match condition {
            SaveCondition::Upsert => {
                self.destroy_now(id).await?;
                true
            }
            SaveCondition::IfAbsent => {
                let live: bool = sqlx::query_scalar(&self.sql.exists_live)
                    .bind(id)
                    .bind(now_s)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_sqlx)?;
                !live
            }
            SaveCondition::IfVersion(expected) => {
                sqlx::query(&self.sql.delete_if_version)
                    .bind(id)
                    .bind(now_s)
                    .bind(expected.as_bytes())
                    .execute(&self.pool)
                    .await
                    .map_err(map_sqlx)?
                    .rows_affected()
                    > 0
            }
        };
        Ok(if allowed {
            SaveOutcome::Saved(version)
        } else {
            SaveOutcome::Conflict
        })
    }

    async fn touch_now(&self, id: &str, record: &Record) -> Result<(), StoreError> {
        if self.settings.disable_touch {
            return Ok(());
        }
        self.ensure_table().await?;
        let now = now_ms();
        sqlx::query(&self.sql.touch)
            .bind(record.expire_epoch_secs(now, self.settings.default_ttl_secs))
            .bind(id)
            .bind(now_epoch_secs(now))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn destroy_now(&self, id: &str) -> Result<(), StoreError> {
        self.ensure_table().await?;
        sqlx::query(&self.sql.destroy)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn all_now(&self) -> Result<Vec<(String, Record)>, StoreError> {
        self.ensure_table().await?;
        let rows: Vec<(String, String)> = sqlx::query_as(&self.sql.all)
            .bind(now_epoch_secs(now_ms()))
            .fetch_all(&self.pool)
            .await
            .map_err(map_sqlx)?;
        rows.into_iter()
            .map(|(sid, text)| Ok((sid, Record::from_json(text.as_bytes())?)))
            .collect()
    }

    async fn len_now(&self) -> Result<usize, StoreError> {
        self.ensure_table().await?;
        let count: i64 = sqlx::query_scalar(&self.sql.len)
            .bind(now_epoch_secs(now_ms()))
            .fetch_one(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    async fn clear_now(&self) -> Result<(), StoreError> {
        self.ensure_table().await?;
        sqlx::query(&self.sql.clear)
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn prune_now(&self) -> Result<u64, StoreError> {
        self.ensure_table().await?;
        let deleted = sqlx::query(&self.sql.prune)
            .bind(now_epoch_secs(now_ms()))
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(deleted.rows_affected())
    }
}

common_builders!(PostgresStore);

impl Store for PostgresStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        Box::pin(timed(self.settings.call_timeout, self.load_now(id)))
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        Box::pin(timed(
            self.settings.call_timeout,
            self.save_now(id, record, condition),
        ))
    }

    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        Box::pin(timed(
            self.settings.call_timeout,
            self.touch_now(id, record),
        ))
    }

    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(timed(self.settings.call_timeout, self.destroy_now(id)))
    }

    fn all(&self) -> StoreFuture<'_, Vec<(String, Record)>> {
        Box::pin(timed(self.settings.call_timeout, self.all_now()))
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        Box::pin(timed(self.settings.call_timeout, self.len_now()))
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        Box::pin(timed(self.settings.call_timeout, self.clear_now()))
    }

    fn prune_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(timed(self.settings.call_timeout, self.prune_now()))
    }

    fn is_ready(&self) -> bool {
        !self.pool.is_closed()
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }
}

fn pool_options(acquire_timeout: Duration) -> PgPoolOptions {
    PgPoolOptions::new().acquire_timeout(acquire_timeout)
}

/// A PostgreSQL identifier in double quotes, inner quotes doubled, as
/// connect-pg-simple's `escapePgIdentifier` writes it.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// The statements, built once per table name.
///
/// The version of a row is the SHA-256 of `sess::text` (the `json` type
/// keeps its input verbatim, so this is the digest of the exact bytes Node
/// or we wrote); `sha256(convert_to(sess::text, 'UTF8'))` computes the same
/// digest on the server, so compare-and-set is one `UPDATE`.
#[derive(Debug)]
struct Sql {
    table: String,
    regclass: String,
    create: String,
    create_without_oids: String,
    load: String,
    upsert: String,
    insert_if_absent: String,
    update_if_version: String,
    delete_if_version: String,
    exists_live: String,
    touch: String,
    destroy: String,
    all: String,
    len: String,
    clear: String,
    prune: String,
}

impl Sql {
    fn new(schema: Option<&str>, table: &str) -> Self {
        let t = match schema {
            Some(schema) => format!("{}.{}", quote(schema), quote(table)),
            None => quote(table),
        };
        // connect-pg-simple substitutes only the table name into table.sql,
        // so its constraint and index keep the names `session_pkey` and
        // `IDX_session_expire`. We derive them from the table name instead
        // (identical for the default table), so that two session tables can
        // live in one schema.
        let pkey = quote(&format!("{table}_pkey"));
        let index = quote(&format!("IDX_{table}_expire"));
        let columns = r#"("sid" varchar NOT NULL COLLATE "default", "sess" json NOT NULL, "expire" timestamp(6) NOT NULL)"#;
        let rest = format!(
            "ALTER TABLE {t} ADD CONSTRAINT {pkey} PRIMARY KEY (\"sid\") NOT DEFERRABLE INITIALLY IMMEDIATE;\n\
             CREATE INDEX {index} ON {t} (\"expire\");"
        );
        let live = "expire >= to_timestamp($2)";
        let digest = "sha256(convert_to(sess::text, 'UTF8'))";
        Self {
            regclass: "SELECT to_regclass($1::text)::text".to_owned(),
            create: format!("CREATE TABLE {t} {columns}\nWITH (OIDS=FALSE);\n{rest}"),
            create_without_oids: format!("CREATE TABLE {t} {columns};\n{rest}"),
            load: format!("SELECT sess::text FROM {t} WHERE sid = $1 AND {live}"),
            upsert: format!(
                "INSERT INTO {t} (sess, expire, sid) VALUES ($1::json, to_timestamp($2), $3) \
                 ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire"
            ),
            insert_if_absent: format!(
                "INSERT INTO {t} AS t (sess, expire, sid) VALUES ($1::json, to_timestamp($2), $3) \
                 ON CONFLICT (sid) DO UPDATE SET sess = excluded.sess, expire = excluded.expire \
                 WHERE t.expire < to_timestamp($4)"
            ),
            update_if_version: format!(
                "UPDATE {t} SET sess = $1::json, expire = to_timestamp($2) \
                 WHERE sid = $3 AND expire >= to_timestamp($4) AND {digest} = $5"
            ),
            delete_if_version: format!("DELETE FROM {t} WHERE sid = $1 AND {live} AND {digest} = $3"),
            exists_live: format!("SELECT EXISTS (SELECT 1 FROM {t} WHERE sid = $1 AND {live})"),
            touch: format!(
                "UPDATE {t} SET expire = to_timestamp($1) WHERE sid = $2 AND expire >= to_timestamp($3)"
            ),
            destroy: format!("DELETE FROM {t} WHERE sid = $1"),
            all: format!("SELECT sid, sess::text FROM {t} WHERE expire >= to_timestamp($1)"),
            len: format!("SELECT count(*) FROM {t} WHERE expire >= to_timestamp($1)"),
            clear: format!("DELETE FROM {t}"),
            prune: format!("DELETE FROM {t} WHERE expire < to_timestamp($1)"),
            table: t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_like_connect_pg_simple() {
        assert_eq!(quote("session"), "\"session\"");
        assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
        let sql = Sql::new(Some("app"), "session");
        assert_eq!(sql.table, "\"app\".\"session\"");
        assert!(sql.create.contains("CONSTRAINT \"session_pkey\""));
        assert!(sql.create.contains("INDEX \"IDX_session_expire\""));
    }
}
