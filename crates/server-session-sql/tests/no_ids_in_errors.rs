//! A session ID is a bearer credential: it must never reach a log. The
//! layer logs store errors with `error = %error`, and error reporters print
//! `Debug` and walk the `source` chain; a database's message, detail and
//! context may quote the statement's values (a trigger's message, MySQL's
//! `Duplicate entry '<sid>'`, PostgreSQL's `Failing row contains (<sid>,
//! <sess>, …)`). So none of them may show anything but codes and names.
#![cfg(any(feature = "postgres", feature = "mysql"))]

use session_test_support::errors::everything_shown;
use session_test_support::services as common;

use server_session::store::{now_ms, CookieData, Record, SaveCondition, Store, StoreError};

/// A record whose data holds `secret`.
fn record_holding(secret: &str) -> Record {
    let cookie = CookieData::default()
        .with_original_max_age_ms(Some(60_000))
        .with_expires_ms(Some(now_ms() + 60_000));
    let mut data = serde_json::Map::new();
    data.insert("token".to_owned(), serde_json::Value::from(secret));
    Record::new(cookie, data)
}

/// A session ID of express's length, unique to this call.
fn session_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A record holding `private-token`, saved under a new session ID.
async fn saved_session(store: &impl Store) -> (String, Record) {
    let id = session_id();
    let record = record_holding("private-token");
    let _ = store
        .save(&id, &record, SaveCondition::Upsert)
        .await
        .expect("an insert passes");
    (id, record)
}

/// `result` is a backend error that shows `expected` and none of `secrets`.
fn assert_shows_no_secret<T: std::fmt::Debug>(
    call: &str,
    result: Result<T, StoreError>,
    secrets: &[&str],
    expected: &[&str],
) {
    let error = match result {
        Err(error) => error,
        Ok(value) => panic!("{call}: expected an error, got {value:?}"),
    };
    let shown = everything_shown(&error);
    for secret in secrets {
        assert!(!shown.contains(secret), "{call}: shows {secret:?}: {shown}");
    }
    assert!(matches!(error, StoreError::Backend(_)), "{call}: {shown}");
    for wanted in expected {
        assert!(
            shown.contains(wanted),
            "{call}: does not show {wanted:?}: {shown}"
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use server_session::store::{SaveCondition, Store};
    use server_session_sql::PostgresStore;

    use super::common::store_in_fresh_table;
    use super::{assert_shows_no_secret, record_holding, saved_session};

    /// A CHECK constraint's violation details the failing row (ID and data),
    /// and a trigger's message names the row's ID.
    #[tokio::test]
    async fn database_errors_show_no_session_id_or_data() {
        let Some(store): Option<PostgresStore> =
            store_in_fresh_table("POSTGRES_URL", "no_ids").await
        else {
            return;
        };
        store.migrate().await.expect("create the table");
        let (table, t) = (store.table(), store.quoted_table());
        let function = format!("\"{table}_refuse\"");
        let setup = [
            format!("ALTER TABLE {t} ADD CONSTRAINT \"sid_shape\" CHECK (length(sid) = 32)"),
            format!(
                "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'refused session %', NEW.sid; END $$"
            ),
            format!(
                "CREATE TRIGGER \"refuse\" BEFORE UPDATE ON {t} \
                 FOR EACH ROW EXECUTE FUNCTION {function}()"
            ),
        ];
        for sql in &setup {
            sqlx::query(sql)
                .execute(store.pool())
                .await
                .expect("set the table up");
        }

        let short_id = "short-secret-session-id";
        assert_shows_no_secret(
            "save breaking a CHECK constraint",
            store
                .save(
                    short_id,
                    &record_holding("private-token"),
                    SaveCondition::Upsert,
                )
                .await,
            &[short_id, "private-token"],
            &["23514", "sid_shape"],
        );

        let (id, record) = saved_session(&store).await;
        assert_shows_no_secret(
            "touch refused by a trigger",
            store.touch(&id, &record).await,
            &[&id],
            &["P0001"],
        );
        assert_shows_no_secret(
            "load_and_touch refused by a trigger",
            store.load_and_touch(&id).await,
            &[&id, "private-token"],
            &["P0001"],
        );

        for sql in [
            format!("DROP TABLE {t}"),
            format!("DROP FUNCTION {function}()"),
        ] {
            sqlx::query(&sql)
                .execute(store.pool())
                .await
                .expect("clean up");
        }
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use server_session::store::Store;
    use server_session_sql::MySqlStore;

    use super::common::store_in_fresh_table;
    use super::{assert_shows_no_secret, saved_session};

    /// A trigger whose message names the row's ID.
    #[tokio::test]
    async fn database_errors_show_no_session_id() {
        let Some(store): Option<MySqlStore> = store_in_fresh_table("MYSQL_URL", "no_ids").await
        else {
            return;
        };
        store.migrate().await.expect("create the table");
        let (table, t) = (store.table(), store.quoted_table());
        // A compound statement: sent as text, not prepared.
        let trigger = format!(
            "CREATE TRIGGER `{table}_refuse` BEFORE UPDATE ON {t} FOR EACH ROW BEGIN \
             DECLARE message VARCHAR(255); \
             SET message = CONCAT('refused session ', NEW.sid); \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = message; END"
        );
        sqlx::raw_sql(&trigger)
            .execute(store.pool())
            .await
            .expect("create the trigger");

        let (id, record) = saved_session(&store).await;
        assert_shows_no_secret(
            "touch refused by a trigger",
            store.touch(&id, &record).await,
            &[&id],
            &["45000", "1644"],
        );

        sqlx::query(&format!("DROP TABLE {t}"))
            .execute(store.pool())
            .await
            .expect("clean up");
    }
}
