//! This library's actix-web middleware behind the benchmark routes, on
//! actix-web's own runtime with one worker (the server gets one core), as
//! the actix-session server runs. `STORE` as for `ours`
//! (`session_bench::ours_store`), with the same options
//! (`session_bench::ours_config`).

use actix_web::{web, App, HttpServer};
use server_session_actix::SessionMiddleware;
use session_bench::ours_routes::{counter, none, read};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let store = session_bench::ours_store(&session_bench::store_url()).await;
    let sessions =
        SessionMiddleware::new(store, session_bench::ours_config()).expect("valid config");
    let addr = session_bench::addr();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(sessions.clone())
            .route("/none", web::get().to(none))
            .route("/read", web::get().to(read))
            .route("/counter", web::get().to(counter))
    })
    .workers(1)
    .bind(addr)?;
    println!("listening on {addr}");
    server.run().await
}
