//! [`PostgresStore`]: sessions in connect-pg-simple's table.

use std::sync::Arc;

use server_session::store::{SaveCondition, StoreError, Version};
use sqlx::postgres::{PgPool, PgQueryResult, Postgres};
use sqlx::Executor as _;
use tokio::sync::OnceCell;

use crate::backend::{connect_pool, lazy_pool, store_impl, Backend, Statements};
use crate::settings::{common_builders, map_sqlx, timed, Settings};

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
        Ok(Self::from_pool(connect_pool(url).await?))
    }

    /// A store over a pool that connects on first use. Only parses `url`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when `url` is not a PostgreSQL URL.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        Ok(Self::from_pool(lazy_pool(url)?))
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
}

common_builders!(PostgresStore);
store_impl!(PostgresStore, "postgres");

impl Backend for PostgresStore {
    type Db = Postgres;
    /// `to_timestamp($n)` takes seconds since the epoch.
    type Instant = i64;
    /// `sess::text`: `json` keeps its input verbatim.
    type Sess = String;
    type Sid = String;
    /// `SELECT EXISTS (…)`.
    type Found = bool;

    fn instant(epoch_secs: i64) -> i64 {
        epoch_secs
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn row_refused_load_and_touch(error: &sqlx::Error) -> bool {
        refused_by_json_functions(error)
    }

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn settings(&self) -> &Settings {
        &self.settings
    }

    fn statements(&self) -> &Statements {
        &self.sql.shared
    }

    fn ensured(&self) -> &OnceCell<()> {
        &self.ensured
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
        let first = map_sqlx(first);
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
            Err(_) => Err(first),
        }
    }

    /// Each condition is one statement; no row changed means a conflict.
    async fn write(
        &self,
        id: &str,
        json: &str,
        expire: i64,
        now_s: i64,
        condition: SaveCondition,
    ) -> Result<bool, StoreError> {
        let written = match condition {
            SaveCondition::Upsert => sqlx::query(&self.sql.upsert)
                .bind(json)
                .bind(expire)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?,
            SaveCondition::IfAbsent => sqlx::query(&self.sql.insert_if_absent)
                .bind(json)
                .bind(expire)
                .bind(id)
                .bind(now_s)
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?,
            SaveCondition::IfVersion(expected) => sqlx::query(&self.sql.update_if_version)
                .bind(json)
                .bind(expire)
                .bind(id)
                .bind(now_s)
                .bind(expected.as_bytes())
                .execute(&self.pool)
                .await
                .map_err(map_sqlx)?,
        };
        Ok(written.rows_affected() > 0)
    }

    async fn delete_if_version(
        &self,
        id: &str,
        now_s: i64,
        expected: Version,
    ) -> Result<bool, StoreError> {
        let deleted = sqlx::query(&self.sql.delete_if_version)
            .bind(id)
            .bind(now_s)
            .bind(expected.as_bytes())
            .execute(&self.pool)
            .await
            .map_err(map_sqlx)?;
        Ok(deleted.rows_affected() > 0)
    }
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
    upsert: String,
    insert_if_absent: String,
    update_if_version: String,
    delete_if_version: String,
    shared: Statements,
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
        let new_expire = touched_expire();
        Self {
            regclass: "SELECT to_regclass($1::text)::text".to_owned(),
            create: format!("CREATE TABLE {t} {columns}\nWITH (OIDS=FALSE);\n{rest}"),
            create_without_oids: format!("CREATE TABLE {t} {columns};\n{rest}"),
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
            shared: Statements {
                load: format!("SELECT sess::text FROM {t} WHERE sid = $1 AND {live}"),
                // `expire = expire` when there is nothing to touch, so that the
                // row is still returned (the layer then touches at the end).
                load_and_touch: Some(format!(
                    "UPDATE {t} SET expire = COALESCE(to_timestamp({new_expire}), expire) \
                     WHERE sid = $1 AND {live} RETURNING sess::text, {new_expire} IS NOT NULL"
                )),
                // `expire` is a `timestamp` written from `to_timestamp`, that is
                // in the session's time zone; read back the same way, as the
                // `live` comparison does.
                load_with_expiry: format!(
                    "SELECT sess::text, \
                     CAST(floor(EXTRACT(EPOCH FROM expire::timestamptz) * 1000) AS bigint) \
                     FROM {t} WHERE sid = $1 AND {live}"
                ),
                exists_live: format!("SELECT EXISTS (SELECT 1 FROM {t} WHERE sid = $1 AND {live})"),
                touch: format!(
                    "UPDATE {t} SET expire = to_timestamp($1) WHERE sid = $2 AND expire >= to_timestamp($3)"
                ),
                destroy: format!("DELETE FROM {t} WHERE sid = $1"),
                all: format!("SELECT sid, sess::text FROM {t} WHERE expire >= to_timestamp($1)"),
                len: format!("SELECT count(*) FROM {t} WHERE expire >= to_timestamp($1)"),
                clear: format!("DELETE FROM {t}"),
                prune: format!("DELETE FROM {t} WHERE expire < to_timestamp($1)"),
            },
            table: t,
        }
    }
}

