//! Redis Sentinel: the store finds its master through the sentinels, and
//! finds the new one by itself after a failover (a hard one: the master is
//! SIGKILLed under a compare-and-set write load) or after a `READONLY`
//! reply. The failover test counts the acknowledged saves the failover
//! lost, with the durability option (asserted zero) and without it
//! (printed):
//!
//! ```text
//! cargo test -p server-session-redis --test sentinel -- --nocapture
//! ```
//!
//! On one machine a replica receives the master's stream within
//! microseconds, and what the kernel holds in flight survives the master,
//! so a bare SIGKILL loses nothing either way. To show the window
//! asynchronous replication leaves open, the replicas are cut off first:
//! frozen (SIGSTOP, so that they cannot reconnect) and their links closed
//! by the master (`CLIENT KILL TYPE replica`), for
//! `SENTINEL_TEST_PARTITION_MS` (default 500; 0 for a bare SIGKILL); then
//! the master is killed and the replicas thawed. What the master
//! acknowledged in that window dies with it, unless the store waited for a
//! replica.
//!
//! Every test starts its own redis-server and sentinel processes on free
//! loopback ports, with temporary directories, and kills them when it ends
//! (a panic included; the logs are kept then, and their directory printed).
//! Like the other tests that start servers, they run where `REDIS_URL` is
//! set, which says Redis is installed.

mod common;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{unique, OwnServer};
use serde_json::{Map, Value};
use server_session::store::{CookieData, Record, SaveCondition, SaveOutcome, Store, StoreError};
use server_session_redis::{Durability, RedisStore, ReplicationShortfall, SentinelConfig};

