use std::sync::Arc;

use http::header::{RETRY_AFTER, SET_COOKIE};
use http::{HeaderName, HeaderValue, Response, StatusCode};

use crate::clock;
use crate::codec::CookieError;
use crate::config::CommitErrorPolicy;
use crate::context::Context;
use crate::engine::absolute;
use crate::engine::cookie::{clear_cookie_header, set_cookie_header};
use crate::engine::end::{plan_end, EndPlan, Standing, StoreOp};
use crate::session::live::Live;
use crate::session::persist;
use crate::store::Record;
use crate::{Session, SessionError};

/// What the end of a request decided, before any store call.
struct Ending {
    plan: EndPlan,
    live: Arc<Live>,
    /// The request's tag in the live session's pending log.
    owner: u64,
    /// Whether this request changed the session itself.
    own_changes: bool,
    /// The record to touch with, unless the load already touched it.
    touch_record: Option<Record>,
}

/// Touches the cookie (rolling expiry, capped at the absolute deadline) and
/// asks the engine what the end of the request does.
fn settle(context: &Context, session: &Session) -> Ending {
    let state = session.state();
    let live = Arc::clone(&state.live);
    let mut live_state = live.lock();
    if state.standing == Standing::Live && !live_state.destroyed {
        live_state.cookie.touch(clock::now_ms());
        if let Some(deadline) = context.deadline(live_state.created) {
            absolute::clamp_expiry(&mut live_state.cookie, deadline);
        }
    }
    let plan = plan_end(&state.end_state(&live_state), &context.end_options);
    let already_touched = state
        .touched_on_load
        .as_ref()
        .is_some_and(|touched| touched.same_settings_as(&live_state.cookie));
    let touch_record =
        (plan.store_op == StoreOp::Touch && !already_touched).then(|| live_state.record());
    drop(live_state);
    Ending {
        plan,
        live,
        owner: state.owner,
        own_changes: state.own_changes > 0,
        touch_record,
    }
}

/// express-session's end of request (spec §2.3, §2.5): touch the cookie,
/// decide, run the store call, then say which `Set-Cookie` to send.
pub(crate) async fn commit(context: &Context, session: &Session) -> Commit {
    let Ending {
        plan,
        live,
        owner,
        own_changes,
        touch_record,
    } = settle(context, session);
    let store = &context.store;
    let mut send_cookie = plan.set_cookie;
    let mut send_header = plan.send_header;
    let stored = match plan.store_op {
        StoreOp::Save => match session.store_live(owner, own_changes).await {
            Ok((saved_live, Some(data))) => {
                let mut state = session.state();
                if Arc::ptr_eq(&state.live, &saved_live) {
                    state.mark_saved(data);
                }
                Ok(())
            }
            Ok((_, None)) => {
                // Destroyed by a concurrent request: it stays destroyed, and
                // the client gets no value for it.
                send_cookie = false;
                send_header = false;
                Ok(())
            }
            Err(error) => {
                // No cookie (or header) for a session the store does not
                // hold: it could name a record that belongs to somebody else.
                send_cookie = false;
                send_header = false;
                Err(error)
            }
        },
        StoreOp::Touch => match &touch_record {
            Some(record) => context
                .timed("touch", store.touch(&live.id, record))
                .await
                .map_err(SessionError::from),
            None => Ok(()),
        },
        StoreOp::Destroy => persist::destroy(context, &live).await,
        StoreOp::Nothing => Ok(()),
    };
    let span = tracing::Span::current();
    span.record(
        "end",
        match (&stored, plan.store_op) {
            (Err(_), _) => "failed",
            (Ok(()), StoreOp::Save) => "saved",
            (Ok(()), StoreOp::Touch) => "touched",
            (Ok(()), StoreOp::Destroy) => "destroyed",
            (Ok(()), StoreOp::Nothing) => "unchanged",
        },
    );
    if let Err(error) = stored {
        context.report("commit", &error);
        // Only a write the client is about to be told about matters: its own
        // changes, or the end of a session it unset.
        let acknowledged = match plan.store_op {
            StoreOp::Save => own_changes,
            StoreOp::Destroy => true,
            StoreOp::Touch | StoreOp::Nothing => false,
        };
        let status = match context.config.commit_error {
            _ if !acknowledged => None,
            CommitErrorPolicy::ServiceUnavailable => Some(StatusCode::SERVICE_UNAVAILABLE),
            CommitErrorPolicy::InternalServerError => Some(StatusCode::INTERNAL_SERVER_ERROR),
            CommitErrorPolicy::KeepResponse => None,
        };
        if let Some(status) = status {
            return Commit {
                refusal: Some(status),
                ..Commit::default()
            };
        }
    }

    let mut outcome = Commit::default();
    if plan.clear_cookie {
        let cleared = clear_cookie_header(&context.config.name, &live.lock().cookie);
        outcome.cleared = header_value(context, cleared);
    }
    // Written after the store call, which may have moved a new session to
    // another ID.
    if send_cookie || send_header {
        let state = session.state();
        let signed = state.reusable_signed_value();
        if send_cookie {
            let header = set_cookie_header(
                &context.config.name,
                &state.live.id,
                signed,
                &state.live.lock().cookie,
                &context.secrets,
            );
            outcome.set = header_value(context, header);
        }
        if send_header {
            let value = match signed {
                Some(signed) => signed.to_owned(),
                None => context.secrets.sign(&state.live.id),
            };
            outcome.token = token_header(context, HeaderValue::try_from(value));
        }
    }
    if plan.clear_header {
        outcome.token = token_header(context, Ok(HeaderValue::from_static("")));
    }
    outcome
}

