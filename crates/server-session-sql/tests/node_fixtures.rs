//! PostgresStore against what the real express-session 1.19 and
//! connect-pg-simple 10 stored (`interop/node/capture-fixtures.js`, fixtures
//! in `crates/server-session/tests/fixtures/express/`): a row Node wrote
//! loads with the same data and cookie, and our save writes the `sess` text
//! Node wrote, with connect-pg-simple's `expire`. Where our bytes differ,
//! `known-differences.json` says how, and that exact difference is asserted.
//!
//! The fixtures were captured in the past, so each value's `cookie.expires`
//! is moved forward by the time since the capture before it is written; the
//! rest of Node's bytes are kept as they are.
#![cfg(feature = "postgres")]

mod common;

use common::unique_name;
use serde_json::{Map, Value};
use server_session::store::{
    now_ms, CookieData, Priority, Record, SameSite, SaveCondition, SaveOutcome, Store, StoreError,
};
use server_session_sql::PostgresStore;

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

/// connect-pg-simple's default `ttl`.
const DEFAULT_TTL_SECS: i64 = 86_400;

/// A Node record from a fixture, made current.
struct NodeRecord {
    scenario: &'static str,
    /// Node's stored bytes with `cookie.expires` moved forward.
    bytes: String,
    /// The same, parsed as plain JSON (`Null` where serde_json cannot).
    json: Value,
}

