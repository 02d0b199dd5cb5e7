//! Interoperability with the real express-session 1.19 (Node 20), over
//! connect-redis 9 and connect-pg-simple 10: the Rust conformance server
//! (the `conformance_server` example) and `interop/node/conformance-server.js`
//! run side by side on 127.0.0.1 with the same secret(s) and the same store
//! (Redis prefix `sess:`, PostgreSQL table `session`), and hand sessions to
//! each other. The absolute timeout's cases check that express's saves
//! keep the creation time the Rust server stores in the data, so the Rust
//! server still ends the session at its deadline.
//!
//! Each case runs on Redis (`REDIS_URL`) and on PostgreSQL
//! (`POSTGRES_URL`); an unset URL prints `SKIPPED: …` (a failure under
//! `SESSION_REQUIRE_SERVICES=1`), and so does a missing
//! `interop/node/node_modules` (`scripts/node-deps.sh`).

#![cfg(feature = "conformance")]

use session_test_support::node as node_support;
use session_test_support::on_both_adapters;

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use node_support::{Kind, Reply, Server, SetCookie};

/// The options most cases use: express's recommended settings.
fn recommended(secret: Value) -> Value {
    json!({
        "secret": secret,
        "resave": false,
        "saveUninitialized": false,
        "cookie": { "maxAge": 60_000 },
    })
}

/// The shared store of one case.
enum Probe {
    Redis(redis::aio::MultiplexedConnection),
    Postgres(sqlx::PgPool),
}

impl Probe {
    async fn connect(url: &str) -> Probe {
        if url.starts_with("redis") {
            let client = redis::Client::open(url).expect("redis url");
            Probe::Redis(
                client
                    .get_multiplexed_async_connection()
                    .await
                    .expect("redis connection"),
            )
        } else {
            Probe::Postgres(sqlx::PgPool::connect(url).await.expect("postgres"))
        }
    }

    /// The stored JSON of session `id`, if any (expired rows included).
    async fn record(&mut self, id: &str) -> Option<String> {
        match self {
            Probe::Redis(redis) => redis::cmd("GET")
                .arg(format!("sess:{id}"))
                .query_async(redis)
                .await
                .expect("redis GET"),
            Probe::Postgres(pool) => sqlx::query_scalar(
                r#"SELECT sess::text FROM "session" WHERE sid = $1 AND expire >= now()"#,
            )
            .bind(id)
            .fetch_optional(&*pool)
            .await
            .expect("select the session row"),
        }
    }

    /// When the store lets session `id` go, in epoch milliseconds: Redis
    /// now + PTTL, PostgreSQL the `expire` column.
    async fn expiry_ms(&mut self, id: &str) -> Option<i64> {
        match self {
            Probe::Redis(redis) => {
                let pttl: i64 = redis::cmd("PTTL")
                    .arg(format!("sess:{id}"))
                    .query_async(redis)
                    .await
                    .expect("redis PTTL");
                (pttl > 0).then(|| node_support::now_ms() + pttl)
            }
            Probe::Postgres(pool) => sqlx::query_scalar::<_, f64>(
                r#"SELECT extract(epoch FROM expire)::float8 * 1000 FROM "session" WHERE sid = $1"#,
            )
            .bind(id)
            .fetch_optional(&*pool)
            .await
            .expect("select the session's expire")
            .map(|ms| ms as i64),
        }
    }
}

/// The store URL for `var`, or None (printed `SKIPPED`) when the Node side
/// or the service is missing.
fn store_url(var: &str) -> Option<String> {
    if !node_support::node_ready() {
        return None;
    }
    server_session::conformance::service_url(var)
}

/// The Rust and the Node server over one store.
struct Pair {
    rust: Server,
    node: Server,
    http: reqwest::Client,
    probe: Probe,
    name: String,
}

impl Pair {
    /// Starts both servers on `store`, each with its own options.
    async fn start(store: &str, rust_options: Value, node_options: Value) -> Pair {
        let name = rust_options
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("connect.sid")
            .to_owned();
        // Rust first: its store creates the PostgreSQL table if missing, and
        // connect-pg-simple then finds it.
        let rust_store = store.to_owned();
        let adapter = node_support::adapter();
        let rust = tokio::task::spawn_blocking(move || {
            node_support::start(Kind::Rust, adapter, &rust_options, &rust_store)
        })
        .await
        .expect("start the rust server");
        let node_store = store.to_owned();
        let node = tokio::task::spawn_blocking(move || {
            node_support::start(Kind::Node, adapter, &node_options, &node_store)
        })
        .await
        .expect("start the node server");
        Pair {
            rust,
            node,
            http: node_support::client(),
            probe: Probe::connect(store).await,
            name,
        }
    }

    async fn same(store: &str, options: Value) -> Pair {
        Pair::start(store, options.clone(), options).await
    }

    fn server(&self, kind: Kind) -> &Server {
        match kind {
            Kind::Rust => &self.rust,
            Kind::Node => &self.node,
        }
    }

    /// `GET path` on `kind`, with `cookie` (a `name=value` pair) and extra
    /// headers.
    async fn get_with(
        &self,
        kind: Kind,
        path: &str,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = self.server(kind).url(path);
        let reply = node_support::get_with_cookie(&self.http, &url, cookie, headers).await;
        assert_eq!(
            reply.status,
            200,
            "{} GET {path}: {} {}",
            kind.label(),
            reply.status,
            reply.body
        );
        reply
    }

    async fn get(&self, kind: Kind, path: &str, cookie: Option<&str>) -> Reply {
        self.get_with(kind, path, cookie, &[]).await
    }

