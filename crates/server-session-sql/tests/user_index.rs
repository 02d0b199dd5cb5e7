//! The per-user index beyond the conformance cases: the plans that show
//! listing reads only the user's rows (and what it reads among 100,000
//! others), rows written by Node, odd user IDs, listing without the index,
//! and the index's name.
#![cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
#![allow(dead_code)] // each backend uses a part

#[cfg(feature = "postgres")]
use session_test_support::services as common;

use std::collections::BTreeSet;

use common::{listed, passport};
use serde_json::{json, Value};
use server_session::store::{Record, SaveCondition, SaveOutcome, Store, StoreError};

/// A record holding `data`, live for an hour.
fn record(data: Value) -> Record {
    common::live_record(data, 3_600_000)
}

/// Saves a session signed in to `user` (a string or a number).
async fn save_signed_in(store: &impl Store, id: &str, user: Value) {
    let saved = store
        .save(
            id,
            &record(json!({"passport": {"user": user}, "n": 1})),
            SaveCondition::Upsert,
        )
        .await
        .expect("save");
    assert!(matches!(saved, SaveOutcome::Saved(_)));
}

/// Users whose IDs hold characters that mean something to SQL, to JSON, to
/// LIKE or to a shell, each find their own session and only it; the
/// listing also works without the index (a scan) and agrees with it.
/// `create_index` is the store's `create_user_index`, run between the two.
async fn odd_user_ids_are_found_exactly<S: Store>(
    store: &S,
    create_index: impl std::future::Future<Output = Result<(), StoreError>>,
) {
    let users = [
        "a:b",
        "a:b:c",
        "*",
        "with spaces",
        "üñí©ødé-💥",
        "it's",
        "say \"hi\"",
        "back\\slash",
        "50%_off",
        "' OR '1'='1",
        "{tag}",
        "null",
        "42",
    ];
    for (n, user) in users.iter().enumerate() {
        save_signed_in(store, &format!("odd-{n}"), json!(user)).await;
    }
    save_signed_in(store, "numeric-42", json!(42)).await;
    let check = |listed: BTreeSet<String>, user: &str, n: usize| {
        let mut expected = BTreeSet::from([format!("odd-{n}")]);
        if user == "42" {
            expected.insert("numeric-42".to_owned());
        }
        assert_eq!(listed, expected, "{user:?}");
    };
    for (n, user) in users.iter().enumerate() {
        check(listed(store, user).await, user, n);
    }
    create_index.await.expect("create_user_index");
    for (n, user) in users.iter().enumerate() {
        check(listed(store, user).await, user, n);
    }
    assert!(listed(store, "%").await.is_empty());
    assert!(listed(store, "").await.is_empty());
}

#[cfg(feature = "postgres")]
mod postgres {
    use server_session::store::Store;
    use server_session_sql::PostgresStore;
    use sqlx::Connection as _;

    use super::common::{drop_table, store_in_fresh_table};
    use super::{listed, passport, save_signed_in};
    use serde_json::json;
    use session_test_support::connect_pg_simple::insert_as_node;

