//! Dates and strings at the edges, checked against a live Node: every
//! `cookie.expires` we write is the text `Date#toISOString` writes, and we
//! read Node's text back to the same instant, across the whole JavaScript
//! date range (years -271821 to +275760); the `Expires` attribute is what
//! the `cookie` package (0.7.2, express-session's) writes; a lifetime too
//! long for any JavaScript date gives the last one; and a record in which
//! Node's `JSON.stringify` wrote a lone surrogate loads.
//!
//! Needs `node` (20 or later) on the `PATH`; the `cookie` package comes from
//! `interop/node` (`scripts/node-deps.sh`). Without them the Node checks
//! print `SKIPPED` and pass, unless `SESSION_REQUIRE_SERVICES=1`.

use session_test_support as support;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use server_session::__private::SetCookie;
use server_session::store::{CookieData, Record};
use server_session::{CookieOptions, MemoryStore, Session, SessionConfig, SessionLayer, Store};

use support::node::{node_dir, node_runs, require_services};
use support::*;

/// The largest distance from the epoch a JavaScript `Date` can hold.
const JS_LIMIT: i64 = 8_640_000_000_000_000;

/// Whether `node` runs; prints `SKIPPED` when it does not.
fn node_ready() -> bool {
    let ready = node_runs();
    if !ready {
        assert!(!require_services(), "node is not installed");
        println!("SKIPPED: node is not installed");
    }
    ready
}

/// `interop/node/node_modules/cookie`, when `scripts/node-deps.sh` has
/// installed it.
fn cookie_package() -> Option<PathBuf> {
    let dir = node_dir().join("node_modules/cookie");
    if dir.join("package.json").is_file() {
        return Some(dir);
    }
    assert!(
        !require_services(),
        "interop/node/node_modules is missing: run scripts/node-deps.sh"
    );
    println!("SKIPPED: the cookie package checks (run scripts/node-deps.sh)");
    None
}

