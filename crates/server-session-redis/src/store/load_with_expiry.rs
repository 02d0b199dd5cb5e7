//! [`Store::load_with_expiry`](server_session::store::Store::load_with_expiry)
//! for Redis: `GET` and `PTTL` pipelined, one round trip and no write.
//!
//! The touch moves the key's TTL and leaves the stored JSON's
//! `cookie.expires` as it was (as connect-redis's does), so the expiry Redis
//! enforces is the TTL, not the record's. Both commands name the same key,
//! so on a cluster the pipeline goes to the one node owning its slot.

use server_session::store::{now_ms, LoadedRecord, Record, StoreError};

use super::{version_of, RedisStore};

impl RedisStore {
    /// See [`Store::load_with_expiry`](server_session::store::Store::load_with_expiry).
    pub(super) async fn load_with_expiry_now(
        &self,
        id: &str,
    ) -> Result<Option<(LoadedRecord, Option<i64>)>, StoreError> {
        let key = self.key(id);
        let mut pipeline = redis::pipe();
        pipeline.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        // Read before the call: the expiry then errs early, never late.
        let sent_at = now_ms();
        let (stored, pttl): (Option<Vec<u8>>, i64) = self
            .call(|mut conn| {
                let pipeline = &pipeline;
                async move { conn.query_pipeline(pipeline).await }
            })
            .await?;
        let Some(bytes) = stored else {
            return Ok(None);
        };
        let loaded = LoadedRecord::new(Record::from_json(&bytes)?, version_of(&bytes));
        // -1: the key has no TTL; -2: it went between the two commands.
        let expiry = (pttl >= 0).then(|| sent_at.saturating_add(pttl));
        Ok(Some((loaded, expiry)))
    }
}
