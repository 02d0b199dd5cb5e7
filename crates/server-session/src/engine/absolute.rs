//! The absolute timeout: a hard maximum lifetime counted from a session's
//! creation, beside express's idle timeout (`maxAge` and touch). Activity
//! never extends it, and neither does rotating the ID with `cycle_id`;
//! `regenerate` makes a new session, so a new lifetime starts.

use crate::store::CookieData;

/// What the absolute timeout says about a session loaded from the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// No absolute timeout is configured.
    Off,
    /// The session may be served; it was created at `created`. `assigned`:
    /// the stored record had no creation time (written by express, or
    /// before the timeout was configured), so it counts from now and has to
    /// be saved to keep it.
    Within { created: i64, assigned: bool },
    /// Past its deadline: destroy it and start a fresh session.
    Reached,
}

/// Judges a stored session created at `created` (if it says) against the
/// timeout `limit_ms`, at `now_ms`.
pub(crate) fn judge(limit_ms: Option<i64>, created: Option<i64>, now_ms: i64) -> Verdict {
    let Some(limit_ms) = limit_ms else {
        return Verdict::Off;
    };
    match created {
        None => Verdict::Within {
            created: now_ms,
            assigned: true,
        },
        Some(created) if created.saturating_add(limit_ms) <= now_ms => Verdict::Reached,
        Some(created) => Verdict::Within {
            created,
            assigned: false,
        },
    }
}

/// Keeps the cookie's expiry, which sets the store's TTL and the browser
/// cookie's `Expires`, at or before the deadline, so that the store drops
/// the session by itself when its lifetime ends. A browser-session cookie
/// has no expiry to shorten: its store record lives for the store's default
/// lifetime, and the layer refuses it past the deadline all the same.
pub(crate) fn clamp_expiry(cookie: &mut CookieData, deadline_ms: i64) {
    if let Some(expires) = cookie.expires {
        if expires > deadline_ms {
            cookie.expires = Some(deadline_ms);
        }
    }
}

/// Whether a store-side touch to `expires` went past the deadline, so that
/// the end-of-request touch has to bring it back.
pub(crate) fn overshoots(expires: Option<i64>, deadline_ms: Option<i64>) -> bool {
    matches!((expires, deadline_ms), (Some(expires), Some(deadline)) if expires > deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_served_until_its_deadline_and_never_after() {
        assert_eq!(judge(None, Some(0), i64::MAX), Verdict::Off);
        let hour = 3_600_000;
        assert_eq!(
            judge(Some(hour), Some(1_000), 1_000 + hour - 1),
            Verdict::Within {
                created: 1_000,
                assigned: false
            }
        );
        assert_eq!(
            judge(Some(hour), Some(1_000), 1_000 + hour),
            Verdict::Reached
        );
        // A record from express gets a creation time on first use.
        assert_eq!(
            judge(Some(hour), None, 5),
            Verdict::Within {
                created: 5,
                assigned: true
            }
        );
        // A creation time at the far end of the range cannot overflow.
        assert!(matches!(
            judge(Some(i64::MAX), Some(i64::MAX), 0),
            Verdict::Within { .. }
        ));
    }

    #[test]
    fn the_expiry_never_passes_the_deadline() {
        let mut cookie = CookieData {
            expires: Some(10_000),
            ..CookieData::default()
        };
        clamp_expiry(&mut cookie, 20_000);
        assert_eq!(cookie.expires, Some(10_000));
        clamp_expiry(&mut cookie, 5_000);
        assert_eq!(cookie.expires, Some(5_000));
        let mut browser_session = CookieData::default();
        clamp_expiry(&mut browser_session, 5_000);
        assert_eq!(browser_session.expires, None);
        assert!(overshoots(Some(6), Some(5)));
        assert!(!overshoots(Some(5), Some(5)));
        assert!(!overshoots(None, Some(5)));
        assert!(!overshoots(Some(6), None));
    }
}
