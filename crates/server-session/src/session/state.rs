use std::sync::Arc;

use http::request::Parts;

use super::live::{Data, Live, LiveState};
use crate::client::Client;
use crate::config::CookieOptions;
use crate::engine::end::{EndState, Standing};
use crate::engine::transport::Carried;
use crate::store::CookieData;

/// What one request saved by hand: express's `savedHash`.
pub(crate) struct SavedSnapshot {
    pub(crate) id: Arc<str>,
    pub(crate) data: Data,
    /// This request's change count at that moment: with no own change
    /// since, the request has nothing more to save, whatever other
    /// requests on the session did.
    pub(crate) own_changes: u64,
}

/// One request's view of its session: express's `req.session` bookkeeping
/// (`cookieId`, `originalId`, `originalHash`, `savedHash`) around the
/// [`Live`] state it shares with concurrent requests on the same ID.
pub(crate) struct SessionState {
    pub(crate) live: Arc<Live>,
    /// Tags this request's changes in the live session's pending log.
    pub(crate) owner: u64,
    /// The ID the request carried, validly signed, in its cookie or header
    /// (`cookieId`).
    pub(crate) carried_id: Option<Arc<str>>,
    /// Its signed text (`<id>.<mac>`), when the signing secret made it:
    /// sent back as is while the ID stays the same (no second HMAC).
    pub(crate) carried_value: Option<Arc<str>>,
    /// How the cookie carried that ID.
    pub(crate) carried_by_cookie: Carried,
    /// How the header transport's request header carried it.
    pub(crate) carried_by_header: Carried,
    /// The ID the session had when the request got it (`originalId`).
    pub(crate) original_id: Arc<str>,
    /// The data when the request got it (`originalHash`).
    pub(crate) original_data: Data,
    pub(crate) saved: Option<SavedSnapshot>,
    /// The store already touched the session when loading, with this
    /// cookie: the end-of-request touch is then done, unless the handler
    /// changed the cookie's settings (its lifetime, or any attribute a
    /// store may keep).
    pub(crate) touched_on_load: Option<CookieData>,
    /// How many changes this request made (never decreases).
    pub(crate) own_changes: u64,
    /// The session has to be saved even if unchanged: the layer gave it a
    /// creation time it did not have.
    pub(crate) must_save: bool,
    pub(crate) standing: Standing,
    /// What `regenerate` builds a fresh cookie from.
    pub(crate) cookie_options: Arc<CookieOptions>,
    pub(crate) secure_request: bool,
    /// The request head, kept only when a custom `genid` needs it.
    pub(crate) head: Option<Arc<Parts>>,
    /// The client, kept only when sign-ins record it.
    pub(crate) client: Option<Arc<Client>>,
    /// The request's `session` span, which the commit runs in.
    pub(crate) span: tracing::Span,
}

impl SessionState {
    pub(crate) fn id(&self) -> &str {
        &self.live.id
    }

    /// express's `isModified`, for this request: a new ID, or data that
    /// differs from what the request started with because of its own
    /// changes (changes by concurrent requests are theirs to save).
    pub(crate) fn modified(&self, live: &LiveState) -> bool {
        *self.id() != *self.original_id
            || (self.own_changes > 0
                && !Arc::ptr_eq(&live.data, &self.original_data)
                && *live.data != *self.original_data)
    }

    /// express's `isSaved`, for this request.
    pub(crate) fn is_saved(&self, live: &LiveState) -> bool {
        self.saved.as_ref().is_some_and(|saved| {
            *saved.id == *self.id()
                && (saved.own_changes == self.own_changes
                    || Arc::ptr_eq(&saved.data, &live.data)
                    || *saved.data == *live.data)
        })
    }

    pub(crate) fn mark_saved(&mut self, data: Data) {
        self.saved = Some(SavedSnapshot {
            id: Arc::clone(&self.live.id),
            data,
            own_changes: self.own_changes,
        });
    }

    /// The signed value (`<id>.<mac>`) to send back for the current ID, if
    /// the request's own value already is one.
    pub(crate) fn reusable_signed_value(&self) -> Option<&str> {
        match &self.carried_id {
            Some(id) if **id == *self.id() => self.carried_value.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn end_state(&self, live: &LiveState) -> EndState {
        EndState {
            standing: if live.destroyed && self.standing == Standing::Live {
                Standing::Destroyed
            } else {
                self.standing
            },
            id_from_request: self.carried_id.as_deref() == Some(self.id()),
            modified: self.modified(live),
            has_saved_snapshot: self.saved.is_some(),
            saved: self.is_saved(live),
            persistent_cookie: live.cookie.expires.is_some(),
            cookie_blocked_by_secure: live.cookie.secure == Some(true) && !self.secure_request,
            cookie_signed_by_old_secret: self.carried_by_cookie == Carried::ByOlderSecret,
            carried_cookie: self.carried_by_cookie.any(),
            header_signed_by_old_secret: self.carried_by_header == Carried::ByOlderSecret,
            carried_header: self.carried_by_header.any(),
            must_save: self.must_save,
        }
    }
}
