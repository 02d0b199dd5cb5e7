use std::sync::Arc;

use http::header::{RETRY_AFTER, SET_COOKIE};
use http::{HeaderValue, Response, StatusCode};

use crate::clock;
use crate::codec::CookieError;
use crate::config::CommitErrorPolicy;
use crate::context::Context;
use crate::engine::absolute;
use crate::engine::cookie::{clear_cookie_header, set_cookie_header};
use crate::engine::end::{plan_end, Standing, StoreOp};
use crate::session::persist;
use crate::{Session, SessionError};

/// express-session's end of request (spec §2.3, §2.5): touch the cookie,
/// decide, run the store call, then append `Set-Cookie`.
pub(crate) async fn commit<B: Default>(
    context: &Context,
    session: &Session,
    response: &mut Response<B>,
) {
    let (plan, live, owner, own_changes, touch_record) = {
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
        let (owner, own_changes) = (state.owner, state.own_changes > 0);
        (plan, live, owner, own_changes, touch_record)
    };

    let store = &context.store;
    let mut send_cookie = plan.set_cookie;
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
                // the browser gets no cookie for it.
                send_cookie = false;
                Ok(())
            }
            Err(error) => {
                // No cookie for a session the store does not hold: it could
                // name a record that belongs to somebody else.
                send_cookie = false;
                Err(error)
            }
        },
        StoreOp::Touch => match &touch_record {
            Some(record) => context
                .timed(store.touch(&live.id, record))
                .await
                .map_err(SessionError::from),
            None => Ok(()),
        },
        StoreOp::Destroy => persist::destroy(context, &live).await,
        StoreOp::Nothing => Ok(()),
    };
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
            *response = Response::new(B::default());
            *response.status_mut() = status;
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            return;
        }
    }

    if plan.clear_cookie {
        let cleared = clear_cookie_header(&context.config.name, &live.lock().cookie);
        append_set_cookie(context, response, cleared);
    }
    // Written after the store call, which may have moved a new session to
    // another ID.
    let set_cookie = send_cookie.then(|| {
        let state = session.state();
        let live_state = state.live.lock();
        set_cookie_header(
            &context.config.name,
            &state.live.id,
            state.reusable_cookie_value(),
            &live_state.cookie,
            &context.secrets,
        )
    });
    if let Some(header) = set_cookie {
        append_set_cookie(context, response, header);
    }
}

/// Appends a session `Set-Cookie` after any the handler wrote, as express
/// does, or reports why it could not be written.
fn append_set_cookie<B>(
    context: &Context,
    response: &mut Response<B>,
    header: Result<String, CookieError>,
) {
    match header.map(HeaderValue::try_from) {
        Ok(Ok(value)) => {
            response.headers_mut().append(SET_COOKIE, value);
        }
        // The codec only writes visible ASCII; this is a bug if it happens.
        Ok(Err(error)) => tracing::error!(%error, "session cookie is not a valid header value"),
        Err(error) => context.report("set-cookie", &SessionError::Cookie(error)),
    }
}
