use std::fmt;

/// Why an option's value cannot work: a reason in words, or the error of
/// the check that refused it.
type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An option that cannot work, found when the layer is built.
///
/// The message names the option and the value given; the
/// [`source`](std::error::Error::source) says why it cannot work. A secret
/// or a key is never shown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The option named here has a value that cannot work.
    #[error("option `{option}` {}", Refused(value.as_deref()))]
    #[non_exhaustive]
    Invalid {
        /// The option, under express's name (`secret`, `name`, `cookie.domain`, …).
        option: &'static str,
        /// The value given, as text; `None` for a secret or a key, which is
        /// never shown, and where no single value is at fault.
        value: Option<String>,
        /// Why the value cannot work.
        #[source]
        source: Cause,
    },
}

/// The end of the message: the value refused, when it may be shown.
struct Refused<'a>(Option<&'a str>);

impl fmt::Display for Refused<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "cannot be `{value}`"),
            None => f.write_str("is invalid"),
        }
    }
}

impl ConfigError {
    /// An option whose value is not shown: a secret, a key, or an option
    /// where no single value is at fault.
    pub(crate) fn invalid(option: &'static str, cause: impl Into<Cause>) -> Self {
        Self::Invalid {
            option,
            value: None,
            source: cause.into(),
        }
    }

    /// An option refused with the value it was given (never a secret's).
    pub(crate) fn invalid_value(
        option: &'static str,
        value: impl fmt::Display,
        cause: impl Into<Cause>,
    ) -> Self {
        Self::Invalid {
            option,
            value: Some(value.to_string()),
            source: cause.into(),
        }
    }

    /// The option the error is about.
    pub fn option(&self) -> &'static str {
        match self {
            Self::Invalid { option, .. } => option,
        }
    }

    /// The value refused, as text; `None` for a secret or a key, which is
    /// never shown.
    pub fn value(&self) -> Option<&str> {
        match self {
            Self::Invalid { value, .. } => value.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::codec::CookieError;

    /// The message names the option and the value; the source, and only the
    /// source, says why.
    #[test]
    fn the_cause_is_the_source_and_not_in_the_message() {
        let error =
            ConfigError::invalid_value("cookie.domain", "bad domain!", CookieError::InvalidDomain);
        assert_eq!(
            error.to_string(),
            "option `cookie.domain` cannot be `bad domain!`"
        );
        assert_eq!(error.value(), Some("bad domain!"));
        let source = error.source().expect("a source");
        assert_eq!(source.to_string(), "option domain is invalid");
        assert!(source.is::<CookieError>());

        let error = ConfigError::invalid("secret", "a secret must not be empty");
        assert_eq!(error.to_string(), "option `secret` is invalid");
        assert_eq!(error.value(), None);
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("a secret must not be empty")
        );
    }
}