/// The header transport's response header, with `value`.
fn token_header(
    context: &Context,
    value: Result<HeaderValue, http::header::InvalidHeaderValue>,
) -> Option<(HeaderName, HeaderValue)> {
    let name = context.transports.header.as_ref()?.response.clone();
    match value {
        Ok(value) => Some((name, value)),
        // A custom `genid`'s ID with a byte no header may hold.
        Err(error) => {
            tracing::error!(%error, "the session ID cannot be sent in a header");
            None
        }
    }
}

/// A session `Set-Cookie` value, or `None` after reporting why it could
/// not be written.
fn header_value(context: &Context, header: Result<String, CookieError>) -> Option<HeaderValue> {
    match header.map(HeaderValue::try_from) {
        Ok(Ok(value)) => Some(value),
        // The codec only writes visible ASCII; this is a bug if it happens.
        Ok(Err(error)) => {
            tracing::error!(%error, "session cookie is not a valid header value");
            None
        }
        Err(error) => {
            context.report("set-cookie", &SessionError::Cookie(error));
            None
        }
    }
}

/// What the end of a request does to its response.
#[derive(Debug, Default)]
#[must_use = "the response needs the session's `Set-Cookie` (or the refusal)"]
pub struct Commit {
    refusal: Option<StatusCode>,
    cleared: Option<HeaderValue>,
    set: Option<HeaderValue>,
    /// The header transport's response header (an empty value: the
    /// session the client's value named has ended).
    token: Option<(HeaderName, HeaderValue)>,
}

impl Commit {
    /// The store did not keep a write the response would acknowledge, and
    /// the commit-error policy answers this status instead of the
    /// handler's response (with an empty body).
    pub fn refusal(&self) -> Option<StatusCode> {
        self.refusal
    }

    /// The headers to append to the response, after any the handler wrote
    /// (as express does): the session's `Set-Cookie` values (a clearing
    /// one first) and the header transport's response header
    /// ([`HeaderTransport`](crate::HeaderTransport)), or, with a 503
    /// refusal, `Retry-After: 1`.
    pub fn into_headers(self) -> impl Iterator<Item = (HeaderName, HeaderValue)> {
        let retry = (self.refusal == Some(StatusCode::SERVICE_UNAVAILABLE))
            .then(|| (RETRY_AFTER, HeaderValue::from_static("1")));
        let cookies = [self.cleared, self.set]
            .into_iter()
            .flatten()
            .map(|value| (SET_COOKIE, value));
        retry.into_iter().chain(cookies).chain(self.token)
    }

    /// Applies the outcome to an `http` response: replaces it when the
    /// commit was refused, then appends [`into_headers`](Self::into_headers).
    pub fn apply<B: Default>(self, response: &mut Response<B>) {
        if let Some(status) = self.refusal {
            *response = Response::new(B::default());
            *response.status_mut() = status;
        }
        for (name, value) in self.into_headers() {
            response.headers_mut().append(name, value);
        }
    }
}
