//! The layer's options, under express-session's names.
//!
//! ```
//! use std::time::Duration;
//! use server_session::{CookieOptions, SameSitePolicy, SecurePolicy, SessionConfig};
//!
//! let config = SessionConfig::new("a secret of at least 32 random bytes!!")
//!     .with_name("sid")
//!     .with_rolling(true)
//!     .with_cookie(
//!         CookieOptions::new()
//!             .with_max_age(Some(Duration::from_secs(3600)))
//!             .with_secure(SecurePolicy::Auto)
//!             .with_same_site(SameSitePolicy::Lax),
//!     );
//! assert_eq!(config.name(), "sid");
//! ```
//!
//! Nothing is checked until the layer is built:
//! [`SessionLayer::new`](crate::SessionLayer::new) returns a [`ConfigError`]
//! naming the first option that cannot work.

mod cookie_options;
mod error;
mod hardened;
mod header;
mod policy;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;

pub(crate) use cookie_options::Lifetime;
pub use cookie_options::{
    CookieOptions, ExpressPriority, ExpressSameSite, SameSitePolicy, SecurePolicy,
};
pub use error::ConfigError;
pub use hardened::{
    HARDENED_ABSOLUTE_TIMEOUT, HARDENED_COOKIE_NAME, HARDENED_IDLE_TIMEOUT,
    HARDENED_MIN_SECRET_BYTES,
};
pub(crate) use header::HeaderNames;
pub use header::{HeaderTransport, BEARER_RESPONSE_HEADER};
pub use policy::{
    CircuitBreaker, CommitErrorPolicy, ConflictPolicy, CorruptRecordPolicy, LoadErrorPolicy,
    PathMatch, SessionLimit, Unset,
};

use crate::codec::{self, Secrets};
use crate::user_path::UserPath;
use crate::SessionError;

pub(crate) type GenId = Arc<dyn Fn(&Parts) -> String + Send + Sync>;
pub(crate) type CookieFn = Arc<dyn Fn(&Parts) -> CookieOptions + Send + Sync>;
pub(crate) type ErrorHook = Arc<dyn Fn(&SessionError) + Send + Sync>;

/// Where each request's cookie options come from.
#[derive(Clone)]
pub(crate) enum CookieSource {
    Fixed(Arc<CookieOptions>),
    PerRequest(CookieFn),
}