    /// The session cookie `reply` sets, as a `Cookie` header pair.
    fn cookie_of(&self, reply: &Reply, what: &str) -> (String, SetCookie) {
        let cookie = reply
            .cookie(&self.name)
            .unwrap_or_else(|| panic!("{what}: no Set-Cookie for {} in {reply:?}", self.name));
        (format!("{}={}", cookie.name, cookie.value), cookie)
    }

    /// The session ID `kind` sees for `cookie`.
    async fn id(&self, kind: Kind, cookie: &str) -> String {
        self.get(kind, "/id", Some(cookie)).await.body
    }

    /// A new session, made by `GET path` on `kind`: its cookie (a
    /// `name=value` pair) and its ID.
    async fn create(&self, kind: Kind, path: &str, what: &str) -> (String, String) {
        let created = self.get(kind, path, None).await;
        let (cookie, _) = self.cookie_of(&created, what);
        let id = self.id(kind, &cookie).await;
        (cookie, id)
    }

    /// Rust destroyed the record of `id`, and gives `cookie` a new session.
    async fn assert_ended_by_rust(&mut self, id: &str, cookie: &str) {
        assert_eq!(
            self.probe.record(id).await,
            None,
            "rust destroyed the record"
        );
        assert_ne!(self.id(Kind::Rust, cookie).await, id);
    }
}

fn other(kind: Kind) -> Kind {
    match kind {
        Kind::Rust => Kind::Node,
        Kind::Node => Kind::Rust,
    }
}

