use std::time::{Duration, SystemTime};

use std::sync::Arc;

use super::ConfigError;
use crate::clock;
use crate::codec::attributes::{
    root_path, shared_path, Case, Falsy, Member, Priority, SameSite, Scalar, Spelling,
};

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

/// express's `cookie.sameSite` option exactly as a Node app writes it:
/// `true`, `false`, `null`, `"auto"`, or `"strict"`, `"lax"` or `"none"` in
/// any case (`"Lax"`, `"STRICT"`).
///
/// It sends what the matching [`SameSitePolicy`] sends (`true` is
/// `SameSite=Strict`, `"Lax"` is `SameSite=Lax`), and new sessions store it
/// as given, as express does: a Node app sharing the store then reads back
/// `req.session.cookie.sameSite === true` where it configured `true`. Give
/// it to [`CookieOptions::with_express_same_site`]. A [`SameSitePolicy`]
/// converts into one that stores lower case (`"lax"`; `Off` is `false`).
///
/// ```
/// use serde_json::json;
/// use server_session::{CookieOptions, ExpressSameSite, SameSitePolicy};
///
/// let same_site = ExpressSameSite::from_json(&json!(true)).expect("valid");
/// assert_eq!(same_site.policy(), SameSitePolicy::Strict);
/// assert_eq!(same_site.to_json(), json!(true));
/// let cookie = CookieOptions::new().with_express_same_site(same_site);
/// # let _ = cookie;
/// assert_eq!(ExpressSameSite::from_json(&json!("sometimes")), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExpressSameSite(SameSiteOption);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum SameSiteOption {
    /// `"auto"`: decided per new session, stored as `"none"` or `"lax"`.
    Auto,
    /// Stored as given.
    Fixed(Member<SameSite>),
}

impl ExpressSameSite {
    /// Reads express's option value. `None` for a value express-session
    /// and the `cookie` package refuse (`option sameSite is invalid`): a
    /// string other than `"auto"` (exactly) and the three keywords in any
    /// case, or a truthy value of another type.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        if value.as_str() == Some("auto") {
            return Some(Self(SameSiteOption::Auto));
        }
        Member::from_json(Scalar::from(value)).map(|member| Self(SameSiteOption::Fixed(member)))
    }

    /// The option as JSON, as given.
    pub fn to_json(self) -> serde_json::Value {
        match self.0 {
            SameSiteOption::Auto => serde_json::Value::from("auto"),
            SameSiteOption::Fixed(member) => {
                serde_json::to_value(member).unwrap_or(serde_json::Value::Null)
            }
        }
    }

    /// What it sends.
    pub fn policy(self) -> SameSitePolicy {
        match self.0 {
            SameSiteOption::Auto => SameSitePolicy::Auto,
            SameSiteOption::Fixed(member) => match member.value() {
                None => SameSitePolicy::Off,
                Some(SameSite::Strict) => SameSitePolicy::Strict,
                Some(SameSite::Lax) => SameSitePolicy::Lax,
                Some(SameSite::None) => SameSitePolicy::None,
            },
        }
    }

    /// What a new session stores: express's `'auto'` becomes `'none'` on a
    /// secure request and `'lax'` otherwise; anything else is kept as given.
    pub(crate) fn resolve(self, secure_request: bool) -> Member<SameSite> {
        let lower = |same_site| Member::On(same_site, Spelling::Text(Case::LOWER));
        match self.0 {
            SameSiteOption::Auto if secure_request => lower(SameSite::None),
            SameSiteOption::Auto => lower(SameSite::Lax),
            SameSiteOption::Fixed(member) => member,
        }
    }
}

impl From<SameSitePolicy> for ExpressSameSite {
    /// The policy, stored in lower case; `Off` is stored as `false`.
    fn from(policy: SameSitePolicy) -> Self {
        Self(match policy {
            SameSitePolicy::Auto => SameSiteOption::Auto,
            SameSitePolicy::Off => SameSiteOption::Fixed(Member::Off(Falsy::False)),
            SameSitePolicy::Strict => SameSiteOption::Fixed(Member::typed(Some(SameSite::Strict))),
            SameSitePolicy::Lax => SameSiteOption::Fixed(Member::typed(Some(SameSite::Lax))),
            SameSitePolicy::None => SameSiteOption::Fixed(Member::typed(Some(SameSite::None))),
        })
    }
}

