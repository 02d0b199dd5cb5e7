//! The captured express-session fixtures
//! (`crates/server-session/tests/fixtures/express/`, the one list of them)
//! and what the store crates' `tests/node_fixtures.rs` share: Node's records
//! made current, the bytes our save should write for them
//! (`known-differences.json` applied), and the store-independent steps and
//! assertions of loading, saving and touching them.
//!
//! Each store crate keeps its own raw access (Redis `SET`/`TTL`, PostgreSQL
//! `INSERT`/`expire`) and its Node store's expiry formula.

use serde_json::{Map, Value};
use server_session::store::{
    now_ms, CookieData, LoadedRecord, Priority, Record, SameSite, SaveCondition, SaveOutcome,
    Store, StoreError,
};

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!(
            "../../server-session/tests/fixtures/express/",
            $name,
            ".json"
        )))),*]
    };
}

/// Every captured scenario, by name, with its fixture's text; the core
/// crate's `express_records` test checks it against the directory.
pub const FIXTURES: &[(&str, &str)] = fixtures!(
    "max_age_60000",
    "browser_session",
    "all_attributes_lax",
    "all_attributes_samesite_true",
    "samesite_none_secure_auto",
    "secure_auto_http",
    "samesite_priority_mixed_case",
    "samesite_priority_upper_case",
    "samesite_false_priority_null",
    "samesite_zero_priority_empty",
    "unicode",
    "nested_numbers",
    "integer_keys",
    "lone_surrogate",
    "touch",
    "touch_browser_session",
);

/// `known-differences.json`: where our bytes differ from Node's, how and why.
pub const KNOWN_DIFFERENCES: &str =
    include_str!("../../server-session/tests/fixtures/express/known-differences.json");

/// connect-redis's and connect-pg-simple's default `ttl`.
pub const DEFAULT_TTL_SECS: i64 = 86_400;

/// A Node record from a fixture, made current.
pub struct NodeRecord {
    /// The fixture's name.
    pub scenario: &'static str,
    /// Node's stored bytes with `cookie.expires` moved forward.
    pub bytes: String,
    /// The same, parsed as plain JSON; where serde_json cannot read Node's
    /// text, the text with the known differences applied (`Null` if that
    /// fails too).
    pub json: Value,
}

/// The first step of every fixture's `run` (`"redis"` for connect-redis,
/// `"postgres"` for connect-pg-simple; the touch scenarios' second step
/// stores the same value).
pub fn node_records(run: &str) -> Vec<NodeRecord> {
    FIXTURES
        .iter()
        .map(|(scenario, text)| {
            let fixture: Value = serde_json::from_str(text).expect("fixture JSON");
            let step = &fixture[run]["steps"][0];
            let stored = step["stored"].as_str().expect("stored value");
            let captured_at = step["now_ms"].as_i64().expect("now_ms");
            let bytes = shift_expires(stored, now_ms() - captured_at);
            // serde_json cannot read a lone surrogate; what the record holds
            // is Node's text with the known differences (U+FFFD for it).
            let json = serde_json::from_str(&bytes)
                .ok()
                .or_else(|| serde_json::from_str(&expected_ours(scenario, &bytes).ok()?).ok())
                .unwrap_or(Value::Null);
            NodeRecord {
                scenario,
                bytes,
                json,
            }
        })
        .collect()
}

/// The records our save can write (those `Record::from_json` reads), each
/// with the bytes our save should write for it.
pub fn savable_node_records(run: &str) -> Vec<(NodeRecord, String, Record)> {
    node_records(run)
        .into_iter()
        .filter_map(|node| {
            let expected = expected_ours(node.scenario, &node.bytes).ok()?;
            let record = Record::from_json(node.bytes.as_bytes()).expect("a record");
            Some((node, expected, record))
        })
        .collect()
}

/// The records of the touch scenarios, each with the second step of its
/// `run`: what Node's touch left.
pub fn touched_node_records(run: &str) -> Vec<(NodeRecord, Value)> {
    node_records(run)
        .into_iter()
        .filter_map(|node| {
            let after = touch_step(node.scenario, run)?;
            Some((node, after))
        })
        .collect()
}

