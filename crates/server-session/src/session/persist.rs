//! Writing a live session to the store without losing anyone's update.
//!
//! Every write of one session in this process goes through its `commit`
//! lock, so in-process requests never race each other; the compare-and-set
//! only ever loses to another process (or to Node). On a conflict the
//! fresh record is loaded and this process's pending changes are replayed
//! on it, then the save is tried again.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tracing::Instrument;

use super::live::{Data, Live, LiveState};
use crate::config::ConflictPolicy;
use crate::context::Context;
use crate::id_tag;
use crate::store::{SaveCondition, SaveOutcome};
use crate::SessionError;

/// How many compare-and-set rounds a save makes before giving up.
const MAX_ATTEMPTS: u32 = 12;

/// What became of a save.
pub(crate) enum Persisted {
    /// The store holds this data now.
    Saved(Data),
    /// The session was destroyed meanwhile (here or by another process);
    /// nothing was written, so it stays destroyed.
    Dropped,
    /// A session never stored before found its ID already taken by a stored
    /// record (a custom `genid` that repeats itself); nothing was written.
    /// The caller draws a new ID: writing would hand this visitor the other
    /// session's cookie, or overwrite it.
    IdTaken,
}

/// Saves the live session, merging with concurrent writers per the policy.
///
/// `owner` names the request asking. When it saves because of its own
/// changes (`own_changes`), and a save that finished while it waited for
/// the lock already stored all of them, there is nothing left to write:
/// concurrent writers on one session share store round trips instead of
/// queueing one each (group commit).
pub(crate) async fn save(
    context: &Context,
    live: &Live,
    owner: u64,
    own_changes: bool,
) -> Result<Persisted, SessionError> {
    let _writing = live.commit.lock().await;
    let store = &context.store;
    for attempt in 0..MAX_ATTEMPTS {
        let (record, version, confirmed, indexed_user) = {
            let state = live.lock();
            if state.destroyed {
                return Ok(Persisted::Dropped);
            }
            let already_stored = attempt == 0
                && own_changes
                && state.version.is_some()
                && !state.pending.iter().any(|pending| pending.owner == owner);
            if already_stored {
                return Ok(Persisted::Saved(Arc::clone(&state.data)));
            }
            let indexed_user = state.indexed_user.clone();
            (
                state.record(),
                state.version,
                state.pending.len(),
                indexed_user,
            )
        };
        // Index first: a save that then fails leaves a stale entry, which
        // listing tolerates; the other order could leave a live session
        // out of the index.
        let user = context.user_of(&record.data);
        if let Some(user) = user
            .as_deref()
            .filter(|user| indexed_user.as_deref() != Some(user))
        {
            context.index_user(&live.id, user).await?;
        }
        // Never an upsert: a new session must not take over a stored one, and
        // a stored one that is gone (destroyed, expired) must stay gone,
        // whatever the conflict policy.
        let condition = match version {
            None => SaveCondition::IfAbsent,
            Some(version) => SaveCondition::IfVersion(version),
        };
        let span = tracing::debug_span!("session.save", store = store.kind(), attempt);
        let outcome = context
            .timed("save", store.save(&live.id, &record, condition))
            .instrument(span)
            .await?;
        match outcome {
            SaveOutcome::Saved(new_version) => {
                if version.is_none() {
                    tracing::debug!(session = %id_tag::tag(&live.id), "session created");
                }
                let mut state = live.lock();
                state.version = Some(new_version);
                state.indexed_user = user;
                // Changes made while the write was in flight stay pending.
                let confirmed = confirmed.min(state.pending.len());
                state.pending.drain(..confirmed);
                if attempt > 0 {
                    // The request's `session` span, when the commit saves.
                    tracing::Span::current().record("conflicts", attempt);
                }
                return Ok(Persisted::Saved(record.data));
            }
            SaveOutcome::Conflict if version.is_none() => return Ok(Persisted::IdTaken),
            SaveOutcome::Conflict => {
                if context.config.conflict == ConflictPolicy::Fail {
                    return Err(SessionError::Conflict);
                }
                let fresh = context.timed("load", store.load(&live.id)).await?;
                {
                    let mut state = live.lock();
                    match fresh {
                        None => {
                            // Gone from the store: destroyed elsewhere, or expired.
                            // Saving now would resurrect it.
                            state.destroyed = true;
                            return Ok(Persisted::Dropped);
                        }
                        // express's overwrite, made conditional on the record
                        // still being there: this data wins over the fresh.
                        Some(fresh) if context.config.conflict == ConflictPolicy::LastWriteWins => {
                            state.version = Some(fresh.version);
                            state.indexed_user = context.user_of(&fresh.record.data);
                            continue;
                        }
                        Some(fresh) => {
                            state.indexed_user = context.user_of(&fresh.record.data);
                            state.rebase(fresh.record.data, fresh.version, |_| true);
                        }
                    }
                }
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
    }
    tracing::warn!(
        store = store.kind(),
        "session save gave up after {MAX_ATTEMPTS} conflicts"
    );
    Err(SessionError::Conflict)
}

/// Jittered exponential backoff: up to 1, 2, 4, … ms, capped at 50 ms, so
/// that writers in other processes fall out of step.
fn backoff(attempt: u32) -> Duration {
    let ceiling_us = (1_000u64 << attempt.min(6)).min(50_000);
    Duration::from_micros(rand::rng().random_range(0..=ceiling_us))
}

/// Deletes the session from the store. Waits for an in-process save of it
/// to finish first, so that the save cannot land after the delete. Only a
/// delete the store confirmed ends the session for concurrent requests: after
/// a failure it is still stored, and still theirs.
pub(crate) async fn destroy(context: &Context, live: &Live) -> Result<(), SessionError> {
    let _writing = live.commit.lock().await;
    context
        .timed("destroy", context.store.destroy(&live.id))
        .await?;
    live.lock().destroyed = true;
    tracing::debug!(session = %id_tag::tag(&live.id), "session destroyed");
    Ok(())
}

/// What became of a move to a new ID.
pub(crate) enum Moved {
    /// The session lives under the new ID now, in this live state. The data
    /// is what the store holds, if the move wrote it.
    To(Arc<Live>, Option<Data>),
    /// A stored session already has that ID; nothing changed.
    IdTaken,
}

/// Moves a live session to `new_id`, keeping its data and cookie: write the
/// new record (create-if-absent), then delete the old one. A failure at
/// either step leaves the old session as it was, and the new one absent.
/// Requests holding the old live state follow it to the new one
/// ([`Live::moved_to`]).
pub(crate) async fn move_to(
    context: &Context,
    old: &Arc<Live>,
    new_id: Arc<str>,
) -> Result<Moved, SessionError> {
    let _writing = old.commit.lock().await;
    let (record, stored_before, confirmed) = {
        let state = old.lock();
        if state.destroyed {
            return Err(SessionError::Gone);
        }
        (state.record(), state.version.is_some(), state.pending.len())
    };
    let store = &context.store;
    let user = context.user_of(&record.data);
    let version = if stored_before {
        if let Some(user) = &user {
            context.index_user(&new_id, user).await?;
        }
        match context
            .timed(
                "save",
                store.save(&new_id, &record, SaveCondition::IfAbsent),
            )
            .await?
        {
            SaveOutcome::Conflict => return Ok(Moved::IdTaken),
            SaveOutcome::Saved(version) => Some(version),
        }
    } else {
        // Never stored: there is nothing to move in the store, only here.
        None
    };
    if stored_before {
        if let Err(error) = context.timed("destroy", store.destroy(&old.id)).await {
            // Undo the copy, so the session exists once, under the old ID.
            if let Err(undo) = context.timed("destroy", store.destroy(&new_id)).await {
                context.report("cycle_id", &SessionError::Store(undo));
            }
            return Err(error.into());
        }
    }
    let mut state = old.lock();
    let mut moved = LiveState::new(state.cookie.clone(), Arc::clone(&state.data), version);
    moved.created = state.created;
    moved.indexed_user = if stored_before { user } else { None };
    // Changes made while the new record was written are not in it yet.
    let confirmed = if stored_before { confirmed } else { 0 };
    let confirmed = confirmed.min(state.pending.len());
    state.pending.drain(..confirmed);
    moved.pending = std::mem::take(&mut state.pending);
    // With no change since, the store holds exactly the live data.
    let stored = (stored_before && moved.pending.is_empty()).then(|| Arc::clone(&moved.data));
    state.destroyed = true;
    let new = context.registry.join_or_insert(&new_id, moved);
    // Set once: a destroyed live state is never moved again.
    let _ = old.moved_to.set(Arc::clone(&new));
    tracing::debug!(
        session = %id_tag::tag(&old.id),
        new_session = %id_tag::tag(&new.id),
        "session moved to a new id"
    );
    drop(state);
    Ok(Moved::To(new, stored))
}

/// Replaces the data with the stored record plus the pending changes of
/// other requests (express's `reload` drops this request's own unsaved
/// changes; concurrent requests keep theirs).
pub(crate) async fn reload(context: &Context, live: &Live, owner: u64) -> Result<(), SessionError> {
    let _writing = live.commit.lock().await;
    let fresh = context
        .timed("load", context.store.load(&live.id))
        .await?
        .ok_or(SessionError::NotFound)?;
    let mut state = live.lock();
    state.cookie = fresh.record.cookie;
    state.indexed_user = context.user_of(&fresh.record.data);
    state.rebase(fresh.record.data, fresh.version, |pending| {
        pending.owner != owner
    });
    Ok(())
}
