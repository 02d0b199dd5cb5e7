//! Shared by `differential.rs`, `interop_express.rs` and
//! `conformance_server_tcp.rs`: starts the Rust conformance server (the
//! `conformance_server` example on tower/axum, or
//! `actix_conformance_server` on actix-web) and the same contract on real
//! express-session (`interop/node/conformance-server.js`) as child
//! processes on 127.0.0.1, sends them requests, and reads their
//! `Set-Cookie` headers.
//!
//! Every case runs on both adapters from one body: [`on_adapter`] picks the
//! adapter the Rust server of a case runs on.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::Mac as _;
use serde_json::Value;

pub use crate::adapter::{adapter, on_adapter, Adapter};

/// How long a server may take to print `listening on …`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Which implementation of the contract a server runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The `conformance_server` example of this crate.
    Rust,
    /// express-session 1.19 in Node (`interop/node/conformance-server.js`).
    Node,
}

impl Kind {
    /// `rust` or `node`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Rust => "rust",
            Kind::Node => "node",
        }
    }
}

/// The example serving the contract on `adapter`, and the package it
/// belongs to.
fn example_of(adapter: Adapter) -> (&'static str, &'static str) {
    match adapter {
        Adapter::Tower => ("conformance_server", "server-session"),
        Adapter::Actix => ("actix_conformance_server", "server-session-actix"),
    }
}

/// `interop/node` in this repository.
pub fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/node")
}

/// Whether `SESSION_REQUIRE_SERVICES=1`: a missing service or Node side
/// fails the test instead of skipping it.
pub fn require_services() -> bool {
    std::env::var("SESSION_REQUIRE_SERVICES").is_ok_and(|value| value == "1")
}

/// Whether `node` is on the `PATH` and runs.
pub fn node_runs() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether the Node side is installed (`scripts/node-deps.sh`). Prints
/// `SKIPPED: …` and returns false when it is not; panics instead under
/// `SESSION_REQUIRE_SERVICES=1`.
pub fn node_ready() -> bool {
    let installed = node_dir()
        .join("node_modules/express-session/package.json")
        .is_file();
    let node = node_runs();
    if installed && node {
        return true;
    }
    let why = if node {
        "interop/node/node_modules is missing"
    } else {
        "node is not installed"
    };
    assert!(
        !require_services(),
        "{why}: run scripts/node-deps.sh (SESSION_REQUIRE_SERVICES=1 requires the Node side)"
    );
    println!("SKIPPED: run scripts/node-deps.sh ({why})");
    false
}

/// The conformance server of `adapter`, checked to be built from the
/// current sources. `cargo test` builds the examples next to the test
/// binaries' directory.
pub fn rust_binary(adapter: Adapter) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory");
    let binary = profile_dir.join("examples").join(example_of(adapter).0);
    check_example_binary(&binary, adapter);
    binary
}

/// The newest modification time of `path`, or of any file under it.
fn newest_mtime(dir: &std::path::Path) -> Option<SystemTime> {
    if dir.is_file() {
        return std::fs::metadata(dir).and_then(|m| m.modified()).ok();
    }
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(time);
    }
    newest
}

/// Panics when the example binary is missing or older than the sources it
/// is built from: `cargo test --test <name>` does not rebuild examples, and
/// a stale server would compare an old build with express.
fn check_example_binary(binary: &std::path::Path, adapter: Adapter) {
    let (example, package) = example_of(adapter);
    let how = format!(
        "build it with `cargo test --workspace --all-features` (which builds the examples) or \
         `cargo build -p {package} --all-features --example {example}`"
    );
    let built = std::fs::metadata(binary)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {how}", binary.display()));
    let crates = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let sources = [
        "server-session/src",
        "server-session/examples/conformance_server.rs",
        "server-session-actix/src",
        "server-session-actix/examples/actix_conformance_server.rs",
        "session-examples/src",
        "server-session-redis/src",
        "server-session-sql/src",
    ];
    for source in sources {
        let newest = newest_mtime(&crates.join(source));
        assert!(
            !matches!(newest, Some(newest) if newest > built),
            "{} is older than crates/{source}: {how}",
            binary.display()
        );
    }
}