/// The second step of `scenario`'s `run`: what Node's touch left, in the
/// touch scenarios; `None` in the others.
fn touch_step(scenario: &str, run: &str) -> Option<Value> {
    let fixture: Value = serde_json::from_str(
        FIXTURES
            .iter()
            .find(|(name, _)| *name == scenario)
            .map(|(_, text)| *text)
            .expect("fixture"),
    )
    .expect("fixture JSON");
    let after = fixture[run]["steps"].get(1)?.clone();
    assert_eq!(after["touched"], true, "{scenario}");
    Some(after)
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

/// An express `cookie.expires` text in epoch milliseconds.
pub fn iso_to_ms(iso: &str) -> i64 {
    let json = format!(r#"{{"cookie":{{"expires":"{iso}"}}}}"#);
    Record::from_json(json.as_bytes())
        .ok()
        .and_then(|record| record.expires_ms())
        .unwrap_or_else(|| panic!("`{iso}` is not an express date"))
}

/// `Date#toISOString` for years 1970..=9999, written here independently of
/// the library (days to civil date: H. Hinnant's algorithm).
pub fn iso_from_ms(ms: i64) -> String {
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
pub fn expected_ours(scenario: &str, node: &str) -> Result<String, String> {
    let known: Value = serde_json::from_str(KNOWN_DIFFERENCES).expect("known-differences.json");
    let Some(difference) = known.get(scenario) else {
        return Ok(node.to_owned());
    };
    if let Some(fragment) = difference["unreadable"].as_str() {
        return Err(fragment.to_owned());
    }
    let mut ours = node.to_owned();
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

/// Loads `id`, which holds `node`'s bytes as its Node store wrote them: a
/// readable value loads with Node's cookie and data, an unreadable one fails
/// as `Corrupt` with the reason `known-differences.json` gives.
pub async fn assert_loads_as_node(store: &impl Store, id: &str, node: &NodeRecord) {
    match expected_ours(node.scenario, &node.bytes) {
        Ok(_) => {
            let loaded = store
                .load(id)
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
        Err(fragment) => match store.load(id).await {
            Err(StoreError::Corrupt(reason)) => {
                let reason = reason.to_string();
                assert!(reason.contains(&fragment), "{}: {reason}", node.scenario)
            }
            other => panic!("{}: expected Corrupt, got {other:?}", node.scenario),
        },
    }
}

/// Saves `record` as the new session `id`, asserts that it was saved, and
/// returns the time right after the save (for the Node store's expiry
/// formula).
pub async fn save_as_new(store: &impl Store, id: &str, record: &Record, scenario: &str) -> i64 {
    save_expecting_saved(store, id, record, SaveCondition::IfAbsent, scenario).await
}

/// Loads `id`, which holds what Node wrote, and saves it back over itself,
/// compare-and-set against the version it loaded with; asserts that it was
/// saved and returns the time right after the save.
pub async fn save_over_node(store: &impl Store, id: &str, scenario: &str) -> i64 {
    let loaded = store.load(id).await.expect("load").expect("live");
    save_expecting_saved(
        store,
        id,
        &loaded.record,
        SaveCondition::IfVersion(loaded.version),
        scenario,
    )
    .await
}

async fn save_expecting_saved(
    store: &impl Store,
    id: &str,
    record: &Record,
    condition: SaveCondition,
    scenario: &str,
) -> i64 {
    let outcome = store.save(id, record, condition).await.expect("save");
    let now = now_ms();
    assert!(matches!(outcome, SaveOutcome::Saved(_)), "{scenario}");
    now
}

/// Loads `id` and touches it as a later request would: express's
/// Session#touch sets expires = now + originalMaxAge, then calls
/// store.touch. Returns what was loaded, when the touch was made, and the
/// touched `expires` (None for a browser-session cookie).
pub async fn touch_as_express(store: &impl Store, id: &str) -> (LoadedRecord, i64, Option<i64>) {
    let loaded = store.load(id).await.expect("load").expect("live");
    let touched_at = now_ms();
    let cookie = loaded.record.cookie().clone();
    let touched_expires = cookie.original_max_age_ms().map(|ms| touched_at + ms);
    let record = Record::new(
        cookie.with_expires_ms(touched_expires),
        loaded.record.data().clone(),
    );
    store.touch(id, &record).await.expect("touch");
    (loaded, touched_at, touched_expires)
}

/// The cookie object as Node stored it (`stored["cookie"]`), field by
/// field, against `cookie`.
pub fn assert_cookie_as_stored(label: &str, stored: &Value, cookie: &CookieData) {
    let js = &stored["cookie"];
    assert_eq!(
        cookie.original_max_age_ms(),
        js["originalMaxAge"].as_i64(),
        "{label}: originalMaxAge"
    );
    assert_eq!(
        cookie.expires_ms(),
        js["expires"].as_str().map(iso_to_ms),
        "{label}: expires"
    );
    assert_eq!(
        cookie.http_only(),
        js["httpOnly"].as_bool().expect("httpOnly"),
        "{label}: httpOnly"
    );
    assert_eq!(
        cookie.path(),
        js["path"].as_str().expect("path"),
        "{label}: path"
    );
    assert_eq!(cookie.domain(), js["domain"].as_str(), "{label}: domain");
    assert_eq!(cookie.secure(), js["secure"].as_bool(), "{label}: secure");
    assert_eq!(
        cookie.partitioned(),
        js["partitioned"].as_bool(),
        "{label}: partitioned"
    );
    // cookie 0.7.2 skips a falsy value (absent, false, null, 0, ""),
    // serialises `sameSite: true` as `SameSite=Strict`, and lower-cases a
    // string before it compares.
    let same_site = match &js["sameSite"] {
        falsy if is_falsy(falsy) => None,
        Value::Bool(true) => Some(SameSite::Strict),
        Value::String(text) => Some(SameSite::parse(text).expect("a SameSite value")),
        other => panic!("{label}: unexpected sameSite {other}"),
    };
    assert_eq!(cookie.same_site(), same_site, "{label}: sameSite");
    let priority = match &js["priority"] {
        falsy if is_falsy(falsy) => None,
        Value::String(text) => Some(Priority::parse(text).expect("a priority")),
        other => panic!("{label}: unexpected priority {other}"),
    };
    assert_eq!(cookie.priority(), priority, "{label}: priority");
}

/// JavaScript's falsy JSON values (a missing member reads as `null`).
fn is_falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(flag) => !flag,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(text) => text.is_empty(),
        Value::Array(_) | Value::Object(_) => false,
    }
}

/// The session data of a record as Node stored it: all but `cookie`.
pub fn data_of(json: &Value) -> Map<String, Value> {
    let mut data = json.as_object().expect("a JSON object").clone();
    data.remove("cookie");
    data
}
