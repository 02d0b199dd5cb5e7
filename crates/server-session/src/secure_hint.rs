/// The server's opinion of whether a request arrived over a secure
/// connection: express's `req.secure`.
///
/// tower has no standard way to say a connection used TLS, so a server
/// that terminates TLS (or trusts its proxy in its own way) inserts this
/// into the request extensions. The layer reads it when
/// [`SessionConfig::with_proxy`](crate::SessionConfig::with_proxy) is left
/// unset, for `Secure` cookies and the `Auto` policies.
///
/// ```
/// use server_session::IsSecure;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(IsSecure(true));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IsSecure(pub bool);
