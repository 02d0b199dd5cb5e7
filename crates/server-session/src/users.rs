//! Every session of a user: list them, revoke one, sign out everywhere.
//!
//! [`UserSessions`] works inside a handler ([`Session::user_sessions`]) and
//! outside any request ([`SessionLayer::user_sessions`](crate::SessionLayer::user_sessions),
//! [`SessionDriver::user_sessions`](crate::driver::SessionDriver::user_sessions)):
//! an account page, an admin job, a password change.
//!
//! It reads the per-user index the layer keeps in the store when
//! [`SessionConfig::with_user_path`](crate::SessionConfig::with_user_path)
//! is set. The index may hold stale entries (a session that expired, was
//! destroyed, or changed user); every listing reads each session and keeps
//! only those that still hold the user, and drops the stale entries.
//!
//! A session is named by a [`SessionRef`]: a keyed hash of its store key,
//! never the ID, so that nothing a listing shows can be turned into a
//! cookie.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::context::Context;
use crate::session::live::CREATED_KEY;
use crate::store::{LoadedRecord, StoreError};
use crate::user_path::UserPath;
use crate::{Session, SessionError};

/// What a reference is a hash of, besides the store key: a reference is
/// never a signature some other part of the crate would accept.
const REFERENCE_CONTEXT: &[u8] = b"server-session user-sessions reference v1\0";

/// How many bytes of the keyed hash a reference keeps: 128 bits.
const REFERENCE_BYTES: usize = 16;

/// An opaque name for one session of a user, from a listing: what
/// [`UserSessions::revoke`] takes. It is a keyed hash of the session's
/// store key under the first secret, so it cannot be turned into a cookie,
/// and it changes when the session gets a new ID or the first secret
/// changes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionRef(String);

impl SessionRef {
    /// The reference as text: 22 URL-safe characters, fit for a URL path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionRef").field(&self.0).finish()
    }
}

/// Why a text is not a [`SessionRef`].
#[derive(Debug, thiserror::Error)]
#[error("a session reference is 22 URL-safe base64 characters")]
pub struct InvalidSessionRef;

impl FromStr for SessionRef {
    type Err = InvalidSessionRef;

    /// Parses a reference from a listing (a URL path segment, a form
    /// field). Only its shape is checked here; whether it names a session
    /// of the user is for [`UserSessions::revoke`] to find out.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let decoded = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| InvalidSessionRef)?;
        if decoded.len() != REFERENCE_BYTES {
            return Err(InvalidSessionRef);
        }
        Ok(Self(text.to_owned()))
    }
}

/// One live session of a user, as a listing shows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Names the session for [`UserSessions::revoke`].
    pub reference: SessionRef,
    /// Whether it is the session the listing was made from
    /// ([`UserSessions::list_for`]).
    pub current: bool,
    /// When the session was created, when the store keeps it (the layer
    /// does under an absolute timeout).
    pub created: Option<SystemTime>,
    /// When the session was last extended (its expiry minus its max age);
    /// `None` for a browser-session cookie.
    pub last_active: Option<SystemTime>,
    /// When it expires; `None` for a browser-session cookie.
    pub expires: Option<SystemTime>,
}

/// Why [`UserSessions::revoke`] revoked nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevokeError {
    /// The reference names no live session of this user: forged, from
    /// another user, already revoked, or the session has a new ID since.
    #[error("the reference names no live session of this user")]
    UnknownReference,
    /// Listing or revoking failed in the store; the session may still be
    /// live.
    #[error("the session could not be revoked")]
    Session(#[from] SessionError),
}

/// Why [`UserSessions::revoke_all`] did not revoke every session it meant
/// to. The sessions it did revoke stay revoked.
#[derive(Debug, thiserror::Error)]
#[error("{revoked} session(s) revoked; {} may still be live", .still_live.len())]
pub struct RevokeAllError {
    /// How many sessions were revoked.
    pub revoked: usize,
    /// The sessions that may still be live: the store refused to delete
    /// them, or the listing itself failed (then this is empty, and
    /// `revoked` is 0: nothing is known).
    pub still_live: Vec<SessionRef>,
    /// The store's error.
    #[source]
    pub source: SessionError,
}

/// The sessions of this layer's users, in its store: list, count, revoke.
///
/// Get one from a session ([`Session::user_sessions`]), a layer or a
/// driver. Cheap to clone. Needs
/// [`SessionConfig::with_user_path`](crate::SessionConfig::with_user_path),
/// and a store with a per-user index (every bundled store); otherwise its
/// calls fail with [`SessionError::NoUserPath`] or
/// `StoreError::Unsupported`.
///
/// ```
/// # async fn example(session: server_session::Session) -> Result<(), server_session::SessionError> {
/// // "Sign out everywhere else", in a handler.
/// let revoked = session
///     .user_sessions()
///     .revoke_others(&session)
///     .await
///     .map_err(|error| error.source)?;
/// println!("signed out of {revoked} other sessions");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct UserSessions {
    context: Arc<Context>,
}

