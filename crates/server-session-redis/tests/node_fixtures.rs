//! RedisStore against what the real express-session 1.19 and connect-redis 9
//! stored (`interop/node/capture-fixtures.js`, fixtures in
//! `crates/server-session/tests/fixtures/express/`): a value Node wrote loads
//! with the same data and cookie, and our save writes the bytes Node wrote,
//! with connect-redis's TTL. Where our bytes differ, `known-differences.json`
//! says how, and that exact difference is asserted.
//!
//! The fixtures were captured in the past, so each value's `cookie.expires`
//! is moved forward by the time since the capture before it is written; the
//! rest of Node's bytes are kept as they are.

mod common;

use common::{unique, Raw};
use serde_json::{Map, Value};
use server_session::store::{
    now_ms, CookieData, Priority, Record, SameSite, SaveCondition, SaveOutcome, Store, StoreError,
};
use server_session_redis::RedisStore;

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        &[$((
            $name,
            include_str!(concat!("../../server-session/tests/fixtures/express/", $name, ".json")),
        )),*]
    };
}

/// Every captured scenario (the core crate's `express_records` test checks
/// that this list matches the directory).
const FIXTURES: &[(&str, &str)] = fixtures!(
    "max_age_60000",
    "browser_session",
    "all_attributes_lax",
    "all_attributes_samesite_true",
    "samesite_none_secure_auto",
    "secure_auto_http",
    "unicode",
    "nested_numbers",
    "integer_keys",
    "lone_surrogate",
    "touch",
    "touch_browser_session",
);

const KNOWN_DIFFERENCES: &str =
    include_str!("../../server-session/tests/fixtures/express/known-differences.json");

/// connect-redis's default `ttl`.
const DEFAULT_TTL_SECS: i64 = 86_400;

/// A Node record from a fixture, made current.
struct NodeRecord {
    scenario: &'static str,
    /// Node's stored bytes with `cookie.expires` moved forward.
    bytes: String,
    /// The same, parsed as plain JSON (`Null` where serde_json cannot).
    json: Value,
}

/// The first step of every fixture's connect-redis run (the touch
/// scenarios' second step stores the same value).
fn node_records() -> Vec<NodeRecord> {
    FIXTURES
        .iter()
        .map(|(scenario, text)| {
            let fixture: Value = serde_json::from_str(text).expect("fixture JSON");
            let step = &fixture["redis"]["steps"][0];
            let stored = step["stored"].as_str().expect("stored value");
            let captured_at = step["now_ms"].as_i64().expect("now_ms");
            let bytes = shift_expires(stored, now_ms() - captured_at);
            let json = serde_json::from_str(&bytes).unwrap_or(Value::Null);
            NodeRecord {
                scenario,
                bytes,
                json,
            }
        })
        .collect()
}

/// Moves `"expires":"<iso>"` in a stored value `by_ms` later, touching no
/// other byte.
fn shift_expires(stored: &str, by_ms: i64) -> String {
    // Text, not a parse: serde_json cannot read every Node value.
    const FIELD: &str = "\"expires\":\"";
    let Some(at) = stored.find(FIELD) else {
        // `"expires":null`: a browser-session cookie.
        return stored.to_owned();
    };
    assert_eq!(stored.matches(FIELD).count(), 1, "one expires in {stored}");
    let start = at + FIELD.len();
    let end = start + stored[start..].find('"').expect("a closing quote");
    let shifted = iso_from_ms(iso_to_ms(&stored[start..end]) + by_ms);
    format!("{}{shifted}{}", &stored[..start], &stored[end..])
}

fn iso_to_ms(iso: &str) -> i64 {
    let json = format!(r#"{{"cookie":{{"expires":"{iso}"}}}}"#);
    Record::from_json(json.as_bytes())
        .ok()
        .and_then(|record| record.expires_ms())
        .unwrap_or_else(|| panic!("`{iso}` is not an express date"))
}

/// `Date#toISOString` for years 1970..=9999, written here independently of
/// the library (days to civil date: H. Hinnant's algorithm).
fn iso_from_ms(ms: i64) -> String {
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// What our bytes should be for Node's `node` bytes: Node's bytes with the
/// known differences applied, or `Err(fragment of the error)` when
/// `Record::from_json` refuses them.
fn expected_ours(scenario: &str, node: &str) -> Result<String, String> {
    let known: Value = serde_json::from_str(KNOWN_DIFFERENCES).expect("known-differences.json");
    let Some(difference) = known.get(scenario) else {
        return Ok(node.to_owned());
    };
    if let Some(fragment) = difference["unreadable"].as_str() {
        return Err(fragment.to_owned());
    }
    let mut ours = node.to_owned();
    if difference["cookie_first"] == Value::Bool(true) {
        ours = cookie_first(&ours);
    }
    for pair in difference["replace"].as_array().into_iter().flatten() {
        let (Some(from), Some(to)) = (pair[0].as_str(), pair[1].as_str()) else {
            panic!("{scenario}: a replace pair is not two strings: {pair}");
        };
        assert!(ours.contains(from), "{scenario}: `{from}` does not occur");
        ours = ours.replace(from, to);
    }
    assert_ne!(
        ours, node,
        "{scenario}: a known difference that changes nothing"
    );
    Ok(ours)
}

/// Moves the `"cookie":{…}` member of a JSON object to the front.
fn cookie_first(json: &str) -> String {
    let start = json
        .find(",\"cookie\":{")
        .expect("a cookie member after another member");
    let object = start + ",\"cookie\":".len();
    let mut end = object;
    let (mut in_string, mut escaped) = (false, false);
    for (at, byte) in json[object..].bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            // The cookie object holds no nested object.
            b'}' if !in_string => {
                end = object + at + 1;
                break;
            }
            _ => {}
        }
    }
    let member = &json[start + 1..end];
    let rest = format!("{}{}", &json[..start], &json[end..]);
    format!("{{{member},{}", &rest[1..])
}

