//! The session ID in a request header, for clients without cookies
//! (mobile apps, API clients, single-page apps that keep a token).

use http::HeaderName;

use super::ConfigError;

/// The response header [`HeaderTransport::bearer`] answers in: `Authorization`
/// is a request header only.
pub const BEARER_RESPONSE_HEADER: &str = "x-session-token";

/// Where a session ID travels besides (or instead of) the cookie: a request
/// header chosen in the configuration, and a response header that gives
/// the client a new value when it needs one. Set it with
/// [`SessionConfig::with_header`](super::SessionConfig::with_header).
///
/// The value is the cookie's signed value without the cookie's `s:` prefix
/// and URL encoding: `<id>.<signature>`, signed and verified with the same
/// secrets (rotation included), naming the same stored record. On input an
/// `s:` prefix is accepted too. A value that no secret verifies is "no
/// session", as a bad cookie is: the request gets a new session.
///
/// - [`bearer`](Self::bearer): `Authorization: Bearer <value>` in requests
///   (only the `Bearer` scheme, in any case; other schemes carry no session
///   ID), [`X-Session-Token`](BEARER_RESPONSE_HEADER) in responses.
/// - [`named`](Self::named): a header of your choice carries the value as
///   is, in requests and responses.
///
/// By default the cookie is then neither read nor sent; with
/// [`with_cookie(true)`](Self::with_cookie) both work, and when a request
/// carries a validly signed ID in each, **the header wins**: a client's code
/// sets the header on purpose, while a browser attaches cookies to every
/// request on its own, including cross-site ones (CSRF) and cookies planted
/// by a sibling subdomain.
///
/// The response header is sent when the client needs a new value: when a
/// session is stored for the first time, when its ID changes
/// ([`regenerate`](crate::Session::regenerate),
/// [`cycle_id`](crate::Session::cycle_id)), and, with
/// [`with_resign_old_secret`](super::SessionConfig::with_resign_old_secret),
/// when an older secret verified the request's value. Never for a session
/// the store did not keep. When a session the request's header named is
/// destroyed or unset, the response header is sent empty if
/// [`with_clear_cookie_on_destroy`](super::SessionConfig::with_clear_cookie_on_destroy)
/// is on ("forget your value"), and not at all otherwise. The ID is never
/// read from the URL.
///
/// ```
/// use server_session::{HeaderTransport, MemoryStore, SessionConfig, SessionLayer};
///
/// // API clients only: `Authorization: Bearer <value>`, no cookie.
/// let api = SessionConfig::new("use at least 32 random bytes here!!")
///     .with_header(Some(HeaderTransport::bearer()));
/// assert_eq!(api.header().map(HeaderTransport::response_header), Some("x-session-token"));
/// let layer = SessionLayer::new(MemoryStore::new(), api)?;
///
/// // Browsers keep their cookie; apps send `X-Session-Id` (which wins).
/// let both = SessionConfig::new("use at least 32 random bytes here!!")
///     .with_header(Some(HeaderTransport::named("X-Session-Id").with_cookie(true)));
/// let layer = SessionLayer::new(MemoryStore::new(), both)?;
/// # Ok::<(), server_session::ConfigError>(())
/// ```
///
/// A cross-origin client reads the response header only if CORS exposes
/// it (`Access-Control-Expose-Headers: x-session-token`), and sends the
/// request header only if CORS allows it (`Access-Control-Allow-Headers`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderTransport {
    request: String,
    response: String,
    bearer: bool,
    cookie: bool,
}

/// The header names of a [`HeaderTransport`], checked and parsed once.
#[derive(Clone, Debug)]
pub(crate) struct HeaderNames {
    pub(crate) request: HeaderName,
    pub(crate) response: HeaderName,
    /// `Authorization: Bearer <value>` rather than the value as is.
    pub(crate) bearer: bool,
}

impl HeaderTransport {
    /// `Authorization: Bearer <value>` in requests (RFC 6750), and the
    /// value in [`X-Session-Token`](BEARER_RESPONSE_HEADER) in responses.
    /// The cookie is neither read nor sent.
    pub fn bearer() -> Self {
        Self {
            request: String::from("authorization"),
            response: String::from(BEARER_RESPONSE_HEADER),
            bearer: true,
            cookie: false,
        }
    }

