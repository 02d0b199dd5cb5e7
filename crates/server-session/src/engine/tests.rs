use http::Request;

use super::end::{plan_end, EndOptions, EndPlan, EndState, Standing, StoreOp};
use super::gate::{is_secure, path_matches, session_id_from_cookie, Lookup, SignedId};
use crate::codec::{sign_session_id, Secrets};
use crate::config::{PathMatch, Unset};
use crate::IsSecure;

fn options() -> EndOptions {
    EndOptions {
        save_uninitialized: false,
        rolling: false,
        resave: false,
        unset: Unset::Keep,
        resign_old_secret: false,
        clear_cookie_on_end: false,
        cookie: true,
        header: false,
    }
}

fn new_session() -> EndState {
    EndState {
        standing: Standing::Live,
        id_from_request: false,
        modified: false,
        has_saved_snapshot: false,
        saved: false,
        persistent_cookie: true,
        cookie_blocked_by_secure: false,
        cookie_signed_by_old_secret: false,
        carried_cookie: false,
        header_signed_by_old_secret: false,
        carried_header: false,
        must_save: false,
    }
}

fn loaded_session() -> EndState {
    EndState {
        id_from_request: true,
        carried_cookie: true,
        has_saved_snapshot: true,
        saved: true,
        ..new_session()
    }
}

fn plan(store_op: StoreOp, set_cookie: bool) -> EndPlan {
    EndPlan {
        store_op,
        set_cookie,
        clear_cookie: false,
        send_header: false,
        clear_header: false,
    }
}

#[test]
fn untouched_new_session_is_neither_saved_nor_sent_without_save_uninitialized() {
    assert_eq!(
        plan_end(&new_session(), &options()),
        plan(StoreOp::Nothing, false)
    );
    let rolling = EndOptions {
        rolling: true,
        ..options()
    };
    assert_eq!(
        plan_end(&new_session(), &rolling),
        plan(StoreOp::Nothing, false)
    );
}

#[test]
fn untouched_new_session_is_saved_and_sent_with_save_uninitialized() {
    let opts = EndOptions {
        save_uninitialized: true,
        ..options()
    };
    assert_eq!(plan_end(&new_session(), &opts), plan(StoreOp::Save, true));
}

#[test]
fn modified_new_session_is_saved_and_sent() {
    let state = EndState {
        modified: true,
        ..new_session()
    };
    assert_eq!(plan_end(&state, &options()), plan(StoreOp::Save, true));
}

#[test]
fn unchanged_loaded_session_is_touched_and_its_cookie_not_resent() {
    assert_eq!(
        plan_end(&loaded_session(), &options()),
        plan(StoreOp::Touch, false)
    );
}

#[test]
fn rolling_resends_the_cookie_of_an_unchanged_loaded_session() {
    let opts = EndOptions {
        rolling: true,
        ..options()
    };
    assert_eq!(
        plan_end(&loaded_session(), &opts),
        plan(StoreOp::Touch, true)
    );
}

#[test]
fn resave_saves_an_unchanged_loaded_session() {
    let state = EndState {
        has_saved_snapshot: false,
        saved: false,
        ..loaded_session()
    };
    let opts = EndOptions {
        resave: true,
        ..options()
    };
    assert_eq!(plan_end(&state, &opts), plan(StoreOp::Save, false));
}

#[test]
fn modified_loaded_session_is_saved_and_persistent_cookie_resent() {
    let state = EndState {
        modified: true,
        saved: false,
        ..loaded_session()
    };
    assert_eq!(plan_end(&state, &options()), plan(StoreOp::Save, true));
}

#[test]
fn browser_session_cookie_is_never_resent_without_rolling() {
    let state = EndState {
        modified: true,
        saved: false,
        persistent_cookie: false,
        ..loaded_session()
    };
    assert_eq!(plan_end(&state, &options()), plan(StoreOp::Save, false));
}

