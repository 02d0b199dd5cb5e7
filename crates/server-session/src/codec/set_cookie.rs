//! The `cookie` package 0.7.2's `serialize()`, as express-session calls it.

use super::attributes::{Priority, SameSite};
use super::date::write_utc_string;

/// Why a `Set-Cookie` value could not be built. The messages are the
/// `cookie` package's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// The name is not an RFC 7230 token (letters, digits and ``!#$%&'*+-.^_`|~``).
    #[error("argument name is invalid")]
    InvalidName,
    /// The value is not RFC 6265 cookie-octets, optionally in double quotes.
    #[error("argument val is invalid")]
    InvalidValue,
    /// The domain is not a host name: `.`-separated labels of 1 to 63
    /// letters, digits and `-`, after an optional leading `.`.
    #[error("option domain is invalid")]
    InvalidDomain,
    /// The path has a control character, a `;` or a `<`.
    #[error("option path is invalid")]
    InvalidPath,
    /// The expiry is outside JavaScript's `Date` range (±8.64e15 ms, about
    /// ±275,000 years), where `new Date(ms)` is an invalid date.
    #[error("option expires is invalid")]
    InvalidExpires,
}

/// A `Set-Cookie` header value, serialised as the `cookie` npm package
/// 0.7.2's `serialize()` does for express-session.
///
/// `Max-Age` is never written: express-session sends only `Expires`. An
/// empty `domain` or `path` is left out, as `serialize()` leaves out any
/// falsy option. Start from [`SetCookie::new`] and set the attributes.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SetCookie<'a> {
    /// The cookie name; must be an RFC 7230 token.
    pub name: &'a str,
    /// The value, already encoded: the output of
    /// [`sign_session_id`](super::sign_session_id).
    pub value: &'a str,
    /// `Domain=`, checked to be a host name.
    pub domain: Option<&'a str>,
    /// `Path=`, checked for control characters, `;` and `<`.
    pub path: Option<&'a str>,
    /// `Expires=`, in milliseconds since the Unix epoch, written as
    /// `Date#toUTCString` writes it (IMF-fixdate, whole seconds).
    pub expires_ms: Option<i64>,
    /// Adds `HttpOnly`.
    pub http_only: bool,
    /// Adds `Secure`.
    pub secure: bool,
    /// Adds `Partitioned`.
    pub partitioned: bool,
    /// Adds `Priority=Low|Medium|High`.
    pub priority: Option<Priority>,
    /// Adds `SameSite=Strict|Lax|None`.
    pub same_site: Option<SameSite>,
}

impl<'a> SetCookie<'a> {
    /// `name=value` with no attribute.
    pub fn new(name: &'a str, value: &'a str) -> Self {
        Self {
            name,
            value,
            ..Self::default()
        }
    }

    /// `name=value` and the attributes in this order, each prefixed by `"; "`:
    /// `Domain=`, `Path=`, `Expires=<IMF-fixdate>`, `HttpOnly`, `Secure`,
    /// `Partitioned`, `Priority=Low|Medium|High`, `SameSite=Strict|Lax|None`.
    ///
    /// # Errors
    ///
    /// With the `cookie` package's messages, for an invalid name, value,
    /// domain or path, or an expiry outside JavaScript's date range.
    pub fn to_header_value(&self) -> Result<String, CookieError> {
        validate_name(self.name)?;
        validate_value(self.value)?;
        let mut header = String::with_capacity(self.name.len() + self.value.len() + 96);
        header.push_str(self.name);
        header.push('=');
        header.push_str(self.value);
        if let Some(domain) = self.domain.filter(|domain| !domain.is_empty()) {
            validate_domain(domain)?;
            header.push_str("; Domain=");
            header.push_str(domain);
        }
        if let Some(path) = self.path.filter(|path| !path.is_empty()) {
            validate_path(path)?;
            header.push_str("; Path=");
            header.push_str(path);
        }
        if let Some(ms) = self.expires_ms {
            header.push_str("; Expires=");
            write_utc_string(&mut header, ms)?;
        }
        if self.http_only {
            header.push_str("; HttpOnly");
        }
        if self.secure {
            header.push_str("; Secure");
        }
        if self.partitioned {
            header.push_str("; Partitioned");
        }
        if let Some(priority) = self.priority {
            header.push_str("; Priority=");
            header.push_str(priority.as_attribute());
        }
        if let Some(same_site) = self.same_site {
            header.push_str("; SameSite=");
            header.push_str(same_site.as_attribute());
        }
        Ok(header)
    }
}

