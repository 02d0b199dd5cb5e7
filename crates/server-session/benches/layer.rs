//! Micro-benchmarks of one request through [`SessionLayer`] on a trivial
//! service, over MemoryStore: the engine's per-request decisions (gate,
//! cookie, load, end-of-request plan, Set-Cookie) plus the store calls they
//! lead to. The trivial service alone is measured too, as the baseline.
//! Run: `cargo bench -p server-session --bench layer`.

// criterion_group! defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use http::header::{COOKIE, SET_COOKIE};
use http::{Request, Response};
use server_session::{CookieOptions, MemoryStore, Session, SessionConfig, SessionLayer};
use tower::{service_fn, Layer, ServiceExt};

const SECRET: &str = "benchmark secret: at least 32 bytes of entropy here";

/// The load harness's three routes, as one service.
async fn routes(request: Request<()>) -> Result<Response<String>, Infallible> {
    let session = request.extensions().get::<Session>().cloned();
    let body = match (request.uri().path(), session) {
        ("/read", Some(session)) => session
            .get::<u64>("counter")
            .ok()
            .flatten()
            .unwrap_or(0)
            .to_string(),
        ("/counter", Some(session)) => session
            .update("counter", |n: Option<u64>| n.unwrap_or(0) + 1)
            .unwrap_or(0)
            .to_string(),
        _ => String::from("ok"),
    };
    Ok(Response::new(body))
}

fn request(path: &str, cookie: Option<&str>) -> Request<()> {
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.body(()).expect("valid request")
}

fn layer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = SessionConfig::new(SECRET)
        .with_cookie(CookieOptions::new().with_max_age(Some(Duration::from_secs(86_400))));
    let layer = SessionLayer::new(MemoryStore::new(), config).expect("valid config");
    let service = layer.layer(service_fn(routes));
    let bare = service_fn(routes);

    let cookie = runtime.block_on(async {
        let response = service
            .clone()
            .oneshot(request("/counter", None))
            .await
            .expect("infallible");
        let set_cookie = response.headers()[SET_COOKIE].to_str().expect("ascii");
        set_cookie.split(';').next().unwrap_or_default().to_owned()
    });
    let stale = "connect.sid=s%3AunknownIdunknownIdunknownIdunkn.Jn0DtxFcGfGGLmaSb7dfB%2BZqdBbnzr3bgGqqy6m%2FNsQ";

    let mut group = c.benchmark_group("layer oneshot");
    let cases: [(&str, &str, Option<&str>); 6] = [
        ("/none + cookie", "/none", Some(&cookie)),
        ("/read + cookie", "/read", Some(&cookie)),
        ("/counter + cookie", "/counter", Some(&cookie)),
        ("/counter, no cookie", "/counter", None),
        ("/none, no cookie", "/none", None),
        ("/read + forged cookie", "/read", Some(stale)),
    ];
    for (name, path, cookie) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let response = service
                        .clone()
                        .oneshot(request(black_box(path), cookie))
                        .await
                        .expect("infallible");
                    black_box(response)
                })
            })
        });
    }
    group.bench_function("baseline: the service without the layer", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = bare
                    .oneshot(request(black_box("/read"), Some(&cookie)))
                    .await
                    .expect("infallible");
                black_box(response)
            })
        })
    });
    group.finish();
}

criterion_group!(benches, layer);
criterion_main!(benches);
