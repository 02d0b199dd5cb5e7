//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the
//! very checks the cargo-fuzz targets run: each target's body lives in
//! `fuzz/checks/<target>.rs`, included here with `#[path]`, so that stable
//! Rust in CI keeps every input the fuzzer found interesting passing,
//! without nightly or libFuzzer. A missing or empty corpus fails the test,
//! so the replay never passes on nothing. `-- --nocapture` shows how many
//! inputs each target replayed.

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[path = "../../../fuzz/checks/cookie_header.rs"]
mod cookie_header;
#[path = "../../../fuzz/checks/layer.rs"]
mod layer;
#[path = "../../../fuzz/checks/record.rs"]
mod record;
#[path = "../../../fuzz/checks/session_header.rs"]
mod session_header;
#[path = "../../../fuzz/checks/set_cookie.rs"]
mod set_cookie;
#[path = "../../../fuzz/checks/unsign.rs"]
mod unsign;

/// Runs `check` on every file of `fuzz/corpus/<target>/`, naming the file
/// that fails.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let entries = fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("corpus {} is missing: {error}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    for file in &files {
        let data = fs::read(file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        if let Err(panic) = panic::catch_unwind(AssertUnwindSafe(|| check(&data))) {
            eprintln!("fuzz corpus {target}: {} fails", file.display());
            panic::resume_unwind(panic);
        }
    }
    println!("fuzz corpus {target}: replayed {} inputs", files.len());
}

#[test]
fn cookie_header_corpus() {
    replay("cookie_header", cookie_header::check);
}

#[test]
fn unsign_corpus() {
    replay("unsign", unsign::check);
}

#[test]
fn set_cookie_corpus() {
    replay("set_cookie", set_cookie::check);
}

#[test]
fn record_corpus() {
    replay("record", record::check);
}

#[test]
fn layer_corpus() {
    replay("layer", layer::check);
}

#[test]
fn session_header_corpus() {
    replay("session_header", session_header::check);
}
