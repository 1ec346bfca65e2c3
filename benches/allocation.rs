//! Criterion bench of the lex-v1 allocation engine on realistic generated cities of 100, 1,000
//! and 10,000 towns: populations 5k-200k, weekly second-dose cohorts, weekday capacity patterns,
//! patchy stock. `plan` excludes JSON parsing; `cli` is parse + plan + serialise.
//!
//! ```sh
//! cargo bench --bench allocation
//! ```

use chrono::{Duration, NaiveDate};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use dosewise::allocation::{parse_instance, plan, run_cli};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// A reproducible instance document with `n` towns.
pub fn generate(n: usize, seed: u64) -> String {
    let mut rng = StdRng::seed_from_u64(seed);
    let run = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap();
    let horizon = 7;
    let mut total_capacity = 0u64;
    let towns: Vec<Value> = (0..n)
        .map(|i| {
            let population: u64 = rng.random_range(5_000..200_000);
            let eligible = population * 8 / 10;
            let first_dosed = eligible * rng.random_range(0..40) / 100;
            let waiting = eligible * rng.random_range(0..6) / 100;
            let weekday: u64 = (population / 1_000).max(20);
            // Run date is a Monday: Mon-Fri full, Saturday half, Sunday closed.
            let capacity: Vec<u64> = (0..horizon).map(|d| match d { 5 => weekday / 2, 6 => 0, _ => weekday }).collect();
            total_capacity += capacity.iter().sum::<u64>();
            let stock = if rng.random_bool(0.4) { 0 } else { rng.random_range(0..weekday * 3) };
            let cohorts: Vec<Value> = (1..=10)
                .map(|w| {
                    let date = run - Duration::days(7 * w + rng.random_range(0..7));
                    json!({"cohort_id": format!("T{i:05}@{date}"), "first_dose_date": date.to_string(),
                           "count": rng.random_range(0..weekday * 2)})
                })
                .collect();
            json!({"id": format!("T{i:05}"), "name": format!("Town {i}"), "population": population,
                   "eligible": eligible, "first_dosed": first_dosed, "first_dose_waiting": waiting,
                   "stock_on_hand": stock, "capacity_per_day": capacity, "second_dose_queue": cohorts})
        })
        .collect();
    let doses = total_capacity * 6 / 10 / 6 * 6;
    json!({
        "schema": "vax-alloc-instance/1", "instance_id": format!("bench-{n}"), "run_date": run.to_string(),
        "product": {"id": "MRNA-A", "min_interval_days": 21, "max_interval_days": 56, "pack_size": 6},
        "shipment": {"doses": doses, "received_date": run.to_string()},
        "next_shipment": {"expected_date": (run + Duration::days(horizon)).to_string(),
                          "latest_date": (run + Duration::days(horizon + 3)).to_string()},
        "policy": {"name": "lex-v1", "reserve_safety_factor": 1.0},
        "towns": towns
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("allocation");
    group.sample_size(20);
    for n in [100usize, 1_000, 10_000] {
        let doc = generate(n, 7);
        let instance = parse_instance(&doc).expect("generated instance is valid");
        group.bench_with_input(BenchmarkId::new("plan", n), &instance, |b, inst| {
            b.iter(|| plan(inst))
        });
        group.bench_with_input(BenchmarkId::new("cli", n), &doc, |b, doc| {
            b.iter(|| run_cli(doc).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