/// A running server process, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Which implementation it runs.
    pub kind: Kind,
}

impl Server {
    /// `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kind` (its Rust side on `adapter`) with `SESSION_OPTIONS =
/// options` on `store` (`memory` or a store URL), on a free port, and waits
/// (bounded) until it listens.
pub fn start(kind: Kind, adapter: Adapter, options: &Value, store: &str) -> Server {
    let label = match kind {
        Kind::Rust => format!("rust ({})", adapter.label()),
        Kind::Node => String::from("node"),
    };
    let mut command = match kind {
        Kind::Rust => Command::new(rust_binary(adapter)),
        Kind::Node => {
            let mut command = Command::new("node");
            command
                .arg(node_dir().join("conformance-server.js"))
                .current_dir(node_dir())
                // express-session's deprecation notices for the options the
                // scenarios leave out on purpose.
                .env("NO_DEPRECATION", "express-session");
            command
        }
    };
    let mut child = command
        .env("PORT", "0")
        .env("SESSION_OPTIONS", options.to_string())
        .env("SESSION_STORE", store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start the {} conformance server: {e}", label));
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let first = reader.read_line(&mut line).map(|_| line);
        let _ = sender.send(first);
        // Keep draining, so that a later write never meets a closed pipe.
        let _ = std::io::copy(&mut reader.take(u64::MAX), &mut std::io::sink());
    });
    let line = match receiver.recv_timeout(START_TIMEOUT) {
        Ok(Ok(line)) => line,
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the {} conformance server did not start ({other:?}); options {options}, store {store}",
                label
            );
        }
    };
    let Some(address) = line.trim().strip_prefix("listening on ") else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "the {} conformance server printed {line:?}; options {options}, store {store}",
            label
        );
    };
    Server {
        base: format!("http://{address}"),
        child,
        kind,
    }
}

/// An HTTP client with a bounded timeout and no cookie jar of its own.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("reqwest client")
}

/// One response, as the tests look at it.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: String,
    /// Every `Set-Cookie` header, in order.
    pub set_cookies: Vec<String>,
    /// The `Date` header, in whole seconds.
    pub date: SystemTime,
    /// Every header.
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The `Set-Cookie` for cookie `name`, if exactly that one was sent.
    pub fn cookie(&self, name: &str) -> Option<SetCookie> {
        self.set_cookies
            .iter()
            .map(|header| SetCookie::parse(header))
            .find(|cookie| cookie.name == name)
    }
}

/// Sends `GET url` with `headers` (repeated names are sent as repeated
/// header lines).
pub async fn get(client: &reqwest::Client, url: &str, headers: &[(String, String)]) -> Reply {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let set_cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect();
    let date = response
        .headers()
        .get("date")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| httpdate::parse_http_date(value).ok())
        .unwrap_or_else(|| panic!("GET {url}: no valid Date header"));
    let headers = response.headers().clone();
    let body = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: body: {e}"));
    Reply {
        status,
        body,
        set_cookies,
        date,
        headers,
    }
}

/// [`get`] with `cookie` (a `name=value` pair) as the `Cookie` header, and
/// `headers`.
pub async fn get_with_cookie(
    client: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
) -> Reply {
    let cookie = cookie.map(|cookie| ("cookie", cookie));
    let headers: Vec<(String, String)> = cookie
        .iter()
        .chain(headers)
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    get(client, url, &headers).await
}

/// A `Set-Cookie` header taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetCookie {
    /// The cookie's name.
    pub name: String,
    /// The value as sent (still URI-encoded).
    pub value: String,
    /// The attributes in order, as sent (`Path=/`, `HttpOnly`, …).
    pub attributes: Vec<String>,
}

