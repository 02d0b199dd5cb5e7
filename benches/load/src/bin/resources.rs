//! Resource figures for BENCHMARKS.md, measured in-process:
//!
//! - `resources allocs [N]`: heap allocations (and bytes) per request for
//!   each scenario, through bare axum, this library on MemoryStore, and
//!   tower-sessions on its MemoryStore, counted by a global allocator;
//! - `resources roundtrips [N]`: store calls per request for each scenario
//!   and store, counted by a wrapper `Store` (`REDIS_URL`, `POSTGRES_URL`
//!   add those stores);
//! - `resources memory ours|tower [SESSIONS]`: RSS growth for SESSIONS
//!   (default 1,000,000) sessions created by `/counter` requests without a
//!   cookie, then left idle;
//! - `resources expiry ours|tower [SESSIONS]`: whether sessions that expired
//!   leave memory (default 200,000 sessions with a 1-second lifetime).
//!
//! Every loop is bounded by its request count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use http::header::{COOKIE, SET_COOKIE};
use http::Request;
use server_session::store::{LoadedRecord, Record, SaveCondition, SaveOutcome, StoreFuture};
use server_session::{MemoryStore, Store};
use tower::ServiceExt;

/// Counts every allocation and reallocation made through the system
/// allocator.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
/// Bytes and blocks currently allocated (allocations minus frees).
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static LIVE_BLOCKS: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the counters are
// plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        LIVE_BYTES.fetch_add(layout.size() as i64, Relaxed);
        LIVE_BLOCKS.fetch_add(1, Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        LIVE_BYTES.fetch_add(layout.size() as i64, Relaxed);
        LIVE_BLOCKS.fetch_add(1, Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Relaxed);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The four scenarios of the load harness: (label, path, with cookie).
const SCENARIOS: [(&str, &str, bool); 4] = [
    ("/none + cookie", "/none", true),
    ("/read + cookie", "/read", true),
    ("/counter + cookie", "/counter", true),
    ("/counter, no cookie", "/counter", false),
];

fn request(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path).header("host", "127.0.0.1");
    if let Some(cookie) = cookie {
        builder = builder.header(COOKIE, cookie);
    }
    builder.body(Body::empty()).expect("valid request")
}

/// Sends one request and returns `name=value` of its Set-Cookie, if any.
async fn send(app: &Router, path: &str, cookie: Option<&str>) -> Option<String> {
    let response = app
        .clone()
        .oneshot(request(path, cookie))
        .await
        .expect("infallible");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let set_cookie = response
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned());
    // Read the body, as a server would.
    let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
    set_cookie
}

/// A session cookie for `app`, made by one `/counter` request.
async fn session_cookie(app: &Router) -> String {
    send(app, "/counter", None)
        .await
        .expect("a new session sends a cookie")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn arg_count(index: usize, default: u64) -> u64 {
    std::env::args()
        .nth(index)
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn allocs() {
    let n = arg_count(2, 20_000);
    let rt = runtime();
    rt.block_on(async {
        let apps: Vec<(&str, Router)> = vec![
            ("bare axum", session_bench::bare_router()),
            (
                "ours (MemoryStore)",
                session_bench::ours_router(Arc::new(MemoryStore::new())),
            ),
            (
                "tower-sessions (MemoryStore)",
                session_bench::tower_sessions_router(tower_sessions::MemoryStore::default()),
            ),
        ];
        println!("| server | scenario | allocations/request | bytes allocated/request |");
        println!("|---|---|---:|---:|");
        // `ALLOCS_ONLY=<text>` keeps the rows whose "<server> <scenario>"
        // contains it (e.g. "ours (MemoryStore) /read"), to run one under
        // heaptrack.
        let only = std::env::var("ALLOCS_ONLY").unwrap_or_default();
        let kept =
            |name: &str, label: &str| only.is_empty() || format!("{name} {label}").contains(&only);
        for (name, app) in &apps {
            if !SCENARIOS.iter().any(|(label, _, _)| kept(name, label)) {
                continue;
            }
            let cookie = if *name == "bare axum" {
                String::from("connect.sid=x")
            } else {
                session_cookie(app).await
            };
            for (label, path, with_cookie) in SCENARIOS {
                if !kept(name, label) {
                    continue;
                }
                let cookie = with_cookie.then_some(cookie.as_str());
                // Warm up (lazy statics, first-use allocations).
                for _ in 0..100 {
                    send(app, path, cookie).await;
                }
                let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
                for _ in 0..n {
                    send(app, path, cookie).await;
                }
                let (a1, b1) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
                println!(
                    "| {name} | {label} | {:.1} | {:.0} |",
                    (a1 - a0) as f64 / n as f64,
                    (b1 - b0) as f64 / n as f64
                );
            }
        }
    });
}

/// Counts the calls made on the store it wraps.
struct CountingStore {
    inner: Arc<dyn Store>,
    loads: AtomicU64,
    load_and_touches: AtomicU64,
    saves: AtomicU64,
    touches: AtomicU64,
    destroys: AtomicU64,
}

impl CountingStore {
    fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            loads: AtomicU64::new(0),
            load_and_touches: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            touches: AtomicU64::new(0),
            destroys: AtomicU64::new(0),
        }
    }
    fn snapshot(&self) -> [u64; 5] {
        [
            self.loads.load(Relaxed),
            self.load_and_touches.load(Relaxed),
            self.saves.load(Relaxed),
            self.touches.load(Relaxed),
            self.destroys.load(Relaxed),
        ]
    }
}

