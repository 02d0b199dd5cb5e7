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
    /// The ID is the one the request carried, in its cookie or header (a
    /// loaded session that was not regenerated). express: `cookieId ===
    /// req.sessionID`.
    pub(crate) id_from_request: bool,
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
    pub(crate) cookie_signed_by_old_secret: bool,
    /// The request's cookie carried the session ID the request went on
    /// with, validly signed.
    pub(crate) carried_cookie: bool,
    /// Likewise for the header transport's request header.
    pub(crate) header_signed_by_old_secret: bool,
    /// The request's header carried that session ID, validly signed.
    pub(crate) carried_header: bool,
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
    /// Expire the browser's cookie when the session is destroyed or unset
    /// (and send an empty response header to a header client).
    pub(crate) clear_cookie_on_end: bool,
    /// The cookie is read and sent (no header transport, or one with the
    /// cookie kept).
    pub(crate) cookie: bool,
    /// A header transport is configured.
    pub(crate) header: bool,
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
    /// Send the signed ID in the header transport's response header: the
    /// client needs a new value.
    pub(crate) send_header: bool,
    /// Send that response header empty: the session the client's value
    /// named has ended.
    pub(crate) clear_header: bool,
}

/// express-session's end of request (spec §2.3 and §2.5) in one function,
/// plus the header transport's response header.
pub(crate) fn plan_end(state: &EndState, options: &EndOptions) -> EndPlan {
    let mut plan = plan_cookie_end(state, options);
    if !options.cookie {
        plan.set_cookie = false;
        plan.clear_cookie = false;
    }
    if options.header {
        (plan.send_header, plan.clear_header) = header_end(state, options);
    }
    plan
}

/// The response header: a value only when the client needs a new one (a
/// new ID, or a value to re-sign), never on every response as `rolling`
/// sends the cookie: it carries no expiry to refresh. Unlike the cookie,
/// it is not held back on an insecure request: `Secure` is a cookie
/// attribute, and nothing in the client would drop the header.
fn header_end(state: &EndState, options: &EndOptions) -> (bool, bool) {
    match state.standing {
        Standing::Destroyed | Standing::Unset => {
            (false, options.clear_cookie_on_end && state.carried_header)
        }
        Standing::Live if state.id_from_request => (
            options.resign_old_secret && state.header_signed_by_old_secret,
            false,
        ),
        // A new ID: sent when express would send its cookie.
        Standing::Live => (options.save_uninitialized || state.modified, false),
    }
}

fn plan_cookie_end(state: &EndState, options: &EndOptions) -> EndPlan {
    // The browser drops a `Secure` cookie sent over an insecure request, a
    // clearing one included, so none is sent.
    let clear_cookie =
        options.clear_cookie_on_end && state.carried_cookie && !state.cookie_blocked_by_secure;
    let ended = |store_op| EndPlan {
        store_op,
        set_cookie: false,
        clear_cookie,
        send_header: false,
        clear_header: false,
    };
    match state.standing {
        Standing::Destroyed => ended(StoreOp::Nothing),
        Standing::Unset => ended(match options.unset {
            Unset::Destroy => StoreOp::Destroy,
            Unset::Keep => StoreOp::Nothing,
        }),
        Standing::Live => {
            let wants_cookie = if state.id_from_request {
                options.rolling
                    || (state.persistent_cookie && state.modified)
                    || (options.resign_old_secret && state.cookie_signed_by_old_secret)
            } else {
                options.save_uninitialized || state.modified
            };
            let express_saves = if !options.save_uninitialized
                && !state.has_saved_snapshot
                && !state.id_from_request
            {
                state.modified
            } else {
                !state.saved
            };
            let store_op = if express_saves || state.must_save {
                StoreOp::Save
            } else if state.id_from_request {
                StoreOp::Touch
            } else {
                StoreOp::Nothing
            };
            EndPlan {
                store_op,
                set_cookie: wants_cookie && !state.cookie_blocked_by_secure,
                clear_cookie: false,
                send_header: false,
                clear_header: false,
            }
        }
    }
}

/// Whether a loaded session starts with a saved snapshot: express records
/// `savedHash` at load time only when `resave` is off.
pub(crate) fn snapshot_on_load(options: &EndOptions) -> bool {
    !options.resave
}