/// The session layer's options. Defaults follow express-session except
/// `resave` and `save_uninitialized`, which default to `false` (express's
/// own recommendation, and its v2 default). See the [module docs](self).
#[derive(Clone)]
pub struct SessionConfig {
    pub(crate) name: String,
    pub(crate) secrets: Vec<Vec<u8>>,
    pub(crate) genid: Option<GenId>,
    pub(crate) cookie: CookieSource,
    pub(crate) proxy: Option<bool>,
    pub(crate) resave: bool,
    pub(crate) rolling: bool,
    pub(crate) save_uninitialized: bool,
    pub(crate) unset: Unset,
    pub(crate) path_match: PathMatch,
    pub(crate) load_error: LoadErrorPolicy,
    pub(crate) corrupt_record: CorruptRecordPolicy,
    pub(crate) commit_error: CommitErrorPolicy,
    pub(crate) error_hook: Option<ErrorHook>,
    pub(crate) store_timeout: Duration,
    pub(crate) circuit_breaker: Option<CircuitBreaker>,
    pub(crate) conflict: ConflictPolicy,
    pub(crate) resign_old_secret: bool,
    pub(crate) clear_cookie_on_destroy: bool,
    pub(crate) absolute_timeout: Option<Duration>,
    pub(crate) touch_after: Option<Duration>,
    /// Where the user ID lives in the data (`passport.user`), as given.
    pub(crate) user_path: Option<String>,
    /// How many live sessions one user may have.
    pub(crate) sessions_per_user: Option<SessionLimit>,
    /// Record the client's user agent and address at sign-in.
    pub(crate) sign_in_details: bool,
    /// Started from [`SessionConfig::hardened`]: stricter checks.
    pub(crate) hardened: bool,
    /// The key that hashes IDs at rest, when they are.
    pub(crate) id_hash_key: Option<Vec<u8>>,
    pub(crate) lazy_load: bool,
    /// The request/response header the session ID also (or only) travels in.
    pub(crate) header: Option<HeaderTransport>,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("name", &self.name)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("genid", &self.genid.as_ref().map(|_| "custom"))
            .field(
                "cookie",
                match &self.cookie {
                    CookieSource::Fixed(options) => options as &dyn fmt::Debug,
                    CookieSource::PerRequest(_) => &"per request",
                },
            )
            .field("proxy", &self.proxy)
            .field("resave", &self.resave)
            .field("rolling", &self.rolling)
            .field("save_uninitialized", &self.save_uninitialized)
            .field("unset", &self.unset)
            .field("path_match", &self.path_match)
            .field("load_error", &self.load_error)
            .field("corrupt_record", &self.corrupt_record)
            .field("commit_error", &self.commit_error)
            .field("store_timeout", &self.store_timeout)
            .field("circuit_breaker", &self.circuit_breaker)
            .field("conflict", &self.conflict)
            .field("resign_old_secret", &self.resign_old_secret)
            .field("clear_cookie_on_destroy", &self.clear_cookie_on_destroy)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("touch_after", &self.touch_after)
            .field("user_path", &self.user_path)
            .field("sessions_per_user", &self.sessions_per_user)
            .field("sign_in_details", &self.sign_in_details)
            .field("hardened", &self.hardened)
            .field("ids_hashed_at_rest", &self.id_hash_key.is_some())
            .field("lazy_load", &self.lazy_load)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl SessionConfig {
    /// Options with one signing secret and every other option at its
    /// default. Use at least 32 random bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self {
            name: String::from("connect.sid"),
            secrets: vec![secret.as_ref().to_vec()],
            genid: None,
            cookie: CookieSource::Fixed(Arc::new(CookieOptions::default())),
            proxy: None,
            resave: false,
            rolling: false,
            save_uninitialized: false,
            unset: Unset::Keep,
            path_match: PathMatch::Prefix,
            load_error: LoadErrorPolicy::InternalServerError,
            corrupt_record: CorruptRecordPolicy::NewSession,
            commit_error: CommitErrorPolicy::ServiceUnavailable,
            error_hook: None,
            store_timeout: Duration::from_secs(5),
            circuit_breaker: Some(CircuitBreaker::new()),
            conflict: ConflictPolicy::Merge,
            resign_old_secret: false,
            clear_cookie_on_destroy: false,
            absolute_timeout: None,
            touch_after: None,
            user_path: None,
            sessions_per_user: None,
            sign_in_details: false,
            hardened: false,
            id_hash_key: None,
            lazy_load: false,
            header: None,
        }
    }

    /// express's `secret` as an array, for rotation: the first secret signs,
    /// and every one is tried, in order, to verify. Replaces the secret
    /// given to [`new`](Self::new).
    #[must_use]
    pub fn with_secrets<I, K>(mut self, secrets: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        self.secrets = secrets.into_iter().map(|s| s.as_ref().to_vec()).collect();
        self
    }

    /// The cookie name (default `connect.sid`).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// express's `genid`: makes new session IDs from the request head. The
    /// default is 24 random bytes in base64url (32 characters). Keep at
    /// least 128 bits of entropy.
    ///
    /// Every ID it returns is checked: one that is empty, longer than 255
    /// bytes or holds a control character fails the request with 500 (and
    /// [`SessionError::InvalidId`] to the error hook), and so does one
    /// already taken by a stored session after a few draws. A new session is
    /// only ever stored under an ID nobody holds, so a `genid` that repeats
    /// itself can never hand one visitor another's session.
    #[must_use]
    pub fn with_genid(mut self, genid: impl Fn(&Parts) -> String + Send + Sync + 'static) -> Self {
        self.genid = Some(Arc::new(genid));
        self
    }

    /// The cookie options (express's `cookie` object).
    #[must_use]
    pub fn with_cookie(mut self, cookie: CookieOptions) -> Self {
        self.cookie = CookieSource::Fixed(Arc::new(cookie));
        self
    }

    /// express's function form of `cookie`: options computed for each
    /// request (per tenant domain, for example). Unlike express, `Auto`
    /// values are resolved in this form too. These options cannot be checked
    /// when the layer is built: a `max_age` or `expires` past JavaScript's
    /// dates gives the cookie the nearest JavaScript date, with a `tracing`
    /// warning, where express would fail the request.
    #[must_use]
    pub fn with_cookie_fn(
        mut self,
        cookie: impl Fn(&Parts) -> CookieOptions + Send + Sync + 'static,
    ) -> Self {
        self.cookie = CookieSource::PerRequest(Arc::new(cookie));
        self
    }

    /// express's `proxy`: `Some(true)` trusts `X-Forwarded-Proto`,
    /// `Some(false)` trusts nothing but an `https` request URI, and `None`
    /// (the default) uses the [`IsSecure`](crate::IsSecure) hint that the
    /// server put in the request extensions.
    #[must_use]
    pub fn with_proxy(mut self, proxy: Option<bool>) -> Self {
        self.proxy = proxy;
        self
    }

    /// express's `resave`: save the session on every request, even when it
    /// did not change (default `false`).
    #[must_use]
    pub fn with_resave(mut self, resave: bool) -> Self {
        self.resave = resave;
        self
    }

    /// express's `rolling`: send the cookie, with a fresh expiry, on every
    /// response (default `false`).
    #[must_use]
    pub fn with_rolling(mut self, rolling: bool) -> Self {
        self.rolling = rolling;
        self
    }

    /// express's `saveUninitialized`: store new sessions even when the
    /// handler put nothing in them (default `false`).
    #[must_use]
    pub fn with_save_uninitialized(mut self, save_uninitialized: bool) -> Self {
        self.save_uninitialized = save_uninitialized;
        self
    }

    /// express's `unset` (default [`Unset::Keep`]).
    #[must_use]
    pub fn with_unset(mut self, unset: Unset) -> Self {
        self.unset = unset;
        self
    }

    /// How the cookie path gates requests (default [`PathMatch::Prefix`], as
    /// express 1.19.0).
    #[must_use]
    pub fn with_path_match(mut self, path_match: PathMatch) -> Self {
        self.path_match = path_match;
        self
    }

    /// What to answer when loading a session fails (default 500, as express).
    #[must_use]
    pub fn with_load_error_policy(mut self, policy: LoadErrorPolicy) -> Self {
        self.load_error = policy;
        self
    }

    /// What to do when a stored session cannot be read (corrupt JSON, a
    /// record without `cookie`, …). The default starts a fresh session, so
    /// one unreadable record never answers 500 to its user until it expires.
    #[must_use]
    pub fn with_corrupt_record_policy(mut self, policy: CorruptRecordPolicy) -> Self {
        self.corrupt_record = policy;
        self
    }

    /// What to do with the response when the end-of-request store write
    /// fails (default [`CommitErrorPolicy::ServiceUnavailable`]: a 503, so
    /// that no client sees a success for a change that was not stored;
    /// express keeps the response).
    #[must_use]
    pub fn with_commit_error_policy(mut self, policy: CommitErrorPolicy) -> Self {
        self.commit_error = policy;
        self
    }

    /// Called with every store or cookie error the layer handles, besides
    /// the `tracing` event it logs.
    #[must_use]
    pub fn with_error_hook(mut self, hook: impl Fn(&SessionError) + Send + Sync + 'static) -> Self {
        self.error_hook = Some(Arc::new(hook));
        self
    }

    /// The longest a store call may take (default 5 s); past it the call
    /// fails with [`StoreError::Timeout`](crate::StoreError::Timeout).
    ///
    /// For stores that do not time their own calls. A store that does (the
    /// bundled Redis and SQL stores, through their `with_call_timeout`, see
    /// [`Store::own_timeout`](crate::Store::own_timeout)) keeps its own, and
    /// the layer adds no second timer: each call has one timeout,
    /// configured in one place.
    #[must_use]
    pub fn with_store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// Fail fast while the store is down (default: on, with
    /// [`CircuitBreaker::new`]); `None` turns it off, and every call then
    /// waits on the store up to the store timeout, as express does.
    #[must_use]
    pub fn with_circuit_breaker(mut self, breaker: Option<CircuitBreaker>) -> Self {
        self.circuit_breaker = breaker;
        self
    }

    /// What a save does when another request or process changed the stored
    /// session meanwhile (default [`ConflictPolicy::Merge`]: no lost updates).
    #[must_use]
    pub fn with_conflict_policy(mut self, policy: ConflictPolicy) -> Self {
        self.conflict = policy;
        self
    }

    /// Re-issue a cookie that an older secret verified, signed with the
    /// first secret, on the response to that request (default off, as in
    /// express). Then a rotation completes: once every active browser has
    /// made one request, the old secret verifies nothing anyone holds and can
    /// be dropped.
    ///
    /// ```
    /// # use server_session::SessionConfig;
    /// let config = SessionConfig::new("the new secret, 32 random bytes or more")
    ///     .with_secrets(["the new secret, 32 random bytes or more", "the old one"])
    ///     .with_resign_old_secret(true);
    /// ```
    #[must_use]
    pub fn with_resign_old_secret(mut self, resign: bool) -> Self {
        self.resign_old_secret = resign;
        self
    }

    /// Make [`Session::destroy`](crate::Session::destroy) and
    /// [`Session::unset`](crate::Session::unset) expire the browser's cookie
    /// (same name, `Path` and `Domain`, an `Expires` in 1970), so that the
    /// browser forgets the ID at once (default off: express leaves the stale
    /// cookie, which then just finds no session).
    #[must_use]
    pub fn with_clear_cookie_on_destroy(mut self, clear: bool) -> Self {
        self.clear_cookie_on_destroy = clear;
        self
    }

    /// A hard maximum lifetime for every session, counted from its creation
    /// (default none, as in express). Activity never extends it, and neither
    /// does [`Session::cycle_id`](crate::Session::cycle_id);
    /// [`Session::regenerate`](crate::Session::regenerate) starts a new
    /// session, and so a new lifetime. It works beside the idle timeout
    /// (`max_age` with touches, or `rolling`): a session ends at whichever
    /// comes first.
    ///
    /// The creation time is kept in the stored record (the data key
    /// `__sessionCreatedAt`, which express round-trips; handlers never see
    /// it). A session past its deadline is destroyed and the request gets a
    /// fresh one; the store's expiry is never set past the deadline, so the
    /// store drops the session by itself. A session stored without a
    /// creation time (by express, or before this option was set) counts from
    /// its first use.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use server_session::{CookieOptions, SessionConfig};
    /// // Idle for 30 minutes, or 12 hours in all, whichever comes first.
    /// let config = SessionConfig::new("a secret of at least 32 random bytes!!")
    ///     .with_rolling(true)
    ///     .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_secs(30 * 60))))
    ///     .with_absolute_timeout(Some(Duration::from_secs(12 * 3600)));
    /// ```
    #[must_use]
    pub fn with_absolute_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// Touches that don't write (connect-mongo's `touchAfter`; default
    /// none: every unchanged request touches, as in express).
    ///
    /// With a duration set, a request that leaves its session unchanged
    /// extends the stored expiry only when the touch would move it later by
    /// more than that duration; otherwise the request is a pure read on
    /// every store (one `GET` and `PTTL` round trip on Redis, one `SELECT`
    /// on SQL) and writes nothing. The stored expiry is then never earlier
    /// than the one express would have stored by more than the duration, so
    /// the idle timeout shortens by at most that much, and a Node app on the
    /// same store still sees the session live. Pick a duration well under
    /// `max_age` (an hour for a day, say).
    ///
    /// - A changed session is saved as always; the save writes the expiry.
    /// - `resave` still saves every request: that write is what it asks for.
    ///   Use this option with `resave` off.
    /// - `rolling` still sends the cookie on every request, with the
    ///   browser's expiry moved; the store's expiry follows this option, so
    ///   it may trail the browser's by up to the duration.
    /// - Browser-session cookies (no `max_age`) touch every request: their
    ///   stored lifetime is the store's own default, which the layer does
    ///   not know.
    /// - With an absolute timeout, the touch an expiry is compared with is
    ///   clamped at the deadline, as the touch itself is.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use server_session::{CookieOptions, SessionConfig};
    /// // A day's idle timeout, written at most once an hour per session.
    /// let config = SessionConfig::new("a secret of at least 32 random bytes!!")
    ///     .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_secs(24 * 3600))))
    ///     .with_touch_after(Some(Duration::from_secs(3600)));
    /// ```
    #[must_use]
    pub fn with_touch_after(mut self, touch_after: Option<Duration>) -> Self {
        self.touch_after = touch_after;
        self
    }

    /// Where the signed-in user's ID lives in the session data, as a dotted
    /// path: `"passport.user"` for express apps with Passport, or `"user"`.
    /// Default: none.
    ///
    /// With it, the layer keeps a per-user index of sessions in the store,
    /// so that [`UserSessions`](crate::UserSessions) can list a user's
    /// sessions, revoke one, or sign the user out everywhere; and
    /// [`Session::set_user`](crate::Session::set_user) signs a user in. The
    /// index costs one store call when a session first holds a user (at
    /// sign-in, or when a signed-in session gets a new ID), and nothing on
    /// other requests.
    ///
    /// Changing the user is a change of privilege: give the session a new
    /// ID with it ([`Session::cycle_id`](crate::Session::cycle_id)), or a
    /// session fixed by an attacker before sign-in becomes the victim's.
    ///
    /// An invalid path (see [`UserPath`]) is a
    /// [`ConfigError`] when the layer is built.
    ///
    /// ```
    /// # use server_session::SessionConfig;
    /// let config = SessionConfig::new("a secret of at least 32 random bytes!!")
    ///     .with_user_path(Some("passport.user"));
    /// ```
    #[must_use]
    pub fn with_user_path(mut self, path: Option<&str>) -> Self {
        self.user_path = path.map(str::to_owned);
        self
    }

    /// How many live sessions one user may have (OWASP ASVS 7.1.2), checked
    /// when [`Session::sign_in`](crate::Session::sign_in) signs a user in:
    /// evict the least recently active, or refuse the new sign-in. Default:
    /// no limit. Needs [`with_user_path`](Self::with_user_path); a limit of
    /// 0 is a [`ConfigError`]. The check lists the user's sessions, so a
    /// sign-in costs one more store call with a limit than without.
    ///
    /// ```
    /// # use server_session::{SessionConfig, SessionLimit};
    /// let config = SessionConfig::new("a secret of at least 32 random bytes!!")
    ///     .with_user_path(Some("user"))
    ///     .with_sessions_per_user(Some(SessionLimit::EvictOldest(5)));
    /// ```
    #[must_use]
    pub fn with_sessions_per_user(mut self, limit: Option<SessionLimit>) -> Self {
        self.sessions_per_user = limit;
        self
    }

    /// Record, at each sign-in ([`Session::set_user`](crate::Session::set_user)),
    /// when it happened, the client's `User-Agent` (at most 512
    /// characters) and its address (the [`ClientAddr`](crate::ClientAddr)
    /// in the request extensions, if any), so that a "your sessions" page
    /// can tell the user's browsers apart
    /// ([`SessionInfo`](crate::users::SessionInfo)). Default: off, as this is
    /// personal data the session then keeps (under the reserved key
    /// `__signIn`) for as long as it lives.
    #[must_use]
    pub fn with_sign_in_details(mut self, record: bool) -> Self {
        self.sign_in_details = record;
        self
    }

    /// The parsed [`with_user_path`](Self::with_user_path), once
    /// [`validate`](Self::validate) has accepted it.
    pub(crate) fn parsed_user_path(&self) -> Option<UserPath> {
        UserPath::parse(self.user_path.as_deref()?).ok()
    }

    /// Store each session under a keyed hash of its ID
    /// (`base64url(HMAC-SHA256(key, id))`) instead of the ID itself, on every
    /// store (default off, as in express). A leaked dump, a backup or a
    /// read-only store credential then yields no usable cookie.
    ///
    /// **This mode cannot share sessions with Node**: express-session looks
    /// sessions up by the raw ID. Keep the key as secret as the signing
    /// secrets, at least 32 random bytes, and separate from them, so that
    /// rotating a signing secret leaves every stored session where it is;
    /// changing this key orphans every stored session. `Store::all` lists
    /// the hashed keys.
    #[must_use]
    pub fn with_hashed_ids_at_rest(mut self, key: impl AsRef<[u8]>) -> Self {
        self.id_hash_key = Some(key.as_ref().to_vec());
        self
    }

    /// Load a request's session only when a handler first extracts it
    /// (axum's `Session` or `Option<Session>`), as tower-sessions does,
    /// instead of before every handler, as express does (the default). A
    /// handler that never extracts its session then never waits on the
    /// store, so it keeps working while the store is down.
    ///
    /// What changes in express's semantics, for a request that carries a
    /// session cookie but never extracts the session: its idle timeout is
    /// not extended (no touch) and `rolling` sends no cookie. Requests that
    /// extract it behave as before. Without axum, take the session with the
    /// extractor's logic: this mode is for axum handlers.
    #[must_use]
    pub fn with_lazy_load(mut self, lazy: bool) -> Self {
        self.lazy_load = lazy;
        self
    }

    /// Let the signed session ID travel in a request header, for clients
    /// without cookies, and come back in a response header when the client
    /// needs a new value (default `None`: the cookie only, as in express).
    /// See [`HeaderTransport`] for the format, when the response header is
    /// sent, and which wins when a request carries both a cookie and the
    /// header. The ID is never read from the URL.
    ///
    /// ```
    /// use server_session::{HeaderTransport, SessionConfig};
    ///
    /// let config = SessionConfig::new("use at least 32 random bytes here!!")
    ///     .with_header(Some(HeaderTransport::bearer()));
    /// ```
    #[must_use]
    pub fn with_header(mut self, header: Option<HeaderTransport>) -> Self {
        self.header = header;
        self
    }

    /// The cookie name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The header transport, if the session ID may travel in a header.
    pub fn header(&self) -> Option<&HeaderTransport> {
        self.header.as_ref()
    }

    /// Whether the session cookie is read and sent: always, unless a
    /// header transport replaces it.
    pub(crate) fn uses_cookie(&self) -> bool {
        self.header.as_ref().map_or(true, HeaderTransport::cookie)
    }

    /// Checks every option; the layer calls it when it is built.
    pub(crate) fn validate(&self) -> Result<Secrets, ConfigError> {
        codec::validate_name(&self.name)
            .map_err(|error| ConfigError::invalid_value("name", &self.name, error))?;
        hardened::check_name_length(&self.name)?;
        if self.secrets.iter().any(|secret| secret.is_empty()) {
            return Err(ConfigError::invalid("secret", "a secret must not be empty"));
        }
        let secrets = Secrets::new(&self.secrets)
            .ok_or_else(|| ConfigError::invalid("secret", "at least one secret is required"))?;
        if !self.hardened
            && self
                .secrets
                .iter()
                .any(|secret| secret.len() < hardened::HARDENED_MIN_SECRET_BYTES)
        {
            // express accepts any secret; a short one can be guessed offline
            // from a single signed cookie.
            tracing::warn!(
                "a session secret is shorter than 32 bytes: use at least 32 random bytes"
            );
        }
        if self.hardened {
            hardened::check_secret_lengths(&self.secrets)?;
        }
        if let Some(path) = &self.user_path {
            UserPath::parse(path)
                .map_err(|error| ConfigError::invalid_value("user_path", path, error))?;
        }
        if let Some(limit) = self.sessions_per_user {
            if limit.max() == 0 {
                return Err(ConfigError::invalid_value(
                    "sessions_per_user",
                    format_args!("{limit:?}"),
                    "a user may have at least one session",
                ));
            }
            if self.user_path.is_none() {
                return Err(ConfigError::invalid(
                    "sessions_per_user",
                    "a limit per user needs `with_user_path`",
                ));
            }
        }
        if let Some(key) = &self.id_hash_key {
            if key.len() < hardened::HARDENED_MIN_SECRET_BYTES {
                return Err(ConfigError::invalid(
                    "hashed_ids_at_rest",
                    "the key must be at least 32 bytes",
                ));
            }
        }
        if let CookieSource::Fixed(options) = &self.cookie {
            validate_cookie_options(options)?;
            hardened::check_name_prefix(&self.name, options)?;
            hardened::check_needs_secure(options, self.hardened)?;
        }
        if let Some(timeout) = self.absolute_timeout {
            let ms = crate::clock::duration_to_ms(timeout);
            if ms <= 0 || ms > crate::clock::JS_DATE_LIMIT_MS {
                return Err(ConfigError::invalid_value(
                    "absolute_timeout",
                    format_args!("{timeout:?}"),
                    "must be at least 1 ms and within JavaScript's dates (8.64e15 ms)",
                ));
            }
        }
        if let Some(touch_after) = self.touch_after {
            let ms = crate::clock::duration_to_ms(touch_after);
            if ms <= 0 || ms > crate::clock::JS_DATE_LIMIT_MS {
                return Err(ConfigError::invalid_value(
                    "touch_after",
                    format_args!("{touch_after:?}"),
                    "must be at least 1 ms and within JavaScript's dates (8.64e15 ms)",
                ));
            }
        }
        #[cfg(not(feature = "axum"))]
        if self.lazy_load {
            return Err(ConfigError::invalid_value(
                "lazy_load",
                true,
                "only the axum extractor loads a session lazily: enable the `axum` feature",
            ));
        }
        if self
            .circuit_breaker
            .is_some_and(|breaker| breaker.failure_threshold == 0)
        {
            return Err(ConfigError::invalid_value(
                "circuit_breaker.failure_threshold",
                0,
                "must be at least 1",
            ));
        }
        if let Some(header) = &self.header {
            header.names()?;
        }
        if self.store_timeout.is_zero() {
            return Err(ConfigError::invalid_value(
                "store_timeout",
                format_args!("{:?}", self.store_timeout),
                "must be more than zero",
            ));
        }
        Ok(secrets)
    }
}