impl fmt::Debug for UserSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSessions")
            .field("user_path", &self.context.user_path)
            .field("store", &self.context.store.kind())
            .finish()
    }
}

/// A listed session: its store key and record.
struct Found {
    key: String,
    loaded: LoadedRecord,
}

impl UserSessions {
    pub(crate) fn from_context(context: Arc<Context>) -> Self {
        Self { context }
    }

    fn path(&self) -> Result<&UserPath, SessionError> {
        self.context
            .user_path
            .as_ref()
            .ok_or(SessionError::NoUserPath)
    }

    /// The reference of the session stored under `key`.
    fn reference_of(&self, key: &str) -> SessionRef {
        let secret = self
            .context
            .config
            .secrets
            .first()
            .map_or(&[][..], Vec::as_slice);
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
        mac.update(REFERENCE_CONTEXT);
        mac.update(key.as_bytes());
        let digest = mac.finalize().into_bytes();
        SessionRef(URL_SAFE_NO_PAD.encode(&digest[..REFERENCE_BYTES]))
    }

    /// `user`'s live sessions, stale index entries dropped.
    async fn found(&self, user: &str) -> Result<Vec<Found>, SessionError> {
        let path = self.path()?;
        let listed = self
            .context
            .timed(
                "user_sessions",
                self.context.store.user_sessions(path, user),
            )
            .await?;
        let (mine, stale): (Vec<_>, Vec<_>) = listed
            .into_iter()
            .partition(|(_, loaded)| path.user_in(&loaded.record.data).as_deref() == Some(user));
        if !stale.is_empty() {
            let stale: Vec<String> = stale.into_iter().map(|(key, _)| key).collect();
            // Best effort: a stale entry left behind costs a read next time.
            if let Err(error) = self
                .context
                .timed(
                    "unindex_user",
                    self.context.store.unindex_user(user, &stale),
                )
                .await
            {
                tracing::debug!(
                    error = &error as &dyn std::error::Error,
                    "stale user index entries stay"
                );
            }
        }
        Ok(mine
            .into_iter()
            .map(|(key, loaded)| Found { key, loaded })
            .collect())
    }

    fn info(&self, found: &Found, current: Option<&str>) -> SessionInfo {
        let cookie = &found.loaded.record.cookie;
        let at = |ms: i64| {
            u64::try_from(ms)
                .ok()
                .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
        };
        let last_active = last_active_ms(&found.loaded).and_then(at);
        SessionInfo {
            reference: self.reference_of(&found.key),
            current: current == Some(found.key.as_str()),
            created: found
                .loaded
                .record
                .data
                .get(CREATED_KEY)
                .and_then(serde_json::Value::as_i64)
                .and_then(at),
            last_active,
            expires: cookie.expires.and_then(at),
        }
    }

    /// The store key of `session` and its user, for the `_for` calls.
    fn current(&self, session: &Session) -> Result<(String, String), SessionError> {
        self.path()?;
        let user = session.user().ok_or(SessionError::NoUserPath)?;
        let id = session.id();
        if id.is_empty() {
            return Err(SessionError::Gone);
        }
        Ok((self.context.store_key(&id), user))
    }

    /// `user`'s live sessions, most recently active first.
    ///
    /// # Errors
    /// [`SessionError::NoUserPath`] without a user path, and the store's
    /// errors (`Unsupported` for a store without a per-user index).
    pub async fn list(&self, user: &str) -> Result<Vec<SessionInfo>, SessionError> {
        Ok(self.sorted(self.found(user).await?, None))
    }

    /// The live sessions of `session`'s user, with `session` marked
    /// [`current`](SessionInfo::current).
    ///
    /// # Errors
    /// As [`list`](Self::list); [`SessionError::NoUserPath`] also when
    /// nobody is signed in to `session`.
    pub async fn list_for(&self, session: &Session) -> Result<Vec<SessionInfo>, SessionError> {
        let (key, user) = self.current(session)?;
        Ok(self.sorted(self.found(&user).await?, Some(&key)))
    }

    fn sorted(&self, found: Vec<Found>, current: Option<&str>) -> Vec<SessionInfo> {
        let mut infos: Vec<SessionInfo> = found
            .iter()
            .map(|found| self.info(found, current))
            .collect();
        infos.sort_by_key(|info| std::cmp::Reverse(info.last_active));
        infos
    }

    /// How many live sessions `user` has.
    ///
    /// # Errors
    /// As [`list`](Self::list).
    pub async fn count(&self, user: &str) -> Result<usize, SessionError> {
        Ok(self.found(user).await?.len())
    }

