//! The PostgreSQL store writes exactly what connect-pg-simple writes, and
//! notices what connect-pg-simple (Node) writes.
#![cfg(feature = "postgres")]

use session_test_support::services as common;

use server_session::store::{SaveCondition, SaveOutcome, Store, StoreError};
use server_session_sql::PostgresStore;
use sqlx::PgPool;

use common::{drop_table, express_record, service_url, unique_name};

/// connect-pg-simple 10.0.0's `table.sql`, verbatim.
const CONNECT_PG_SIMPLE_TABLE_SQL: &str = r#"CREATE TABLE "session" (
  "sid" varchar NOT NULL COLLATE "default",
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
)
WITH (OIDS=FALSE);

ALTER TABLE "session" ADD CONSTRAINT "session_pkey" PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE;

CREATE INDEX "IDX_session_expire" ON "session" ("expire");
"#;

async fn store_in_fresh_table() -> Option<PostgresStore> {
    common::store_in_fresh_table("POSTGRES_URL", "session").await
}

/// Creates the table and writes `(sid, sess, expire)` rows into it as
/// connect-pg-simple does, `expire` in seconds since the epoch.
async fn insert_as_node(store: &PostgresStore, rows: &[(&str, &str, i64)]) {
    store.migrate().await.expect("migrate");
    for &(sid, sess, expire) in rows {
        session_test_support::connect_pg_simple::insert_as_node(store, sid, sess, expire).await;
    }
}

#[tokio::test]
async fn the_row_holds_express_json_verbatim_and_connect_pg_simple_expire() {
    let Some(store) = store_in_fresh_table().await else {
        return;
    };
    // 2030-01-01T00:00:00.424Z: ceil(ms / 1000) rounds up to ...01.
    let record = express_record(
        "2030-01-01T00:00:00.424Z",
        r#","user":{"name":"bob"},"n":1,"ü":"✓""#,
    );
    let expected_json = record.to_json();
    assert!(matches!(
        store.save("abc", &record, SaveCondition::Upsert).await,
        Ok(SaveOutcome::Saved(_))
    ));

    let sql = format!(
        "SELECT sid, sess::text, expire = to_timestamp($1)::timestamp, expire::text FROM {} ",
        store.quoted_table()
    );
    let expires_ms = record.expires_ms().expect("expires");
    let ceil_secs = (expires_ms + 999) / 1000;
    let (sid, sess, expire_matches, expire_text): (String, String, bool, String) =
        sqlx::query_as(&sql)
            .bind(ceil_secs as f64)
            .fetch_one(store.pool())
            .await
            .expect("the row");
    assert_eq!(sid, "abc");
    assert_eq!(
        sess, expected_json,
        "sess must be express's JSON byte for byte"
    );
    assert!(
        expire_matches,
        "expire {expire_text} != to_timestamp({ceil_secs})"
    );
    assert_eq!(
        expire_text, "2030-01-01 00:00:01",
        "server TimeZone is UTC here"
    );
    drop_table(&store).await;
}

#[tokio::test]
async fn a_browser_session_record_expires_after_the_default_ttl() {
    let Some(store) = store_in_fresh_table().await else {
        return;
    };
    let store = store.with_default_ttl(std::time::Duration::from_secs(600));
    let record = server_session::Record::default();
    let _ = store
        .save("b", &record, SaveCondition::Upsert)
        .await
        .expect("save");
    let sql = format!(
        "SELECT extract(epoch FROM expire::timestamptz)::float8 - extract(epoch FROM now())::float8 FROM {}",
        store.quoted_table()
    );
    let left: f64 = sqlx::query_scalar(&sql)
        .fetch_one(store.pool())
        .await
        .expect("row");
    assert!((598.0..=602.0).contains(&left), "{left}");
    drop_table(&store).await;
}