/// Checks a cookie name: an RFC 7230 token, ``^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$``.
///
/// # Errors
///
/// [`CookieError::InvalidName`] otherwise (including for an empty name).
pub(crate) fn validate_name(name: &str) -> Result<(), CookieError> {
    let is_tchar = |byte: &u8| {
        byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
    };
    if !name.is_empty() && name.as_bytes().iter().all(is_tchar) {
        Ok(())
    } else {
        Err(CookieError::InvalidName)
    }
}

/// Checks a cookie domain with the `cookie` package 0.7.2's regex: an
/// optional leading `.`, then `.`-separated labels of 1 to 63 ASCII letters,
/// digits and `-`, neither starting nor ending with `-`.
///
/// # Errors
///
/// [`CookieError::InvalidDomain`] otherwise (including for an empty domain).
pub(crate) fn validate_domain(domain: &str) -> Result<(), CookieError> {
    let is_label = |label: &str| {
        let bytes = label.as_bytes();
        (1..=63).contains(&bytes.len())
            && bytes
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
            && bytes.first() != Some(&b'-')
            && bytes.last() != Some(&b'-')
    };
    let labels = domain.strip_prefix('.').unwrap_or(domain);
    if labels.split('.').all(is_label) {
        Ok(())
    } else {
        Err(CookieError::InvalidDomain)
    }
}

/// Checks a cookie path with the `cookie` package 0.7.2's regex: only
/// characters 0x20–0x7E other than `;` and `<`.
///
/// (The regex is `^[\u0020-\u003A\u003D-\u007E]*$`, which leaves out `<`
/// along with `;`.)
///
/// # Errors
///
/// [`CookieError::InvalidPath`] otherwise.
pub(crate) fn validate_path(path: &str) -> Result<(), CookieError> {
    if path
        .bytes()
        .all(|byte| matches!(byte, 0x20..=0x3a | 0x3d..=0x7e))
    {
        Ok(())
    } else {
        Err(CookieError::InvalidPath)
    }
}

