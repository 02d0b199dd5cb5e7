//! Fault-injecting wrappers around the real [`MemoryStore`]: upstream's
//! tests replace `store.get`, `set`, `touch` and `destroy` with counting,
//! failing or slow versions, emit `'disconnect'`, and write raw values into
//! the store. [`TestStore`] does each of those on demand, and can also
//! stall every call or refuse it with a connection error (a store that
//! hangs, or is down).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt as _;
use server_session::store::{
    LoadedRecord, Record, SaveCondition, SaveOutcome, Store, StoreFuture, UserPath, Version,
};
use server_session::{MemoryStore, StoreError};

/// upstream's `new Error('boom!')`.
pub const BOOM: &str = "boom!";

/// A store operation, for [`TestStore::fail`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `get` (our `load`).
    Load,
    /// `set` (our `save`).
    Save,
    /// `touch`.
    Touch,
    /// `destroy`.
    Destroy,
}

/// A [`MemoryStore`] with counters and switchable faults. Clones share
/// everything, so a test keeps one and gives the layer another.
#[derive(Clone, Default)]
pub struct TestStore {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    memory: MemoryStore,
    loads: AtomicUsize,
    saves: AtomicUsize,
    touches: AtomicUsize,
    destroys: AtomicUsize,
    indexes: AtomicUsize,
    fail_load: AtomicBool,
    fail_save: AtomicBool,
    fail_touch: AtomicBool,
    fail_destroy: AtomicBool,
    /// upstream's ENOENT `get`: every load finds nothing.
    load_not_found: AtomicBool,
    save_delay_ms: AtomicU64,
    /// Inverted so that the default is "ready".
    disconnected: AtomicBool,
    /// Every future is complete when returned: upstream's `SyncStore`.
    synchronous: AtomicBool,
    /// Every call waits until this is cleared: a stalled store.
    stalled: AtomicBool,
    /// Every call fails at once with a connection error: a store that is down.
    down: AtomicBool,
    /// Raw stored values (express's JSON), as a JSON-backed store would hold
    /// them; `load` parses them with `Record::from_json`.
    raw: Mutex<HashMap<String, Vec<u8>>>,
}

fn boom() -> StoreError {
    StoreError::backend(BOOM)
}

impl TestStore {
    /// A working store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose `op` fails with `boom!`.
    pub fn failing(op: Op) -> Self {
        let store = Self::new();
        store.fail(op, true);
        store
    }

    /// Makes `op` fail with `boom!` (or work again).
    pub fn fail(&self, op: Op, fail: bool) {
        let flag = match op {
            Op::Load => &self.inner.fail_load,
            Op::Save => &self.inner.fail_save,
            Op::Touch => &self.inner.fail_touch,
            Op::Destroy => &self.inner.fail_destroy,
        };
        flag.store(fail, Ordering::SeqCst);
    }

    /// upstream's `get` failing with `code = 'ENOENT'`: in Rust "not found"
    /// is not an error, so every load answers `Ok(None)`.
    pub fn not_found_on_load(self) -> Self {
        self.inner.load_not_found.store(true, Ordering::SeqCst);
        self
    }

    /// Every `save` waits this long before it writes (upstream's
    /// `shouldSetSessionInStore(store, 200)`).
    pub fn delay_saves(self, delay: Duration) -> Self {
        let ms = u64::try_from(delay.as_millis()).expect("a short delay");
        self.inner.save_delay_ms.store(ms, Ordering::SeqCst);
        self
    }

    /// upstream's `SyncStore`: every call is complete when it returns.
    pub fn synchronous(self) -> Self {
        self.inner.synchronous.store(true, Ordering::SeqCst);
        self
    }

    /// Makes every call wait until `stalled` is set back to false, as a
    /// store that stopped answering.
    pub fn stall(&self, stalled: bool) {
        self.inner.stalled.store(stalled, Ordering::SeqCst);
    }

    /// Makes every call fail at once with a connection error (or work
    /// again), as a store that is down.
    pub fn go_down(&self, down: bool) {
        self.inner.down.store(down, Ordering::SeqCst);
    }

