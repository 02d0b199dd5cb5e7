use std::sync::Arc;

use http::request::Parts;
use http::StatusCode;

use crate::clock;
use crate::config::LoadErrorPolicy;
use crate::context::{copy_head, Context};
use crate::engine::cookie::new_session_cookie;
use crate::engine::end::{snapshot_on_load, Standing};
use crate::engine::gate::{is_secure, path_matches, session_id_from_cookie};
use crate::session::state::SessionState;
use crate::{Session, SessionError};

/// How a request begins.
pub(crate) enum Start {
    /// Outside the cookie path, already inside another session layer, store
    /// not ready, or a load error with `ContinueWithoutSession`.
    WithoutSession,
    /// The store failed to load the session, and the policy answers this.
    Refuse(StatusCode),
    /// The request's session, loaded or new.
    With(Session),
}

/// express-session's entry steps (spec §2.1): gate, cookie, load or generate.
pub(crate) async fn start(context: &Arc<Context>, head: &Parts) -> Start {
    // One session layer per request: an outer layer already decided.
    if head.extensions.get::<Session>().is_some() || !context.store.is_ready() {
        return Start::WithoutSession;
    }
    let cookie_options = context.cookie_options(head);
    if !path_matches(
        head.uri.path(),
        &cookie_options.path,
        context.config.path_match,
    ) {
        return Start::WithoutSession;
    }
    let secure_request = is_secure(head, context.config.proxy);
    let cookie_id = session_id_from_cookie(&head.headers, &context.config.name, &context.secrets);

    // Only a validly signed ID ever reaches the store.
    let loaded = match &cookie_id {
        Some(id) => match context.timed(context.store.load(id)).await {
            Ok(loaded) => loaded,
            Err(error) => {
                context.report("load", &SessionError::Store(error));
                return match context.config.load_error {
                    LoadErrorPolicy::InternalServerError => {
                        Start::Refuse(StatusCode::INTERNAL_SERVER_ERROR)
                    }
                    LoadErrorPolicy::ServiceUnavailable => {
                        Start::Refuse(StatusCode::SERVICE_UNAVAILABLE)
                    }
                    LoadErrorPolicy::ContinueWithoutSession => Start::WithoutSession,
                };
            }
        },
        None => None,
    };

    let head_copy = context.needs_head().then(|| Arc::new(copy_head(head)));
    let state = match loaded {
        Some(loaded) => {
            let id = cookie_id.clone().unwrap_or_default();
            let data = loaded.record.data;
            SessionState {
                saved: snapshot_on_load(&context.end_options)
                    .then(|| (id.clone(), Arc::clone(&data))),
                original_id: id.clone(),
                id,
                cookie_id,
                cookie: loaded.record.cookie,
                original_data: Arc::clone(&data),
                data,
                version: Some(loaded.version),
                standing: Standing::Live,
                cookie_options,
                secure_request,
                head: head_copy,
            }
        }
        None => {
            // Unknown, expired or missing: a fresh ID, never the client's.
            let id = context.new_id(Some(head));
            let cookie = new_session_cookie(&cookie_options, secure_request, clock::now_ms());
            let data = Arc::default();
            SessionState {
                original_id: id.clone(),
                id,
                cookie_id,
                cookie,
                original_data: Arc::clone(&data),
                data,
                saved: None,
                version: None,
                standing: Standing::Live,
                cookie_options,
                secure_request,
                head: head_copy,
            }
        }
    };
    Start::With(Session::new(state, Arc::clone(context)))
}