impl Store for CountingStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        self.loads.fetch_add(1, Relaxed);
        self.inner.load(id)
    }
    fn load_and_touch<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<(LoadedRecord, bool)>> {
        self.load_and_touches.fetch_add(1, Relaxed);
        self.inner.load_and_touch(id)
    }
    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        self.saves.fetch_add(1, Relaxed);
        self.inner.save(id, record, condition)
    }
    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        self.touches.fetch_add(1, Relaxed);
        self.inner.touch(id, record)
    }
    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        self.destroys.fetch_add(1, Relaxed);
        self.inner.destroy(id)
    }
    fn is_ready(&self) -> bool {
        self.inner.is_ready()
    }
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}

fn roundtrips() {
    let n = arg_count(2, 200);
    let rt = runtime();
    rt.block_on(async {
        let mut stores: Vec<(&str, Arc<dyn Store>)> =
            vec![("memory", Arc::new(MemoryStore::new()))];
        if let Ok(url) = std::env::var("REDIS_URL") {
            let store = server_session_redis::RedisStore::connect(&url)
                .await
                .expect("redis");
            stores.push(("redis", Arc::new(store)));
        }
        if let Ok(url) = std::env::var("POSTGRES_URL") {
            let store = server_session_sql::PostgresStore::connect(&url)
                .await
                .expect("postgres")
                .with_table("bench_session_roundtrips");
            store.migrate().await.expect("migrate");
            stores.push(("postgres", Arc::new(store)));
        }
        println!(
            "| store | scenario | store calls/request | load | load_and_touch | save | touch | destroy |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|");
        for (name, store) in stores {
            let counting = Arc::new(CountingStore::new(store));
            let app = session_bench::ours_router(counting.clone());
            let cookie = session_cookie(&app).await;
            for (label, path, with_cookie) in SCENARIOS {
                let cookie = with_cookie.then_some(cookie.as_str());
                let before = counting.snapshot();
                for _ in 0..n {
                    send(&app, path, cookie).await;
                }
                let after = counting.snapshot();
                let per: Vec<f64> = (0..5)
                    .map(|i| (after[i] - before[i]) as f64 / n as f64)
                    .collect();
                println!(
                    "| {name} | {label} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                    per.iter().sum::<f64>(),
                    per[0],
                    per[1],
                    per[2],
                    per[3],
                    per[4]
                );
            }
        }
    });
}

