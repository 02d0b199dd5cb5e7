//! What the real express-session 1.19, connect-redis 9 and connect-pg-simple
//! 10 stored (captured by `interop/node/capture-fixtures.js` into
//! `tests/fixtures/express/`) reads as a [`Record`] and is written back byte
//! for byte, and gives the TTL and `expire` the Node stores gave it.
//!
//! Where our bytes differ from Node's, `known-differences.json` says exactly
//! how and why, and the tests assert that difference and nothing else.

use std::collections::BTreeSet;

use serde_json::Value;
use server_session::__private::{sign_session_id, unsign_session_id, Secrets, SetCookie};
use server_session::store::{Record, StoreError};
use session_test_support::node_fixtures::{
    self, assert_cookie_as_stored, data_of, iso_to_ms, DEFAULT_TTL_SECS, FIXTURES,
    KNOWN_DIFFERENCES,
};

/// One response of one scenario, on one store.
struct Step<'a> {
    scenario: &'a str,
    store: &'a str,
    index: usize,
    fixture: &'a Value,
    step: &'a Value,
}

impl Step<'_> {
    fn label(&self) -> String {
        format!("{} / {} step {}", self.scenario, self.store, self.index)
    }

    fn stored(&self) -> &str {
        str_field(self.step, "stored")
    }

    fn now_ms(&self) -> i64 {
        int_field(self.step, "now_ms")
    }

    fn session_id(&self) -> &str {
        str_field(&self.fixture[self.store], "session_id")
    }

    /// The `cookie.expires` express handed to the store's `touch`, when
    /// this response touched the session.
    fn touch_expires_ms(&self) -> Option<i64> {
        if self.step["touched"] != Value::Bool(true) {
            return None;
        }
        Some(match &self.step["touch_expires"] {
            Value::String(iso) => iso_to_ms(iso),
            // A browser-session cookie: touch uses the default TTL.
            _ => i64::MIN,
        })
    }
}

fn str_field<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("fixture field `{key}` is not a string: {value}"))
}

fn int_field(value: &Value, key: &str) -> i64 {
    match &value[key] {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or_else(|| panic!("fixture field `{key}` is out of range")),
        other => panic!("fixture field `{key}` is not a number: {other}"),
    }
}

fn fixtures() -> Vec<(&'static str, Value)> {
    FIXTURES
        .iter()
        .map(|(name, text)| {
            let fixture: Value = serde_json::from_str(text)
                .unwrap_or_else(|error| panic!("fixture {name} is not JSON: {error}"));
            assert_eq!(fixture["scenario"], *name, "fixture {name} names itself");
            (*name, fixture)
        })
        .collect()
}

fn each_step(fixtures: &[(&'static str, Value)], mut check: impl FnMut(&Step<'_>)) {
    for (name, fixture) in fixtures {
        for store in ["redis", "postgres"] {
            let steps = fixture[store]["steps"]
                .as_array()
                .unwrap_or_else(|| panic!("fixture {name} has no {store} steps"));
            assert!(!steps.is_empty(), "fixture {name} has no {store} steps");
            for (index, step) in steps.iter().enumerate() {
                check(&Step {
                    scenario: name,
                    store,
                    index,
                    fixture,
                    step,
                });
            }
        }
    }
}

/// What our bytes should be for Node's `stored` bytes in `scenario`.
enum Expected {
    /// This JSON exactly: Node's bytes, with the known differences applied.
    Json(String),
    /// `Record::from_json` refuses it, with this fragment in the reason.
    Unreadable(String),
}

fn expected_ours(scenario: &str, node: &str) -> Expected {
    match node_fixtures::expected_ours(scenario, node) {
        Ok(json) => Expected::Json(json),
        Err(fragment) => Expected::Unreadable(fragment),
    }
}

fn record_of(step: &Step<'_>) -> Option<Record> {
    match expected_ours(step.scenario, step.stored()) {
        Expected::Json(_) => Some(
            Record::from_json(step.stored().as_bytes())
                .unwrap_or_else(|error| panic!("{}: {error}", step.label())),
        ),
        Expected::Unreadable(_) => None,
    }
}

/// The record as the store's touch saw it: the stored one, with the
/// touched expiry when this response touched the session.
fn effective_record(step: &Step<'_>, record: &Record) -> Record {
    match step.touch_expires_ms() {
        None => record.clone(),
        Some(i64::MIN) => {
            assert_eq!(record.expires_ms(), None, "{}", step.label());
            record.clone()
        }
        Some(touched) => Record::new(
            record.cookie().clone().with_expires_ms(Some(touched)),
            record.data().clone(),
        ),
    }
}

#[test]
fn every_fixture_file_is_checked() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/express");
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .expect("fixtures directory")
        .map(|entry| entry.expect("directory entry").file_name())
        .filter_map(|name| name.to_str()?.strip_suffix(".json").map(str::to_owned))
        .filter(|name| name != "known-differences")
        .collect();
    let listed: BTreeSet<String> = FIXTURES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    assert_eq!(
        on_disk, listed,
        "FIXTURES must list every captured scenario"
    );

    let known: Value = serde_json::from_str(KNOWN_DIFFERENCES).expect("known-differences.json");
    for key in known.as_object().expect("an object").keys() {
        assert!(
            key.starts_with('_') || listed.contains(key),
            "known-differences.json names an unknown scenario {key}"
        );
    }
}

