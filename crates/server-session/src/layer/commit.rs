use http::header::SET_COOKIE;
use http::{HeaderValue, Response, StatusCode};

use crate::clock;
use crate::config::CommitErrorPolicy;
use crate::context::Context;
use crate::engine::cookie::set_cookie_header;
use crate::engine::end::{plan_end, Standing, StoreOp};
use crate::store::{SaveCondition, SaveOutcome};
use crate::{Session, SessionError};

/// express-session's end of request (spec §2.3, §2.5): touch the cookie,
/// decide, run the store call, then append `Set-Cookie`.
pub(crate) async fn commit<B: Default>(
    context: &Context,
    session: &Session,
    response: &mut Response<B>,
) {
    let (plan, id, record, set_cookie) = {
        let mut state = session.state();
        if state.standing == Standing::Live {
            state.cookie.touch(clock::now_ms());
        }
        let plan = plan_end(&state.end_state(), &context.end_options);
        let record =
            matches!(plan.store_op, StoreOp::Save | StoreOp::Touch).then(|| state.record());
        let set_cookie = plan.set_cookie.then(|| {
            set_cookie_header(
                &context.config.name,
                &state.id,
                &state.cookie,
                &context.secrets,
            )
        });
        (plan, state.id.clone(), record, set_cookie)
    };

    let store = &context.store;
    let stored = match (plan.store_op, &record) {
        (StoreOp::Save, Some(record)) => context
            .timed(store.save(&id, record, SaveCondition::Upsert))
            .await
            .map(|outcome| match outcome {
                SaveOutcome::Saved(version) => Some(version),
                SaveOutcome::Conflict => None,
            }),
        (StoreOp::Touch, Some(record)) => {
            context.timed(store.touch(&id, record)).await.map(|()| None)
        }
        (StoreOp::Destroy, _) => context.timed(store.destroy(&id)).await.map(|()| None),
        _ => Ok(None),
    };
    match stored {
        Ok(Some(version)) => session.state().mark_saved(version),
        Ok(None) => {}
        Err(error) => {
            context.report("commit", &SessionError::Store(error));
            if context.config.commit_error == CommitErrorPolicy::InternalServerError {
                *response = Response::new(B::default());
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                return;
            }
        }
    }

    match set_cookie {
        Some(Ok(header)) => match HeaderValue::try_from(header) {
            // Appended after any Set-Cookie the handler wrote, as express does.
            Ok(value) => {
                response.headers_mut().append(SET_COOKIE, value);
            }
            // The codec only writes visible ASCII; this is a bug if it happens.
            Err(error) => tracing::error!(%error, "session cookie is not a valid header value"),
        },
        Some(Err(error)) => context.report("set-cookie", &SessionError::Cookie(error)),
        None => {}
    }
}
