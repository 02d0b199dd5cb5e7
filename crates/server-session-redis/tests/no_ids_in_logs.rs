//! A session ID is a bearer credential: it must never reach a log. Redis
//! quotes a command's arguments in some error replies (`ERR unknown command
//! 'GETEX', with args beginning with: 'sess:<id>' …`, from any server before
//! 6.2), so neither the store's own log lines nor the errors it returns
//! (which the layer logs with `error = %error`) may carry the server's text.
//!
//! The servers here are real redis-servers of the test's own, started with
//! `rename-command … ""`, which makes them answer as a server without that
//! command does.

mod common;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{unique, OwnServer};
use server_session::store::{now_ms, CookieData, Record, SaveCondition, Store, StoreError};
use server_session_redis::RedisStore;
use session_test_support::backend_tests::load_and_touch_live;
use session_test_support::errors::everything_shown;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::{Event, Metadata, Subscriber};

/// Every event and span field, one line each (`LEVEL target: field=value
/// …`), formatted as a log writer would: `%value` with `Display`.
#[derive(Clone, Default)]
struct Captured {
    lines: Arc<Mutex<Vec<String>>>,
    next_span: Arc<AtomicU64>,
}

impl Captured {
    /// Captures what this thread logs while the guard lives.
    fn install() -> (Self, tracing::dispatcher::DefaultGuard) {
        let captured = Self::default();
        let guard = tracing::dispatcher::set_default(&tracing::Dispatch::new(captured.clone()));
        (captured, guard)
    }

    fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    fn push(&self, line: String) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line);
        }
    }
}

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl Subscriber for Captured {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut line = Line(format!("span {}:", span.metadata().name()));
        span.record(&mut line);
        self.push(line.0);
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &SpanRecord<'_>) {
        let mut line = Line("span record:".to_owned());
        values.record(&mut line);
        self.push(line.0);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let metadata = event.metadata();
        let mut line = Line(format!("{} {}:", metadata.level(), metadata.target()));
        event.record(&mut line);
        self.push(line.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

fn assert_no_line_shows(lines: &[String], id: &str) {
    for line in lines {
        assert!(
            !line.contains(id),
            "a log line shows the session ID: {line}"
        );
    }
}

fn record(original_max_age_ms: i64) -> Record {
    let cookie = CookieData::default()
        .with_original_max_age_ms(Some(original_max_age_ms))
        .with_expires_ms(Some(now_ms() + original_max_age_ms));
    Record::new(cookie, serde_json::Map::new())
}

/// A store on a server of the test's own, started with `config`; `None`
/// (skipped) where Redis is not available at all.
async fn own_server_store(config: &[&str]) -> Option<(OwnServer, RedisStore)> {
    common::redis_url()?;
    let server = OwnServer::start_with(OwnServer::free_port(), config);
    let store = RedisStore::connect(&format!("redis://127.0.0.1:{}", server.port))
        .await
        .expect("connect to the test's redis-server")
        .with_default_ttl(std::time::Duration::from_secs(300));
    Some((server, store))
}

#[tokio::test]
async fn the_getex_fallback_warning_shows_no_session_id() {
    let Some((_server, store)) = own_server_store(&["--rename-command", "GETEX", ""]).await else {
        return;
    };
    let (captured, _guard) = Captured::install();

    let (id, _) = common::save_new(&store, "secret-session-id", &record(60_000)).await;
    let (loaded, touched) = load_and_touch_live(&store, &id).await;
    assert!(touched);
    assert_eq!(loaded.record.cookie().original_max_age_ms(), Some(60_000));

    let lines = captured.lines();
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("WARN") && line.contains("GETEX")),
        "the fallback is logged: {lines:#?}"
    );
    assert_no_line_shows(&lines, &id);
}

#[tokio::test]
async fn store_errors_show_no_session_id() {
    let config = [
        "--rename-command",
        "GETEX",
        "",
        "--rename-command",
        "EVALSHA",
        "",
        "--rename-command",
        "EVAL",
        "",
    ];
    let Some((_server, store)) = own_server_store(&config).await else {
        return;
    };
    let (captured, _guard) = Captured::install();

    let id = unique("secret-session-id");
    let saved = store
        .save(&id, &record(60_000), SaveCondition::Upsert)
        .await
        .expect("an upsert is a plain SET");
    let server_session::store::SaveOutcome::Saved(version) = saved else {
        panic!("an upsert saves");
    };

    // The script behind each, refused with the key among its arguments.
    let failures = [
        (
            "load_and_touch",
            store.load_and_touch(&id).await.map(|_| ()),
        ),
        (
            "compare-and-set save",
            store
                .save(&id, &record(60_000), SaveCondition::IfVersion(version))
                .await
                .map(|_| ()),
        ),
    ];
    for (call, result) in failures {
        let Err(error) = result else {
            panic!("{call}: the server has no EVAL or EVALSHA, yet the call succeeded");
        };
        assert!(matches!(error, StoreError::Backend(_)), "{call}: {error:?}");
        let shown = everything_shown(&error);
        assert!(
            !shown.contains(&id),
            "{call}: the error shows the session ID: {shown}"
        );
        assert!(
            shown.contains("ERR"),
            "{call}: the error code is kept: {shown}"
        );
    }
    let lines = captured.lines();
    assert!(!lines.is_empty(), "the GETEX refusal is logged");
    assert_no_line_shows(&lines, &id);
}
