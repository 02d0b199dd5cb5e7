/// An option that cannot work, found when the layer is built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The option named here has a value that cannot work.
    #[error("option `{option}`: {reason}")]
    Invalid {
        /// The option, under express's name (`secret`, `name`, `cookie.domain`, …).
        option: &'static str,
        /// Why the value cannot work.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(option: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            option,
            reason: reason.into(),
        }
    }

    /// The option the error is about.
    pub fn option(&self) -> &'static str {
        match self {
            Self::Invalid { option, .. } => option,
        }
    }
}
