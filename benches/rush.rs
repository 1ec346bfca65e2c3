//! Opening day (issue 9, section 3): many distinct residents arrive within a few seconds for a
//! city's seats, from many loopback source addresses (all of 127.0.0.0/8 is local), so the
//! server's per-address limits stay on. Driven by `benches/run-rush.sh`, which generates the
//! city, starts the servers and runs the modes in turn:
//!
//! ```sh
//! rush --mode ceiling --url http://127.0.0.1:8300 --residents 20000 --seconds 30
//! rush --mode first   --url http://127.0.0.1:8201 --database-url sqlite://city.db ...
//! rush --mode draw    --url http://127.0.0.1:8202 --database-url sqlite://draw.db ...
//! ```
//!
//! Resident `i` arrives at `i * seconds / residents` after the start (open loop: a slow server
//! does not slow the arrivals), from source address number `i % addresses` (127.1.0.1 on,
//! see `source`), and asks for a seat of the next day at one of the first
//! `--sites` sites. `first`: the booking answers 201 (booked) or 409 with a reason. `draw`:
//! the request is an entry (202), and after the window each resident looks the entry up until
//! it is drawn or not drawn. A 429 is retried after its `Retry-After` (at most 3 times).
//! `ceiling`: the same requests' count as `GET /` on a bare actix-web handler, as fast as the
//! same clients go. Printed: requests/s, p50/p99, 5xx, 429, oversold seats and doses (read from
//! the database), residents without a definite answer, and for the draw the Spearman rank
//! correlation between arrival order and winning. Loopback only; bounded in time.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::{id_number, read_flags};
use tokio::sync::Semaphore;

struct Args {
    url: String,
    database_url: String,
    mode: String,
    residents: u32,
    seconds: u64,
    sites: usize,
    addresses: u32,
    in_flight: usize,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        database_url: String::new(),
        mode: "first".into(),
        residents: 20_000,
        seconds: 30,
        sites: 4,
        addresses: 4096,
        in_flight: 512,
    };
    read_flags(|flag, next| {
        match flag {
            "--url" => a.url = next,
            "--database-url" => a.database_url = next,
            "--mode" => a.mode = next,
            "--residents" => a.residents = next.parse().expect("--residents N"),
            "--seconds" => a.seconds = next.parse().expect("--seconds N"),
            "--sites" => a.sites = next.parse().expect("--sites N"),
            "--addresses" => a.addresses = next.parse().expect("--addresses N"),
            "--in-flight" => a.in_flight = next.parse().expect("--in-flight N"),
            _ => return false,
        }
        true
    });
    assert!(a.seconds <= 300, "runs are bounded to 300 s");
    assert!(a.residents > 0 && a.addresses > 0);
    a
}

/// The loopback source address of address number `k` (127.1.0.1 on).
fn source(k: u32) -> IpAddr {
    let n = k + 1;
    IpAddr::V4(Ipv4Addr::new(
        127,
        1 + ((n >> 16) % 200) as u8,
        (n >> 8) as u8,
        n as u8,
    ))
}

/// One resident's requests: status of each answer and its latency in microseconds.
#[derive(Default)]
struct Outcome {
    answers: Vec<(u16, u32)>,
    /// booked / refused / entered, with the entry code.
    definite: Option<String>,
    entry: Option<String>,
}

/// POST `body` to `url` from `client`, retrying a 429 after its `Retry-After` (at most 3
/// times). Returns the last status and body.
async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    out: &mut Outcome,
) -> (u16, Value) {
    for attempt in 0..4 {
        let t0 = Instant::now();
        let res = client.post(url).json(body).send().await;
        let (status, wait, v) = match res {
            Ok(r) => {
                let status = r.status().as_u16();
                let wait = r
                    .headers()
                    .get("retry-after")
                    .and_then(|h| h.to_str().ok())
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or(1);
                let v: Value = r.json().await.unwrap_or(Value::Null);
                (status, wait, v)
            }
            Err(_) => (0, 1, Value::Null),
        };
        out.answers.push((
            status,
            t0.elapsed().as_micros().min(u32::MAX as u128) as u32,
        ));
        if status != 429 || attempt == 3 {
            return (status, v);
        }
        tokio::time::sleep(Duration::from_secs(wait.min(5))).await;
    }
    (0, Value::Null)
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(url)
        .send()
        .await
        .expect("server reachable")
        .json()
        .await
        .expect("JSON")
}

