//! The state one session has in this process, shared by every request on
//! it that is in flight at the same time.
//!
//! express-session (and every Rust session crate) gives each request its own
//! copy and saves the whole object at the end, so the last writer wins and
//! concurrent changes are lost. Here concurrent requests on one ID join one
//! [`Live`] session: a change made by one is seen by the others at once,
//! and each change is also kept in a pending log until the store confirms
//! it. Saves are compare-and-set against the stored version; when another
//! process wrote in between, the pending changes are replayed, key by key,
//! on the fresh record (see `persist`).
//!
//! The [`Registry`] maps IDs to live sessions only while some request holds
//! one: the last handle to go removes the entry, so it never grows.

use std::collections::HashMap;
use std::hash::BuildHasher;

// Keys are session IDs this process generated (or verified by signature),
// so the cheaper keyed hash of foldhash is enough; no HashDoS input reaches it.
use foldhash::fast::RandomState;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use serde_json::{Map, Value};

use crate::store::{CookieData, Record, Version};

pub(crate) type Data = Arc<Map<String, Value>>;

/// The data key that keeps a session's creation time (ms since the epoch)
/// in the stored record, for the absolute timeout. In the data, not in
/// `cookie`, because express round-trips every data key on save but keeps
/// only its own `cookie` fields. The layer takes it out of the data on load
/// and puts it back on save, so handlers never see it and `clear` cannot
/// reset it.
pub(crate) const CREATED_KEY: &str = "__sessionCreatedAt";

/// Takes the creation time out of freshly loaded data.
pub(crate) fn take_created(mut data: Data) -> (Data, Option<i64>) {
    if !data.contains_key(CREATED_KEY) {
        return (data, None);
    }
    let created = Arc::make_mut(&mut data)
        .shift_remove(CREATED_KEY)
        .and_then(|value| value.as_i64());
    (data, created)
}

/// A read-modify-write closure, kept so it can be re-run on a fresh value.
/// `None` from it means "leave the value as it is" (its input did not
/// convert).
pub(crate) type UpdateFn = dyn Fn(Option<&Value>) -> Option<Value> + Send + Sync;

/// One change a request made to the data, replayable on another copy.
#[derive(Clone)]
pub(crate) enum Change {
    Insert(String, Value),
    Remove(String),
    Clear,
    Update(String, Arc<UpdateFn>),
}

impl Change {
    pub(crate) fn apply(&self, data: &mut Map<String, Value>) {
        match self {
            Self::Insert(key, value) => {
                data.insert(key.clone(), value.clone());
            }
            Self::Remove(key) => {
                data.shift_remove(key);
            }
            Self::Clear => data.clear(),
            Self::Update(key, update) => {
                if let Some(next) = update(data.get(key)) {
                    data.insert(key.clone(), next);
                }
            }
        }
    }
}

/// A change not yet confirmed by the store, and the request that made it.
pub(crate) struct Pending {
    pub(crate) owner: u64,
    pub(crate) change: Change,
}

pub(crate) struct LiveState {
    pub(crate) cookie: CookieData,
    /// The data with every in-process change applied, confirmed or not.
    pub(crate) data: Data,
    /// The stored version `data` is based on; `None` while the session has
    /// never been stored.
    pub(crate) version: Option<Version>,
    /// Changes applied to `data` that the store has not confirmed yet.
    pub(crate) pending: Vec<Pending>,
    /// Destroyed (here or, as found at a save, by another process): later
    /// saves are dropped so that nothing resurrects it.
    pub(crate) destroyed: bool,
    /// When the session was created (ms since the epoch), kept for the
    /// absolute timeout; `None` when the layer has none.
    pub(crate) created: Option<i64>,
    /// The user this ID is indexed under in the store: the user its stored
    /// record held when loaded, or the one a save indexed. A save whose
    /// data holds another user indexes it first.
    pub(crate) indexed_user: Option<String>,
}

impl LiveState {
    pub(crate) fn record(&self) -> Record {
        let data = match self.created {
            None => Arc::clone(&self.data),
            Some(created) => {
                let mut data = Map::clone(&self.data);
                data.insert(CREATED_KEY.to_owned(), Value::from(created));
                Arc::new(data)
            }
        };
        Record {
            cookie: self.cookie.clone(),
            data,
        }
    }

    pub(crate) fn new(cookie: CookieData, data: Data, version: Option<Version>) -> Self {
        Self {
            cookie,
            data,
            version,
            pending: Vec::new(),
            destroyed: false,
            created: None,
            indexed_user: None,
        }
    }

