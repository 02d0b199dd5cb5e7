//! [`Durability`]: writes that wait for replicas, and the error of a write
//! that too few replicas acknowledged.

use std::fmt;
use std::time::Duration;

/// How many replicas must acknowledge a write before the store reports it
/// done: Redis's `WAIT numreplicas timeout`, sent after every write in the
/// same round trip. See [`RedisStore::with_durability`](crate::RedisStore::with_durability).
///
/// ```
/// use std::time::Duration;
/// use server_session_redis::Durability;
///
/// let durability = Durability::replicas(1).timeout(Duration::from_millis(500));
/// assert_eq!(durability.required_replicas(), 1);
/// assert_eq!(durability.wait_timeout(), Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Durability {
    replicas: u32,
    timeout: Duration,
}

impl Durability {
    /// How long a write waits for its replicas unless told otherwise.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

    /// Every write waits until `replicas` replicas acknowledged it, for at
    /// most [`DEFAULT_TIMEOUT`](Self::DEFAULT_TIMEOUT) (1 s). Zero
    /// replicas means no waiting: the option is off.
    #[must_use]
    pub const fn replicas(replicas: u32) -> Self {
        Self {
            replicas,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// How long a write waits for its replicas, rounded up to whole
    /// milliseconds and at least 1 ms (`WAIT … 0` would wait forever).
    /// Keep it well under the store's call timeout: a call that runs out
    /// of its budget fails with `StoreError::Timeout` instead.
    #[must_use]
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The number of replicas a write waits for.
    pub const fn required_replicas(&self) -> u32 {
        self.replicas
    }

    /// How long a write waits for them.
    pub const fn wait_timeout(&self) -> Duration {
        self.timeout
    }

    /// The timeout argument of `WAIT`, in milliseconds.
    pub(crate) fn wait_timeout_ms(&self) -> i64 {
        let ms = self.timeout.as_millis() + u128::from(self.timeout.subsec_nanos() % 1_000_000 > 0);
        i64::try_from(ms).unwrap_or(i64::MAX).max(1)
    }
}

/// The error of a write that fewer replicas acknowledged than
/// [`Durability`] asks for, within its timeout. It is the source of the
/// [`StoreError::Backend`](server_session::StoreError::Backend) the call
/// fails with:
///
/// ```
/// # fn check(error: &server_session::StoreError) {
/// use server_session_redis::ReplicationShortfall;
///
/// if let Some(shortfall) = std::error::Error::source(error)
///     .and_then(|source| source.downcast_ref::<ReplicationShortfall>())
/// {
///     eprintln!("{} of {} replicas", shortfall.acknowledged(), shortfall.required());
/// }
/// # }
/// ```
///
/// **The write did reach the master**, which acknowledged it before the
/// wait began: it is visible to the next read, and it is lost only if the
/// master fails before a replica copies it. Redis has no way to take it
/// back. The store fails the call so that the layer does not acknowledge
/// it to the client (a 503 by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationShortfall {
    acknowledged: u32,
    required: u32,
    timeout: Duration,
}

impl ReplicationShortfall {
    pub(crate) fn new(acknowledged: u32, durability: Durability) -> Self {
        Self {
            acknowledged,
            required: durability.replicas,
            timeout: durability.timeout,
        }
    }

    /// How many replicas acknowledged the write in time.
    pub fn acknowledged(&self) -> u32 {
        self.acknowledged
    }

    /// How many the store's [`Durability`] asks for.
    pub fn required(&self) -> u32 {
        self.required
    }

    /// How long the write waited.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl fmt::Display for ReplicationShortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the write reached the Redis master, but only {} of {} replicas acknowledged it within {:?}",
            self.acknowledged, self.required, self.timeout
        )
    }
}

impl std::error::Error for ReplicationShortfall {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_timeouts_round_up_to_whole_milliseconds() {
        let ms = |timeout| Durability::replicas(1).timeout(timeout).wait_timeout_ms();
        assert_eq!(ms(Duration::from_millis(500)), 500);
        assert_eq!(ms(Duration::from_micros(500_001)), 501);
        assert_eq!(ms(Duration::ZERO), 1);
        assert_eq!(ms(Duration::MAX), i64::MAX);
        assert_eq!(Durability::replicas(2).wait_timeout_ms(), 1_000);
    }

    #[test]
    fn a_shortfall_says_what_happened() {
        let shortfall = ReplicationShortfall::new(
            0,
            Durability::replicas(1).timeout(Duration::from_millis(500)),
        );
        assert_eq!(
            shortfall.to_string(),
            "the write reached the Redis master, but only 0 of 1 replicas acknowledged it within 500ms"
        );
    }
}
