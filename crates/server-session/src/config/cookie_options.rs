use std::time::{Duration, SystemTime};

use std::sync::Arc;

use super::ConfigError;
use crate::clock;
use crate::store::cookie_data::{root_path, shared_path};
use crate::store::{Priority, SameSite};

/// The `secure` cookie option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SecurePolicy {
    /// No `Secure` attribute (express's default).
    #[default]
    Never,
    /// `Secure`; the cookie is then only sent on secure requests, though the
    /// session is still saved.
    Always,
    /// `Secure` exactly when the request that created the session was
    /// secure (see [`SessionConfig::with_proxy`](crate::SessionConfig::with_proxy)).
    Auto,
}

/// The `sameSite` cookie option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SameSitePolicy {
    /// No `SameSite` attribute (express's default).
    #[default]
    Off,
    /// `SameSite=Strict` (express's `true` or `'strict'`).
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None`.
    None,
    /// `None` on secure requests and `Lax` otherwise, decided when the
    /// session is created.
    Auto,
}

impl SameSitePolicy {
    pub(crate) fn resolve(self, secure_request: bool) -> Option<SameSite> {
        match self {
            Self::Off => None,
            Self::Strict => Some(SameSite::Strict),
            Self::Lax => Some(SameSite::Lax),
            Self::None => Some(SameSite::None),
            Self::Auto if secure_request => Some(SameSite::None),
            Self::Auto => Some(SameSite::Lax),
        }
    }
}

/// How long a new session's cookie lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Lifetime {
    /// A browser-session cookie: no `Expires`.
    #[default]
    BrowserSession,
    /// `maxAge`: this long after each touch.
    MaxAge(Duration),
    /// `expires`: express turns it into a max age counted from the moment
    /// the session is created, which then slides like `maxAge`.
    Expires(SystemTime),
}

/// The session cookie's options (express's `cookie` option). Defaults follow
/// express: `Path=/`, `HttpOnly`, no `Secure`, no `SameSite`, no `Expires`.
///
/// See the [crate docs](crate) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieOptions {
    pub(crate) domain: Option<Arc<str>>,
    pub(crate) path: Arc<str>,
    pub(crate) http_only: bool,
    // `None`: never set, so (as in express) left out of the stored cookie;
    // an explicit `Never`/`Off`/`false` is stored as `false`.
    pub(crate) secure: Option<SecurePolicy>,
    pub(crate) same_site: Option<SameSitePolicy>,
    pub(crate) lifetime: Lifetime,
    pub(crate) partitioned: Option<bool>,
    pub(crate) priority: Option<Priority>,
}

impl Default for CookieOptions {
    fn default() -> Self {
        Self {
            domain: None,
            path: root_path(),
            http_only: true,
            secure: None,
            same_site: None,
            lifetime: Lifetime::BrowserSession,
            partitioned: None,
            priority: None,
        }
    }
}

impl CookieOptions {
    /// express's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `Domain` attribute.
    #[must_use]
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(Arc::from(domain.into()));
        self
    }

    /// The `Path` attribute (default `/`). It also gates the layer: requests
    /// outside the path get no session.
    #[must_use]
    pub fn with_path(mut self, path: impl AsRef<str>) -> Self {
        self.path = shared_path(path.as_ref());
        self
    }

    /// The `HttpOnly` attribute (default `true`).
    #[must_use]
    pub fn with_http_only(mut self, http_only: bool) -> Self {
        self.http_only = http_only;
        self
    }

    /// The `Secure` attribute (default [`SecurePolicy::Never`]).
    #[must_use]
    pub fn with_secure(mut self, secure: SecurePolicy) -> Self {
        self.secure = Some(secure);
        self
    }

    /// The `SameSite` attribute (default [`SameSitePolicy::Off`]).
    #[must_use]
    pub fn with_same_site(mut self, same_site: SameSitePolicy) -> Self {
        self.same_site = Some(same_site);
        self
    }

    /// express's `maxAge`: the cookie and the stored session expire this
    /// long after the last touch. `None` (the default) gives a
    /// browser-session cookie. Replaces an earlier [`with_expires`](Self::with_expires).
    ///
    /// Building the layer fails (option `cookie.max_age`) when now plus
    /// `max_age` is past the last JavaScript date, 13 September 275760, where
    /// express's cookie would be an Invalid Date.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Option<Duration>) -> Self {
        self.lifetime = max_age.map_or(Lifetime::BrowserSession, Lifetime::MaxAge);
        self
    }

    /// express's `expires`. As in express, it is turned into a max age when
    /// a session is created (`expires - now`), which then slides on every
    /// touch; prefer [`with_max_age`](Self::with_max_age). Replaces an
    /// earlier `with_max_age`.
    ///
    /// Building the layer fails (option `cookie.expires`) for a time outside
    /// JavaScript's dates (more than 8.64e15 ms from the epoch).
    #[must_use]
    pub fn with_expires(mut self, expires: Option<SystemTime>) -> Self {
        self.lifetime = expires.map_or(Lifetime::BrowserSession, Lifetime::Expires);
        self
    }

    /// The `Partitioned` attribute (CHIPS).
    #[must_use]
    pub fn with_partitioned(mut self, partitioned: bool) -> Self {
        self.partitioned = Some(partitioned);
        self
    }

    /// The `Priority` attribute.
    #[must_use]
    pub fn with_priority(mut self, priority: Option<Priority>) -> Self {
        self.priority = priority;
        self
    }

    /// The cookie path, which also gates the layer.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `Domain` attribute.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The max age new sessions get, when one is set.
    pub fn max_age(&self) -> Option<Duration> {
        match self.lifetime {
            Lifetime::MaxAge(max_age) => Some(max_age),
            _ => None,
        }
    }

    /// Refuses a `max_age` or `expires` that gives no JavaScript date.
    ///
    /// JavaScript dates end 8.64e15 ms either side of the epoch (13 September
    /// 275760). Past that, express's `new Date(Date.now() + maxAge)` is an
    /// Invalid Date: express then stores `"expires":null` and fails every
    /// response that sends the cookie (`option expires is invalid`), and a
    /// Redis TTL from it is refused. Node does not clamp, so neither does
    /// the layer: the option is refused when the layer is built, naming it.
    /// `max_age` is checked against the time of the build; a value that only
    /// runs past the last date later (a lifetime of about 273,000 years), or
    /// one from a per-request cookie function, is clamped to that last date
    /// when a session gets its cookie.
    pub(crate) fn validate_lifetime(&self, now_ms: i64) -> Result<(), ConfigError> {
        match self.lifetime {
            Lifetime::BrowserSession => Ok(()),
            Lifetime::MaxAge(max_age) => {
                let max_age_ms = clock::duration_to_ms(max_age);
                if clock::is_js_date(now_ms.saturating_add(max_age_ms)) {
                    Ok(())
                } else {
                    Err(ConfigError::invalid(
                        "cookie.max_age",
                        format!(
                            "{max_age_ms} ms from now is past the last JavaScript date \
                             ({}), where express's `new Date(Date.now() + maxAge)` is invalid",
                            clock::to_iso(clock::JS_DATE_LIMIT_MS)
                        ),
                    ))
                }
            }
            Lifetime::Expires(at) => {
                if clock::is_js_date(clock::system_time_to_ms(at)) {
                    Ok(())
                } else {
                    Err(ConfigError::invalid(
                        "cookie.expires",
                        format!(
                            "outside JavaScript's dates ({} to {}), where express's `expires` \
                             is an Invalid Date",
                            clock::to_iso(-clock::JS_DATE_LIMIT_MS),
                            clock::to_iso(clock::JS_DATE_LIMIT_MS)
                        ),
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_past_javascript_dates_name_the_option() {
        use std::time::{SystemTime, UNIX_EPOCH};
        // `new Date(Date.now() + maxAge)` past 8.64e15 ms is an Invalid Date
        // in Node: express then fails every request that sends the cookie.
        let js_limit = Duration::from_millis(8_640_000_000_000_000);
        let refused = [
            (
                CookieOptions::new().with_max_age(Some(Duration::MAX)),
                "cookie.max_age",
            ),
            (
                CookieOptions::new().with_max_age(Some(js_limit)),
                "cookie.max_age",
            ),
            (
                CookieOptions::new()
                    .with_expires(Some(UNIX_EPOCH + js_limit + Duration::from_millis(1))),
                "cookie.expires",
            ),
            (
                CookieOptions::new()
                    .with_expires(UNIX_EPOCH.checked_sub(js_limit + Duration::from_millis(1))),
                "cookie.expires",
            ),
        ];
        for (cookie, option) in refused {
            let error = crate::SessionConfig::new("s")
                .with_cookie(cookie.clone())
                .validate()
                .expect_err(option);
            assert_eq!(error.option(), option, "{cookie:?}");
            assert!(error.to_string().contains("JavaScript"), "{error}");
        }
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("a clock after 1970");
        let accepted = [
            CookieOptions::new().with_max_age(Some(Duration::ZERO)),
            CookieOptions::new().with_max_age(Some(Duration::from_secs(400 * 24 * 3600))),
            // The last date JavaScript can hold, a minute from now.
            CookieOptions::new()
                .with_max_age(Some(js_limit - since_epoch - Duration::from_secs(60))),
            CookieOptions::new().with_expires(Some(UNIX_EPOCH + js_limit)),
            CookieOptions::new().with_expires(UNIX_EPOCH.checked_sub(js_limit)),
            CookieOptions::new().with_expires(Some(UNIX_EPOCH)),
        ];
        for cookie in accepted {
            assert!(
                crate::SessionConfig::new("s")
                    .with_cookie(cookie.clone())
                    .validate()
                    .is_ok(),
                "{cookie:?}"
            );
        }
    }
}