impl SetCookie {
    /// Takes `header` apart.
    pub fn parse(header: &str) -> SetCookie {
        let mut parts = header.split("; ");
        let pair = parts.next().unwrap_or_default();
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        SetCookie {
            name: name.to_owned(),
            value: value.to_owned(),
            attributes: parts.map(str::to_owned).collect(),
        }
    }

    /// `Expires`, if present.
    pub fn expires(&self) -> Option<SystemTime> {
        self.attributes
            .iter()
            .find_map(|attribute| attribute.strip_prefix("Expires="))
            .map(|date| {
                httpdate::parse_http_date(date)
                    .unwrap_or_else(|e| panic!("Expires={date} is not an IMF-fixdate: {e}"))
            })
    }

    /// The attributes with `Expires` replaced by its distance from `date`
    /// in whole seconds (`Expires=<date+N>`).
    pub fn relative_attributes(&self, date: SystemTime) -> Vec<String> {
        self.attributes
            .iter()
            .map(|attribute| match attribute.strip_prefix("Expires=") {
                Some(_) => {
                    let expires = self.expires().expect("Expires");
                    format!("Expires=<date{:+}>", seconds_between(date, expires))
                }
                None => attribute.clone(),
            })
            .collect()
    }

    /// The session ID in an `s:<id>.<mac>` value, if it is one (whatever
    /// the signature).
    pub fn session_id(&self) -> Option<String> {
        id_in_value(&self.value)
    }
}

/// `later - earlier` in whole seconds (negative when `later` is earlier).
pub fn seconds_between(earlier: SystemTime, later: SystemTime) -> i64 {
    millis_between(earlier, later).div_euclid(1000)
}

/// `later - earlier` in milliseconds (negative when `later` is earlier).
pub fn millis_between(earlier: SystemTime, later: SystemTime) -> i64 {
    epoch_millis(later) - epoch_millis(earlier)
}

/// `time` in milliseconds since the epoch.
pub fn epoch_millis(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// `decodeURIComponent`, for the ASCII escapes express writes.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The ID in an encoded `s:<id>.<mac>` cookie value.
pub fn id_in_value(value: &str) -> Option<String> {
    let decoded = percent_decode(value);
    let signed = decoded.strip_prefix("s:")?;
    let (id, _) = signed.rsplit_once('.')?;
    Some(id.to_owned())
}

/// cookie-signature's tag for `id` under `secret`: HMAC-SHA256, unpadded
/// standard base64. Written out here so the tests do not trust the crate's
/// own codec.
pub fn signature(id: &str, secret: &str) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(id.as_bytes());
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(mac.finalize().into_bytes())
}

/// cookie-signature's `sign(id, secret)` ([`signature`]), then express's
/// `encodeURIComponent('s:' + …)`: the cookie value for `id`.
pub fn signed_value(id: &str, secret: &str) -> String {
    let tag = signature(id, secret);
    let mut encoded = String::from("s%3A");
    for ch in format!("{id}.{tag}").chars() {
        match ch {
            'A'..='Z'
            | 'a'..='z'
            | '0'..='9'
            | '-'
            | '_'
            | '.'
            | '!'
            | '~'
            | '*'
            | '\''
            | '('
            | ')' => encoded.push(ch),
            other => {
                let mut buffer = [0u8; 4];
                for byte in other.encode_utf8(&mut buffer).bytes() {
                    encoded.push_str(&format!("%{byte:02X}"));
                }
            }
        }
    }
    encoded
}

/// Whether `value` (as sent in `Set-Cookie`) is `id` signed with `secret`.
pub fn is_signed_with(value: &str, secret: &str) -> bool {
    id_in_value(value).is_some_and(|id| signed_value(&id, secret) == value)
}

/// The `expires` of an express cookie JSON object, in epoch milliseconds.
pub fn json_expires_ms(cookie: &Value) -> Option<i64> {
    let text = cookie.get("expires")?.as_str()?;
    let parsed =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    epoch_millis(SystemTime::now())
}
