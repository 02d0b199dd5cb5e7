//! The request lifecycle every framework adapter shares: start, then commit.
//!
//! An adapter (the tower [`SessionLayer`](crate::SessionLayer) in this
//! crate, the actix-web middleware in `server-session-actix`) only
//! translates. It hands [`SessionDriver::start`] the request's head as an
//! [`http::request::Parts`] (with [`IsSecure`](crate::IsSecure) in its
//! extensions when the framework knows the connection is secure), runs the
//! handler with the [`SessionSlot`] it gets back, and applies what
//! [`SessionDriver::commit`] returns to the response. Every session
//! decision (gates, cookie, load policy, save/touch/destroy, `Set-Cookie`)
//! is made here and in the engine, once for every framework.
//!
//! ```
//! use server_session::driver::{SessionDriver, Start};
//! use server_session::{MemoryStore, SessionConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let driver = SessionDriver::new(MemoryStore::new(), SessionConfig::new("a long random secret"))?;
//! let (head, ()) = http::Request::new(()).into_parts();
//! let Start::Run(slot) = driver.start(&head).await else { unreachable!() };
//! // ... the handler runs, with `slot` in its request's extensions ...
//! let session = slot.loaded().expect("a request without a cookie gets a new session");
//! session.insert("user", "ada")?;
//! let mut response = http::Response::new(());
//! driver.commit(&session).await.apply(&mut response);
//! assert!(response.headers().contains_key(http::header::SET_COOKIE));
//! # Ok(())
//! # }
//! ```

mod commit;
mod deferred;
mod rejection;
mod start;

use std::fmt;
use std::sync::Arc;

use http::request::Parts;
use http::StatusCode;
use tracing::Instrument as _;

pub use commit::Commit;
pub use rejection::SessionRejection;

use self::deferred::Deferred;
use crate::context::Context;
use crate::{ConfigError, Session, SessionConfig, Store};

/// Starts and commits requests for one session configuration and store.
/// Cheap to clone; clones share the store and the in-flight sessions.
#[derive(Clone)]
pub struct SessionDriver {
    pub(crate) context: Arc<Context>,
}

impl fmt::Debug for SessionDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionDriver")
            .field("config", &self.context.config)
            .field("store", &self.context.store.kind())
            .finish()
    }
}

impl SessionDriver {
    /// Validates `config` and takes `store`. Invalid options fail here,
    /// never at request time.
    pub fn new(store: impl Store, config: SessionConfig) -> Result<Self, ConfigError> {
        Self::from_arc(Arc::new(store), config)
    }

    /// Like [`new`](Self::new), with a store shared with other code.
    pub fn from_arc(store: Arc<dyn Store>, config: SessionConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            context: Arc::new(Context::new(config, store)?),
        })
    }

    /// The configuration in effect.
    pub fn config(&self) -> &SessionConfig {
        &self.context.config
    }

    /// The handle on every session of this driver's users, for use outside
    /// any request (an admin job, a password change). See
    /// [`UserSessions`](crate::UserSessions).
    pub fn user_sessions(&self) -> crate::UserSessions {
        crate::UserSessions::from_context(Arc::clone(&self.context))
    }

    /// How many sessions requests in flight hold right now.
    pub fn live_sessions(&self) -> usize {
        self.context.registry.len()
    }

    /// express-session's entry steps (spec §2.1): the gates, the signed
    /// cookie, then load or generate. With lazy loading on, a request whose
    /// session is in the store leaves the load to the extractor.
    pub async fn start(&self, head: &Parts) -> Start {
        let prelude = match start::begin(&self.context, head) {
            Ok(prelude) => prelude,
            Err(start) => return Start::from_loaded(start),
        };
        if self.context.config.lazy_load && prelude.needs_store() {
            let deferred = Deferred::new(Arc::clone(&self.context), prelude);
            return Start::Run(SessionSlot(Slot::Deferred(deferred)));
        }
        let span = prelude.span.clone();
        Start::from_loaded(prelude.finish(&self.context).instrument(span).await)
    }

    /// express-session's end of request (spec §2.3, §2.5): touch the
    /// cookie, decide, run the store call, and say what the response gets.
    /// Call it after the handler, before the response leaves, so a client
    /// that sees the response can rely on the session being stored.
    pub async fn commit(&self, session: &Session) -> Commit {
        let span = session.state().span.clone();
        commit::commit(&self.context, session)
            .instrument(span)
            .await
    }
}

/// How a request begins.
#[derive(Debug)]
#[non_exhaustive]
pub enum Start {
    /// No session for this request: the path is outside the cookie path,
    /// or another session layer already gave it one. Run the handler as is,
    /// and commit nothing.
    WithoutSession,
    /// Run the handler with this slot in the request's extensions, then
    /// commit [`SessionSlot::loaded`] if there is one.
    Run(SessionSlot),
    /// Answer with this status and an empty body, without running the
    /// handler: the load failed under a policy that refuses, or a custom
    /// `genid` returned an unusable ID.
    Refuse(StatusCode),
}

impl Start {
    fn from_loaded(start: start::Start) -> Self {
        match start {
            start::Start::WithoutSession => Self::WithoutSession,
            start::Start::StoreUnavailable => Self::Run(SessionSlot(Slot::StoreUnavailable)),
            start::Start::Refuse(status) => Self::Refuse(status),
            start::Start::With(session) => Self::Run(SessionSlot(Slot::Ready(session))),
        }
    }
}

/// The request's session as the adapter leaves it for extractors: ready,
/// loaded on first use (lazy loading), or unavailable because the store
/// could not give one.
#[derive(Clone)]
pub struct SessionSlot(Slot);

#[derive(Clone)]
enum Slot {
    Ready(Session),
    Deferred(Arc<Deferred>),
    StoreUnavailable,
}

impl fmt::Debug for SessionSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.0 {
            Slot::Ready(_) => "ready",
            Slot::Deferred(deferred) if deferred.loaded().is_some() => "loaded",
            Slot::Deferred(_) => "deferred",
            Slot::StoreUnavailable => "store unavailable",
        };
        f.debug_tuple("SessionSlot").field(&state).finish()
    }
}

impl SessionSlot {
    /// The session, loading it now if it was deferred. `Ok(None)`: the
    /// request was cancelled while it loaded.
    pub async fn session(&self) -> Result<Option<Session>, SessionRejection> {
        match &self.0 {
            Slot::Ready(session) => Ok(Some(session.clone())),
            Slot::Deferred(deferred) => deferred.resolve().await,
            Slot::StoreUnavailable => Err(SessionRejection::store_unavailable()),
        }
    }

    /// The session if it is already there, without loading: what the
    /// adapter commits after the handler.
    pub fn loaded(&self) -> Option<Session> {
        match &self.0 {
            Slot::Ready(session) => Some(session.clone()),
            Slot::Deferred(deferred) => deferred.loaded(),
            Slot::StoreUnavailable => None,
        }
    }

    /// The session when it was ready at the start of the request (not
    /// deferred): tower services find it as a plain `Session` extension.
    pub fn ready(&self) -> Option<&Session> {
        match &self.0 {
            Slot::Ready(session) => Some(session),
            _ => None,
        }
    }
}
