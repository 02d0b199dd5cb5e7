//! The stored session: express's `JSON.stringify(req.session)`.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{CookieData, StoreError};

/// Property names express never copies from a stored session onto
/// `req.session`: its own methods and everything on `Object.prototype`.
/// They are dropped on load, and refused by `Session::insert`.
const RESERVED_KEYS: &[&str] = &[
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
/// in insertion order. The data map is shared copy-on-write, so cloning a
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

    /// connect-redis's TTL in seconds: `ceil((expires - now) / 1000)`, or
    /// `default_secs` for a browser-session cookie. Zero or less means the
    /// record has already expired and should be deleted, not written.
    pub fn ttl_secs(&self, now_ms: i64, default_secs: i64) -> i64 {
        match self.cookie.expires {
            Some(expires) => ceil_div_1000(expires.saturating_sub(now_ms)),
            None => default_secs,
        }
    }

    /// connect-pg-simple's `expire` in seconds since the epoch:
    /// `ceil(expires / 1000)`, or `ceil(now / 1000) + default_secs`.
    pub fn expire_epoch_secs(&self, now_ms: i64, default_secs: i64) -> i64 {
        match self.cookie.expires {
            Some(expires) => ceil_div_1000(expires),
            None => ceil_div_1000(now_ms).saturating_add(default_secs),
        }
    }

    /// The record as express's JSON.
    pub fn to_json(&self) -> String {
        // Serializing string keys and JSON values into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The record as express's JSON, as bytes.
    pub fn to_json_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a stored record. A record that is not a JSON object, or has no
    /// `cookie` object, is [`StoreError::Corrupt`].
    pub fn from_json(stored: &[u8]) -> Result<Self, StoreError> {
        serde_json::from_slice(stored).map_err(|error| StoreError::Corrupt {
            reason: error.to_string(),
            source: Some(Box::new(error)),
        })
    }
}

fn ceil_div_1000(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.data.len() + 1))?;
        map.serialize_entry("cookie", &self.cookie)?;
        for (key, value) in self.data.iter() {
            map.serialize_entry(key, value)?;
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
            assert!(
                matches!(Record::from_json(bad), Err(StoreError::Corrupt { .. })),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn reserved_keys_are_dropped_on_load() {
        let record =
            Record::from_json(br#"{"cookie":{"path":"/"},"save":"nope","id":"x","ok":true}"#)
                .expect("record");
        assert_eq!(record.data().keys().collect::<Vec<_>>(), ["ok"]);
    }

    #[test]
    fn ttl_follows_connect_redis() {
        let mut record = Record::default();
        assert_eq!(record.ttl_secs(0, 86_400), 86_400);
        record.cookie.expires = Some(10_001);
        assert_eq!(record.ttl_secs(0, 86_400), 11);
        assert_eq!(record.ttl_secs(10_001, 86_400), 0);
        assert_eq!(record.expire_epoch_secs(0, 86_400), 11);
    }
}
