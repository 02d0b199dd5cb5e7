//! The per-request session handle.
//!
//! [`Session`] is express's `req.session`: typed data over serde, the
//! session's own cookie, and `regenerate`, `destroy`, `reload`, `save`,
//! `touch` and unset. It is a cheap clone of a shared handle, `Send +
//! Sync`, and never holds a lock across an `.await`, so it can be passed
//! to spawned tasks and used from several extractors at once.
//!
//! **A dead session reads as empty.** After [`Session::destroy`],
//! [`Session::unset`], or its end by another request (a concurrent destroy,
//! an expiry or revocation the store reported), every read answers as for
//! an empty session (`get` gives `Ok(None)`, `keys` nothing, `len` 0, `id`
//! an empty string) and every write fails with [`SessionError::Gone`].
//! [`Session::is_live`] tells the two apart. After
//! [`Session::regenerate`] the handle is live again, on the new session.
//!
//! ```
//! use server_session::Session;
//!
//! async fn visit(session: Session) -> Result<String, server_session::SessionError> {
//!     let visits = session.update("visits", |n: Option<u64>| n.unwrap_or(0) + 1)?;
//!     if let Some(name) = session.get::<String>("user")? {
//!         return Ok(format!("hello {name}, visit {visits}"));
//!     }
//!     Ok(format!("visit {visits}"))
//! }
//! ```

mod cookie_view;
mod error;
pub(crate) mod live;
pub(crate) mod persist;
pub(crate) mod state;
mod user;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

pub use cookie_view::SessionCookie;
pub use error::SessionError;

use self::live::{Change, Data, Live, LiveState, UpdateFn};
use self::persist::Persisted;
use self::state::SessionState;
use crate::clock;
use crate::context::Context;
use crate::engine::end::Standing;
use crate::store::{is_reserved, CookieData};

/// Keys a handler may not write: express's own, and the one the layer
/// keeps the creation time under.
fn is_refused_key(key: &str) -> bool {
    is_reserved(key) || key == live::CREATED_KEY
}

/// How many IDs a new session draws before giving up on a `genid` that
/// keeps returning IDs already stored. The default generator's 192 random
/// bits never get past the first.
const ID_DRAWS: u32 = 3;

/// The key express reads the session ID under (`req.session.id`).
const ID_KEY: &str = "id";

/// The session of the current request. See the [module docs](self).
///
/// Extract it in an axum handler (it needs [`SessionLayer`](crate::SessionLayer)),
/// or take it from the request extensions in any tower service.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<SessionInner>,
}

