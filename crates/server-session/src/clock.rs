//! Milliseconds since the Unix epoch, the unit express (JavaScript `Date`) uses
//! everywhere, and `toISOString`, the text form records keep them in. The
//! other form express writes, `toUTCString` for the cookie's `Expires`, is
//! the codec's (`codec/date.rs`).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The largest distance from the epoch a JavaScript `Date` can hold
/// (8.64e15 ms, ±100,000,000 days: 13 September 275760 and 20 April
/// -271821). Past it `new Date(ms)` is an Invalid Date, which
/// `JSON.stringify` writes as `null` and the `cookie` package refuses.
pub(crate) const JS_DATE_LIMIT_MS: i64 = 8_640_000_000_000_000;

/// `toISOString` of the first and last JavaScript dates.
const FIRST_JS_DATE_ISO: &str = "-271821-04-20T00:00:00.000Z";
const LAST_JS_DATE_ISO: &str = "+275760-09-13T00:00:00.000Z";

/// Now, in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    system_time_to_ms(SystemTime::now())
}

pub(crate) fn system_time_to_ms(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

pub(crate) fn ms_to_system_time(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

pub(crate) fn duration_to_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Whether `new Date(ms)` is a valid JavaScript date.
pub(crate) fn is_js_date(ms: i64) -> bool {
    (-JS_DATE_LIMIT_MS..=JS_DATE_LIMIT_MS).contains(&ms)
}

/// The JavaScript date nearest to `ms`: `ms` itself when it is one, else
/// the first or the last date JavaScript can hold.
pub(crate) fn clamp_to_js_range(ms: i64) -> i64 {
    ms.clamp(-JS_DATE_LIMIT_MS, JS_DATE_LIMIT_MS)
}

/// JavaScript's `Date#toISOString`: `2026-11-27T14:05:08.424Z`, and for
/// years outside 0..=9999 a sign and six digits: `+010000-01-01T00:00:00.000Z`,
/// `-000001-12-31T23:59:59.999Z`.
///
/// An instant outside JavaScript's range is written as the nearest date
/// JavaScript can hold: `toISOString` would throw on it, and any text we
/// wrote instead (the epoch, `null`) would read back as expired or as a
/// browser-session cookie. The stores' TTLs clamp the same way, since they
/// come from the same clamped `expires`.
pub(crate) fn to_iso(ms: i64) -> String {
    let ms = clamp_to_js_range(ms);
    // With `time`'s `large-dates` (years to ±999,999) every JavaScript date
    // converts; the fallback only guards a build without that feature.
    let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        debug_assert!(false, "time's large-dates feature is off");
        let limit = if ms < 0 {
            FIRST_JS_DATE_ISO
        } else {
            LAST_JS_DATE_ISO
        };
        return String::from(limit);
    };
    let mut out = String::with_capacity(27);
    let year = at.year();
    if (0..=9999).contains(&year) {
        let _ = write!(out, "{year:04}");
    } else {
        // ECMA-262's expanded years: a sign and six digits.
        let sign = if year < 0 { '-' } else { '+' };
        let _ = write!(out, "{sign}{:06}", year.unsigned_abs());
    }
    let _ = write!(
        out,
        "-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    );
    out
}

/// Reads the ISO-8601 dates express stores, as `Date.parse` does: RFC 3339
/// with a four-digit year, or ECMA-262's expanded year (a sign and exactly
/// six digits, never `-000000`). `None` where `Date.parse` gives `NaN`,
/// including every instant outside JavaScript's range. Fractions past the
/// millisecond are cut off, towards the past, as JavaScript does.
///
/// Stricter than `Date.parse` only on texts `toISOString` never writes
/// (date-only forms, the legacy `Nov 27 2026` form, 31 February).
pub(crate) fn parse_iso(text: &str) -> Option<i64> {
    let at = match text.as_bytes().first() {
        Some(b'+' | b'-') => parse_expanded_year(text)?,
        _ => OffsetDateTime::parse(text, &Rfc3339).ok()?,
    };
    let ms = i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000_000)).ok()?;
    is_js_date(ms).then_some(ms)
}