#[test]
fn secure_cookie_on_insecure_request_is_saved_but_not_sent() {
    let state = EndState {
        modified: true,
        cookie_blocked_by_secure: true,
        ..new_session()
    };
    assert_eq!(plan_end(&state, &options()), plan(StoreOp::Save, false));
}

#[test]
fn session_saved_by_hand_is_not_saved_again() {
    let state = EndState {
        modified: true,
        has_saved_snapshot: true,
        saved: true,
        ..new_session()
    };
    assert_eq!(plan_end(&state, &options()), plan(StoreOp::Nothing, true));
}

#[test]
fn unset_keeps_or_destroys_and_never_sends_a_cookie() {
    let state = EndState {
        standing: Standing::Unset,
        ..loaded_session()
    };
    assert_eq!(plan_end(&state, &options()), plan(StoreOp::Nothing, false));
    let destroy = EndOptions {
        unset: Unset::Destroy,
        ..options()
    };
    assert_eq!(plan_end(&state, &destroy), plan(StoreOp::Destroy, false));
}

#[test]
fn destroyed_session_needs_nothing_more() {
    let state = EndState {
        standing: Standing::Destroyed,
        ..loaded_session()
    };
    assert_eq!(plan_end(&state, &options()), plan(StoreOp::Nothing, false));
}

#[test]
fn prefix_gate_matches_like_express_and_rfc6265_mode_is_segment_aware() {
    assert!(path_matches("/foo/bar/baz", "/foo/bar", PathMatch::Prefix));
    assert!(!path_matches("/", "/foo/bar", PathMatch::Prefix));
    assert!(path_matches("/administrator", "/admin", PathMatch::Prefix));
    assert!(!path_matches(
        "/administrator",
        "/admin",
        PathMatch::Rfc6265
    ));
    assert!(path_matches("/admin", "/admin", PathMatch::Rfc6265));
    assert!(path_matches("/admin/x", "/admin", PathMatch::Rfc6265));
    assert!(path_matches("/admin/x", "/admin/", PathMatch::Rfc6265));
    assert!(path_matches("", "/", PathMatch::Prefix));
}

fn parts(uri: &str, headers: &[(&str, &str)], hint: Option<bool>) -> http::request::Parts {
    let mut builder = Request::builder().uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let (mut parts, ()) = builder.body(()).expect("request").into_parts();
    if let Some(hint) = hint {
        parts.extensions.insert(IsSecure(hint));
    }
    parts
}

#[test]
fn issecure_follows_express() {
    let xfp = |value| parts("/", &[("x-forwarded-proto", value)], None);
    assert!(is_secure(&xfp("https"), Some(true)));
    assert!(is_secure(&xfp("https,http"), Some(true)));
    assert!(is_secure(&xfp(" HTTPS , http"), Some(true)));
    assert!(!is_secure(&xfp("http,https"), Some(true)));
    assert!(!is_secure(&parts("/", &[], None), Some(true)));
    assert!(!is_secure(&xfp("https"), Some(false)));
    assert!(!is_secure(&xfp("https"), None));
    assert!(!is_secure(&parts("/", &[], Some(true)), Some(false)));
    assert!(is_secure(&parts("/", &[], Some(true)), None));
}

#[test]
fn an_https_request_uri_does_not_make_a_request_secure() {
    // An absolute-form target is the client's choice, even over plain HTTP.
    let absolute = |hint| parts("https://example.com/", &[], hint);
    for proxy in [None, Some(false), Some(true)] {
        assert!(!is_secure(&absolute(None), proxy), "proxy {proxy:?}");
    }
    assert!(!is_secure(&absolute(Some(false)), None));
    assert!(is_secure(&absolute(Some(true)), None));
}

