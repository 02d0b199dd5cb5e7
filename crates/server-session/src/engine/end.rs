use crate::config::Unset;

/// Where the request's session stands when the handler has finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// The session is live.
    Live,
    /// `destroy()` was called; the store was already told.
    Destroyed,
    /// `unset()` was called (express's `req.session = null`).
    Unset,
}

/// What the engine needs to know about the session at the end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EndState {
    pub(crate) standing: Standing,
    /// The ID is the one the request's cookie carried (a loaded session
    /// that was not regenerated). express: `cookieId === req.sessionID`.
    pub(crate) id_from_cookie: bool,
    /// The ID changed, or the data differs from what was loaded or
    /// generated. express: `isModified`.
    pub(crate) modified: bool,
    /// A saved snapshot exists (loaded without `resave`, or saved by hand).
    /// express: `savedHash` is set.
    pub(crate) has_saved_snapshot: bool,
    /// The ID and data equal the saved snapshot. express: `isSaved`.
    pub(crate) saved: bool,
    /// The cookie has an expiry (it is not a browser-session cookie).
    pub(crate) persistent_cookie: bool,
    /// The cookie is `Secure` and the request is not secure, so the
    /// browser would drop it: express does not send it.
    pub(crate) cookie_blocked_by_secure: bool,
    /// The request's cookie was verified by a secret other than the first
    /// (the signing one).
    pub(crate) signed_by_old_secret: bool,
    /// The request carried a validly signed session cookie (for any ID).
    pub(crate) carried_cookie: bool,
    /// Saved whatever else says: the layer added something the store must
    /// keep (a creation time for the absolute timeout).
    pub(crate) must_save: bool,
}

/// The options that steer the end of a request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EndOptions {
    pub(crate) save_uninitialized: bool,
    pub(crate) rolling: bool,
    pub(crate) resave: bool,
    pub(crate) unset: Unset,
    /// Re-issue a cookie verified by an older secret, signed with the first.
    pub(crate) resign_old_secret: bool,
    /// Expire the browser's cookie when the session is destroyed or unset.
    pub(crate) clear_cookie_on_end: bool,
}

/// The store call that ends the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoreOp {
    Nothing,
    Save,
    Touch,
    Destroy,
}

/// What to do at the end of the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EndPlan {
    pub(crate) store_op: StoreOp,
    pub(crate) set_cookie: bool,
    /// Send an already-expired cookie, so the browser drops the one it has.
    pub(crate) clear_cookie: bool,
}

/// express-session's end of request (spec §2.3 and §2.5) in one function.
pub(crate) fn plan_end(state: &EndState, options: &EndOptions) -> EndPlan {
    // The browser drops a `Secure` cookie sent over an insecure request, a
    // clearing one included, so none is sent.
    let clear_cookie =
        options.clear_cookie_on_end && state.carried_cookie && !state.cookie_blocked_by_secure;
    match state.standing {
        Standing::Destroyed => EndPlan {
            store_op: StoreOp::Nothing,
            set_cookie: false,
            clear_cookie,
        },
        Standing::Unset => EndPlan {
            store_op: match options.unset {
                Unset::Destroy => StoreOp::Destroy,
                Unset::Keep => StoreOp::Nothing,
            },
            set_cookie: false,
            clear_cookie,
        },
        Standing::Live => {
            let wants_cookie = if state.id_from_cookie {
                options.rolling
                    || (state.persistent_cookie && state.modified)
                    || (options.resign_old_secret && state.signed_by_old_secret)
            } else {
                options.save_uninitialized || state.modified
            };
            let express_saves = if !options.save_uninitialized
                && !state.has_saved_snapshot
                && !state.id_from_cookie
            {
                state.modified
            } else {
                !state.saved
            };
            let store_op = if express_saves || state.must_save {
                StoreOp::Save
            } else if state.id_from_cookie {
                StoreOp::Touch
            } else {
                StoreOp::Nothing
            };
            EndPlan {
                store_op,
                set_cookie: wants_cookie && !state.cookie_blocked_by_secure,
                clear_cookie: false,
            }
        }
    }
}

/// Whether a loaded session starts with a saved snapshot: express records
/// `savedHash` at load time only when `resave` is off.
pub(crate) fn snapshot_on_load(options: &EndOptions) -> bool {
    !options.resave
}
