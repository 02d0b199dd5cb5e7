//! The hardened configuration, and the cookie checks browsers make that
//! express does not: name prefixes, and attributes that need `Secure`.

use std::time::Duration;

use super::{ConfigError, CookieOptions, SameSitePolicy, SecurePolicy, SessionConfig};

/// The cookie name of [`SessionConfig::hardened`].
pub const HARDENED_COOKIE_NAME: &str = "__Host-sid";
/// The idle timeout of [`SessionConfig::hardened`]: 30 minutes (NIST
/// SP 800-63B's reauthentication after inactivity at AAL2).
pub const HARDENED_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The absolute timeout of [`SessionConfig::hardened`]: 12 hours (NIST
/// SP 800-63B's limit at AAL2).
pub const HARDENED_ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);
/// The shortest secret [`SessionConfig::hardened`] accepts, in bytes.
pub const HARDENED_MIN_SECRET_BYTES: usize = 32;

impl CookieOptions {
    /// The cookie options of [`SessionConfig::hardened`]: `Secure`,
    /// `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`, a 30-minute
    /// `max_age`. Start from these to change one attribute of a hardened
    /// configuration: `with_cookie` replaces the cookie options whole.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use server_session::{CookieOptions, SessionConfig};
    ///
    /// let config = SessionConfig::hardened("use at least 32 random bytes here!!")
    ///     .with_cookie(CookieOptions::hardened().with_max_age(Some(Duration::from_secs(600))));
    /// ```
    pub fn hardened() -> Self {
        CookieOptions::new()
            .with_secure(SecurePolicy::Always)
            .with_http_only(true)
            .with_same_site(SameSitePolicy::Lax)
            .with_max_age(Some(HARDENED_IDLE_TIMEOUT))
    }
}

impl SessionConfig {
    /// A configuration that meets OWASP ASVS 5.0 level 2 for session
    /// management out of the box (see `SECURITY.md`), in one line:
    ///
    /// - the cookie `__Host-sid`: `Secure`, `HttpOnly`, `SameSite=Lax`,
    ///   `Path=/`, no `Domain`, so only this exact origin over TLS gets it;
    /// - an idle timeout of 30 minutes, renewed by every request (`rolling`,
    ///   `max_age`), and an absolute timeout of 12 hours;
    /// - cookies verified by an older secret re-issued under the first
    ///   ([`with_resign_old_secret`](Self::with_resign_old_secret)), and
    ///   `destroy`/`unset` expire the browser's cookie
    ///   ([`with_clear_cookie_on_destroy`](Self::with_clear_cookie_on_destroy));
    /// - stricter checks when the layer is built: every secret at least 32
    ///   bytes, and `SameSite=None` or `Partitioned` only with `Secure`.
    ///
    /// Every `with_*` method still applies on top, and the checks stay
    /// strict. [`with_cookie`](Self::with_cookie) replaces the cookie options
    /// whole: start from [`CookieOptions::hardened`] to change one of them.
    /// A `Secure` cookie is only sent on requests the layer sees as secure
    /// ([`IsSecure`](crate::IsSecure), or `proxy` with `X-Forwarded-Proto`).
    ///
    /// ```
    /// use server_session::{MemoryStore, SessionConfig, SessionLayer};
    ///
    /// let config = SessionConfig::hardened("use at least 32 random bytes here!!");
    /// let layer = SessionLayer::new(MemoryStore::new(), config).expect("valid");
    /// ```
    pub fn hardened(secret: impl AsRef<[u8]>) -> Self {
        let mut config = Self::new(secret)
            .with_name(HARDENED_COOKIE_NAME)
            .with_rolling(true)
            .with_cookie(CookieOptions::hardened())
            .with_absolute_timeout(Some(HARDENED_ABSOLUTE_TIMEOUT))
            .with_resign_old_secret(true)
            .with_clear_cookie_on_destroy(true);
        config.hardened = true;
        config
    }
}

/// Checks the cookie name's prefix against the options, as browsers do:
/// a `__Secure-` cookie must be `Secure`, and a `__Host-` one also has
/// `Path=/` and no `Domain`. Browsers match the prefixes without regard to
/// case, and silently drop a cookie that breaks them.
pub(crate) fn check_name_prefix(name: &str, options: &CookieOptions) -> Result<(), ConfigError> {
    let has_prefix = |prefix: &str| {
        name.get(..prefix.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
    };
    let host = has_prefix("__Host-");
    if !(host || has_prefix("__Secure-")) {
        return Ok(());
    }
    if options.secure != Some(SecurePolicy::Always) {
        let secure = options
            .secure
            .map_or(String::from("unset"), |secure| format!("{secure:?}"));
        return Err(ConfigError::invalid_value(
            "cookie.secure",
            secure,
            format!("a cookie named `{name}` must be Secure (SecurePolicy::Always), or browsers drop it"),
        ));
    }
    if let Some(domain) = options.domain.as_deref().filter(|_| host) {
        return Err(ConfigError::invalid_value(
            "cookie.domain",
            domain,
            format!("a cookie named `{name}` must not have a Domain, or browsers drop it"),
        ));
    }
    if host && &*options.path != "/" {
        return Err(ConfigError::invalid_value(
            "cookie.path",
            &*options.path,
            format!("a cookie named `{name}` must have Path=/, or browsers drop it"),
        ));
    }
    Ok(())
}

/// The longest cookie name accepted. Browsers refuse a cookie whose name and
/// value pass 4096 bytes (RFC 6265 §6.1); the value is at most about 900
/// bytes (a 255-byte ID, percent-encoded, plus its signature).
pub(crate) const MAX_NAME_BYTES: usize = 1024;

/// Keeps the whole `Set-Cookie` name and value under browsers' 4096 bytes.
pub(crate) fn check_name_length(name: &str) -> Result<(), ConfigError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(ConfigError::invalid_value(
            "name",
            name,
            format!("longer than {MAX_NAME_BYTES} bytes: with the signed ID the cookie would pass the 4096 bytes browsers keep"),
        ));
    }
    Ok(())
}