#[test]
fn fixtures_come_from_the_versions_under_test() {
    for (name, fixture) in fixtures() {
        let versions = &fixture["versions"];
        let major_minor = |package: &str| {
            let version = str_field(versions, package);
            version.split('.').take(2).collect::<Vec<_>>().join(".")
        };
        assert_eq!(major_minor("express-session"), "1.19", "{name}");
        assert_eq!(major_minor("cookie"), "0.7", "{name}");
        assert!(
            str_field(versions, "connect-redis").starts_with("9."),
            "{name}"
        );
        assert!(
            str_field(versions, "connect-pg-simple").starts_with("10."),
            "{name}"
        );
    }
}

#[test]
fn node_records_round_trip_byte_for_byte() {
    let fixtures = fixtures();
    let mut exact = 0;
    let mut failures = Vec::new();
    each_step(&fixtures, |step| {
        let node = step.stored();
        let parsed = Record::from_json(node.as_bytes());
        match (expected_ours(step.scenario, node), parsed) {
            (Expected::Json(expected), Ok(record)) => {
                let ours = record.to_json();
                if ours != expected {
                    failures.push(format!(
                        "{}:\n  node: {node}\n  want: {expected}\n  ours: {ours}",
                        step.label()
                    ));
                }
                // to_json_vec is the same bytes.
                assert_eq!(record.to_json_vec(), ours.as_bytes(), "{}", step.label());
                if expected == node {
                    exact += 1;
                }
            }
            (Expected::Json(_), Err(error)) => {
                failures.push(format!("{}: unreadable: {error}", step.label()))
            }
            (Expected::Unreadable(fragment), Err(StoreError::Corrupt(reason))) => {
                let reason = reason.to_string();
                assert!(
                    reason.contains(&fragment),
                    "{}: corrupt, but for another reason: {reason}",
                    step.label()
                );
            }
            (Expected::Unreadable(_), other) => {
                failures.push(format!("{}: expected Corrupt, got {other:?}", step.label()))
            }
        }
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Most scenarios must be exact; the known differences are the exception.
    assert!(exact >= 16, "only {exact} steps round-trip exactly");
}

#[test]
fn numbers_and_array_index_keys_are_written_as_node_wrote_them() {
    // Record::to_json writes numbers in JavaScript's notation and
    // array-index keys first, as JSON.stringify does: these fixtures need
    // no known difference (node_records_round_trip_byte_for_byte then
    // checks every byte).
    let known: Value = serde_json::from_str(KNOWN_DIFFERENCES).expect("known-differences.json");
    for scenario in ["nested_numbers", "integer_keys"] {
        assert!(known.get(scenario).is_none(), "{scenario}");
    }
    let stored = |scenario: &str| -> String {
        let (_, fixture) = FIXTURES
            .iter()
            .find(|(name, _)| *name == scenario)
            .expect("a fixture");
        let fixture: Value = serde_json::from_str(fixture).expect("fixture JSON");
        str_field(&fixture["redis"]["steps"][0], "stored").to_owned()
    };
    let numbers = stored("nested_numbers");
    for text in [
        "\"micro\":0.000001,",
        "\"e20\":100000000000000000000,",
        "\"e21\":1e+21,",
    ] {
        assert!(numbers.contains(text), "{text} in {numbers}");
    }
    assert_eq!(
        Record::from_json(numbers.as_bytes())
            .expect("record")
            .to_json(),
        numbers
    );
    let keys = stored("integer_keys");
    assert!(
        keys.starts_with(r#"{"2":"two","10":"ten","cookie":{"#),
        "{keys}"
    );
    assert_eq!(
        Record::from_json(keys.as_bytes())
            .expect("record")
            .to_json(),
        keys
    );
}

#[test]
fn cookie_and_data_read_as_express_wrote_them() {
    let fixtures = fixtures();
    each_step(&fixtures, |step| {
        let Some(record) = record_of(step) else {
            return;
        };
        // Node's text as serde_json can read it: with the known
        // differences applied (U+FFFD for a lone surrogate).
        let Expected::Json(readable) = expected_ours(step.scenario, step.stored()) else {
            unreachable!("record_of read it")
        };
        let stored: Value = serde_json::from_str(&readable).expect("stored JSON");
        assert_cookie_as_stored(&step.label(), &stored, record.cookie());
        assert_eq!(record.data(), &data_of(&stored), "{}: data", step.label());
    });
}

#[test]
fn ttl_secs_matches_connect_redis_ttl() {
    let fixtures = fixtures();
    let mut checked = 0;
    each_step(&fixtures, |step| {
        if step.store != "redis" {
            return;
        }
        let Some(record) = record_of(step) else {
            return;
        };
        let record = effective_record(step, &record);
        let ours =
            server_session::store::expiry::ttl_secs(&record, step.now_ms(), DEFAULT_TTL_SECS);
        let node = int_field(step.step, "ttl");
        assert!(
            (ours - node).abs() <= 1,
            "{}: ttl_secs {ours}, Redis TTL {node}",
            step.label()
        );
        checked += 1;
    });
    assert!(checked >= 12, "only {checked} TTLs checked");
}

#[test]
fn expire_epoch_secs_matches_connect_pg_simple_expire() {
    let fixtures = fixtures();
    let mut checked = 0;
    each_step(&fixtures, |step| {
        if step.store != "postgres" {
            return;
        }
        assert_eq!(
            str_field(&step.fixture["postgres"], "timezone"),
            "Etc/UTC",
            "{}: `expire` is a timestamp without time zone, read as UTC",
            step.label()
        );
        let Some(record) = record_of(step) else {
            return;
        };
        let record = effective_record(step, &record);
        let ours = server_session::store::expiry::expire_epoch_secs(
            &record,
            step.now_ms(),
            DEFAULT_TTL_SECS,
        );
        let node = int_field(step.step, "expire");
        assert!(
            (ours - node).abs() <= 1,
            "{}: expire_epoch_secs {ours}, connect-pg-simple expire {node}",
            step.label()
        );
        if record.expires_ms().is_some() {
            // With cookie.expires both are the same ceil(expires / 1000).
            assert_eq!(ours, node, "{}", step.label());
        }
        checked += 1;
    });
    assert!(checked >= 12, "only {checked} expires checked");
}

#[test]
fn touch_keeps_the_stored_value_and_slides_the_expiry() {
    let fixtures = fixtures();
    let mut touched = 0;
    each_step(&fixtures, |step| {
        let Some(touch_expires) = step.touch_expires_ms() else {
            return;
        };
        touched += 1;
        let steps = step.fixture[step.store]["steps"].as_array().expect("steps");
        let before = &steps[step.index - 1];
        // resave: false and nothing changed: the value is not rewritten.
        assert_eq!(
            step.stored(),
            str_field(before, "stored"),
            "{}",
            step.label()
        );
        assert_eq!(step.step["set_cookie"], Value::Array(Vec::new()));
        let record = record_of(step).expect("a readable record");
        if touch_expires == i64::MIN {
            return;
        }
        // Session#touch: expires = now + originalMaxAge, with `now` during
        // the request, as CookieData's touch computes it.
        let original = record
            .cookie()
            .original_max_age_ms()
            .expect("originalMaxAge");
        let from = int_field(step.step, "requested_at_ms") + original;
        let to = step.now_ms() + original;
        assert!(
            (from..=to).contains(&touch_expires),
            "{}: touched expiry {touch_expires} outside {from}..={to}",
            step.label()
        );
        // The stored expiry is stale: the store's TTL follows the touch.
        assert!(
            record.expires_ms() < Some(touch_expires),
            "{}",
            step.label()
        );
    });
    assert_eq!(touched, 4, "two touch scenarios, two stores");
}

#[test]
fn set_cookie_is_what_our_codec_writes_for_the_stored_cookie() {
    let fixtures = fixtures();
    let mut checked = 0;
    each_step(&fixtures, |step| {
        let Some(header) = step.step["set_cookie"]
            .as_array()
            .and_then(|all| all.first())
        else {
            return;
        };
        let header = header.as_str().expect("a header");
        let options = &step.fixture["express_options"];
        let secrets = Secrets::new([str_field(options, "secret")]).expect("a secret");
        let name = str_field(options, "name");
        let value = sign_session_id(step.session_id(), &secrets);
        // The cookie carries the session ID the store keys on.
        let sent = header
            .strip_prefix(&format!("{name}="))
            .and_then(|rest| rest.split(';').next())
            .expect("name=value");
        let decoded = server_session::__private::decode_uri_component(sent).expect("encoded value");
        assert_eq!(
            unsign_session_id(&decoded, &secrets),
            Some(step.session_id()),
            "{}",
            step.label()
        );
        // The stored cookie, serialised by our codec, is Node's header.
        let Some(record) = record_of(step) else {
            return;
        };
        let cookie = record.cookie();
        let mut ours = SetCookie::new(name, &value);
        ours.domain = cookie.domain();
        ours.path = Some(cookie.path());
        ours.expires_ms = cookie.expires_ms();
        ours.http_only = cookie.http_only();
        ours.secure = cookie.secure().unwrap_or(false);
        ours.partitioned = cookie.partitioned().unwrap_or(false);
        ours.priority = cookie.priority();
        ours.same_site = cookie.same_site();
        let ours = ours.to_header_value().expect("a valid cookie");
        assert_eq!(ours, header, "{}", step.label());
        checked += 1;
    });
    assert!(checked >= 20, "only {checked} Set-Cookie headers checked");
}
