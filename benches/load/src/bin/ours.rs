//! This library behind the benchmark routes. `STORE` picks the store:
//! `memory` (default), `redis://…`, `postgres://…`, `mysql://…` or
//! `sqlite://…` (table `$PG_TABLE`, default `bench_session`). Options: see
//! `session_bench::ours_config`; `TOUCH_AFTER_SECS=n` sets `touch_after`.
//! `REDIS_DISABLE_TOUCH=1` sets connect-redis's `disableTouch`, so that an
//! unchanged request is a plain GET, as actix-session's is: the same work
//! as actix-session, for comparing the libraries rather than the semantics.
//! `RUNTIME=current` runs it on tokio's single-threaded runtime
//! (`session_bench::run`).

fn main() {
    session_bench::run(async {
        let store = session_bench::ours_store(&session_bench::store_url()).await;
        session_bench::serve_axum(session_bench::ours_router(store)).await;
    });
}
