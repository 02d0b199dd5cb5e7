//! The stored session: express's `JSON.stringify(req.session)`.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::js_json::{has_array_index, is_array_index, js_order, JsFormatter, JsValue};
use super::{CookieData, StoreError};

/// Property names express never copies from a stored session onto
/// `req.session`: its own methods and everything on `Object.prototype`.
/// They are dropped on load, and refused by `Session::insert` and
/// `Session::update` ([`SessionError::ReservedKey`](crate::SessionError::ReservedKey)),
/// as is the layer's own `__sessionCreatedAt`.
pub const RESERVED_KEYS: &[&str] = &[
    "cookie",
    "req",
    "id",
    "touch",
    "resetMaxAge",
    "save",
    "reload",
    "destroy",
    "regenerate",
    "constructor",
    "__proto__",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

pub(crate) fn is_reserved(key: &str) -> bool {
    RESERVED_KEYS.contains(&key)
}

/// A session as stores keep it: the cookie settings plus the data keys.
///
/// Its JSON form is byte-compatible with express-session, connect-redis and
/// connect-pg-simple: `{"cookie":{…},"key":value,…}`, cookie first, data keys
/// in insertion order; as in JavaScript, array-index keys (`"2"`) come before
/// all others, and numbers take JavaScript's notation. The data map is shared copy-on-write, so cloning a
/// record is cheap.
#[derive(Clone, Default, PartialEq)]
pub struct Record {
    pub(crate) cookie: CookieData,
    pub(crate) data: Arc<Map<String, Value>>,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Data may hold personal information, so only its shape is printed.
        f.debug_struct("Record")
            .field("cookie", &self.cookie)
            .field("keys", &self.data.len())
            .finish()
    }
}

impl Record {
    /// A record from cookie settings and data. Reserved keys (`cookie`,
    /// `id`, `save`, …) are dropped, as express drops them on load.
    pub fn new(cookie: CookieData, mut data: Map<String, Value>) -> Self {
        data.retain(|key, _| !is_reserved(key));
        Self {
            cookie,
            data: Arc::new(data),
        }
    }

    /// The stored cookie settings.
    pub fn cookie(&self) -> &CookieData {
        &self.cookie
    }

    /// The session data, without `cookie`.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }

    /// When the record expires, in milliseconds since the Unix epoch.
    pub fn expires_ms(&self) -> Option<i64> {
        self.cookie.expires
    }

    /// Whether the record's `cookie.expires` is at or before `now_ms`.
    pub fn is_expired_at(&self, now_ms: i64) -> bool {
        self.cookie.expires.is_some_and(|expires| expires <= now_ms)
    }

    /// The record as express's JSON: `JSON.stringify(req.session)`, byte
    /// for byte (numbers in JavaScript's notation, array-index keys first).
    pub fn to_json(&self) -> String {
        // serde_json writes UTF-8 only.
        String::from_utf8(self.to_json_vec()).unwrap_or_default()
    }

    /// The record as express's JSON, as bytes.
    pub fn to_json_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, JsFormatter);
        // Writing string keys and JSON values into a Vec cannot fail.
        if self.serialize(&mut serializer).is_err() {
            out.clear();
        }
        out
    }

    /// Reads a stored record. A record that is not a JSON object, or has no
    /// `cookie` object, is [`StoreError::Corrupt`].
    ///
    /// Strings holding a lone UTF-16 surrogate read with U+FFFD (`�`) in its
    /// place. JavaScript strings may hold one (`'😀'.slice(0, 1)`), and
    /// `JSON.stringify` writes it as the escape `"\ud83d"`, which no Rust
    /// string can hold and serde_json refuses. Refusing the record would
    /// make the session unreadable on every request, for a character the
    /// user could not see anyway; so it is replaced, as `TextDecoder` and
    /// `String::from_utf8_lossy` replace what they cannot decode, and the
    /// next save stores the replacement. Only a record serde_json has
    /// refused pays for the extra pass.
    pub fn from_json(stored: &[u8]) -> Result<Self, StoreError> {
        let error = match serde_json::from_slice(stored) {
            Ok(record) => return Ok(record),
            Err(error) => error,
        };
        let repaired = if error.is_syntax() {
            replace_lone_surrogates(stored)
        } else {
            None
        };
        let Some(repaired) = repaired else {
            return Err(StoreError::corrupt(error));
        };
        tracing::debug!("session record with a lone UTF-16 surrogate read with U+FFFD");
        // The escapes keep their length, so the positions an error reports
        // are still those of the stored text.
        serde_json::from_slice(&repaired).map_err(StoreError::corrupt)
    }
}

