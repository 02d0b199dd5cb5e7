//! A store chosen by URL.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use server_session::memory_store::SweeperHandle;
use server_session::{MemoryStore, Store};
use server_session_redis::RedisStore;
use server_session_sql::{MySqlStore, PostgresStore, SqliteStore};

/// Keeps the store's background task alive as long as the server runs.
pub enum Background {
    /// The store needs no task of its own.
    None,
    /// The MemoryStore's sweeper of expired sessions.
    Sweeper(SweeperHandle),
    /// A SQL store's pruner of expired rows.
    Pruner(server_session_sql::PrunerHandle),
}

/// The store a URL names:
/// `memory`, `redis://…`, `rediss://…`, `redis+cluster://host:port,host:port`,
/// `redis+sentinel://host:port,host:port/master-name`,
/// `postgres://…`, `mysql://…` (also MariaDB) or `sqlite://path`.
/// The Redis key prefix is `sess:` and the SQL table `session`, the express
/// stores' defaults.
pub async fn store_from_url(url: &str) -> Result<(Arc<dyn Store>, Background), String> {
    let scheme = url.split("://").next().unwrap_or(url);
    // Expired rows are invisible anyway; pruning only reclaims space.
    let prune_every = Duration::from_secs(15 * 60);
    let fail = |error: server_session::StoreError| format!("store {scheme}: {}", Chain(&error));
    Ok(match scheme {
        "memory" => {
            let store = MemoryStore::new();
            let sweeper = store.spawn_sweeper(Duration::from_secs(60));
            (Arc::new(store), Background::Sweeper(sweeper))
        }
        "redis" | "rediss" | "redis+cluster" | "redis+sentinel" => {
            (Arc::new(RedisStore::connect(url).await.map_err(fail)?), Background::None)
        }
        "postgres" | "postgresql" => {
            let store = PostgresStore::connect(url).await.map_err(fail)?;
            store.migrate().await.map_err(fail)?;
            let pruner = store.spawn_pruner(prune_every);
            (Arc::new(store), Background::Pruner(pruner))
        }
        "mysql" | "mariadb" => {
            let store = MySqlStore::connect(url).await.map_err(fail)?;
            store.migrate().await.map_err(fail)?;
            let pruner = store.spawn_pruner(prune_every);
            (Arc::new(store), Background::Pruner(pruner))
        }
        "sqlite" => {
            let store = SqliteStore::connect(url).await.map_err(fail)?;
            store.migrate().await.map_err(fail)?;
            let pruner = store.spawn_pruner(prune_every);
            (Arc::new(store), Background::Pruner(pruner))
        }
        _ => return Err(format!("unsupported store URL `{url}`: use memory, redis://, redis+cluster://, redis+sentinel://, postgres://, mysql:// or sqlite://")),
    })
}

/// An error with its causes, `what failed: why: …`: the crate's errors say
/// what failed and keep why in their `source`, so the message alone is not
/// enough to act on.
pub struct Chain<'a>(pub &'a dyn std::error::Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}