/// Resident set size of this process, in bytes.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn memory() {
    let which = std::env::args().nth(2).unwrap_or_else(|| "ours".into());
    let sessions = arg_count(3, 1_000_000);
    let rt = runtime();
    rt.block_on(async {
        // Unbounded: this measures bytes per session, not the bound.
        let ours = MemoryStore::new().unbounded();
        let app = match which.as_str() {
            "ours" => session_bench::ours_router(Arc::new(ours.clone())),
            "tower" => session_bench::tower_sessions_router(tower_sessions::MemoryStore::default()),
            other => panic!("unknown server {other}: ours | tower"),
        };
        // Warm up the runtime, router and allocator with a few sessions.
        let mut last_cookie = None;
        for _ in 0..1_000 {
            last_cookie = send(&app, "/counter", None).await;
        }
        let before = rss_bytes();
        let (live0, blocks0) = (LIVE_BYTES.load(Relaxed), LIVE_BLOCKS.load(Relaxed));
        for _ in 0..sessions {
            last_cookie = send(&app, "/counter", None).await;
        }
        let after = rss_bytes();
        let (live1, blocks1) = (LIVE_BYTES.load(Relaxed), LIVE_BLOCKS.load(Relaxed));
        let per_session = (after - before) as f64 / sessions as f64;
        let json_len = if which == "ours" {
            // The stored JSON of one of these sessions, for the target.
            let cookie = last_cookie.unwrap_or_default();
            let value = server_session::__private::find_cookie(cookie.as_bytes(), "connect.sid")
                .unwrap_or_default();
            let secrets =
                server_session::__private::Secrets::new([session_bench::SECRET]).expect("secret");
            let id = server_session::__private::unsign_session_id(&value, &secrets).unwrap_or_default();
            let loaded = ours.load(id).await.ok().flatten().expect("session stored");
            loaded.record.to_json_vec().len()
        } else {
            0
        };
        println!(
            "{which}: {sessions} sessions, RSS {:.1} MiB -> {:.1} MiB, {per_session:.0} bytes/session \
             (live heap {:.0} bytes in {:.1} blocks/session), record JSON {json_len} bytes",
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            (live1 - live0) as f64 / sessions as f64,
            (blocks1 - blocks0) as f64 / sessions as f64,
        );
    });
}

/// Whether expired sessions leave memory: SESSIONS sessions with a 1-second
/// lifetime, then 2.5 s idle, then (ours) one sweep as the background
/// sweeper would run it; tower-sessions' MemoryStore has no sweep.
fn expiry() {
    let which = std::env::args().nth(2).unwrap_or_else(|| "ours".into());
    let sessions = arg_count(3, 200_000);
    let rt = runtime();
    rt.block_on(async {
        // Unbounded: this measures sweeping, not the bound.
        let ours = MemoryStore::new().unbounded();
        let app = match which.as_str() {
            "ours" => session_bench::ours_router_with(
                Arc::new(ours.clone()),
                server_session::SessionConfig::new(session_bench::SECRET).with_cookie(
                    server_session::CookieOptions::new()
                        .with_max_age(Some(std::time::Duration::from_secs(1))),
                ),
            ),
            "tower" => session_bench::tower_sessions_router_with(
                tower_sessions::MemoryStore::default(),
                1,
            ),
            other => panic!("unknown server {other}: ours | tower"),
        };
        let live0 = LIVE_BYTES.load(Relaxed);
        for _ in 0..sessions {
            send(&app, "/counter", None).await;
        }
        let live1 = LIVE_BYTES.load(Relaxed);
        tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
        let swept = if which == "ours" { ours.sweep() } else { 0 };
        let live2 = LIVE_BYTES.load(Relaxed);
        println!(
            "{which}: {sessions} sessions with a 1 s lifetime: live heap +{:.1} MiB after creating them, \
             +{:.1} MiB after they expired{}",
            (live1 - live0) as f64 / 1048576.0,
            (live2 - live0) as f64 / 1048576.0,
            if which == "ours" { format!(" and one sweep (removed {swept})") } else { String::from(" (no sweep exists)") },
        );
    });
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("expiry") => expiry(),
        Some("allocs") => allocs(),
        Some("roundtrips") => roundtrips(),
        Some("memory") => memory(),
        _ => {
            eprintln!("usage: resources allocs [N] | roundtrips [N] | memory ours|tower [SESSIONS]")
        }
    }
}
