//! The MemoryStore's per-user index: user → the IDs of the sessions that
//! were stored with that user.
//!
//! Entries are added at sign-in and go stale when their session expires, is
//! evicted or destroyed, or changes user. Listing checks every entry against
//! the session table, and the caller drops the stale ones. So that users
//! who never list cannot grow it without end, a sign-in also drops its
//! user's stale entries, and once the index holds more entries than the
//! store holds sessions (twice the bound, at least [`MIN_FULL_SWEEP`]) a
//! sign-in sweeps every user's.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// The fewest entries at which a sign-in may sweep the whole index.
const MIN_FULL_SWEEP: usize = 1_024;

#[derive(Default)]
pub(super) struct UserIndex {
    users: Mutex<Users>,
}

#[derive(Default)]
struct Users {
    ids: HashMap<String, BTreeSet<String>>,
    /// The number of entries over every user.
    entries: usize,
}

impl Users {
    /// Keeps only `user`'s entries for which `live` holds.
    fn retain(&mut self, user: &str, live: &impl Fn(&str) -> bool) {
        let Some(ids) = self.ids.get_mut(user) else {
            return;
        };
        let before = ids.len();
        ids.retain(|id| live(id));
        self.entries -= before - ids.len();
        if ids.is_empty() {
            self.ids.remove(user);
        }
    }
}

impl UserIndex {
    fn users(&self) -> std::sync::MutexGuard<'_, Users> {
        // Nothing panics while holding the lock; the map stays usable.
        self.users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `id` under `user`, first dropping entries of sessions that are
    /// gone (`live` says which are not): `user`'s always, everyone's when
    /// the index holds more than `bound` entries.
    pub(super) fn add(&self, user: &str, id: &str, bound: usize, live: impl Fn(&str) -> bool) {
        let mut users = self.users();
        users.retain(user, &live);
        if users.entries > bound.saturating_mul(2).max(MIN_FULL_SWEEP) {
            let all: Vec<String> = users.ids.keys().cloned().collect();
            for user in all {
                users.retain(&user, &live);
            }
        }
        if users
            .ids
            .entry(user.to_owned())
            .or_default()
            .insert(id.to_owned())
        {
            users.entries += 1;
        }
    }

    /// The IDs indexed under `user`.
    pub(super) fn ids(&self, user: &str) -> Vec<String> {
        self.users()
            .ids
            .get(user)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Drops `ids` from `user`'s entries.
    pub(super) fn remove(&self, user: &str, ids: &[String]) {
        self.users()
            .retain(user, &|id| !ids.iter().any(|gone| gone == id));
    }

    /// Forgets every entry (the store was cleared).
    pub(super) fn clear(&self) {
        *self.users() = Users::default();
    }

    /// The number of entries, stale ones included.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.users().entries
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn a_sign_in_drops_its_users_stale_entries() {
        let index = UserIndex::default();
        let live = Mutex::new(HashSet::from(["a1".to_owned(), "a2".to_owned()]));
        let is_live = |id: &str| live.lock().expect("the set").contains(id);
        index.add("ada", "a1", 100, is_live);
        index.add("ada", "a2", 100, is_live);
        live.lock().expect("the set").remove("a1");
        live.lock().expect("the set").insert("a3".to_owned());
        index.add("ada", "a3", 100, is_live);
        assert_eq!(index.ids("ada"), vec!["a2".to_owned(), "a3".to_owned()]);
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn past_twice_the_sessions_held_a_sign_in_sweeps_every_user() {
        let index = UserIndex::default();
        // Users who signed in once and never came back, their sessions gone.
        for n in 0..=MIN_FULL_SWEEP {
            index.add(&format!("user{n}"), &format!("id{n}"), 0, |_| true);
        }
        assert_eq!(index.len(), MIN_FULL_SWEEP + 1);
        index.add("ada", "a1", 0, |id| id == "a1");
        assert_eq!(index.len(), 1, "only the live entry is left");
        index.remove("ada", &["a1".to_owned()]);
        assert_eq!(index.len(), 0);
        assert!(index.ids("ada").is_empty());
    }
}
