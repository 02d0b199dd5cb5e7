//! The `cookie` object express stores inside every session record.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::codec::attributes::{root_path, shared_path, Member, Priority, SameSite, Scalar};

/// The session cookie's settings as express stores them (`sess.cookie`).
///
/// Times are milliseconds: `expires` since the Unix epoch, `original_max_age`
/// as a span, exactly as JavaScript's `Date` counts them. `None` for
/// `expires` means a browser-session cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieData {
    pub(crate) original_max_age: Option<i64>,
    pub(crate) partitioned: Option<bool>,
    // `priority` and `sameSite` as express keeps them: absent, a falsy
    // value, or the attribute as it was spelled (`"HIGH"`, `true`, `"Lax"`).
    pub(crate) priority: Member<Priority>,
    pub(crate) expires: Option<i64>,
    pub(crate) secure: Option<bool>,
    pub(crate) http_only: bool,
    // Shared like `path`: cloned on every load, so no allocation each time.
    pub(crate) domain: Option<Arc<str>>,
    // Shared: almost every cookie's path is "/", and records are cloned on
    // every load, so the path must not cost an allocation each time.
    pub(crate) path: Arc<str>,
    pub(crate) same_site: Member<SameSite>,
}

impl Default for CookieData {
    /// express's `new Cookie()`: `Path=/`, `HttpOnly`, no expiry.
    fn default() -> Self {
        Self {
            original_max_age: None,
            partitioned: None,
            priority: Member::Absent,
            expires: None,
            secure: None,
            http_only: true,
            domain: None,
            path: root_path(),
            same_site: Member::Absent,
        }
    }
}

impl CookieData {
    /// When the cookie (and so the session) expires, in milliseconds since
    /// the Unix epoch; `None` for a browser-session cookie.
    pub fn expires_ms(&self) -> Option<i64> {
        self.expires
    }

    /// When the cookie expires; `None` for a browser-session cookie.
    pub fn expires(&self) -> Option<std::time::SystemTime> {
        self.expires.map(clock::ms_to_system_time)
    }

    /// The lifetime the session was given, in milliseconds (`originalMaxAge`).
    pub fn original_max_age_ms(&self) -> Option<i64> {
        self.original_max_age
    }

    /// The milliseconds left until `expires`, negative once past (`cookie.maxAge`).
    pub fn max_age_ms(&self, now_ms: i64) -> Option<i64> {
        self.expires.map(|expires| expires.saturating_sub(now_ms))
    }

    /// The `HttpOnly` flag.
    pub fn http_only(&self) -> bool {
        self.http_only
    }

    /// The `Secure` flag, when one was set.
    pub fn secure(&self) -> Option<bool> {
        self.secure
    }

    /// The `Domain` attribute.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The `Path` attribute.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `SameSite` attribute, however the record spells it (`true` and
    /// `"strict"` are both [`SameSite::Strict`]).
    pub fn same_site(&self) -> Option<SameSite> {
        self.same_site.value()
    }

    /// The `Priority` attribute, however the record spells it (`"HIGH"` and
    /// `"high"` are both [`Priority::High`]).
    pub fn priority(&self) -> Option<Priority> {
        self.priority.value()
    }

    /// The `Partitioned` flag, when one was set.
    pub fn partitioned(&self) -> Option<bool> {
        self.partitioned
    }

    /// Sets `expires` (milliseconds since the epoch; `None`: browser session).
    ///
    /// An instant outside JavaScript's date range (±8.64e15 ms, about
    /// ±273,000 years) becomes the first or last date JavaScript can hold,
    /// so that the stored record and the `Expires` attribute stay readable
    /// by Node.
    #[must_use]
    pub fn with_expires_ms(mut self, expires_ms: Option<i64>) -> Self {
        self.expires = expires_ms.map(clock::clamp_to_js_range);
        self
    }