    /// How many other sessions the plan is measured among: 100,000, or
    /// `USER_INDEX_OTHERS` (the closing figures used 1,000,000).
    fn others() -> u32 {
        std::env::var("USER_INDEX_OTHERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000)
    }

    async fn store() -> Option<PostgresStore> {
        let store: PostgresStore = store_in_fresh_table("POSTGRES_URL", "ui").await?;
        store.migrate().await.expect("create the table");
        Some(store)
    }

    /// `EXPLAIN (ANALYZE, BUFFERS)` of the very statement `user_sessions`
    /// runs, for a user with 3 sessions among 100,000 others signed in to
    /// users of their own: an index scan of the user index that returns 3
    /// rows, and no sequential scan; the generic plan a prepared statement
    /// settles on after five runs uses it too.
    #[tokio::test]
    async fn listing_uses_the_index_and_reads_only_the_users_rows() {
        let Some(store) = store().await else {
            return;
        };
        let insert = format!(
            "INSERT INTO {} (sid, sess, expire) \
             SELECT 'other-' || n, json_build_object('cookie', json_build_object('originalMaxAge', 3600000, \
             'expires', '2099-01-01T00:00:00.000Z', 'httpOnly', true, 'path', '/'), \
             'passport', json_build_object('user', 'user-' || n)), now() + interval '1 hour' \
             FROM generate_series(1, {}) AS n",
            store.quoted_table(),
            others()
        );
        sqlx::query(&insert)
            .execute(store.pool())
            .await
            .expect("insert the others");
        for n in 0..3 {
            save_signed_in(&store, &format!("ada-{n}"), json!("ada")).await;
        }
        store
            .create_user_index(&passport())
            .await
            .expect("create_user_index");
        store
            .create_user_index(&passport())
            .await
            .expect("create_user_index again: a no-op");
        sqlx::query(&format!("ANALYZE {}", store.quoted_table()))
            .execute(store.pool())
            .await
            .expect("ANALYZE");
        assert_eq!(listed(&store, "ada").await.len(), 3);

        let index = store.user_index_name(&passport());
        let mut conn = store.pool().acquire().await.expect("a connection");
        let prepare = format!(
            "PREPARE listing AS {}",
            store.user_sessions_sql(&passport())
        );
        sqlx::raw_sql(&prepare)
            .execute(&mut *conn)
            .await
            .expect("PREPARE the listing");
        let now_s = now_secs();
        let explain = format!("EXPLAIN (ANALYZE, BUFFERS) EXECUTE listing('ada', {now_s})");
        let plan: Vec<String> = sqlx::query_scalar(&explain)
            .fetch_all(&mut *conn)
            .await
            .expect("EXPLAIN");
        let plan = plan.join("\n");
        println!("custom plan, among {} other sessions:\n{plan}", others());
        assert!(plan.contains(&index), "the user index is used:\n{plan}");
        assert!(!plan.contains("Seq Scan"), "no table scan:\n{plan}");
        assert!(plan.contains("rows=3 loops=1"), "3 rows read:\n{plan}");
        assert!(
            !plan.contains("Rows Removed"),
            "no row read to be dropped:\n{plan}"
        );

        sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
            .execute(&mut *conn)
            .await
            .expect("force the generic plan");
        let plan: Vec<String> = sqlx::query_scalar(&explain)
            .fetch_all(&mut *conn)
            .await
            .expect("EXPLAIN the generic plan");
        let plan = plan.join("\n");
        println!("generic plan:\n{plan}");
        assert!(
            plan.contains(&index),
            "the generic plan uses it too:\n{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "{plan}");
        sqlx::raw_sql("DEALLOCATE listing; RESET plan_cache_mode")
            .execute(&mut *conn)
            .await
            .expect("clean up the connection");
        let _ = conn.ping().await;
        drop(conn);
        drop_table(&store).await;
    }

    /// connect-pg-simple's rows as Node writes them are indexed (the index
    /// is on the table, not written by the store), including rows holding
    /// escapes PostgreSQL's JSON functions refuse elsewhere in the
    /// document (`\u0000`, a lone surrogate): they are written, with the
    /// index in place, and found, with the versions `load` gives.
    #[tokio::test]
    async fn rows_written_by_node_are_found_even_with_escapes_json_functions_refuse() {
        let Some(store) = store().await else {
            return;
        };
        store
            .create_user_index(&passport())
            .await
            .expect("create_user_index");
        let cookie = r#""cookie":{"originalMaxAge":3600000,"expires":"2099-01-01T00:00:00.000Z","httpOnly":true,"path":"/"}"#;
        let rows = [
            (
                "plain",
                format!(r#"{{{cookie},"passport":{{"user":"ada"}}}}"#),
            ),
            (
                "nul",
                format!(r#"{{{cookie},"returnTo":"/\u0000","passport":{{"user":"ada"}}}}"#),
            ),
            (
                "surrogate",
                format!(r#"{{{cookie},"note":"\ud800","passport":{{"user":"ada"}}}}"#),
            ),
            (
                "numeric",
                format!(r#"{{{cookie},"passport":{{"user":4711}}}}"#),
            ),
            ("anonymous", format!(r#"{{{cookie},"n":1}}"#)),
        ];
        for (id, sess) in &rows {
            insert_as_node(&store, id, sess, now_secs() + 3_600).await;
        }
        let found = store
            .user_sessions(&passport(), "ada")
            .await
            .expect("user_sessions");
        let ids: std::collections::BTreeSet<&str> =
            found.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["nul", "plain", "surrogate"].into());
        for (id, listed) in &found {
            let loaded = store.load(id).await.expect("load").expect("live");
            assert_eq!(listed.version, loaded.version, "{id}");
        }
        assert_eq!(listed(&store, "4711").await, ["numeric".to_owned()].into());
        drop_table(&store).await;
    }

    #[tokio::test]
    async fn odd_user_ids_are_found_exactly() {
        let Some(store) = store().await else {
            return;
        };
        super::odd_user_ids_are_found_exactly(&store, store.create_user_index(&passport())).await;
        drop_table(&store).await;
    }

    /// The index is named after the table and path, quoted whatever the
    /// table is called, made in the table's schema, and shortened to a
    /// digest when the name would pass PostgreSQL's 63 bytes.
    #[tokio::test]
    async fn the_index_name_is_derived_quoted_and_bounded() {
        let Some(store) = store().await else {
            return;
        };
        let schema = format!("ui_schema_{:08x}", rand::random::<u32>());
        let odd = store
            .clone()
            .with_schema(schema.clone())
            .with_table("we\"ird table");
        sqlx::raw_sql(&format!("CREATE SCHEMA \"{schema}\""))
            .execute(store.pool())
            .await
            .expect("create the schema");
        let long = server_session::store::UserPath::parse(&["segment"; 8].join("."))
            .expect("a long valid path");
        for path in [passport(), long.clone()] {
            odd.create_user_index(&path)
                .await
                .expect("create_user_index");
            let name = odd.user_index_name(&path);
            let found: Option<String> = sqlx::query_scalar(
                "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND indexname = $2",
            )
            .bind(&schema)
            .bind(&name)
            .fetch_optional(store.pool())
            .await
            .expect("pg_indexes");
            assert_eq!(found.as_deref(), Some(name.as_str()));
        }
        assert_eq!(
            odd.user_index_name(&passport()),
            "IDX_we\"ird table_user_passport.user"
        );
        let hashed = odd.user_index_name(&long);
        assert!(
            hashed.starts_with("IDX_user_") && hashed.len() == 41,
            "{hashed}"
        );
        assert_eq!(hashed, odd.user_index_name(&long), "deterministic");
        save_signed_in(&odd, "s1", json!("ada")).await;
        assert_eq!(listed(&odd, "ada").await, ["s1".to_owned()].into());
        sqlx::raw_sql(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(store.pool())
            .await
            .expect("drop the schema");
        drop_table(&store).await;
    }

    fn now_secs() -> i64 {
        server_session::store::now_ms() / 1000 + 1
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use server_session_sql::MySqlStore;

    use super::common::{drop_table, store_in_fresh_table};
    use super::{listed, passport, save_signed_in};
    use serde_json::json;

    async fn store() -> Option<MySqlStore> {
        let store: MySqlStore = store_in_fresh_table("MYSQL_URL", "ui").await?;
        store.migrate().await.expect("create the table");
        Some(store)
    }

    /// `EXPLAIN` of the statement `user_sessions` runs: MariaDB (and
    /// MySQL) read it through the index on the generated column, expecting
    /// the user's rows only.
    #[tokio::test]
    async fn listing_uses_the_index_on_the_generated_column() {
        let Some(store) = store().await else {
            return;
        };
        let insert = format!(
            "INSERT INTO {} (sid, sess, expire) VALUES (?, ?, UTC_TIMESTAMP(6) + INTERVAL 1 HOUR)",
            store.quoted_table()
        );
        // A few thousand others, so that the plan is not a scan of a
        // table too small to bother with an index.
        let mut tx = store.pool().begin().await.expect("a transaction");
        for n in 0..5_000 {
            let sess = format!(
                r#"{{"cookie":{{"originalMaxAge":3600000,"expires":"2099-01-01T00:00:00.000Z"}},"passport":{{"user":"user-{n}"}}}}"#
            );
            sqlx::query(&insert)
                .bind(format!("other-{n}"))
                .bind(sess)
                .execute(&mut *tx)
                .await
                .expect("insert the others");
        }
        tx.commit().await.expect("commit");
        for n in 0..3 {
            save_signed_in(&store, &format!("ada-{n}"), json!("ada")).await;
        }
        store
            .create_user_index(&passport())
            .await
            .expect("create_user_index");
        store
            .create_user_index(&passport())
            .await
            .expect("create_user_index again: a no-op");
        sqlx::raw_sql(&format!("ANALYZE TABLE {}", store.quoted_table()))
            .execute(store.pool())
            .await
            .expect("ANALYZE");
        assert_eq!(listed(&store, "ada").await.len(), 3);

        let explain = format!("EXPLAIN {}", store.user_sessions_sql(&passport()));
        let row = sqlx::query(&explain)
            .bind("ada")
            .bind("ada")
            .bind("2000-01-01 00:00:00")
            .fetch_one(store.pool())
            .await
            .expect("EXPLAIN");
        use sqlx::Row as _;
        let text = |column: &str| -> String {
            row.try_get::<Option<String>, _>(column)
                .ok()
                .flatten()
                .or_else(|| {
                    row.try_get::<Option<Vec<u8>>, _>(column)
                        .ok()
                        .flatten()
                        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                })
                .unwrap_or_default()
        };
        let (key, access) = (text("key"), text("type"));
        // A number on MySQL, text on MariaDB.
        let rows: i64 = row
            .try_get::<Option<i64>, _>("rows")
            .ok()
            .flatten()
            .or_else(|| {
                row.try_get::<Option<u64>, _>("rows")
                    .ok()
                    .flatten()
                    .and_then(|n| i64::try_from(n).ok())
            })
            .or_else(|| text("rows").parse().ok())
            .unwrap_or(-1);
        println!("MySQL/MariaDB plan among 5000 others: type={access} key={key} rows={rows}");
        assert_eq!(key, store.user_index_name(&passport()));
        assert_eq!(access, "ref", "an index lookup");
        assert!((1..=10).contains(&rows), "about the user's rows: {rows}");
        drop_table(&store).await;
    }

    #[tokio::test]
    async fn odd_user_ids_are_found_exactly() {
        let Some(store) = store().await else {
            return;
        };
        super::odd_user_ids_are_found_exactly(&store, store.create_user_index(&passport())).await;
        drop_table(&store).await;
    }

    /// The generated column holds 255 characters; a longer user ID is
    /// still written (no error from the column) and found (the listing
    /// compares the whole expression too).
    #[tokio::test]
    async fn a_user_id_longer_than_the_column_is_written_and_found() {
        let Some(store) = store().await else {
            return;
        };
        store
            .create_user_index(&passport())
            .await
            .expect("create_user_index");
        let long = "ü".repeat(300);
        let longer = format!("{long}x");
        save_signed_in(&store, "long", json!(long)).await;
        save_signed_in(&store, "longer", json!(longer)).await;
        assert_eq!(listed(&store, &long).await, ["long".to_owned()].into());
        assert_eq!(listed(&store, &longer).await, ["longer".to_owned()].into());
        drop_table(&store).await;
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use server_session_sql::SqliteStore;

    use super::{listed, passport, save_signed_in};
    use serde_json::json;

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("sessions.db").display());
        let store = SqliteStore::connect(&url).await.expect("open SQLite");
        store.migrate().await.expect("create the table");
        (dir, store)
    }

    /// `EXPLAIN QUERY PLAN` of the statement `user_sessions` runs: a
    /// search of the user index, among 100,000 other rows.
    #[tokio::test]
    async fn listing_uses_the_index() {
        let (_dir, store) = store().await;
        let insert = format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
             INSERT INTO {} (sid, sess, expire) \
             SELECT 'other-' || i, json_object('cookie', json_object('originalMaxAge', 3600000), \
             'passport', json_object('user', 'user-' || i)), unixepoch() + 3600 FROM n",
            store.quoted_table()
        );
        sqlx::query(&insert)
            .execute(store.pool())
            .await
            .expect("insert the others");
        // Rows no JSON function can read, and a BLOB, are written with the
        // index in place.
        let raw = format!(
            "INSERT INTO {} (sid, sess, expire) VALUES ('bad', 'not json', unixepoch() + 3600), \
             ('blob', x'00ff', unixepoch() + 3600)",
            store.quoted_table()
        );
        for n in 0..3 {
            save_signed_in(&store, &format!("ada-{n}"), json!("ada")).await;
        }
        store
            .create_user_index(&passport())
            .await
            .expect("create_user_index");
        sqlx::query(&raw)
            .execute(store.pool())
            .await
            .expect("rows that are no JSON are still written");
        assert_eq!(listed(&store, "ada").await.len(), 3);
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!(
            "EXPLAIN QUERY PLAN {}",
            store.user_sessions_sql(&passport())
        ))
        .bind("ada")
        .bind(0_i64)
        .fetch_all(store.pool())
        .await
        .expect("EXPLAIN QUERY PLAN");
        let plan: Vec<String> = plan.into_iter().map(|(_, _, _, detail)| detail).collect();
        println!("SQLite plan among 100000 others: {plan:?}");
        let index = store.user_index_name(&passport());
        assert!(
            plan.iter()
                .any(|step| step.starts_with("SEARCH") && step.contains(&index)),
            "{plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.starts_with("SCAN")),
            "{plan:?}"
        );
    }

    #[tokio::test]
    async fn odd_user_ids_are_found_exactly() {
        let (_dir, store) = store().await;
        super::odd_user_ids_are_found_exactly(&store, store.create_user_index(&passport())).await;
    }
}
