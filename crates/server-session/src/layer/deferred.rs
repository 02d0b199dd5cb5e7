//! Loading the session only when a handler first asks for it
//! ([`SessionConfig::with_lazy_load`](crate::SessionConfig::with_lazy_load)).
//!
//! The layer does everything that needs no store call (gates, cookie), and
//! leaves a [`Deferred`] in the request extensions instead of a `Session`.
//! The axum extractor, which is async, loads through it on first use; a
//! handler that never extracts its session never waits on the store, so it
//! keeps working while the store is down. The layer commits only a session
//! that was loaded.

// Only the axum extractor resolves a deferred session.
#![cfg_attr(not(feature = "axum"), allow(dead_code))]

use std::sync::{Arc, Mutex};

use http::request::Parts;
use http::StatusCode;
use tokio::sync::OnceCell;

use super::start::{Prelude, Start};
use crate::context::Context;
use crate::Session;

/// What loading a deferred session gave.
#[derive(Clone)]
pub(crate) enum Outcome {
    /// The request's session, loaded or new.
    Session(Session),
    /// Loading failed and the load-error policy answers with this status.
    Refused(StatusCode),
    /// The store could give no session, and the policy says go on without.
    Unavailable,
    /// No session: the load was abandoned (its request was cancelled).
    Abandoned,
}

/// A session the layer has not loaded yet. Shared (`Arc`) between the
/// request extensions, where extractors find it, and the layer, which
/// commits it if it was loaded.
pub(crate) struct Deferred {
    context: Arc<Context>,
    prelude: Mutex<Option<Prelude>>,
    outcome: OnceCell<Outcome>,
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
    pub(crate) async fn resolve(&self, head: &Parts) -> Outcome {
        self.outcome
            .get_or_init(|| async {
                let prelude = self
                    .prelude
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .take();
                let Some(prelude) = prelude else {
                    return Outcome::Abandoned;
                };
                match prelude.finish(&self.context, head).await {
                    Start::With(session) => Outcome::Session(session),
                    Start::Refuse(status) => Outcome::Refused(status),
                    Start::StoreUnavailable => Outcome::Unavailable,
                    Start::WithoutSession => Outcome::Abandoned,
                }
            })
            .await
            .clone()
    }

    /// The session, if a handler loaded it.
    pub(crate) fn loaded(&self) -> Option<Session> {
        match self.outcome.get() {
            Some(Outcome::Session(session)) => Some(session.clone()),
            _ => None,
        }
    }
}
