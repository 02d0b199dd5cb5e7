//! A record's expiry in the units the Node stores keep, for store authors:
//! a Rust store that writes the same TTL or `expire` column as its Node
//! counterpart lets both expire a shared session at the same second.
//!
//! Each function serves the stores that keep that unit: [`ttl_secs`] the
//! Redis store (connect-redis), [`expire_epoch_secs`] the SQL stores
//! (connect-pg-simple and its ports).
//!
//! ```
//! use server_session::store::{expiry, Record};
//! use server_session::CookieData;
//!
//! let record = Record::new(CookieData::default().with_expires_ms(Some(10_001)), Default::default());
//! assert_eq!(expiry::ttl_secs(&record, 0, 86_400), 11);
//! assert_eq!(expiry::expire_epoch_secs(&record, 0, 86_400), 11);
//! // A browser-session cookie has no expiry: the store's default applies.
//! let browser_session = Record::default();
//! assert_eq!(expiry::ttl_secs(&browser_session, 0, 86_400), 86_400);
//! ```

use super::Record;

/// connect-redis's TTL in seconds: `ceil((expires - now) / 1000)`, or
/// `default_secs` for a browser-session cookie. Zero or less means the
/// record has already expired and should be deleted, not written.
pub fn ttl_secs(record: &Record, now_ms: i64, default_secs: i64) -> i64 {
    match record.cookie.expires {
        Some(expires) => ceil_div_1000(expires.saturating_sub(now_ms)),
        None => default_secs,
    }
}

/// connect-pg-simple's `expire` in seconds since the epoch:
/// `ceil(expires / 1000)`, or `ceil(now / 1000) + default_secs` for a
/// browser-session cookie.
pub fn expire_epoch_secs(record: &Record, now_ms: i64, default_secs: i64) -> i64 {
    match record.cookie.expires {
        Some(expires) => ceil_div_1000(expires),
        None => ceil_div_1000(now_ms).saturating_add(default_secs),
    }
}

fn ceil_div_1000(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_follows_connect_redis() {
        let mut record = Record::default();
        assert_eq!(ttl_secs(&record, 0, 86_400), 86_400);
        record.cookie.expires = Some(10_001);
        assert_eq!(ttl_secs(&record, 0, 86_400), 11);
        assert_eq!(ttl_secs(&record, 10_001, 86_400), 0);
        assert_eq!(expire_epoch_secs(&record, 0, 86_400), 11);
    }
}