/// Runs `script` in Node with `input` on stdin; returns its stdout.
fn run_node(script: &str, input: &str) -> String {
    let mut child = Command::new("node")
        .args(["-e", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to node");
    let output = child.wait_with_output().expect("node runs");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("node prints UTF-8")
}

/// The instants to check: the edges of the range and of the four-digit
/// years, and a spread of others (a fixed xorshift, so a failure repeats).
fn instants() -> Vec<i64> {
    let mut all = vec![
        0,
        -1,
        1,
        JS_LIMIT,
        -JS_LIMIT,
        JS_LIMIT - 1,
        -JS_LIMIT + 1,
        253_402_300_799_999, // 9999-12-31T23:59:59.999Z
        253_402_300_800_000, // +010000-01-01
        253_407_398_400_000, // +010000-02-29
        -62_167_219_200_000, // 0000-01-01
        -62_167_219_200_001, // -000001-12-31T23:59:59.999Z
        -62_198_755_200_000, // -000001-01-01
        -62_135_596_800_000, // 0001-01-01
        1_795_788_308_424,
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..400 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let span = 2 * JS_LIMIT as u64 + 1;
        all.push((state % span) as i64 - JS_LIMIT);
    }
    all
}

/// The `cookie.expires` text of a record expiring at `ms`, as we write it.
fn our_iso(ms: i64) -> String {
    let record = Record::new(
        CookieData::default().with_expires_ms(Some(ms)),
        Default::default(),
    );
    let json: Value = serde_json::from_str(&record.to_json()).expect("our JSON");
    json["cookie"]["expires"]
        .as_str()
        .expect("an expires text")
        .to_owned()
}

/// The instant we read from a record whose `cookie.expires` is `iso`.
fn our_reading(iso: &str) -> Option<i64> {
    let stored = format!(r#"{{"cookie":{{"expires":"{iso}","path":"/"}}}}"#);
    Record::from_json(stored.as_bytes()).ok()?.expires_ms()
}

#[test]
fn every_javascript_date_is_written_and_read_as_node_does() {
    if !node_ready() {
        return;
    }
    let instants = instants();
    let input = serde_json::to_string(&instants).expect("JSON");
    // For each instant: toISOString, and Date.parse of our text.
    let ours: Vec<String> = instants.iter().map(|&ms| our_iso(ms)).collect();
    let script = r#"
        const [instants, ours] = JSON.parse(require('fs').readFileSync(0, 'utf8'));
        process.stdout.write(JSON.stringify(instants.map((ms, i) => [
            new Date(ms).toISOString(),
            Date.parse(ours[i]),
        ])));
    "#;
    let input = format!("[{input},{}]", serde_json::to_string(&ours).expect("JSON"));
    let node: Vec<(String, f64)> =
        serde_json::from_str(&run_node(script, &input)).expect("node's JSON");
    assert_eq!(node.len(), instants.len());
    for ((&ms, ours), (node_iso, node_parse)) in instants.iter().zip(&ours).zip(&node) {
        assert_eq!(ours, node_iso, "{ms}: our text, Node's toISOString");
        assert_eq!(
            *node_parse, ms as f64,
            "{ms}: Node's Date.parse of our {ours}"
        );
        assert_eq!(
            our_reading(node_iso),
            Some(ms),
            "{ms}: our reading of {node_iso}"
        );
    }
}

/// We are stricter than V8 only on texts `toISOString` never writes: V8
/// takes day 31 in any month (`2023-02-31` is 3 March) and `24:00:00`.
#[test]
fn texts_date_parse_refuses_are_not_dates_to_us_either() {
    if !node_ready() {
        return;
    }
    let texts = [
        "+275760-09-13T00:00:00.001Z",
        "-271821-04-19T23:59:59.999Z",
        "-000000-01-01T00:00:00.000Z",
        "10000-01-01T00:00:00.000Z",
        "+10000-01-01T00:00:00.000Z",
        "+0100000-01-01T00:00:00.000Z",
        "+010000-13-01T00:00:00.000Z",
        "+010000-01-32T00:00:00.000Z",
        "+010000-01-01T24:00:01.000Z",
        "yesterday",
    ];
    let script = r#"
        const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
        process.stdout.write(JSON.stringify(texts.map((text) => Number.isNaN(Date.parse(text)))));
    "#;
    let input = serde_json::to_string(&texts).expect("JSON");
    let nan: Vec<bool> = serde_json::from_str(&run_node(script, &input)).expect("node's JSON");
    for (text, nan) in texts.iter().zip(nan) {
        assert!(nan, "Node reads {text}: pick another example");
        assert_eq!(our_reading(text), None, "{text}");
    }
}

#[test]
fn out_of_range_expiries_are_written_as_the_nearest_date_node_reads() {
    if !node_ready() {
        return;
    }
    let ours: Vec<String> = [i64::MAX, JS_LIMIT + 1, i64::MIN, -JS_LIMIT - 1]
        .into_iter()
        .map(our_iso)
        .collect();
    let script = r#"
        const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
        process.stdout.write(JSON.stringify(texts.map((text) => Date.parse(text))));
    "#;
    let input = serde_json::to_string(&ours).expect("JSON");
    let node: Vec<Option<f64>> =
        serde_json::from_str(&run_node(script, &input)).expect("node's JSON");
    let limit = JS_LIMIT as f64;
    assert_eq!(
        node,
        [Some(limit), Some(limit), Some(-limit), Some(-limit)],
        "{ours:?}"
    );
}

#[test]
fn expires_attribute_is_what_the_cookie_package_writes() {
    if !node_ready() {
        return;
    }
    let instants = instants();
    let ours: Vec<String> = instants
        .iter()
        .map(|&ms| {
            let mut cookie = SetCookie::new("connect.sid", "v");
            cookie.path = Some("/");
            cookie.expires_ms = Some(ms);
            cookie.http_only = true;
            cookie
                .to_header_value()
                .unwrap_or_else(|error| panic!("{ms}: {error}"))
        })
        .collect();
    let input = serde_json::to_string(&instants).expect("JSON");
    let node: Vec<String> = match cookie_package() {
        // express-session's own serializer.
        Some(package) => {
            let script = format!(
                r#"
                const cookie = require({package:?});
                const instants = JSON.parse(require('fs').readFileSync(0, 'utf8'));
                process.stdout.write(JSON.stringify(instants.map((ms) =>
                    cookie.serialize('connect.sid', 'v', {{ path: '/', expires: new Date(ms), httpOnly: true }}))));
                "#,
                package = package.display().to_string()
            );
            serde_json::from_str(&run_node(&script, &input)).expect("node's JSON")
        }
        // What cookie 0.7.2's serialize() writes for a valid date.
        None => {
            let script = r#"
                const instants = JSON.parse(require('fs').readFileSync(0, 'utf8'));
                process.stdout.write(JSON.stringify(instants.map((ms) =>
                    'connect.sid=v; Path=/; Expires=' + new Date(ms).toUTCString() + '; HttpOnly')));
            "#;
            serde_json::from_str(&run_node(script, &input)).expect("node's JSON")
        }
    };
    for ((ms, ours), node) in instants.iter().zip(&ours).zip(&node) {
        assert_eq!(ours, node, "{ms}");
    }
}

#[test]
fn a_lone_surrogate_node_wrote_loads_and_node_reads_our_rewrite() {
    if !node_ready() {
        return;
    }
    // A truncated emoji, a lone trailing half, and one in a key.
    let script = r#"
        const sess = {
            cookie: { originalMaxAge: 60000, expires: new Date(Date.UTC(2030, 0, 1)), httpOnly: true, path: '/' },
            truncated: '😀'.slice(0, 1),
            trailing: 'x' + '😀'.slice(1),
            ['key' + '😀'.slice(0, 1)]: ['😀', '😀'.slice(0, 1) + '!'],
        };
        process.stdout.write(JSON.stringify(sess));
    "#;
    let node_text = run_node(script, "");
    assert!(node_text.contains(r#""\ud83d""#), "{node_text}");
    let record = Record::from_json(node_text.as_bytes()).expect("the record loads");
    let data = record.data();
    assert_eq!(data["truncated"], "\u{fffd}");
    assert_eq!(data["trailing"], "x\u{fffd}");
    assert_eq!(data["key\u{fffd}"], serde_json::json!(["😀", "\u{fffd}!"]));
    assert_eq!(record.expires_ms(), Some(1_893_456_000_000));

    // What our next save writes, Node reads: U+FFFD where the half was.
    let script = r#"
        const sess = JSON.parse(require('fs').readFileSync(0, 'utf8'));
        process.stdout.write(JSON.stringify([
            sess.truncated === '\ufffd',
            sess.trailing === 'x\ufffd',
            sess['key\ufffd'][1] === '\ufffd!',
            new Date(sess.cookie.expires).getTime(),
        ]));
    "#;
    let node: Value = serde_json::from_str(&run_node(script, &record.to_json())).expect("JSON");
    assert_eq!(
        node,
        serde_json::json!([true, true, true, 1_893_456_000_000_i64])
    );
}

#[test]
fn a_max_age_past_javascript_dates_is_refused_when_the_layer_is_built() {
    for (cookie, option) in [
        (
            CookieOptions::new().with_max_age(Some(Duration::MAX)),
            "cookie.max_age",
        ),
        (
            CookieOptions::new().with_expires(Some(
                std::time::UNIX_EPOCH + Duration::from_millis(JS_LIMIT as u64 + 1),
            )),
            "cookie.expires",
        ),
    ] {
        let error = SessionLayer::new(
            MemoryStore::new(),
            SessionConfig::new(SECRET).with_cookie(cookie),
        )
        .expect_err(option);
        assert_eq!(error.option(), option);
    }
}

/// What a handler does to its session's cookie.
type ShapeCookie = fn(&Session);

/// The cookie and record a new session gets when `set` shapes its cookie.
async fn new_session(config: SessionConfig, set: ShapeCookie) -> (Res, Record) {
    let store = MemoryStore::new();
    let app = server(
        config.with_save_uninitialized(true),
        store.clone(),
        move |session: Session| async move { set(&session) },
    );
    let res = get(&app, "/").await;
    res.expect_status(200);
    let loaded = store
        .load(&res.sid())
        .await
        .expect("load")
        .expect("the session was saved");
    (res, loaded.record)
}

#[tokio::test]
async fn a_huge_max_age_at_request_time_gives_the_last_javascript_date() {
    // From a per-request cookie function, which nothing checks beforehand,
    // and from the session's cookie view.
    let from_fn = SessionConfig::new(SECRET)
        .with_cookie_fn(|_| CookieOptions::new().with_max_age(Some(Duration::MAX)));
    let from_view = SessionConfig::new(SECRET);
    let cases: [(SessionConfig, ShapeCookie); 3] = [
        (from_fn, |_| {}),
        (from_view.clone(), |session| {
            session.cookie().set_max_age(Some(Duration::MAX))
        }),
        (from_view, |session| {
            session.cookie().set_max_age_ms(Some(i64::MAX))
        }),
    ];
    for (config, set) in cases {
        let (res, record) = new_session(config, set).await;
        assert_eq!(
            res.expires().as_deref(),
            Some("Sat, 13 Sep 275760 00:00:00 GMT"),
            "the Set-Cookie is sent, with the last date"
        );
        assert_eq!(record.expires_ms(), Some(JS_LIMIT));
        let original = record
            .cookie()
            .original_max_age_ms()
            .expect("an originalMaxAge");
        // The lifetime that reaches the last date from about now.
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_millis(),
        )
        .expect("fits");
        assert!(
            (JS_LIMIT - now..=JS_LIMIT - now + 60_000).contains(&original),
            "{original}"
        );
        assert!(
            record
                .to_json()
                .contains(r#""expires":"+275760-09-13T00:00:00.000Z""#),
            "{}",
            record.to_json()
        );
    }
}
