use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::commit::commit;
use super::deferred::Deferred;
use super::start::{begin, Start};

/// Marks a request that has no session because the store could not give
/// one (not ready, or a load error under `ContinueWithoutSession`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoreUnavailable;
use super::ResponseFuture;
use crate::context::Context;

/// The service [`SessionLayer`](super::SessionLayer) wraps around yours.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    context: Arc<Context>,
}

impl<S> std::fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, context: Arc<Context>) -> Self {
        Self { inner, context }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone that was driven to readiness serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let context = Arc::clone(&self.context);
        ResponseFuture::new(async move {
            let (mut head, body) = request.into_parts();
            let start = match begin(&context, &head) {
                Ok(prelude) if context.config.lazy_load && prelude.needs_store() => {
                    // Loaded by the extractor, if a handler asks for it.
                    let deferred = Deferred::new(Arc::clone(&context), prelude);
                    head.extensions.insert(Arc::clone(&deferred));
                    let mut response = inner.call(Request::from_parts(head, body)).await?;
                    if let Some(session) = deferred.loaded() {
                        commit(&context, &session, &mut response).await;
                    }
                    return Ok(response);
                }
                Ok(prelude) => prelude.finish(&context, &head).await,
                Err(start) => start,
            };
            let session = match start {
                Start::WithoutSession => {
                    return inner.call(Request::from_parts(head, body)).await;
                }
                Start::StoreUnavailable => {
                    // So that the `Session` extractor names the real cause.
                    head.extensions.insert(StoreUnavailable);
                    return inner.call(Request::from_parts(head, body)).await;
                }
                Start::Refuse(status) => {
                    let mut response = Response::new(ResBody::default());
                    *response.status_mut() = status;
                    return Ok(response);
                }
                Start::With(session) => session,
            };
            head.extensions.insert(session.clone());
            let mut response = inner.call(Request::from_parts(head, body)).await?;
            commit(&context, &session, &mut response).await;
            Ok(response)
        })
    }
}