/// The value check of `serialize()`: RFC 6265 cookie-octets
/// (`%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`), optionally wrapped in
/// one pair of double quotes.
fn validate_value(value: &str) -> Result<(), CookieError> {
    let is_octet =
        |byte: &u8| matches!(byte, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e);
    let bytes = value.as_bytes();
    let inner = match bytes {
        [b'"', inner @ .., b'"'] => inner,
        _ => bytes,
    };
    if inner.iter().all(is_octet) {
        Ok(())
    } else {
        Err(CookieError::InvalidValue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session_cookie(value: &str) -> SetCookie<'_> {
        SetCookie {
            name: "connect.sid",
            value,
            path: Some("/"),
            http_only: true,
            ..SetCookie::default()
        }
    }

    const VALUE: &str = "s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU";

    #[test]
    fn the_default_session_cookie() {
        let with_max_age = SetCookie {
            expires_ms: Some(1_795_788_308_424),
            ..session_cookie(VALUE)
        };
        assert_eq!(
            with_max_age.to_header_value(),
            Ok(format!(
                "connect.sid={VALUE}; Path=/; Expires=Fri, 27 Nov 2026 14:05:08 GMT; HttpOnly"
            ))
        );
        assert_eq!(
            session_cookie(VALUE).to_header_value(),
            Ok(format!("connect.sid={VALUE}; Path=/; HttpOnly"))
        );
    }

    #[test]
    fn every_attribute_in_order() {
        let cookie = SetCookie {
            domain: Some(".example.com"),
            expires_ms: Some(1_795_788_308_424),
            secure: true,
            partitioned: true,
            priority: Some(Priority::High),
            same_site: Some(SameSite::Lax),
            ..session_cookie(VALUE)
        };
        // cookie@0.7.2: serialize('connect.sid', 's:apple.…', {domain: '.example.com', path: '/',
        // expires: new Date(1795788308424), httpOnly: true, secure: true, partitioned: true,
        // priority: 'high', sameSite: 'lax'}) with the identity encoder.
        assert_eq!(
            cookie.to_header_value(),
            Ok(format!(
                "connect.sid={VALUE}; Domain=.example.com; Path=/; \
                 Expires=Fri, 27 Nov 2026 14:05:08 GMT; HttpOnly; Secure; Partitioned; \
                 Priority=High; SameSite=Lax"
            ))
        );
    }

    #[test]
    fn the_other_priorities_and_same_sites() {
        let cookie = |priority, same_site| SetCookie {
            name: "a",
            value: "b",
            priority: Some(priority),
            same_site: Some(same_site),
            ..SetCookie::default()
        };
        assert_eq!(
            cookie(Priority::Low, SameSite::Strict).to_header_value(),
            Ok("a=b; Priority=Low; SameSite=Strict".to_owned())
        );
        assert_eq!(
            cookie(Priority::Medium, SameSite::None).to_header_value(),
            Ok("a=b; Priority=Medium; SameSite=None".to_owned())
        );
    }

    #[test]
    fn empty_domain_and_path_are_left_out() {
        let cookie = SetCookie {
            name: "a",
            value: "b",
            domain: Some(""),
            path: Some(""),
            ..SetCookie::default()
        };
        assert_eq!(cookie.to_header_value(), Ok("a=b".to_owned()));
    }

    #[test]
    fn invalid_parts_fail_with_the_cookie_packages_messages() {
        let base = SetCookie {
            name: "a",
            value: "b",
            ..SetCookie::default()
        };
        let error = |cookie: SetCookie<'_>| cookie.to_header_value().map_err(|e| e.to_string());
        assert_eq!(
            error(SetCookie {
                name: "a b",
                ..base.clone()
            }),
            Err("argument name is invalid".to_owned())
        );
        assert_eq!(
            error(SetCookie {
                value: "a;b",
                ..base.clone()
            }),
            Err("argument val is invalid".to_owned())
        );
        assert_eq!(
            error(SetCookie {
                domain: Some("a..com"),
                ..base.clone()
            }),
            Err("option domain is invalid".to_owned())
        );
        assert_eq!(
            error(SetCookie {
                path: Some("/a;b"),
                ..base.clone()
            }),
            Err("option path is invalid".to_owned())
        );
        assert_eq!(
            error(SetCookie {
                expires_ms: Some(i64::MAX),
                ..base
            }),
            Err("option expires is invalid".to_owned())
        );
    }

    #[test]
    fn names_are_tokens() {
        for name in ["a", "connect.sid", "!#$%&'*+-.^_`|~09AZaz", "__proto__"] {
            assert_eq!(validate_name(name), Ok(()), "{name:?}");
        }
        for name in [
            "", "a b", "a=b", "a;b", "a\"b", "a,b", "é", "a\0", "(a)", "a/b", "a@b",
        ] {
            assert_eq!(
                validate_name(name),
                Err(CookieError::InvalidName),
                "{name:?}"
            );
        }
    }

    #[test]
    fn values_are_cookie_octets_maybe_quoted() {
        for value in [
            "",
            "\"\"",
            "\"abc\"",
            "s%3Aa.b",
            "!#$%&'()*+-./:<=>?@[]^_`{|}~",
        ] {
            assert_eq!(validate_value(value), Ok(()), "{value:?}");
        }
        for value in [
            "\"", "\"a", "a\"", "a b", "a,b", "a;b", "a\\b", "\"a\"b\"", "é", "a\t",
        ] {
            assert_eq!(
                validate_value(value),
                Err(CookieError::InvalidValue),
                "{value:?}"
            );
        }
    }

    #[test]
    fn domains_follow_the_cookie_packages_regex() {
        let longest_label = "a".repeat(63);
        for domain in [
            ".a.com",
            "A.COM",
            "1.2.3.4",
            "a",
            "x-y.z",
            &format!("{longest_label}.com"),
        ] {
            assert_eq!(validate_domain(domain), Ok(()), "{domain:?}");
        }
        let too_long = "a".repeat(64);
        for domain in [
            "", ".", "..a", "-a.com", "a-.com", "a..com", "a.com.", "a_b.com", "é.com", &too_long,
        ] {
            assert_eq!(
                validate_domain(domain),
                Err(CookieError::InvalidDomain),
                "{domain:?}"
            );
        }
    }

    #[test]
    fn paths_refuse_controls_semicolons_and_less_than() {
        for path in ["", "/", "/ ok", "/a:b=c>d~"] {
            assert_eq!(validate_path(path), Ok(()), "{path:?}");
        }
        for path in ["/;", "/<", "/\u{7f}", "/\t", "/é"] {
            assert_eq!(
                validate_path(path),
                Err(CookieError::InvalidPath),
                "{path:?}"
            );
        }
    }
}
