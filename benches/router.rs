//! Route matching cost with 10 and with 10,000 resources.
//!
//! Both tables are built from the same ten-resource "service" shape (literals,
//! `{id}` parameters, a nested greedy `{path+}` and a catch-all `{proxy+}`):
//! the small table holds one service, the large one a thousand. Every lookup
//! below targets the same service in both, so each pair of numbers differs
//! only in the number of resources, while the cases differ in path depth.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tollgate::router::{HttpMethod, MethodKey, Router};

/// The service that every lookup targets; present in both tables.
const TARGET: usize = 777;

/// The ten resources of service `n`.
fn service(n: usize, next_id: &mut usize) -> Vec<(String, Vec<(MethodKey, usize)>)> {
    use HttpMethod::{Delete, Get, Post, Put};
    let shapes: [(&str, &[MethodKey]); 10] = [
        ("", &[MethodKey::Method(Get)]),
        ("/items", &[MethodKey::Method(Get), MethodKey::Method(Post)]),
        (
            "/items/{id}",
            &[
                MethodKey::Method(Get),
                MethodKey::Method(Put),
                MethodKey::Method(Delete),
            ],
        ),
        ("/items/{id}/tags", &[MethodKey::Method(Get)]),
        ("/items/{id}/tags/{tag}", &[MethodKey::Method(Delete)]),
        ("/items/search", &[MethodKey::Method(Get)]),
        (
            "/users/{userId}/orders/{orderId}/lines/{line}",
            &[MethodKey::Method(Get)],
        ),
        ("/health", &[MethodKey::Method(Get)]),
        ("/static/{path+}", &[MethodKey::Method(Get)]),
        ("/{proxy+}", &[MethodKey::Any]),
    ];
    shapes
        .iter()
        .map(|(suffix, keys)| {
            let methods = keys
                .iter()
                .map(|&k| {
                    *next_id += 1;
                    (k, *next_id)
                })
                .collect();
            (format!("/svc{n}{suffix}"), methods)
        })
        .collect()
}

/// `count / 10` services; always includes [`TARGET`].
fn table(count: usize) -> Vec<(String, Vec<(MethodKey, usize)>)> {
    let mut next_id = 0;
    let services: Vec<usize> = if count <= 10 {
        vec![TARGET]
    } else {
        (0..count / 10).collect()
    };
    services
        .into_iter()
        .flat_map(|n| service(n, &mut next_id))
        .collect()
}

/// `(label, method, path, expected template or None)`; labels give the depth.
const CASES: [(&str, HttpMethod, &str, Option<&str>); 8] = [
    ("d1_literal", HttpMethod::Get, "/svc777", Some("/svc777")),
    (
        "d2_literal",
        HttpMethod::Get,
        "/svc777/health",
        Some("/svc777/health"),
    ),
    (
        "d3_param",
        HttpMethod::Get,
        "/svc777/items/42",
        Some("/svc777/items/{id}"),
    ),
    (
        "d5_two_params",
        HttpMethod::Delete,
        "/svc777/items/42/tags/blue",
        Some("/svc777/items/{id}/tags/{tag}"),
    ),
    (
        "d7_three_params",
        HttpMethod::Get,
        "/svc777/users/u1/orders/o2/lines/3",
        Some("/svc777/users/{userId}/orders/{orderId}/lines/{line}"),
    ),
    (
        "d6_greedy",
        HttpMethod::Get,
        "/svc777/static/css/site/v2/main.css",
        Some("/svc777/static/{path+}"),
    ),
    (
        "d5_backtrack_to_proxy",
        HttpMethod::Post,
        "/svc777/items/42/tags/blue",
        Some("/svc777/{proxy+}"),
    ),
    ("d2_miss", HttpMethod::Get, "/nope/x", None),
];

fn find(c: &mut Criterion) {
    let mut group = c.benchmark_group("find");
    for count in [10, 10_000] {
        let spec = table(count);
        assert_eq!(spec.len(), count);
        let router = Router::build(&spec).expect("valid table");
        for (label, method, path, want) in CASES {
            let got = router.find(method, path).map(|m| m.resource_path);
            assert_eq!(got, want, "{label} with {count} resources");
            group.bench_with_input(BenchmarkId::new(label, count), &path, |b, &path| {
                b.iter(|| {
                    router
                        .find(black_box(method), black_box(path))
                        .map(|m| m.method_id)
                })
            });
        }
    }
    group.finish();
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    for count in [10, 10_000] {
        let spec = table(count);
        group.bench_with_input(BenchmarkId::from_parameter(count), &spec, |b, spec| {
            b.iter(|| Router::build(black_box(spec)).expect("valid table"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = find, build
}
criterion_main!(benches);
