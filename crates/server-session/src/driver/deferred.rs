//! Loading the session only when a handler first asks for it
//! ([`SessionConfig::with_lazy_load`](crate::SessionConfig::with_lazy_load)).
//!
//! The driver does everything that needs no store call (gates, cookie), and
//! leaves a [`Deferred`] in the request's [`SessionSlot`](super::SessionSlot)
//! instead of a `Session`. The extractor, which is async, loads through it
//! on first use; a handler that never extracts its session never waits on
//! the store, so it keeps working while the store is down. Only a session
//! that was loaded is committed.

use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;
use tracing::Instrument as _;

use super::rejection::SessionRejection;
use super::start::{Prelude, Start};
use crate::context::Context;
use crate::Session;

/// A session not loaded yet. Shared (`Arc`) between the request's
/// extensions, where extractors find it, and the adapter, which commits it
/// if it was loaded.
pub(crate) struct Deferred {
    context: Arc<Context>,
    prelude: Mutex<Option<Prelude>>,
    /// `Ok(None)`: the load was abandoned (its request was cancelled).
    outcome: OnceCell<Result<Option<Session>, SessionRejection>>,
}

impl Deferred {
    pub(crate) fn new(context: Arc<Context>, prelude: Prelude) -> Arc<Self> {
        Arc::new(Self {
            context,
            prelude: Mutex::new(Some(prelude)),
            outcome: OnceCell::new(),
        })
    }

    /// Loads the session the first time it is asked for, and gives the same
    /// outcome to every later caller.
    pub(crate) async fn resolve(&self) -> Result<Option<Session>, SessionRejection> {
        self.outcome
            .get_or_init(|| async {
                let prelude = self
                    .prelude
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .take();
                let Some(prelude) = prelude else {
                    return Ok(None);
                };
                let span = prelude.span.clone();
                match prelude.finish(&self.context).instrument(span).await {
                    Start::With(session) => Ok(Some(session)),
                    Start::Refuse(status) => Err(SessionRejection::load_failed(status)),
                    Start::StoreUnavailable => Err(SessionRejection::store_unavailable()),
                    Start::WithoutSession => Ok(None),
                }
            })
            .await
            .clone()
    }

    /// The session, if a handler loaded it.
    pub(crate) fn loaded(&self) -> Option<Session> {
        match self.outcome.get() {
            Some(Ok(Some(session))) => Some(session.clone()),
            _ => None,
        }
    }
}