    /// How many times the layer called `index_user`.
    pub fn indexes(&self) -> usize {
        self.inner.indexes.load(Ordering::SeqCst)
    }

    /// How many calls of any kind the layer made.
    pub fn calls(&self) -> usize {
        self.loads() + self.saves() + self.touches() + self.destroys() + self.indexes()
    }

    /// upstream's `store.emit('disconnect')` (`false`) and
    /// `store.emit('connect')` (`true`).
    pub fn set_ready(&self, ready: bool) {
        self.inner.disconnected.store(!ready, Ordering::SeqCst);
    }

    /// How many times the layer called `load`.
    pub fn loads(&self) -> usize {
        self.inner.loads.load(Ordering::SeqCst)
    }

    /// How many times the layer called `save`.
    pub fn saves(&self) -> usize {
        self.inner.saves.load(Ordering::SeqCst)
    }

    /// How many times the layer called `touch`.
    pub fn touches(&self) -> usize {
        self.inner.touches.load(Ordering::SeqCst)
    }

    /// How many times the layer called `destroy`.
    pub fn destroys(&self) -> usize {
        self.inner.destroys.load(Ordering::SeqCst)
    }

    /// Sets every counter back to zero.
    pub fn reset_counts(&self) {
        for counter in [
            &self.inner.loads,
            &self.inner.saves,
            &self.inner.touches,
            &self.inner.destroys,
            &self.inner.indexes,
        ] {
            counter.store(0, Ordering::SeqCst);
        }
    }

    /// The store behind the wrapper, for reading and writing without
    /// counting or faults (upstream's test code calling `store.get` itself).
    pub fn memory(&self) -> &MemoryStore {
        &self.inner.memory
    }

    /// The stored record, read past the wrapper.
    pub async fn record(&self, id: &str) -> Option<Record> {
        self.memory()
            .load(id)
            .await
            .expect("MemoryStore loads never fail")
            .map(|loaded| loaded.record)
    }

    /// The top-level keys of the record stored under `id`, as its JSON
    /// writes them (`cookie` and the data keys), sorted and comma-joined.
    pub async fn stored_keys(&self, id: &str) -> String {
        let record = self.record(id).await.expect("stored");
        let json: serde_json::Value = serde_json::from_str(&record.to_json()).expect("record JSON");
        let mut keys: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys.join(",")
    }

    /// upstream's `store.length`.
    pub async fn length(&self) -> usize {
        self.memory().len().await.expect("MemoryStore has len")
    }

    /// upstream's `store.all`.
    pub async fn all(&self) -> Vec<(String, Record)> {
        self.memory().all().await.expect("MemoryStore has all")
    }

    /// upstream's `store.clear`.
    pub async fn clear(&self) {
        self.memory().clear().await.expect("MemoryStore has clear");
        self.raw().clear();
    }

    /// upstream's `store.set(sid, anything)`: makes `json` the stored value
    /// of `id` (replacing the record), read back on the next load with
    /// `Record::from_json`, as a store that keeps express's JSON does.
    pub async fn write_raw(&self, id: &str, json: &str) {
        self.memory()
            .destroy(id)
            .await
            .expect("MemoryStore destroys never fail");
        self.raw().insert(id.to_owned(), json.as_bytes().to_vec());
    }