#[tokio::test]
async fn a_row_rewritten_by_node_makes_a_conditional_save_conflict() {
    let Some(store) = store_in_fresh_table().await else {
        return;
    };
    let record = express_record("2030-01-01T00:00:00.000Z", r#","n":1"#);
    let _ = store
        .save("sid1", &record, SaveCondition::Upsert)
        .await
        .expect("save");
    let loaded = store.load("sid1").await.expect("load").expect("live");

    // connect-pg-simple's `set`, as Node runs it, with different JSON.
    let node_set = format!(
        "INSERT INTO {t} (sess, expire, sid) SELECT $1::json, to_timestamp($2), $3 \
         ON CONFLICT (sid) DO UPDATE SET sess=$1::json, expire=to_timestamp($2) RETURNING sid",
        t = store.quoted_table()
    );
    let node_json = r#"{"cookie":{"originalMaxAge":60000,"expires":"2030-01-01T00:00:00.000Z","httpOnly":true,"path":"/"},"n":2}"#;
    let _: String = sqlx::query_scalar(&node_set)
        .bind(node_json)
        .bind(1_893_456_000_f64)
        .bind("sid1")
        .fetch_one(store.pool())
        .await
        .expect("node's write");

    let mine = express_record("2030-01-01T00:00:00.000Z", r#","n":3"#);
    assert_eq!(
        store
            .save("sid1", &mine, SaveCondition::IfVersion(loaded.version))
            .await
            .expect("save"),
        SaveOutcome::Conflict
    );
    let reloaded = store.load("sid1").await.expect("load").expect("live");
    assert_eq!(reloaded.record.data()["n"], 2);
    assert_ne!(reloaded.version, loaded.version);
    assert!(matches!(
        store
            .save("sid1", &mine, SaveCondition::IfVersion(reloaded.version))
            .await,
        Ok(SaveOutcome::Saved(_))
    ));

    // Node rewriting the very same bytes keeps the version: it names bytes.
    let current = store.load("sid1").await.expect("load").expect("live");
    let _: String = sqlx::query_scalar(&node_set)
        .bind(mine.to_json())
        .bind(1_893_456_000_f64)
        .bind("sid1")
        .fetch_one(store.pool())
        .await
        .expect("node's write");
    assert_eq!(
        store
            .load("sid1")
            .await
            .expect("load")
            .expect("live")
            .version,
        current.version
    );
    drop_table(&store).await;
}

#[tokio::test]
async fn a_row_node_wrote_loads_and_one_without_cookie_is_corrupt() {
    let Some(store) = store_in_fresh_table().await else {
        return;
    };
    // Node's JSON.stringify output, with the odd spacing json keeps verbatim.
    let node_json =
        r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"views":7}"#;
    insert_as_node(
        &store,
        &[
            ("node", node_json, 4_102_444_800),
            ("bad", r#"{"foo":"bar"}"#, 4_102_444_800),
        ],
    )
    .await;
    let loaded = store.load("node").await.expect("load").expect("live");
    assert_eq!(loaded.record.data()["views"], 7);
    assert_eq!(
        loaded.version,
        server_session::store::Version::digest_of(node_json.as_bytes())
    );
    assert!(matches!(
        store.load("bad").await,
        Err(StoreError::Corrupt { .. })
    ));
    drop_table(&store).await;
}

#[tokio::test]
async fn prune_expired_deletes_only_dead_rows_and_counts_them() {
    let Some(store) = store_in_fresh_table().await else {
        return;
    };
    let json = r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}}"#;
    insert_as_node(
        &store,
        &[
            ("old1", json, 1_000),
            ("old2", json, 2_000),
            ("live", json, 4_102_444_800),
        ],
    )
    .await;
    assert_eq!(store.prune_expired().await.expect("prune"), 2);
    assert_eq!(store.len().await.expect("len"), 1);
    drop_table(&store).await;
}

/// name, data_type, is_nullable, datetime_precision, collation_name
type Column = (String, String, String, Option<i32>, Option<String>);

