//! Load harness: drives a running `dosewise serve` over HTTP with many concurrent clients.
//!
//! ```sh
//! cargo bench --bench load -- --url http://127.0.0.1:8080 --mode book --concurrency 64 --seconds 10
//! ```
//!
//! Modes: `book` (POST /api/v1/appointments, a new valid resident per request, spread over the
//! free slots of the next days), `site` (GET /sites/{id}, the day page), `availability`
//! (GET /api/v1/availability). It prints throughput, the share of each status, and latency
//! percentiles. Bounded in time; it sends traffic only to the URL it is given (use loopback).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use serde_json::{json, Value};

mod common;
use common::{id_number, read_flags};

struct Args {
    url: String,
    mode: String,
    concurrency: usize,
    seconds: u64,
    days_ahead: i64,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        mode: "book".into(),
        concurrency: 64,
        seconds: 10,
        days_ahead: 3,
    };
    read_flags(|flag, next| {
        match flag {
            "--url" => a.url = next,
            "--mode" => a.mode = next,
            "--concurrency" => a.concurrency = next.parse().expect("--concurrency N"),
            "--seconds" => a.seconds = next.parse().expect("--seconds N"),
            "--days-ahead" => a.days_ahead = next.parse().expect("--days-ahead N"),
            _ => return false,
        }
        true
    });
    assert!(a.seconds <= 300, "runs are bounded to 300 s");
    a
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let a = args();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()
        .unwrap();
    let towns: Value = client
        .get(format!("{}/api/v1/towns", a.url))
        .send()
        .await
        .expect("server reachable")
        .json()
        .await
        .unwrap();
    let sites: Vec<String> = towns
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| {
            t["sites"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string())
        })
        .collect();
    let mut slots: Vec<String> = Vec::new();
    if a.mode == "book" {
        let today = Utc::now().date_naive();
        for site in &sites {
            for d in 1..=a.days_ahead {
                let date = today + Days::days(d);
                let v: Value = client
                    .get(format!(
                        "{}/api/v1/availability?site={site}&date={date}",
                        a.url
                    ))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                for s in v["slots"].as_array().unwrap() {
                    if s["free_first_dose"].as_i64().unwrap_or(0) > 0 {
                        slots.push(s["id"].as_str().unwrap().to_string());
                    }
                }
            }
        }
        assert!(
            !slots.is_empty(),
            "no free slots: run `dosewise demo-data` on an empty database first"
        );
    }
    let salt = (Utc::now().timestamp() % 100_000) as u32;
    println!(
        "mode {} against {}: {} sites, {} open slots, {} clients, {} s",
        a.mode,
        a.url,
        sites.len(),
        slots.len(),
        a.concurrency,
        a.seconds
    );
    let counter = Arc::new(AtomicU32::new(0));
    let sites = Arc::new(sites);
    let slots = Arc::new(slots);
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (client, counter, sites, slots, url, mode) = (
            client.clone(),
            counter.clone(),
            sites.clone(),
            slots.clone(),
            a.url.clone(),
            a.mode.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut out: Vec<(u16, u32)> = Vec::new();
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t0 = Instant::now();
                let res = match mode.as_str() {
                    "book" => {
                        let slot = &slots[(n as usize).wrapping_mul(2_654_435_761) % slots.len()];
                        client
                            .post(format!("{url}/api/v1/appointments"))
                            .json(&json!({
                                "slot_id": slot,
                                "dose_number": 1,
                                "resident": {"id_number": id_number(n, salt), "name": "测试居民",
                                             "phone": format!("139{:08}", n % 100_000_000),
                                             "email": format!("load{n}@example.com")}
                            }))
                            .send()
                            .await
                    }
                    "site" => {
                        client
                            .get(format!("{url}/sites/{}", sites[n as usize % sites.len()]))
                            .send()
                            .await
                    }
                    _ => {
                        client
                            .get(format!(
                                "{url}/api/v1/availability?site={}",
                                sites[n as usize % sites.len()]
                            ))
                            .send()
                            .await
                    }
                };
                let status = match res {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
                out.push((status, t0.elapsed().as_micros() as u32));
            }
            out
        }));
    }
    let mut all: Vec<(u16, u32)> = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    let mut lat: Vec<u32> = all.iter().map(|x| x.1).collect();
    lat.sort_unstable();
    let pct = |p: f64| f64::from(lat[((lat.len() as f64 - 1.0) * p) as usize]) / 1000.0;
    let mut by_status = std::collections::BTreeMap::new();
    for (s, _) in &all {
        *by_status.entry(*s).or_insert(0u64) += 1;
    }
    let ok = by_status
        .get(&201)
        .or(by_status.get(&200))
        .copied()
        .unwrap_or(0);
    println!(
        "requests {} in {secs:.1} s: {:.0} req/s",
        all.len(),
        all.len() as f64 / secs
    );
    println!("successful (200/201): {ok}, {:.0}/s", ok as f64 / secs);
    println!("statuses: {by_status:?}");
    println!(
        "latency ms: p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
}