/// A session created on `first` is read, changed and saved on the other
/// server, and `first` then reads the change.
async fn handed_over(store: &str, first: Kind) {
    let second = other(first);
    let mut pair = Pair::same(store, recommended(json!("shared secret"))).await;
    let (cookie, id) = pair
        .create(first, "/set/user/bob", "a new session with data")
        .await;
    let record = pair
        .probe
        .record(&id)
        .await
        .expect("stored by the first server");
    assert!(record.ends_with(r#","user":"bob"}"#), "{record}");

    // The other server reads it…
    assert_eq!(pair.id(second, &cookie).await, id);
    assert_eq!(
        pair.get(second, "/get/user", Some(&cookie)).await.body,
        r#""bob""#
    );
    // …changes it and saves it (read-modify-write, a new key, a removal)…
    let changed = pair.get(second, "/set/user/alice", Some(&cookie)).await;
    let (recookie, _) = pair.cookie_of(&changed, "a changed persistent session");
    assert_eq!(recookie, cookie, "same ID, same secret: the same cookie");
    assert_eq!(pair.get(second, "/inc/n", Some(&cookie)).await.body, "1");
    assert_eq!(pair.get(second, "/inc/n", Some(&cookie)).await.body, "2");
    pair.get(second, "/set/gone/soon", Some(&cookie)).await;
    pair.get(second, "/del/gone", Some(&cookie)).await;
    let record = pair.probe.record(&id).await.expect("still stored");
    assert!(record.ends_with(r#","user":"alice","n":2}"#), "{record}");

    // …and the first server sees the change, and keeps counting.
    assert_eq!(
        pair.get(first, "/get/user", Some(&cookie)).await.body,
        r#""alice""#
    );
    assert_eq!(
        pair.get(first, "/get/gone", Some(&cookie)).await.body,
        "undefined"
    );
    assert_eq!(pair.get(first, "/inc/n", Some(&cookie)).await.body, "3");
    assert_eq!(pair.get(second, "/get/n", Some(&cookie)).await.body, "3");
    assert_eq!(pair.id(first, &cookie).await, id);
}

/// express's secret rotation across the two servers: `rotated` signs with
/// `new` and verifies `new` and `old`; `stale` knows only `old`.
async fn rotation(store: &str, rotated: Kind) {
    let stale = other(rotated);
    let rotated_options = recommended(json!(["new", "old"]));
    let stale_options = recommended(json!(["old"]));
    let (rust_options, node_options) = match rotated {
        Kind::Rust => (rotated_options, stale_options),
        Kind::Node => (stale_options, rotated_options),
    };
    let pair = Pair::start(store, rust_options, node_options).await;

    // A session from the stale server is signed with `old`…
    let created = pair.get(stale, "/set/user/bob", None).await;
    let (old_cookie, set) = pair.cookie_of(&created, "stale creates");
    assert!(node_support::is_signed_with(&set.value, "old"), "{set:?}");
    let id = pair.id(stale, &old_cookie).await;
    // …which the rotated server accepts (every secret verifies), without
    // re-signing while nothing changes…
    let read = pair.get(rotated, "/get/user", Some(&old_cookie)).await;
    assert_eq!(read.body, r#""bob""#);
    assert!(read.cookie(&pair.name).is_none(), "{read:?}");
    assert_eq!(pair.id(rotated, &old_cookie).await, id);
    // …and re-signs with `new` (the first secret) when it sends the cookie.
    let changed = pair
        .get(rotated, "/set/user/carol", Some(&old_cookie))
        .await;
    let (new_cookie, set) = pair.cookie_of(&changed, "rotated re-signs");
    assert!(node_support::is_signed_with(&set.value, "new"), "{set:?}");
    assert_eq!(set.session_id().as_deref(), Some(id.as_str()));
    // The stale server still reads the session through the old cookie…
    assert_eq!(
        pair.get(stale, "/get/user", Some(&old_cookie)).await.body,
        r#""carol""#
    );
    // …but cannot verify the `new` signature: no session, a fresh one.
    let fresh = pair.id(stale, &new_cookie).await;
    assert_ne!(fresh, id);
    assert_eq!(
        pair.get(stale, "/get/user", Some(&new_cookie)).await.body,
        "undefined"
    );
    // A session the rotated server creates is signed with `new`: the stale
    // server does not know it.
    let created = pair.get(rotated, "/set/user/dave", None).await;
    let (cookie, set) = pair.cookie_of(&created, "rotated creates");
    assert!(node_support::is_signed_with(&set.value, "new"), "{set:?}");
    assert_eq!(
        pair.get(stale, "/get/user", Some(&cookie)).await.body,
        "undefined"
    );
    assert_eq!(
        pair.get(rotated, "/get/user", Some(&cookie)).await.body,
        r#""dave""#
    );
}

/// `regenerate` on one server: the other sees the old ID gone and the new
/// one (without the data, as express regenerates) under the new cookie.
async fn regenerated(store: &str, actor: Kind) {
    let observer = other(actor);
    let mut pair = Pair::same(store, recommended(json!("shared secret"))).await;
    let (old_cookie, old_id) = pair.create(observer, "/set/a/1", "observer creates").await;

    let regenerated = pair.get(actor, "/regenerate", Some(&old_cookie)).await;
    let new_id = regenerated.body.clone();
    let (new_cookie, set) = pair.cookie_of(&regenerated, "regenerate sets the new ID");
    assert_eq!(set.session_id().as_deref(), Some(new_id.as_str()));
    assert_ne!(new_id, old_id);
    assert_eq!(
        pair.probe.record(&old_id).await,
        None,
        "the old ID is destroyed"
    );
    let record = pair
        .probe
        .record(&new_id)
        .await
        .expect("the new ID is stored");
    assert!(
        record.starts_with(r#"{"cookie":{"originalMaxAge":"#),
        "{record}"
    );
    assert!(
        !record.contains(r#""a":"1""#),
        "regenerate drops the data: {record}"
    );

    // The observer: the old cookie gives a fresh session, the new one the
    // regenerated session.
    let fresh = pair.id(observer, &old_cookie).await;
    assert!(fresh != old_id && fresh != new_id, "{fresh}");
    assert_eq!(
        pair.get(observer, "/get/a", Some(&old_cookie)).await.body,
        "undefined"
    );
    assert_eq!(pair.id(observer, &new_cookie).await, new_id);
    assert_eq!(
        pair.get(observer, "/get/a", Some(&new_cookie)).await.body,
        "undefined"
    );
    pair.get(observer, "/set/b/2", Some(&new_cookie)).await;
    assert_eq!(
        pair.get(actor, "/get/b", Some(&new_cookie)).await.body,
        r#""2""#
    );
}

/// `destroy` on one server: the other no longer finds the session.
async fn destroyed(store: &str, actor: Kind) {
    let observer = other(actor);
    let mut pair = Pair::same(store, recommended(json!("shared secret"))).await;
    let (cookie, id) = pair.create(observer, "/set/a/1", "observer creates").await;
    assert_eq!(
        pair.get(actor, "/get/a", Some(&cookie)).await.body,
        r#""1""#
    );

    let reply = pair.get(actor, "/destroy", Some(&cookie)).await;
    assert_eq!(reply.body, "destroyed");
    assert!(
        reply.set_cookies.is_empty(),
        "express sends no cookie: {reply:?}"
    );
    assert_eq!(pair.probe.record(&id).await, None);

    assert_ne!(pair.id(observer, &cookie).await, id);
    assert_eq!(
        pair.get(observer, "/get/a", Some(&cookie)).await.body,
        "undefined"
    );
    // The ID is unknown, so the request gets a fresh session, which is not
    // stored yet: reload fails as express's does.
    let headers = [(String::from("cookie"), cookie.clone())];
    let reload =
        node_support::get(&pair.http, &pair.server(observer).url("/reload"), &headers).await;
    assert_eq!(
        (reload.status, reload.body.as_str()),
        (500, "failed to load session")
    );
}

/// How long the TTL cases' sessions live, and when they act.
const SHORT_MAX_AGE_MS: i64 = 5_000;
const ACT_AFTER: Duration = Duration::from_millis(3_000);
const CHECK_AFTER: Duration = Duration::from_millis(4_000);

/// `touch` (or, with `rolling`, any request) on `actor` extends the store
/// expiry of a session the other server created: the other server still
/// finds it after its first expiry has passed, while an untouched twin is
/// gone.
async fn extended(store: &str, actor: Kind, rolling: bool) {
    let observer = other(actor);
    let mut options = recommended(json!("shared secret"));
    options["cookie"]["maxAge"] = json!(SHORT_MAX_AGE_MS);
    options["rolling"] = json!(rolling);
    let mut pair = Pair::same(store, options).await;
    let (cookie, id) = pair.create(observer, "/set/a/1", "observer creates").await;
    let (twin_cookie, twin_id) = pair
        .create(observer, "/set/a/2", "observer creates a twin")
        .await;
    let record = pair.probe.record(&id).await.expect("stored");
    let first_expiry = pair.probe.expiry_ms(&id).await.expect("an expiry");

    tokio::time::sleep(ACT_AFTER).await;
    let route = if rolling { "/noop" } else { "/touch" };
    let acted = pair.get(actor, route, Some(&cookie)).await;
    if rolling {
        // rolling re-sends the cookie, with the new expiry.
        let (_, set) = pair.cookie_of(&acted, "rolling re-sends the cookie");
        let expires = set.expires().expect("Expires");
        let lead = node_support::seconds_between(acted.date, expires);
        assert!(
            (SHORT_MAX_AGE_MS / 1000 - 1..=SHORT_MAX_AGE_MS / 1000 + 1).contains(&lead),
            "Expires {lead} s after Date: {set:?}"
        );
    } else {
        assert!(acted.set_cookies.is_empty(), "{acted:?}");
    }
    let touched_expiry = pair.probe.expiry_ms(&id).await.expect("still stored");
    let moved = touched_expiry - first_expiry;
    assert!(
        (2_000..=4_500).contains(&moved),
        "the store expiry moved by {moved} ms (acted {} ms after creation)",
        ACT_AFTER.as_millis()
    );
    // A touch extends the expiry only; the stored data is not rewritten.
    assert_eq!(
        pair.probe.record(&id).await.as_deref(),
        Some(record.as_str())
    );

    tokio::time::sleep(CHECK_AFTER).await;
    // Past the first expiry (5 s; PostgreSQL rounds up to the second), before
    // the extended one.
    assert!(
        node_support::now_ms() > first_expiry + 500,
        "the check runs after the first expiry"
    );
    assert_eq!(
        pair.id(observer, &cookie).await,
        id,
        "the extension kept it"
    );
    assert_eq!(
        pair.get(observer, "/get/a", Some(&cookie)).await.body,
        r#""1""#
    );
    assert_ne!(
        pair.id(observer, &twin_cookie).await,
        twin_id,
        "the twin expired"
    );
}

/// `touchAfter` on the Rust server: unchanged requests every second, for
/// longer than the 5 s idle timeout, touch the store only now and then,
/// yet the stored expiry never trails express's (request time + maxAge) by
/// more than `touchAfter`, and express, which has no such option, still
/// finds the session live at the end.
async fn touch_after_keeps_the_session_live_for_node(store: &str) {
    const TOUCH_AFTER_MS: i64 = 2_000;
    const READS: usize = 8;
    let node_options = {
        let mut options = recommended(json!("shared secret"));
        options["cookie"]["maxAge"] = json!(SHORT_MAX_AGE_MS);
        options
    };
    let mut rust_options = node_options.clone();
    rust_options["touchAfter"] = json!(TOUCH_AFTER_MS);
    let mut pair = Pair::start(store, rust_options, node_options).await;
    let (cookie, id) = pair.create(Kind::Node, "/set/a/1", "node creates").await;
    let mut last = pair.probe.expiry_ms(&id).await.expect("an expiry");
    let mut moves = 0;
    for _ in 0..READS {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let sent = node_support::now_ms();
        let read = pair.get(Kind::Rust, "/get/a", Some(&cookie)).await;
        assert_eq!(read.body, r#""1""#);
        assert!(read.set_cookies.is_empty(), "{read:?}");
        let expiry = pair.probe.expiry_ms(&id).await.expect("still stored");
        // PostgreSQL rounds up to the second; Redis's PTTL is read a few
        // milliseconds after the request.
        assert!(
            expiry >= sent + SHORT_MAX_AGE_MS - TOUCH_AFTER_MS - 250,
            "the stored expiry is {} ms after the request",
            expiry - sent
        );
        if expiry - last > 250 {
            moves += 1;
        }
        last = expiry;
    }
    assert!(
        (1..READS).contains(&moves),
        "{moves} touches for {READS} unchanged requests"
    );
    // 8 s after creation, on a 5 s idle timeout: alive for express.
    assert_eq!(pair.id(Kind::Node, &cookie).await, id, "express lost it");
    assert_eq!(
        pair.get(Kind::Node, "/get/a", Some(&cookie)).await.body,
        r#""1""#
    );
}

/// express's cookie with every attribute, over https behind a proxy.
fn all_attributes() -> Value {
    json!({
        "name": "sid",
        "secret": ["shared secret", "older secret"],
        "proxy": true,
        "rolling": true,
        "resave": false,
        "saveUninitialized": false,
        "cookie": {
            "domain": "example.com",
            "path": "/",
            "httpOnly": true,
            "secure": true,
            "sameSite": "lax",
            "priority": "high",
            "partitioned": true,
            "maxAge": 60_000,
        },
    })
}

/// A cookie issued by one server is accepted by the other, which sends the
/// very same `Set-Cookie` for it: name, `s:` value and attributes (Expires
/// compared relative to each response's Date).
async fn same_set_cookie(store: &str, issuer: Kind) {
    let acceptor = other(issuer);
    let pair = Pair::same(store, all_attributes()).await;
    let https = [("X-Forwarded-Proto", "https")];
    let issued = pair.get_with(issuer, "/set/a/1", None, &https).await;
    let (cookie, first) = pair.cookie_of(&issued, "the issuer's cookie");
    let id = first.session_id().expect("an s: value");
    assert_eq!(
        first.value,
        node_support::signed_value(&id, "shared secret"),
        "cookie-signature's value"
    );

    let accepted = pair.get_with(acceptor, "/id", Some(&cookie), &https).await;
    assert_eq!(accepted.body, id, "the acceptor loads the issuer's session");
    let (_, second) = pair.cookie_of(&accepted, "rolling re-sends the cookie");
    assert_eq!(second.name, first.name);
    assert_eq!(second.value, first.value, "byte-identical value");
    let (a, b) = (
        first.relative_attributes(issued.date),
        second.relative_attributes(accepted.date),
    );
    assert_eq!(a.len(), b.len(), "{first:?}\n{second:?}");
    for (x, y) in a.iter().zip(&b) {
        if x.starts_with("Expires=") && y.starts_with("Expires=") {
            let lead = |set: &SetCookie, date: SystemTime| {
                node_support::seconds_between(date, set.expires().expect("Expires"))
            };
            let (lx, ly) = (lead(&first, issued.date), lead(&second, accepted.date));
            // Both are whole seconds, and actix-web refreshes its cached
            // `Date` every 500 ms: two seconds apart at most.
            assert!((lx - ly).abs() <= 2, "Expires leads {lx} s vs {ly} s");
        } else {
            assert_eq!(x, y, "{first:?}\n{second:?}");
        }
    }
    assert_eq!(
        a.iter()
            .filter(|attribute| !attribute.starts_with("Expires="))
            .cloned()
            .collect::<Vec<_>>(),
        [
            "Domain=example.com",
            "Path=/",
            "HttpOnly",
            "Secure",
            "Partitioned",
            "Priority=High",
            "SameSite=Lax"
        ]
    );
    // Over plain http the Secure cookie is never sent, by either server.
    let plain = pair.get(acceptor, "/id", Some(&cookie)).await;
    assert_eq!(plain.body, id);
    assert!(plain.set_cookies.is_empty(), "{plain:?}");
}

/// express's `sameSite` and `priority` options as a Node app may write
/// them: `true` and an upper-case keyword.
fn spelled_options() -> Value {
    let mut options = recommended(json!("shared secret"));
    options["cookie"]["sameSite"] = json!(true);
    options["cookie"]["priority"] = json!("LOW");
    options
}

/// The stored cookie of session `id` as text, without `expires` (which
/// differs between writes), so that two servers' records compare exactly.
async fn stored_cookie_settings(probe: &mut Probe, id: &str) -> String {
    let mut record = stored(probe, id).await.expect("stored");
    let cookie = record["cookie"].as_object_mut().expect("a cookie object");
    cookie.shift_remove("expires");
    serde_json::to_string(cookie).expect("json")
}

/// Cookie settings `writer` stored, with express's `originalMaxAge` of one
/// millisecond less read as the configured one: express reads the clock
/// twice whenever it sets the expiry, when it makes the cookie (README
/// difference 7) and when it touches a loaded session (`resetMaxAge` sets
/// `expires`, whose setter takes `originalMaxAge` back from `expires -
/// now`), so a loaded machine sees 59999 for a 60000 `maxAge`.
fn as_written_by(writer: Kind, settings: String) -> String {
    match writer {
        Kind::Node => settings.replace(r#""originalMaxAge":59999,"#, r#""originalMaxAge":60000,"#),
        Kind::Rust => settings,
    }
}

/// Both servers store `sameSite: true` and `priority: "LOW"` as given (as
/// express does), keep them when they save the other's session, and send
/// `Priority=Low; SameSite=Strict` for them.
async fn spelled_as_given(store: &str, first: Kind) {
    let second = other(first);
    let mut pair = Pair::same(store, spelled_options()).await;
    let created = pair.get(first, "/set/a/1", None).await;
    let (cookie, sent) = pair.cookie_of(&created, "a new session");
    let id = pair.id(first, &cookie).await;
    let settings = stored_cookie_settings(&mut pair.probe, &id).await;
    assert_eq!(
        as_written_by(first, settings.clone()),
        r#"{"originalMaxAge":60000,"priority":"LOW","httpOnly":true,"path":"/","sameSite":true}"#,
        "{} stores the options as given",
        first.label()
    );
    let attributes = |set: &SetCookie| -> Vec<String> {
        set.attributes
            .iter()
            .filter(|a| !a.starts_with("Expires="))
            .cloned()
            .collect()
    };
    assert_eq!(
        attributes(&sent),
        ["Path=/", "HttpOnly", "Priority=Low", "SameSite=Strict"]
    );

    // The other server loads it, changes it and saves it: the stored
    // cookie keeps its spelling, and the header is the same.
    let changed = pair.get(second, "/set/b/2", Some(&cookie)).await;
    let (_, resent) = pair.cookie_of(&changed, "a changed persistent session");
    assert_eq!(attributes(&resent), attributes(&sent));
    // One of the two is Node, so the record has been through its hands
    // either way: both reads may carry its short `originalMaxAge`.
    assert_eq!(
        as_written_by(
            Kind::Node,
            stored_cookie_settings(&mut pair.probe, &id).await
        ),
        as_written_by(Kind::Node, settings.clone()),
        "{} keeps the spelling",
        second.label()
    );
    let record = pair.probe.record(&id).await.expect("stored");
    assert!(record.ends_with(r#","a":"1","b":"2"}"#), "{record}");
    // …and its own new sessions store the same.
    let (_, own_id) = pair
        .create(second, "/set/c/3", "the other's new session")
        .await;
    assert_eq!(
        as_written_by(
            second,
            stored_cookie_settings(&mut pair.probe, &own_id).await
        ),
        as_written_by(first, settings.clone())
    );
    assert_eq!(
        pair.get(first, "/get/b", Some(&cookie)).await.body,
        r#""2""#
    );
}

/// The absolute timeout the deadline cases give the Rust server: short, so
/// the suite stays fast, yet long enough for a few requests before it.
const ABSOLUTE_TIMEOUT_MS: i64 = 2_500;

/// Where the absolute timeout keeps a session's creation time in the
/// stored data (`CREATED_KEY` in the library).
const CREATED_KEY: &str = "__sessionCreatedAt";

/// The recommended options with the absolute timeout (Rust only: express
/// has no such option, and ignores the key).
fn with_deadline() -> Value {
    let mut options = recommended(json!("shared secret"));
    options["absoluteTimeout"] = json!(ABSOLUTE_TIMEOUT_MS);
    options
}

/// The stored record of session `id`, parsed.
async fn stored(probe: &mut Probe, id: &str) -> Option<Value> {
    let record = probe.record(id).await?;
    Some(serde_json::from_str(&record).unwrap_or_else(|e| panic!("{record}: {e}")))
}

fn created_at(record: &Value) -> Option<i64> {
    record.get(CREATED_KEY).and_then(Value::as_i64)
}

async fn sleep_until_ms(epoch_ms: i64) {
    let wait = epoch_ms - node_support::now_ms();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
    }
}

/// express saves a session the Rust server created with an absolute timeout
/// (twice: `set` writes the whole record, from express's own object), and
/// keeps its creation time: the Rust server still ends the session at the
/// deadline, though express moved the store's expiry a minute away.
async fn deadline_survives_express_saves(store: &str) {
    let mut pair = Pair::start(store, with_deadline(), recommended(json!("shared secret"))).await;
    let before = node_support::now_ms();
    let created = pair.get(Kind::Rust, "/set/a/1", None).await;
    let after = node_support::now_ms();
    let (cookie, _) = pair.cookie_of(&created, "rust creates");
    let id = pair.id(Kind::Rust, &cookie).await;
    let record = stored(&mut pair.probe, &id).await.expect("stored by rust");
    let created_ms = created_at(&record).unwrap_or_else(|| panic!("no {CREATED_KEY}: {record}"));
    assert!(
        (before..=after).contains(&created_ms),
        "created at {created_ms}, request between {before} and {after}"
    );
    let deadline = created_ms + ABSOLUTE_TIMEOUT_MS;
    // Rust keeps the store's expiry at the deadline (PostgreSQL rounds it up
    // to the second), not maxAge's minute.
    let expiry = pair.probe.expiry_ms(&id).await.expect("an expiry");
    assert!(
        expiry <= deadline + 1_000,
        "store expiry {} ms past the deadline",
        expiry - deadline
    );

    for (key, value) in [("b", "2"), ("c", "3")] {
        // A real express save of the whole record…
        let changed = pair
            .get(Kind::Node, &format!("/set/{key}/{value}"), Some(&cookie))
            .await;
        pair.cookie_of(&changed, "express saves and re-sends the cookie");
        let record = stored(&mut pair.probe, &id)
            .await
            .expect("saved by express");
        // …round-trips the creation time unchanged, beside the data…
        assert_eq!(created_at(&record), Some(created_ms), "{record}");
        assert_eq!(record["a"], "1", "{record}");
        assert_eq!(record[key], value, "{record}");
        // …while express sets the store's expiry from its own maxAge.
        let expiry = pair.probe.expiry_ms(&id).await.expect("an expiry");
        assert!(
            expiry > deadline + 30_000,
            "express's save moved the store expiry to {} ms past the deadline",
            expiry - deadline
        );
        if key == "b" {
            // Before the deadline Rust serves the session, with express's
            // change.
            assert_eq!(
                pair.get(Kind::Rust, "/get/b", Some(&cookie)).await.body,
                r#""2""#
            );
            // …and its touch brings the store's expiry back to the deadline.
            let expiry = pair.probe.expiry_ms(&id).await.expect("an expiry");
            assert!(
                expiry <= deadline + 1_000,
                "after rust's read the store expiry is {} ms past the deadline",
                expiry - deadline
            );
        }
    }
    assert!(
        node_support::now_ms() < deadline,
        "the machine is too slow for this case: the deadline passed during setup"
    );
    let expiry_before_deadline = pair.probe.expiry_ms(&id).await.expect("an expiry");

    // Past the deadline: a fresh session from Rust, and the record, which
    // the store would have kept for most of a minute, destroyed.
    sleep_until_ms(deadline + 300).await;
    assert_eq!(
        pair.get(Kind::Rust, "/get/a", Some(&cookie)).await.body,
        "undefined"
    );
    assert!(
        expiry_before_deadline > node_support::now_ms() + 30_000,
        "the store alone would still hold the session"
    );
    pair.assert_ended_by_rust(&id, &cookie).await;
    // express, on the same store, finds it gone too.
    assert_eq!(
        pair.get(Kind::Node, "/get/a", Some(&cookie)).await.body,
        "undefined"
    );
}

/// A session express created (no creation time) gets one on its first use
/// through the Rust server, and the deadline counts from that use, not
/// from express's creation.
async fn deadline_counts_from_first_rust_use(store: &str) {
    let mut pair = Pair::start(store, with_deadline(), recommended(json!("shared secret"))).await;
    let created = pair.get(Kind::Node, "/set/a/1", None).await;
    let node_created = node_support::now_ms();
    let (cookie, _) = pair.cookie_of(&created, "node creates");
    let id = pair.id(Kind::Node, &cookie).await;
    let record = stored(&mut pair.probe, &id).await.expect("stored by node");
    assert_eq!(created_at(&record), None, "express writes none: {record}");

    // Long enough that the two possible deadlines are far apart.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let before = node_support::now_ms();
    let used = pair.get(Kind::Rust, "/get/a", Some(&cookie)).await;
    let after = node_support::now_ms();
    assert_eq!(used.body, r#""1""#);
    let record = stored(&mut pair.probe, &id).await.expect("still stored");
    let first_use = created_at(&record)
        .unwrap_or_else(|| panic!("the first use stores a creation time: {record}"));
    assert!(
        (before..=after).contains(&first_use),
        "created at {first_use}, first use between {before} and {after}"
    );
    assert_eq!(record["a"], "1", "{record}");
    let deadline = first_use + ABSOLUTE_TIMEOUT_MS;

    // Past the deadline counted from express's creation, before the one
    // counted from the first use: still served.
    sleep_until_ms(node_created + ABSOLUTE_TIMEOUT_MS + 200).await;
    assert!(
        node_support::now_ms() < deadline - 200,
        "the machine is too slow for this case"
    );
    assert_eq!(
        pair.get(Kind::Rust, "/get/a", Some(&cookie)).await.body,
        r#""1""#
    );
    // express saves it meanwhile and keeps the creation time it never wrote.
    pair.get(Kind::Node, "/set/b/2", Some(&cookie)).await;
    let record = stored(&mut pair.probe, &id)
        .await
        .expect("saved by express");
    assert_eq!(created_at(&record), Some(first_use), "{record}");

    // Past the deadline counted from the first use: a fresh session.
    sleep_until_ms(deadline + 300).await;
    assert_eq!(
        pair.get(Kind::Rust, "/get/a", Some(&cookie)).await.body,
        "undefined"
    );
    pair.assert_ended_by_rust(&id, &cookie).await;
}

/// Sessions Passport signed in through express (`passport.user`, a string
/// or a number) are listed by the Rust server's user index next to its own,
/// and "sign out everywhere else" on the Rust server ends them for express.
async fn node_sign_ins_are_listed_and_revoked_by_rust(store: &str, numeric: bool) {
    let mut rust_options = recommended(json!("shared secret"));
    rust_options["userPath"] = json!("passport.user");
    let mut node_options = recommended(json!("shared secret"));
    node_options["userPath"] = json!("passport.user");
    let pair = Pair::start(store, rust_options, node_options).await;
    // A user no other run shares: decimal digits, so that express stores a
    // number when `numeric`.
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos()
        % 1_000_000_000_000_000;
    let user = if numeric {
        unique.to_string()
    } else {
        format!("ada{unique}")
    };
    let login = format!("/login/{user}");
    let mut node_cookies = Vec::new();
    for _ in 0..2 {
        let reply = pair.get(Kind::Node, &login, None).await;
        node_cookies.push(pair.cookie_of(&reply, "express's sign-in").0);
    }
    let stored = pair
        .get(Kind::Node, "/get/passport", Some(&node_cookies[0]))
        .await;
    let expected = if numeric {
        format!(r#"{{"user":{user}}}"#)
    } else {
        format!(r#"{{"user":"{user}"}}"#)
    };
    assert_eq!(stored.body, expected, "Passport's shape");
    let reply = pair.get(Kind::Rust, &login, None).await;
    let (rust_cookie, _) = pair.cookie_of(&reply, "the Rust sign-in");

    let listed = pair.get(Kind::Rust, "/sessions", Some(&rust_cookie)).await;
    let listed: Vec<Value> = serde_json::from_str(&listed.body).expect("a JSON array");
    assert_eq!(
        listed.len(),
        3,
        "both express sign-ins and the Rust one: {listed:?}"
    );
    assert_eq!(
        listed
            .iter()
            .filter(|info| info["current"] == json!(true))
            .count(),
        1
    );
    // Express still serves its sessions, and so does Rust.
    for cookie in &node_cookies {
        assert_eq!(
            pair.get(Kind::Rust, "/get/passport", Some(cookie))
                .await
                .body,
            expected
        );
    }

    assert_eq!(
        pair.get(Kind::Rust, "/revoke-others", Some(&rust_cookie))
            .await
            .body,
        "2"
    );
    for cookie in &node_cookies {
        assert_eq!(
            pair.get(Kind::Node, "/get/passport", Some(cookie))
                .await
                .body,
            "undefined",
            "express no longer serves a session revoked on the Rust server"
        );
    }
    let listed = pair.get(Kind::Rust, "/sessions", Some(&rust_cookie)).await;
    let listed: Vec<Value> = serde_json::from_str(&listed.body).expect("a JSON array");
    assert_eq!(listed.len(), 1, "{listed:?}");
}

/// One `#[tokio::test]` per case, store and direction.
/// Each case, on both adapters (`<case>::tower`, `<case>::actix`).
macro_rules! interop_tests {
    ($($name:ident: $var:literal => $case:expr;)*) => {
        on_both_adapters! {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(url) = store_url($var) else { return };
                    tokio::time::timeout(Duration::from_secs(60), $case(url))
                        .await
                        .expect("the case finishes within a minute");
                }
            )*
        }
    };
}

interop_tests! {
    redis_rust_session_through_node: "REDIS_URL" => |url: String| async move { handed_over(&url, Kind::Rust).await };
    redis_node_session_through_rust: "REDIS_URL" => |url: String| async move { handed_over(&url, Kind::Node).await };
    postgres_rust_session_through_node: "POSTGRES_URL" => |url: String| async move { handed_over(&url, Kind::Rust).await };
    postgres_node_session_through_rust: "POSTGRES_URL" => |url: String| async move { handed_over(&url, Kind::Node).await };

    redis_rotation_node_new_old_rust_old: "REDIS_URL" => |url: String| async move { rotation(&url, Kind::Node).await };
    redis_rotation_rust_new_old_node_old: "REDIS_URL" => |url: String| async move { rotation(&url, Kind::Rust).await };
    postgres_rotation_node_new_old_rust_old: "POSTGRES_URL" => |url: String| async move { rotation(&url, Kind::Node).await };
    postgres_rotation_rust_new_old_node_old: "POSTGRES_URL" => |url: String| async move { rotation(&url, Kind::Rust).await };

    redis_node_regenerates_rust_sees: "REDIS_URL" => |url: String| async move { regenerated(&url, Kind::Node).await };
    redis_rust_regenerates_node_sees: "REDIS_URL" => |url: String| async move { regenerated(&url, Kind::Rust).await };
    postgres_node_regenerates_rust_sees: "POSTGRES_URL" => |url: String| async move { regenerated(&url, Kind::Node).await };
    postgres_rust_regenerates_node_sees: "POSTGRES_URL" => |url: String| async move { regenerated(&url, Kind::Rust).await };

    redis_node_destroys_rust_sees: "REDIS_URL" => |url: String| async move { destroyed(&url, Kind::Node).await };
    redis_rust_destroys_node_sees: "REDIS_URL" => |url: String| async move { destroyed(&url, Kind::Rust).await };
    postgres_node_destroys_rust_sees: "POSTGRES_URL" => |url: String| async move { destroyed(&url, Kind::Node).await };
    postgres_rust_destroys_node_sees: "POSTGRES_URL" => |url: String| async move { destroyed(&url, Kind::Rust).await };

    redis_node_touch_extends_rust_session: "REDIS_URL" => |url: String| async move { extended(&url, Kind::Node, false).await };
    redis_rust_touch_extends_node_session: "REDIS_URL" => |url: String| async move { extended(&url, Kind::Rust, false).await };
    postgres_node_touch_extends_rust_session: "POSTGRES_URL" => |url: String| async move { extended(&url, Kind::Node, false).await };
    postgres_rust_touch_extends_node_session: "POSTGRES_URL" => |url: String| async move { extended(&url, Kind::Rust, false).await };
    redis_node_rolling_extends_rust_session: "REDIS_URL" => |url: String| async move { extended(&url, Kind::Node, true).await };
    redis_rust_rolling_extends_node_session: "REDIS_URL" => |url: String| async move { extended(&url, Kind::Rust, true).await };
    postgres_node_rolling_extends_rust_session: "POSTGRES_URL" => |url: String| async move { extended(&url, Kind::Node, true).await };
    postgres_rust_rolling_extends_node_session: "POSTGRES_URL" => |url: String| async move { extended(&url, Kind::Rust, true).await };

    redis_touch_after_keeps_the_session_live_for_node: "REDIS_URL" => |url: String| async move { touch_after_keeps_the_session_live_for_node(&url).await };
    postgres_touch_after_keeps_the_session_live_for_node: "POSTGRES_URL" => |url: String| async move { touch_after_keeps_the_session_live_for_node(&url).await };

    redis_rust_cookie_accepted_by_node_byte_for_byte: "REDIS_URL" => |url: String| async move { same_set_cookie(&url, Kind::Rust).await };
    redis_node_cookie_accepted_by_rust_byte_for_byte: "REDIS_URL" => |url: String| async move { same_set_cookie(&url, Kind::Node).await };
    postgres_rust_cookie_accepted_by_node_byte_for_byte: "POSTGRES_URL" => |url: String| async move { same_set_cookie(&url, Kind::Rust).await };
    postgres_node_cookie_accepted_by_rust_byte_for_byte: "POSTGRES_URL" => |url: String| async move { same_set_cookie(&url, Kind::Node).await };

    redis_rust_spells_same_site_and_priority_as_node: "REDIS_URL" => |url: String| async move { spelled_as_given(&url, Kind::Rust).await };
    redis_node_spells_same_site_and_priority_as_rust: "REDIS_URL" => |url: String| async move { spelled_as_given(&url, Kind::Node).await };
    postgres_rust_spells_same_site_and_priority_as_node: "POSTGRES_URL" => |url: String| async move { spelled_as_given(&url, Kind::Rust).await };
    postgres_node_spells_same_site_and_priority_as_rust: "POSTGRES_URL" => |url: String| async move { spelled_as_given(&url, Kind::Node).await };

    redis_absolute_deadline_survives_express_saves: "REDIS_URL" => |url: String| async move { deadline_survives_express_saves(&url).await };
    postgres_absolute_deadline_survives_express_saves: "POSTGRES_URL" => |url: String| async move { deadline_survives_express_saves(&url).await };
    redis_absolute_deadline_counts_from_first_rust_use: "REDIS_URL" => |url: String| async move { deadline_counts_from_first_rust_use(&url).await };
    postgres_absolute_deadline_counts_from_first_rust_use: "POSTGRES_URL" => |url: String| async move { deadline_counts_from_first_rust_use(&url).await };

    redis_node_sign_ins_listed_and_revoked_by_rust: "REDIS_URL" => |url: String| async move { node_sign_ins_are_listed_and_revoked_by_rust(&url, false).await };
    redis_node_numeric_sign_ins_listed_and_revoked_by_rust: "REDIS_URL" => |url: String| async move { node_sign_ins_are_listed_and_revoked_by_rust(&url, true).await };
    postgres_node_sign_ins_listed_and_revoked_by_rust: "POSTGRES_URL" => |url: String| async move { node_sign_ins_are_listed_and_revoked_by_rust(&url, false).await };
    postgres_node_numeric_sign_ins_listed_and_revoked_by_rust: "POSTGRES_URL" => |url: String| async move { node_sign_ins_are_listed_and_revoked_by_rust(&url, true).await };
}
