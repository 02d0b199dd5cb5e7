//! `load_with_expiry` reads the `expire` column back as the instant the
//! store enforces, whatever the connection's time zone says (PostgreSQL's
//! `TimeZone`, MySQL's `time_zone`), and it moves with a touch while the
//! stored `cookie.expires` does not.

use session_test_support::services as common;

use server_session::store::{SaveCondition, SaveOutcome, Store};
use session_test_support::backend_tests::{
    save_fresh_minute_record, touch_to_five_minutes_and_check_expiry,
};

use common::{load_live_with_expiry, unique_name};

/// Saves a 60 s record, touches it to 300 s, and checks what
/// `load_with_expiry` reports.
async fn check(name: &str, store: &dyn Store) {
    let id = unique_name("lwe");
    let (now, saved) = save_fresh_minute_record(store, &id, SaveCondition::IfAbsent).await;
    assert!(matches!(saved, SaveOutcome::Saved(_)), "{name}");
    let (_, expiry) = load_live_with_expiry(store, &id).await;
    let expiry = expiry.expect("an expiry");
    // `expire` is whole seconds, rounded up.
    assert!(
        (now + 59_000..=now + 61_000).contains(&expiry),
        "{name}: saved, {} ms from now",
        expiry - now
    );
    touch_to_five_minutes_and_check_expiry(store, &id, now, name).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_reads_expire_back_in_any_session_time_zone() {
    use std::str::FromStr as _;

    use server_session_sql::PostgresStore;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

    let Some(url) = common::service_url("POSTGRES_URL") else {
        return;
    };
    let table = unique_name("lwe");
    for zone in ["UTC", "Pacific/Kiritimati", "America/Los_Angeles"] {
        let options = PgConnectOptions::from_str(&url)
            .expect("a PostgreSQL URL")
            .options([("TimeZone", zone)]);
        let pool = PgPoolOptions::new()
            .connect_with(options)
            .await
            .expect("connect");
        let store = PostgresStore::from_pool(pool).with_table(table.clone());
        store.migrate().await.expect("migrate");
        check(&format!("postgres {zone}"), &store).await;
    }
    let store = PostgresStore::connect(&url)
        .await
        .expect("connect")
        .with_table(table);
    common::drop_table(&store).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_reads_expire_back_in_any_session_time_zone() {
    use server_session_sql::MySqlStore;
    use sqlx::mysql::MySqlPoolOptions;
    use sqlx::Executor as _;

    let Some(url) = common::service_url("MYSQL_URL") else {
        return;
    };
    let table = unique_name("lwe");
    for zone in ["+00:00", "+13:00", "-08:00"] {
        let pool = MySqlPoolOptions::new()
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(format!("SET time_zone = '{zone}'").as_str())
                        .await
                        .map(drop)
                })
            })
            .connect(&url)
            .await
            .expect("connect");
        let store = MySqlStore::from_pool(pool).with_table(table.clone());
        store.migrate().await.expect("migrate");
        check(&format!("mysql {zone}"), &store).await;
    }
    let store = MySqlStore::connect(&url)
        .await
        .expect("connect")
        .with_table(table);
    common::drop_table(&store).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_reads_expire_back() {
    use server_session_sql::SqliteStore;

    let store = SqliteStore::connect("sqlite::memory:")
        .await
        .expect("an in-memory database");
    store.migrate().await.expect("migrate");
    check("sqlite", &store).await;
}