/// `json` with every `\u` escape of an unpaired UTF-16 surrogate replaced
/// by `\ufffd`, or `None` when it has none. Escapes are found the way a
/// JSON parser finds them, so an escaped backslash followed by `ud83d` is
/// left alone.
fn replace_lone_surrogates(json: &[u8]) -> Option<Vec<u8>> {
    const REPLACEMENT: &[u8; 6] = br"\ufffd";
    let high = 0xd800..=0xdbff_u16;
    let low = 0xdc00..=0xdfff_u16;
    let mut repaired: Option<Vec<u8>> = None;
    let mut at = 0;
    while at < json.len() {
        if json[at] != b'\\' {
            at += 1;
            continue;
        }
        let Some(unit) = unicode_escape(json, at) else {
            // `\\`, `\"`, `\n`, …: the escaped byte is never a backslash
            // that starts an escape.
            at += 2;
            continue;
        };
        let paired = high.contains(&unit)
            && unicode_escape(json, at + 6).is_some_and(|next| low.contains(&next));
        if paired {
            at += 12;
            continue;
        }
        if high.contains(&unit) || low.contains(&unit) {
            let text = repaired.get_or_insert_with(|| json.to_vec());
            text[at..at + REPLACEMENT.len()].copy_from_slice(REPLACEMENT);
        }
        at += 6;
    }
    repaired
}

/// The code unit of the `\uXXXX` escape at `at`, if there is one.
fn unicode_escape(json: &[u8], at: usize) -> Option<u16> {
    let escape = json.get(at..at + 6)?;
    let digits = escape.strip_prefix(b"\\u")?;
    // Checked first: `from_str_radix` would also take a leading `+`.
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

impl Serialize for Record {
    /// `cookie`, then the data keys in insertion order; but as in
    /// JavaScript, array-index keys (`"2"`, `"10"`) come first, ascending,
    /// at every depth (see `js_json`).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.data.len() + 1))?;
        let any_index = self
            .data
            .iter()
            .any(|(key, value)| is_array_index(key) || has_array_index(value));
        if !any_index {
            map.serialize_entry("cookie", &self.cookie)?;
            for (key, value) in self.data.iter() {
                map.serialize_entry(key, value)?;
            }
            return map.end();
        }
        let entries = js_order(&self.data);
        let indexes = entries
            .iter()
            .take_while(|(key, _)| is_array_index(key))
            .count();
        let (indexed, named) = entries.split_at(indexes);
        for (key, value) in indexed {
            map.serialize_entry(key, &JsValue(value))?;
        }
        map.serialize_entry("cookie", &self.cookie)?;
        for (key, value) in named {
            map.serialize_entry(key, &JsValue(value))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a session object with a `cookie` field")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let mut cookie = None;
        let mut data = Map::new();
        // Borrowed where the JSON has no escapes: only data keys are kept.
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "cookie" {
                cookie = Some(map.next_value::<CookieField>()?.0.ok_or_else(|| {
                    de::Error::custom("the record's `cookie` field is not an object")
                })?);
            } else if is_reserved(&key) {
                map.next_value::<IgnoredAny>()?;
            } else {
                let value = map.next_value::<Value>()?;
                data.insert(key.into_owned(), value);
            }
        }
        let cookie = cookie.ok_or_else(|| de::Error::custom("the record has no `cookie` field"))?;
        Ok(Record {
            cookie,
            data: Arc::new(data),
        })
    }
}

/// `cookie`'s value: an object, or `None` for anything else.
struct CookieField(Option<CookieData>);