pub(crate) fn validate_cookie_options(options: &CookieOptions) -> Result<(), ConfigError> {
    options.validate_lifetime(crate::clock::now_ms())?;
    codec::validate_path(&options.path)
        .map_err(|error| ConfigError::invalid_value("cookie.path", &options.path, error))?;
    if let Some(domain) = &options.domain {
        codec::validate_domain(domain)
            .map_err(|error| ConfigError::invalid_value("cookie.domain", domain, error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_express_except_resave_and_save_uninitialized() {
        let config = SessionConfig::new("s");
        assert_eq!(config.name(), "connect.sid");
        assert!(!config.resave && !config.save_uninitialized && !config.rolling);
        assert_eq!(config.unset, Unset::Keep);
        let CookieSource::Fixed(cookie) = &config.cookie else {
            panic!("fixed cookie options by default")
        };
        assert_eq!(**cookie, CookieOptions::default());
        assert_eq!(cookie.path(), "/");
        assert!(cookie.http_only);
    }

    #[test]
    fn invalid_options_name_the_option() {
        let cases = [
            (SessionConfig::new(""), "secret"),
            (
                SessionConfig::new("s").with_secrets(Vec::<&str>::new()),
                "secret",
            ),
            (SessionConfig::new("s").with_name("bad name"), "name"),
            (SessionConfig::new("s").with_name(""), "name"),
            (
                SessionConfig::new("s")
                    .with_cookie(CookieOptions::new().with_domain("bad domain!")),
                "cookie.domain",
            ),
            (
                SessionConfig::new("s").with_cookie(CookieOptions::new().with_path("/a;b")),
                "cookie.path",
            ),
            (
                SessionConfig::new("s").with_store_timeout(Duration::ZERO),
                "store_timeout",
            ),
        ];
        for (config, option) in cases {
            let error = config.validate().expect_err(option);
            assert_eq!(error.option(), option);
            assert!(error.to_string().starts_with(&format!("option `{option}`")));
        }
    }

    #[test]
    fn a_refused_secret_or_key_is_never_shown() {
        let secret = "a short secret";
        let refused = [
            SessionConfig::hardened(secret).validate(),
            SessionConfig::new("s")
                .with_hashed_ids_at_rest(secret)
                .validate(),
        ];
        for result in refused {
            let error = result.expect_err("too short");
            assert_eq!(error.value(), None, "{error:?}");
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let text = format!("{:?}", SessionConfig::new("hunter2"));
        assert!(!text.contains("hunter2"));
        assert!(text.contains("redacted"));
    }
}
