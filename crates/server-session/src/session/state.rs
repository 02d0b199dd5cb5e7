use std::sync::Arc;

use http::request::Parts;
use serde_json::{Map, Value};

use crate::config::CookieOptions;
use crate::engine::end::{EndState, Standing};
use crate::store::{CookieData, Record, Version};

pub(crate) type Data = Arc<Map<String, Value>>;

/// One request's view of its session: express's `req.session` plus the
/// bookkeeping express keeps beside it (`cookieId`, `originalId`,
/// `originalHash`, `savedHash`).
pub(crate) struct SessionState {
    /// The current ID (`req.sessionID`).
    pub(crate) id: String,
    /// The ID the request's signed cookie carried, if any (`cookieId`).
    pub(crate) cookie_id: Option<String>,
    /// The ID the session had when the request got it (`originalId`).
    pub(crate) original_id: String,
    pub(crate) cookie: CookieData,
    /// Shared copy-on-write with `original_data`, so a request that only
    /// reads never copies the map.
    pub(crate) data: Data,
    /// The data as loaded or generated (`originalHash`), for change detection.
    pub(crate) original_data: Data,
    /// The ID and data last known to be in the store (`savedHash`).
    pub(crate) saved: Option<(String, Data)>,
    /// The stored version this request loaded or last wrote.
    pub(crate) version: Option<Version>,
    pub(crate) standing: Standing,
    /// What `regenerate` builds a fresh cookie from.
    pub(crate) cookie_options: Arc<CookieOptions>,
    pub(crate) secure_request: bool,
    /// The request head, kept only when a custom `genid` needs it.
    pub(crate) head: Option<Arc<Parts>>,
}

impl SessionState {
    pub(crate) fn record(&self) -> Record {
        Record {
            cookie: self.cookie.clone(),
            data: Arc::clone(&self.data),
        }
    }

    pub(crate) fn data_changed(&self) -> bool {
        !Arc::ptr_eq(&self.data, &self.original_data) && *self.data != *self.original_data
    }

    pub(crate) fn modified(&self) -> bool {
        self.id != self.original_id || self.data_changed()
    }

    pub(crate) fn is_saved(&self) -> bool {
        self.saved.as_ref().is_some_and(|(id, data)| {
            *id == self.id && (Arc::ptr_eq(data, &self.data) || **data == *self.data)
        })
    }

    pub(crate) fn mark_saved(&mut self, version: Version) {
        self.version = Some(version);
        self.saved = Some((self.id.clone(), Arc::clone(&self.data)));
    }

    pub(crate) fn end_state(&self) -> EndState {
        EndState {
            standing: self.standing,
            id_from_cookie: self.cookie_id.as_deref() == Some(self.id.as_str()),
            modified: self.modified(),
            has_saved_snapshot: self.saved.is_some(),
            saved: self.is_saved(),
            persistent_cookie: self.cookie.expires.is_some(),
            cookie_blocked_by_secure: self.cookie.secure == Some(true) && !self.secure_request,
        }
    }

    pub(crate) fn data_mut(&mut self) -> &mut Map<String, Value> {
        Arc::make_mut(&mut self.data)
    }
}
