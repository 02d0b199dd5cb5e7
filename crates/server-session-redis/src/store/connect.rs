//! The constructors of [`RedisStore`]: by URL, by a cluster's seed nodes,
//! or by a [`SentinelConfig`]; each lazily (`*_lazy`: parse now, connect
//! on the first call) or at once.

use server_session::store::StoreError;

use super::RedisStore;
use crate::connection::Target;
use crate::sentinel::SentinelConfig;

impl RedisStore {
    /// A store for the server (or cluster) at `url`, connecting on first
    /// use. Use [`connect`](Self::connect) to connect now.
    ///
    /// `url` is a redis-rs URL (`redis://[user:password@]host[:port][/db]`,
    /// `redis+unix:///path`), `redis+cluster://[user:password@]host:port,host:port,…`
    /// for a Redis Cluster given by its seed nodes (feature `cluster`), or
    /// `redis+sentinel://[user:password@]host[:port],host[:port],…/master-name[?db=N]`
    /// for the master that Redis Sentinel names (feature `sentinel`; see
    /// [`SentinelConfig::from_url`] for the whole form).
    ///
    /// The same names as the SQL stores: `connect` connects now,
    /// `connect_lazy` on first use.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the URL cannot be parsed.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        Target::from_url(url)
            .map(Self::with_target)
            .map_err(StoreError::backend)
    }

    /// A store for the Redis Cluster with these seed nodes (`redis://host:port`
    /// URLs), connecting on first use.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the list is empty, a URL cannot be
    /// parsed, or the `cluster` feature is off.
    pub fn connect_cluster_lazy<S: AsRef<str>>(urls: &[S]) -> Result<Self, StoreError> {
        Target::cluster(urls)
            .map(Self::with_target)
            .map_err(StoreError::backend)
    }

    /// The former name of [`connect_lazy`](Self::connect_lazy).
    ///
    /// # Errors
    ///
    /// As [`connect_lazy`](Self::connect_lazy).
    #[deprecated(note = "renamed `connect_lazy`, as the SQL stores name it")]
    pub fn new(url: &str) -> Result<Self, StoreError> {
        Self::connect_lazy(url)
    }

    /// The former name of [`connect_cluster_lazy`](Self::connect_cluster_lazy).
    ///
    /// # Errors
    ///
    /// As [`connect_cluster_lazy`](Self::connect_cluster_lazy).
    #[deprecated(note = "renamed `connect_cluster_lazy`")]
    pub fn new_cluster<S: AsRef<str>>(urls: &[S]) -> Result<Self, StoreError> {
        Self::connect_cluster_lazy(urls)
    }

    /// Connects to the server (or cluster) at `url`; see
    /// [`connect_lazy`](Self::connect_lazy) for the URL forms. Connecting is bounded by the default call timeout
    /// (5 s).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] for a bad URL, [`StoreError::Connection`] or
    /// [`StoreError::Timeout`] when the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect_lazy(url)?;
        store.ping().await?;
        Ok(store)
    }

    /// Connects to the Redis Cluster with these seed nodes, e.g.
    /// `RedisStore::connect_cluster(&["redis://127.0.0.1:7001", "redis://127.0.0.1:7002"])`.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect) and
    /// [`connect_cluster_lazy`](Self::connect_cluster_lazy).
    pub async fn connect_cluster<S: AsRef<str>>(urls: &[S]) -> Result<Self, StoreError> {
        let store = Self::connect_cluster_lazy(urls)?;
        store.ping().await?;
        Ok(store)
    }

    /// A store on the master that Redis Sentinel names, connecting on first
    /// use; after a failover it finds the new master by itself (see the
    /// [crate docs](crate#sentinel)).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the configuration is invalid (no master
    /// name, no sentinel, a bad address) or the `sentinel` feature is off.
    pub fn connect_sentinel_lazy(config: SentinelConfig) -> Result<Self, StoreError> {
        Target::sentinel(&config)
            .map(Self::with_target)
            .map_err(StoreError::backend)
    }

    /// Asks the sentinels for the master and connects to it, within the
    /// default call timeout (5 s).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect) and
    /// [`connect_sentinel_lazy`](Self::connect_sentinel_lazy); a master
    /// name the sentinels do not know is a [`StoreError::Connection`]
    /// (`master name not found by sentinel`), as is a master that is down.
    pub async fn connect_sentinel(config: SentinelConfig) -> Result<Self, StoreError> {
        let store = Self::connect_sentinel_lazy(config)?;
        store.ping().await?;
        Ok(store)
    }
}
