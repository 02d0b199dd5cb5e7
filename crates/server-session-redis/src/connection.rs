//! Where the store connects, and the one connection type it talks through.

use std::collections::HashSet;
#[cfg(feature = "sentinel")]
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
#[cfg(feature = "cluster")]
use redis::Value;
use redis::{Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError, RedisResult, Script};

use crate::sentinel::SENTINEL_SCHEME;

mod batch;
#[cfg(feature = "sentinel")]
mod sentinel;
mod stranded;

use batch::Batcher;
use stranded::unless_stranded;

/// The URL scheme that names a Redis Cluster by its seed nodes.
pub(crate) const CLUSTER_SCHEME: &str = "redis+cluster://";

/// How often the connection manager retries one (re)connection before it
/// fails the calls waiting for it. None: its first retry waits a full second
/// and later ones much longer, and a call waiting on that backoff could only
/// time out. With no retries a call during an outage fails at once with a
/// connection error, and the next call starts a new attempt (see
/// `RedisStore::call`, which retries a call that was never sent).
const CONNECT_RETRIES: usize = 0;

/// What the store connects to, kept so that the first call can connect
/// lazily with the store's final options.
pub(crate) enum Target {
    Standalone(redis::Client),
    #[cfg(feature = "cluster")]
    Cluster(Vec<redis::ConnectionInfo>),
    /// Shared by the store's clones: the master found last, and the
    /// sentinels to ask again.
    #[cfg(feature = "sentinel")]
    Sentinel(Arc<sentinel::SentinelShared>),
}

impl Target {
    /// A target from a `redis://` (or `rediss://`, `unix://`) URL, a
    /// `redis+cluster://host:port,host:port` URL, or a
    /// `redis+sentinel://host:port,host:port/master-name` URL.
    pub(crate) fn from_url(url: &str) -> RedisResult<Self> {
        if let Some(rest) = url.strip_prefix(CLUSTER_SCHEME) {
            let nodes = cluster_node_urls(rest)?;
            return Self::cluster(&nodes);
        }
        if url.starts_with(SENTINEL_SCHEME) {
            return Self::sentinel(&crate::sentinel::parse_url(url)?);
        }
        redis::Client::open(url).map(Self::Standalone)
    }

    /// A target whose master the sentinels name.
    #[cfg(feature = "sentinel")]
    pub(crate) fn sentinel(config: &crate::SentinelConfig) -> RedisResult<Self> {
        let shared = sentinel::SentinelShared::new(config.resolve()?)?;
        Ok(Self::Sentinel(Arc::new(shared)))
    }

    #[cfg(not(feature = "sentinel"))]
    pub(crate) fn sentinel(config: &crate::SentinelConfig) -> RedisResult<Self> {
        config.resolve()?;
        Err(config_error(
            "Redis Sentinel support needs the `sentinel` feature of server-session-redis",
        ))
    }

    /// A cluster target from its seed nodes' URLs.
    #[cfg(feature = "cluster")]
    pub(crate) fn cluster<S: AsRef<str>>(urls: &[S]) -> RedisResult<Self> {
        use redis::IntoConnectionInfo;
        if urls.is_empty() {
            return Err(config_error("a cluster needs at least one node URL"));
        }
        urls.iter()
            .map(|url| url.as_ref().into_connection_info())
            .collect::<RedisResult<Vec<_>>>()
            .map(Self::Cluster)
    }

    #[cfg(not(feature = "cluster"))]
    pub(crate) fn cluster<S: AsRef<str>>(_urls: &[S]) -> RedisResult<Self> {
        Err(config_error(
            "Redis Cluster support needs the `cluster` feature of server-session-redis",
        ))
    }

    pub(crate) fn is_cluster(&self) -> bool {
        match self {
            Self::Standalone(_) => false,
            #[cfg(feature = "cluster")]
            Self::Cluster(_) => true,
            #[cfg(feature = "sentinel")]
            Self::Sentinel(_) => false,
        }
    }

    pub(crate) fn is_sentinel(&self) -> bool {
        match self {
            Self::Standalone(_) => false,
            #[cfg(feature = "cluster")]
            Self::Cluster(_) => false,
            #[cfg(feature = "sentinel")]
            Self::Sentinel(_) => true,
        }
    }

    /// Whether a command that failed with `error` was refused unrun by a
    /// node that is no longer the master, so that one retry, on the master
    /// found anew, is safe: a Sentinel target's `READONLY`.
    pub(crate) fn retries_elsewhere(&self, error: &RedisError) -> bool {
        self.is_sentinel() && error.kind() == ErrorKind::ReadOnly
    }

