//! Browser end-to-end test of the demo example, which runs the library's
//! hardened configuration: starts the demo as a real process and drives it
//! in Debian's headless Chromium with playwright-core
//! (`tests/browser/demo.e2e.mjs` at the repo root). The script checks that
//! Chromium keeps the `__Host-sid` cookie (`Secure`, `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, no `Domain`, expiring 30 minutes ahead) over
//! `http://127.0.0.1`, the visit counter, the rolling idle timeout, "keep me
//! signed in" held at the 12-hour absolute timeout, session-ID rotation on
//! sign-in, sign-out removing the cookie from the browser and cookie replay,
//! and saves a screenshot to `target/browser/demo-signed-in.png`.
//!
//! Needs `/usr/bin/chromium` and `tests/browser/node_modules` (both set up by
//! `scripts/browser-deps.sh`); without them the browser test prints
//! `SKIPPED: …` and passes, unless `SESSION_REQUIRE_SERVICES=1`. A second
//! test, without a browser, checks that the demo refuses a `SESSION_SECRET`
//! the hardened configuration does not accept.

// Linux only: Debian's Chromium, and process groups for the timeout.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const SCRIPT: &str = "tests/browser/demo.e2e.mjs";
const SCREENSHOT: &str = "target/browser/demo-signed-in.png";
/// The demo prints its URL right after binding; a debug build starts in
/// well under a second.
const DEMO_START_TIMEOUT: Duration = Duration::from_secs(10);
/// The browser run takes about 9 s (3.5 s of it waiting for expiries to
/// move); the script has its own 60 s watchdog, this is the backstop.
const NODE_TIMEOUT: Duration = Duration::from_secs(70);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Prints `SKIPPED: <why>` and returns false, or panics when CI requires
/// every service-backed test to run.
fn prerequisite(present: bool, why: &str) -> bool {
    if present {
        return true;
    }
    if std::env::var("SESSION_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("{why} (SESSION_REQUIRE_SERVICES=1; run scripts/browser-deps.sh)");
    }
    println!("SKIPPED: {why} (run scripts/browser-deps.sh)");
    false
}

/// `cargo test` builds the examples into `target/<profile>/examples`, next
/// to the `deps` directory that holds this test binary.
fn demo_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory");
    profile_dir.join("examples").join("demo")
}

/// How to get a current demo binary: a plain `cargo test` (no target
/// filter) builds the examples, but `cargo test --test browser_demo` does not.
const BUILD_HINT: &str = "run the whole suite (`cargo test -p server-session --all-features`), \
     or `cargo build -p server-session --all-features --example demo` before \
     `cargo test -p server-session --all-features --test browser_demo`";

/// Fails when the demo binary is missing, or older than the example's own
/// sources (a `--test`-filtered run would otherwise test a stale build).
fn check_demo_binary(binary: &Path) {
    let built = std::fs::metadata(binary)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {BUILD_HINT}", binary.display()));
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut sources = vec![examples.join("demo.rs")];
    if let Ok(entries) = std::fs::read_dir(examples.join("support")) {
        sources.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
    }
    for source in sources {
        let changed = std::fs::metadata(&source).and_then(|m| m.modified());
        if matches!(changed, Ok(changed) if changed > built) {
            panic!(
                "{} is older than {}: {BUILD_HINT}",
                binary.display(),
                source.display()
            );
        }
    }
}

/// Kills the demo however the test ends, so no server outlives it.
struct Demo {
    child: Child,
    url: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the demo on `port` and waits for the URL it prints.
fn start_demo(binary: &Path, port: u16) -> Demo {
    let mut child = Command::new(binary)
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    // Keeps draining stdout after the first line so the demo never blocks
    // on a full pipe.
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix("demo listening on ") {
                let _ = tx.send(url.trim().to_owned());
            } else {
                println!("demo: {line}");
            }
        }
    });
    let mut demo = Demo {
        child,
        url: String::new(),
    };
    match rx.recv_timeout(DEMO_START_TIMEOUT) {
        Ok(url) => demo.url = url,
        Err(_) => {
            let status = demo.child.try_wait().ok().flatten();
            panic!(
                "the demo printed no URL within {DEMO_START_TIMEOUT:?} (exit status: {status:?})"
            );
        }
    }
    demo
}