/// A slot as the availability API gives it: id, free first-dose seats, when its draw window
/// closes and when it opens (RFC 3339).
type SlotInfo = (String, i64, Option<String>, Option<String>);

/// The next day's slots of the first `sites` sites.
async fn next_day_slots(client: &reqwest::Client, url: &str, sites: usize) -> Vec<SlotInfo> {
    let towns = get_json(client, &format!("{url}/api/v1/towns")).await;
    let site_ids: Vec<String> = towns
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["sites"].as_array().unwrap().clone())
        .map(|s| s["id"].as_str().unwrap().to_string())
        .take(sites)
        .collect();
    let mut out = Vec::new();
    for site in &site_ids {
        let today = get_json(client, &format!("{url}/api/v1/availability?site={site}")).await;
        let date = chrono::NaiveDate::parse_from_str(today["date"].as_str().unwrap(), "%Y-%m-%d")
            .unwrap()
            + chrono::Duration::days(1);
        let v = get_json(
            client,
            &format!("{url}/api/v1/availability?site={site}&date={date}"),
        )
        .await;
        for s in v["slots"].as_array().unwrap() {
            out.push((
                s["id"].as_str().unwrap().to_string(),
                s["free_first_dose"].as_i64().unwrap_or(0),
                s["draw_closes_at"].as_str().map(str::to_string),
                s["opens_at"].as_str().map(str::to_string),
            ));
        }
    }
    out
}

