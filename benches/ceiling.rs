//! The ceilings every figure in BENCHMARKS.md is compared with, measured in the same run:
//!
//! ```sh
//! cargo bench --bench ceiling -- http 127.0.0.1:8300          # a bare actix-web handler
//! cargo bench --bench ceiling -- tx DATABASE_URL server 10    # the booking transaction, no HTTP
//! ```
//!
//! `http` serves `GET /` -> "ok" with the same number of workers as `dosewise serve` (until
//! killed). `tx` books new residents on the free first-dose slots of a generated city through
//! `dosewise::booking::book` for S seconds, and prints bookings/s and latency percentiles in the
//! same format as the load harness. It runs as `serve` would with the same environment: the
//! same settings (`DOSEWISE_POOL_SIZE`, the contact cap, ...), the same pool, and by default
//! (`server`) as many threads as `serve` has blocking threads (workers x (pool + 2)), so as
//! many transactions run at once as in the server; a number gives that many threads instead.
//! Each booking picks its slot as the load harness does (`benches/load.rs`), spread over all
//! free slots, so both meet the same row contention.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dosewise::booking::{self, ResidentDetails, Rules};
use dosewise::config::Settings;
use dosewise::db::Db;
use dosewise::domain::{Email, IdNumber, PersonName, Phone};
use dosewise::ids::{SiteId, SlotId};
use dosewise::models::{site, slot};
use dosewise::security::Keys;
use dosewise::startup::master_secret;

fn main() {
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match argv.first().map(String::as_str) {
        Some("http") => http(argv.get(1).map_or("127.0.0.1:8300", String::as_str)),
        Some("tx") => tx(
            argv.get(1)
                .expect("tx DATABASE_URL [THREADS|server] [SECONDS]"),
            argv.get(2)
                .filter(|n| *n != "server")
                .map(|n| n.parse().expect("THREADS")),
            argv.get(3).map_or(10, |n| n.parse().expect("SECONDS")),
        ),
        _ => eprintln!(
            "usage: ceiling http ADDR | ceiling tx DATABASE_URL [THREADS|server] [SECONDS]"
        ),
    }
}

/// A bare actix-web handler, with as many workers as `dosewise serve` uses by default.
fn http(addr: &str) {
    let workers = Settings::defaults().workers;
    actix_web::rt::System::new()
        .block_on(
            actix_web::HttpServer::new(|| {
                actix_web::App::new().route("/", actix_web::web::get().to(|| async { "ok" }))
            })
            .workers(workers)
            .bind(addr)
            .expect("bind")
            .run(),
        )
        .expect("serve");
}

/// A distinct valid ID number for booking `n`.
fn id_number(n: u32, salt: u32) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).unwrap()
        + chrono::Days::new(u64::from(n % 18_000));
    let first17 = format!(
        "{:06}{}{:03}",
        200_000 + (salt % 500) * 1000 + (n / 18_000) % 1000,
        birth.format("%Y%m%d"),
        n % 1000
    );
    IdNumber::with_check_digit(&first17)
        .unwrap()
        .expose()
        .to_string()
}

/// The booking transaction in a tight loop, without HTTP, from `threads` threads (default: as
/// many as `serve` has blocking threads with the same settings).
fn tx(url: &str, threads: Option<usize>, seconds: u64) {
    let mut settings = Settings::from_env().expect("settings");
    settings.database_url = url.to_string();
    let threads =
        threads.unwrap_or_else(|| settings.workers * settings.blocking_threads_per_worker());
    let db = Arc::new(Db::connect_with(url, &settings.db_options()).expect("database"));
    let keys = Arc::new(Keys::derive(
        &master_secret(&settings, &db).expect("secret"),
    ));
    let now = chrono::Utc::now().naive_utc();
    let slots: Vec<i64> = {
        let mut c = db.read.get().unwrap();
        let sites: Vec<i64> = site::list_active(&mut c)
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        let ids: Vec<SiteId> = sites.into_iter().map(SiteId).collect();
        let mut out = Vec::new();
        for s in &ids {
            let day = now + chrono::Duration::days(1);
            for sl in slot::list_for_site_between(&mut c, *s, day, day + chrono::Duration::days(2))
                .unwrap()
            {
                if sl.free_first(now, settings.second_dose_release_hours) > 0 {
                    out.push(sl.id);
                }
            }
        }
        out
    };
    assert!(
        !slots.is_empty(),
        "no free slots: run `dosewise demo-data` first"
    );
    let salt = (now.and_utc().timestamp() % 100_000) as u32;
    let (cap, release_hours) = (settings.contact_day_cap, settings.second_dose_release_hours);
    let settings_tz = settings.time_zone;
    let next = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let lat = Arc::new(Mutex::new(Vec::<f64>::new()));
    let ok = Arc::new(AtomicU32::new(0));
    let refused = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (db, keys, next, stop, lat, ok, refused, slots) = (
                db.clone(),
                keys.clone(),
                next.clone(),
                stop.clone(),
                lat.clone(),
                ok.clone(),
                refused.clone(),
                slots.clone(),
            );
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let who = ResidentDetails {
                        id_number: IdNumber::parse(&id_number(n, salt)).unwrap(),
                        name: PersonName::parse("测试").unwrap(),
                        phone: Phone::parse(&format!("139{:08}", n)).unwrap(),
                        email: Email::parse(&format!("t{n}@example.com")).unwrap(),
                        lang: "zh-CN".into(),
                    };
                    let rules = Rules {
                        now: chrono::Utc::now().naive_utc(),
                        release_hours,
                        tz: settings_tz,
                    };
                    // Spread as the load harness spreads its bookings (not slot after slot, which
                    // would send concurrent bookings to one site's stock row).
                    let slot =
                        SlotId(slots[(n as usize).wrapping_mul(2_654_435_761) % slots.len()]);
                    let t = Instant::now();
                    // The server's per-contact cap (its default), as `serve` books: the same
                    // transaction, locks and counts included.
                    let ask = booking::Request {
                        slot_id: slot,
                        dose: 1,
                        contact_cap: cap,
                    };
                    match booking::book(&db, &keys, rules, ask, &who) {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(_) => refused.fetch_add(1, Ordering::Relaxed),
                    };
                    mine.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                lat.lock().unwrap().extend(mine);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let mut l = lat.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)));
    println!(
        "booking transaction without HTTP: {threads} threads on {} connections, {secs:.1} s: {:.0} confirmed/s, \
         {} refused, p50 {:.1} ms, p99 {:.1} ms",
        settings.pool_size,
        f64::from(ok.load(Ordering::Relaxed)) / secs,
        refused.load(Ordering::Relaxed),
        pct(0.5).copied().unwrap_or(0.0),
        pct(0.99).copied().unwrap_or(0.0),
    );
}
