//! The per-user index of [`SqlStore`]: a query over `sess` at the user
//! path, and the index that makes it read only that user's rows.

use server_session::store::{LoadedRecord, StoreError, UserPath};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::{loaded_from, SqlStore};
use crate::dialect::{user_index_name, Dialect, SidColumn as _, UserIndex};
use crate::settings::map_sqlx;

impl<D: Dialect> SqlStore<D> {
    /// The name (unquoted) of the index [`create_user_index`](Self::create_user_index)
    /// makes for `user_path` on this table: `IDX_<table>_user_<path>`
    /// (`IDX_session_user_passport.user`), or `IDX_user_` and 32 hex digits
    /// of a digest of the table and path when that is longer than 63 bytes.
    pub fn user_index_name(&self, user_path: &UserPath) -> String {
        user_index_name(&self.sql.table, user_path)
    }

    /// The statement
    /// [`Store::user_sessions`](server_session::Store::user_sessions) runs
    /// for `user_path`, to `EXPLAIN` it: `SELECT sid, sess FROM <table>
    /// WHERE <user at path> = $1 AND expire >= to_timestamp($2)` on
    /// PostgreSQL (`?1`, `?2` on SQLite), binding the user and now in seconds since the epoch (on
    /// MySQL/MariaDB `… WHERE <column> = LEFT(?, 255) AND <user at path> = ?
    /// AND expire >= ?`, binding the user twice and now as a UTC
    /// `DATETIME`). With the index of
    /// [`create_user_index`](Self::create_user_index), it reads only the
    /// rows of that user.
    pub fn user_sessions_sql(&self, user_path: &UserPath) -> String {
        match self.user_column_condition(user_path) {
            Some(condition) => self.user_listing(&condition, 3),
            None => self.user_listing(&self.user_expression_condition(user_path), 2),
        }
    }

    /// The condition naming MySQL's generated column, if the dialect has
    /// one; its placeholders bind the user twice.
    fn user_column_condition(&self, user_path: &UserPath) -> Option<String> {
        let sql = &self.sql;
        match D::user_index(&sql.quoted, &sql.table, user_path, "") {
            UserIndex::GeneratedColumn { condition, .. } => Some(condition),
            UserIndex::Expression { .. } => None,
        }
    }

    /// `<user at path> = <first placeholder>`.
    fn user_expression_condition(&self, user_path: &UserPath) -> String {
        format!("{} = {}", D::user_at(user_path), D::param(1))
    }

    /// `sid, sess` of the live rows matching `condition`, whose
    /// placeholders come first; `now` is placeholder `now_param`.
    fn user_listing(&self, condition: &str, now_param: usize) -> String {
        format!(
            "SELECT sid, {} FROM {} WHERE {condition} AND expire >= {}",
            D::SESS,
            self.sql.quoted,
            D::at(&D::param(now_param))
        )
    }
}

