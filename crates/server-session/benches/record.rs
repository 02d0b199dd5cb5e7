//! Micro-benchmarks of the stored record: express's JSON, encoded and
//! decoded. Run: `cargo bench -p server-session --bench record`.

// criterion_group! defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use server_session::store::now_ms;
use server_session::{CookieData, Record};

/// The cookie of every record here: one day, from now.
fn one_day_cookie() -> CookieData {
    CookieData::default()
        .with_original_max_age_ms(Some(86_400_000))
        .with_expires_ms(Some(now_ms() + 86_400_000))
}

/// What the load benchmarks store: a one-day cookie and one counter.
fn small() -> Record {
    let mut data = serde_json::Map::new();
    data.insert("counter".into(), serde_json::json!(42));
    Record::new(one_day_cookie(), data)
}

/// A signed-in user with a cart and flash messages: about 1 KiB.
fn typical() -> Record {
    let mut data = serde_json::Map::new();
    data.insert(
        "user".into(),
        serde_json::json!({"id": 12345, "name": "Ada Lovelace", "email": "ada@example.com", "roles": ["admin", "editor"]}),
    );
    data.insert(
        "cart".into(),
        serde_json::json!((0..8).map(|i| serde_json::json!({"sku": format!("SKU-{i:05}"), "qty": i + 1, "price": 9.99 + f64::from(i)})).collect::<Vec<_>>()),
    );
    data.insert(
        "flash".into(),
        serde_json::json!([
            "Saved.",
            "Your order ships tomorrow — “quoted” text & <tags>"
        ]),
    );
    data.insert("csrf".into(), serde_json::json!("x".repeat(43)));
    Record::new(one_day_cookie(), data)
}

fn json(c: &mut Criterion) {
    for (name, record) in [("small", small()), ("typical", typical())] {
        let bytes = record.to_json_vec();
        let mut group = c.benchmark_group(format!("record/{name} ({} bytes)", bytes.len()));
        group.bench_function("to_json_vec", |b| {
            b.iter(|| black_box(&record).to_json_vec())
        });
        group.bench_function("from_json", |b| {
            b.iter(|| Record::from_json(black_box(&bytes)).map(|r| r.data().len()))
        });
        group.finish();
    }
}

criterion_group!(benches, json);
criterion_main!(benches);
