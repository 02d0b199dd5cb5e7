//! tower-sessions 0.15 with its MemoryStore, behind the benchmark routes.
//! Closest to ours: signed cookie, not Secure, one-day inactivity expiry.

fn main() {
    session_bench::run(serve());
}

async fn serve() {
    let store = tower_sessions::MemoryStore::default();
    session_bench::serve_axum(session_bench::tower_sessions_router(store)).await;
}