    /// Opens the connection. Every attempt is bounded by `timeout`; the
    /// caller bounds the whole call by it too.
    pub(crate) async fn connect(&self, timeout: Duration) -> RedisResult<Conn> {
        match self {
            Self::Standalone(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(timeout)
                    .set_number_of_retries(CONNECT_RETRIES);
                let manager = ConnectionManager::new_with_config(client.clone(), config).await?;
                let batch = Batcher::start(manager.clone());
                Ok(Conn::Standalone(manager, batch))
            }
            #[cfg(feature = "cluster")]
            Self::Cluster(nodes) => {
                let client = redis::cluster::ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(timeout)
                    .build()?;
                client.get_async_connection().await.map(Conn::Cluster)
            }
            // Connecting waits for the first call, which asks the sentinels.
            #[cfg(feature = "sentinel")]
            Self::Sentinel(shared) => Ok(Conn::Sentinel(sentinel::SentinelConn::new(
                Arc::clone(shared),
                timeout,
            ))),
        }
    }
}

/// Splits the part of a `redis+cluster://` URL after the scheme into one
/// `redis://` URL per node. Credentials before an `@` apply to every node.
fn cluster_node_urls(rest: &str) -> RedisResult<Vec<String>> {
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (credentials, hosts) = split_credentials(rest);
    if hosts.contains(['/', '?', '#']) {
        return Err(config_error(
            "a redis+cluster:// URL takes only credentials and host:port pairs",
        ));
    }
    let urls: Vec<String> = host_list(hosts)
        .map(|host| match credentials {
            Some(credentials) => format!("redis://{credentials}@{host}"),
            None => format!("redis://{host}"),
        })
        .collect();
    if urls.is_empty() {
        return Err(config_error(
            "a redis+cluster:// URL needs at least one host",
        ));
    }
    Ok(urls)
}

/// Splits `credentials@rest`, the part of a cluster or Sentinel URL after
/// its scheme. Host lists and master names cannot hold an `@`, so the last
/// one ends the credentials even when a password holds one.
pub(crate) fn split_credentials(rest: &str) -> (Option<&str>, &str) {
    match rest.rsplit_once('@') {
        Some((credentials, rest)) => (Some(credentials), rest),
        None => (None, rest),
    }
}

/// The hosts of a URL's comma-separated `host:port` list, blanks skipped.
pub(crate) fn host_list(hosts: &str) -> impl Iterator<Item = &str> {
    hosts
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
}

pub(crate) fn config_error(message: &'static str) -> RedisError {
    RedisError::from((ErrorKind::InvalidClientConfig, message))
}

/// `EVALSHA sha 1 key` for `script`; its arguments follow. Run it with
/// [`Conn::eval`], which loads the script when the server lacks it.
pub(crate) fn evalsha(script: &Script, key: &str) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(1).arg(key);
    cmd
}

/// A live connection: a self-healing [`ConnectionManager`] to one server,
/// a cluster connection that follows the slot map, or a connection to the
/// master Sentinel names, which asks Sentinel again when the master moves.
/// All are cheap handles onto a shared multiplexed connection, so each
/// call clones one. A standalone or Sentinel connection's single commands
/// go out in batches ([`batch`]); pipelines and script loads go out as
/// they are, and so does everything on a cluster. On a standalone or
/// Sentinel connection, a call whose reply is late is checked for a
/// connection that dropped under it ([`stranded`]).
#[derive(Clone)]
pub(crate) enum Conn {
    Standalone(ConnectionManager, Batcher),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
    #[cfg(feature = "sentinel")]
    Sentinel(sentinel::SentinelConn),
}

impl Conn {
    /// Runs a command; in a cluster it goes to the node owning its key.
    pub(crate) async fn query<T: FromRedisValue>(&mut self, cmd: &Cmd) -> RedisResult<T> {
        match self {
            Self::Standalone(_, batch) => batch.query(cmd).await,
            #[cfg(feature = "cluster")]
            Self::Cluster(conn) => cmd.query_async(conn).await,
            #[cfg(feature = "sentinel")]
            Self::Sentinel(conn) => conn.query(cmd).await,
        }
    }

    /// Runs a pipeline; in a cluster it goes to the node owning the first
    /// key in it (a keyless command such as `WAIT` follows it there).
    pub(crate) async fn query_pipeline<T: FromRedisValue>(
        &mut self,
        pipeline: &Pipeline,
    ) -> RedisResult<T> {
        match self {
            Self::Standalone(conn, _) => {
                let mut sending = conn.clone();
                unless_stranded(pipeline.query_async(&mut sending), conn.clone()).await
            }
            #[cfg(feature = "cluster")]
            Self::Cluster(conn) => pipeline.query_async(conn).await,
            #[cfg(feature = "sentinel")]
            Self::Sentinel(conn) => {
                conn.run(|mut conn| async move { pipeline.query_async(&mut conn).await })
                    .await
            }
        }
    }

