use std::sync::Arc;

use http::request::Parts;
use http::StatusCode;

use crate::clock;
use crate::config::{CookieOptions, CorruptRecordPolicy, LoadErrorPolicy};
use crate::context::{copy_head, Context};
use crate::engine::absolute::{self, Verdict};
use crate::engine::end::{snapshot_on_load, Standing};
use crate::engine::gate::{is_secure, path_matches, session_id_from_cookie, CookieLookup};
use crate::engine::touch_after;
use crate::id_tag;
use crate::session::live::{self, take_created, Live, LiveState};
use crate::session::state::{SavedSnapshot, SessionState};
use crate::store::{LoadedRecord, StoreError};
use crate::{Session, SessionError};

/// How a request begins, once the store (if asked) has answered.
pub(crate) enum Start {
    /// Outside the cookie path, or already inside another session layer.
    WithoutSession,
    /// The store is not ready, or failed to load the session and the policy
    /// is `ContinueWithoutSession`: the handler runs without a session.
    StoreUnavailable,
    /// The store failed to load the session, and the policy answers this.
    Refuse(StatusCode),
    /// The request's session, loaded or new.
    With(Session),
}

/// What the request's head says about its session, before any store call.
pub(crate) struct Prelude {
    cookie_options: Arc<CookieOptions>,
    secure_request: bool,
    cookie_id: Option<Arc<str>>,
    cookie_value: Option<Arc<str>>,
    head_copy: Option<Arc<Parts>>,
    owner: u64,
    /// The request's `session` span: how it started and ended, no ID.
    pub(crate) span: tracing::Span,
}

/// The steps that need no store call: the layer gate, the path gate and
/// the signed cookie. `Err` is how the request starts without a session.
pub(crate) fn begin(context: &Arc<Context>, head: &Parts) -> Result<Prelude, Start> {
    // One session layer per request: an outer layer already decided.
    if head.extensions.get::<Session>().is_some() {
        return Err(Start::WithoutSession);
    }
    if !context.store.is_ready() {
        return Err(Start::StoreUnavailable);
    }
    let cookie_options = context.cookie_options(head);
    if !path_matches(
        head.uri.path(),
        &cookie_options.path,
        context.config.path_match,
    ) {
        return Err(Start::WithoutSession);
    }
    let secure_request = is_secure(head, context.config.proxy);
    let (cookie_id, cookie_value) =
        match session_id_from_cookie(&head.headers, &context.config.name, &context.secrets) {
            CookieLookup::Found(found) => (Some(found.id), found.signed_value),
            CookieLookup::Absent => (None, None),
            CookieLookup::Rejected => {
                // Never the value: it may be a valid ID with a bad signature.
                tracing::debug!("session cookie signature rejected; a new session starts");
                (None, None)
            }
        };
    Ok(Prelude {
        cookie_options,
        secure_request,
        cookie_id,
        cookie_value,
        head_copy: context.needs_head().then(|| Arc::new(copy_head(head))),
        owner: context.next_owner(),
        span: tracing::debug_span!(
            "session",
            start = tracing::field::Empty,
            end = tracing::field::Empty,
            conflicts = tracing::field::Empty,
            session = tracing::field::Empty,
        ),
    })
}

impl Prelude {
    /// Whether finishing needs the store: the request carries a validly
    /// signed session ID. Only then is lazy loading worth it.
    pub(crate) fn needs_store(&self) -> bool {
        self.cookie_id.is_some()
    }

    /// The request's bookkeeping around a live session.
    fn request_state(&self, context: &Context, live: Arc<Live>) -> SessionState {
        let (original_data, version) = {
            let state = live.lock();
            (Arc::clone(&state.data), state.version)
        };
        let original_id = Arc::clone(&live.id);
        // express records `savedHash` at load time only without `resave`.
        let saved =
            (version.is_some() && snapshot_on_load(&context.end_options)).then(|| SavedSnapshot {
                id: Arc::clone(&original_id),
                data: Arc::clone(&original_data),
                own_changes: 0,
            });
        SessionState {
            live,
            owner: self.owner,
            cookie_value: self.cookie_value.clone(),
            cookie_id: self.cookie_id.clone(),
            original_id,
            original_data,
            saved,
            own_changes: 0,
            must_save: false,
            touched_on_load: None,
            standing: Standing::Live,
            cookie_options: Arc::clone(&self.cookie_options),
            secure_request: self.secure_request,
            head: self.head_copy.clone(),
            span: self.span.clone(),
        }
    }

