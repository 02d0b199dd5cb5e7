//! What the examples of both adapters share, so that the tower/axum and
//! actix-web conformance servers serve one contract (DESIGN §6) from one
//! implementation: the options ([`options`]), the routes ([`routes`]) and
//! the store a URL names ([`stores`]). Not published.

pub mod options;
pub mod routes;
pub mod stores;

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