    /// Sets `originalMaxAge` (milliseconds).
    #[must_use]
    pub fn with_original_max_age_ms(mut self, original_max_age_ms: Option<i64>) -> Self {
        self.original_max_age = original_max_age_ms;
        self
    }

    /// Sets the `Path`.
    #[must_use]
    pub fn with_path(mut self, path: impl AsRef<str>) -> Self {
        self.path = shared_path(path.as_ref());
        self
    }

    /// Sets the `Domain`.
    #[must_use]
    pub fn with_domain(mut self, domain: Option<String>) -> Self {
        self.domain = domain.map(Arc::from);
        self
    }

    /// Sets `HttpOnly`.
    #[must_use]
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// Sets `Secure`.
    #[must_use]
    pub fn with_secure(mut self, secure: Option<bool>) -> Self {
        self.secure = secure;
        self
    }

    /// Sets `SameSite`, stored in lower case (`"lax"`); `None` leaves it out.
    #[must_use]
    pub fn with_same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.same_site = Member::typed(same_site);
        self
    }

    /// Sets `Priority`, stored in lower case (`"high"`); `None` leaves it out.
    #[must_use]
    pub fn with_priority(mut self, priority: Option<Priority>) -> Self {
        self.priority = Member::typed(priority);
        self
    }

    /// Sets `Partitioned`.
    #[must_use]
    pub fn with_partitioned(mut self, partitioned: Option<bool>) -> Self {
        self.partitioned = partitioned;
        self
    }

    /// Whether every setting but the expiry is the same: a touch of a
    /// cookie with these settings would store the same thing.
    pub(crate) fn same_settings_as(&self, other: &Self) -> bool {
        Self {
            expires: other.expires,
            ..self.clone()
        } == *other
    }

    /// express's `cookie.maxAge = ms` setter: `expires = now + ms`, and
    /// `originalMaxAge` becomes `ms`. `None` makes a browser-session cookie.
    ///
    /// Where `now + ms` is past JavaScript's dates, express would store an
    /// Invalid Date (`"expires":null` in the record) and then fail every
    /// response that sends the cookie. Here the cookie expires on the last
    /// date JavaScript can hold instead, with the lifetime that reaches it,
    /// exactly as [`set_expires`](Self::set_expires) with that date would.
    pub(crate) fn set_max_age(&mut self, max_age_ms: Option<i64>, now_ms: i64) {
        match max_age_ms {
            Some(ms) if !clock::is_js_date(now_ms.saturating_add(ms)) => {
                self.set_expires(Some(now_ms.saturating_add(ms)), now_ms);
            }
            _ => {
                self.expires = max_age_ms.map(|ms| now_ms.saturating_add(ms));
                self.original_max_age = max_age_ms;
            }
        }
    }

    /// express's `cookie.expires = date` setter: the lifetime becomes the
    /// time left until that date. A date outside JavaScript's range becomes
    /// the nearest one JavaScript can hold (express would store an Invalid
    /// Date).
    pub(crate) fn set_expires(&mut self, expires_ms: Option<i64>, now_ms: i64) {
        self.expires = expires_ms.map(clock::clamp_to_js_range);
        self.original_max_age = self.expires.map(|at| at.saturating_sub(now_ms));
    }

    /// `Session#touch`: `expires = now + originalMaxAge`, kept within
    /// JavaScript's dates (an `originalMaxAge` from a record may be any
    /// number).
    pub(crate) fn touch(&mut self, now_ms: i64) {
        self.expires = self
            .original_max_age
            .map(|ms| clock::clamp_to_js_range(now_ms.saturating_add(ms)));
    }
}