#[test]
fn session_id_comes_only_from_a_signed_cookie() {
    let secrets = Secrets::new(["keyboard cat"]).expect("secret");
    let signed = sign_session_id("abc", &secrets);
    let header = |value: String| parts("/", &[("cookie", &value)], None).headers;
    let lookup = |cookie: String| session_id_from_cookie(&header(cookie), "connect.sid", &secrets);
    let id_of = |cookie: String| found(lookup(cookie)).map(|found| found.id);
    assert_eq!(
        id_of(format!("connect.sid={signed}")).as_deref(),
        Some("abc")
    );
    assert_eq!(id_of("connect.sid=abc".into()), None);
    assert_eq!(id_of("connect.sid=s%3Aabc.bad".into()), None);
    // The first occurrence wins, even when it is the stale one (express #881).
    assert_eq!(
        id_of(format!("connect.sid=junk; connect.sid={signed}")),
        None
    );
    // A bad signature is told apart from no cookie, for the log.
    assert!(matches!(
        lookup("connect.sid=s%3Aabc.bad".into()),
        Lookup::Rejected
    ));
    assert!(matches!(lookup("other=1".into()), Lookup::Absent));
}

fn found(lookup: Lookup) -> Option<SignedId> {
    match lookup {
        Lookup::Found(found) => Some(found),
        Lookup::Absent | Lookup::Rejected => None,
    }
}

#[test]
fn a_cookie_signed_by_the_first_secret_can_be_sent_back_unchanged() {
    let rotated = Secrets::new(["new", "old"]).expect("secrets");
    let by_new = sign_session_id("abc", &Secrets::new(["new"]).expect("secret"));
    let by_old = sign_session_id("abc", &Secrets::new(["old"]).expect("secret"));
    let header =
        |value: &str| parts("/", &[("cookie", &format!("connect.sid={value}"))], None).headers;
    let by_first = found(session_id_from_cookie(
        &header(&by_new),
        "connect.sid",
        &rotated,
    ))
    .expect("valid");
    let resent = crate::codec::encode_signed(by_first.signed_value.as_deref().expect("primary"));
    assert_eq!(resent, by_new);
    // Signed by an older secret: valid, but re-signed with the new one.
    let by_older = found(session_id_from_cookie(
        &header(&by_old),
        "connect.sid",
        &rotated,
    ))
    .expect("valid");
    assert_eq!(&*by_older.id, "abc");
    assert!(by_older.signed_value.is_none());
}

#[test]
fn a_cookie_signed_by_an_old_secret_is_reissued_only_when_asked() {
    let old = EndState {
        cookie_signed_by_old_secret: true,
        ..loaded_session()
    };
    let resign = EndOptions {
        resign_old_secret: true,
        ..options()
    };
    // express never re-signs.
    assert_eq!(plan_end(&old, &options()), plan(StoreOp::Touch, false));
    assert_eq!(plan_end(&old, &resign), plan(StoreOp::Touch, true));
    // Signed by the current secret already: nothing to re-issue.
    assert_eq!(
        plan_end(&loaded_session(), &resign),
        plan(StoreOp::Touch, false)
    );
    // A browser that would drop it gets none.
    let insecure = EndState {
        cookie_blocked_by_secure: true,
        ..old
    };
    assert_eq!(plan_end(&insecure, &resign), plan(StoreOp::Touch, false));
    // Destroyed or unset sessions are never re-issued.
    for standing in [Standing::Destroyed, Standing::Unset] {
        let ended = EndState { standing, ..old };
        assert!(!plan_end(&ended, &resign).set_cookie);
    }
}

#[test]
fn destroy_and_unset_clear_the_cookie_only_when_asked() {
    let clear = EndOptions {
        clear_cookie_on_end: true,
        ..options()
    };
    for standing in [Standing::Destroyed, Standing::Unset] {
        let ended = EndState {
            standing,
            ..loaded_session()
        };
        assert!(!plan_end(&ended, &options()).clear_cookie, "{standing:?}");
        let planned = plan_end(&ended, &clear);
        assert!(planned.clear_cookie && !planned.set_cookie, "{standing:?}");
        // No cookie came with the request: nothing to clear.
        let fresh = EndState {
            standing,
            ..new_session()
        };
        assert!(!plan_end(&fresh, &clear).clear_cookie, "{standing:?}");
        // A `Secure` clearing cookie over plain HTTP would be dropped.
        let insecure = EndState {
            cookie_blocked_by_secure: true,
            ..ended
        };
        assert!(!plan_end(&insecure, &clear).clear_cookie, "{standing:?}");
    }
    // A live session is never cleared.
    assert!(!plan_end(&loaded_session(), &clear).clear_cookie);
}

