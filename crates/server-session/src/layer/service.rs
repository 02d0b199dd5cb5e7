use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::ResponseFuture;
use crate::driver::{SessionDriver, Start};

/// The service [`SessionLayer`](super::SessionLayer) wraps around yours.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    driver: SessionDriver,
}

impl<S> std::fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, driver: SessionDriver) -> Self {
        Self { inner, driver }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
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
        let driver = self.driver.clone();
        ResponseFuture::new(async move {
            let (mut head, body) = request.into_parts();
            let slot = match driver.start(&head).await {
                Start::Run(slot) => slot,
                Start::Refuse(status) => {
                    let mut response = Response::new(ResBody::default());
                    *response.status_mut() = status;
                    return Ok(response);
                }
                Start::WithoutSession => return inner.call(Request::from_parts(head, body)).await,
            };
            // A ready session is a plain extension, for any tower service.
            if let Some(session) = slot.ready() {
                head.extensions.insert(session.clone());
            } else {
                head.extensions.insert(slot.clone());
            }
            let mut response = inner.call(Request::from_parts(head, body)).await?;
            if let Some(session) = slot.loaded() {
                driver.commit(&session).await.apply(&mut response);
            }
            Ok(response)
        })
    }
}
