//! A store that cannot connect says why, at once: connection refused, an
//! unknown database, a failed login; never a bare pool timeout after 5 s.
#![cfg(all(feature = "postgres", feature = "mysql"))]

use std::time::{Duration, Instant};

use server_session_sql::{MySqlStore, PostgresStore};

/// The error chain as one string, as a log line would show it.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn a_closed_port_is_reported_as_refused_at_once() {
    for url in [
        "postgres://postgres@127.0.0.1:1/test",
        "mysql://root@127.0.0.1:1/test",
    ] {
        let started = Instant::now();
        let error = if url.starts_with("postgres") {
            PostgresStore::connect(url).await.map(drop)
        } else {
            MySqlStore::connect(url).await.map(drop)
        }
        .expect_err("nothing listens on port 1");
        let text = chain(&error).to_lowercase();
        assert!(text.contains("refused"), "{url}: {text}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{url}: took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn an_unknown_database_is_named_as_such() {
    let Some(url) = server_session::conformance::service_url("POSTGRES_URL") else {
        return;
    };
    let Some((base, _)) = url.rsplit_once('/') else {
        panic!("POSTGRES_URL has no database: {url}");
    };
    let error = PostgresStore::connect(&format!("{base}/no_such_database_here"))
        .await
        .map(drop)
        .expect_err("no such database");
    // SQLSTATE 3D000: invalid_catalog_name.
    let text = chain(&error);
    assert!(text.contains("3D000"), "{text}");
}