impl Serialize for CookieData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // express's `Cookie#data` order; undefined fields are left out.
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("originalMaxAge", &self.original_max_age)?;
        if let Some(partitioned) = self.partitioned {
            map.serialize_entry("partitioned", &partitioned)?;
        }
        if self.priority.is_present() {
            map.serialize_entry("priority", &self.priority)?;
        }
        match self.expires {
            Some(ms) => map.serialize_entry("expires", &clock::to_iso(ms))?,
            None => map.serialize_entry("expires", &())?,
        }
        if let Some(secure) = self.secure {
            map.serialize_entry("secure", &secure)?;
        }
        map.serialize_entry("httpOnly", &self.http_only)?;
        if let Some(domain) = &self.domain {
            map.serialize_entry("domain", &**domain)?;
        }
        map.serialize_entry("path", &*self.path)?;
        if self.same_site.is_present() {
            map.serialize_entry("sameSite", &self.same_site)?;
        }
        map.end()
    }
}

/// A JSON value that is tolerated in a cookie field whatever its type: what
/// older express versions and hand-edited records leave behind.
///
/// Read with a hand-written visitor rather than `#[serde(untagged)]`, which
/// buffers every value first: this runs for every field of every record
/// loaded from Redis or SQL.
enum Loose {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Null,
    /// An array or an object.
    Other,
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LooseVisitor;
        impl<'de> Visitor<'de> for LooseVisitor {
            type Value = Loose;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Loose, E> {
                Ok(Loose::Bool(value))
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Loose, E> {
                Ok(Loose::Int(value))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Loose, E> {
                Ok(i64::try_from(value).map_or(Loose::Float(value as f64), Loose::Int))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Loose, E> {
                Ok(Loose::Float(value))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Loose, E> {
                Ok(Loose::Text(value.to_owned()))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<Loose, E> {
                Ok(Loose::Text(value))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
                Ok(Loose::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Loose, E> {
                Ok(Loose::Null)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
        }
        deserializer.deserialize_any(LooseVisitor)
    }
}

impl Loose {
    fn truthy(&self) -> Option<bool> {
        match self {
            Self::Bool(flag) => Some(*flag),
            Self::Int(n) => Some(*n != 0),
            Self::Float(n) => Some(*n != 0.0),
            Self::Text(text) => Some(!text.is_empty()),
            Self::Null | Self::Other => None,
        }
    }

    fn scalar(&self) -> Scalar<'_> {
        match self {
            Self::Bool(flag) => Scalar::Bool(*flag),
            Self::Int(n) => Scalar::Number(*n as f64),
            Self::Float(n) => Scalar::Number(*n),
            Self::Text(text) => Scalar::Text(text),
            Self::Null => Scalar::Null,
            Self::Other => Scalar::Other,
        }
    }

    fn millis(&self) -> Option<i64> {
        match self {
            Self::Int(n) => Some(*n),
            Self::Float(n) if n.is_finite() => Some(n.round() as i64),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for CookieData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(CookieVisitor)
    }
}

struct CookieVisitor;

impl<'de> Visitor<'de> for CookieVisitor {
    type Value = CookieData;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a cookie object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CookieData, A::Error> {
        let mut cookie = CookieData::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "originalMaxAge" => {
                    cookie.original_max_age = map.next_value::<Loose>()?.millis();
                }
                "expires" => {
                    cookie.expires = match map.next_value::<Loose>()? {
                        Loose::Text(text) => Some(clock::parse_iso(&text).ok_or_else(|| {
                            de::Error::custom(format_args!("cookie.expires `{text}` is not a date"))
                        })?),
                        // Not what express writes, but tolerated; kept to a
                        // date JavaScript (and our writers) can hold.
                        Loose::Int(ms) => Some(clock::clamp_to_js_range(ms)),
                        // null and false both mean a browser-session cookie.
                        _ => None,
                    };
                }
                "secure" => cookie.secure = map.next_value::<Loose>()?.truthy(),
                "httpOnly" => {
                    cookie.http_only = map.next_value::<Loose>()?.truthy().unwrap_or(false)
                }
                "domain" => {
                    cookie.domain = match map.next_value::<Loose>()? {
                        Loose::Text(domain) if !domain.is_empty() => Some(Arc::from(domain)),
                        _ => None,
                    }
                }
                "path" => {
                    if let Loose::Text(path) = map.next_value::<Loose>()? {
                        cookie.path = shared_path(&path);
                    }
                }
                // Kept as written (`true`, `"Lax"`, `null`, …), as express
                // keeps them. A value the `cookie` package would refuse to
                // send (`"auto"`, `"sometimes"`, `priority: true`) is
                // dropped: express would fail every response that sets the
                // cookie.
                "sameSite" => {
                    cookie.same_site =
                        Member::from_json(map.next_value::<Loose>()?.scalar()).unwrap_or_default();
                }
                "priority" => {
                    cookie.priority =
                        Member::from_json(map.next_value::<Loose>()?.scalar()).unwrap_or_default();
                }
                "partitioned" => cookie.partitioned = map.next_value::<Loose>()?.truthy(),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(cookie)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JS_LIMIT: i64 = 8_640_000_000_000_000;
    const NOW: i64 = 1_795_788_308_424;

    #[test]
    fn set_max_age_never_leaves_javascript_dates() {
        let mut cookie = CookieData::default();
        cookie.set_max_age(Some(i64::MAX), NOW);
        assert_eq!(cookie.expires, Some(JS_LIMIT));
        // The lifetime that reaches that date, as `cookie.expires = date`
        // would give it.
        assert_eq!(cookie.original_max_age, Some(JS_LIMIT - NOW));
        cookie.set_max_age(Some(i64::MIN), NOW);
        assert_eq!(cookie.expires, Some(-JS_LIMIT));
        assert_eq!(cookie.original_max_age, Some(-JS_LIMIT - NOW));
        // In range: express's arithmetic, unchanged.
        cookie.set_max_age(Some(60_000), NOW);
        assert_eq!(cookie.expires, Some(NOW + 60_000));
        assert_eq!(cookie.original_max_age, Some(60_000));
        cookie.set_max_age(Some(JS_LIMIT - NOW), NOW);
        assert_eq!(cookie.expires, Some(JS_LIMIT));
        assert_eq!(cookie.original_max_age, Some(JS_LIMIT - NOW));
    }

    #[test]
    fn set_expires_and_touch_never_leave_javascript_dates() {
        let mut cookie = CookieData::default();
        cookie.set_expires(Some(i64::MAX), NOW);
        assert_eq!(cookie.expires, Some(JS_LIMIT));
        assert_eq!(cookie.original_max_age, Some(JS_LIMIT - NOW));
        cookie.set_expires(Some(i64::MIN), NOW);
        assert_eq!(cookie.expires, Some(-JS_LIMIT));
        // A lifetime stored by someone else, too long for any date.
        cookie.original_max_age = Some(i64::MAX);
        cookie.touch(NOW);
        assert_eq!(cookie.expires, Some(JS_LIMIT));
        cookie.original_max_age = Some(60_000);
        cookie.touch(NOW);
        assert_eq!(cookie.expires, Some(NOW + 60_000));
    }

    #[test]
    fn numeric_expires_past_javascript_dates_reads_as_the_nearest_one() {
        for (stored, expires) in [
            (i64::MAX, JS_LIMIT),
            (JS_LIMIT + 1, JS_LIMIT),
            (i64::MIN, -JS_LIMIT),
            (NOW, NOW),
        ] {
            let json = format!(r#"{{"expires":{stored}}}"#);
            let cookie: CookieData = serde_json::from_str(&json).expect("a cookie");
            assert_eq!(cookie.expires, Some(expires), "{json}");
        }
    }

    /// A cookie Node could have stored, with `sameSite` and `priority` as
    /// given (`None`: left out).
    fn stored(same_site: Option<&str>, priority: Option<&str>) -> String {
        let mut json = String::from(r#"{"originalMaxAge":60000,"#);
        if let Some(priority) = priority {
            json.push_str(&format!(r#""priority":{priority},"#));
        }
        json.push_str(r#""expires":"2026-11-27T14:05:08.424Z","httpOnly":true,"path":"/""#);
        if let Some(same_site) = same_site {
            json.push_str(&format!(r#","sameSite":{same_site}"#));
        }
        json.push('}');
        json
    }

    #[test]
    fn every_same_site_and_priority_spelling_round_trips_byte_for_byte() {
        let same_sites = [
            (None, None),
            (Some("true"), Some(SameSite::Strict)),
            (Some(r#""strict""#), Some(SameSite::Strict)),
            (Some(r#""Strict""#), Some(SameSite::Strict)),
            (Some(r#""STRICT""#), Some(SameSite::Strict)),
            (Some(r#""lax""#), Some(SameSite::Lax)),
            (Some(r#""Lax""#), Some(SameSite::Lax)),
            (Some(r#""LAX""#), Some(SameSite::Lax)),
            (Some(r#""none""#), Some(SameSite::None)),
            (Some(r#""None""#), Some(SameSite::None)),
            (Some(r#""NONE""#), Some(SameSite::None)),
            (Some("false"), None),
            (Some("null"), None),
            (Some("0"), None),
            (Some(r#""""#), None),
        ];
        let priorities = [
            (None, None),
            (Some(r#""low""#), Some(Priority::Low)),
            (Some(r#""LOW""#), Some(Priority::Low)),
            (Some(r#""Medium""#), Some(Priority::Medium)),
            (Some(r#""medium""#), Some(Priority::Medium)),
            (Some(r#""HIGH""#), Some(Priority::High)),
            (Some(r#""High""#), Some(Priority::High)),
            (Some("null"), None),
            (Some("false"), None),
            (Some("0"), None),
            (Some(r#""""#), None),
        ];
        for (same_site_json, same_site) in same_sites {
            for (priority_json, priority) in priorities {
                let json = stored(same_site_json, priority_json);
                let cookie: CookieData = serde_json::from_str(&json).expect("a cookie");
                assert_eq!(cookie.same_site(), same_site, "{json}");
                assert_eq!(cookie.priority(), priority, "{json}");
                assert_eq!(serde_json::to_string(&cookie).expect("json"), json);
            }
        }
    }

    #[test]
    fn values_the_cookie_package_refuses_are_dropped() {
        // express would fail every response that sends the cookie.
        for (same_site, priority) in [
            (r#""auto""#, "true"),
            (r#""Lax ""#, r#""urgent""#),
            ("1", "1"),
            ("[]", "{}"),
        ] {
            let json = stored(Some(same_site), Some(priority));
            let cookie: CookieData = serde_json::from_str(&json).expect("a cookie");
            assert_eq!((cookie.same_site(), cookie.priority()), (None, None));
            assert_eq!(
                serde_json::to_string(&cookie).expect("json"),
                stored(None, None)
            );
        }
    }

    #[test]
    fn the_typed_setters_store_lower_case() {
        let json = stored(Some("true"), Some(r#""HIGH""#));
        let cookie: CookieData = serde_json::from_str(&json).expect("a cookie");
        let cookie = cookie
            .with_same_site(Some(SameSite::Strict))
            .with_priority(Some(Priority::High));
        assert_eq!(
            serde_json::to_string(&cookie).expect("json"),
            stored(Some(r#""strict""#), Some(r#""high""#))
        );
        let cookie = cookie.with_same_site(None).with_priority(None);
        assert_eq!(
            serde_json::to_string(&cookie).expect("json"),
            stored(None, None)
        );
    }

    #[test]
    fn with_expires_ms_keeps_to_javascript_dates() {
        let cookie = CookieData::default().with_expires_ms(Some(i64::MAX));
        assert_eq!(cookie.expires_ms(), Some(JS_LIMIT));
        let written = serde_json::to_string(&cookie).expect("json");
        assert!(
            written.contains(r#""expires":"+275760-09-13T00:00:00.000Z""#),
            "{written}"
        );
    }
}