/// `±YYYYYY-MM-DDTHH:mm:ss.sssZ`, the form `toISOString` writes years
/// outside 0..=9999 in.
fn parse_expanded_year(text: &str) -> Option<OffsetDateTime> {
    let (sign, rest) = text.split_at_checked(1)?;
    let (digits, rest) = rest.split_at_checked(6)?;
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let year: i32 = digits.parse().ok()?;
    let year = match sign {
        // ECMA-262 forbids `-000000`: Date.parse gives NaN.
        "-" if year == 0 => return None,
        "-" => -year,
        _ => year,
    };
    // Everything after the year is RFC 3339's, which `time` reads once it
    // has a four-digit year. 2000 is a leap year, so 29 February gets
    // through, and `replace_year` then checks it against the real year.
    let rest = OffsetDateTime::parse(&format!("2000{rest}"), &Rfc3339).ok()?;
    rest.replace_year(year).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips_with_milliseconds() {
        let ms = parse_iso("2026-11-27T14:05:08.424Z").expect("valid date");
        assert_eq!(to_iso(ms), "2026-11-27T14:05:08.424Z");
        assert_eq!(to_iso(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn garbage_dates_are_none() {
        assert_eq!(parse_iso("yesterday"), None);
        assert_eq!(parse_iso(""), None);
    }

    /// `new Date(ms).toISOString()`, as Node 20 printed it (the
    /// `node_dates` integration test asks a live Node for the same).
    const NODE_ISO: &[(i64, &str)] = &[
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (253_402_300_800_000, "+010000-01-01T00:00:00.000Z"),
        (253_407_398_400_000, "+010000-02-29T00:00:00.000Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
        (-62_167_219_200_001, "-000001-12-31T23:59:59.999Z"),
        (-62_198_755_200_001, "-000002-12-31T23:59:59.999Z"),
        (JS_DATE_LIMIT_MS, "+275760-09-13T00:00:00.000Z"),
        (-JS_DATE_LIMIT_MS, "-271821-04-20T00:00:00.000Z"),
    ];

    #[test]
    fn to_iso_writes_every_javascript_year_as_node_does() {
        for &(ms, node) in NODE_ISO {
            assert_eq!(to_iso(ms), node, "{ms}");
        }
    }

    #[test]
    fn parse_iso_reads_every_javascript_year_as_node_does() {
        for &(ms, node) in NODE_ISO {
            assert_eq!(parse_iso(node), Some(ms), "{node}");
        }
        // Date.parse in Node 20 on other spellings of the same forms.
        let more = [
            ("+002026-11-27T14:05:08.424Z", Some(1_795_788_308_424)),
            ("+010000-01-01T00:00:00Z", Some(253_402_300_800_000)),
            ("2026-11-27T14:05:08.4245Z", Some(1_795_788_308_424)),
            ("1969-12-31T23:59:59.9995Z", Some(-1)),
            ("+275760-09-12T23:00:00.000-01:00", Some(JS_DATE_LIMIT_MS)),
            ("-271821-04-19T23:00:00.000-01:00", Some(-JS_DATE_LIMIT_MS)),
            // Node: NaN, an Invalid Date.
            ("+275760-09-13T00:00:00.001Z", None),
            ("-271821-04-19T23:59:59.999Z", None),
            ("-271821-04-20T00:00:00.000+01:00", None),
            ("-000000-01-01T00:00:00.000Z", None),
            ("10000-01-01T00:00:00.000Z", None),
            ("+10000-01-01T00:00:00.000Z", None),
            ("+0100000-01-01T00:00:00.000Z", None),
            ("+999999-01-01T00:00:00.000Z", None),
            ("+01000a-01-01T00:00:00.000Z", None),
            ("+010000", None),
            ("+", None),
            ("-", None),
        ];
        for (text, node) in more {
            assert_eq!(parse_iso(text), node, "{text}");
        }
    }

    #[test]
    fn to_iso_keeps_out_of_range_instants_at_the_nearest_javascript_date() {
        // Never the epoch (the session would read back as expired) and never
        // a text Node reads as an Invalid Date.
        assert_eq!(to_iso(i64::MAX), "+275760-09-13T00:00:00.000Z");
        assert_eq!(to_iso(JS_DATE_LIMIT_MS + 1), "+275760-09-13T00:00:00.000Z");
        assert_eq!(to_iso(i64::MIN), "-271821-04-20T00:00:00.000Z");
    }

    #[test]
    fn clamp_keeps_javascript_dates_and_saturates_the_rest() {
        assert_eq!(clamp_to_js_range(0), 0);
        assert_eq!(clamp_to_js_range(-JS_DATE_LIMIT_MS), -JS_DATE_LIMIT_MS);
        assert_eq!(clamp_to_js_range(i64::MAX), JS_DATE_LIMIT_MS);
        assert_eq!(clamp_to_js_range(i64::MIN), -JS_DATE_LIMIT_MS);
    }

    proptest::proptest! {
        #[test]
        fn every_javascript_date_round_trips(ms in -JS_DATE_LIMIT_MS..=JS_DATE_LIMIT_MS) {
            let text = to_iso(ms);
            proptest::prop_assert_eq!(parse_iso(&text), Some(ms), "{}", text);
            // Node's shape: 24 characters, or 27 with a six-digit signed year.
            let year_digits = if text.starts_with(['+', '-']) { 7 } else { 4 };
            proptest::prop_assert_eq!(text.len(), year_digits + 20, "{}", text);
        }

        #[test]
        fn parse_iso_never_panics(text in "[-+0-9TZ:.]{0,32}") {
            if let Some(ms) = parse_iso(&text) {
                proptest::prop_assert!((-JS_DATE_LIMIT_MS..=JS_DATE_LIMIT_MS).contains(&ms));
            }
        }
    }
}
