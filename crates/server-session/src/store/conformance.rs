//! The store conformance kit: one suite of cases that every [`Store`]
//! must pass (feature `conformance`).
//!
//! A store crate implements [`Harness`] (how to get a fresh store, how to
//! plant raw bytes, how to get an unreachable one) and calls
//! [`store_conformance_tests!`](crate::store_conformance_tests) once. The
//! macro writes one `#[test]` per case, named after the case ([`CASES`]
//! lists them), each on its own two-worker multi-thread tokio runtime and
//! each bounded to two minutes.
//!
//! Each case is also a public `async fn` taking the harness, so a store
//! crate can run one case from a test of its own.
//!
//! Cases that need the clock to move use short lifetimes (1–2 s) and wait
//! for real, and they allow a store to keep a record up to a second past
//! its `cookie.expires`, because connect-redis's TTL and connect-pg-simple's
//! `expire` both round up to whole seconds. Session IDs are random per case,
//! so the cases can share one server and run in parallel; only the listing
//! case needs the isolated store that [`Harness::store`] promises.
//!
//! # Example
//!
//! In `tests/conformance.rs` of a store crate (here with [`MemoryStore`]):
//!
//! ```
//! use server_session::conformance::Harness;
//! use server_session::store::{Record, SaveCondition, Store};
//! use server_session::MemoryStore;
//!
//! struct MemoryHarness;
//!
//! impl Harness for MemoryHarness {
//!     type Store = MemoryStore;
//!
//!     async fn store(&self) -> MemoryStore {
//!         MemoryStore::new()
//!     }
//!
//!     async fn write_raw(&self, store: &MemoryStore, id: &str, raw: &[u8]) {
//!         // MemoryStore stores what `save` gives it, re-encoded, never
//!         // bytes as given: only valid records can be planted, and
//!         // `supports_raw` below says so.
//!         if let Ok(record) = Record::from_json(raw) {
//!             let _ = store.save(id, &record, SaveCondition::Upsert).await;
//!         }
//!     }
//!
//!     async fn unreachable_store(&self) -> Option<MemoryStore> {
//!         None // no server, nothing to be unreachable
//!     }
//!
//!     fn supports_listing(&self) -> bool {
//!         true
//!     }
//!
//!     fn supports_raw(&self) -> bool {
//!         false
//!     }
//! }
//!
//! server_session::store_conformance_tests!(async { Some(MemoryHarness) });
//! # fn main() {}
//! ```
//!
//! A harness for a store with a server reads its URL with [`service_url`]
//! and returns `None` to skip:
//!
//! ```text
//! server_session::store_conformance_tests!(async {
//!     let url = server_session::conformance::service_url("REDIS_URL")?;
//!     Some(RedisHarness::connect(&url).await)
//! });
//! ```
//!
//! [`MemoryStore`]: crate::MemoryStore

mod cases;

use std::future::Future;
use std::time::Duration;

pub use self::cases::*;
use super::Store;

/// What the conformance cases need from a store crate.
pub trait Harness: Send + Sync + 'static {
    /// The store under test.
    type Store: Store;

    /// A fresh store, isolated from other cases (own key prefix or table),
    /// so cases run in parallel.
    fn store(&self) -> impl Future<Output = Self::Store> + Send;

    /// Writes `raw` as the stored value of `id`, bypassing the store's
    /// encoding, with an expiry an hour away. Used by the corrupt-record
    /// case.
    fn write_raw<'a>(
        &'a self,
        store: &'a Self::Store,
        id: &'a str,
        raw: &'a [u8],
    ) -> impl Future<Output = ()> + Send + 'a;

    /// A store whose server cannot be reached (e.g. 127.0.0.1:1), with a
    /// short call timeout (<= 2 s). `None` when the store has no server
    /// (MemoryStore); the unreachable-server cases are then skipped.
    fn unreachable_store(&self) -> impl Future<Output = Option<Self::Store>> + Send;

    /// Whether the store implements `all`, `len` and `clear`. When false,
    /// the listing case checks that they answer
    /// [`StoreError::Unsupported`](super::StoreError::Unsupported).
    fn supports_listing(&self) -> bool;

    /// Whether [`write_raw`](Self::write_raw) can store bytes that are not
    /// a session record. False for stores that keep records parsed
    /// (MemoryStore), which skip the corrupt-record case. Default: true.
    fn supports_raw(&self) -> bool {
        true
    }

    /// Whether the store implements the per-user index
    /// ([`Store::index_user`],
    /// [`user_sessions`](super::Store::user_sessions)). When false, the
    /// user-index cases check that listing answers `Unsupported`. Default:
    /// false.
    fn supports_user_index(&self) -> bool {
        false
    }
}