/// `SameSite=None` and `Partitioned` without `Secure`: express accepts
/// them, browsers drop the cookie. A warning, or an error when `strict`
/// (the hardened configuration).
pub(crate) fn check_needs_secure(options: &CookieOptions, strict: bool) -> Result<(), ConfigError> {
    let always_secure = options.secure == Some(SecurePolicy::Always);
    let auto_secure = options.secure == Some(SecurePolicy::Auto);
    let problem = if options.same_site() == Some(SameSitePolicy::None) && !always_secure {
        // `Auto` resolves to Secure exactly when the request is secure, and
        // `SameSite=Auto` already pairs None with Secure.
        (!auto_secure).then_some(("cookie.same_site", "None", "SameSite=None needs Secure"))
    } else if options.partitioned == Some(true) && !always_secure && !auto_secure {
        Some(("cookie.partitioned", "true", "Partitioned needs Secure"))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some((option, value, reason)) if strict => {
            Err(ConfigError::invalid_value(option, value, reason))
        }
        Some((option, _, reason)) => {
            tracing::warn!(
                option,
                "{reason}: browsers drop such a cookie (express accepts it)"
            );
            Ok(())
        }
    }
}

/// The hardened configuration's secret rule: each at least 32 bytes.
pub(crate) fn check_secret_lengths(secrets: &[Vec<u8>]) -> Result<(), ConfigError> {
    if secrets
        .iter()
        .any(|secret| secret.len() < HARDENED_MIN_SECRET_BYTES)
    {
        return Err(ConfigError::invalid(
            "secret",
            format!("the hardened configuration needs every secret to be at least {HARDENED_MIN_SECRET_BYTES} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secure() -> CookieOptions {
        CookieOptions::new().with_secure(SecurePolicy::Always)
    }

    #[test]
    fn prefixed_names_are_held_to_the_browsers_rules() {
        assert!(check_name_prefix("sid", &CookieOptions::new()).is_ok());
        assert!(check_name_prefix("__Host-sid", &secure()).is_ok());
        assert!(check_name_prefix("__Secure-sid", &secure().with_domain("a.example")).is_ok());
        let option = |name: &str, options: CookieOptions| {
            check_name_prefix(name, &options)
                .expect_err("refused")
                .option()
        };
        assert_eq!(option("__Host-sid", CookieOptions::new()), "cookie.secure");
        assert_eq!(
            option(
                "__host-sid",
                CookieOptions::new().with_secure(SecurePolicy::Auto)
            ),
            "cookie.secure"
        );
        assert_eq!(
            option("__Secure-sid", CookieOptions::new()),
            "cookie.secure"
        );
        assert_eq!(
            option("__Host-sid", secure().with_domain("a.example")),
            "cookie.domain"
        );
        assert_eq!(
            option("__HOST-sid", secure().with_path("/app")),
            "cookie.path"
        );
    }

    #[test]
    fn a_name_that_would_push_the_cookie_past_4096_bytes_is_refused() {
        assert!(check_name_length(&"n".repeat(MAX_NAME_BYTES)).is_ok());
        assert_eq!(
            check_name_length(&"n".repeat(MAX_NAME_BYTES + 1))
                .expect_err("too long")
                .option(),
            "name"
        );
    }

    #[test]
    fn attributes_that_need_secure_warn_or_fail_when_strict() {
        let none = CookieOptions::new().with_same_site(SameSitePolicy::None);
        assert!(check_needs_secure(&none, false).is_ok());
        assert_eq!(
            check_needs_secure(&none, true)
                .expect_err("strict")
                .option(),
            "cookie.same_site"
        );
        let partitioned = CookieOptions::new().with_partitioned(true);
        assert_eq!(
            check_needs_secure(&partitioned, true)
                .expect_err("strict")
                .option(),
            "cookie.partitioned"
        );
        assert!(check_needs_secure(&none.clone().with_secure(SecurePolicy::Always), true).is_ok());
        assert!(check_needs_secure(&none.with_secure(SecurePolicy::Auto), true).is_ok());
    }

    #[test]
    fn the_hardened_configuration_builds_and_refuses_short_secrets() {
        let config = SessionConfig::hardened([7u8; 32]);
        assert!(config.validate().is_ok());
        let short = SessionConfig::hardened("short");
        assert_eq!(short.validate().expect_err("short").option(), "secret");
        let rotated =
            SessionConfig::hardened([7u8; 32]).with_secrets([[7u8; 32].as_slice(), b"old"]);
        assert_eq!(
            rotated.validate().expect_err("short old").option(),
            "secret"
        );
        // Settings on top keep the strict checks.
        let weakened = SessionConfig::hardened([7u8; 32])
            .with_cookie(CookieOptions::new().with_same_site(SameSitePolicy::None));
        assert_eq!(
            weakened.validate().expect_err("strict").option(),
            "cookie.secure"
        );
    }
}