fn header_options() -> EndOptions {
    EndOptions {
        header: true,
        cookie: false,
        ..options()
    }
}

fn header_session() -> EndState {
    EndState {
        carried_cookie: false,
        carried_header: true,
        ..loaded_session()
    }
}

#[test]
fn the_response_header_goes_out_only_when_the_client_needs_a_new_value() {
    let new = EndState {
        modified: true,
        ..new_session()
    };
    let planned = plan_end(&new, &header_options());
    assert!(planned.send_header && !planned.set_cookie, "{planned:?}");
    assert_eq!(planned.store_op, StoreOp::Save);
    // Nothing to keep: nothing stored, nothing sent, as for the cookie.
    assert!(!plan_end(&new_session(), &header_options()).send_header);
    // An unchanged or changed session under the ID the client sent: no
    // header, even with `rolling` (it carries no expiry to refresh).
    let rolling = EndOptions {
        rolling: true,
        ..header_options()
    };
    let changed = EndState {
        modified: true,
        saved: false,
        ..header_session()
    };
    for state in [header_session(), changed] {
        for opts in [header_options(), rolling] {
            assert!(!plan_end(&state, &opts).send_header, "{state:?} {opts:?}");
        }
    }
    // A new ID (regenerate, cycle_id) is sent.
    let moved = EndState {
        id_from_request: false,
        modified: true,
        ..header_session()
    };
    assert!(plan_end(&moved, &header_options()).send_header);
    // A `Secure` cookie's rule does not hold the header back.
    let insecure = EndState {
        cookie_blocked_by_secure: true,
        ..new
    };
    assert!(plan_end(&insecure, &header_options()).send_header);
}

#[test]
fn header_only_sends_and_clears_no_cookie() {
    let clear = EndOptions {
        clear_cookie_on_end: true,
        rolling: true,
        ..header_options()
    };
    let both = EndState {
        carried_cookie: true,
        ..header_session()
    };
    let planned = plan_end(&both, &clear);
    assert!(!planned.set_cookie && !planned.send_header, "{planned:?}");
    for standing in [Standing::Destroyed, Standing::Unset] {
        let ended = EndState { standing, ..both };
        let planned = plan_end(&ended, &clear);
        assert!(!planned.clear_cookie && planned.clear_header, "{planned:?}");
        assert!(!plan_end(&ended, &header_options()).clear_header);
        // A session the header did not name (the cookie did): nothing to forget.
        let by_cookie = EndState {
            carried_header: false,
            ..ended
        };
        assert!(!plan_end(&by_cookie, &clear).clear_header);
    }
}

#[test]
fn with_both_transports_a_new_id_goes_out_in_both() {
    let both = EndOptions {
        cookie: true,
        ..header_options()
    };
    let new = EndState {
        modified: true,
        ..new_session()
    };
    let planned = plan_end(&new, &both);
    assert!(planned.set_cookie && planned.send_header, "{planned:?}");
    // Carried by the cookie alone and unchanged: neither.
    let by_cookie = plan_end(&loaded_session(), &both);
    assert!(!by_cookie.set_cookie && !by_cookie.send_header);
}

#[test]
fn a_header_value_signed_by_an_old_secret_is_reissued_only_when_asked() {
    let old = EndState {
        header_signed_by_old_secret: true,
        ..header_session()
    };
    assert!(!plan_end(&old, &header_options()).send_header);
    let resign = EndOptions {
        resign_old_secret: true,
        ..header_options()
    };
    assert!(plan_end(&old, &resign).send_header);
    assert!(!plan_end(&header_session(), &resign).send_header);
}
