//! Two `dosewise serve` processes on one database keep the booking invariants, and neither
//! logs a resident's ID number.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use chrono::{Duration, Utc};
use futures::future::join_all;

use crate::helpers::{add_slot_at, add_stock, client, id_number, make_city, resident, TestDb};

pub struct Server {
    pub child: Child,
    url: String,
    log: Arc<Mutex<String>>,
    /// The threads copying the process's stdout and stderr into `log`.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Stop the process and return everything it wrote: its pipes are read to the end, so no
    /// line still on its way is missed.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in std::mem::take(&mut self.readers) {
            reader.join().expect("log reader");
        }
        let log = self.log.lock().unwrap().clone();
        log
    }
}

/// The request lines of a log for `route` that ended with `status`.
fn request_lines(log: &str, route: &str, status: u16) -> usize {
    log.lines()
        .filter(|l| {
            l.contains("request_id=")
                && l.contains(&format!("route={route} "))
                && l.contains(&format!("status={status} "))
        })
        .count()
}

fn start(db: &TestDb) -> Server {
    start_with(db, &["serve"], &[("DOSEWISE_MAIL_WORKER", "0")])
}

/// Start `dosewise ARGS` on the database with extra environment variables.
pub fn start_with(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Server {
    let mut child = crate::helpers::spawn(
        crate::helpers::dosewise_command(&db.url)
            .args(args)
            .envs(env.iter().copied())
            .env("DOSEWISE_BIND", "127.0.0.1:0")
            .env("DOSEWISE_WORKERS", "2")
            .env("DOSEWISE_RATE_BOOK", "0")
            .env("DOSEWISE_RATE_LOOKUP", "0")
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    let err_reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    for _ in 0..20 {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        log.lock().unwrap().push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("Dosewise is listening on ") {
            url = rest.trim_end_matches('/').to_string();
            break;
        }
    }
    assert!(
        !url.is_empty(),
        "server did not start: {}",
        log.lock().unwrap()
    );
    let sink = log.clone();
    let out_reader = std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            let mut log = sink.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    Server {
        child,
        url,
        log,
        readers: vec![err_reader, out_reader],
    }
}

#[actix_web::test]
async fn two_server_processes_on_one_database_never_oversell_a_slot() {
    let db = TestDb::new();
    let pools = dosewise::db::Db::connect(&db.url, 2).unwrap();
    let (slot, city) = {
        let mut c = pools.write.get().unwrap();
        let city = make_city(&mut c, "T001", 21, 56);
        add_stock(&mut c, city, 500);
        let start = Utc::now().naive_utc() + Duration::days(3);
        (add_slot_at(&mut c, city, start, 7, 0), city)
    };
    let a = start(&db);
    let b = start(&db);
    let http = client();
    let reqs = (0..80u32).map(|i| {
        let base = if i % 2 == 0 { a.url.clone() } else { b.url.clone() };
        let http = http.clone();
        async move {
            http.post(format!("{base}/api/v1/appointments"))
                .json(&serde_json::json!({"slot_id": slot.to_string(), "dose_number": 1, "resident": resident(3000 + i)}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = join_all(reqs).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        7,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    let mut c = pools.read.get().unwrap();
    assert_eq!(
        crate::helpers::count_where(&mut c, "appointments", "status = 'booked'"),
        7
    );
    let s = dosewise::models::slot::find(&mut c, dosewise::ids::SlotId(slot))
        .unwrap()
        .unwrap();
    assert_eq!(s.booked_first, 7);
    let bal = dosewise::models::stock::balances_for_site(&mut c, dosewise::ids::SiteId(city.site))
        .unwrap();
    assert_eq!(bal[0].promised, 7);

    // Nothing either process logged names a resident's ID number; both logs are read whole,
    // after the processes stop, and they did record every booking request.
    let logs = [a.stop(), b.stop()];
    let route = "/api/v1/appointments";
    for log in &logs {
        assert!(
            request_lines(log, route, 201) + request_lines(log, route, 409) >= 1,
            "each process served some bookings and logged them: {log}"
        );
    }
    let logged = |status| {
        logs.iter()
            .map(|l| request_lines(l, route, status))
            .sum::<usize>()
    };
    assert_eq!(logged(201), 7, "{logs:?}");
    assert_eq!(logged(409), 73, "{logs:?}");
    for i in 0..80u32 {
        let id = id_number(3000 + i);
        for log in &logs {
            assert!(!log.contains(&id), "ID number {id} in the log");
            assert!(!log.contains(&id[..14]), "ID number prefix in the log");
        }
    }
}

#[actix_web::test]
async fn server_logs_carry_a_line_per_request_and_no_personal_data() {
    let db = TestDb::new();
    let pools = dosewise::db::Db::connect(&db.url, 2).unwrap();
    let slot = {
        let mut c = pools.write.get().unwrap();
        let city = make_city(&mut c, "T001", 21, 56);
        add_stock(&mut c, city, 50);
        add_slot_at(
            &mut c,
            city,
            Utc::now().naive_utc() + Duration::days(2),
            5,
            0,
        )
    };
    let server = start(&db);
    let http = client();
    for i in 0..3u32 {
        let res = http
            .post(format!("{}/api/v1/appointments", server.url))
            .json(&serde_json::json!({"slot_id": slot.to_string(), "dose_number": 1, "resident": resident(i)}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let bad = http
        .post(format!("{}/api/v1/appointments", server.url))
        .json(&serde_json::json!({"slot_id": slot.to_string(), "dose_number": 1, "resident": {"id_number": "110105194912310021"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    // The whole log, read after the process has stopped.
    let log = server.stop();
    let route = "/api/v1/appointments";
    assert_eq!(request_lines(&log, route, 201), 3, "{log}");
    assert_eq!(request_lines(&log, route, 422), 1, "{log}");
    for i in 0..3u32 {
        let id = id_number(i);
        assert!(!log.contains(&id), "ID number in the log");
        assert!(!log.contains(&id[..14]), "ID number prefix in the log");
        assert!(
            !log.contains(&format!("139{i:08}")),
            "phone number in the log"
        );
    }
    assert!(!log.contains("110105194912310021"));
}
