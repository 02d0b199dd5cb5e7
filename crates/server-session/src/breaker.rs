//! The circuit breaker's state: whether store calls go through, and which
//! call probes a store that has been failing.
//!
//! Closed, every call goes through and consecutive transient failures are
//! counted. At the threshold the circuit opens: calls are refused at once,
//! except one probe at a time, started at most once per probe interval.
//! The first call that gets an answer from the store (a probe, or a call
//! that started before the circuit opened) closes it again. Every check on
//! the hot path is one relaxed atomic load.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::CircuitBreaker;
use crate::store::StoreError;

pub(crate) struct Breaker {
    threshold: u32,
    probe_interval_ms: u64,
    /// Transient failures in a row, reset by any answer.
    failures: AtomicU32,
    open: AtomicBool,
    /// A probe is in flight.
    probing: AtomicBool,
    /// Milliseconds after `epoch` before which no new probe starts.
    next_probe_ms: AtomicU64,
    epoch: Instant,
}

/// Whether a call may go to the store.
pub(crate) enum Admission<'a> {
    /// Go ahead; report the outcome on the ticket.
    Call(Ticket<'a>),
    /// The circuit is open and this call is not the probe.
    Refused,
}

impl Breaker {
    pub(crate) fn new(config: CircuitBreaker) -> Self {
        Self {
            threshold: config.failure_threshold.max(1),
            probe_interval_ms: duration_ms(config.probe_interval),
            failures: AtomicU32::new(0),
            open: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            next_probe_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    pub(crate) fn admit(&self) -> Admission<'_> {
        if !self.open.load(Ordering::Relaxed) {
            return Admission::Call(Ticket {
                breaker: self,
                probe: false,
            });
        }
        if self.now_ms() < self.next_probe_ms.load(Ordering::Relaxed) {
            return Admission::Refused;
        }
        match self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => Admission::Call(Ticket {
                breaker: self,
                probe: true,
            }),
            Err(_) => Admission::Refused,
        }
    }

    #[cfg(test)]
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    fn answered(&self) {
        // Written only when it changes: every answered call passes here,
        // and a store to a shared line on each one would cost under load.
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
        if self.open.load(Ordering::Relaxed) && self.open.swap(false, Ordering::AcqRel) {
            tracing::info!("session store answers again: circuit closed");
        }
    }

    fn failed(&self, probe: bool) {
        if probe {
            let next = self.now_ms().saturating_add(self.probe_interval_ms);
            self.next_probe_ms.store(next, Ordering::Relaxed);
            return;
        }
        let failures = self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if failures >= self.threshold && !self.open.swap(true, Ordering::AcqRel) {
            // The first probe may start at once: a stalled store that just
            // came back is then noticed by the first request that asks.
            self.next_probe_ms.store(self.now_ms(), Ordering::Relaxed);
            tracing::warn!(
                failures,
                "session store failing: circuit open, store calls fail fast until a probe succeeds"
            );
        }
    }

    fn now_ms(&self) -> u64 {
        duration_ms(self.epoch.elapsed())
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// One admitted call. Dropped without an outcome (the request was
/// cancelled), it only frees the probe slot.
pub(crate) struct Ticket<'a> {
    breaker: &'a Breaker,
    probe: bool,
}

impl Ticket<'_> {
    /// Counts the call's outcome: an answer of any kind from the store
    /// closes the circuit, a connection error or timeout counts against it.
    pub(crate) fn record<T>(self, result: &Result<T, StoreError>) {
        match result {
            Err(error) if error.is_transient() => self.breaker.failed(self.probe),
            _ => self.breaker.answered(),
        }
        // Drop frees the probe slot.
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.probe {
            self.breaker.probing.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32, probe_interval_ms: u64) -> Breaker {
        Breaker::new(
            CircuitBreaker::new()
                .with_failure_threshold(threshold)
                .with_probe_interval(Duration::from_millis(probe_interval_ms)),
        )
    }

    fn call(breaker: &Breaker) -> Option<Ticket<'_>> {
        match breaker.admit() {
            Admission::Call(ticket) => Some(ticket),
            Admission::Refused => None,
        }
    }

    fn timeout() -> Result<(), StoreError> {
        Err(StoreError::Timeout(Duration::from_secs(5)))
    }

    #[test]
    fn opens_after_the_threshold_of_failures_in_a_row() {
        let breaker = breaker(3, 60_000);
        for _ in 0..2 {
            call(&breaker).expect("admitted").record(&timeout());
        }
        assert!(!breaker.is_open());
        call(&breaker).expect("admitted").record(&timeout());
        assert!(breaker.is_open());
    }

    #[test]
    fn any_answer_resets_the_count() {
        let breaker = breaker(2, 60_000);
        call(&breaker).expect("admitted").record(&timeout());
        // An error reply is an answer: the store is up.
        call(&breaker)
            .expect("admitted")
            .record(&Err::<(), _>(StoreError::backend("wrong type")));
        call(&breaker).expect("admitted").record(&timeout());
        assert!(!breaker.is_open());
    }

    #[test]
    fn while_open_one_probe_at_a_time_goes_through() {
        let breaker = breaker(1, 60_000);
        call(&breaker).expect("admitted").record(&timeout());
        let probe = call(&breaker).expect("the first probe starts at once");
        assert!(
            call(&breaker).is_none(),
            "a second call waits for the probe"
        );
        probe.record(&timeout());
        assert!(
            call(&breaker).is_none(),
            "a failed probe holds the next one back for the interval"
        );
    }

    #[test]
    fn a_successful_probe_closes_the_circuit() {
        let breaker = breaker(1, 0);
        call(&breaker).expect("admitted").record(&timeout());
        call(&breaker).expect("admitted").record(&Ok(()));
        assert!(!breaker.is_open());
        assert!(call(&breaker).is_some());
        assert!(call(&breaker).is_some());
    }

    #[test]
    fn a_cancelled_probe_frees_the_slot() {
        let breaker = breaker(1, 0);
        call(&breaker).expect("admitted").record(&timeout());
        drop(call(&breaker).expect("admitted"));
        assert!(call(&breaker).is_some(), "the next request probes");
    }

    #[test]
    fn refused_calls_do_not_count_as_failures_or_answers() {
        let breaker = breaker(1, 60_000);
        call(&breaker).expect("admitted").record(&timeout());
        let _probe = call(&breaker).expect("admitted");
        assert!(call(&breaker).is_none());
        assert!(breaker.is_open());
    }
}