pub(crate) struct SessionInner {
    pub(crate) state: Mutex<SessionState>,
    pub(crate) context: Arc<Context>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        // Never print the ID, not even part of it: it is a bearer credential.
        f.debug_struct("Session")
            .field("id_tag", &crate::id_tag::tag(state.id()))
            .field("standing", &state.standing)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(state: SessionState, context: Arc<Context>) -> Self {
        Self {
            inner: Arc::new(SessionInner {
                state: Mutex::new(state),
                context,
            }),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, SessionState> {
        // No code panics while holding this lock; if some future code did,
        // the state is still consistent field by field, so keep going.
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Follow the session where a concurrent `cycle_id` moved it.
        while let Some(next) = state.live.moved_to.get() {
            let next = Arc::clone(next);
            state.live = next;
        }
        state
    }

    /// Runs `f` on the shared live state, read-only, or answers `dead` for a
    /// session that was destroyed, unset or ended by another request: a dead
    /// session reads as empty, everywhere.
    fn read<R>(&self, dead: R, f: impl FnOnce(&LiveState) -> R) -> R {
        loop {
            let (live, standing) = {
                let state = self.state();
                (Arc::clone(&state.live), state.standing)
            };
            let state = live.lock();
            if standing != Standing::Live || state.destroyed {
                // Moved by a concurrent `cycle_id`, not ended: follow.
                if standing == Standing::Live && live.moved_to.get().is_some() {
                    continue;
                }
                return dead;
            }
            return f(&state);
        }
    }

    /// Runs `f` on the request's bookkeeping and the shared live state, if
    /// the session is still live. Lock order: request, then live.
    fn write<R>(
        &self,
        f: impl FnOnce(&mut SessionState, &mut LiveState) -> R,
    ) -> Result<R, SessionError> {
        loop {
            let mut state = self.state();
            if state.standing != Standing::Live {
                return Err(SessionError::Gone);
            }
            let live = Arc::clone(&state.live);
            let mut live_state = live.lock();
            if live_state.destroyed {
                // A concurrent `cycle_id` moved it while this request waited
                // for the lock (it sets `moved_to` before letting go): follow.
                if live.moved_to.get().is_some() {
                    continue;
                }
                return Err(SessionError::Gone);
            }
            return Ok(f(&mut state, &mut live_state));
        }
    }

    pub(crate) fn with_cookie<R>(&self, f: impl FnOnce(&mut CookieData) -> R) -> R {
        let live = Arc::clone(&self.state().live);
        let mut state = live.lock();
        f(&mut state.cookie)
    }

    /// The session ID (express's `req.session.id`). It changes on
    /// [`regenerate`](Self::regenerate) and [`cycle_id`](Self::cycle_id), and
    /// is empty once the session is dead (see the [module docs](self)).
    pub fn id(&self) -> String {
        if self.read(false, |_| true) {
            self.state().id().to_owned()
        } else {
            String::new()
        }
    }

    /// The value under `key`, converted from JSON.
    ///
    /// `get("id")` is the session ID, as express's `req.session.id` is:
    /// `id` is reserved, so it never names data (see
    /// [`RESERVED_KEYS`](crate::store::RESERVED_KEYS)).
    ///
    /// # Errors
    /// [`SessionError::Value`] when the stored value does not convert to `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        match self.get_value(key) {
            None => Ok(None),
            Some(value) => T::deserialize(value)
                .map(Some)
                .map_err(|source| SessionError::Value {
                    key: key.to_owned(),
                    source,
                }),
        }
    }

    /// The JSON value under `key` (for `id`, the session ID, as in
    /// [`get`](Self::get)).
    pub fn get_value(&self, key: &str) -> Option<Value> {
        if key == ID_KEY {
            let id = self.id();
            return (!id.is_empty()).then_some(Value::String(id));
        }
        self.read(None, |live| live.data.get(key).cloned())
    }