/// Columns, constraint and index as `information_schema` / `pg_indexes`
/// describe them, with the schema name taken out.
async fn describe(pool: &PgPool, schema: &str) -> Vec<String> {
    let columns: Vec<Column> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_nullable::text, datetime_precision, collation_name::text \
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'session' \
         ORDER BY ordinal_position",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("columns");
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'session' ORDER BY indexname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("indexes");
    let constraints: Vec<(String, String, bool, bool)> = sqlx::query_as(
        "SELECT c.conname::text, c.contype::text, c.condeferrable, c.condeferred FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = $1 AND t.relname = 'session' ORDER BY c.conname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("constraints");
    let mut out: Vec<String> = columns.iter().map(|c| format!("{c:?}")).collect();
    out.extend(
        indexes
            .iter()
            .map(|(name, def)| format!("{name}: {}", def.replace(schema, "S"))),
    );
    out.extend(constraints.iter().map(|c| format!("{c:?}")));
    out
}

/// A pool on `POSTGRES_URL`; `None` as [`service_url`] says.
async fn pool() -> Option<PgPool> {
    let url = service_url("POSTGRES_URL")?;
    Some(PgPool::connect(&url).await.expect("connect"))
}

async fn create_schema(pool: &PgPool, schema: &str) {
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(pool)
        .await
        .expect("schema");
}

async fn drop_schema(pool: &PgPool, schema: &str) {
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(pool)
        .await
        .expect("drop");
}

/// connect-pg-simple's createTableIfMissing: table.sql with "session"
/// replaced by the quoted, schema-qualified name.
async fn create_connect_pg_simple_table(pool: &PgPool, schema: &str) {
    let sql =
        CONNECT_PG_SIMPLE_TABLE_SQL.replace("\"session\"", &format!("\"{schema}\".\"session\""));
    sqlx::raw_sql(&sql)
        .execute(pool)
        .await
        .expect("connect-pg-simple's table.sql");
}

#[tokio::test]
async fn the_default_table_is_connect_pg_simple_s_table() {
    let Some(pool) = pool().await else {
        return;
    };
    let ours = unique_name("ours");
    let theirs = unique_name("theirs");
    for schema in [&ours, &theirs] {
        create_schema(&pool, schema).await;
    }
    create_connect_pg_simple_table(&pool, &theirs).await;

    let store = PostgresStore::from_pool(pool.clone()).with_schema(ours.clone());
    assert_eq!(store.table(), "session");
    // The first call creates the table.
    assert!(store.load("x").await.expect("load").is_none());

    let described = describe(&pool, &ours).await;
    assert_eq!(described, describe(&pool, &theirs).await);
    let text = described.join("\n");
    for expected in [
        r#"("sid", "character varying", "NO", None, None)"#,
        r#"("sess", "json", "NO", None, None)"#,
        r#"("expire", "timestamp without time zone", "NO", Some(6), None)"#,
        "IDX_session_expire: CREATE INDEX \"IDX_session_expire\" ON S.session USING btree (expire)",
        "session_pkey: CREATE UNIQUE INDEX session_pkey ON S.session USING btree (sid)",
        r#"("session_pkey", "p", false, false)"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    for schema in [&ours, &theirs] {
        drop_schema(&pool, schema).await;
    }
}

#[tokio::test]
async fn our_store_works_on_a_table_connect_pg_simple_created() {
    let Some(pool) = pool().await else {
        return;
    };
    let schema = unique_name("cps");
    create_schema(&pool, &schema).await;
    create_connect_pg_simple_table(&pool, &schema).await;
    let store = PostgresStore::from_pool(pool.clone())
        .with_schema(schema.clone())
        .with_create_table_if_missing(false);
    let record = express_record("2030-01-01T00:00:00.000Z", r#","k":"v""#);
    assert_eq!(
        store
            .save("s", &record, SaveCondition::IfAbsent)
            .await
            .expect("save"),
        SaveOutcome::Saved(server_session::store::Version::digest_of(
            record.to_json().as_bytes()
        ))
    );
    assert_eq!(
        store.load("s").await.expect("load").expect("live").record,
        record
    );
    drop_schema(&pool, &schema).await;
}
