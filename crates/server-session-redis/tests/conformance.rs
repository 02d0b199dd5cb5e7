//! The store conformance suite, against a standalone server (`REDIS_URL`)
//! and against a cluster (`REDIS_CLUSTER_URLS`, comma-separated seed URLs).

mod common;

use std::time::Duration;

use common::{unique, Raw};
use server_session::conformance::Harness;
use server_session::store::Store;
use server_session_redis::RedisStore;

/// Where a harness's stores connect.
enum Server {
    Standalone(String),
    #[cfg(feature = "cluster")]
    Cluster(Vec<String>),
}

struct RedisHarness {
    server: Server,
    /// Plants raw values, as connect-redis would write them.
    raw: Raw,
}

impl RedisHarness {
    async fn standalone() -> Option<Self> {
        let url = common::redis_url()?;
        let raw = Raw::standalone(&url).await;
        Some(Self {
            server: Server::Standalone(url),
            raw,
        })
    }

    #[cfg(feature = "cluster")]
    async fn cluster() -> Option<Self> {
        let urls = common::cluster_urls()?;
        let raw = Raw::cluster(&urls).await;
        Some(Self {
            server: Server::Cluster(urls),
            raw,
        })
    }
}

impl Harness for RedisHarness {
    type Store = RedisStore;

    async fn store(&self) -> RedisStore {
        let store = match &self.server {
            Server::Standalone(url) => RedisStore::connect_lazy(url),
            #[cfg(feature = "cluster")]
            Server::Cluster(urls) => RedisStore::connect_cluster_lazy(urls),
        }
        .expect("the service URLs are redis URLs");
        // Its own prefix isolates the case's keys, for the listing case.
        store.with_prefix(format!("{}:", unique("conformance")))
    }

    async fn write_raw(&self, store: &RedisStore, id: &str, raw: &[u8]) {
        self.raw.set_ex(&store.key(id), raw, 3_600).await;
    }

    async fn unreachable_store(&self) -> Option<RedisStore> {
        let url = match self.server {
            Server::Standalone(_) => "redis://127.0.0.1:1",
            #[cfg(feature = "cluster")]
            Server::Cluster(_) => "redis+cluster://127.0.0.1:1,127.0.0.1:2",
        };
        let store = RedisStore::connect_lazy(url)
            .expect("a valid URL")
            .with_call_timeout(Duration::from_secs(1));
        assert_eq!(store.kind(), "redis");
        Some(store)
    }

    fn supports_listing(&self) -> bool {
        true
    }

    fn supports_user_index(&self) -> bool {
        true
    }
}

mod standalone {
    use super::RedisHarness;

    server_session::store_conformance_tests!(RedisHarness::standalone());
}

#[cfg(feature = "cluster")]
mod cluster {
    use super::RedisHarness;

    server_session::store_conformance_tests!(RedisHarness::cluster());
}