/// express's `cookie.priority` option exactly as a Node app writes it:
/// `"low"`, `"medium"` or `"high"` in any case (`"HIGH"`, `"Medium"`), or
/// a falsy `null`, `false`, `0` or `""` (no attribute).
///
/// It sends the same attribute as the matching [`Priority`] (`"HIGH"` is
/// `Priority=High`), and new sessions store it as given, as express does.
/// Give it to [`CookieOptions::with_express_priority`].
///
/// ```
/// use serde_json::json;
/// use server_session::{ExpressPriority, Priority};
///
/// let priority = ExpressPriority::from_json(&json!("LOW")).expect("valid");
/// assert_eq!(priority.priority(), Some(Priority::Low));
/// assert_eq!(priority.to_json(), json!("LOW"));
/// assert_eq!(ExpressPriority::from_json(&json!(true)), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExpressPriority(Member<Priority>);

impl ExpressPriority {
    /// Reads express's option value. `None` for a value the `cookie`
    /// package refuses (`option priority is invalid`): a truthy value that
    /// is not one of the three keywords in some case.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        Member::from_json(Scalar::from(value)).map(Self)
    }

    /// The option as JSON, as given.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::to_value(self.0).unwrap_or(serde_json::Value::Null)
    }

    /// The attribute it sends, if any.
    pub fn priority(self) -> Option<Priority> {
        self.0.value()
    }
}

