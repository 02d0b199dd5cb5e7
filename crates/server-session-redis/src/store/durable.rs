//! Writes, and the [`Durability`] option: with it, every write is followed
//! by `WAIT numreplicas timeout` in the same round trip, on the same
//! connection, so the count Redis answers is the count for this write.

use redis::{Cmd, FromRedisValue, Pipeline, Script};
use server_session::store::StoreError;

use super::RedisStore;
use crate::durability::{Durability, ReplicationShortfall};

/// A write's reply, and whether enough replicas acknowledged it.
pub(super) struct Written<T> {
    pub(super) reply: T,
    shortfall: Option<ReplicationShortfall>,
}

impl<T> Written<T> {
    /// The reply, or the error of a write that too few replicas
    /// acknowledged (it is on the master all the same).
    pub(super) fn replicated(self) -> Result<T, StoreError> {
        match self.shortfall {
            None => Ok(self.reply),
            Some(shortfall) => Err(StoreError::backend(shortfall)),
        }
    }

    /// Whether enough replicas acknowledged it (always, without
    /// durability).
    pub(super) fn is_replicated(&self) -> bool {
        self.shortfall.is_none()
    }
}

impl RedisStore {
    /// Runs `cmd`, a command that writes, within the call timeout; `script`
    /// when `cmd` is its `EVALSHA` (see [`evalsha`](crate::connection::evalsha)).
    /// With durability, `WAIT` follows in the same round trip; a write
    /// whose reply says it wrote nothing (a conflict) may ignore the count.
    pub(super) async fn write<T: FromRedisValue>(
        &self,
        cmd: &Cmd,
        script: Option<&Script>,
    ) -> Result<Written<T>, StoreError> {
        let Some(durability) = self.durability else {
            let reply = self
                .call(|mut conn| async move {
                    match script {
                        Some(script) => conn.eval(script, cmd).await,
                        None => conn.query(cmd).await,
                    }
                })
                .await?;
            return Ok(Written {
                reply,
                shortfall: None,
            });
        };
        let pipeline = with_wait(cmd, durability);
        let pipeline = &pipeline;
        let (reply, acknowledged): (T, i64) = self
            .call(|mut conn| async move {
                match script {
                    Some(script) => conn.eval_pipeline(script, pipeline).await,
                    None => conn.query_pipeline(pipeline).await,
                }
            })
            .await?;
        Ok(Written {
            reply,
            shortfall: shortfall(acknowledged, durability),
        })
    }
}

/// `cmd` then `WAIT`, as one pipeline. In a cluster the pipeline goes to
/// the node that owns `cmd`'s key (`WAIT` has none), and is sent again as
/// a whole after a redirection, so `WAIT` always counts the replicas of the
/// node that took the write.
pub(super) fn with_wait(cmd: &Cmd, durability: Durability) -> Pipeline {
    let mut pipeline = redis::pipe();
    pipeline
        .add_command(cmd.clone())
        .cmd("WAIT")
        .arg(durability.required_replicas())
        .arg(durability.wait_timeout_ms());
    pipeline
}

/// The shortfall `WAIT`'s answer shows, if any.
pub(super) fn shortfall(acknowledged: i64, durability: Durability) -> Option<ReplicationShortfall> {
    let acknowledged = u32::try_from(acknowledged.max(0)).unwrap_or(u32::MAX);
    (acknowledged < durability.required_replicas())
        .then(|| ReplicationShortfall::new(acknowledged, durability))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_wait_follows_the_write() {
        let mut cmd = redis::cmd("SET");
        cmd.arg("k").arg("v");
        let pipeline = with_wait(
            &cmd,
            Durability::replicas(2).timeout(Duration::from_millis(250)),
        );
        let packed = String::from_utf8(pipeline.get_packed_pipeline()).expect("text");
        assert_eq!(
            packed,
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*3\r\n$4\r\nWAIT\r\n$1\r\n2\r\n$3\r\n250\r\n"
        );
    }

    #[test]
    fn too_few_acknowledgements_are_a_shortfall() {
        let durability = Durability::replicas(2);
        assert!(shortfall(2, durability).is_none());
        assert!(shortfall(3, durability).is_none());
        assert_eq!(
            shortfall(1, durability).map(|shortfall| shortfall.acknowledged()),
            Some(1)
        );
        assert_eq!(
            shortfall(-1, durability).map(|shortfall| shortfall.acknowledged()),
            Some(0)
        );
    }
}
