//! A session that the real express-session and connect-pg-simple wrote with
//! a NUL in it (a handler copying `?return_to=%00` into the session), read,
//! touched and saved by PostgresStore, then read back by Node.
//!
//! Node runs `interop/node/conformance-server.js` (installed by
//! `scripts/node-deps.sh`) on `POSTGRES_URL`, in connect-pg-simple's default
//! table `session`, as the core crate's interop tests run it.
#![cfg(feature = "postgres")]

use session_test_support::services as common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use server_session::store::{now_ms, Record, SaveCondition, SaveOutcome, Store};
use server_session_sql::PostgresStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::service_url;

/// How long Node may take to print `listening on …`, and one request.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The cookie's `maxAge` the Node server is given.
const MAX_AGE_MS: i64 = 60_000;

/// `interop/node` in this repository.
fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/node")
}

/// Whether Node and `interop/node/node_modules` are there; `SKIPPED: …`
/// otherwise, or a panic under `SESSION_REQUIRE_SERVICES=1`.
fn node_ready() -> bool {
    let installed = node_dir()
        .join("node_modules/connect-pg-simple/package.json")
        .is_file();
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if installed && node {
        return true;
    }
    let why = if node {
        "interop/node/node_modules is missing"
    } else {
        "node is not installed"
    };
    assert!(
        std::env::var("SESSION_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "{why}: run scripts/node-deps.sh (SESSION_REQUIRE_SERVICES=1 requires the Node side)"
    );
    println!("SKIPPED: run scripts/node-deps.sh ({why})");
    false
}

/// The Node conformance server, killed when dropped.
struct NodeServer {
    child: Child,
    /// `127.0.0.1:PORT`.
    address: String,
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeServer {
    fn start(postgres_url: &str) -> Self {
        let options = serde_json::json!({
            "secret": "keyboard cat",
            "resave": false,
            "saveUninitialized": false,
            "cookie": { "maxAge": MAX_AGE_MS },
        });
        let mut child = Command::new("node")
            .arg(node_dir().join("conformance-server.js"))
            .current_dir(node_dir())
            .env("PORT", "0")
            .env("SESSION_OPTIONS", options.to_string())
            .env("SESSION_STORE", postgres_url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = sender.send(reader.read_line(&mut line).map(|_| line));
            // Keep draining, so that a later write never meets a closed pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = receiver.recv_timeout(START_TIMEOUT);
        let address = match &line {
            Ok(Ok(line)) => line.trim().strip_prefix("listening on ").map(str::to_owned),
            _ => None,
        };
        let server = Self {
            child,
            address: address.unwrap_or_default(),
        };
        assert!(
            !server.address.is_empty(),
            "the Node conformance server did not start: {line:?}"
        );
        server
    }

    /// `GET path` with the session cookie, if any: the status, the session
    /// cookie's value if one was set, and the body.
    async fn get(&self, path: &str, cookie: Option<&str>) -> (u16, Option<String>, String) {
        tokio::time::timeout(REQUEST_TIMEOUT, self.get_unbounded(path, cookie))
            .await
            .unwrap_or_else(|_| panic!("GET {path} timed out"))
    }

    async fn get_unbounded(
        &self,
        path: &str,
        cookie: Option<&str>,
    ) -> (u16, Option<String>, String) {
        let mut stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .expect("connect to the Node server");
        let cookie = cookie.map_or(String::new(), |value| {
            format!("Cookie: connect.sid={value}\r\n")
        });
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{cookie}Connection: close\r\n\r\n",
            self.address
        );
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .expect("read the response");
        let response = String::from_utf8(response).expect("a UTF-8 response");
        let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let set_cookie = lines
            .filter_map(|line| line.split_once(": "))
            .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, value)| value.strip_prefix("connect.sid="))
            .and_then(|value| value.split(';').next())
            .map(str::to_owned);
        (status, set_cookie, body.to_owned())
    }
}

/// The ID in an express cookie value, `s%3A<id>.<signature>`.
fn session_id(cookie: &str) -> String {
    let signed = cookie.strip_prefix("s%3A").expect("a signed cookie");
    let (id, _) = signed.rsplit_once('.').expect("id.signature");
    id.to_owned()
}

