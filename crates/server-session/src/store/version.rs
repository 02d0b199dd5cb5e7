use std::fmt;

/// An opaque token naming the stored bytes a record was loaded from.
///
/// Stores derive it from the stored value itself (a digest, or a generation
/// counter that only the store can change), so that a write made by another
/// process, Node's connect-redis included, changes it. Compare-and-set saves
/// ([`SaveCondition::IfVersion`](crate::store::SaveCondition::IfVersion)) succeed
/// only while the stored version still equals it.
///
/// A version holds at most 32 bytes inline, so it is `Copy` and costs no
/// allocation on the hot path.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    len: u8,
    bytes: [u8; 32],
}

impl Version {
    /// A version made of these bytes. Only the first 32 bytes are kept.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let len = bytes.len().min(32);
        let mut out = [0u8; 32];
        out[..len].copy_from_slice(&bytes[..len]);
        Self {
            len: len as u8,
            bytes: out,
        }
    }

    /// A version from a counter, for stores that no other process writes to.
    pub fn from_u64(generation: u64) -> Self {
        Self::from_bytes(&generation.to_be_bytes())
    }

    /// The version of these stored bytes: their SHA-256 digest.
    pub fn digest_of(stored: &[u8]) -> Self {
        use sha2::Digest;
        Self::from_bytes(&sha2::Sha256::digest(stored))
    }

    /// The token's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version(")?;
        for byte in self.as_bytes().iter().take(8) {
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_content() {
        assert_eq!(Version::digest_of(b"a"), Version::digest_of(b"a"));
        assert_ne!(Version::digest_of(b"a"), Version::digest_of(b"b"));
        assert_eq!(Version::from_u64(7).as_bytes(), &7u64.to_be_bytes());
        assert_eq!(Version::from_bytes(&[1; 40]).as_bytes().len(), 32);
    }
}