/// The calls that reach the database; the bounds are `SqlStore`'s.
impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut D::Connection: Executor<'c, Database = D>,
    for<'q> D::Arguments<'q>: IntoArguments<'q, D>,
    for<'q> &'q str: Encode<'q, D> + Type<D>,
    for<'q> i64: Encode<'q, D> + Decode<'q, D> + Type<D>,
    usize: ColumnIndex<D::Row>,
{
    /// Creates the index that lets
    /// [`Store::user_sessions`](server_session::Store::user_sessions) read
    /// only the rows of the user it lists, for the user at `user_path` (the
    /// layer's [`with_user_path`](server_session::SessionConfig::with_user_path)),
    /// unless it is there; creates the table first if it is missing, as
    /// [`migrate`](Self::migrate) does. Without it, listing reads the whole
    /// table.
    ///
    /// - **PostgreSQL**: `CREATE INDEX IF NOT EXISTS` on the expression
    ///   that reads the user from `sess`, partial (`WHERE … IS NOT NULL`),
    ///   named [`user_index_name`](Self::user_index_name).
    ///   connect-pg-simple's table stays as it is, and the rows Node writes
    ///   are indexed too. It locks out writes to the table while it builds;
    ///   on a large live table, run [`user_index_sql`](Self::user_index_sql)
    ///   with `CONCURRENTLY` yourself instead.
    /// - **SQLite**: `CREATE INDEX IF NOT EXISTS` on the same expression.
    /// - **MySQL/MariaDB**: a virtual generated column `user_<path>` and an
    ///   index on it (MariaDB has no functional index), added by one `ALTER
    ///   TABLE` unless the column is there.
    ///
    /// An admin or migration step: not bounded by the call timeout, since
    /// building an index over a large table takes as long as it takes.
    /// Idempotent; safe to run from several processes at once.
    ///
    /// # Errors
    ///
    /// Any error from the database, such as missing rights.
    pub async fn create_user_index(&self, user_path: &UserPath) -> Result<(), StoreError> {
        self.create_table().await?;
        let name = self.user_index_name(user_path);
        let sql = &self.sql;
        match D::user_index(&sql.quoted, &sql.table, user_path, &name) {
            UserIndex::Expression { create } => {
                self.pool
                    .execute(sqlx::raw_sql(&create))
                    .await
                    .map_err(map_sqlx)?;
            }
            UserIndex::GeneratedColumn { column, create, .. } => {
                if self.has_column(&column).await? {
                    return Ok(());
                }
                if let Err(error) = self.pool.execute(sqlx::raw_sql(&create)).await {
                    // Another process may have added it in the meantime.
                    if !self.has_column(&column).await? {
                        return Err(map_sqlx(error));
                    }
                }
            }
        }
        Ok(())
    }

    /// The statement [`create_user_index`](Self::create_user_index) runs
    /// to index `user_path`, for a migration tool: `CREATE INDEX IF NOT
    /// EXISTS …` on PostgreSQL and SQLite, the `ALTER TABLE` adding the
    /// generated column and its index on MySQL/MariaDB. On a large live
    /// PostgreSQL table, run it with `CONCURRENTLY` after `CREATE INDEX`, so
    /// that writes go on while it builds. The expression must stay exactly
    /// as written here for
    /// [`Store::user_sessions`](server_session::Store::user_sessions) to use
    /// the index.
    pub fn user_index_sql(&self, user_path: &UserPath) -> String {
        let name = self.user_index_name(user_path);
        match D::user_index(&self.sql.quoted, &self.sql.table, user_path, &name) {
            UserIndex::Expression { create } | UserIndex::GeneratedColumn { create, .. } => create,
        }
    }

    /// Whether the table has `column` (MySQL/MariaDB).
    async fn has_column(&self, column: &str) -> Result<bool, StoreError> {
        let found: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?",
        )
        .bind(self.sql.table.as_str())
        .bind(column)
        .fetch_one(&self.pool)
        .await
        .map_err(map_sqlx)?;
        Ok(found > 0)
    }

    /// `Store::user_sessions` without the timeout: one `SELECT sid, sess
    /// … WHERE <user at path> = $1 AND expire >= now` (see
    /// [`user_sessions_sql`](Self::user_sessions_sql)), the liveness and the
    /// versions of `load`. MySQL/MariaDB name the generated column, and
    /// fall back to the bare expression (a scan) while it is missing.
    pub(super) async fn user_sessions_now(
        &self,
        user_path: &UserPath,
        user: &str,
    ) -> Result<Vec<(String, LoadedRecord)>, StoreError> {
        self.ensure_table().await?;
        let listing = self.user_sessions_sql(user_path);
        let rows: Vec<(D::Sid, D::Sess)> = match self.user_column_condition(user_path) {
            Some(_) => {
                let rows = sqlx::query_as(&listing)
                    .bind(user)
                    .bind(user)
                    .bind(Self::now())
                    .fetch_all(&self.pool)
                    .await;
                match rows {
                    Err(error) if D::missing_user_column(&error) => {
                        let scan = self.user_listing(&self.user_expression_condition(user_path), 2);
                        sqlx::query_as(&scan)
                            .bind(user)
                            .bind(Self::now())
                            .fetch_all(&self.pool)
                            .await
                    }
                    rows => rows,
                }
            }
            None => {
                sqlx::query_as(&listing)
                    .bind(user)
                    .bind(Self::now())
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(map_sqlx)?;
        let mut found = Vec::with_capacity(rows.len());
        for (sid, sess) in rows {
            match loaded_from(sess.as_ref()) {
                Ok(loaded) => found.push((sid.into_sid(), loaded)),
                // One unreadable row must not hide the others from the user
                // who wants to revoke them; `load` reports it.
                Err(_) => tracing::warn!(
                    "user_sessions: skipping a session whose stored value is not a record"
                ),
            }
        }
        Ok(found)
    }
}
