//! actix-session 0.11 behind the benchmark routes. `STORE`: `cookie` for
//! CookieSessionStore, or a `redis://…` URL for RedisSessionStore.
//! Closest to ours: signed (not encrypted) cookie, not Secure, a persistent
//! one-day session, one worker (the server gets one core).

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::storage::{CookieSessionStore, RedisSessionStore, SessionStore};
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::{time::Duration, Key};
use actix_web::{web, App, HttpServer};

async fn none() -> &'static str {
    "ok"
}

async fn read(session: Session) -> String {
    session
        .get::<u64>("counter")
        .ok()
        .flatten()
        .unwrap_or(0)
        .to_string()
}

async fn counter(session: Session) -> String {
    let n = session.get::<u64>("counter").ok().flatten().unwrap_or(0) + 1;
    let _ = session.insert("counter", n);
    n.to_string()
}

fn lifecycle() -> PersistentSession {
    PersistentSession::default().session_ttl(Duration::seconds(session_bench::MAX_AGE_SECS as i64))
}

/// Serves the routes with a session middleware over the store `make` builds
/// (once per worker).
async fn run<S, F>(make: F) -> std::io::Result<()>
where
    S: SessionStore + 'static,
    F: Fn() -> S + Send + Clone + 'static,
{
    let key = Key::from(&session_bench::key_bytes());
    let addr = session_bench::addr();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(
                SessionMiddleware::builder(make(), key.clone())
                    .cookie_secure(false)
                    .cookie_content_security(CookieContentSecurity::Signed)
                    .session_lifecycle(lifecycle())
                    .build(),
            )
            .route("/none", web::get().to(none))
            .route("/read", web::get().to(read))
            .route("/counter", web::get().to(counter))
    })
    .workers(1)
    .bind(addr)?;
    println!("listening on {addr}");
    server.run().await
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let url = session_bench::store_url();
    if url.starts_with("redis") {
        let store = RedisSessionStore::new(url).await.expect("redis");
        run(move || store.clone()).await
    } else {
        run(CookieSessionStore::default).await
    }
}