/// The port in `http://127.0.0.1:PORT/`.
fn url_port(url: &str) -> Option<u16> {
    let authority = url.split("://").nth(1)?.split('/').next()?;
    authority.rsplit(':').next()?.parse().ok()
}

/// A port that was free a moment ago, for a demo that cannot report the port
/// the OS picked for `PORT=0`.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// Reads a child's pipe to the end on its own thread.
fn collect(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

#[test]
fn demo_in_headless_chromium() {
    let started = Instant::now();
    let root = repo_root();
    if !prerequisite(
        Path::new(CHROMIUM).is_file(),
        &format!("{CHROMIUM} is not installed"),
    ) || !prerequisite(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "tests/browser/node_modules is missing (npm ci)",
    ) {
        return;
    }
    let binary = demo_binary();
    check_demo_binary(&binary);

    let mut demo = start_demo(&binary, 0);
    if url_port(&demo.url) == Some(0) {
        // The demo prints the configured port rather than the bound one, so
        // with PORT=0 its URL is unusable: pick a free port ourselves.
        println!("note: the demo printed port 0 for PORT=0; restarting it on a chosen free port");
        drop(demo);
        demo = start_demo(&binary, free_port());
    }
    assert!(
        matches!(url_port(&demo.url), Some(port) if port != 0),
        "the demo printed an unusable URL: {}",
        demo.url
    );
    println!("demo at {}", demo.url);

    let mut node = Command::new("node")
        .arg(SCRIPT)
        .arg(&demo.url)
        .arg(SCREENSHOT)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout takes Chromium down with it.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node (Node.js 20 is required): {e}"));
    let stdout = collect(node.stdout.take().expect("piped stdout"));
    let stderr = collect(node.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + NODE_TIMEOUT;
    let status = loop {
        match node.try_wait().expect("wait for node") {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let group = format!("-{}", node.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = node.kill();
                let _ = node.wait();
                break None;
            }
            None => thread::sleep(Duration::from_millis(50)),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    // Through println! so libtest shows them only when the test fails (or
    // with --nocapture).
    println!("{stdout}");
    println!("{stderr}");
    drop(demo);

    let status =
        status.unwrap_or_else(|| panic!("{SCRIPT} did not finish within {NODE_TIMEOUT:?}"));
    assert!(
        status.success(),
        "{SCRIPT} failed ({status}):\n{stderr}\n{stdout}"
    );
    assert!(
        root.join(SCREENSHOT).is_file(),
        "{SCREENSHOT} was not written"
    );
    println!("browser test passed in {:?}", started.elapsed());
}

#[test]
fn demo_refuses_a_short_session_secret() {
    let binary = demo_binary();
    check_demo_binary(&binary);
    let mut child = Command::new(&binary)
        // 31 bytes: one short of the hardened configuration's minimum.
        .env("SESSION_SECRET", "x".repeat(31))
        .env("PORT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let stdout = collect(child.stdout.take().expect("piped stdout"));
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + DEMO_START_TIMEOUT;
    let status = loop {
        match child.try_wait().expect("wait for the demo") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the demo kept running with a 31-byte SESSION_SECRET");
            }
            None => thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    assert_eq!(
        status.code(),
        Some(2),
        "the demo should exit 2 on a short SESSION_SECRET\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        !stdout.contains("listening"),
        "the demo should not listen with a short secret: {stdout}"
    );
    assert!(
        stderr.contains("option `secret`") && stderr.contains("32 bytes"),
        "the demo should print the ConfigError: {stderr}"
    );
}
