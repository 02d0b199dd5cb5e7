//! What logs and `Debug` output show instead of a session ID.
//!
//! A session ID is a bearer credential: anyone who reads it from a log can
//! replay the cookie. Logs still need to tie the events of one session
//! together, so they show a tag: the first 64 bits of SHA-256 over a salt
//! drawn once per process and the ID. The same ID gives the same tag within
//! a process, and nothing outside the process can turn a tag back into an
//! ID or test a guess.

use std::fmt;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// A session ID's tag, for logs. See the [module docs](self).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdTag([u8; 8]);

impl fmt::Display for IdTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for IdTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The tag of `id`.
pub(crate) fn tag(id: &str) -> IdTag {
    static SALT: OnceLock<[u8; 16]> = OnceLock::new();
    let salt = SALT.get_or_init(rand::random);
    let digest = Sha256::new()
        .chain_update(salt)
        .chain_update(id.as_bytes())
        .finalize();
    let mut tag = [0; 8];
    tag.copy_from_slice(&digest[..8]);
    IdTag(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_stable_per_id_and_shows_nothing_of_it() {
        let id = "abcdefghijklmnopqrstuvwxyz012345";
        assert_eq!(tag(id), tag(id));
        assert_ne!(tag(id), tag("abcdefghijklmnopqrstuvwxyz012346"));
        let shown = tag(id).to_string();
        assert_eq!(shown.len(), 16);
        assert!(!shown.contains("abcdef"));
    }
}
