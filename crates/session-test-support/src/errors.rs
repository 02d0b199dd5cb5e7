//! The Rust stand-in for upstream's `server.on('error', …)`: the layer
//! reports the store and cookie errors it handled to its error hook
//! (`SessionConfig::with_error_hook`), and this log keeps them.
//! [`everything_shown`] is what a log could show of a store error, for the
//! tests that no session ID reaches one.

use std::sync::{Arc, Mutex};

use server_session::{SessionConfig, SessionError, StoreError};

/// What the error hook received.
#[derive(Clone, Default)]
pub struct ErrorLog {
    entries: Arc<Mutex<Vec<Reported>>>,
}

/// One reported error.
#[derive(Clone, Debug)]
pub struct Reported {
    /// The error's own message.
    pub message: String,
    /// The message of the innermost cause: upstream's `err.message`, such
    /// as the store's `boom!`.
    pub root: String,
}

impl ErrorLog {
    /// `config` with this log as its error hook.
    pub fn install(&self, config: SessionConfig) -> SessionConfig {
        let entries = Arc::clone(&self.entries);
        config.with_error_hook(move |error: &SessionError| {
            let mut root: &dyn std::error::Error = error;
            while let Some(source) = root.source() {
                root = source;
            }
            let reported = Reported {
                message: error.to_string(),
                root: root.to_string(),
            };
            entries
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(reported);
        })
    }

    /// Every reported error, oldest first.
    pub fn entries(&self) -> Vec<Reported> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The innermost messages of every reported error.
    pub fn roots(&self) -> Vec<String> {
        self.entries().into_iter().map(|entry| entry.root).collect()
    }
}

/// `error`'s `Display`, `Debug` and every source's `Display`: all that a
/// log or an error reporter could show of it.
pub fn everything_shown(error: &StoreError) -> String {
    let mut shown = format!("{error}\n{error:?}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        shown.push_str(&format!("\n{cause}"));
        source = cause.source();
    }
    shown
}