fn ceil_secs(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

/// The row's `sess::text` and `expire` in seconds since the epoch.
async fn row(store: &PostgresStore, sid: &str) -> (String, i64) {
    let sql = format!(
        "SELECT sess::text, extract(epoch FROM expire::timestamptz)::int8 FROM {} WHERE sid = $1",
        store.quoted_table()
    );
    sqlx::query_as(&sql)
        .bind(sid)
        .fetch_one(store.pool())
        .await
        .expect("the row Node wrote")
}

#[tokio::test]
async fn a_session_node_wrote_with_a_nul_is_loaded_touched_and_saved() {
    let Some(url) = service_url("POSTGRES_URL") else {
        return;
    };
    if !node_ready() {
        return;
    }
    let node = NodeServer::start(&url);

    // `%00` in a route parameter is a NUL once express decodes it; one in a
    // value, one in a key.
    let (status, cookie, body) = node.get("/set/return_to/%00", None).await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let cookie = cookie.expect("express set the session cookie");
    let sid = session_id(&cookie);
    let (status, _, body) = node.get("/set/k%00ey/x%00y", Some(&cookie)).await;
    assert_eq!((status, body.as_str()), (200, "ok"));

    let store = PostgresStore::connect(&url)
        .await
        .expect("connect to POSTGRES_URL");
    let (written, _) = row(&store, &sid).await;
    assert!(
        written.contains(r#""return_to":"\u0000""#)
            && written.contains(r#""k\u0000ey":"x\u0000y""#),
        "connect-pg-simple stored JSON.stringify's escapes: {written}"
    );

    let loaded = store.load(&sid).await.expect("load").expect("live");
    assert_eq!(loaded.record.data()["return_to"], "\u{0}");
    assert_eq!(loaded.record.data()["k\u{0}ey"], "x\u{0}y");
    // express reads the clock twice when it sets maxAge, so the
    // originalMaxAge it stores can come out a millisecond or so short
    // (README difference 7).
    let max_age = loaded
        .record
        .cookie()
        .original_max_age_ms()
        .expect("express stored the max age");
    assert!(
        (MAX_AGE_MS - 50..=MAX_AGE_MS).contains(&max_age),
        "originalMaxAge {max_age}"
    );

    // Bring `expire` closer, so that the touch has to move it.
    let sql = format!(
        "UPDATE {} SET expire = expire - interval '30 seconds' WHERE sid = $1",
        store.quoted_table()
    );
    sqlx::query(&sql)
        .bind(&sid)
        .execute(store.pool())
        .await
        .expect("move expire");
    let before = now_ms();
    let (touched_load, touched) = store
        .load_and_touch(&sid)
        .await
        .expect("load_and_touch")
        .expect("live");
    let after = now_ms();
    assert!(touched, "a max-age session is touched by load_and_touch");
    assert_eq!(touched_load.record.data(), loaded.record.data());
    assert_eq!(touched_load.version, loaded.version);
    let (sess, expire) = row(&store, &sid).await;
    assert_eq!(sess, written, "the touch keeps Node's bytes");
    assert!(
        (ceil_secs(before + max_age)..=ceil_secs(after + max_age)).contains(&expire),
        "expire {expire} is not now + maxAge"
    );
    store
        .touch(&sid, &touched_load.record)
        .await
        .expect("touch");

    // A compare-and-set save over Node's row, which Node then reads.
    let mut data = touched_load.record.data().clone();
    data.insert("from_rust\u{0}".to_owned(), Value::from("y\u{0}z"));
    let changed = Record::new(touched_load.record.cookie().clone(), data);
    assert!(matches!(
        store
            .save(
                &sid,
                &changed,
                SaveCondition::IfVersion(touched_load.version)
            )
            .await,
        Ok(SaveOutcome::Saved(_))
    ));
    let (status, _, body) = node.get("/get/return_to", Some(&cookie)).await;
    assert_eq!((status, body.as_str()), (200, r#""\u0000""#));
    let (status, _, body) = node.get("/get/from_rust%00", Some(&cookie)).await;
    assert_eq!((status, body.as_str()), (200, r#""y\u0000z""#));

    store.destroy(&sid).await.expect("destroy");
}