    /// Whether `key` holds a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.read(false, |live| live.data.contains_key(key))
    }

    /// The data keys, in insertion order.
    pub fn keys(&self) -> Vec<String> {
        self.read(Vec::new(), |live| live.data.keys().cloned().collect())
    }

    /// The number of data keys.
    pub fn len(&self) -> usize {
        self.read(0, |live| live.data.len())
    }

    /// Whether the session holds no data.
    pub fn is_empty(&self) -> bool {
        self.read(true, |live| live.data.is_empty())
    }

    /// Stores `value` under `key`, as JSON. Storing a value equal to the
    /// current one does not count as a change.
    ///
    /// # Errors
    /// [`SessionError::ReservedKey`] for express's reserved names (`cookie`,
    /// `id`, `save`, …), [`SessionError::Value`] when `value` does not
    /// convert to JSON, and [`SessionError::Gone`] after `destroy`/`unset`.
    pub fn insert<T: Serialize>(
        &self,
        key: impl Into<String>,
        value: T,
    ) -> Result<(), SessionError> {
        let key = key.into();
        let value = serde_json::to_value(value).map_err(|source| SessionError::Value {
            key: key.clone(),
            source,
        })?;
        self.insert_value(key, value)
    }

    /// Stores a JSON value under `key`. See [`insert`](Self::insert).
    ///
    /// # Errors
    /// As [`insert`](Self::insert).
    pub fn insert_value(&self, key: impl Into<String>, value: Value) -> Result<(), SessionError> {
        let key = key.into();
        if is_refused_key(&key) {
            return Err(SessionError::ReservedKey(key));
        }
        self.write(|state, live| {
            if live.data.get(&key) != Some(&value) {
                live.change(state.owner, Change::Insert(key, value));
                state.own_changes += 1;
            }
        })
    }

    /// Removes `key` and returns its value, converted from JSON.
    ///
    /// # Errors
    /// [`SessionError::Value`] when the removed value does not convert to `T`
    /// (it is removed all the same), and [`SessionError::Gone`] after
    /// `destroy`/`unset`.
    pub fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let Some(value) = self.remove_value(key)? else {
            return Ok(None);
        };
        serde_json::from_value(value)
            .map(Some)
            .map_err(|source| SessionError::Value {
                key: key.to_owned(),
                source,
            })
    }

    /// Removes `key` and returns its JSON value.
    ///
    /// # Errors
    /// [`SessionError::Gone`] after `destroy`/`unset`.
    pub fn remove_value(&self, key: &str) -> Result<Option<Value>, SessionError> {
        self.write(|state, live| {
            let removed = live.data.get(key).cloned();
            if removed.is_some() {
                // Removal keeps the other keys in insertion order, as
                // JavaScript objects do.
                live.change(state.owner, Change::Remove(key.to_owned()));
                state.own_changes += 1;
            }
            removed
        })
    }

    /// Read-modify-write of one key, atomically with respect to every
    /// other handle on this session: `f` gets the current value (or `None`)
    /// and returns the new one, which is stored and returned.
    ///
    /// The closure is kept until the change is stored: when another
    /// process changed the session meanwhile, it is run again on the fresh
    /// value (see [`ConflictPolicy`](crate::ConflictPolicy)), so it should
    /// compute from its input only.
    ///
    /// # Errors
    /// [`SessionError::Value`] when the current value does not convert to
    /// `T` or the new one does not convert to JSON, and
    /// [`SessionError::Gone`] after `destroy`/`unset`.
    pub fn update<T, F>(&self, key: impl Into<String>, f: F) -> Result<T, SessionError>
    where
        T: Serialize + DeserializeOwned + 'static,
        F: Fn(Option<T>) -> T + Send + Sync + 'static,
    {
        let key = key.into();
        if is_refused_key(&key) {
            return Err(SessionError::ReservedKey(key));
        }
        let f = Arc::new(f);
        let replay_f = Arc::clone(&f);
        let replay: Arc<UpdateFn> = Arc::new(move |current: Option<&Value>| {
            let current = match current {
                Some(value) => Some(T::deserialize(value).ok()?),
                None => None,
            };
            serde_json::to_value(replay_f(current)).ok()
        });
        self.write(|state, live| {
            let value_error = |source| SessionError::Value {
                key: key.clone(),
                source,
            };
            let current = match live.data.get(&key) {
                Some(value) => Some(T::deserialize(value).map_err(value_error)?),
                None => None,
            };
            let next = f(current);
            let json = serde_json::to_value(&next).map_err(value_error)?;
            if live.data.get(&key) != Some(&json) {
                live.applied(state.owner, Change::Update(key.clone(), replay), key, json);
                state.own_changes += 1;
            }
            Ok(next)
        })?
    }

    /// Removes every data key.
    ///
    /// # Errors
    /// [`SessionError::Gone`] after `destroy`/`unset`.
    pub fn clear(&self) -> Result<(), SessionError> {
        self.write(|state, live| {
            if !live.data.is_empty() {
                live.change(state.owner, Change::Clear);
                state.own_changes += 1;
            }
        })
    }

    /// The session's own cookie settings (express's `req.session.cookie`),
    /// for reading them or, for example, setting a "remember me" max age.
    pub fn cookie(&self) -> SessionCookie<'_> {
        SessionCookie::new(self)
    }

    /// express's `req.session.touch()`: resets the cookie's expiry to now
    /// plus its original max age. The layer does this by itself at the end
    /// of every request; it does not call the store.
    pub fn touch(&self) {
        self.with_cookie(|cookie| cookie.touch(clock::now_ms()));
    }

    /// express's `req.session = null`: this request stops using the
    /// session. With [`Unset::Destroy`](crate::Unset::Destroy) the stored
    /// session is deleted at the end of the request; with the default
    /// `Keep`, it stays in the store untouched. No cookie is sent.
    pub fn unset(&self) {
        let mut state = self.state();
        if state.standing == Standing::Live {
            state.standing = Standing::Unset;
        }
    }

    /// Whether the session is still live in this request (not destroyed or
    /// unset, here or by a concurrent request).
    pub fn is_live(&self) -> bool {
        self.read(false, |_| true)
    }

    /// Whether this request changed the data or the ID.
    pub fn is_modified(&self) -> bool {
        let state = self.state();
        let live = state.live.lock();
        state.modified(&live)
    }

    /// Deletes the session from the store now. The rest of the request has
    /// no session. No cookie is sent, as in express (the browser's stale
    /// cookie leads to a fresh session next time), unless
    /// [`with_clear_cookie_on_destroy`](crate::SessionConfig::with_clear_cookie_on_destroy)
    /// (on in the hardened configuration) expires it in the browser.
    /// Concurrent requests on the session see it gone too, and none of their
    /// saves resurrects it.
    ///
    /// # Errors
    /// The store's error; the session is gone from this request either way,
    /// but stays stored, and live for concurrent requests.
    pub async fn destroy(&self) -> Result<(), SessionError> {
        let live = {
            let mut state = self.state();
            state.standing = Standing::Destroyed;
            Arc::clone(&state.live)
        };
        persist::destroy(&self.inner.context, &live).await
    }

    /// Replaces the session with a new, empty one under a new ID, and
    /// deletes the old one from the store: the defence against session
    /// fixation to call on every privilege change, such as signing in.
    /// The new session gets a fresh cookie from the options.
    ///
    /// To change the ID but keep the data, use [`cycle_id`](Self::cycle_id).
    ///
    /// # Errors
    /// [`SessionError::InvalidId`] when a custom `genid` returns an unusable
    /// ID, or the store's error when deleting the old session. Either way
    /// the old session is left as it was, stored and in use by this request
    /// (express installs the new session even when the delete failed).
    pub async fn regenerate(&self) -> Result<(), SessionError> {
        let context = &self.inner.context;
        // The new ID first: a `genid` failure must not cost the old session.
        let (old, new_id) = {
            let state = self.state();
            (
                Arc::clone(&state.live),
                context.new_id(state.head.as_deref())?,
            )
        };
        let was_stored = old.lock().version.is_some();
        // A session that never reached the store needs no delete.
        if was_stored {
            persist::destroy(context, &old).await?;
        } else {
            old.lock().destroyed = true;
        }
        let mut state = self.state();
        let fresh = context.new_live_state(&state.cookie_options, state.secure_request);
        tracing::debug!(
            session = %crate::id_tag::tag(&old.id),
            new_session = %crate::id_tag::tag(&new_id),
            "session regenerated"
        );
        state.live = live::unregistered(Arc::from(new_id), fresh);
        state.saved = None;
        state.standing = Standing::Live;
        Ok(())
    }

    /// Moves the session to a new ID and keeps everything else: its data,
    /// its cookie settings and its creation time (so the absolute timeout
    /// is not extended). The defence against session fixation for a
    /// privilege change that should keep the session's contents, such as
    /// signing in with a shopping cart (tower-sessions' `cycle_id`).
    ///
    /// The new record is written first and the old one deleted second, so
    /// a store failure at either step leaves the old session stored and in
    /// use by this request. The copy is then deleted again; if the store
    /// refuses that too, it stays under an ID no browser was given until it
    /// expires. Requests in flight on
    /// the old ID in this process follow the move: their changes land under
    /// the new ID. A request on the old ID in another process finds it gone
    /// when it saves ([`SessionError::Gone`] from [`save`](Self::save); its
    /// changes are dropped, never written back under the old ID).
    ///
    /// # Errors
    /// [`SessionError::Gone`] if the session was destroyed or unset,
    /// [`SessionError::InvalidId`] for an unusable `genid` ID, or the store's
    /// error; the old session is then left as it was.
    pub async fn cycle_id(&self) -> Result<(), SessionError> {
        let context = &self.inner.context;
        let old = self.write(|state, _| Arc::clone(&state.live))?;
        for _ in 0..ID_DRAWS {
            let new_id: Arc<str> = Arc::from(context.new_id(self.state().head.as_deref())?);
            match persist::move_to(context, &old, new_id).await? {
                persist::Moved::To(new, stored) => {
                    let mut state = self.state();
                    state.live = new;
                    if let Some(data) = stored {
                        // The move stored this request's data already.
                        state.mark_saved(data);
                    }
                    return Ok(());
                }
                persist::Moved::IdTaken => {}
            }
        }
        Err(SessionError::InvalidId {
            reason: "genid kept returning the ids of stored sessions",
        })
    }

    /// Replaces the session's data and cookie with what the store holds now,
    /// dropping this request's unsaved changes.
    ///
    /// # Errors
    /// [`SessionError::NotFound`] when the store has no such session, or the
    /// store's error.
    pub async fn reload(&self) -> Result<(), SessionError> {
        let (live, owner) = self.write(|state, _| (Arc::clone(&state.live), state.owner))?;
        persist::reload(&self.inner.context, &live, owner).await
    }

    /// Saves the session to the store now, for example before a redirect
    /// to a page that needs it. The end-of-request save is then skipped
    /// unless the session changes again. As in express, this does not
    /// touch the cookie first.
    ///
    /// # Errors
    /// The store's error, [`SessionError::Conflict`] when the conflict
    /// policy gives up, or [`SessionError::Gone`] after `destroy`/`unset`
    /// (including a destroy by a concurrent request).
    pub async fn save(&self) -> Result<(), SessionError> {
        let (owner, own_changes) = self.write(|state, _| (state.owner, state.own_changes > 0))?;
        let (live, saved) = self.store_live(owner, own_changes).await?;
        let data = saved.ok_or(SessionError::Gone)?;
        let mut state = self.state();
        if Arc::ptr_eq(&state.live, &live) {
            state.mark_saved(data);
        }
        Ok(())
    }

    /// Writes the live session to the store (see `persist::save`). A session
    /// never stored before whose ID turns out to be taken draws a new one
    /// and tries again. Returns the live session written, and its stored
    /// data, or `None` when it was destroyed meanwhile.
    pub(crate) async fn store_live(
        &self,
        owner: u64,
        own_changes: bool,
    ) -> Result<(Arc<Live>, Option<Data>), SessionError> {
        let context = &self.inner.context;
        let mut live = Arc::clone(&self.state().live);
        for _ in 0..ID_DRAWS {
            match persist::save(context, &live, owner, own_changes).await? {
                Persisted::Saved(data) => return Ok((live, Some(data))),
                Persisted::Dropped => return Ok((live, None)),
                Persisted::IdTaken => live = self.redraw_id(&live)?,
            }
        }
        Err(SessionError::InvalidId {
            reason: "genid kept returning the ids of stored sessions",
        })
    }

    /// Moves a never-stored session to a new ID, keeping its data, cookie
    /// and pending changes. Nobody else can hold such a session (it is in
    /// no registry), so only this request's handle needs to follow.
    fn redraw_id(&self, taken: &Arc<Live>) -> Result<Arc<Live>, SessionError> {
        let mut state = self.state();
        if !Arc::ptr_eq(&state.live, taken) {
            // Regenerated meanwhile: that session is the one to write.
            return Ok(Arc::clone(&state.live));
        }
        let id: Arc<str> = Arc::from(self.inner.context.new_id(state.head.as_deref())?);
        let moved = {
            let mut old = taken.lock();
            old.destroyed = true;
            let mut moved = LiveState::new(old.cookie.clone(), Arc::clone(&old.data), None);
            moved.pending = std::mem::take(&mut old.pending);
            moved.created = old.created;
            moved
        };
        let live = live::unregistered(Arc::clone(&id), moved);
        // A brand-new session keeps counting as unmodified under its new ID;
        // a regenerated one still differs from the ID it came with.
        if *state.original_id == *taken.id {
            state.original_id = id;
        }
        state.live = Arc::clone(&live);
        Ok(live)
    }
}
