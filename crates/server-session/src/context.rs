//! What every request of one layer shares: the validated options, the
//! signing keys and the store.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use http::request::Parts;
use tracing::Instrument as _;

use crate::breaker::{Admission, Breaker};
use crate::clock;
use crate::codec::{self, Secrets};
use crate::config::{CookieOptions, CookieSource, SessionConfig};
use crate::engine::absolute;
use crate::engine::cookie::new_session_cookie;
use crate::engine::end::EndOptions;
use crate::engine::transport::Transports;
use crate::session::live::{LiveState, Registry, CREATED_KEY};
use crate::store::hashed_ids::HashedIds;
use crate::store::retry;
use crate::store::{Store, StoreError, StoreFuture};
use crate::user_path::UserPath;
use crate::SessionError;

pub(crate) struct Context {
    pub(crate) config: SessionConfig,
    pub(crate) secrets: Secrets,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) end_options: EndOptions,
    /// Where the session ID travels: the cookie, a header, or both.
    pub(crate) transports: Transports,
    /// The sessions live in this process, so concurrent requests share one.
    pub(crate) registry: Arc<Registry>,
    /// Hands out request tokens that tag each request's pending changes.
    next_owner: AtomicU64,
    /// The absolute timeout in milliseconds, if any.
    pub(crate) absolute_ms: Option<i64>,
    /// `touch_after` in milliseconds, if set.
    pub(crate) touch_after_ms: Option<i64>,
    /// Fails store calls fast while the store is down.
    breaker: Option<Breaker>,
    /// The store times its own calls ([`Store::own_timeout`]).
    store_times_itself: bool,
    /// Where the user ID lives in the data, for the per-user index.
    pub(crate) user_path: Option<UserPath>,
    /// The store below the hashing of IDs, which takes store keys as they
    /// are: for calls by a key a listing returned.
    pub(crate) keyed_store: Arc<dyn Store>,
    /// The hashing of IDs at rest, when configured.
    hashed_ids: Option<Arc<HashedIds>>,
}

impl Context {
    pub(crate) fn new(
        config: SessionConfig,
        store: Arc<dyn Store>,
    ) -> Result<Self, crate::ConfigError> {
        let secrets = config.validate()?;
        let store = retry::RetryOnConnectionLoss::wrap(store);
        let keyed_store = Arc::clone(&store);
        let (store, hashed_ids) = match &config.id_hash_key {
            None => (store, None),
            Some(key) => match HashedIds::new(store, key) {
                Some(hashed) => {
                    let hashed = Arc::new(hashed);
                    (Arc::clone(&hashed) as Arc<dyn Store>, Some(hashed))
                }
                None => {
                    return Err(crate::ConfigError::invalid(
                        "hashed_ids_at_rest",
                        "the key must not be empty",
                    ))
                }
            },
        };
        let user_path = config.parsed_user_path();
        if let Some(path) = &user_path {
            if crate::store::is_reserved(path.top_key()) || path.top_key() == CREATED_KEY {
                return Err(crate::ConfigError::invalid_value(
                    "user_path",
                    path,
                    "its first key is one express or the layer keeps for itself",
                ));
            }
        }
        let transports = Transports {
            cookie: config.uses_cookie(),
            header: config
                .header
                .as_ref()
                .map(|header| header.names())
                .transpose()?,
        };
        let end_options = EndOptions {
            save_uninitialized: config.save_uninitialized,
            rolling: config.rolling,
            resave: config.resave,
            unset: config.unset,
            resign_old_secret: config.resign_old_secret,
            clear_cookie_on_end: config.clear_cookie_on_destroy,
            cookie: transports.cookie,
            header: transports.header.is_some(),
        };
        Ok(Self {
            absolute_ms: config.absolute_timeout.map(crate::clock::duration_to_ms),
            touch_after_ms: config.touch_after.map(crate::clock::duration_to_ms),
            breaker: config.circuit_breaker.map(Breaker::new),
            store_times_itself: store.own_timeout().is_some(),
            user_path,
            keyed_store,
            hashed_ids,
            config,
            secrets,
            store,
            end_options,
            transports,
            registry: Registry::new(),
            next_owner: AtomicU64::new(1),
        })
    }

    /// When a session created at `created` reaches the absolute timeout.
    pub(crate) fn deadline(&self, created: Option<i64>) -> Option<i64> {
        Some(created?.saturating_add(self.absolute_ms?))
    }

    /// The creation time a session made now keeps, when the absolute
    /// timeout needs one.
    pub(crate) fn created_now(&self, now_ms: i64) -> Option<i64> {
        self.absolute_ms.map(|_| now_ms)
    }

    /// The live state of a session made now: express's fresh cookie, no
    /// data, and a creation time when the absolute timeout needs one (the
    /// cookie then expires no later than the deadline).
    pub(crate) fn new_live_state(
        &self,
        cookie_options: &CookieOptions,
        secure_request: bool,
    ) -> LiveState {
        let now = clock::now_ms();
        let mut cookie = new_session_cookie(cookie_options, secure_request, now);
        let created = self.created_now(now);
        if let Some(deadline) = self.deadline(created) {
            absolute::clamp_expiry(&mut cookie, deadline);
        }
        let mut state = LiveState::new(cookie, Arc::default(), None);
        state.created = created;
        state
    }

    pub(crate) fn next_owner(&self) -> u64 {
        self.next_owner.fetch_add(1, Ordering::Relaxed)
    }

    /// Runs a store call under the configured timeout, unless the circuit
    /// breaker is open: then it fails at once with
    /// [`StoreError::Unavailable`], and the call is never started.
    pub(crate) async fn timed<T>(
        &self,
        op: &'static str,
        call: StoreFuture<'_, T>,
    ) -> Result<T, StoreError> {
        let span = tracing::debug_span!("session.store", store = self.store.kind(), op);
        self.admitted(call).instrument(span).await
    }

