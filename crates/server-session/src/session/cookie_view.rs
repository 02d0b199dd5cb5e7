use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Session;
use crate::clock;
use crate::codec::attributes::Member;
use crate::store::{CookieData, Priority, SameSite};

/// The session's own cookie settings (express's `req.session.cookie`).
///
/// Changes apply to this session only, and are stored with it. As in
/// express they do not by themselves count as a change of the session: on a
/// loaded session the new cookie is sent when the data changes too, or
/// with `rolling`.
///
/// ```
/// # async fn handler(session: server_session::Session) {
/// use std::time::Duration;
/// // "Remember me": keep this user's session for 30 days.
/// session.cookie().set_max_age(Some(Duration::from_secs(30 * 24 * 3600)));
/// # }
/// ```
#[derive(Debug)]
pub struct SessionCookie<'a> {
    session: &'a Session,
}

impl<'a> SessionCookie<'a> {
    pub(super) fn new(session: &'a Session) -> Self {
        Self { session }
    }

    fn read<T>(&self, f: impl FnOnce(&CookieData) -> T) -> T {
        self.session.with_cookie(|cookie| f(cookie))
    }

    fn write(&self, f: impl FnOnce(&mut CookieData)) {
        self.session.with_cookie(f);
    }

    /// A copy of every setting, as stored (`JSON.stringify(req.session.cookie)`
    /// is `serde_json::to_string(&cookie.data())`).
    pub fn data(&self) -> CookieData {
        self.read(CookieData::clone)
    }

    /// express's `maxAge`: milliseconds until `expires`, negative once
    /// past; `None` for a browser-session cookie.
    pub fn max_age_ms(&self) -> Option<i64> {
        self.read(|cookie| cookie.max_age_ms(clock::now_ms()))
    }

    /// express's `maxAge` as a duration; zero once past, `None` for a
    /// browser-session cookie.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age_ms()
            .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
    }

    /// express's `originalMaxAge`: the lifetime the session was given, in
    /// milliseconds.
    pub fn original_max_age_ms(&self) -> Option<i64> {
        self.read(CookieData::original_max_age_ms)
    }

    /// When the cookie expires; `None` for a browser-session cookie.
    pub fn expires(&self) -> Option<SystemTime> {
        self.read(CookieData::expires)
    }

    /// Sets `maxAge`: the session now lives this long after every touch.
    /// `None` makes a browser-session cookie.
    ///
    /// A lifetime that runs past the last JavaScript date (13 September
    /// 275760; [`Duration::MAX`], say) ends on that date instead, with the
    /// lifetime that reaches it. express would make an Invalid Date there,
    /// store `"expires":null` and fail the response.
    pub fn set_max_age(&self, max_age: Option<Duration>) {
        self.set_max_age_ms(max_age.map(clock::duration_to_ms));
    }

    /// Sets `maxAge` in milliseconds, as express's setter does (zero or
    /// negative values expire the session). Kept within JavaScript's dates
    /// as [`set_max_age`](Self::set_max_age) is.
    pub fn set_max_age_ms(&self, max_age_ms: Option<i64>) {
        self.write(|cookie| cookie.set_max_age(max_age_ms, clock::now_ms()));
    }

    /// Sets `expires`, which as in express also sets the lifetime to the
    /// time left until then. A time outside JavaScript's dates (more than
    /// 8.64e15 ms from the epoch) becomes the nearest date JavaScript can
    /// hold.
    pub fn set_expires(&self, expires: Option<SystemTime>) {
        self.write(|cookie| {
            cookie.set_expires(expires.map(clock::system_time_to_ms), clock::now_ms())
        });
    }

    /// The `HttpOnly` flag.
    pub fn http_only(&self) -> bool {
        self.read(CookieData::http_only)
    }

    /// Sets `HttpOnly`.
    pub fn set_http_only(&self, http_only: bool) {
        self.write(|cookie| cookie.http_only = http_only);
    }

    /// The `Secure` flag.
    pub fn secure(&self) -> bool {
        self.read(|cookie| cookie.secure == Some(true))
    }

    /// Sets `Secure`.
    pub fn set_secure(&self, secure: bool) {
        self.write(|cookie| cookie.secure = Some(secure));
    }

    /// The `Domain` attribute.
    pub fn domain(&self) -> Option<String> {
        self.read(|cookie| cookie.domain.as_deref().map(String::from))
    }

    /// Sets the `Domain` attribute. An invalid domain is reported when the
    /// cookie is written, and the cookie is then not sent.
    pub fn set_domain(&self, domain: Option<String>) {
        self.write(|cookie| cookie.domain = domain.map(Arc::from));
    }

    /// The `Path` attribute.
    pub fn path(&self) -> String {
        self.read(|cookie| cookie.path.to_string())
    }

    /// Sets the `Path` attribute.
    pub fn set_path(&self, path: impl AsRef<str>) {
        let path = crate::codec::attributes::shared_path(path.as_ref());
        self.write(|cookie| cookie.path = path);
    }

    /// The `SameSite` attribute, however it is stored (express's `true`
    /// and `"strict"` are both [`SameSite::Strict`]).
    pub fn same_site(&self) -> Option<SameSite> {
        self.read(CookieData::same_site)
    }

    /// Sets the `SameSite` attribute, stored in lower case (`"lax"`), or
    /// leaves it out with `None`.
    pub fn set_same_site(&self, same_site: Option<SameSite>) {
        self.write(|cookie| cookie.same_site = Member::typed(same_site));
    }

    /// The `Priority` attribute, however it is stored (`"HIGH"` and
    /// `"high"` are both [`Priority::High`]).
    pub fn priority(&self) -> Option<Priority> {
        self.read(CookieData::priority)
    }

    /// Sets the `Priority` attribute, stored in lower case (`"high"`), or
    /// leaves it out with `None`.
    pub fn set_priority(&self, priority: Option<Priority>) {
        self.write(|cookie| cookie.priority = Member::typed(priority));
    }

    /// The `Partitioned` flag.
    pub fn partitioned(&self) -> bool {
        self.read(|cookie| cookie.partitioned == Some(true))
    }

    /// Sets the `Partitioned` flag.
    pub fn set_partitioned(&self, partitioned: bool) {
        self.write(|cookie| cookie.partitioned = Some(partitioned));
    }
}