/// The `expire` (seconds since the epoch) that a touch made now would
/// give the row, computed from its own `sess`, as `Record::expire_epoch_secs`
/// computes it after express's `cookie.touch()`: `ceil((now_ms +
/// originalMaxAge) / 1000)`, or `$4` (`ceil(now_ms / 1000)` plus the default
/// TTL) for `"originalMaxAge": null`. Binds `$3`, now in milliseconds, and
/// `$4`.
///
/// NULL, meaning "leave `expire` alone", unless `originalMaxAge` is `null`
/// or a plain JSON integer above zero: a float or exponent notation (which
/// `json` keeps as written), a string, a missing key, or a `sess` that is
/// not an object with a `cookie` object (`#>` answers NULL there rather
/// than failing). A touch that would expire the record, and the odd shapes,
/// are left to the layer's own touch at the end of the request. At most 15
/// digits, so that the sum cannot overflow `bigint`; the cast sits in a
/// `THEN`, so it only ever sees digits.
///
/// PostgreSQL's JSON functions unescape every string of the document they
/// read, and refuse `\u0000` (text cannot hold NUL), unpaired UTF-16
/// surrogates, and in a database whose encoding is not UTF-8 any character
/// it cannot hold. `JSON.stringify` writes the first two (and `Record`
/// writes NUL so), so a handler that copies `?return_to=%00` into the
/// session would otherwise make every request of that session fail. So they
/// read a copy of the text in which every escape of a character outside
/// ASCII, and `\u0000`, is `\u0020`: still valid JSON whatever precedes the
/// backslash, and the same `cookie.originalMaxAge`, since no key with a
/// space in it can be `cookie` or `originalMaxAge`. The stored `sess` is
/// never changed.
fn touched_expire() -> String {
    // SQL string constants written as E'' strings, so that
    // `standard_conforming_strings` plays no part: `\u`; a regular
    // expression for `\u` then four hex digits outside 0001-007F; `\u0020`
    // as a replacement text (where a backslash is escaped too).
    let backslash_u = r"E'\\u'";
    let escapes_json_functions_may_refuse = r"E'\\\\u(0000|00[89a-fA-F][0-9a-fA-F]|0[1-9a-fA-F][0-9a-fA-F]{2}|[1-9a-fA-F][0-9a-fA-F]{3})'";
    let space_escape = r"E'\\\\u0020'";
    // Most records hold no `\u` escape at all; `strpos` spares them the
    // regular expression, which costs about twice a JSON parse.
    let readable = format!(
        "(CASE WHEN strpos(sess::text, {backslash_u}) = 0 THEN sess::json \
         ELSE regexp_replace(sess::text, {escapes_json_functions_may_refuse}, {space_escape}, 'g')::json END)"
    );
    let max_age = format!("({readable} #> '{{cookie,originalMaxAge}}')");
    let millis = "CASE WHEN json_typeof(max_age) = 'number' AND max_age::text ~ '^-?[0-9]{1,15}$' \
                  THEN max_age::text::int8 END";
    format!(
        "(SELECT CASE WHEN json_typeof(max_age) = 'null' THEN $4::int8 \
         WHEN millis > 0 THEN ceil(($3::int8 + millis)::numeric / 1000)::int8 END \
         FROM (SELECT max_age, {millis} AS millis FROM (SELECT {max_age} AS max_age) AS doc) AS cookie)"
    )
}

/// Whether the `load_and_touch` statement failed on what the row holds
/// rather than on the server: SQLSTATE class 22, "data exception" (what
/// PostgreSQL's JSON functions raise for text they cannot read, such as a
/// `sess` column of type `text` in a hand-made table holding something that
/// is not JSON), or 0A000, "feature not supported" (what they raise for an
/// escape that a SQL_ASCII database cannot convert). `touched_expire`
/// rewrites every escape known to fail; this is for whatever else might.
fn refused_by_json_functions(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("22") || code == "0A000"),
        _ => false,
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