    /// One store call through the circuit breaker and under the timeout.
    async fn admitted<T>(&self, call: StoreFuture<'_, T>) -> Result<T, StoreError> {
        let ticket = match self.breaker.as_ref().map(Breaker::admit) {
            None => None,
            Some(Admission::Call(ticket)) => Some(ticket),
            Some(Admission::Refused) => return Err(StoreError::Unavailable),
        };
        // One timeout per call: the store's own when it has one.
        let result = if self.store_times_itself {
            call.await
        } else {
            Timed {
                call,
                deadline: None,
                limit: self.config.store_timeout,
            }
            .await
        };
        if let Some(ticket) = ticket {
            ticket.record(&result);
        }
        result
    }

    /// The cookie options for this request.
    pub(crate) fn cookie_options(&self, head: &Parts) -> Arc<CookieOptions> {
        match &self.config.cookie {
            CookieSource::Fixed(options) => Arc::clone(options),
            CookieSource::PerRequest(make) => Arc::new(make(head)),
        }
    }

    /// A new session ID, from `genid` when one is configured.
    pub(crate) fn new_id(&self, head: Option<&Parts>) -> Result<String, SessionError> {
        match (&self.config.genid, head) {
            (Some(genid), Some(head)) => {
                let id = genid(head);
                check_generated_id(&id)?;
                Ok(id)
            }
            _ => Ok(codec::generate_id()),
        }
    }

    /// Whether session IDs depend on the request head, which then has to be
    /// kept for `regenerate`.
    pub(crate) fn needs_head(&self) -> bool {
        self.config.genid.is_some()
    }

    /// The key the store keeps session `id` under.
    pub(crate) fn store_key(&self, id: &str) -> String {
        match &self.hashed_ids {
            Some(hashed) => hashed.key_of(id),
            None => id.to_owned(),
        }
    }

    /// Ends the session stored under `key` for the requests in flight on it
    /// in this process: their later saves are dropped. Under hashed IDs the
    /// key does not lead back to the ID, and their saves find the record
    /// gone instead.
    pub(crate) fn end_live(&self, key: &str) {
        if self.hashed_ids.is_none() {
            if let Some(live) = self.registry.get(key) {
                live.lock().destroyed = true;
            }
        }
    }

    /// The user `data` belongs to, when a user path is configured.
    pub(crate) fn user_of(
        &self,
        data: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<String> {
        self.user_path.as_ref()?.user_in(data)
    }

    /// Adds `id` to `user`'s index, before the save that stores them
    /// together. A store without an index is not an error here: listing
    /// says so to whoever asks.
    pub(crate) async fn index_user(&self, id: &str, user: &str) -> Result<(), StoreError> {
        if self.user_path.is_none() {
            return Ok(());
        }
        match self
            .timed("index_user", self.store.index_user(user, id))
            .await
        {
            Err(StoreError::Unsupported(_)) => {
                tracing::debug!(
                    store = self.store.kind(),
                    "the store keeps no per-user index; user sessions cannot be listed"
                );
                Ok(())
            }
            other => other,
        }
    }

    /// Logs an error the layer handled, once, and hands it to the hook.
    pub(crate) fn report(&self, during: &'static str, error: &SessionError) {
        // As an error, so that a subscriber records its causes too.
        tracing::error!(
            store = self.store.kind(),
            during,
            error = error as &dyn std::error::Error,
            "session error"
        );
        if let Some(hook) = &self.config.error_hook {
            hook(error);
        }
    }
}

/// The longest ID a custom `genid` may return: the bundled SQL tables key
/// on `varchar(255)`, and Redis keys, cookies and logs have no use for more.
const MAX_ID_BYTES: usize = 255;

/// Refuses IDs no store or cookie can carry: empty (express treats it as no
/// session, so it could never load), over [`MAX_ID_BYTES`], or holding a
/// control character (PostgreSQL refuses NUL, and none belongs in a key).
fn check_generated_id(id: &str) -> Result<(), SessionError> {
    let reason = if id.is_empty() {
        "genid returned an empty id"
    } else if id.len() > MAX_ID_BYTES {
        "genid returned an id longer than 255 bytes"
    } else if id.chars().any(char::is_control) {
        "genid returned an id with a control character"
    } else {
        return Ok(());
    };
    Err(SessionError::InvalidId { reason })
}

/// A copy of the request head without its extensions, for `genid` calls
/// made later in the request (by `regenerate`).
pub(crate) fn copy_head(head: &Parts) -> Parts {
    let mut request = http::Request::new(());
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = head.uri.clone();
    *request.version_mut() = head.version;
    *request.headers_mut() = head.headers.clone();
    request.into_parts().0
}

pin_project_lite::pin_project! {
    /// A store call with a deadline. The timer is only armed once the call
    /// has to wait: a store that answers at once (the MemoryStore) costs no
    /// clock read and no timer registration.
    pub(crate) struct Timed<F> {
        #[pin]
        call: F,
        #[pin]
        deadline: Option<tokio::time::Sleep>,
        limit: Duration,
    }
}

impl<F, T> Future for Timed<F>
where
    F: Future<Output = Result<T, StoreError>>,
{
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(result) = this.call.poll(cx) {
            return Poll::Ready(result);
        }
        if this.deadline.is_none() {
            this.deadline.set(Some(tokio::time::sleep(*this.limit)));
        }
        let expired = this
            .deadline
            .as_pin_mut()
            .is_some_and(|deadline| deadline.poll(cx).is_ready());
        if expired {
            return Poll::Ready(Err(StoreError::Timeout(*this.limit)));
        }
        Poll::Pending
    }
}