    /// Loads a script into the script cache (of every node of a cluster).
    pub(crate) async fn load_script(&mut self, script: &Script) -> RedisResult<String> {
        match self {
            Self::Standalone(conn, _) => {
                let mut sending = conn.clone();
                unless_stranded(script.load_async(&mut sending), conn.clone()).await
            }
            #[cfg(feature = "cluster")]
            Self::Cluster(conn) => script.load_async(conn).await,
            #[cfg(feature = "sentinel")]
            Self::Sentinel(conn) => {
                conn.run(|mut conn| async move { script.load_async(&mut conn).await })
                    .await
            }
        }
    }

    /// Runs `cmd`, an `EVALSHA` of `script` made by [`evalsha`]; when the
    /// server lacks the script, loads it and runs `cmd` again (what
    /// redis-rs's `ScriptInvocation::invoke_async` does).
    pub(crate) async fn eval<T: FromRedisValue>(
        &mut self,
        script: &Script,
        cmd: &Cmd,
    ) -> RedisResult<T> {
        match self.query(cmd).await {
            Err(error) if error.kind() == ErrorKind::NoScriptError => {
                self.load_script(script).await?;
                self.query(cmd).await
            }
            result => result,
        }
    }

    /// As [`eval`](Self::eval), for a pipeline that holds such an `EVALSHA`.
    pub(crate) async fn eval_pipeline<T: FromRedisValue>(
        &mut self,
        script: &Script,
        pipeline: &Pipeline,
    ) -> RedisResult<T> {
        match self.query_pipeline(pipeline).await {
            Err(error) if error.kind() == ErrorKind::NoScriptError => {
                self.load_script(script).await?;
                self.query_pipeline(pipeline).await
            }
            result => result,
        }
    }

    /// After a call on this connection ran out of time: a Sentinel
    /// target's master may be failing over, so the next call asks the
    /// sentinels again. Nothing for the other targets, whose connections
    /// heal themselves.
    pub(crate) fn after_timeout(&self) {
        #[cfg(feature = "sentinel")]
        if let Self::Sentinel(conn) = self {
            conn.forget_master();
        }
    }

    /// Every key matching `pattern`, from every master in a cluster,
    /// without duplicates, in the order SCAN found them.
    pub(crate) async fn scan_keys(
        &mut self,
        pattern: &[u8],
        count: usize,
    ) -> RedisResult<Vec<Vec<u8>>> {
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        for node in self.scan_nodes().await? {
            let mut cursor = 0u64;
            loop {
                let (next, batch) = self.scan_page(node, cursor, pattern, count).await?;
                for key in batch {
                    // SCAN may return a key more than once (and a cluster
                    // node twice during a failover); callers want a set.
                    if seen.insert(key.clone()) {
                        keys.push(key);
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(keys)
    }

    /// One `SCAN cursor MATCH pattern COUNT count` on `node` (one of
    /// [`scan_nodes`](Self::scan_nodes)): the next cursor (0 when done) and
    /// the keys found, which may repeat keys of earlier pages.
    pub(crate) async fn scan_page(
        &mut self,
        node: Option<u16>,
        cursor: u64,
        pattern: &[u8],
        count: usize,
    ) -> RedisResult<(u64, Vec<Vec<u8>>)> {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(count);
        self.query_node(&cmd, node).await
    }

    /// Runs every command of `cmds`, each naming one key, and answers their
    /// replies in order. One server takes them as one pipeline. A cluster
    /// cannot (a pipeline must keep to one slot, and these keys need not):
    /// there each command goes by itself to the node owning its key, all
    /// sent at once over the shared multiplexed connection, so it is still
    /// about one round trip and never a cross-slot command.
    pub(crate) async fn query_each<T: FromRedisValue>(
        &mut self,
        cmds: &[Cmd],
    ) -> RedisResult<Vec<T>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        #[cfg(feature = "cluster")]
        if let Self::Cluster(conn) = self {
            let sends = cmds.iter().map(|cmd| {
                let mut conn = conn.clone();
                async move { cmd.query_async::<T>(&mut conn).await }
            });
            return futures_util::future::try_join_all(sends).await;
        }
        let mut pipeline = redis::pipe();
        for cmd in cmds {
            pipeline.add_command(cmd.clone());
        }
        self.query_pipeline(&pipeline).await
    }

    /// The nodes a SCAN must visit: the one server, or one slot per master
    /// (routing by slot lets redis-rs pick the master from its own slot map,
    /// so no address has to match the cluster's announced names).
    pub(crate) async fn scan_nodes(&mut self) -> RedisResult<Vec<Option<u16>>> {
        match self {
            Self::Standalone(..) => Ok(vec![None]),
            #[cfg(feature = "sentinel")]
            Self::Sentinel(_) => Ok(vec![None]),
            #[cfg(feature = "cluster")]
            Self::Cluster(conn) => {
                use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
                let mut cmd = redis::cmd("CLUSTER");
                cmd.arg("SLOTS");
                let reply = conn
                    .route_command(
                        &cmd,
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary),
                    )
                    .await?;
                Ok(master_slots(&reply)?.into_iter().map(Some).collect())
            }
        }
    }

    async fn query_node<T: FromRedisValue>(
        &mut self,
        cmd: &Cmd,
        slot: Option<u16>,
    ) -> RedisResult<T> {
        match (self, slot) {
            #[cfg(feature = "cluster")]
            (Self::Cluster(conn), Some(slot)) => {
                use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                    Route::new(slot, SlotAddr::Master),
                ));
                let reply = conn.route_command(cmd, routing).await?;
                redis::from_owned_redis_value(reply)
            }
            (conn, _) => conn.query(cmd).await,
        }
    }
}

