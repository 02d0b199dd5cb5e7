//! [`CookieClient`]: requests that all carry one session's cookie, for the
//! tests that make several requests in one session.

use crate::{get_with_cookie, Res, TestApp};

/// A client of `app` that sends one `Cookie` header with every request:
/// `CookieClient::new(&app, first.cookie()).get("/read")` is
/// [`get_with_cookie`]`(&app, "/read", &first.cookie())`. Unlike a browser,
/// it does not follow `Set-Cookie`: a test that moves to a new cookie makes
/// a new client, so that each request's cookie is plain to see.
pub struct CookieClient<'a, A> {
    app: &'a A,
    cookie: String,
}

impl<'a, A: TestApp> CookieClient<'a, A> {
    /// A client of `app` that sends `Cookie: cookie`.
    pub fn new(app: &'a A, cookie: impl Into<String>) -> Self {
        Self {
            app,
            cookie: cookie.into(),
        }
    }

    /// The `Cookie` header this client sends.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// `GET uri` with the cookie ([`get_with_cookie`]).
    pub async fn get(&self, uri: &str) -> Res {
        get_with_cookie(self.app, uri, &self.cookie).await
    }
}
