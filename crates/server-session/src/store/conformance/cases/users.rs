//! The per-user index: `index_user`, `user_sessions`, `unindex_user`.
//!
//! Users are named after the case's fresh IDs, so runs on a shared server
//! never see each other's sessions.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::run::{live, record, skip, Run, SHORT_MS};
use crate::conformance::Harness;
use crate::store::{now_ms, Store, StoreError, UserPath};

/// The path express apps with Passport use.
fn passport() -> UserPath {
    UserPath::parse("passport.user").expect("a valid path")
}

fn signed_in(user: Value) -> Value {
    json!({"passport": {"user": user}, "n": 1})
}

impl<S: Store> Run<S> {
    /// Whether the harness's store has the index; when it says no, checks
    /// that listing answers `Unsupported`, and the case stops.
    async fn has_user_index<H: Harness<Store = S>>(&self, h: &H) -> bool {
        if h.supports_user_index() {
            return true;
        }
        match self.store.user_sessions(&passport(), "nobody").await {
            Err(StoreError::Unsupported(_)) => skip(self.case, "the store has no user index"),
            other => panic!(
                "{}: supports_user_index is false, but user_sessions answered {:?}",
                self.case,
                other.map(|found| found.len())
            ),
        }
        false
    }

    /// Saves `data` under `id` and indexes it under `user`, as the layer
    /// does at sign-in (index first, then save).
    async fn sign_in(&self, user: &str, id: &str, data: Value, expires: Option<i64>) {
        self.ok("index_user", self.store.index_user(user, id).await);
        self.upsert(id, &record(expires, data), "save of a signed-in session")
            .await;
    }

    /// The IDs `user_sessions` gives for `user` whose record holds `user`:
    /// what the caller keeps once stale entries are told apart.
    async fn sessions_of(&self, user: &str, what: &str) -> BTreeSet<String> {
        let found = self.ok(what, self.store.user_sessions(&passport(), user).await);
        found
            .into_iter()
            .filter(|(_, loaded)| passport().user_in(&loaded.record.data).as_deref() == Some(user))
            .map(|(id, _)| id)
            .collect()
    }
}

/// A user's live sessions are listed, and only theirs.
pub async fn user_index_lists_the_users_sessions<H: Harness>(h: &H) {
    let run = Run::new(h, "user_index_lists_the_users_sessions").await;
    if !run.has_user_index(h).await {
        return;
    }
    let (ada, bob) = (format!("ada-{}", run.id()), format!("bob-{}", run.id()));
    let (ada1, ada2, bob1, anonymous) = (run.id(), run.id(), run.id(), run.id());
    let expires = Some(now_ms() + 60_000);
    run.sign_in(&ada, &ada1, signed_in(json!(ada)), expires)
        .await;
    run.sign_in(&ada, &ada2, signed_in(json!(ada)), None).await;
    run.sign_in(&bob, &bob1, signed_in(json!(bob)), expires)
        .await;
    run.upsert(
        &anonymous,
        &live(json!({"n": 2})),
        "save of a session with no user",
    )
    .await;

    let listed = run.sessions_of(&ada, "user_sessions of ada").await;
    assert_eq!(
        listed,
        BTreeSet::from([ada1.clone(), ada2.clone()]),
        "{}: ada's sessions, a browser-session one included",
        run.case
    );
    let listed = run.sessions_of(&bob, "user_sessions of bob").await;
    assert_eq!(
        listed,
        BTreeSet::from([bob1]),
        "{}: bob's sessions",
        run.case
    );
    let nobody = format!("nobody-{}", run.id());
    let listed = run.sessions_of(&nobody, "user_sessions of nobody").await;
    assert!(listed.is_empty(), "{}: a user with no session", run.case);
}

/// Destroyed and expired sessions are never listed, and a session that
/// changed user is listed under the new one; once the old user's stale
/// entry is dropped, not under the old one at all.
pub async fn user_index_never_lists_gone_sessions<H: Harness>(h: &H) {
    let run = Run::new(h, "user_index_never_lists_gone_sessions").await;
    if !run.has_user_index(h).await {
        return;
    }
    let (ada, bob) = (format!("ada-{}", run.id()), format!("bob-{}", run.id()));
    let (kept, destroyed, expiring, moved) = (run.id(), run.id(), run.id(), run.id());
    let expires = Some(now_ms() + 60_000);
    for id in [&kept, &destroyed, &moved] {
        run.sign_in(&ada, id, signed_in(json!(ada)), expires).await;
    }
    let short = now_ms() + SHORT_MS;
    run.sign_in(&ada, &expiring, signed_in(json!(ada)), Some(short))
        .await;
    run.destroy(&destroyed, "destroy").await;
    run.sign_in(&bob, &moved, signed_in(json!(bob)), expires)
        .await;
    super::run::wait_past(short).await;

    let found = run.ok(
        "user_sessions of ada",
        run.store.user_sessions(&passport(), &ada).await,
    );
    let ids: BTreeSet<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
    for gone in [&destroyed, &expiring] {
        assert!(
            !ids.contains(gone.as_str()),
            "{}: a destroyed or expired session is never listed",
            run.case
        );
    }
    assert_eq!(
        run.sessions_of(&ada, "user_sessions of ada").await,
        BTreeSet::from([kept.clone()]),
        "{}: ada keeps one session",
        run.case
    );
    assert_eq!(
        run.sessions_of(&bob, "user_sessions of bob").await,
        BTreeSet::from([moved.clone()]),
        "{}: the session that changed user is bob's",
        run.case
    );
    let stale: Vec<String> = found
        .iter()
        .filter(|(_, loaded)| passport().user_in(&loaded.record.data).as_deref() != Some(&ada))
        .map(|(id, _)| id.clone())
        .collect();
    run.ok("unindex_user", run.store.unindex_user(&ada, &stale).await);
    let found = run.ok(
        "user_sessions of ada after unindex_user",
        run.store.user_sessions(&passport(), &ada).await,
    );
    let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        vec![kept.as_str()],
        "{}: no stale entry is left after unindex_user",
        run.case
    );
}

/// Passport's numeric user IDs are found by their decimal text.
pub async fn user_index_finds_numeric_users<H: Harness>(h: &H) {
    let run = Run::new(h, "user_index_finds_numeric_users").await;
    if !run.has_user_index(h).await {
        return;
    }
    // A number no other run uses: the case's ID bytes, folded.
    let number = run.id().bytes().fold(7_u64, |n, byte| {
        n.wrapping_mul(31).wrapping_add(u64::from(byte))
    }) % 1_000_000_000_000;
    let id = run.id();
    let user = number.to_string();
    run.sign_in(
        &user,
        &id,
        signed_in(json!(number)),
        Some(now_ms() + 60_000),
    )
    .await;
    assert_eq!(
        run.sessions_of(&user, "user_sessions of a numeric user")
            .await,
        BTreeSet::from([id]),
        "{}: the session of user {number}",
        run.case
    );
}