/// One slot served by each master in a `CLUSTER SLOTS` reply.
///
/// The reply is `[[start, end, [host, port, id, …], replica…], …]`; masters
/// are told apart by node ID, or by host and port when an old server sends
/// no ID.
#[cfg(feature = "cluster")]
fn master_slots(reply: &Value) -> RedisResult<Vec<u16>> {
    let malformed = || {
        RedisError::from((
            ErrorKind::TypeError,
            "unexpected CLUSTER SLOTS reply",
            format!("{reply:?}"),
        ))
    };
    let Value::Array(ranges) = reply else {
        return Err(malformed());
    };
    let mut seen = HashSet::new();
    let mut slots = Vec::new();
    for range in ranges {
        let Value::Array(fields) = range else {
            return Err(malformed());
        };
        let (Some(Value::Int(start)), Some(Value::Array(master))) = (fields.first(), fields.get(2))
        else {
            return Err(malformed());
        };
        let slot = u16::try_from(*start).map_err(|_| malformed())?;
        let identity = match master.get(2) {
            Some(id @ Value::BulkString(_)) => format!("{id:?}"),
            _ => format!("{:?}/{:?}", master.first(), master.get(1)),
        };
        if seen.insert(identity) {
            slots.push(slot);
        }
    }
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_split_into_nodes() {
        assert_eq!(
            cluster_node_urls("127.0.0.1:7001,127.0.0.1:7002/").expect("urls"),
            ["redis://127.0.0.1:7001", "redis://127.0.0.1:7002"]
        );
        assert_eq!(
            cluster_node_urls("user:p@ss@a:1, b:2").expect("urls"),
            ["redis://user:p@ss@a:1", "redis://user:p@ss@b:2"]
        );
    }

    #[test]
    fn cluster_urls_without_hosts_or_with_paths_are_refused() {
        assert!(cluster_node_urls("").is_err());
        assert!(cluster_node_urls(",").is_err());
        assert!(cluster_node_urls("a:1,b:2/0").is_err());
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn cluster_targets_come_from_the_cluster_scheme() {
        let target = Target::from_url("redis+cluster://127.0.0.1:7001,127.0.0.1:7002")
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(target.is_cluster());
        let target = Target::from_url("redis://127.0.0.1:6379").unwrap_or_else(|e| panic!("{e}"));
        assert!(!target.is_cluster());
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn master_slots_pick_one_slot_per_master() {
        let node = |port: i64, id: &str| {
            Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::Int(port),
                Value::BulkString(id.as_bytes().to_vec()),
            ])
        };
        let reply = Value::Array(vec![
            Value::Array(vec![Value::Int(0), Value::Int(5460), node(7001, "a")]),
            Value::Array(vec![Value::Int(5461), Value::Int(10922), node(7002, "b")]),
            Value::Array(vec![Value::Int(10923), Value::Int(12000), node(7003, "c")]),
            Value::Array(vec![Value::Int(12001), Value::Int(16383), node(7003, "c")]),
        ]);
        assert_eq!(master_slots(&reply).expect("slots"), [0, 5461, 10923]);
        assert!(master_slots(&Value::Int(3)).is_err());
        assert!(master_slots(&Value::Array(vec![Value::Nil])).is_err());
    }
}