impl<'de> Deserialize<'de> for CookieField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = CookieField;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a cookie object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CookieField, A::Error> {
                CookieData::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|cookie| CookieField(Some(cookie)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<CookieField, E> {
                Ok(CookieField(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<CookieField, E> {
                Ok(CookieField(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<CookieField, E> {
                Ok(CookieField(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<CookieField, E> {
                Ok(CookieField(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<CookieField, E> {
                Ok(CookieField(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<CookieField, E> {
                Ok(CookieField(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<CookieField, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(CookieField(None))
            }
        }
        deserializer.deserialize_any(FieldVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPRESS: &str = r#"{"cookie":{"originalMaxAge":60000,"expires":"2026-11-27T14:05:08.424Z","httpOnly":true,"path":"/"},"user":{"name":"bob"},"n":1}"#;

    #[test]
    fn express_json_round_trips_byte_for_byte() {
        let record = Record::from_json(EXPRESS.as_bytes()).expect("express record");
        assert_eq!(record.to_json(), EXPRESS);
    }

    #[test]
    fn browser_session_record_matches_express() {
        let record = Record::default();
        assert_eq!(
            record.to_json(),
            r#"{"cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"}}"#
        );
    }

    #[test]
    fn every_cookie_field_is_written_in_express_order() {
        let record = Record::from_json(br#"{"cookie":{"sameSite":"lax","path":"/a","domain":"example.com","httpOnly":false,"secure":true,"expires":"2030-01-01T00:00:00.000Z","priority":"high","partitioned":true,"originalMaxAge":5}}"#).expect("record");
        assert_eq!(
            record.to_json(),
            r#"{"cookie":{"originalMaxAge":5,"partitioned":true,"priority":"high","expires":"2030-01-01T00:00:00.000Z","secure":true,"httpOnly":false,"domain":"example.com","path":"/a","sameSite":"lax"}}"#
        );
    }

    #[test]
    fn array_index_keys_and_numbers_are_written_as_javascript_writes_them() {
        let Value::Object(data) = serde_json::json!({
            "user": "erin", "10": "ten", "2": "two", "nested": {"b": 1, "1": "one"},
            "micro": 0.000001, "big": 1e21, "float": 5.0,
        }) else {
            unreachable!("an object literal");
        };
        let record = Record::new(CookieData::default(), data);
        // JSON.stringify of the same session in Node 20, but for `5.0`,
        // which Node writes `5`: kept as a double, so it reads back as one.
        let written = record.to_json();
        assert_eq!(
            written,
            r#"{"2":"two","10":"ten","cookie":{"originalMaxAge":null,"expires":null,"httpOnly":true,"path":"/"},"user":"erin","nested":{"1":"one","b":1},"micro":0.000001,"big":1e+21,"float":5.0}"#
        );
        assert_eq!(record.to_json_vec(), written.as_bytes());
        let again = Record::from_json(written.as_bytes()).expect("record");
        assert_eq!(again, record);
        assert_eq!(again.to_json(), written);
    }

    #[test]
    fn old_express_nulls_are_tolerated() {
        let record = Record::from_json(br#"{"cookie":{"originalMaxAge":null,"expires":null,"secure":null,"httpOnly":true,"domain":null,"path":"/","sameSite":null},"a":1}"#).expect("record");
        assert_eq!(record.cookie().secure(), None);
        assert_eq!(record.cookie().domain(), None);
        assert_eq!(record.data()["a"], 1);
    }

    #[test]
    fn a_record_without_cookie_is_corrupt_not_a_panic() {
        for bad in [
            &br#"{"foo":"bar"}"#[..],
            br#"{"cookie":null}"#,
            br#"{"cookie":"x"}"#,
            br#"[1,2]"#,
            b"not json",
            br#"{"cookie":{"expires":"someday"}}"#,
            b"",
        ] {
            assert_corrupt(bad);
        }
    }

    /// `bad` reads as a corrupt record, not as a record nor another error.
    fn assert_corrupt(bad: &[u8]) {
        assert!(
            matches!(Record::from_json(bad), Err(StoreError::Corrupt { .. })),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }

    #[test]
    fn lone_surrogates_read_as_the_replacement_character() {
        // What JSON.stringify writes for `'😀'.slice(0, 1)` and its kin.
        let cases = [
            (r#""\ud83d""#, "\u{fffd}"),
            (r#""\udc00""#, "\u{fffd}"),
            (r#""a\ud83db""#, "a\u{fffd}b"),
            (r#""\ud83d\u0041""#, "\u{fffd}A"),
            (r#""\ud83d\n""#, "\u{fffd}\n"),
            (r#""\ud83d\ud83d\ude00""#, "\u{fffd}😀"),
            (r#""\ude00\ud83d""#, "\u{fffd}\u{fffd}"),
            (r#""\uD83D""#, "\u{fffd}"),
            // A surrogate pair stays one character, an escaped backslash
            // stays a backslash.
            (r#""\ud83d\ude00\ud83d""#, "😀\u{fffd}"),
            (r#""\\ud83d\ud83d""#, "\\ud83d\u{fffd}"),
        ];
        for (json, text) in cases {
            let stored = format!(r#"{{"cookie":{{"path":"/"}},"s":{json},"n":[{json}],{json}:1}}"#);
            let record = Record::from_json(stored.as_bytes())
                .unwrap_or_else(|error| panic!("{json}: {error}"));
            assert_eq!(record.data()["s"], text, "{json}");
            assert_eq!(record.data()["n"][0], text, "{json}");
            assert_eq!(record.data()[text], 1, "{json}");
            // The next write stores the replacement, which serde_json and
            // Node both read.
            let written = record.to_json();
            assert_eq!(
                Record::from_json(written.as_bytes()).ok(),
                Some(record),
                "{json}"
            );
        }
    }

    #[test]
    fn a_lone_surrogate_does_not_hide_another_fault() {
        for bad in [
            &br#"{"cookie":{"path":"/"},"s":"\ud83d",}"#[..],
            br#"{"s":"\ud83d"}"#,
            br#"{"cookie":{"expires":"\ud83d"}}"#,
            br#"{"cookie":{"path":"/"},"s":"\ud83"}"#,
            br#"{"cookie":{"path":"/"},"s":"\ud83d"#,
            br#"{"cookie":{"path":"/"},"s":"\ud83d""#,
        ] {
            assert_corrupt(bad);
        }
    }

    #[test]
    fn expires_past_year_9999_round_trips() {
        // `new Date(Date.UTC(10000, 0, 1)).toISOString()` and the largest
        // JavaScript date, in records Node wrote.
        for (iso, ms) in [
            ("+010000-01-01T00:00:00.000Z", 253_402_300_800_000),
            ("+275760-09-13T00:00:00.000Z", 8_640_000_000_000_000),
            ("-000001-12-31T23:59:59.999Z", -62_167_219_200_001),
        ] {
            let stored = format!(
                r#"{{"cookie":{{"originalMaxAge":null,"expires":"{iso}","httpOnly":true,"path":"/"}}}}"#
            );
            let record = Record::from_json(stored.as_bytes()).expect(iso);
            assert_eq!(record.expires_ms(), Some(ms), "{iso}");
            assert_eq!(record.to_json(), stored);
        }
    }

    /// Pieces of a JSON string: `\u` escapes of lone and paired surrogates
    /// and of any other code unit, escaped backslashes and plain text.
    fn string_pieces() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
        use proptest::prelude::*;
        proptest::collection::vec(
            prop_oneof![
                (0xd800_u32..0xe000).prop_map(|unit| format!("\\u{unit:04x}")),
                any::<u16>().prop_map(|unit| format!("\\u{unit:04X}")),
                Just(String::from("\\\\")),
                Just(String::from("\\\\u")),
                Just(String::from("x")),
            ],
            0..8,
        )
    }

    proptest::proptest! {
        #[test]
        fn reading_any_text_never_panics(text in r#"[{}\[\]":,a-z0-9\\]{0,64}"#) {
            let _ = Record::from_json(text.as_bytes());
        }

        #[test]
        fn strings_with_any_well_formed_escapes_read(pieces in string_pieces()) {
            let text = pieces.concat();
            let stored = format!(r#"{{"cookie":{{}},"s":"{text}","{text}":1}}"#);
            // Every escape here is well formed, so the record reads whatever
            // surrogates it holds.
            let record = Record::from_json(stored.as_bytes());
            proptest::prop_assert!(record.is_ok(), "{}: {:?}", stored, record);
        }
    }

    #[test]
    fn reserved_keys_are_dropped_on_load() {
        let record =
            Record::from_json(br#"{"cookie":{"path":"/"},"save":"nope","id":"x","ok":true}"#)
                .expect("record");
        assert_eq!(record.data().keys().collect::<Vec<_>>(), ["ok"]);
    }
}
