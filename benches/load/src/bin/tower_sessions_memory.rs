//! tower-sessions 0.15 with its MemoryStore, behind the benchmark routes.
//! Closest to ours: signed cookie, not Secure, one-day inactivity expiry.

#[tokio::main]
async fn main() {
    let store = tower_sessions::MemoryStore::default();
    session_bench::serve_axum(session_bench::tower_sessions_router(store)).await;
}
