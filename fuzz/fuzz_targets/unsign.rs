//! The `unsign` fuzz target: the check in `checks/unsign.rs`, which the corpus
//! replay test (`crates/server-session/tests/fuzz_corpus.rs`) runs too.
#![no_main]

#[path = "../checks/unsign.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