    /// Logs a change whose result the caller already computed: stores
    /// `value` under `key` and keeps `change` to replay.
    pub(crate) fn applied(&mut self, owner: u64, change: Change, key: String, value: Value) {
        Arc::make_mut(&mut self.data).insert(key, value);
        self.pending.push(Pending { owner, change });
    }

    /// Applies a change made by `owner` and logs it for replay.
    pub(crate) fn change(&mut self, owner: u64, change: Change) {
        change.apply(Arc::make_mut(&mut self.data));
        self.pending.push(Pending { owner, change });
    }

    /// Rebases onto a freshly loaded record: its data plus the pending
    /// changes that `keep` selects, replayed in order.
    pub(crate) fn rebase(
        &mut self,
        fresh: Data,
        version: Version,
        keep: impl Fn(&Pending) -> bool,
    ) {
        self.pending.retain(keep);
        let (mut data, created) = take_created(fresh);
        // Another writer (Node, say) may have stored a session that predates
        // the absolute timeout; the earliest creation time wins.
        self.created = match (self.created, created) {
            (Some(ours), Some(theirs)) => Some(ours.min(theirs)),
            (ours, theirs) => ours.or(theirs),
        };
        if !self.pending.is_empty() {
            let map = Arc::make_mut(&mut data);
            for pending in &self.pending {
                pending.change.apply(map);
            }
        }
        self.data = data;
        self.version = Some(version);
    }
}

/// A session live in this process.
pub(crate) struct Live {
    /// Shared with the registry key and the request's bookkeeping, so
    /// that one request copies the ID once, not once per use.
    pub(crate) id: Arc<str>,
    state: Mutex<LiveState>,
    /// Serialises this session's store writes within the process, so that
    /// in-process requests never conflict with each other, only with other
    /// processes. Held across the store call, never across a handler.
    pub(crate) commit: tokio::sync::Mutex<()>,
    /// Where the session went when `cycle_id` moved it to a new ID: requests
    /// still holding this one follow, so their changes land under the new
    /// ID instead of being dropped with the old one. Set once, read without
    /// a lock on every access.
    pub(crate) moved_to: OnceLock<Arc<Live>>,
    registry: Option<Arc<Registry>>,
}

impl Live {
    pub(crate) fn lock(&self) -> MutexGuard<'_, LiveState> {
        // No code panics while holding this lock; if some did, every field
        // is still consistent on its own, so carry on.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(registry) = &self.registry {
            registry.forget(&self.id);
        }
    }
}

type Shard = HashMap<Arc<str>, Weak<Live>, RandomState>;

/// The live sessions of one layer, by ID. Sharded so that requests on
/// different sessions rarely meet on a lock.
pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

impl Registry {
    pub(crate) fn new() -> Arc<Self> {
        let count = std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 4)
            .next_power_of_two();
        Arc::new(Self {
            shards: (0..count).map(|_| Mutex::default()).collect(),
            hasher: RandomState::default(),
        })
    }

    fn shard(&self, id: &str) -> MutexGuard<'_, Shard> {
        let index = (self.hasher.hash_one(id) as usize) & (self.shards.len() - 1);
        self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The live session with this ID, if a request holds one.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Live>> {
        self.shard(id).get(id).and_then(Weak::upgrade)
    }

    /// Makes `state` the live session for `id`, unless a concurrent request
    /// got there first: then that one is returned and `state` is dropped.
    pub(crate) fn join_or_insert(self: &Arc<Self>, id: &Arc<str>, state: LiveState) -> Arc<Live> {
        let mut shard = self.shard(id);
        if let Some(existing) = shard.get(id).and_then(Weak::upgrade) {
            return existing;
        }
        let live = Arc::new(Live {
            id: Arc::clone(id),
            state: Mutex::new(state),
            commit: tokio::sync::Mutex::new(()),
            moved_to: OnceLock::new(),
            registry: Some(Arc::clone(self)),
        });
        shard.insert(Arc::clone(id), Arc::downgrade(&live));
        live
    }

    /// Called by a dropped `Live`: removes its entry unless a new live
    /// session took the ID meanwhile.
    fn forget(&self, id: &str) {
        let mut shard = self.shard(id);
        if shard.get(id).is_some_and(|weak| weak.strong_count() == 0) {
            shard.remove(id);
        }
    }

    /// How many sessions are live in this process.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().map_or(0, |map| map.len()))
            .sum()
    }
}

/// A live session outside any registry: for a session whose ID nobody
/// else can know yet (a new one), so no one can join it.
pub(crate) fn unregistered(id: Arc<str>, state: LiveState) -> Arc<Live> {
    Arc::new(Live {
        id,
        state: Mutex::new(state),
        commit: tokio::sync::Mutex::new(()),
        moved_to: OnceLock::new(),
        registry: None,
    })
}