impl From<Priority> for ExpressPriority {
    /// The priority, stored in lower case.
    fn from(priority: Priority) -> Self {
        Self(Member::typed(Some(priority)))
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
    pub(crate) same_site: Option<ExpressSameSite>,
    pub(crate) lifetime: Lifetime,
    pub(crate) partitioned: Option<bool>,
    // Absent unless set, as in express.
    pub(crate) priority: Member<Priority>,
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
            priority: Member::Absent,
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

    /// The `SameSite` attribute (default [`SameSitePolicy::Off`]). New
    /// sessions store it in lower case (`"lax"`; `Off` as `false`); see
    /// [`with_express_same_site`](Self::with_express_same_site) to store
    /// express's spelling.
    #[must_use]
    pub fn with_same_site(mut self, same_site: SameSitePolicy) -> Self {
        self.same_site = Some(same_site.into());
        self
    }

    /// The `SameSite` attribute from express's option as a Node app gives
    /// it (`true`, `"Lax"`, …): the same attribute as its
    /// [`policy`](ExpressSameSite::policy), and new sessions store the
    /// option as given, as express does. Replaces an earlier
    /// [`with_same_site`](Self::with_same_site).
    #[must_use]
    pub fn with_express_same_site(mut self, same_site: ExpressSameSite) -> Self {
        self.same_site = Some(same_site);
        self
    }

    /// The `SameSite` policy set, if any.
    pub fn same_site(&self) -> Option<SameSitePolicy> {
        self.same_site.map(ExpressSameSite::policy)
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

    /// The `Priority` attribute, stored in lower case (`"high"`); `None`
    /// (the default) leaves it out. See
    /// [`with_express_priority`](Self::with_express_priority) to store
    /// express's spelling.
    #[must_use]
    pub fn with_priority(mut self, priority: Option<Priority>) -> Self {
        self.priority = Member::typed(priority);
        self
    }

    /// The `Priority` attribute from express's option as a Node app gives
    /// it (`"HIGH"`, `"Low"`, `null`, …): the same attribute as its
    /// [`priority`](ExpressPriority::priority), and new sessions store the
    /// option as given, as express does. Replaces an earlier
    /// [`with_priority`](Self::with_priority).
    #[must_use]
    pub fn with_express_priority(mut self, priority: ExpressPriority) -> Self {
        self.priority = priority.0;
        self
    }

    /// The `Priority` attribute set, if any.
    pub fn priority(&self) -> Option<Priority> {
        self.priority.value()
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
                    Err(ConfigError::invalid_value(
                        "cookie.max_age",
                        format_args!("{max_age_ms} ms"),
                        format!(
                            "from now, it is past the last JavaScript date ({}), where \
                             express's `new Date(Date.now() + maxAge)` is invalid",
                            clock::to_iso(clock::JS_DATE_LIMIT_MS)
                        ),
                    ))
                }
            }
            Lifetime::Expires(at) => {
                let at_ms = clock::system_time_to_ms(at);
                if clock::is_js_date(at_ms) {
                    Ok(())
                } else {
                    Err(ConfigError::invalid_value(
                        "cookie.expires",
                        format_args!("{at_ms} ms since 1970"),
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
    use crate::codec::Secrets;
    use crate::engine::cookie::{new_session_cookie, set_cookie_header};
    use serde_json::{json, Value};

    /// What a new session made with `cookie` stores for `sameSite` and
    /// `priority` (`Value::Null` inside `Some` for a stored `null`), and the
    /// `SameSite`/`Priority` attributes its `Set-Cookie` carries.
    fn new_session(
        cookie: &CookieOptions,
        secure_request: bool,
    ) -> (Option<Value>, Option<Value>, Vec<String>) {
        let data = new_session_cookie(cookie, secure_request, 0);
        let stored = serde_json::to_value(&data).expect("cookie JSON");
        let secrets = Secrets::new(["s"]).expect("a secret");
        let header = set_cookie_header("sid", "id", None, &data, &secrets).expect("a header");
        let attributes = header
            .split("; ")
            .filter(|part| part.starts_with("SameSite=") || part.starts_with("Priority="))
            .map(String::from)
            .collect();
        (
            stored.get("sameSite").cloned(),
            stored.get("priority").cloned(),
            attributes,
        )
    }

    #[test]
    fn express_same_site_is_stored_as_given_and_sent_as_cookie_0_7_sends_it() {
        let cases = [
            (json!(true), SameSitePolicy::Strict, Some("SameSite=Strict")),
            (
                json!("strict"),
                SameSitePolicy::Strict,
                Some("SameSite=Strict"),
            ),
            (
                json!("STRICT"),
                SameSitePolicy::Strict,
                Some("SameSite=Strict"),
            ),
            (
                json!("Strict"),
                SameSitePolicy::Strict,
                Some("SameSite=Strict"),
            ),
            (json!("lax"), SameSitePolicy::Lax, Some("SameSite=Lax")),
            (json!("Lax"), SameSitePolicy::Lax, Some("SameSite=Lax")),
            (json!("LAX"), SameSitePolicy::Lax, Some("SameSite=Lax")),
            (json!("none"), SameSitePolicy::None, Some("SameSite=None")),
            (json!("None"), SameSitePolicy::None, Some("SameSite=None")),
            (json!("nOnE"), SameSitePolicy::None, Some("SameSite=None")),
            (json!(false), SameSitePolicy::Off, None),
            (json!(null), SameSitePolicy::Off, None),
            (json!(0), SameSitePolicy::Off, None),
            (json!(""), SameSitePolicy::Off, None),
        ];
        for (json, policy, attribute) in cases {
            let option = ExpressSameSite::from_json(&json).unwrap_or_else(|| panic!("{json}"));
            assert_eq!(option.policy(), policy, "{json}");
            assert_eq!(option.to_json(), json, "{json}");
            let cookie = CookieOptions::new().with_express_same_site(option);
            assert_eq!(cookie.same_site(), Some(policy), "{json}");
            for secure_request in [false, true] {
                let (stored, _, sent) = new_session(&cookie, secure_request);
                assert_eq!(stored.as_ref(), Some(&json), "{json} is stored as given");
                assert_eq!(sent, Vec::from_iter(attribute.map(String::from)), "{json}");
            }
        }
    }

    #[test]
    fn express_auto_is_exact_and_stores_what_express_resolves_it_to() {
        let auto = ExpressSameSite::from_json(&json!("auto")).expect("auto");
        assert_eq!(auto.policy(), SameSitePolicy::Auto);
        assert_eq!(auto.to_json(), json!("auto"));
        assert_eq!(auto, ExpressSameSite::from(SameSitePolicy::Auto));
        let cookie = CookieOptions::new().with_express_same_site(auto);
        let (stored, _, sent) = new_session(&cookie, false);
        assert_eq!(stored, Some(json!("lax")));
        assert_eq!(sent, ["SameSite=Lax"]);
        let (stored, _, sent) = new_session(&cookie, true);
        assert_eq!(stored, Some(json!("none")));
        assert_eq!(sent, ["SameSite=None"]);
        // express compares `=== 'auto'`; `cookie` then refuses the rest.
        for json in [
            json!("Auto"),
            json!("AUTO"),
            json!("sometimes"),
            json!(1),
            json!({}),
        ] {
            assert_eq!(ExpressSameSite::from_json(&json), None, "{json}");
        }
    }

    #[test]
    fn express_priority_is_stored_as_given_and_sent_as_cookie_0_7_sends_it() {
        let cases = [
            (json!("low"), Some(Priority::Low), Some("Priority=Low")),
            (json!("LOW"), Some(Priority::Low), Some("Priority=Low")),
            (json!("Low"), Some(Priority::Low), Some("Priority=Low")),
            (
                json!("medium"),
                Some(Priority::Medium),
                Some("Priority=Medium"),
            ),
            (
                json!("Medium"),
                Some(Priority::Medium),
                Some("Priority=Medium"),
            ),
            (
                json!("MEDIUM"),
                Some(Priority::Medium),
                Some("Priority=Medium"),
            ),
            (json!("high"), Some(Priority::High), Some("Priority=High")),
            (json!("HIGH"), Some(Priority::High), Some("Priority=High")),
            (json!("hIgH"), Some(Priority::High), Some("Priority=High")),
            (json!(null), None, None),
            (json!(false), None, None),
            (json!(0), None, None),
            (json!(""), None, None),
        ];
        for (json, priority, attribute) in cases {
            let option = ExpressPriority::from_json(&json).unwrap_or_else(|| panic!("{json}"));
            assert_eq!(option.priority(), priority, "{json}");
            assert_eq!(option.to_json(), json, "{json}");
            let cookie = CookieOptions::new().with_express_priority(option);
            assert_eq!(cookie.priority(), priority, "{json}");
            let (_, stored, sent) = new_session(&cookie, false);
            assert_eq!(stored.as_ref(), Some(&json), "{json} is stored as given");
            assert_eq!(sent, Vec::from_iter(attribute.map(String::from)), "{json}");
        }
        for json in [json!(true), json!("highest"), json!(3), json!([])] {
            assert_eq!(ExpressPriority::from_json(&json), None, "{json}");
        }
    }

    #[test]
    fn typed_options_store_lower_case_as_before() {
        let cases = [
            (SameSitePolicy::Strict, Some(json!("strict"))),
            (SameSitePolicy::Lax, Some(json!("lax"))),
            (SameSitePolicy::None, Some(json!("none"))),
            (SameSitePolicy::Off, Some(json!(false))),
        ];
        for (policy, json) in cases {
            let cookie = CookieOptions::new().with_same_site(policy);
            assert_eq!(new_session(&cookie, false).0, json, "{policy:?}");
            assert_eq!(ExpressSameSite::from(policy).policy(), policy);
        }
        let (same_site, priority, sent) = new_session(&CookieOptions::new(), false);
        assert_eq!((same_site, priority), (None, None), "left out unless set");
        assert!(sent.is_empty());
        let cookie = CookieOptions::new().with_priority(Some(Priority::High));
        let (_, priority, sent) = new_session(&cookie, false);
        assert_eq!(priority, Some(json!("high")));
        assert_eq!(sent, ["Priority=High"]);
        assert_eq!(
            ExpressPriority::from(Priority::Medium).to_json(),
            json!("medium")
        );
        assert_eq!(new_session(&cookie.with_priority(None), false).1, None);
    }

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
            let cause = std::error::Error::source(&error).map(ToString::to_string);
            assert!(
                cause.is_some_and(|cause| cause.contains("JavaScript")),
                "{error:?}"
            );
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