/// connect-redis's `getTTL`: `Math.ceil((expires - Date.now()) / 1000)`, or
/// the default for a browser-session cookie.
fn connect_redis_ttl(json: &Value, now_ms: i64) -> i64 {
    match json["cookie"]["expires"].as_str() {
        Some(iso) => ((iso_to_ms(iso) - now_ms) as f64 / 1000.0).ceil() as i64,
        None => DEFAULT_TTL_SECS,
    }
}

fn assert_ttl_near(label: &str, actual: i64, expected: i64) {
    assert!(
        (actual - expected).abs() <= 1,
        "{label}: TTL {actual}, connect-redis's formula gives {expected} (± 1)"
    );
}

/// The loaded cookie, field by field, against the cookie Node stored.
fn assert_cookie_as_stored(label: &str, json: &Value, cookie: &CookieData) {
    let js = &json["cookie"];
    assert_eq!(
        cookie.original_max_age_ms(),
        js["originalMaxAge"].as_i64(),
        "{label}"
    );
    assert_eq!(
        cookie.expires_ms(),
        js["expires"].as_str().map(iso_to_ms),
        "{label}"
    );
    assert_eq!(
        Some(cookie.http_only()),
        js["httpOnly"].as_bool(),
        "{label}"
    );
    assert_eq!(Some(cookie.path()), js["path"].as_str(), "{label}");
    assert_eq!(cookie.domain(), js["domain"].as_str(), "{label}");
    assert_eq!(cookie.secure(), js["secure"].as_bool(), "{label}");
    assert_eq!(cookie.partitioned(), js["partitioned"].as_bool(), "{label}");
    let same_site = match &js["sameSite"] {
        Value::Null => None,
        // cookie 0.7.2 sends `sameSite: true` as SameSite=Strict.
        Value::Bool(true) => Some(SameSite::Strict),
        Value::String(text) => SameSite::parse(text),
        other => panic!("{label}: sameSite {other}"),
    };
    assert_eq!(cookie.same_site(), same_site, "{label}");
    let priority = js["priority"].as_str().and_then(Priority::parse);
    assert_eq!(cookie.priority(), priority, "{label}");
}

fn data_of(json: &Value) -> Map<String, Value> {
    let mut data = json.as_object().expect("a JSON object").clone();
    data.remove("cookie");
    data
}

