/// What `Session::unset` (express's `req.session = null`) does at the end of
/// the request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unset {
    /// Keep the stored session; only this request loses it (express's default).
    #[default]
    Keep,
    /// Delete the stored session.
    Destroy,
}

/// How the layer decides whether a request path is inside the cookie's path,
/// and so whether it gets a session at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PathMatch {
    /// express-session 1.19.0: a plain string prefix, so `/admin` also
    /// matches `/administrator`.
    #[default]
    Prefix,
    /// RFC 6265 §5.1.4 path-match, as express-session's pending 1.19.1 does:
    /// the prefix must end in `/` or be followed by `/`.
    Rfc6265,
}

/// What the layer answers when the store fails to load a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadErrorPolicy {
    /// `500 Internal Server Error`, as express does.
    #[default]
    InternalServerError,
    /// `503 Service Unavailable`, so load balancers and clients retry.
    ServiceUnavailable,
    /// Run the handler without a session, as if the path were outside the
    /// cookie path. `Option<Session>` extractors see `None`.
    ContinueWithoutSession,
}

/// What the layer does when the store holds a record for the request's
/// session that it cannot read ([`StoreError::Corrupt`](crate::StoreError::Corrupt)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorruptRecordPolicy {
    /// Report the error (`tracing` and the error hook) and give the request a
    /// fresh session under a new ID, as for a missing one. The unreadable
    /// record is left in the store until it expires: another service
    /// sharing the store may still read it.
    #[default]
    NewSession,
    /// Treat it as any other load error: the [`LoadErrorPolicy`] answers
    /// (express's behaviour: 500).
    LoadError,
}

/// What the layer does with the response when the end-of-request store
/// write fails after the handler ran: saving a session this request
/// changed, or destroying one it unset. Every failure is reported to the
/// error hook and `tracing`. A failed touch of an unchanged session, or a
/// failed save of one this request did not change, never changes the
/// response: nothing the client was told is lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitErrorPolicy {
    /// Replace the response with `503 Service Unavailable` and
    /// `Retry-After: 1`: the client was about to be told its change was
    /// made, and it was not, so it must not see a success.
    #[default]
    ServiceUnavailable,
    /// Replace the response with `500 Internal Server Error`.
    InternalServerError,
    /// Send the handler's response unchanged (express's behaviour). A client
    /// can then see a success for a change that was never stored.
    KeepResponse,
}

/// What a save does when another writer changed the stored session since
/// this request loaded it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictPolicy {
    /// Reload the stored session, replay this process's own changes on it
    /// key by key (`insert`, `remove`, `clear`, and `update` closures re-run
    /// on the fresh value), and save again, a bounded number of times. No
    /// update is lost.
    #[default]
    Merge,
    /// Overwrite whatever is stored, as express-session does: the last
    /// writer wins, and concurrent changes can be lost. Unlike express, a
    /// session that was destroyed or expired meanwhile is never written
    /// back.
    LastWriteWins,
    /// Give up with [`SessionError::Conflict`](crate::SessionError::Conflict).
    Fail,
}

/// How many live sessions one user may have, checked at
/// [`Session::sign_in`](crate::Session::sign_in) (OWASP ASVS 7.1.2). Set
/// with [`SessionConfig::with_sessions_per_user`](crate::SessionConfig::with_sessions_per_user).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionLimit {
    /// At the limit, a sign-in ends the user's least recently active
    /// sessions to make room.
    EvictOldest(usize),
    /// At the limit, a sign-in fails with
    /// [`SessionError::TooManySessions`](crate::SessionError::TooManySessions)
    /// (403): the user signs out somewhere first.
    RefuseNew(usize),
}

impl SessionLimit {
    /// The most live sessions a user may have.
    pub fn max(self) -> usize {
        match self {
            Self::EvictOldest(max) | Self::RefuseNew(max) => max,
        }
    }
}

/// Fail fast while the store is down: after `failure_threshold` store calls
/// in a row failed with a connection error or a timeout, the layer stops
/// calling the store and answers each call at once with
/// [`StoreError::Unavailable`](crate::StoreError::Unavailable), which the
/// [`LoadErrorPolicy`] and [`CommitErrorPolicy`] then answer as they answer
/// any store failure. Meanwhile one request at a time, at most one every
/// `probe_interval`, still calls the store as a probe; the first call that
/// gets an answer closes the circuit again.
///
/// Without it, every request with a session cookie waits the whole store
/// timeout while the store is stalled or unreachable, and a busy server
/// piles up requests and connections behind it. On by default
/// ([`SessionConfig::with_circuit_breaker`](crate::SessionConfig::with_circuit_breaker)).
/// A stall shorter than the store timeout never opens it: only failed calls
/// count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CircuitBreaker {
    pub(crate) failure_threshold: u32,
    pub(crate) probe_interval: std::time::Duration,
}

impl CircuitBreaker {
    /// Opens after 3 failed calls in a row, and probes at most every 250 ms.
    pub const fn new() -> Self {
        Self {
            failure_threshold: 3,
            probe_interval: std::time::Duration::from_millis(250),
        }
    }

    /// How many store calls in a row must fail before the circuit opens
    /// (at least 1). A call that gets any answer from the store, even an
    /// error reply, resets the count.
    #[must_use]
    pub const fn with_failure_threshold(mut self, failures: u32) -> Self {
        self.failure_threshold = failures;
        self
    }

    /// The least time between two probes while the circuit is open. A probe
    /// that waits on a stalled store holds the slot until it times out, and
    /// the store's return is noticed as soon as that probe gets its answer.
    #[must_use]
    pub const fn with_probe_interval(mut self, interval: std::time::Duration) -> Self {
        self.probe_interval = interval;
        self
    }
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new()
    }
}
