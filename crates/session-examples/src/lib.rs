//! What the examples of both adapters share, so that the tower/axum and
//! actix-web conformance servers serve one contract (DESIGN §6) from one
//! implementation: the options ([`options`]), the routes ([`routes`]) and
//! the store a URL names ([`stores`]). Not published.

pub mod axum_handlers;
pub mod options;
pub mod routes;
pub mod stores;

use server_session::driver::SessionDriver;

/// The driver a conformance server runs: the options of `SESSION_OPTIONS`
/// over the store of `SESSION_STORE` (`memory` by default), with the
/// store's background task, to keep while the server runs. Ends `server`
/// with the cause when either is refused.
pub async fn driver_from_env(server: &str) -> (SessionDriver, stores::Background) {
    let config = options::config_from_env().unwrap_or_else(|e| fail(server, e));
    let store_url = std::env::var("SESSION_STORE").unwrap_or_else(|_| String::from("memory"));
    let (store, background) = stores::store_from_url(&store_url)
        .await
        .unwrap_or_else(|e| fail(server, format!("SESSION_STORE: {e}")));
    let driver =
        SessionDriver::from_arc(store, config).unwrap_or_else(|e| fail(server, stores::Chain(&e)));
    (driver, background)
}

/// The port of `PORT`, 3000 when unset; `0` picks a free one.
pub fn port_from_env() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(3000)
}

/// Ends a server that cannot start, naming why (exit status 2).
pub fn fail(server: &str, message: impl std::fmt::Display) -> ! {
    eprintln!("{server}: {message}");
    std::process::exit(2)
}
