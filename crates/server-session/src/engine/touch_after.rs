//! `touch_after`: whether an unchanged request may leave the stored expiry
//! where it is, so that it makes no write at all.

use crate::clock;

/// Whether the touch an unchanged request would make now can be skipped:
/// it would move the stored expiry later by no more than `touch_after_ms`.
///
/// - `original_max_age`: the loaded cookie's; `None` (a browser-session
///   cookie) always touches, since its stored lifetime is the store's own
///   default, which the layer does not know.
/// - `stored_expiry`: what the store will enforce, in ms since the epoch;
///   `None` (the store keeps none or cannot tell) always touches, which
///   is what express does.
/// - `deadline`: the absolute timeout's, if any. The touch is clamped at it,
///   and a stored expiry past it is always brought back.
///
/// A touch that would expire the session (a max age of zero or less) is
/// never skipped. A stored expiry later than the touch would set (Redis
/// rounds its TTL up to whole seconds; another server's clock may run
/// ahead) is left as it is.
pub(crate) fn skips_touch(
    touch_after_ms: i64,
    original_max_age: Option<i64>,
    stored_expiry: Option<i64>,
    deadline: Option<i64>,
    now_ms: i64,
) -> bool {
    let (Some(max_age), Some(stored)) = (original_max_age, stored_expiry) else {
        return false;
    };
    let mut touched_to = clock::clamp_to_js_range(now_ms.saturating_add(max_age));
    if let Some(deadline) = deadline {
        if stored > deadline {
            return false;
        }
        touched_to = touched_to.min(deadline);
    }
    touched_to > now_ms && touched_to.saturating_sub(stored) <= touch_after_ms
}

#[cfg(test)]
mod tests {
    use super::skips_touch;

    const NOW: i64 = 1_800_000_000_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    #[test]
    fn skips_only_while_the_expiry_would_move_by_at_most_touch_after() {
        // Touched 59 minutes ago: moving by 59 minutes is not worth a write.
        assert!(skips_touch(
            HOUR,
            Some(DAY),
            Some(NOW + DAY - 59 * 60_000),
            None,
            NOW
        ));
        // Exactly touch_after: still skipped.
        assert!(skips_touch(
            HOUR,
            Some(DAY),
            Some(NOW + DAY - HOUR),
            None,
            NOW
        ));
        // One millisecond more: the touch is made.
        assert!(!skips_touch(
            HOUR,
            Some(DAY),
            Some(NOW + DAY - HOUR - 1),
            None,
            NOW
        ));
        // A stored expiry later than the touch would give stays.
        assert!(skips_touch(
            HOUR,
            Some(DAY),
            Some(NOW + DAY + 999),
            None,
            NOW
        ));
    }

    #[test]
    fn always_touches_what_it_cannot_judge_or_what_the_touch_would_end() {
        // Browser-session cookie: the store's default lifetime is unknown.
        assert!(!skips_touch(HOUR, None, Some(NOW + DAY), None, NOW));
        // No stored expiry known.
        assert!(!skips_touch(HOUR, Some(DAY), None, None, NOW));
        // A max age of zero or less: the touch deletes the session.
        assert!(!skips_touch(HOUR, Some(0), Some(NOW + 10), None, NOW));
        assert!(!skips_touch(HOUR, Some(-5), Some(NOW + 10), None, NOW));
    }

    #[test]
    fn the_absolute_deadline_clamps_the_touch_and_is_never_overrun() {
        let deadline = NOW + 2 * HOUR;
        // The touch would stop at the deadline, where the expiry already is.
        assert!(skips_touch(
            HOUR,
            Some(DAY),
            Some(deadline),
            Some(deadline),
            NOW
        ));
        // Within touch_after of the deadline.
        assert!(skips_touch(
            HOUR,
            Some(DAY),
            Some(NOW + HOUR),
            Some(deadline),
            NOW
        ));
        // More than touch_after before it.
        assert!(!skips_touch(
            HOUR,
            Some(DAY),
            Some(NOW + HOUR - 1),
            Some(deadline),
            NOW
        ));
        // A stored expiry past the deadline is brought back.
        assert!(!skips_touch(
            HOUR,
            Some(DAY),
            Some(deadline + 1),
            Some(deadline),
            NOW
        ));
    }
}