    /// Loads the session the cookie names, or makes a new one.
    pub(crate) async fn finish(self, context: &Arc<Context>) -> Start {
        let cookie_id = self.cookie_id.clone();
        if let Some(id) = &cookie_id {
            // Only a validly signed ID ever reaches the store. The store is asked
            // even when a request in flight already holds this session: only the
            // store knows whether it expired or was destroyed (by another
            // process, a Node service, or a "sign out everywhere") since that
            // request loaded it. Joining without asking would let one slow
            // request keep a stolen cookie alive past both.
            match load(context, id).await {
                Ok(Some((loaded, on_load))) => {
                    let (data, created) = take_created(loaded.record.data);
                    let now = context.absolute_ms.map(|_| clock::now_ms());
                    let verdict = match now {
                        None => Verdict::Off,
                        Some(now) => absolute::judge(context.absolute_ms, created, now),
                    };
                    if verdict == Verdict::Reached {
                        end_absolute(context, id).await;
                    } else {
                        let created = match verdict {
                            Verdict::Within { created, .. } => Some(created),
                            // Kept as stored, so saving never drops it.
                            _ => created,
                        };
                        let touched = match on_load {
                            OnLoad::Touched(touched) => {
                                // A store-side touch (to now + originalMaxAge) past the
                                // deadline is brought back by the end-of-request touch.
                                let touched_to = now.and_then(|now| {
                                    Some(now.saturating_add(loaded.record.cookie.original_max_age?))
                                });
                                touched
                                    && !absolute::overshoots(touched_to, context.deadline(created))
                            }
                            // Counts as touched, so the end of an unchanged
                            // request leaves the store alone.
                            OnLoad::StoredExpiry(stored) => {
                                context.touch_after_ms.is_some_and(|touch_after| {
                                    touch_after::skips_touch(
                                        touch_after,
                                        loaded.record.cookie.original_max_age,
                                        stored,
                                        context.deadline(created),
                                        now.unwrap_or_else(clock::now_ms),
                                    )
                                })
                            }
                        };
                        let touched_for = touched.then(|| loaded.record.cookie.clone());
                        let indexed_user = context.user_of(&data);
                        let mut state =
                            LiveState::new(loaded.record.cookie, data, Some(loaded.version));
                        state.created = created;
                        state.indexed_user = indexed_user;
                        // A request already in flight on this session: share its
                        // state, which holds changes not stored yet.
                        let live = context.registry.join_or_insert(id, state);
                        if !live.lock().destroyed {
                            self.span.record("start", "loaded");
                            self.span
                                .record("session", tracing::field::display(id_tag::tag(id)));
                            let mut state = self.request_state(context, live);
                            state.touched_on_load = touched_for;
                            state.must_save =
                                matches!(verdict, Verdict::Within { assigned: true, .. });
                            return Start::With(Session::new(state, Arc::clone(context)));
                        }
                    }
                }
                Ok(None) => {
                    tracing::debug!(
                        session = %id_tag::tag(id),
                        "session expired, destroyed or unknown; a new session starts"
                    );
                    // Gone from the store: requests still holding it must not
                    // write it back.
                    if let Some(live) = context.registry.get(id) {
                        live.lock().destroyed = true;
                    }
                }
                Err(error @ StoreError::Corrupt { .. })
                    if context.config.corrupt_record == CorruptRecordPolicy::NewSession =>
                {
                    // One user's unreadable record must not answer 500 on every
                    // request until it expires: they get a fresh session, and
                    // the record is left for whoever can read it (a Node service
                    // sharing the store may).
                    context.report("load", &SessionError::Store(error));
                }
                Err(error) => {
                    context.report("load", &SessionError::Store(error));
                    return match context.config.load_error {
                        LoadErrorPolicy::InternalServerError => {
                            Start::Refuse(StatusCode::INTERNAL_SERVER_ERROR)
                        }
                        LoadErrorPolicy::ServiceUnavailable => {
                            Start::Refuse(StatusCode::SERVICE_UNAVAILABLE)
                        }
                        LoadErrorPolicy::ContinueWithoutSession => Start::StoreUnavailable,
                    };
                }
            }
        }

        // No cookie, or an unknown, expired or destroyed ID: a fresh session
        // under a new ID, never the client's. Nobody else can know the new ID
        // yet, so it needs no registry entry.
        let id = match context.new_id(self.head_copy.as_deref()) {
            Ok(id) => Arc::from(id),
            Err(error) => {
                // A `genid` that returns an unusable ID is the application's bug:
                // answer 500 rather than hand out a cookie that cannot work.
                context.report("genid", &error);
                return Start::Refuse(StatusCode::INTERNAL_SERVER_ERROR);
            }
        };
        self.span.record("start", "new");
        let live = live::unregistered(
            id,
            context.new_live_state(&self.cookie_options, self.secure_request),
        );
        Start::With(Session::new(
            self.request_state(context, live),
            Arc::clone(context),
        ))
    }
}

/// What loading found out about the stored expiry.
enum OnLoad {
    /// `load_and_touch`: whether the store touched the record as it loaded it.
    Touched(bool),
    /// `load_with_expiry` (under `touch_after`): the expiry the store holds.
    StoredExpiry(Option<i64>),
}

/// Loads the session: with its touch in the same round trip by default, or
/// as a pure read with the stored expiry under `touch_after`, which then
/// decides whether the request touches at all.
async fn load(context: &Context, id: &str) -> Result<Option<(LoadedRecord, OnLoad)>, StoreError> {
    match context.touch_after_ms {
        None => Ok(context
            .timed("load_and_touch", context.store.load_and_touch(id))
            .await?
            .map(|(loaded, touched)| (loaded, OnLoad::Touched(touched)))),
        Some(_) => Ok(context
            .timed("load_with_expiry", context.store.load_with_expiry(id))
            .await?
            .map(|(loaded, stored)| (loaded, OnLoad::StoredExpiry(stored)))),
    }
}

/// A session past its absolute timeout: gone from the store, and from any
/// request still holding it in this process.
async fn end_absolute(context: &Context, id: &str) {
    if let Some(live) = context.registry.get(id) {
        live.lock().destroyed = true;
    }
    tracing::info!(
        store = context.store.kind(),
        session = %id_tag::tag(id),
        "session reached its absolute timeout and was destroyed"
    );
    if let Err(error) = context.timed("destroy", context.store.destroy(id)).await {
        // The store's expiry was capped at the deadline, so it drops the
        // record by itself; the request goes on with a fresh session.
        context.report("destroy", &SessionError::Store(error));
    }
}