    /// The value as is in the header `name`, in requests and in responses.
    /// The cookie is neither read nor sent.
    ///
    /// The name is checked when the layer is built: it must be a valid
    /// header name, and not one HTTP or the library gives another meaning
    /// (`Cookie`, `Set-Cookie`, `Host`, hop-by-hop headers, …).
    /// `Authorization` is refused here: its value has a scheme, so use
    /// [`bearer`](Self::bearer).
    pub fn named(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            response: name.clone(),
            request: name,
            bearer: false,
            cookie: false,
        }
    }

    /// The response header that carries a new value (default: the request
    /// header for [`named`](Self::named), `X-Session-Token` for
    /// [`bearer`](Self::bearer)). Checked as the request header is.
    #[must_use]
    pub fn with_response_header(mut self, name: impl Into<String>) -> Self {
        self.response = name.into();
        self
    }

    /// Whether the session cookie still works beside the header (default
    /// `false`: header only). With `true`, the cookie is read and sent as
    /// without this option, and a validly signed ID in the header wins over
    /// the cookie's.
    #[must_use]
    pub fn with_cookie(mut self, cookie: bool) -> Self {
        self.cookie = cookie;
        self
    }

    /// The request header that carries the session ID, as given.
    pub fn request_header(&self) -> &str {
        &self.request
    }

    /// The response header that carries a new value, as given.
    pub fn response_header(&self) -> &str {
        &self.response
    }

    /// Whether the request header is `Authorization: Bearer <value>`.
    pub fn is_bearer(&self) -> bool {
        self.bearer
    }

    /// Whether the session cookie still works beside the header.
    pub fn cookie(&self) -> bool {
        self.cookie
    }

    /// Checks both header names.
    pub(crate) fn names(&self) -> Result<HeaderNames, ConfigError> {
        let request = if self.bearer {
            http::header::AUTHORIZATION
        } else {
            checked_name("header", &self.request)?
        };
        let response = checked_name("header.response", &self.response)?;
        Ok(HeaderNames {
            request,
            response,
            bearer: self.bearer,
        })
    }
}

/// Headers that already mean something to HTTP, to proxies or to the
/// session layer, where a session ID would be lost, misread or leaked.
const RESERVED: &[&str] = &[
    "cookie",
    "set-cookie",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "content-type",
    "content-encoding",
    "proxy-authorization",
    "proxy-authenticate",
    "www-authenticate",
    "location",
];

fn checked_name(option: &'static str, name: &str) -> Result<HeaderName, ConfigError> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|error| ConfigError::invalid_value(option, name, error))?;
    if parsed == http::header::AUTHORIZATION {
        let reason = match option {
            "header" => "its value has a scheme: use `HeaderTransport::bearer()`",
            _ => "`Authorization` is a request header",
        };
        return Err(ConfigError::invalid_value(option, name, reason));
    }
    if RESERVED.contains(&parsed.as_str()) {
        return Err(ConfigError::invalid_value(
            option,
            name,
            "this header already has a meaning in HTTP or for the session cookie",
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_reads_authorization_and_answers_in_x_session_token() {
        let names = HeaderTransport::bearer().names().expect("valid");
        assert_eq!(names.request, http::header::AUTHORIZATION);
        assert_eq!(names.response.as_str(), "x-session-token");
        assert!(names.bearer);
        assert!(!HeaderTransport::bearer().cookie());
    }

    #[test]
    fn a_named_header_answers_in_itself_unless_told_otherwise() {
        let names = HeaderTransport::named("X-Session-Id")
            .names()
            .expect("valid");
        assert_eq!(names.request.as_str(), "x-session-id");
        assert_eq!(names.response.as_str(), "x-session-id");
        assert!(!names.bearer);
        let names = HeaderTransport::named("x-session-id")
            .with_response_header("x-new-session-id")
            .names()
            .expect("valid");
        assert_eq!(names.response.as_str(), "x-new-session-id");
    }

    #[test]
    fn unusable_names_are_refused_naming_the_option_and_the_value() {
        let cases = [
            (HeaderTransport::named(""), "header", ""),
            (HeaderTransport::named("x session"), "header", "x session"),
            (HeaderTransport::named("Cookie"), "header", "Cookie"),
            (
                HeaderTransport::named("authorization"),
                "header",
                "authorization",
            ),
            (
                HeaderTransport::named("x-ok").with_response_header("set-cookie"),
                "header.response",
                "set-cookie",
            ),
            (
                HeaderTransport::bearer().with_response_header("Authorization"),
                "header.response",
                "Authorization",
            ),
            (
                HeaderTransport::named("x-ok").with_response_header("bad:name"),
                "header.response",
                "bad:name",
            ),
        ];
        for (transport, option, value) in cases {
            let error = transport.names().expect_err(value);
            assert_eq!(error.option(), option, "{value:?}");
            assert_eq!(error.value(), Some(value));
        }
    }
}
