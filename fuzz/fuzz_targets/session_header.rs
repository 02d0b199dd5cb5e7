//! The `session_header` fuzz target: the check in `checks/session_header.rs`,
//! which the corpus replay test (`crates/server-session/tests/fuzz_corpus.rs`)
//! runs too.
#![no_main]

#[path = "../checks/session_header.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
