//! JavaScript's `Date#toUTCString`, which writes the `Expires` attribute.

use std::fmt::Write as _;

use super::set_cookie::CookieError;
use crate::clock;

/// Appends `new Date(ms).toUTCString()`: `Thu, 01 Jan 1970 00:00:00 GMT`,
/// truncated to whole seconds.
///
/// Written here rather than with `httpdate`, which cannot write dates before
/// 1970 or after 9999 (and panics on the latter): JavaScript writes every
/// date in its range, with a `-` before negative years and more digits after 9999.
pub(super) fn write_utc_string(out: &mut String, ms: i64) -> Result<(), CookieError> {
    const MS_PER_DAY: i64 = 86_400_000;
    const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // The `cookie` package throws `option expires is invalid` on an Invalid
    // Date; browsers cap years past 9999 themselves, so those are written
    // as JavaScript writes them.
    if !clock::is_js_date(ms) {
        return Err(CookieError::InvalidExpires);
    }
    // Euclidean division so a time before 1970 belongs to the earlier day
    // (-1 ms is 23:59:59 on 31 Dec 1969), as in JavaScript.
    let days = ms.div_euclid(MS_PER_DAY);
    let seconds_of_day = ms.rem_euclid(MS_PER_DAY) / 1000;
    let (year, month, day) = civil_from_days(days);
    // 1 Jan 1970 was a Thursday.
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    let month = MONTHS[(month - 1) as usize];
    let sign = if year < 0 { "-" } else { "" };
    let _ = write!(
        out,
        "{weekday}, {day:02} {month} {sign}{year:04} {:02}:{:02}:{:02} GMT",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
        year = year.unsigned_abs(),
    );
    Ok(())
}

/// The proleptic Gregorian (year, month 1-12, day 1-31) of a day counted from
/// 1970-01-01, by Howard Hinnant's `civil_from_days`; exact for every `i64`
/// day in JavaScript's range.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468; // days from 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097; // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11], 0 = March
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::JS_DATE_LIMIT_MS;

    #[test]
    fn expires_is_written_like_to_utc_string() {
        // `new Date(ms).toUTCString()` in Node 20.
        let cases = [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (1_999, "Thu, 01 Jan 1970 00:00:01 GMT"),
            (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
            (1_795_788_308_424, "Fri, 27 Nov 2026 14:05:08 GMT"),
            (951_782_400_000, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (253_402_300_800_000, "Sat, 01 Jan 10000 00:00:00 GMT"),
            (-62_135_596_800_000, "Mon, 01 Jan 0001 00:00:00 GMT"),
            (-62_135_596_800_001, "Sun, 31 Dec 0000 23:59:59 GMT"),
            (-62_198_755_200_001, "Thu, 31 Dec -0002 23:59:59 GMT"),
            (JS_DATE_LIMIT_MS, "Sat, 13 Sep 275760 00:00:00 GMT"),
            (-JS_DATE_LIMIT_MS, "Tue, 20 Apr -271821 00:00:00 GMT"),
        ];
        for (ms, expected) in cases {
            let mut out = String::new();
            assert_eq!(write_utc_string(&mut out, ms), Ok(()));
            assert_eq!(out, expected, "{ms}");
        }
        for ms in [
            JS_DATE_LIMIT_MS + 1,
            -JS_DATE_LIMIT_MS - 1,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(
                write_utc_string(&mut String::new(), ms),
                Err(CookieError::InvalidExpires)
            );
        }
    }
}
