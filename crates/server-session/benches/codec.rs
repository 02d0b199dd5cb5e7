//! Micro-benchmarks of the wire codec: signing and unsigning the session
//! cookie, finding it in a `Cookie` header, and generating session IDs.
//! Run: `cargo bench -p server-session --bench codec`.

// criterion_group! defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use server_session::__private::{
    find_cookie, generate_id, sign_session_id, unsign_session_id, Secrets,
};

const SECRET: &str = "benchmark secret: at least 32 bytes of entropy here";

fn signing(c: &mut Criterion) {
    let secrets = Secrets::new([SECRET]).expect("one secret");
    let rotated = Secrets::new(["a newer secret, tried first", SECRET]).expect("two secrets");
    let id = generate_id();
    let signed = secrets.sign(&id);
    let wire = sign_session_id(&id, &secrets);
    let forged = format!("{id}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");

    let mut group = c.benchmark_group("signature");
    group.bench_function("sign", |b| b.iter(|| secrets.sign(black_box(&id))));
    group.bench_function("unsign/valid", |b| {
        b.iter(|| secrets.unsign(black_box(&signed)))
    });
    group.bench_function("unsign/forged", |b| {
        b.iter(|| secrets.unsign(black_box(&forged)))
    });
    group.bench_function("unsign/second-of-two-secrets", |b| {
        b.iter(|| rotated.unsign(black_box(&signed)))
    });
    group.bench_function("sign_session_id (s: + sign + encodeURIComponent)", |b| {
        b.iter(|| sign_session_id(black_box(&id), &secrets))
    });
    let header = format!("connect.sid={wire}");
    group.bench_function("find_cookie + unsign_session_id", |b| {
        b.iter(|| {
            let value = find_cookie(black_box(header.as_bytes()), "connect.sid")?;
            unsign_session_id(&value, &secrets).map(str::len)
        })
    });
    group.finish();
}

fn cookie_header(c: &mut Criterion) {
    let secrets = Secrets::new([SECRET]).expect("one secret");
    let wire = sign_session_id(&generate_id(), &secrets);
    let alone = format!("connect.sid={wire}");
    // A browser's header on a site with analytics cookies, ours last.
    let busy = format!(
        "_ga=GA1.1.1234567890.1700000000; _gid=GA1.1.987654321.1700000000; theme=dark; \
         lang=en-GB; consent=%7B%22ads%22%3Afalse%7D; _fbp=fb.1.1700000000000.123456789; \
         connect.sid={wire}"
    );
    let missing = "_ga=GA1.1.1234567890.1700000000; theme=dark; lang=en-GB";

    let mut group = c.benchmark_group("find_cookie");
    group.bench_function("only ours", |b| {
        b.iter(|| find_cookie(black_box(alone.as_bytes()), "connect.sid"))
    });
    group.bench_function("ours last of 7", |b| {
        b.iter(|| find_cookie(black_box(busy.as_bytes()), "connect.sid"))
    });
    group.bench_function("absent", |b| {
        b.iter(|| find_cookie(black_box(missing.as_bytes()), "connect.sid"))
    });
    group.finish();
}

fn ids(c: &mut Criterion) {
    c.bench_function("generate_id", |b| b.iter(generate_id));
}

criterion_group!(benches, signing, cookie_header, ids);
criterion_main!(benches);