const MASTER_NAME: &str = "mymaster";
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Sessions under load, and writers per session (each pair competes
/// through compare-and-set).
const SESSIONS: usize = 4;
const WRITERS_PER_SESSION: usize = 2;
/// How long the writers run before the master is killed, and after every
/// writer has saved again.
const WRITE_BEFORE_KILL: Duration = Duration::from_millis(1500);
const WRITE_AFTER_RECOVERY: Duration = Duration::from_millis(1000);

/// How long the replicas are cut off before the master dies.
fn partition() -> Duration {
    let ms = std::env::var("SENTINEL_TEST_PARTITION_MS")
        .ok()
        .and_then(|ms| ms.trim().parse().ok())
        .unwrap_or(500);
    Duration::from_millis(ms)
}

/// The processes of one test and their directory; all killed on drop.
struct Servers {
    dir: PathBuf,
    nodes: Vec<(u16, Child)>,
}

impl Servers {
    fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(unique(label));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        Self {
            dir,
            nodes: Vec::new(),
        }
    }

    /// A redis-server, a replica of `replica_of` if given. Nothing is
    /// persisted, and a replica's first sync starts at once.
    fn start_redis(&mut self, replica_of: Option<u16>) -> u16 {
        let port = OwnServer::free_port();
        let dir = self.node_dir(port);
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--repl-diskless-sync-delay", "0"])
            .arg("--dir")
            .arg(&dir)
            .arg("--logfile")
            .arg(dir.join("redis.log"));
        if let Some(master) = replica_of {
            command.args(["--replicaof", "127.0.0.1", &master.to_string()]);
        }
        self.spawn(command, port)
    }

    /// A sentinel watching the master at `master` under [`MASTER_NAME`].
    fn start_sentinel(&mut self, master: u16, quorum: u32, down_after_ms: u64) -> u16 {
        let port = OwnServer::free_port();
        let dir = self.node_dir(port);
        let config = dir.join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {dir}\nlogfile {log}\n\
             sentinel monitor {MASTER_NAME} 127.0.0.1 {master} {quorum}\n\
             sentinel down-after-milliseconds {MASTER_NAME} {down_after_ms}\n\
             sentinel failover-timeout {MASTER_NAME} 10000\n\
             sentinel parallel-syncs {MASTER_NAME} 2\n",
            dir = dir.display(),
            log = dir.join("sentinel.log").display(),
        );
        std::fs::write(&config, text).expect("write sentinel.conf");
        let mut command = Command::new("redis-server");
        command.arg(&config).arg("--sentinel");
        self.spawn(command, port)
    }

    fn node_dir(&self, port: u16) -> PathBuf {
        let dir = self.dir.join(port.to_string());
        std::fs::create_dir_all(&dir).expect("a node directory");
        dir
    }

    fn spawn(&mut self, mut command: Command, port: u16) -> u16 {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed where REDIS_URL is set");
        self.nodes.push((port, child));
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the server on port {port} did not start; see {}",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        port
    }

    /// SIGSTOP (`freeze`) or SIGCONT: a process that neither reads nor
    /// reconnects, for less time than Sentinel needs to call it down.
    fn signal(&self, port: u16, freeze: bool) {
        let Some((_, child)) = self.nodes.iter().find(|(p, _)| *p == port) else {
            return;
        };
        let status = Command::new("kill")
            .arg(if freeze { "-STOP" } else { "-CONT" })
            .arg(child.id().to_string())
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill -STOP/-CONT {}", child.id());
    }

    /// SIGKILL: the hardest failure, with no chance to flush anything.
    fn kill(&mut self, port: u16) {
        if let Some(index) = self.nodes.iter().position(|(p, _)| *p == port) {
            let (_, mut child) = self.nodes.swap_remove(index);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            // A frozen process dies of SIGKILL all the same.
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("server logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A fresh connection to the server on `port`; `None` while it does not answer.
async fn node(port: u16) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    client.get_multiplexed_async_connection().await.ok()
}

async fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> Option<T> {
    let mut conn = node(port).await?;
    cmd.query_async(&mut conn).await.ok()
}

/// Polls `probe` until it gives a value, for at most `within`.
async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {within:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `field:value` lines of `INFO section`.
async fn info(port: u16, section: &str) -> Option<HashMap<String, String>> {
    let text: String = query(port, redis::cmd("INFO").arg(section)).await?;
    Some(
        text.lines()
            .filter_map(|line| line.trim().split_once(':'))
            .map(|(field, value)| (field.to_owned(), value.to_owned()))
            .collect(),
    )
}

/// Waits until `master` streams to `replicas` replicas that are in sync.
async fn wait_for_replicas(master: u16, replicas: usize) {
    eventually("the replicas to sync", Duration::from_secs(20), || async {
        let info = info(master, "replication").await?;
        let online = (0..replicas)
            .filter(|index| {
                info.get(&format!("slave{index}"))
                    .is_some_and(|line| line.contains("state=online"))
            })
            .count();
        (online == replicas).then_some(())
    })
    .await;
}

/// Waits until `replicas` replicas of `master` have everything it has
/// written so far. (Not `WAIT`: it counts the writes of its own
/// connection, and a new connection has none.)
async fn wait_until_copied(master: u16, replicas: usize) {
    let written: u64 = info(master, "replication")
        .await
        .and_then(|info| info.get("master_repl_offset")?.parse().ok())
        .expect("the master's replication offset");
    eventually(
        "the replicas to copy the writes",
        Duration::from_secs(20),
        || async {
            let info = info(master, "replication").await?;
            let copied = (0..replicas)
                .filter(|index| {
                    info.get(&format!("slave{index}"))
                        .and_then(|line| {
                            line.split(',')
                                .find_map(|field| field.strip_prefix("offset="))
                        })
                        .and_then(|offset| offset.parse::<u64>().ok())
                        .is_some_and(|offset| offset >= written)
                })
                .count();
            (copied == replicas).then_some(())
        },
    )
    .await;
}

/// Waits until every sentinel knows the replicas and the other sentinels,
/// so that a failover can be agreed on.
async fn wait_for_sentinels(sentinels: &[u16], replicas: usize) {
    eventually(
        "the sentinels to find each other and the replicas",
        Duration::from_secs(20),
        || async {
            for &sentinel in sentinels {
                let master: HashMap<String, String> = query(
                    sentinel,
                    redis::cmd("SENTINEL").arg("MASTER").arg(MASTER_NAME),
                )
                .await?;
                let count = |field: &str| master.get(field).and_then(|n| n.parse::<usize>().ok());
                if count("num-slaves") != Some(replicas)
                    || count("num-other-sentinels") != Some(sentinels.len() - 1)
                {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
}

/// The port of the master a sentinel names.
async fn named_master(sentinel: u16) -> Option<u16> {
    let (_, port): (String, u16) = query(
        sentinel,
        redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(MASTER_NAME),
    )
    .await?;
    Some(port)
}

fn sentinel_url(sentinels: &[u16]) -> String {
    let hosts: Vec<String> = sentinels
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect();
    format!("redis+sentinel://{}/{MASTER_NAME}", hosts.join(","))
}

fn shortfall_of(error: &StoreError) -> Option<&ReplicationShortfall> {
    std::error::Error::source(error)?.downcast_ref()
}

/// What the writers share with the test's timeline.
#[derive(Default)]
struct Timeline {
    stop: AtomicBool,
    cut_off: AtomicBool,
    killed: AtomicBool,
    failed_over: AtomicBool,
}

#[derive(Default)]
struct WriterReport {
    session: usize,
    field: String,
    /// The tokens of the saves the store acknowledged with `Saved`.
    acked: Vec<u64>,
    acked_before_kill: usize,
    acked_while_cut_off: usize,
    acked_after_failover: usize,
    errors: usize,
    conflicts: usize,
}

/// Load → append a new token to this writer's list → save if the version
/// is still the one loaded, until told to stop. A save that fails may or
/// may not have landed, so the next one uses a new token.
async fn writer(
    store: RedisStore,
    session: usize,
    id: String,
    field: String,
    timeline: Arc<Timeline>,
    saved_since_failover: Arc<AtomicUsize>,
) -> WriterReport {
    let mut report = WriterReport {
        session,
        field: field.clone(),
        ..WriterReport::default()
    };
    let mut token = 0u64;
    let expected = |error: &StoreError| error.is_transient() || shortfall_of(error).is_some();
    'tokens: while !timeline.stop.load(Ordering::Relaxed) {
        token += 1;
        loop {
            if timeline.stop.load(Ordering::Relaxed) {
                break 'tokens;
            }
            let loaded = match store.load(&id).await {
                Ok(Some(loaded)) => loaded,
                Ok(None) => panic!("session {id} vanished"),
                Err(error) => {
                    assert!(expected(&error), "load: {error:?}");
                    report.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let mut data = loaded.record.data().clone();
            if let Value::Array(tokens) = data
                .entry(field.clone())
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                tokens.push(token.into());
            }
            let record = Record::new(loaded.record.cookie().clone(), data);
            match store
                .save(&id, &record, SaveCondition::IfVersion(loaded.version))
                .await
            {
                Ok(SaveOutcome::Saved(_)) => {
                    report.acked.push(token);
                    if !timeline.killed.load(Ordering::Relaxed) {
                        report.acked_before_kill += 1;
                        if timeline.cut_off.load(Ordering::Relaxed) {
                            report.acked_while_cut_off += 1;
                        }
                    }
                    if timeline.failed_over.load(Ordering::Relaxed) {
                        if report.acked_after_failover == 0 {
                            saved_since_failover.fetch_add(1, Ordering::Relaxed);
                        }
                        report.acked_after_failover += 1;
                    }
                    continue 'tokens;
                }
                Ok(SaveOutcome::Conflict) => report.conflicts += 1,
                Ok(outcome) => panic!("save: an outcome this test does not know: {outcome:?}"),
                Err(error) => {
                    assert!(expected(&error), "save: {error:?}");
                    report.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue 'tokens;
                }
            }
        }
    }
    report
}

/// What one failover under load came to.
struct FailoverReport {
    acked: usize,
    acked_before_kill: usize,
    acked_while_cut_off: usize,
    acked_after_failover: usize,
    lost: usize,
    landed_unacknowledged: usize,
    errors: usize,
    conflicts: usize,
    failover_took: Duration,
    resumed_after: Duration,
}

/// A master, two replicas and three sentinels (quorum 2, down after 1 s);
/// writers save through the store, the master is SIGKILLed, the sentinels
/// promote a replica, and the writers go on. Then every session's final
/// record is checked for every token whose save was acknowledged.
///
/// Two replicas, so that the promoted master still has one: with
/// durability, a master without replicas refuses every write.
async fn failover_under_load(durability: Option<Durability>) -> Option<FailoverReport> {
    // Only where Redis is available at all.
    common::redis_url()?;
    let mut servers = Servers::new("sentinel-failover");
    let master = servers.start_redis(None);
    let replicas = [
        servers.start_redis(Some(master)),
        servers.start_redis(Some(master)),
    ];
    wait_for_replicas(master, replicas.len()).await;
    let sentinels: Vec<u16> = (0..3)
        .map(|_| servers.start_sentinel(master, 2, 1000))
        .collect();
    wait_for_sentinels(&sentinels, replicas.len()).await;

    let store = RedisStore::connect(&sentinel_url(&sentinels))
        .await
        .expect("connect through the sentinels")
        .with_call_timeout(CALL_TIMEOUT)
        .with_prefix(format!("{}:", unique("failover")));
    let store = match durability {
        Some(durability) => store.with_durability(durability),
        None => store,
    };
    assert!(store.is_sentinel());

    let ids: Vec<String> = (0..SESSIONS).map(|_| unique("s")).collect();
    for id in &ids {
        let outcome = store
            .save(id, &Record::default(), SaveCondition::IfAbsent)
            .await
            .expect("create the session");
        assert!(matches!(outcome, SaveOutcome::Saved(_)));
    }
    // Copied to both replicas before any load starts.
    wait_until_copied(master, replicas.len()).await;

    let timeline = Arc::new(Timeline::default());
    let saved_since_failover = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for (session, id) in ids.iter().enumerate() {
        for index in 0..WRITERS_PER_SESSION {
            writers.push(tokio::spawn(writer(
                store.clone(),
                session,
                id.clone(),
                format!("w{index}"),
                Arc::clone(&timeline),
                Arc::clone(&saved_since_failover),
            )));
        }
    }
    let writer_count = writers.len();

    tokio::time::sleep(WRITE_BEFORE_KILL).await;
    let partition = partition();
    if !partition.is_zero() {
        for &replica in &replicas {
            servers.signal(replica, true);
        }
        let closed: i64 = query(
            master,
            redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("replica"),
        )
        .await
        .expect("CLIENT KILL TYPE replica");
        assert_eq!(closed, 2);
        timeline.cut_off.store(true, Ordering::Relaxed);
        tokio::time::sleep(partition).await;
    }
    timeline.killed.store(true, Ordering::Relaxed);
    servers.kill(master);
    let killed_at = Instant::now();
    for &replica in &replicas {
        servers.signal(replica, false);
    }

    let new_master = eventually(
        "the sentinels to promote a replica",
        Duration::from_secs(30),
        || async {
            named_master(sentinels[0])
                .await
                .filter(|port| *port != master)
        },
    )
    .await;
    let failover_took = killed_at.elapsed();
    assert!(replicas.contains(&new_master));
    timeline.failed_over.store(true, Ordering::Relaxed);
    let failed_over_at = Instant::now();

    // The store finds the new master by itself: every writer saves again.
    eventually(
        "every writer to save again after the failover",
        Duration::from_secs(15),
        || {
            let saved = saved_since_failover.load(Ordering::Relaxed);
            async move { (saved == writer_count).then_some(()) }
        },
    )
    .await;
    let resumed_after = failed_over_at.elapsed();
    tokio::time::sleep(WRITE_AFTER_RECOVERY).await;
    timeline.stop.store(true, Ordering::Relaxed);
    let mut reports = Vec::new();
    for writer in writers {
        reports.push(writer.await.expect("a writer panicked"));
    }

    // Every acknowledged token must be in its session's final record.
    let mut lost = 0;
    let mut landed_unacknowledged = 0;
    for (session, id) in ids.iter().enumerate() {
        let record = eventually("the final record", Duration::from_secs(10), || async {
            store.load(id).await.ok().flatten()
        })
        .await
        .record;
        for report in reports.iter().filter(|report| report.session == session) {
            let stored: HashSet<u64> = record
                .data()
                .get(&report.field)
                .and_then(Value::as_array)
                .map(|tokens| tokens.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            let acked: HashSet<u64> = report.acked.iter().copied().collect();
            lost += acked.difference(&stored).count();
            landed_unacknowledged += stored.difference(&acked).count();
        }
    }
    Some(FailoverReport {
        acked: reports.iter().map(|report| report.acked.len()).sum(),
        acked_before_kill: reports.iter().map(|report| report.acked_before_kill).sum(),
        acked_while_cut_off: reports
            .iter()
            .map(|report| report.acked_while_cut_off)
            .sum(),
        acked_after_failover: reports
            .iter()
            .map(|report| report.acked_after_failover)
            .sum(),
        lost,
        landed_unacknowledged,
        errors: reports.iter().map(|report| report.errors).sum(),
        conflicts: reports.iter().map(|report| report.conflicts).sum(),
        failover_took,
        resumed_after,
    })
}

fn print_report(mode: &str, report: &FailoverReport) {
    println!(
        "sentinel failover (replicas cut off {} ms, then SIGKILL of the master), {mode}: {} saves acknowledged \
         ({} before the kill, {} of them while the replicas were cut off, {} after the failover), \
         {} acknowledged saves lost, \
         {} unacknowledged saves landed; the failover took {:.1} s and every writer \
         saved again {:.1} s after it; {} failed calls, {} conflicts",
        partition().as_millis(),
        report.acked,
        report.acked_before_kill,
        report.acked_while_cut_off,
        report.acked_after_failover,
        report.lost,
        report.landed_unacknowledged,
        report.failover_took.as_secs_f64(),
        report.resumed_after.as_secs_f64(),
        report.errors,
        report.conflicts,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_loses_no_acknowledged_save_with_durability() {
    let durability = Durability::replicas(1).timeout(Duration::from_millis(500));
    let Some(report) = failover_under_load(Some(durability)).await else {
        return;
    };
    print_report("durability replicas(1), 500 ms", &report);
    assert!(report.acked_before_kill > 0 && report.acked_after_failover > 0);
    assert_eq!(
        report.lost, 0,
        "acknowledged saves lost despite the durability option"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_without_durability_reports_what_it_lost() {
    let Some(report) = failover_under_load(None).await else {
        return;
    };
    // Replication is asynchronous: what the master acknowledged but had not
    // sent on yet is lost. How much depends on the partition and the load,
    // so the count is reported, not asserted.
    print_report("no durability", &report);
    assert!(report.acked_before_kill > 0 && report.acked_after_failover > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_reply_sends_the_store_back_to_the_sentinels() {
    if common::redis_url().is_none() {
        return;
    }
    let mut servers = Servers::new("sentinel-readonly");
    let a = servers.start_redis(None);
    let b = servers.start_redis(Some(a));
    wait_for_replicas(a, 1).await;
    // One sentinel that never fails over by itself: the test moves the
    // master, and tells the sentinel.
    let sentinel = servers.start_sentinel(a, 1, 60_000);
    eventually(
        "the sentinel to name the master",
        Duration::from_secs(10),
        || named_master(sentinel),
    )
    .await;
    let config = SentinelConfig::new(MASTER_NAME, [format!("127.0.0.1:{sentinel}")]);

    // A name the sentinels do not know is a connection error that says so.
    let error = RedisStore::connect_sentinel(SentinelConfig::new(
        "nosuchmaster",
        [format!("127.0.0.1:{sentinel}")],
    ))
    .await
    .expect_err("an unknown master name");
    assert!(matches!(error, StoreError::Connection(_)), "{error:?}");
    assert!(
        std::error::Error::source(&error).is_some_and(|cause| cause
            .to_string()
            .contains("master name not found by sentinel")),
        "{error:?}"
    );

    let store = RedisStore::connect_sentinel(config)
        .await
        .expect("connect through the sentinel")
        .with_call_timeout(CALL_TIMEOUT)
        .with_prefix(format!("{}:", unique("readonly")));
    let id = unique("ro");
    let key = store.key(&id);
    let Ok(SaveOutcome::Saved(version)) = store
        .save(&id, &Record::default(), SaveCondition::IfAbsent)
        .await
    else {
        panic!("the first save failed");
    };
    wait_until_copied(a, 1).await;

    // B becomes the master and A its replica, the way Sentinel would, but
    // without Sentinel's killing A's clients: the store's connection to A
    // stays open, and A now answers writes with READONLY.
    let _: String = query(b, redis::cmd("REPLICAOF").arg("NO").arg("ONE"))
        .await
        .expect("promote B");
    let _: String = query(a, redis::cmd("REPLICAOF").arg("127.0.0.1").arg(b))
        .await
        .expect("demote A");
    eventually("A to sync with B", Duration::from_secs(10), || async {
        let info = info(a, "replication").await?;
        (info.get("master_link_status").map(String::as_str) == Some("up")).then_some(())
    })
    .await;
    let _: String = query(
        sentinel,
        redis::cmd("SENTINEL").arg("REMOVE").arg(MASTER_NAME),
    )
    .await
    .expect("SENTINEL REMOVE");
    let _: String = query(
        sentinel,
        redis::cmd("SENTINEL")
            .arg("MONITOR")
            .arg(MASTER_NAME)
            .arg("127.0.0.1")
            .arg(b)
            .arg(1),
    )
    .await
    .expect("SENTINEL MONITOR");
    assert_eq!(named_master(sentinel).await, Some(b));

    // The save meets READONLY on A, asks the sentinel, and lands on B,
    // without an error.
    let mut data = Map::new();
    data.insert("after".to_owned(), Value::from("failover"));
    let record = Record::new(CookieData::default(), data);
    let outcome = store
        .save(&id, &record, SaveCondition::IfVersion(version))
        .await
        .expect("the save after the move");
    assert!(matches!(outcome, SaveOutcome::Saved(_)), "{outcome:?}");
    let stored: Option<Vec<u8>> = query(b, redis::cmd("GET").arg(&key)).await.expect("GET");
    assert_eq!(stored, Some(record.to_json_vec()));
    let errors = info(a, "errorstats").await.expect("INFO errorstats");
    assert!(
        errors
            .get("errorstat_READONLY")
            .is_some_and(|count| count != "count=0"),
        "A never answered READONLY: {errors:?}"
    );
    assert_eq!(
        store
            .load(&id)
            .await
            .expect("load")
            .map(|loaded| loaded.record),
        Some(record)
    );
}

#[tokio::test]
async fn unreachable_sentinels_fail_fast_with_a_transient_error() {
    let store = RedisStore::connect_lazy("redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster")
        .expect("a valid URL")
        .with_call_timeout(Duration::from_secs(1));
    for _ in 0..2 {
        let started = Instant::now();
        let error = store.load("x").await.expect_err("no sentinel answers");
        assert!(error.is_transient(), "{error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}

#[test]
fn sentinel_urls_go_through_connect_lazy() {
    let store = RedisStore::connect_lazy(
        "redis+sentinel://:hunter2@127.0.0.1:26379,127.0.0.1:26380,[::1]/mymaster?db=2",
    )
    .expect("a valid URL");
    assert!(store.is_sentinel() && !store.is_cluster());
    assert!(!format!("{store:?}").contains("hunter2"));
    let config = SentinelConfig::from_url("redis+sentinel://h1,h2:1/cache?db=2").expect("valid");
    assert_eq!(config.master_name(), "cache");
    assert_eq!(config.sentinels(), ["h1", "h2:1"]);
    assert_eq!(config.db(), 2);
    assert!(RedisStore::connect_sentinel_lazy(config).is_ok());

    let refused = |url: &str| match RedisStore::connect_lazy(url) {
        Ok(store) => panic!("{url} gave {store:?}"),
        Err(error) => {
            assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
            std::error::Error::source(&error).map_or_else(String::new, ToString::to_string)
        }
    };
    for (url, says) in [
        ("redis+sentinel://127.0.0.1:26379", "names the master"),
        ("redis+sentinel:///mymaster", "at least one sentinel host"),
        ("redis+sentinel://h:26379/mymaster?db=two", "?db="),
        (
            "redis+sentinel://h:26379/mymaster?retries=3",
            "unknown query parameter",
        ),
        ("redis+sentinel://h:65536/mymaster", "port is a number"),
        ("redis+sentinel://h/my/master", "one path segment"),
    ] {
        let error = refused(url);
        assert!(error.contains(says), "{url}: {error}");
    }
    assert!(RedisStore::connect_sentinel_lazy(SentinelConfig::new(
        "mymaster",
        Vec::<String>::new()
    ))
    .is_err());
}
