//! The `set_cookie` target's check, shared with the corpus replay test
//! (`crates/server-session/tests/fuzz_corpus.rs`).
//!
//! Input: arbitrary bytes, read with `arbitrary` as `SetCookie`'s options.

use arbitrary::{Arbitrary, Unstructured};
use server_session::__private::{find_cookie, sign_session_id, Secrets, SetCookie};
use server_session::{CookieError, Priority, SameSite};

/// JavaScript's last date, in milliseconds from the epoch either way.
const JS_DATE_LIMIT_MS: i64 = 8_640_000_000_000_000;

#[derive(Arbitrary, Debug)]
struct Options {
    name: Name,
    value: Value,
    domain: Option<String>,
    path: Option<String>,
    expires_ms: Option<Expires>,
    http_only: bool,
    secure: bool,
    partitioned: bool,
    priority: Option<PriorityChoice>,
    same_site: Option<SameSiteChoice>,
}

#[derive(Arbitrary, Debug)]
enum Name {
    Session,
    Any(String),
}

#[derive(Arbitrary, Debug)]
enum Value {
    /// What the layer sends: a signed ID, always valid, so the fuzzer
    /// reaches the attributes without first finding a valid value.
    SignedId(String),
    Any(String),
}

#[derive(Arbitrary, Debug)]
enum Expires {
    Any(i64),
    /// Spread over JavaScript's whole date range.
    JsDate(u64),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum PriorityChoice {
    Low,
    Medium,
    High,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SameSiteChoice {
    Strict,
    Lax,
    None,
}

/// `to_header_value` never panics, and fails exactly when (and with the
/// error of the first option that) the `cookie` package would refuse, by an
/// oracle written here from its regexes; when it succeeds the header is a
/// valid `http::HeaderValue` of visible ASCII, is `name=value` and then
/// exactly the expected attributes in order, its `Expires` reads back as
/// the given instant (to the second; and as `httpdate` writes it in
/// 1970..=9999), and a cookie parser finds the value unchanged.
pub(crate) fn check(data: &[u8]) {
    let Ok(options) = Options::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let name = match &options.name {
        Name::Session => "connect.sid",
        Name::Any(name) => name.as_str(),
    };
    let value = match &options.value {
        Value::SignedId(id) => {
            let secrets = Secrets::new(["keyboard cat"]).expect("one secret");
            sign_session_id(id, &secrets)
        }
        Value::Any(value) => value.clone(),
    };
    let expires_ms = options.expires_ms.as_ref().map(|expires| match *expires {
        Expires::Any(ms) => ms,
        Expires::JsDate(spread) => {
            let span = 2 * JS_DATE_LIMIT_MS.unsigned_abs() + 1;
            (spread % span) as i64 - JS_DATE_LIMIT_MS
        }
    });
    let priority = options.priority.map(|priority| match priority {
        PriorityChoice::Low => Priority::Low,
        PriorityChoice::Medium => Priority::Medium,
        PriorityChoice::High => Priority::High,
    });
    let same_site = options.same_site.map(|same_site| match same_site {
        SameSiteChoice::Strict => SameSite::Strict,
        SameSiteChoice::Lax => SameSite::Lax,
        SameSiteChoice::None => SameSite::None,
    });
    // `serialize()` leaves out falsy options: an empty domain or path.
    let domain = options
        .domain
        .as_deref()
        .filter(|domain| !domain.is_empty());
    let path = options.path.as_deref().filter(|path| !path.is_empty());
    let mut cookie = SetCookie::new(name, &value);
    cookie.domain = options.domain.as_deref();
    cookie.path = options.path.as_deref();
    cookie.expires_ms = expires_ms;
    cookie.http_only = options.http_only;
    cookie.secure = options.secure;
    cookie.partitioned = options.partitioned;
    cookie.priority = priority;
    cookie.same_site = same_site;
    let result = cookie.to_header_value();

    let expected_error = if !is_token(name) {
        Some(CookieError::InvalidName)
    } else if !is_cookie_value(&value) {
        Some(CookieError::InvalidValue)
    } else if domain.is_some_and(|domain| !is_domain(domain)) {
        Some(CookieError::InvalidDomain)
    } else if path.is_some_and(|path| !is_path(path)) {
        Some(CookieError::InvalidPath)
    } else if expires_ms.is_some_and(|ms| ms.unsigned_abs() > JS_DATE_LIMIT_MS.unsigned_abs()) {
        Some(CookieError::InvalidExpires)
    } else {
        None
    };
    let header = match (result, expected_error) {
        (Ok(header), None) => header,
        (Err(error), Some(expected)) => {
            assert_eq!(error, expected, "{cookie:?}");
            return;
        }
        (result, expected) => panic!("{cookie:?}: {result:?}, expected error {expected:?}"),
    };

    assert!(
        http::HeaderValue::from_str(&header).is_ok(),
        "not a header value: {header:?}"
    );
    assert!(
        header.bytes().all(|byte| (0x20..0x7f).contains(&byte)),
        "{header:?}"
    );

    // Nothing in a valid option holds `;`, and a value holds no space, so
    // the header splits back into its parts.
    let mut parts = header.split("; ");
    assert_eq!(parts.next(), Some(format!("{name}={value}").as_str()));
    let mut expected = Vec::new();
    if let Some(domain) = domain {
        expected.push(format!("Domain={domain}"));
    }
    if let Some(path) = path {
        expected.push(format!("Path={path}"));
    }
    if expires_ms.is_some() {
        expected.push(String::from("Expires="));
    }
    for (flag, attribute) in [
        (options.http_only, "HttpOnly"),
        (options.secure, "Secure"),
        (options.partitioned, "Partitioned"),
    ] {
        if flag {
            expected.push(attribute.to_owned());
        }
    }
    if let Some(priority) = priority {
        expected.push(format!("Priority={}", priority.as_attribute()));
    }
    if let Some(same_site) = same_site {
        expected.push(format!("SameSite={}", same_site.as_attribute()));
    }
    let attributes: Vec<&str> = parts.collect();
    assert_eq!(attributes.len(), expected.len(), "{header:?}");
    for (attribute, expected) in attributes.iter().zip(&expected) {
        match (attribute.strip_prefix("Expires="), expires_ms) {
            (Some(date), Some(ms)) if expected == "Expires=" => check_expires(date, ms),
            _ => assert_eq!(attribute, expected, "{header:?}"),
        }
    }

    // The attributes after the pair never change what a parser reads.
    assert_eq!(
        find_cookie(header.as_bytes(), name),
        find_cookie(format!("{name}={value}").as_bytes(), name),
        "{header:?}"
    );
}

/// `date` is `new Date(ms).toUTCString()`: read back field by field, it is
/// the same second, a real calendar day and the right weekday.
fn check_expires(date: &str, ms: i64) {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let fields: Vec<&str> = date.split(' ').collect();
    let &[weekday, day, month, year, time, "GMT"] = fields.as_slice() else {
        panic!("Expires={date:?}");
    };
    let number = |text: &str| -> i64 {
        assert!(
            !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()),
            "Expires={date:?}"
        );
        text.parse().expect("digits")
    };
    let year = match year.strip_prefix('-') {
        Some(digits) => {
            assert!(digits.len() >= 4, "Expires={date:?}");
            -number(digits)
        }
        None => {
            assert!(year.len() >= 4, "Expires={date:?}");
            number(year)
        }
    };
    let month = MONTHS
        .iter()
        .position(|name| *name == month)
        .unwrap_or_else(|| panic!("Expires={date:?}")) as i64
        + 1;
    assert_eq!(day.len(), 2, "Expires={date:?}");
    let day = number(day);
    assert!(
        (1..=days_in_month(year, month)).contains(&day),
        "Expires={date:?}"
    );
    let clock: Vec<i64> = time.split(':').map(number).collect();
    let &[hours, minutes, seconds] = clock.as_slice() else {
        panic!("Expires={date:?}");
    };
    assert!(time.len() == 8 && hours < 24 && minutes < 60 && seconds < 60);
    let days = days_from_civil(year, month, day);
    assert_eq!(
        days * 86_400 + hours * 3_600 + minutes * 60 + seconds,
        ms.div_euclid(1000),
        "Expires={date:?} for {ms}"
    );
    assert_eq!(
        weekday.strip_suffix(','),
        Some(WEEKDAYS[days.rem_euclid(7) as usize]),
        "Expires={date:?}"
    );
    // httpdate writes the same IMF-fixdate where it can (1970 to 9999).
    if (0..253_402_300_800_000).contains(&ms) {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64);
        assert_eq!(httpdate::fmt_http_date(at), date);
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, the inverse of what the serialiser uses).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The `cookie` package's `cookieNameRegExp`: an RFC 7230 token.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// `cookieValueRegExp`: cookie-octets, optionally in one pair of quotes.
fn is_cookie_value(value: &str) -> bool {
    let inner = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(value);
    inner
        .bytes()
        .all(|byte| (0x21..0x7f).contains(&byte) && !b"\",;\\".contains(&byte))
}

/// `domainValueRegExp`: an optional leading `.`, then `.`-separated labels
/// of 1 to 63 letters, digits and `-`, not starting or ending with `-`.
fn is_domain(domain: &str) -> bool {
    let labels = domain.strip_prefix('.').unwrap_or(domain);
    labels.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    })
}

/// `pathValueRegExp`: `[\u0020-\u003A\u003D-\u007E]*`.
fn is_path(path: &str) -> bool {
    path.bytes()
        .all(|byte| (0x20..0x7f).contains(&byte) && byte != b';' && byte != b'<')
}