    /// Ends the session of `user` that `reference` names: it is deleted from
    /// the store, a request in flight on it cannot save it back, and its
    /// cookie starts a new session from then on.
    ///
    /// Every listed session's reference is compared, each in constant time,
    /// so the time taken does not tell references apart.
    ///
    /// # Errors
    /// [`RevokeError::UnknownReference`] when `reference` names no live
    /// session of `user`; [`RevokeError::Session`] when the store failed.
    pub async fn revoke(&self, user: &str, reference: &SessionRef) -> Result<(), RevokeError> {
        let found = self.found(user).await?;
        let mut target = None;
        for found in &found {
            let candidate = self.reference_of(&found.key);
            // Not short-circuited, so every reference costs the same.
            if constant_time_eq(candidate.0.as_bytes(), reference.0.as_bytes()) {
                target = Some(found.key.as_str());
            }
        }
        let key = target.ok_or(RevokeError::UnknownReference)?;
        self.destroy(key).await.map_err(RevokeError::from)
    }

    /// Ends every live session of `user`: "sign out everywhere", for an
    /// account that was disabled or whose password changed. Returns how many
    /// were ended.
    ///
    /// # Errors
    /// A [`RevokeAllError`] saying how many were revoked and which may still
    /// be live; it never counts a session it did not revoke.
    pub async fn revoke_all(&self, user: &str) -> Result<usize, RevokeAllError> {
        self.revoke_all_except(user, None).await
    }

    /// Ends every other live session of `session`'s user: "sign out
    /// everywhere else". `session` stays. Returns how many were ended.
    ///
    /// # Errors
    /// As [`revoke_all`](Self::revoke_all).
    pub async fn revoke_others(&self, session: &Session) -> Result<usize, RevokeAllError> {
        let (key, user) = self.current(session).map_err(|source| RevokeAllError {
            revoked: 0,
            still_live: Vec::new(),
            source,
        })?;
        self.revoke_all_except(&user, Some(&key)).await
    }

    async fn revoke_all_except(
        &self,
        user: &str,
        except: Option<&str>,
    ) -> Result<usize, RevokeAllError> {
        let found = self.found(user).await.map_err(|source| RevokeAllError {
            revoked: 0,
            still_live: Vec::new(),
            source,
        })?;
        let mut revoked = 0;
        let mut still_live = Vec::new();
        let mut failure = None;
        for found in found
            .iter()
            .filter(|found| Some(found.key.as_str()) != except)
        {
            match self.destroy(&found.key).await {
                Ok(()) => revoked += 1,
                Err(error) => {
                    still_live.push(self.reference_of(&found.key));
                    failure.get_or_insert(error);
                }
            }
        }
        match failure {
            None => Ok(revoked),
            Some(source) => Err(RevokeAllError {
                revoked,
                still_live,
                source,
            }),
        }
    }

    /// `user`'s live sessions as store keys with their last activity (ms),
    /// for the per-user limit.
    pub(crate) async fn found_for_limit(
        &self,
        user: &str,
    ) -> Result<Vec<(String, Option<i64>)>, SessionError> {
        Ok(self
            .found(user)
            .await?
            .into_iter()
            .map(|found| {
                let last_active = last_active_ms(&found.loaded);
                (found.key, last_active)
            })
            .collect())
    }

    /// Ends the session stored under `key` (see [`destroy`](Self::destroy)).
    pub(crate) async fn end(&self, key: &str) -> Result<(), SessionError> {
        self.destroy(key).await
    }

    /// Deletes the session stored under `key`, and ends it for requests in
    /// flight in this process.
    async fn destroy(&self, key: &str) -> Result<(), SessionError> {
        self.context
            .timed("destroy", self.context.keyed_store.destroy(key))
            .await?;
        self.context.end_live(key);
        Ok(())
    }
}

/// When the session was last extended (ms): its expiry less its max age.
/// `None` for a browser-session cookie.
fn last_active_ms(loaded: &LoadedRecord) -> Option<i64> {
    let cookie = &loaded.record.cookie;
    let (expires, max_age) = cookie.expires.zip(cookie.original_max_age)?;
    Some(expires.saturating_sub(max_age))
}

/// Whether `a` and `b` are equal, in time that depends only on their
/// lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl From<StoreError> for RevokeError {
    fn from(error: StoreError) -> Self {
        Self::Session(SessionError::Store(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_only_in_their_shape() {
        let valid = URL_SAFE_NO_PAD.encode([7_u8; REFERENCE_BYTES]);
        assert_eq!(valid.len(), 22);
        assert!(valid.parse::<SessionRef>().is_ok());
        let long = URL_SAFE_NO_PAD.encode([7_u8; REFERENCE_BYTES + 1]);
        for invalid in [
            "",
            "short",
            "s:abc.def",
            long.as_str(),
            "!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(invalid.parse::<SessionRef>().is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn equality_is_by_content() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