/// Reads a service URL from the environment variable `var`.
///
/// When it is unset or empty, prints `SKIPPED: …` and returns `None`, or
/// panics if `SESSION_REQUIRE_SERVICES=1` (CI, where every service runs and
/// a skip would hide a failure).
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("SESSION_REQUIRE_SERVICES").is_ok_and(|value| value == "1") {
                panic!("{var} is not set, and SESSION_REQUIRE_SERVICES=1 requires every service");
            }
            println!("SKIPPED: {var} is not set");
            None
        }
    }
}

/// How long one case may run before it fails instead of hanging.
const CASE_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs one case on its own two-worker multi-thread runtime. Used by
/// [`store_conformance_tests!`](crate::store_conformance_tests); the test
/// crate needs no tokio dependency of its own.
#[doc(hidden)]
pub fn __run(case: &str, test: impl Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("{case}: cannot start a tokio runtime: {error}"));
    runtime.block_on(async {
        if tokio::time::timeout(CASE_TIMEOUT, test).await.is_err() {
            panic!("{case}: did not finish within {CASE_TIMEOUT:?}");
        }
    });
}

/// Calls `$callback` with the list of cases: the one place it is written.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    ($callback:ident { $($context:tt)* }) => {
        $crate::$callback! {
            { $($context)* }
            load_missing_is_none
            upsert_then_load_round_trips
            expired_record_is_none
            if_absent_creates_when_absent
            if_absent_conflicts_with_live_record
            if_absent_succeeds_over_expired_record
            if_version_succeeds_with_loaded_version
            if_version_conflicts_when_stale
            if_version_conflicts_after_destroy
            if_version_conflicts_after_another_writer
            touch_extends_expiry_keeps_data_and_version
            touch_missing_does_not_create
            touch_expired_does_not_resurrect
            destroy_removes
            destroy_missing_is_ok
            save_already_expired_deletes
            browser_session_record_is_loadable
            listing_all_len_clear
            prune_expired_keeps_live_records
            unicode_round_trips
            large_record_round_trips
            corrupt_record_is_an_error
            unreachable_load_fails_fast
            unreachable_save_fails_fast
            unreachable_touch_fails_fast
            unreachable_destroy_fails_fast
            concurrent_compare_and_set
            concurrent_increments_are_not_lost
            user_index_lists_the_users_sessions
            user_index_never_lists_gone_sessions
            user_index_finds_numeric_users
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases_const {
    ({} $($case:ident)*) => {
        /// The name of every case, in the order the suite lists them. Each
        /// is a function of this module and a test of
        /// [`store_conformance_tests!`](crate::store_conformance_tests).
        pub const CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_test_fns {
    ({ $harness:expr } $($case:ident)*) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::__run(stringify!($case), async {
                    let Some(harness) = ($harness).await else {
                        return;
                    };
                    $crate::conformance::$case(&harness).await;
                });
            }
        )*
    };
}

/// Writes one test per conformance case, named after it.
///
/// `$harness` is an async expression giving `Option<H>` where `H:`
/// [`Harness`]; `None` skips the case (print why, for example with
/// [`service_url`]). It is evaluated once per test. Each test runs on its
/// own two-worker multi-thread tokio runtime. See the
/// [module docs](crate::conformance) for an example.
#[macro_export]
macro_rules! store_conformance_tests {
    ($harness:expr) => {
        $crate::__store_conformance_cases!(__store_conformance_test_fns { $harness });
    };
}

crate::__store_conformance_cases!(__store_conformance_cases_const {});
