//! A session that the real express-session and connect-pg-simple wrote with
//! a NUL in it (a handler copying `?return_to=%00` into the session), read,
//! touched and saved by PostgresStore, then read back by Node.
//!
//! Node runs `interop/node/conformance-server.js` (installed by
//! `scripts/node-deps.sh`) on `POSTGRES_URL`, in connect-pg-simple's default
//! table `session`, as the core crate's interop tests run it.
#![cfg(feature = "postgres")]

use session_test_support::services as common;

use serde_json::Value;
use server_session::store::{now_ms, Record, SaveCondition, SaveOutcome, Store};
use server_session_sql::PostgresStore;
use session_test_support::backend_tests::load_and_touch_live;
use session_test_support::node::{self, Adapter, Kind};

use common::service_url;
use session_test_support::connect_pg_simple::row;

/// The cookie's `maxAge` the Node server is given.
const MAX_AGE_MS: i64 = 60_000;

/// The Node conformance server (real express-session with
/// connect-pg-simple), from the shared test support.
struct NodeServer {
    server: node::Server,
    http: reqwest::Client,
}

impl NodeServer {
    fn start(postgres_url: &str) -> Self {
        let options = serde_json::json!({
            "secret": "keyboard cat",
            "resave": false,
            "saveUninitialized": false,
            "cookie": { "maxAge": MAX_AGE_MS },
        });
        Self {
            server: node::start(Kind::Node, Adapter::Tower, &options, postgres_url),
            http: node::client(),
        }
    }

    /// `GET path` with the session cookie, if any: the status, the session
    /// cookie's value if one was set, and the body.
    async fn get(&self, path: &str, cookie: Option<&str>) -> (u16, Option<String>, String) {
        let headers: Vec<(String, String)> = cookie
            .map(|value| (String::from("cookie"), format!("connect.sid={value}")))
            .into_iter()
            .collect();
        let reply = node::get(&self.http, &self.server.url(path), &headers).await;
        let set_cookie = reply.cookie("connect.sid").map(|cookie| cookie.value);
        (reply.status, set_cookie, reply.body)
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

#[tokio::test]
async fn a_session_node_wrote_with_a_nul_is_loaded_touched_and_saved() {
    let Some(url) = service_url("POSTGRES_URL") else {
        return;
    };
    if !node::node_ready() {
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
    let (touched_load, touched) = load_and_touch_live(&store, &sid).await;
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