/// Percentile `p` (0-100) of sorted latencies, in milliseconds.
fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// Average ranks (1-based) of `xs`, ties sharing their mean rank.
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..xs.len()).collect();
    idx.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut r = vec![0.0; xs.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && xs[idx[j + 1]] == xs[idx[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = mean;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation: Pearson's correlation of the average ranks.
fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let (rx, ry) = (ranks(x), ranks(y));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Rows over their limits, read from the database: slots holding more bookings than seats,
/// slots whose active appointments exceed their seats, sites that promised more doses than
/// they hold.
fn oversold(database_url: &str) -> (i64, i64, i64) {
    use diesel::sql_types::BigInt;
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let db = dosewise::db::Db::connect(database_url, 1).expect("database");
    let mut c = db.read.get().expect("connection");
    let mut count = |sql: &str| -> i64 {
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {sql}"))
            .get_result::<N>(&mut c)
            .expect("count")
            .n
    };
    (
        count("slots WHERE booked_first + booked_second > seats"),
        count(
            "slots s WHERE (SELECT COUNT(*) FROM appointments a \
             WHERE a.slot_id = s.id AND a.status = 'booked') > s.seats",
        ),
        count("stock_balances WHERE promised > on_hand"),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let a = args();
    let url = a.url.clone();
    let clients: Arc<Vec<reqwest::Client>> = Arc::new(
        (0..a.addresses)
            .map(|k| {
                reqwest::Client::builder()
                    .local_address(source(k))
                    .pool_max_idle_per_host(1)
                    .pool_idle_timeout(Duration::from_secs(5))
                    .build()
                    .unwrap()
            })
            .collect(),
    );
    let salt = (chrono::Utc::now().timestamp() % 100_000) as u32;
    let probe = reqwest::Client::new();
    let slots: Arc<Vec<SlotInfo>> = Arc::new(if a.mode == "ceiling" {
        Vec::new()
    } else {
        next_day_slots(&probe, &url, a.sites).await
    });
    let seats: i64 = slots.iter().map(|s| s.1).sum();
    if a.mode != "ceiling" {
        assert!(
            !slots.is_empty(),
            "no slots tomorrow: generate a city first"
        );
    }
    println!(
        "mode {}: {} residents in {} s from {} addresses, {} slots with {} first-dose seats",
        a.mode,
        a.residents,
        a.seconds,
        a.addresses,
        slots.len(),
        seats
    );

    // An announced release: the rush starts when the seats open.
    let opens = slots
        .iter()
        .filter_map(|s| s.3.as_deref())
        .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .max();
    if let Some(opens) = opens {
        let left = (opens.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
        if left > 0 {
            println!("waiting {:.1} s for the release", left as f64 / 1000.0);
            tokio::time::sleep(Duration::from_millis(left as u64 + 200)).await;
        }
    }

    // The arrivals.
    let gate = Arc::new(Semaphore::new(a.in_flight));
    let started = Instant::now();
    let step = Duration::from_secs(a.seconds).as_secs_f64() / f64::from(a.residents);
    let mut tasks = Vec::with_capacity(a.residents as usize);
    for i in 0..a.residents {
        let (clients, slots, gate, url, mode) = (
            clients.clone(),
            slots.clone(),
            gate.clone(),
            url.clone(),
            a.mode.clone(),
        );
        let at = started + Duration::from_secs_f64(step * f64::from(i));
        let client_k = (i % a.addresses) as usize;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let _permit = gate.acquire().await.unwrap();
            let client = &clients[client_k];
            let mut out = Outcome::default();
            if mode == "ceiling" {
                let t0 = Instant::now();
                let status = match client.get(format!("{url}/")).send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
                out.answers.push((status, t0.elapsed().as_micros() as u32));
                out.definite = (status == 200).then(|| "ok".into());
                return (i, out);
            }
            // Residents ask for seats spread over the day's slots (a multiplicative hash).
            let slot = &slots[(i as usize).wrapping_mul(2_654_435_761) % slots.len()].0;
            let body = json!({
                "slot_id": slot,
                "dose_number": 1,
                "resident": {"id_number": id_number(i, salt), "name": "测试居民",
                             "phone": format!("138{:08}", i),
                             "email": format!("rush{i}@example.com")}
            });
            let (status, v) = post(
                client,
                &format!("{url}/api/v1/appointments"),
                &body,
                &mut out,
            )
            .await;
            out.definite = match status {
                201 => Some("booked".into()),
                409 if v["error"].as_str().is_some_and(|e| !e.is_empty()) => Some("refused".into()),
                202 => {
                    out.entry = v["entry"].as_str().map(str::to_string);
                    out.entry.as_ref().map(|_| "entered".into())
                }
                _ => None,
            };
            (i, out)
        }));
    }
    let mut outcomes: HashMap<u32, Outcome> = HashMap::new();
    for t in tasks {
        let (i, o) = t.await.unwrap();
        outcomes.insert(i, o);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut lat: Vec<u32> = outcomes
        .values()
        .flat_map(|o| o.answers.iter().map(|a| a.1))
        .collect();
    lat.sort_unstable();
    let count = |f: &dyn Fn(u16) -> bool| -> usize {
        outcomes
            .values()
            .flat_map(|o| o.answers.iter())
            .filter(|a| f(a.0))
            .count()
    };
    let requests = lat.len();
    let mut by_status: Vec<(u16, usize)> = {
        let mut m: HashMap<u16, usize> = HashMap::new();
        for o in outcomes.values() {
            for a in &o.answers {
                *m.entry(a.0).or_default() += 1;
            }
        }
        m.into_iter().collect()
    };
    by_status.sort();
    println!(
        "requests {requests} in {elapsed:.1} s = {:.0} req/s; p50 {:.1} ms, p99 {:.1} ms; \
         5xx {}, 429 {}, failed {}; statuses {by_status:?}",
        requests as f64 / elapsed,
        pct(&lat, 50.0),
        pct(&lat, 99.0),
        count(&|s| s >= 500),
        count(&|s| s == 429),
        count(&|s| s == 0),
    );
    if a.mode == "ceiling" {
        return;
    }

    // The draw: wait for the windows to close and the server's draw runner, then each entrant
    // looks the entry up until it is decided (bounded).
    let mut won: HashMap<u32, bool> = HashMap::new();
    if a.mode == "draw" {
        let closes = slots
            .iter()
            .filter_map(|s| s.2.as_deref())
            .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .max();
        if let Some(closes) = closes {
            let left = (closes.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .num_milliseconds()
                .max(0);
            println!(
                "waiting {:.1} s for the draw window to close",
                left as f64 / 1000.0
            );
            tokio::time::sleep(Duration::from_millis(left as u64 + 1500)).await;
        }
        let lookups_started = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut lookups = Vec::new();
        for (&i, o) in &outcomes {
            let Some(code) = o.entry.clone() else {
                continue;
            };
            let (clients, gate, url) = (clients.clone(), gate.clone(), url.clone());
            // Another address than the entry's: the look-up limit is its own.
            let client_k = ((i + a.addresses / 2) % a.addresses) as usize;
            lookups.push(tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                let body = json!({"entry": code, "id_number": id_number(i, salt)});
                let mut scratch = Outcome::default();
                loop {
                    let (status, v) = post(
                        &clients[client_k],
                        &format!("{url}/api/v1/entries/lookup"),
                        &body,
                        &mut scratch,
                    )
                    .await;
                    match (status, v["status"].as_str()) {
                        (200, Some("drawn")) => return (i, Some(true)),
                        (200, Some("not_drawn")) => return (i, Some(false)),
                        _ if Instant::now() > deadline => return (i, None),
                        _ => tokio::time::sleep(Duration::from_millis(500)).await,
                    }
                }
            }));
        }
        for l in lookups {
            let (i, r) = l.await.unwrap();
            match r {
                Some(w) => {
                    won.insert(i, w);
                }
                None => {
                    if let Some(o) = outcomes.get_mut(&i) {
                        o.definite = None;
                    }
                }
            }
        }
        println!(
            "draw decided for {} entries, looked up in {:.1} s",
            won.len(),
            lookups_started.elapsed().as_secs_f64()
        );
    }

    let undecided = outcomes.values().filter(|o| o.definite.is_none()).count();
    let booked = outcomes
        .values()
        .filter(|o| o.definite.as_deref() == Some("booked"))
        .count();
    let refused = outcomes
        .values()
        .filter(|o| o.definite.as_deref() == Some("refused"))
        .count();
    let winners = won.values().filter(|w| **w).count();
    println!(
        "residents {}: booked {booked}, refused with a reason {refused}, drawn {winners}, \
         not drawn {}; without a definite answer {undecided}",
        a.residents,
        won.len() - winners
    );
    if a.mode == "draw" && !won.is_empty() {
        let mut pairs: Vec<(u32, bool)> = won.iter().map(|(i, w)| (*i, *w)).collect();
        pairs.sort();
        let x: Vec<f64> = pairs.iter().map(|p| f64::from(p.0)).collect();
        let y: Vec<f64> = pairs.iter().map(|p| if p.1 { 1.0 } else { 0.0 }).collect();
        let rho = spearman(&x, &y);
        let z = rho * ((x.len() - 1) as f64).sqrt();
        let verdict = if z.abs() < 1.96 {
            "|z| < 1.96: indistinguishable from 0 at 5 %"
        } else {
            "|z| >= 1.96: outside the 5 % band, as a fair draw is once in 20 runs; run again"
        };
        println!("arrival order vs winning: Spearman rho {rho:+.4} (z {z:+.2}; {verdict})");
    }
    if !a.database_url.is_empty() {
        let (slots_over, appts_over, stock_over) = oversold(&a.database_url);
        println!(
            "oversold: slots over their seats {slots_over}, slots with more active \
             appointments than seats {appts_over}, sites promising more doses than held \
             {stock_over}"
        );
    }
}
