//! The baseline: axum with the same routes and no session layer.

#[tokio::main]
async fn main() {
    session_bench::serve_axum(session_bench::bare_router()).await;
}
