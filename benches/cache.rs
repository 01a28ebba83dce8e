//! The cache hit path's own cost: building a key from two cache key parameters, and looking
//! an entry up in a store of 10,000 entries (plain and AES-256-GCM encrypted).

use std::borrow::Cow;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use tollgate::cache::key::KeySpec;
use tollgate::cache::store::{header, CachedResponse, Store};
use tollgate::mapping::{Location, Values};

struct Request;

impl Values for Request {
    fn request_param(&self, loc: Location, name: &str) -> Option<Cow<'_, str>> {
        match (loc, name) {
            (Location::QueryString, "type") => Some(Cow::Borrowed("dog")),
            (Location::Path, "petId") => Some(Cow::Borrowed("12345")),
            _ => None,
        }
    }
    fn request_body(&self) -> &str {
        ""
    }
    fn stage_variable(&self, _: &str) -> Option<&str> {
        None
    }
    fn context_variable(&self, _: &str) -> Option<Cow<'_, str>> {
        None
    }
}

fn response() -> CachedResponse {
    CachedResponse {
        status: 200,
        headers: vec![
            header("Content-Type", b"application/json").unwrap(),
            header("X-Backend", b"yes").unwrap(),
        ],
        body: Bytes::from_static(br#"{"id": 12345, "type": "dog", "price": 249.99}"#),
    }
}

fn cache(c: &mut Criterion) {
    let spec = KeySpec::new(
        "a1b2c3",
        &[
            "method.request.querystring.type".into(),
            "method.request.path.petId".into(),
        ],
    );
    c.bench_function("cache key (2 parameters)", |b| {
        b.iter(|| black_box(spec.key("GET", &Request)))
    });
    for encrypted in [false, true] {
        let store = Store::new(1 << 30);
        let later = Instant::now() + Duration::from_secs(3600);
        for i in 0..10_000u32 {
            store.put(&i.to_le_bytes(), response(), later, encrypted);
        }
        let key = 777u32.to_le_bytes();
        let name = if encrypted {
            "store hit (encrypted, 10k entries)"
        } else {
            "store hit (10k entries)"
        };
        c.bench_function(name, |b| {
            b.iter(|| black_box(store.get(&key, Instant::now())))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = cache
}
criterion_main!(benches);
