//! The MySQL/MariaDB store's row: exact JSON bytes, a UTC `expire`, and
//! case-sensitive session IDs.
#![cfg(feature = "mysql")]

use session_test_support::services as common;

use server_session::store::{SaveCondition, SaveOutcome, Store};
use server_session_sql::MySqlStore;
use session_test_support::backend_tests::load_and_touch_live;

use common::{drop_table, express_record};

async fn store_in_fresh_table() -> Option<MySqlStore> {
    common::store_in_fresh_table("MYSQL_URL", "session").await
}

#[tokio::test]
async fn the_row_holds_express_json_verbatim_and_a_utc_expire() {
    let Some(store) = store_in_fresh_table().await else {
        return;
    };
    // A connection in another time zone must not shift what is written.
    let mut conn = store.pool().acquire().await.expect("a connection");
    sqlx::query("SET time_zone = '+05:00'")
        .execute(&mut *conn)
        .await
        .expect("set time zone");
    drop(conn);

    let record = express_record(
        "2030-01-01T00:00:00.424Z",
        r#","user":{"name":"bob"},"ü":"✓""#,
    );
    assert!(matches!(
        store.save("abc", &record, SaveCondition::Upsert).await,
        Ok(SaveOutcome::Saved(_))
    ));
    let sql = format!(
        "SELECT sid, sess, CAST(expire AS CHAR) FROM {}",
        store.quoted_table()
    );
    let (sid, sess, expire): (Vec<u8>, Vec<u8>, String) = sqlx::query_as(&sql)
        .fetch_one(store.pool())
        .await
        .expect("the row");
    assert_eq!(sid, b"abc");
    assert_eq!(
        sess,
        record.to_json().into_bytes(),
        "sess must be express's JSON byte for byte"
    );
    assert_eq!(
        expire, "2030-01-01 00:00:01.000000",
        "ceil(expires / 1000) in UTC"
    );
    drop_table(&store).await;
}

#[tokio::test]
async fn session_ids_are_case_sensitive_and_a_foreign_write_conflicts() {
    let Some(store) = store_in_fresh_table().await else {
        return;
    };
    let lower = express_record("2030-01-01T00:00:00.000Z", r#","who":"lower""#);
    let upper = express_record("2030-01-01T00:00:00.000Z", r#","who":"upper""#);
    let _ = store
        .save("abc", &lower, SaveCondition::IfAbsent)
        .await
        .expect("save");
    assert!(matches!(
        store.save("ABC", &upper, SaveCondition::IfAbsent).await,
        Ok(SaveOutcome::Saved(_))
    ));
    let loaded = store.load("abc").await.expect("load").expect("live");
    assert_eq!(loaded.record.data()["who"], "lower");

    // Another process rewrites the row with other bytes.
    let sql = format!(
        "UPDATE {} SET sess = ? WHERE sid = 'abc'",
        store.quoted_table()
    );
    sqlx::query(&sql)
        .bind(r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"who":"node"}"#)
        .execute(store.pool())
        .await
        .expect("foreign write");
    assert_eq!(
        store
            .save("abc", &lower, SaveCondition::IfVersion(loaded.version))
            .await
            .expect("save"),
        SaveOutcome::Conflict
    );
    drop_table(&store).await;
}

/// MySQL uses no JSON functions, so a NUL in the data (stored as the escape
/// `\u0000`, as Node writes it too) is only text: every call works on the
/// row and gives back the exact data.
#[tokio::test]
async fn a_nul_in_the_data_is_loaded_touched_and_saved_exactly() {
    let Some(store) = store_in_fresh_table().await else {
        return;
    };
    let record = express_record(
        "2030-01-01T00:00:00.000Z",
        r#","return_to":"\u0000","k\u0000ey":"x\u0000y""#,
    );
    assert_eq!(record.data()["return_to"], "\u{0}");
    assert_eq!(record.data()["k\u{0}ey"], "x\u{0}y");
    let Ok(SaveOutcome::Saved(saved)) = store.save("nul", &record, SaveCondition::Upsert).await
    else {
        panic!("an upsert saves");
    };
    let sql = format!(
        "SELECT sess FROM {} WHERE sid = 'nul'",
        store.quoted_table()
    );
    let sess: Vec<u8> = sqlx::query_scalar(&sql)
        .fetch_one(store.pool())
        .await
        .expect("the row");
    assert_eq!(sess, record.to_json().into_bytes());

    let loaded = store.load("nul").await.expect("load").expect("live");
    assert_eq!(loaded.record.data(), record.data());
    assert_eq!(loaded.version, saved);
    let (touched_load, _) = load_and_touch_live(&store, "nul").await;
    assert_eq!(touched_load.record.data(), record.data());
    store.touch("nul", &record).await.expect("touch");

    let changed = express_record(
        "2030-01-01T00:00:00.000Z",
        r#","return_to":"\u0000","more\u0000":"\u0000""#,
    );
    assert!(matches!(
        store
            .save(
                "nul",
                &changed,
                SaveCondition::IfVersion(touched_load.version)
            )
            .await,
        Ok(SaveOutcome::Saved(_))
    ));
    assert_eq!(
        store
            .save("nul", &record, SaveCondition::IfVersion(saved))
            .await
            .expect("save"),
        SaveOutcome::Conflict
    );
    let reloaded = store.load("nul").await.expect("load").expect("live");
    assert_eq!(reloaded.record.data(), changed.data());
    drop_table(&store).await;
}
