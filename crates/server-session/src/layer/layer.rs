use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::SessionService;
use crate::driver::SessionDriver;
use crate::{ConfigError, SessionConfig, Store};

/// Adds express-style sessions to a tower service. See the
/// [module docs](crate::layer) for an example.
#[derive(Clone)]
#[must_use]
pub struct SessionLayer {
    driver: SessionDriver,
}

impl fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionLayer").field(&self.driver).finish()
    }
}

impl SessionLayer {
    /// A layer over `store` with these options.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first option that cannot work (an empty
    /// secret, a cookie name that is not a token, an invalid domain or path).
    pub fn new(store: impl Store, config: SessionConfig) -> Result<Self, ConfigError> {
        Self::from_arc(Arc::new(store), config)
    }

    /// A layer over a shared store.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn from_arc(store: Arc<dyn Store>, config: SessionConfig) -> Result<Self, ConfigError> {
        Ok(Self::from_driver(SessionDriver::from_arc(store, config)?))
    }

    /// A layer over a driver built elsewhere (shared with another adapter,
    /// say).
    pub fn from_driver(driver: SessionDriver) -> Self {
        Self { driver }
    }

    /// The driver the layer runs requests with.
    pub fn driver(&self) -> &SessionDriver {
        &self.driver
    }

    /// The handle on every session of this layer's users: list a user's
    /// sessions, revoke one, sign out everywhere. See
    /// [`UserSessions`](crate::UserSessions).
    pub fn user_sessions(&self) -> crate::UserSessions {
        self.driver().user_sessions()
    }

    /// How many sessions are live in this process right now, that is, held
    /// by a request in flight (or a `Session` clone kept elsewhere). For
    /// tests and metrics: it drops to zero when every request is done.
    pub fn live_sessions(&self) -> usize {
        self.driver.live_sessions()
    }

    /// The options the layer runs with.
    pub fn config(&self) -> &SessionConfig {
        self.driver.config()
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.driver.clone())
    }
}
