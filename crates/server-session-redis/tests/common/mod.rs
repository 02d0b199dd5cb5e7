//! What the Redis tests share: service URLs, unique names, raw access.
#![allow(dead_code, unreachable_pub)] // each test file uses a part

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::{Cmd, FromRedisValue};
use server_session::store::{Record, SaveCondition, Store};
use server_session_redis::RedisStore;

/// The standalone server's URL from `REDIS_URL`.
pub fn redis_url() -> Option<String> {
    service_url("REDIS_URL")
}

/// The cluster's seed URLs from `REDIS_CLUSTER_URLS` (comma-separated).
pub fn cluster_urls() -> Option<Vec<String>> {
    let urls = service_url("REDIS_CLUSTER_URLS")?;
    Some(
        urls.split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// A service URL from the environment, as the conformance kit reads it:
/// `SKIPPED: …` when unset, a panic when unset and `SESSION_REQUIRE_SERVICES=1`.
pub fn service_url(var: &str) -> Option<String> {
    server_session::conformance::service_url(var)
}

/// A name no other test (or test run) uses: for key prefixes and IDs.
pub fn unique(label: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!(
        "{label}-{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store on `REDIS_URL`, and a raw connection beside it.
pub async fn standalone() -> Option<(RedisStore, Raw)> {
    let url = redis_url()?;
    let store = RedisStore::connect(&url)
        .await
        .expect("connect to REDIS_URL");
    Some((store, Raw::standalone(&url).await))
}

/// A store on the cluster at `REDIS_CLUSTER_URLS`, and a raw connection
/// beside it.
#[cfg(feature = "cluster")]
pub async fn cluster() -> Option<(RedisStore, Raw)> {
    let urls = cluster_urls()?;
    let store = RedisStore::connect_cluster(&urls)
        .await
        .expect("connect to REDIS_CLUSTER_URLS");
    Some((store, Raw::cluster(&urls).await))
}

/// Runs `check` on [`standalone`]'s store and connection, unless
/// `REDIS_URL` is unset.
pub async fn on_standalone<F: Future<Output = ()>>(check: impl FnOnce(RedisStore, Raw) -> F) {
    if let Some((store, raw)) = standalone().await {
        check(store, raw).await;
    }
}

/// Runs `check` on [`cluster`]'s store and connection, unless
/// `REDIS_CLUSTER_URLS` is unset.
#[cfg(feature = "cluster")]
pub async fn on_cluster<F: Future<Output = ()>>(check: impl FnOnce(RedisStore, Raw) -> F) {
    if let Some((store, raw)) = cluster().await {
        check(store, raw).await;
    }
}

/// Saves `record` under a new ID (see [`unique`]): the ID and its key.
pub async fn save_new(store: &RedisStore, label: &str, record: &Record) -> (String, String) {
    let id = unique(label);
    let key = store.key(&id);
    let _ = store
        .save(&id, record, SaveCondition::Upsert)
        .await
        .expect("save");
    (id, key)
}

/// The IDs of every session `store` holds, as `all` lists them.
pub async fn stored_ids<C: FromIterator<String>>(store: &RedisStore) -> C {
    store
        .all()
        .await
        .expect("all")
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// A connection beside the store's, to read and write keys as Node would.
#[derive(Clone)]
pub enum Raw {
    Standalone(redis::aio::MultiplexedConnection),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Raw {
    pub async fn standalone(url: &str) -> Self {
        let client = redis::Client::open(url).expect("REDIS_URL is a redis URL");
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to REDIS_URL");
        Self::Standalone(conn)
    }

    #[cfg(feature = "cluster")]
    pub async fn cluster(urls: &[String]) -> Self {
        let client = redis::cluster::ClusterClient::new(urls.to_vec())
            .expect("REDIS_CLUSTER_URLS are redis URLs");
        let conn = client
            .get_async_connection()
            .await
            .expect("connect to REDIS_CLUSTER_URLS");
        Self::Cluster(conn)
    }

    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> T {
        let result = match self.clone() {
            Self::Standalone(mut conn) => cmd.query_async(&mut conn).await,
            #[cfg(feature = "cluster")]
            Self::Cluster(mut conn) => cmd.query_async(&mut conn).await,
        };
        result.expect("raw redis command")
    }

    pub async fn query_pipeline<T: FromRedisValue>(&self, pipeline: &redis::Pipeline) -> T {
        let result = match self.clone() {
            Self::Standalone(mut conn) => pipeline.query_async(&mut conn).await,
            #[cfg(feature = "cluster")]
            Self::Cluster(mut conn) => pipeline.query_async(&mut conn).await,
        };
        result.expect("raw redis pipeline")
    }

    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    pub async fn ttl(&self, key: &str) -> i64 {
        self.query(redis::cmd("TTL").arg(key)).await
    }

    pub async fn pttl(&self, key: &str) -> i64 {
        self.query(redis::cmd("PTTL").arg(key)).await
    }

    /// `SET key value EX ttl_secs`, as connect-redis writes.
    pub async fn set_ex(&self, key: &str, value: &[u8], ttl_secs: i64) {
        let _: redis::Value = self
            .query(
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("EX")
                    .arg(ttl_secs),
            )
            .await;
    }
}

/// A redis-server of a test's own, on a loopback port, stopped on drop.
pub struct OwnServer {
    pub port: u16,
    child: std::process::Child,
}

impl OwnServer {
    /// Starts redis-server on `port`, without persistence, and waits until
    /// it accepts connections.
    pub fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// The same, with more configuration (`--name value …`).
    pub fn start_with(port: u16, config: &[&str]) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(config)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed where REDIS_URL is set");
        let server = Self { port, child };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// A free loopback port.
    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port()
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
