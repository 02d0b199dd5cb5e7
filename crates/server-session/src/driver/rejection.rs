use http::StatusCode;

/// The request has no session. Either the store could not give one (it is
/// not ready, or loading failed under
/// [`LoadErrorPolicy::ContinueWithoutSession`](crate::LoadErrorPolicy::ContinueWithoutSession)):
/// 503; or no session layer is installed, or the path is outside the cookie
/// path: 500, a setup error. Take `Option<Session>` in handlers that can do
/// without one.
///
/// With [`SessionConfig::with_lazy_load`](crate::SessionConfig::with_lazy_load),
/// the extractor is where the session loads, so a load error arrives here
/// too: the load-error policy's status, with an empty body as the layer
/// answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRejection {
    kind: RejectionKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RejectionKind {
    NoLayer,
    StoreUnavailable,
    LoadFailed(StatusCode),
}

impl SessionRejection {
    /// No session layer gave this request a session: it is not installed,
    /// or the path is outside the cookie path.
    pub fn no_layer() -> Self {
        Self {
            kind: RejectionKind::NoLayer,
        }
    }

    pub(crate) fn store_unavailable() -> Self {
        Self {
            kind: RejectionKind::StoreUnavailable,
        }
    }

    pub(crate) fn load_failed(status: StatusCode) -> Self {
        Self {
            kind: RejectionKind::LoadFailed(status),
        }
    }

    /// Whether the store was the cause (rather than the setup).
    pub fn is_store_unavailable(&self) -> bool {
        !matches!(self.kind, RejectionKind::NoLayer)
    }

    /// Whether the handler may go on without a session: the store could
    /// give none (it is not ready, or the load-error policy is
    /// `ContinueWithoutSession`). An `Option<Session>` extractor takes this
    /// as `None`; a lazy load refused by the policy stays a rejection.
    pub fn is_no_session(&self) -> bool {
        matches!(self.kind, RejectionKind::StoreUnavailable)
    }

    /// Whether the setup is the cause: no session layer runs for this
    /// request.
    pub fn is_missing_layer(&self) -> bool {
        matches!(self.kind, RejectionKind::NoLayer)
    }

    /// The status the rejection answers with: 503 when the store was
    /// unavailable, the load-error policy's status when a lazy load failed,
    /// else 500.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            RejectionKind::NoLayer => StatusCode::INTERNAL_SERVER_ERROR,
            RejectionKind::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            RejectionKind::LoadFailed(status) => status,
        }
    }

    /// The text the rejection answers with.
    pub fn body_text(&self) -> &'static str {
        match self.kind {
            RejectionKind::NoLayer => "no session for this request: is `SessionLayer` installed, and is the path inside the cookie path?",
            RejectionKind::StoreUnavailable => "session store unavailable",
            RejectionKind::LoadFailed(_) => "",
        }
    }
}

impl std::fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.body_text())
    }
}

impl std::error::Error for SessionRejection {}
