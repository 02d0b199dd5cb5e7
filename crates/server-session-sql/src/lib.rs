//! SQL session stores for [`server_session`]: PostgreSQL in
//! connect-pg-simple's exact schema, MySQL/MariaDB, and SQLite.
//!
//! Each store implements [`server_session::Store`], passes the store
//! conformance suite, and keeps each session as one row holding express's
//! JSON, so a Node server running express-session (with connect-pg-simple,
//! for PostgreSQL) can share the table.
//!
//! # Features
//!
//! | Feature    | Enables                       | Default |
//! |------------|-------------------------------|---------|
//! | `postgres` | [`PostgresStore`] (sqlx `postgres`)        | no |
//! | `mysql`    | [`MySqlStore`] (sqlx `mysql`, `time`)      | no |
//! | `sqlite`   | [`SqliteStore`] (sqlx `sqlite`)            | no |
//!
//! With no feature the crate holds only [`spawn_pruner`], which works with
//! any [`Store`](server_session::Store).
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn demo() -> Result<(), server_session::StoreError> {
//! use std::time::Duration;
//! use server_session_sql::PostgresStore;
//!
//! let store = PostgresStore::connect("postgres://app@localhost/app")
//!     .await?
//!     .with_table("session")               // connect-pg-simple's default
//!     .with_call_timeout(Duration::from_secs(2));
//! store.migrate().await?;                  // optional: the first call does it too
//!
//! // Delete expired rows about every 15 minutes, as connect-pg-simple does.
//! // Keep the handle: dropping it stops the task.
//! let pruner = store.spawn_pruner(Duration::from_secs(900));
//! # drop(pruner);
//! # Ok(())
//! # }
//! ```
//!
//! Pass the store to the session layer like any other store. A store made
//! from a pool the application already has: `PostgresStore::from_pool(pool)`.
//!
//! The three stores are one type, [`SqlStore`], over the sqlx database it
//! speaks (its [`Dialect`]: `PostgresStore` is `SqlStore<sqlx::Postgres>`),
//! so they have the same methods and behave the same wherever their SQL
//! allows.
//!
//! # Options
//!
//! Every store has the same builder methods:
//!
//! | Method                              | Default     | connect-pg-simple      |
//! |-------------------------------------|-------------|------------------------|
//! | `with_table(name)`                  | `session`   | `tableName`            |
//! | `with_schema(name)` (PostgreSQL)    | none        | `schemaName`           |
//! | `with_default_ttl(duration)`        | 1 day       | `ttl`                  |
//! | `with_call_timeout(duration)`       | 5 s         | —                      |
//! | `with_disable_touch(bool)`          | false       | `disableTouch`         |
//! | `with_create_table_if_missing(bool)`| **true**    | `createTableIfMissing` (default false there) |
//!
//! `table()` answers the table name as given, `quoted_table()` as the SQL
//! writes it (quoted, and schema-qualified on PostgreSQL when a schema is
//! set). The default TTL applies to records whose cookie has no `expires`.
//! Every call, waiting for a pooled connection included, is bounded by the
//! call timeout and fails with `StoreError::Timeout` when it runs over.
//!
//! **Table creation.** `connect` only connects. When
//! `create_table_if_missing` is on, the first call of a store value
//! creates the table if it is missing (connect-pg-simple does the same, on
//! its first query); `migrate()` does it on demand whatever the option
//! says. Changing the table or schema name starts over.
//!
//! # Schemas
//!
//! All three keep connect-pg-simple's columns: `sid` (the session ID),
//! `sess` (express's JSON, byte for byte as `JSON.stringify` wrote it) and
//! `expire`, the instant after which the row is dead: `ceil(expires / 1000)`
//! seconds since the epoch from `cookie.expires`, or `ceil(now / 1000) +
//! ttl` for a browser-session cookie. A row is live while `expire >=
//! ceil(now_s)`; dead rows are invisible to every call and deleted by the
//! pruner.
//!
//! ## PostgreSQL (connect-pg-simple's `table.sql`)
//!
//! ```sql
//! CREATE TABLE "session" (
//!   "sid" varchar NOT NULL COLLATE "default",
//!   "sess" json NOT NULL,
//!   "expire" timestamp(6) NOT NULL
//! )
//! WITH (OIDS=FALSE);
//! ALTER TABLE "session" ADD CONSTRAINT "session_pkey" PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE;
//! CREATE INDEX "IDX_session_expire" ON "session" ("expire");
//! ```
//!
//! It is created when `to_regclass` does not find the table (retried
//! without `WITH (OIDS=FALSE)` should a server refuse that clause).
//! `expire` is `timestamp` *without* time zone, written as
//! `to_timestamp(secs)` and compared with `to_timestamp(ceil(now_s))`,
//! exactly as connect-pg-simple does, so both convert through the same
//! session `TimeZone` and agree on every server. For another table name
//! `t`, the constraint and index are `t_pkey` and `IDX_t_expire`
//! (connect-pg-simple keeps `session_pkey` and `IDX_session_expire`
//! whatever the table is called, so it cannot create a second session table
//! in one schema). Identifiers are double-quoted, inner quotes doubled.
//! Needs PostgreSQL 11 or later.
//!
//! ## MySQL / MariaDB
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS `session` (
//!   `sid` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
//!   `sess` LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
//!   `expire` DATETIME(6) NOT NULL,
//!   PRIMARY KEY (`sid`),
//!   INDEX `IDX_session_expire` (`expire`)
//! ) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
//! ```
//!
//! `sess` is `LONGTEXT`, not `JSON`: MySQL's `JSON` type rewrites the
//! text (key order, spacing) and MariaDB's is `LONGTEXT` with a check
//! anyway, while the version must be the digest of the exact bytes. The
//! `_bin` collation keeps IDs case-sensitive. `expire` is a UTC
//! `DATETIME(6)` computed by this process, so neither the server's nor the
//! connection's `time_zone` matters. Identifiers are backtick-quoted,
//! inner backticks doubled.
//!
//! ## SQLite
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS "session" (
//!   "sid" TEXT NOT NULL PRIMARY KEY,
//!   "sess" TEXT NOT NULL,
//!   "expire" INTEGER NOT NULL
//! );
//! CREATE INDEX IF NOT EXISTS "IDX_session_expire" ON "session" ("expire");
//! ```
//!
//! `expire` is whole seconds since the Unix epoch (UTC), so it compares as
//! an integer and needs no date functions. For another table `t` the index
//! is `IDX_t_expire`, since SQLite index names are per database.
//!
//! # Versions and compare-and-set
//!
//! A record's [`Version`](server_session::store::Version) is the SHA-256
//! of the stored `sess` text (`Version::digest_of`), the same on every
//! backend, so a row rewritten by Node changes it. A conditional save
//! checks it atomically:
//!
//! - **PostgreSQL:** one `UPDATE … WHERE sid = $3 AND expire >= now AND
//!   sha256(convert_to(sess::text, 'UTF8')) = $5`. `json` keeps its input
//!   text verbatim, so `sess::text` is the exact stored bytes.
//! - **MySQL/MariaDB:** one `UPDATE … WHERE sid = ? AND expire >= ? AND
//!   SHA2(sess, 256) = ?` (lower-case hex). sqlx connects with
//!   `CLIENT_FOUND_ROWS`, so rewriting identical bytes still counts as a
//!   match.
//! - **SQLite:** a `BEGIN IMMEDIATE` transaction reads `sess`, compares its
//!   digest and writes; the immediate lock keeps other writers out between
//!   the read and the write.
//!
//! No match means [`SaveOutcome::Conflict`](server_session::store::SaveOutcome),
//! including for a missing or expired row. A save with
//! [`IfAbsent`](server_session::store::SaveCondition::IfAbsent) inserts, or
//! replaces only an *expired* row (PostgreSQL and SQLite: `INSERT … ON
//! CONFLICT DO UPDATE … WHERE expire < now`; MySQL: delete the expired row,
//! then `INSERT`, a duplicate key meaning conflict). `Upsert` is
//! connect-pg-simple's `INSERT … ON CONFLICT (sid) DO UPDATE`. A record
//! whose cookie has already expired is deleted instead of written (still
//! subject to its condition).
//!
//! `touch` only moves `expire` of a live row (`UPDATE … SET expire = …
//! WHERE sid = … AND expire >= now`); it never rewrites `sess`, so the
//! version stays.
//!
//! # One statement per unchanged request
//!
//! express touches an unchanged session at the end of each request
//! (`cookie.expires = now + originalMaxAge`, then the store's `touch`).
//! **PostgreSQL** and **SQLite** do that touch while loading, in one
//! statement (`Store::load_and_touch`):
//!
//! ```sql
//! UPDATE "session" SET expire = COALESCE(<touched expire>, expire)
//! WHERE sid = $1 AND expire >= <now>          -- the same liveness as load
//! RETURNING sess::text, <touched expire> IS NOT NULL
//! ```
//!
//! where `<touched expire>`, computed on the server from the row's own
//! `sess`, is `ceil((now_ms + originalMaxAge) / 1000)` for a plain JSON
//! integer `originalMaxAge` above zero, `ceil(now_ms / 1000) + ttl` for
//! `"originalMaxAge": null`, and NULL otherwise (a float or exponent
//! notation, a string, a missing key, a max age of zero or less, a `sess`
//! without a `cookie` object): such a row is returned with `expire`
//! unchanged, and the layer touches it at the end of the request as
//! before. `sess` comes back as stored, so the version is the same as
//! `load`'s; an expired row is not revived. A row that cannot be parsed is
//! `Corrupt`, as from `load` (its `expire` may have moved when it had a
//! readable lifetime). With `with_disable_touch(true)` it is a plain load.
//!
//! PostgreSQL's JSON functions unescape the whole document they read and
//! refuse some escapes that `JSON.stringify` writes: `\u0000` (a NUL, as
//! from a handler that copies `?return_to=%00` into the session) and an
//! unpaired UTF-16 surrogate, plus, in a database not encoded in UTF-8, any
//! character the encoding cannot hold. So the max age is read from a copy of
//! the text in which every `\u` escape outside ASCII, and `\u0000`, is
//! `\u0020` (the stored `sess` is untouched, and no key with a space can be
//! `cookie` or `originalMaxAge`): such a row is touched by the one statement
//! like any other. Should the statement still fail on what a row holds
//! (SQLSTATE class 22, or 0A000), a plain load reads it instead and the
//! layer touches it at the end of the request. SQLite's JSON functions
//! accept these escapes, and MySQL/MariaDB use none.
//! **MySQL/MariaDB** have no `UPDATE … RETURNING`, so there an unchanged
//! request still loads, then touches at its end: two statements.
//!
//! # Per-user index
//!
//! For [`UserSessions`](server_session::UserSessions) (list a user's
//! sessions, revoke them), the index is a query over the stored JSON: there
//! is nothing to write at sign-in ([`Store::index_user`](server_session::Store::index_user)
//! answers `Ok(())`), no entry can go stale, and sessions written by Node
//! (connect-pg-simple) are found like any other.
//! [`Store::user_sessions`](server_session::Store::user_sessions) is one
//! statement over the live rows, with `load`'s liveness and versions
//! ([`SqlStore::user_sessions_sql`] shows it):
//!
//! ```sql
//! SELECT sid, sess FROM session WHERE <user at path> = $1 AND expire >= <now>
//! ```
//!
//! where `<user at path>` reads a string as it is and a number as its
//! decimal text, as `UserPath::user_in` does:
//!
//! | Dialect | `<user at path>` for `passport.user` |
//! |---|---|
//! | PostgreSQL | `sess #>> '{"passport","user"}'`, over a copy of `sess` whose `\u0000` and non-ASCII `\u` escapes are `\u0020` (PostgreSQL's JSON functions refuse those anywhere in the document; see [load and touch](#one-statement-per-unchanged-request)) |
//! | SQLite | `CAST(json_extract(sess, '$."passport"."user"') AS TEXT)`, for text that `json_valid` accepts |
//! | MySQL/MariaDB | `JSON_UNQUOTE(JSON_EXTRACT(sess, '$."passport"."user"'))`, for text that `JSON_VALID` accepts |
//!
//! None of them fails on any row, so an index on them never refuses a
//! write. Without an index the statement reads the whole table; with the
//! one [`SqlStore::create_user_index`] makes (an admin or migration step,
//! idempotent), it reads only that user's rows:
//!
//! - **PostgreSQL**: `CREATE INDEX IF NOT EXISTS "IDX_session_user_passport.user"
//!   ON "session" ((<user at path>)) WHERE (<user at path>) IS NOT NULL`:
//!   partial, so anonymous sessions take no room in it. connect-pg-simple's
//!   table is otherwise untouched. It blocks writes while it builds; for a
//!   large live table, run [`SqlStore::user_index_sql`] with
//!   `CONCURRENTLY` instead. Among 100,000 other sessions, listing a user
//!   with 3 is an index scan that reads 3 rows and 4 buffers (`EXPLAIN
//!   (ANALYZE, BUFFERS)` in `tests/user_index.rs`).
//! - **SQLite**: `CREATE INDEX IF NOT EXISTS` on the same expression
//!   (`SEARCH … USING INDEX`).
//! - **MySQL/MariaDB**: MariaDB has no functional index, and uses an index
//!   on a generated column only when the query names the column; so a
//!   virtual column `user_passport.user`, `VARCHAR(255)` `utf8mb4_bin`
//!   holding the first 255 characters of the expression, and an index on
//!   it, by one `ALTER TABLE` (MySQL 8 takes the same). The listing names
//!   the column and compares the whole expression too, so a longer user ID
//!   is written and found; while the column is missing it falls back to
//!   the bare expression.
//!
//! The index is named `IDX_<table>_user_<path>`, or `IDX_user_` and 32 hex
//! digits of a digest of both when that passes 63 bytes
//! ([`SqlStore::user_index_name`]), quoted like the table. It costs each
//! written row version one more JSON parse (a touch writes a new row
//! version too, since `expire` is indexed).
//!
//! # Errors
//!
//! An unreachable server, a broken connection, or a pool that is exhausted
//! or closed is `StoreError::Connection`; an overrun is `Timeout`; anything
//! else the database reports is `Backend`. A row whose `sess` is not a
//! session record is `StoreError::Corrupt`, never a panic.
//!
//! An error the database reports shows its SQLSTATE (SQLite: its result
//! code; MySQL: its error number too) and the table and constraint it
//! names, never the server's message, detail or context, in `Display`,
//! `Debug` and the `source` chain alike: those may quote the statement's
//! values, a session ID (a bearer credential) or session data among them
//! (a trigger's message, MySQL's `Duplicate entry '…'`, PostgreSQL's
//! `Failing row contains (…)`). The database's own log has the whole text.
//! connect-pg-simple instead deletes such a row and answers "no session";
//! here the layer's failure policy decides, and the row stays for
//! inspection (it expires and is pruned like any other).
//!
//! # Pruning
//!
//! [`spawn_pruner`] (or each store's `spawn_pruner` method) runs
//! `DELETE … WHERE expire < ceil(now_s)` at connect-pg-simple's randomised
//! interval, logging what it deleted and retrying failures with backoff.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod dialect;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod settings;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod store;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use dialect::Dialect;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use store::SqlStore;

mod pruner;
pub use pruner::{spawn_pruner, PrunerHandle, PrunerStats};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "mysql")]
pub use mysql::MySqlStore;

#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