/// The first step of every fixture's connect-pg-simple run (the touch
/// scenarios' second step stores the same value).
fn node_records() -> Vec<NodeRecord> {
    FIXTURES
        .iter()
        .map(|(scenario, text)| {
            let fixture: Value = serde_json::from_str(text).expect("fixture JSON");
            let step = &fixture["postgres"]["steps"][0];
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

/// connect-pg-simple's `#getExpireTime`: `Math.ceil(expires / 1000)`, or
/// `Math.ceil(Date.now() / 1000 + ttl)` for a browser-session cookie.
fn connect_pg_simple_expire(json: &Value, now_ms: i64) -> i64 {
    match json["cookie"]["expires"].as_str() {
        Some(iso) => (iso_to_ms(iso) as f64 / 1000.0).ceil() as i64,
        None => (now_ms as f64 / 1000.0 + DEFAULT_TTL_SECS as f64).ceil() as i64,
    }
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

/// A store in a fresh table, created as connect-pg-simple's table.sql does.
async fn setup() -> Option<PostgresStore> {
    let url = server_session::conformance::service_url("POSTGRES_URL")?;
    let store = PostgresStore::connect(&url)
        .await
        .expect("connect to POSTGRES_URL")
        .with_table(unique_name("node_fixtures"));
    store.migrate().await.expect("create the table");
    Some(store)
}

async fn drop_table(store: &PostgresStore) {
    let sql = format!("DROP TABLE IF EXISTS {}", store.qualified_table());
    sqlx::query(&sql)
        .execute(store.pool())
        .await
        .expect("drop table");
}

/// A row as connect-pg-simple's `set` writes it: the JSON text (node-pg
/// sends `JSON.stringify(sess)`), `to_timestamp(expire)` and the ID.
async fn insert_as_node(store: &PostgresStore, sid: &str, sess: &str, expire: i64) {
    let sql = format!(
        "INSERT INTO {} (sess, expire, sid) VALUES ($1::json, to_timestamp($2), $3)",
        store.qualified_table()
    );
    sqlx::query(&sql)
        .bind(sess)
        .bind(expire)
        .bind(sid)
        .execute(store.pool())
        .await
        .expect("insert as connect-pg-simple");
}

/// The row's `sess::text` and `expire` in epoch seconds.
async fn row(store: &PostgresStore, sid: &str) -> (String, i64) {
    let sql = format!(
        "SELECT sess::text, extract(epoch FROM expire)::float8 FROM {} WHERE sid = $1",
        store.qualified_table()
    );
    let (sess, expire): (String, f64) = sqlx::query_as(&sql)
        .bind(sid)
        .fetch_one(store.pool())
        .await
        .expect("the row");
    (sess, expire as i64)
}

fn assert_expire_near(label: &str, actual: i64, expected: i64) {
    assert!(
        (actual - expected).abs() <= 1,
        "{label}: expire {actual}, connect-pg-simple's formula gives {expected} (± 1)"
    );
}

#[tokio::test]
async fn a_row_node_wrote_loads_with_the_same_data_and_cookie() {
    let Some(store) = setup().await else {
        return;
    };
    for node in node_records() {
        let sid = unique_name(node.scenario);
        let expire = match node.json {
            Value::Null => (now_ms() / 1000) + 600,
            ref json => connect_pg_simple_expire(json, now_ms()),
        };
        insert_as_node(&store, &sid, &node.bytes, expire).await;
        // json keeps its input verbatim: the row holds Node's bytes.
        assert_eq!(row(&store, &sid).await.0, node.bytes, "{}", node.scenario);

        match expected_ours(node.scenario, &node.bytes) {
            Ok(_) => {
                let loaded = store
                    .load(&sid)
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
            Err(fragment) => match store.load(&sid).await {
                Err(StoreError::Corrupt { reason, .. }) => {
                    assert!(reason.contains(&fragment), "{}: {reason}", node.scenario)
                }
                other => panic!("{}: expected Corrupt, got {other:?}", node.scenario),
            },
        }
    }
    drop_table(&store).await;
}

#[tokio::test]
async fn saving_a_node_record_writes_the_sess_and_expire_node_wrote() {
    let Some(store) = setup().await else {
        return;
    };
    let mut exact = 0;
    for node in node_records() {
        let Ok(expected) = expected_ours(node.scenario, &node.bytes) else {
            continue;
        };
        let record = Record::from_json(node.bytes.as_bytes()).expect("a record");

        // As a new session.
        let sid = unique_name(node.scenario);
        let outcome = store
            .save(&sid, &record, SaveCondition::IfAbsent)
            .await
            .expect("save");
        let now = now_ms();
        assert!(
            matches!(outcome, SaveOutcome::Saved(_)),
            "{}",
            node.scenario
        );
        let (sess, expire) = row(&store, &sid).await;
        assert_eq!(sess, expected, "{}", node.scenario);
        assert_expire_near(
            node.scenario,
            expire,
            connect_pg_simple_expire(&node.json, now),
        );
        if node.json["cookie"]["expires"].is_string() {
            // Without a clock in it, the formula is exact.
            assert_eq!(
                expire,
                connect_pg_simple_expire(&node.json, now),
                "{}",
                node.scenario
            );
        }
        if expected == node.bytes {
            exact += 1;
        }

        // Over the row Node wrote, compare-and-set against its version.
        let over = unique_name(node.scenario);
        insert_as_node(&store, &over, &node.bytes, (now / 1000) + 600).await;
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
        let (sess, expire) = row(&store, &over).await;
        assert_eq!(sess, expected, "{}", node.scenario);
        assert_expire_near(
            node.scenario,
            expire,
            connect_pg_simple_expire(&node.json, now),
        );
    }
    assert_eq!(exact, 8, "scenarios without a known difference");
    drop_table(&store).await;
}

#[tokio::test]
async fn touching_a_node_row_moves_expire_as_connect_pg_simple_did() {
    let Some(store) = setup().await else {
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
        let Some(after) = fixture["postgres"]["steps"].get(1) else {
            continue;
        };
        assert_eq!(after["touched"], true, "{}", node.scenario);
        touched += 1;

        let sid = unique_name(node.scenario);
        let written = connect_pg_simple_expire(&node.json, now_ms());
        insert_as_node(&store, &sid, &node.bytes, written).await;
        let loaded = store.load(&sid).await.expect("load").expect("live");

        // A later request: express's Session#touch sets
        // expires = now + originalMaxAge, then calls store.touch.
        let touched_at = now_ms();
        let cookie = loaded.record.cookie().clone();
        let touched_expires = cookie.original_max_age_ms().map(|ms| touched_at + ms);
        let record = Record::new(
            cookie.with_expires_ms(touched_expires),
            loaded.record.data().clone(),
        );
        store.touch(&sid, &record).await.expect("touch");
        let (sess, expire) = row(&store, &sid).await;

        // `sess` is not rewritten; `expire` is connect-pg-simple's for the
        // touched cookie.
        assert_eq!(sess, node.bytes, "{}", node.scenario);
        let expected = match touched_expires {
            Some(at) => (at as f64 / 1000.0).ceil() as i64,
            None => (touched_at as f64 / 1000.0 + DEFAULT_TTL_SECS as f64).ceil() as i64,
        };
        assert_expire_near(node.scenario, expire, expected);
        // And it lies as far past the touching request as Node's did.
        let node_ahead = after["expire"].as_i64().expect("Node's expire") * 1000
            - after["requested_at_ms"].as_i64().expect("requested_at_ms");
        let ours_ahead = expire * 1000 - touched_at;
        assert!(
            (node_ahead - ours_ahead).abs() <= 1000,
            "{}: Node's touched expire is {node_ahead} ms ahead, ours {ours_ahead} ms",
            node.scenario
        );
        let again = store.load(&sid).await.expect("load").expect("live");
        assert_eq!(again.version, loaded.version, "{}", node.scenario);
    }
    assert_eq!(touched, 2);
    drop_table(&store).await;
}
