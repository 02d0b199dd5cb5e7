//! The contract's routes as one axum handler, and the peer's address as the
//! [`ClientAddr`] hint: what the tower conformance server, the demo and the
//! tests that serve the routes in process share.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts as _, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use server_session::{ClientAddr, Session};

use crate::routes::{answer, session_or_none};

/// Answers any path of the contract (DESIGN §6) with the request's session.
pub async fn route(request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let reply = answer(&path, async {
        session_or_none(Session::from_request_parts(&mut parts, &()).await)
    })
    .await;
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, reply.body).into_response()
}

/// Puts the connection's peer address (axum's `ConnectInfo`, with
/// `into_make_service_with_connect_info`) into the request as the
/// [`ClientAddr`] sign-ins record. Right only where no proxy stands in
/// front of the server, as for these loopback servers.
pub fn peer_as_client_addr(request: &mut Request) {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| ClientAddr(peer.ip()));
    if let Some(peer) = peer {
        request.extensions_mut().insert(peer);
    }
}
