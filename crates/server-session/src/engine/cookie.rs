use std::sync::Arc;

use crate::clock;
use crate::codec::attributes::Member;
use crate::codec::{self, CookieError, Secrets, SetCookie};
use crate::config::{CookieOptions, Lifetime, SecurePolicy};
use crate::store::CookieData;

/// The cookie a newly generated session starts with (express's `new
/// Cookie(options)` in `generate`), with `Auto` values resolved against the
/// request that creates it.
pub(crate) fn new_session_cookie(
    options: &CookieOptions,
    secure_request: bool,
    now_ms: i64,
) -> CookieData {
    let mut cookie = CookieData {
        domain: options.domain.clone(),
        path: Arc::clone(&options.path),
        http_only: options.http_only,
        secure: options.secure.map(|secure| match secure {
            SecurePolicy::Never => false,
            SecurePolicy::Always => true,
            SecurePolicy::Auto => secure_request,
        }),
        same_site: options.same_site.map_or(Member::Absent, |same_site| {
            same_site.resolve(secure_request)
        }),
        partitioned: options.partitioned,
        priority: options.priority,
        ..CookieData::default()
    };
    // Fixed options were checked when the layer was built; a per-request
    // cookie function's were not. Either way the setters keep the cookie
    // to JavaScript's dates (see `CookieData::set_max_age`), and the clamp
    // is logged, since it means options express would fail every request on.
    let wanted = match options.lifetime {
        Lifetime::BrowserSession => return cookie,
        Lifetime::MaxAge(max_age) => {
            let max_age_ms = clock::duration_to_ms(max_age);
            cookie.set_max_age(Some(max_age_ms), now_ms);
            now_ms.saturating_add(max_age_ms)
        }
        Lifetime::Expires(at) => {
            let at_ms = clock::system_time_to_ms(at);
            cookie.set_expires(Some(at_ms), now_ms);
            at_ms
        }
    };
    if cookie.expires != Some(wanted) {
        tracing::warn!(
            wanted_ms = wanted,
            "the cookie's max_age or expires is outside JavaScript's dates \
             (8.64e15 ms either side of 1970); the nearest JavaScript date is used"
        );
    }
    cookie
}

/// The `Set-Cookie` header value for session `id` with these settings.
/// `signed` is the request's own signed value (`<id>.<mac>`) for this ID,
/// when the signing secret made it: signing again would give the same text.
pub(crate) fn set_cookie_header(
    name: &str,
    id: &str,
    signed: Option<&str>,
    cookie: &CookieData,
    secrets: &Secrets,
) -> Result<String, CookieError> {
    let value = match signed {
        Some(signed) => codec::encode_signed(signed),
        None => codec::sign_session_id(id, secrets),
    };
    SetCookie {
        name,
        value: &value,
        domain: cookie.domain.as_deref(),
        path: Some(&cookie.path),
        expires_ms: cookie.expires,
        http_only: cookie.http_only,
        secure: cookie.secure == Some(true),
        partitioned: cookie.partitioned == Some(true),
        priority: cookie.priority(),
        same_site: cookie.same_site(),
    }
    .to_header_value()
}

/// A `Set-Cookie` header value that makes the browser drop its cookie
/// `name`: empty, expired in 1970, with the attributes it was set with (a
/// browser only replaces a cookie of the same name, domain and path, and a
/// prefixed name keeps its `Secure` and `Path=/` rules for the deletion too).
pub(crate) fn clear_cookie_header(name: &str, cookie: &CookieData) -> Result<String, CookieError> {
    SetCookie {
        name,
        value: "",
        domain: cookie.domain.as_deref(),
        path: Some(&cookie.path),
        expires_ms: Some(0),
        http_only: cookie.http_only,
        secure: cookie.secure == Some(true),
        partitioned: cookie.partitioned == Some(true),
        priority: None,
        same_site: cookie.same_site(),
    }
    .to_header_value()
}