async fn setup() -> Option<(RedisStore, Raw)> {
    let url = common::redis_url()?;
    let store = RedisStore::connect(&url)
        .await
        .expect("connect to REDIS_URL");
    assert_eq!(store.prefix(), "sess:", "connect-redis's default prefix");
    Some((store, Raw::standalone(&url).await))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_node_wrote_loads_with_the_same_data_and_cookie() {
    let Some((store, raw)) = setup().await else {
        return;
    };
    for node in node_records() {
        let id = unique(node.scenario);
        let key = format!("sess:{id}");
        let ttl = connect_redis_ttl(&node.json, now_ms());
        raw.set_ex(&key, node.bytes.as_bytes(), ttl).await;

        match expected_ours(node.scenario, &node.bytes) {
            Ok(_) => {
                let loaded = store
                    .load(&id)
                    .await
                    .unwrap_or_else(|error| panic!("{}: {error}", node.scenario))
                    .unwrap_or_else(|| panic!("{}: not found", node.scenario));
                assert_cookie_as_stored(node.scenario, &node.json, loaded.record.cookie());
                assert_eq!(
                    loaded.record.data(),
                    &data_of(&node.json),
                    "{}",
                    node.scenario
                );
            }
            Err(fragment) => match store.load(&id).await {
                Err(StoreError::Corrupt { reason, .. }) => {
                    assert!(reason.contains(&fragment), "{}: {reason}", node.scenario)
                }
                other => panic!("{}: expected Corrupt, got {other:?}", node.scenario),
            },
        }
        store.destroy(&id).await.expect("destroy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_a_node_record_writes_the_bytes_node_wrote() {
    let Some((store, raw)) = setup().await else {
        return;
    };
    let mut exact = 0;
    for node in node_records() {
        let Ok(expected) = expected_ours(node.scenario, &node.bytes) else {
            continue;
        };
        let record = Record::from_json(node.bytes.as_bytes()).expect("a record");

        // As a new session.
        let id = unique(node.scenario);
        let key = format!("sess:{id}");
        let outcome = store
            .save(&id, &record, SaveCondition::IfAbsent)
            .await
            .expect("save");
        let now = now_ms();
        assert!(
            matches!(outcome, SaveOutcome::Saved(_)),
            "{}",
            node.scenario
        );
        let written = raw.get(&key).await.expect("written");
        assert_eq!(
            String::from_utf8_lossy(&written),
            expected,
            "{}",
            node.scenario
        );
        assert_ttl_near(
            node.scenario,
            raw.ttl(&key).await,
            connect_redis_ttl(&node.json, now),
        );
        if expected == node.bytes {
            exact += 1;
        }

        // Over the value Node wrote, compare-and-set against its version.
        let over = unique(node.scenario);
        let over_key = format!("sess:{over}");
        raw.set_ex(&over_key, node.bytes.as_bytes(), 600).await;
        let loaded = store.load(&over).await.expect("load").expect("live");
        let outcome = store
            .save(
                &over,
                &loaded.record,
                SaveCondition::IfVersion(loaded.version),
            )
            .await
            .expect("save");
        let now = now_ms();
        assert!(
            matches!(outcome, SaveOutcome::Saved(_)),
            "{}",
            node.scenario
        );
        let rewritten = raw.get(&over_key).await.expect("rewritten");
        assert_eq!(
            String::from_utf8_lossy(&rewritten),
            expected,
            "{}",
            node.scenario
        );
        assert_ttl_near(
            node.scenario,
            raw.ttl(&over_key).await,
            connect_redis_ttl(&node.json, now),
        );

        store.destroy(&id).await.expect("destroy");
        store.destroy(&over).await.expect("destroy");
    }
    assert_eq!(exact, 8, "scenarios without a known difference");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touching_a_node_record_moves_the_ttl_as_connect_redis_did() {
    let Some((store, raw)) = setup().await else {
        return;
    };
    let mut touched = 0;
    for node in node_records() {
        let fixture: Value = serde_json::from_str(
            FIXTURES
                .iter()
                .find(|(name, _)| *name == node.scenario)
                .map(|(_, text)| *text)
                .expect("fixture"),
        )
        .expect("fixture JSON");
        let Some(after) = fixture["redis"]["steps"].get(1) else {
            continue;
        };
        assert_eq!(after["touched"], true, "{}", node.scenario);
        touched += 1;

        let id = unique(node.scenario);
        let key = format!("sess:{id}");
        raw.set_ex(
            &key,
            node.bytes.as_bytes(),
            connect_redis_ttl(&node.json, now_ms()),
        )
        .await;
        let loaded = store.load(&id).await.expect("load").expect("live");

        // A later request: express's Session#touch sets
        // expires = now + originalMaxAge, then calls store.touch.
        let cookie = loaded.record.cookie().clone();
        let touched_expires = cookie.original_max_age_ms().map(|ms| now_ms() + ms);
        let record = Record::new(
            cookie.with_expires_ms(touched_expires),
            loaded.record.data().clone(),
        );
        store.touch(&id, &record).await.expect("touch");
        let ttl = raw.ttl(&key).await;

        // The value is not rewritten; the TTL is the touched one, which is
        // what connect-redis's EXPIRE left (captured right after Node's touch).
        assert_eq!(
            String::from_utf8_lossy(&raw.get(&key).await.expect("kept")),
            node.bytes,
            "{}",
            node.scenario
        );
        let node_ttl = after["ttl"].as_i64().expect("Node's TTL after touch");
        assert_ttl_near(node.scenario, ttl, node_ttl);
        let expected = match touched_expires {
            Some(at) => ((at - now_ms()) as f64 / 1000.0).ceil() as i64,
            None => DEFAULT_TTL_SECS,
        };
        assert_ttl_near(node.scenario, ttl, expected);
        let again = store.load(&id).await.expect("load").expect("live");
        assert_eq!(again.version, loaded.version, "{}", node.scenario);
        store.destroy(&id).await.expect("destroy");
    }
    assert_eq!(touched, 2);
}
