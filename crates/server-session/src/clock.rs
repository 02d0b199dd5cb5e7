//! Milliseconds since the Unix epoch, the unit express (JavaScript `Date`) uses
//! everywhere, and the two text forms it writes them in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// JavaScript's `Date#toISOString`: `2026-11-27T14:05:08.424Z`.
pub(crate) fn to_iso(ms: i64) -> String {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::from("1970-01-01T00:00:00.000Z");
    };
    let mut out = String::with_capacity(24);
    let year = at.year();
    use std::fmt::Write;
    if (0..=9999).contains(&year) {
        let _ = write!(out, "{year:04}");
    } else {
        // JavaScript writes years outside 0..=9999 with a sign and six digits.
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

/// Reads the ISO-8601 dates express stores (and RFC 3339 in general).
pub(crate) fn parse_iso(text: &str) -> Option<i64> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
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
}
