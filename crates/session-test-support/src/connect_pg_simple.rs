//! Rows of a PostgreSQL table as connect-pg-simple writes and reads them,
//! bypassing the store: for the tests that check what Node could have
//! stored, and what our store left in the row.

use server_session_sql::PostgresStore;

/// Writes a row as connect-pg-simple's `set` does: the JSON text (node-pg
/// sends `JSON.stringify(sess)`), `to_timestamp(expire)` and the ID. The
/// table must exist.
pub async fn insert_as_node(store: &PostgresStore, sid: &str, sess: &str, expire_secs: i64) {
    let sql = format!(
        "INSERT INTO {} (sess, expire, sid) VALUES ($1::json, to_timestamp($2), $3)",
        store.quoted_table()
    );
    sqlx::query(&sql)
        .bind(sess)
        .bind(expire_secs)
        .bind(sid)
        .execute(store.pool())
        .await
        .unwrap_or_else(|error| panic!("insert {sid} as connect-pg-simple: {error}"));
}

/// The row's `sess::text` and `expire` in seconds since the epoch; the row
/// must be there.
pub async fn row(store: &PostgresStore, sid: &str) -> (String, i64) {
    find_row(store, sid).await.expect("the row")
}

/// The row's `sess::text` and `expire` in seconds since the epoch, if the
/// row is there. `expire` is read back as the inverse of `to_timestamp(secs)`
/// stored into a `timestamp`, through the same session TimeZone.
pub async fn find_row(store: &PostgresStore, sid: &str) -> Option<(String, i64)> {
    let sql = format!(
        "SELECT sess::text, extract(epoch FROM expire::timestamptz)::int8 FROM {} WHERE sid = $1",
        store.quoted_table()
    );
    sqlx::query_as(&sql)
        .bind(sid)
        .fetch_optional(store.pool())
        .await
        .expect("read the row")
}
