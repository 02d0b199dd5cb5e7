//! Who the session belongs to: the user at the configured user path.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::live::{Change, UpdateFn};
use super::{Session, SessionError};
use crate::client::SIGN_IN_KEY;
use crate::config::SessionLimit;
use crate::users::UserSessions;

impl Session {
    /// The signed-in user: the ID at
    /// [`SessionConfig::with_user_path`](crate::SessionConfig::with_user_path)
    /// in the data (a string, or a number as its decimal text). `None` when
    /// no user path is configured or nobody is signed in.
    pub fn user(&self) -> Option<String> {
        let path = self.inner.context.user_path.as_ref()?;
        self.read(None, |live| path.user_in(&live.data))
    }

    /// Signs `user` in: puts the ID at the user path, making the objects on
    /// the way (`passport.user` gives `{"passport":{"user":"…"}}`, as
    /// Passport writes it), and indexes the session under `user` when it is
    /// saved.
    ///
    /// A change of user is a change of privilege: call
    /// [`cycle_id`](Self::cycle_id) too, so that an ID an attacker planted
    /// before sign-in is not the signed-in session's.
    ///
    /// # Errors
    /// [`SessionError::NoUserPath`] without a user path,
    /// [`SessionError::Gone`] after `destroy`/`unset`.
    pub fn set_user(&self, user: impl Into<String>) -> Result<(), SessionError> {
        let user = user.into();
        self.change_user(move |data| data.path.set_user(data.object, &user))?;
        // With `with_sign_in_details`: when and from where.
        self.write(|state, live| {
            if let Some(client) = &state.client {
                let details = client.sign_in_value(crate::clock::now_ms());
                live.change(state.owner, Change::Insert(SIGN_IN_KEY.to_owned(), details));
                state.own_changes += 1;
            }
        })
    }

    /// Signs `user` in, the safe way: checks the per-user limit
    /// ([`SessionConfig::with_sessions_per_user`](crate::SessionConfig::with_sessions_per_user)),
    /// puts the user at the user path ([`set_user`](Self::set_user)), and
    /// moves the session to a new ID ([`cycle_id`](Self::cycle_id)), so an ID
    /// planted before sign-in is worthless after it.
    ///
    /// At the limit, [`SessionLimit::EvictOldest`]
    /// ends the user's least recently active other sessions to make room,
    /// and [`SessionLimit::RefuseNew`] fails
    /// with [`SessionError::TooManySessions`] and changes nothing.
    ///
    /// # Errors
    /// As [`set_user`](Self::set_user) and [`cycle_id`](Self::cycle_id);
    /// [`SessionError::TooManySessions`]; the store's errors from the limit
    /// check.
    pub async fn sign_in(&self, user: impl Into<String>) -> Result<(), SessionError> {
        let user = user.into();
        if let Some(limit) = self.inner.context.config.sessions_per_user {
            self.make_room(&user, limit).await?;
        }
        self.set_user(user)?;
        self.cycle_id().await
    }

    /// Applies `limit` for one more session of `user`.
    async fn make_room(&self, user: &str, limit: SessionLimit) -> Result<(), SessionError> {
        let sessions = self.user_sessions();
        let this = self.inner.context.store_key(&self.id());
        let mut others: Vec<_> = sessions
            .found_for_limit(user)
            .await?
            .into_iter()
            .filter(|(key, _)| *key != this)
            .collect();
        let max = limit.max();
        if others.len() < max {
            return Ok(());
        }
        if let SessionLimit::RefuseNew(max) = limit {
            return Err(SessionError::TooManySessions { max });
        }
        // Least recently active first; the browser-session cookies (no
        // expiry to tell) before them.
        others.sort_by_key(|(_, last_active)| *last_active);
        let extra = others.len() + 1 - max;
        for (key, _) in others.into_iter().take(extra) {
            sessions.end(&key).await?;
        }
        Ok(())
    }

    /// Signs the user out of this session (removes the ID at the user path;
    /// the rest of the data stays). Use [`destroy`](Self::destroy) to end the
    /// session instead.
    ///
    /// # Errors
    /// As [`set_user`](Self::set_user).
    pub fn remove_user(&self) -> Result<(), SessionError> {
        match self.inner.context.user_path.as_ref() {
            // The user is the whole top-level key: remove it as a key.
            Some(path) if path.segments().len() == 1 => {
                self.remove_value(path.top_key())?;
            }
            _ => self.change_user(|data| data.path.remove_user(data.object))?,
        }
        self.write(|state, live| {
            if live.data.contains_key(SIGN_IN_KEY) {
                live.change(state.owner, Change::Remove(SIGN_IN_KEY.to_owned()));
                state.own_changes += 1;
            }
        })
    }

    /// The handle on every session of this layer's users: list the signed-in
    /// user's sessions, revoke one, sign out everywhere else.
    pub fn user_sessions(&self) -> UserSessions {
        UserSessions::from_context(Arc::clone(&self.inner.context))
    }

    /// Applies `edit` to the value under the user path's first key, as one
    /// replayable change, so that a concurrent writer's other keys survive.
    fn change_user(
        &self,
        edit: impl Fn(UserData<'_>) + Send + Sync + 'static,
    ) -> Result<(), SessionError> {
        let path = self
            .inner
            .context
            .user_path
            .clone()
            .ok_or(SessionError::NoUserPath)?;
        let key = path.top_key().to_owned();
        let replay_key = key.clone();
        let update: Arc<UpdateFn> = Arc::new(move |current: Option<&Value>| {
            let mut object = Map::new();
            if let Some(current) = current {
                object.insert(replay_key.clone(), current.clone());
            }
            edit(UserData {
                path: &path,
                object: &mut object,
            });
            // Absent before and after (removing no user): left absent.
            object.remove(&replay_key)
        });
        self.write(|state, live| {
            let before = live.data.get(&key).cloned();
            live.change(state.owner, Change::Update(key.clone(), update));
            if live.data.get(&key) == before.as_ref() {
                // Nothing changed: not a change to save.
                live.pending.pop();
            } else {
                state.own_changes += 1;
            }
        })
    }
}

/// What [`Session::change_user`] hands its edit: the top-level object
/// holding the user path's first key.
struct UserData<'a> {
    path: &'a crate::user_path::UserPath,
    object: &'a mut Map<String, Value>,
}
