//! Who signed in from where: the client details a session keeps from its
//! sign-in, when the app opts in
//! ([`SessionConfig::with_sign_in_details`](crate::SessionConfig::with_sign_in_details)).

use std::net::IpAddr;

use http::header::USER_AGENT;
use http::request::Parts;
use serde_json::{json, Value};

/// The client's address, as the server knows it: put it into the request
/// extensions for [`SessionConfig::with_sign_in_details`](crate::SessionConfig::with_sign_in_details)
/// to record it at sign-in.
///
/// tower has no standard place for the peer address (axum keeps it in
/// `ConnectInfo` when the server is started with
/// `into_make_service_with_connect_info`), and only the app knows whether
/// a proxy's `X-Forwarded-For` can be trusted, so the app says. The
/// actix-web middleware fills it from the connection's peer address unless
/// an earlier middleware put one.
///
/// ```
/// use server_session::ClientAddr;
///
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(ClientAddr("192.0.2.7".parse().unwrap()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The data key a session keeps its sign-in details under.
pub(crate) const SIGN_IN_KEY: &str = "__signIn";

/// The most characters of a `User-Agent` kept: enough for every real
/// browser's, and a bound on what a client can make the store keep.
const MAX_USER_AGENT_CHARS: usize = 512;

/// What a request tells about its client, kept for a sign-in.
#[derive(Debug, Default)]
pub(crate) struct Client {
    user_agent: Option<String>,
    address: Option<IpAddr>,
}

impl Client {
    pub(crate) fn of(head: &Parts) -> Self {
        let user_agent = head
            .headers
            .get(USER_AGENT)
            .map(|value| String::from_utf8_lossy(value.as_bytes()))
            .map(|text| {
                text.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .filter(|text| !text.is_empty());
        let address = head.extensions.get::<ClientAddr>().map(|addr| addr.0);
        Self {
            user_agent,
            address,
        }
    }

    /// The details stored at a sign-in made at `now_ms`.
    pub(crate) fn sign_in_value(&self, now_ms: i64) -> Value {
        json!({
            "at": now_ms,
            "userAgent": self.user_agent,
            "address": self.address.map(|address| address.to_string()),
        })
    }
}
