//! The `set_cookie` fuzz target: the check in `checks/set_cookie.rs`, which the corpus
//! replay test (`crates/server-session/tests/fuzz_corpus.rs`) runs too.
#![no_main]

#[path = "../checks/set_cookie.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