    fn raw(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.inner
            .raw
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `call` to completion before returning when the store is
    /// synchronous (MemoryStore's futures never wait, so one poll does).
    fn finish<'a, T: Send + 'a>(&self, call: StoreFuture<'a, T>) -> StoreFuture<'a, T> {
        if !self.inner.synchronous.load(Ordering::SeqCst) {
            return call;
        }
        let done = call.now_or_never().unwrap_or_else(|| {
            Err(StoreError::backend(
                "the store did not finish synchronously",
            ))
        });
        Box::pin(std::future::ready(done))
    }
}

impl TestStore {
    /// What every call goes through first: a stall, then a store that is
    /// down.
    async fn gate(&self) -> Result<(), StoreError> {
        while self.inner.stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if self.inner.down.load(Ordering::SeqCst) {
            return Err(StoreError::connection(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            )));
        }
        Ok(())
    }
}

impl Store for TestStore {
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<LoadedRecord>> {
        self.inner.loads.fetch_add(1, Ordering::SeqCst);
        let call: StoreFuture<'a, Option<LoadedRecord>> = Box::pin(async move {
            self.gate().await?;
            if self.inner.fail_load.load(Ordering::SeqCst) {
                return Err(boom());
            }
            if self.inner.load_not_found.load(Ordering::SeqCst) {
                return Ok(None);
            }
            let raw = self.raw().get(id).cloned();
            if let Some(bytes) = raw {
                let record = Record::from_json(&bytes)?;
                return Ok(Some(LoadedRecord::new(record, Version::digest_of(&bytes))));
            }
            self.inner.memory.load(id).await
        });
        self.finish(call)
    }

    fn save<'a>(
        &'a self,
        id: &'a str,
        record: &'a Record,
        condition: SaveCondition,
    ) -> StoreFuture<'a, SaveOutcome> {
        self.inner.saves.fetch_add(1, Ordering::SeqCst);
        let delay = self.inner.save_delay_ms.load(Ordering::SeqCst);
        let call: StoreFuture<'a, SaveOutcome> = Box::pin(async move {
            self.gate().await?;
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            if self.inner.fail_save.load(Ordering::SeqCst) {
                return Err(boom());
            }
            // A raw value is the live record: the condition is checked
            // against its version, and a write replaces it.
            let raw_version = self.raw().get(id).map(|bytes| Version::digest_of(bytes));
            if let Some(current) = raw_version {
                if !condition.allows(Some(&current)) {
                    return Ok(SaveOutcome::Conflict);
                }
                self.raw().remove(id);
                return self
                    .inner
                    .memory
                    .save(id, record, SaveCondition::Upsert)
                    .await;
            }
            self.inner.memory.save(id, record, condition).await
        });
        self.finish(call)
    }

    fn touch<'a>(&'a self, id: &'a str, record: &'a Record) -> StoreFuture<'a, ()> {
        self.inner.touches.fetch_add(1, Ordering::SeqCst);
        let call: StoreFuture<'a, ()> = Box::pin(async move {
            self.gate().await?;
            if self.inner.fail_touch.load(Ordering::SeqCst) {
                return Err(boom());
            }
            // Raw values have no expiry of their own, so touching one is a
            // no-op (its data must not be rewritten).
            self.inner.memory.touch(id, record).await
        });
        self.finish(call)
    }

    fn destroy<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        self.inner.destroys.fetch_add(1, Ordering::SeqCst);
        let call: StoreFuture<'a, ()> = Box::pin(async move {
            self.gate().await?;
            if self.inner.fail_destroy.load(Ordering::SeqCst) {
                return Err(boom());
            }
            self.raw().remove(id);
            self.inner.memory.destroy(id).await
        });
        self.finish(call)
    }

    fn all(&self) -> StoreFuture<'_, Vec<(String, Record)>> {
        self.inner.memory.all()
    }

    fn len(&self) -> StoreFuture<'_, usize> {
        self.inner.memory.len()
    }

    fn clear(&self) -> StoreFuture<'_, ()> {
        self.raw().clear();
        self.inner.memory.clear()
    }

    fn index_user<'a>(&'a self, user: &'a str, id: &'a str) -> StoreFuture<'a, ()> {
        self.inner.indexes.fetch_add(1, Ordering::SeqCst);
        let call: StoreFuture<'a, ()> = Box::pin(async move {
            self.gate().await?;
            self.inner.memory.index_user(user, id).await
        });
        self.finish(call)
    }

    fn user_sessions<'a>(
        &'a self,
        user_path: &'a UserPath,
        user: &'a str,
    ) -> StoreFuture<'a, Vec<(String, LoadedRecord)>> {
        self.inner.memory.user_sessions(user_path, user)
    }

    fn unindex_user<'a>(&'a self, user: &'a str, ids: &'a [String]) -> StoreFuture<'a, ()> {
        self.inner.memory.unindex_user(user, ids)
    }

    fn is_ready(&self) -> bool {
        !self.inner.disconnected.load(Ordering::SeqCst)
    }

    fn kind(&self) -> &'static str {
        "test"
    }
}
