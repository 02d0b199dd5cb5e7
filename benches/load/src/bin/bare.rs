//! The baseline: axum with the same routes and no session layer.

fn main() {
    session_bench::run(serve());
}

async fn serve() {
    session_bench::serve_axum(session_bench::bare_router()).await;
}
