//! The seams with the database: an outage is answered 503 with `Retry-After` within about two
//! seconds, in the visitor's language (JSON under `/api`), writes nothing, and passes without a
//! restart; `/readyz` fails while writes cannot commit, though `/healthz` (liveness) stays 200.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use dosewise::i18n::Lang;
use serde_json::Value;

use crate::helpers::{resident, resident_form, spawn_app, spawn_app_on, TestApp, TestDb};

/// What the proxy between the server and PostgreSQL does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forward both ways.
    Pass,
    /// Close every connection, and each new one at once (the database is down).
    Refuse,
    /// Accept, but forward nothing either way (a black-holed network, a hung server).
    Hang,
}

/// A TCP proxy on its own threads (the test's fixtures use the database synchronously).
struct Proxy {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let proxy = Proxy {
            port: listener.local_addr().unwrap().port(),
            mode: Arc::new(Mutex::new(Mode::Pass)),
            open: Arc::new(Mutex::new(Vec::new())),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (mode, open, stop) = (proxy.mode.clone(), proxy.open.clone(), proxy.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let client = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(e) => panic!("proxy accept: {e}"),
                };
                if *mode.lock().unwrap() == Mode::Refuse {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                {
                    let mut o = open.lock().unwrap();
                    o.push(client.try_clone().unwrap());
                    o.push(server.try_clone().unwrap());
                }
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let mode = mode.clone();
                    std::thread::spawn(move || pump(from, to, mode));
                }
            }
        });
        proxy
    }

    fn set(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
        if m == Mode::Refuse {
            for s in self.open.lock().unwrap().drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }

    /// Switch to an outage and let the server's read caches (at most a second old, see
    /// `web::cache`) run out, so every answer below has to come from the database.
    fn fail(&self, m: Mode) {
        self.set(m);
        std::thread::sleep(dosewise::web::cache::MAX_AGE + Duration::from_millis(100));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.set(Mode::Refuse);
    }
}

/// Copy `from` to `to`, holding what arrives while the mode is `Hang`.
fn pump(mut from: TcpStream, mut to: TcpStream, mode: Arc<Mutex<Mode>>) {
    from.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut held: Vec<u8> = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let m = *mode.lock().unwrap();
        if m == Mode::Refuse {
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
        if m == Mode::Pass && !held.is_empty() {
            if to.write_all(&held).is_err() {
                return;
            }
            held.clear();
        }
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                held.extend_from_slice(&buf[..n]);
                if *mode.lock().unwrap() == Mode::Pass {
                    if to.write_all(&held).is_err() {
                        return;
                    }
                    held.clear();
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let hp = rest.split('/').next().unwrap();
    if hp.contains(':') {
        hp.to_string()
    } else {
        format!("{hp}:5432")
    }
}

/// One request's outcome and how long it took.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: String,
    took: Duration,
}

async fn timed(req: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body = res.text().await.unwrap();
    Answer {
        status,
        retry_after,
        body,
        took: started.elapsed(),
    }
}

/// Assert a quick 503 with `Retry-After` whose body says `text`.
fn assert_unavailable(what: &str, a: &Answer, text: &str) {
    assert_eq!(a.status, 503, "{what}: {}", a.body);
    assert!(
        a.took < Duration::from_millis(3000),
        "{what} took {:?}",
        a.took
    );
    let secs: u32 = a
        .retry_after
        .as_deref()
        .unwrap_or_else(|| panic!("{what}: no Retry-After"))
        .parse()
        .unwrap();
    assert!((1..=60).contains(&secs), "{what}: Retry-After {secs}");
    assert!(a.body.contains(text), "{what}: {}", a.body);
}

/// The booking form for resident `who`, with a token fetched while the database was up.
fn book_form(who: u32, token: &str) -> Vec<(String, String)> {
    let mut form = resident_form(who);
    form.push(("csrf".into(), token.to_string()));
    form.push(("dose_number".into(), "1".into()));
    form
}

/// Poll `path` until it answers `status` (the server recovers without a restart).
async fn wait_for(app: &TestApp, path: &str, status: u16, within: Duration) {
    let started = Instant::now();
    loop {
        let got = app.get(path).await.status().as_u16();
        if got == status {
            return;
        }
        assert!(
            started.elapsed() < within,
            "{path} still answers {got} after {within:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
}

#[actix_web::test]
async fn a_database_outage_is_answered_503_quickly_in_the_visitors_language_and_passes() {
    let mut db = TestDb::new();
    if !db.is_postgres() {
        // An embedded SQLite file has no network to lose; the locked-database case below
        // covers SQLite.
        return;
    }
    let proxy = Proxy::start(host_port(&db.url));
    db.url = db
        .url
        .replacen(&host_port(&db.url), &format!("127.0.0.1:{}", proxy.port), 1);
    let app = spawn_app_on(db).await;
    let (city, slot) = app.city_with_slot(3, 10, 0, 10);
    let site_page = format!("{}/sites/{}", app.address, city.site);
    let token = app.csrf(&format!("/slots/{slot}/book")).await;
    assert_eq!(
        app.get(&format!("/sites/{}", city.site)).await.status(),
        200
    );
    let en = Lang::En.t("err.unavailable");
    let zh = Lang::Zh.t("err.unavailable");
    assert_ne!(en, zh);

    for (round, mode) in [Mode::Refuse, Mode::Hang].into_iter().enumerate() {
        proxy.fail(mode);
        let who = 10 * round as u32;
        let c = &app.client;
        let (page, book, availability, api_book, health) = futures::join!(
            timed(c.get(&site_page).header("accept-language", "en")),
            timed(
                c.post(format!("{}/slots/{slot}/book", app.address))
                    .form(&book_form(who + 1, &token))
            ),
            timed(
                c.get(format!(
                    "{}/api/v1/availability?site={}&date=2030-03-07",
                    app.address, city.site
                ))
                .header("accept-language", "en")
            ),
            timed(c.post(format!("{}/api/v1/appointments", app.address)).json(
                &serde_json::json!({
                    "slot_id": slot.to_string(), "dose_number": 1, "resident": resident(who + 2)
                })
            )),
            timed(c.get(format!("{}/healthz", app.address))),
        );
        let what = |w: &str| format!("{mode:?}: {w}");
        // The site page in English, the booking page in Chinese (the default).
        assert_unavailable(&what("site page"), &page, en);
        assert!(page.body.contains("<html"), "{}", page.body);
        assert_unavailable(&what("booking form"), &book, zh);
        assert!(book.body.contains("lang=\"zh-CN\""), "{}", book.body);
        // The API answers JSON, in the request's language too.
        assert_unavailable(&what("availability API"), &availability, en);
        let json: Value = serde_json::from_str(&availability.body).unwrap();
        assert_eq!(json["error"], en);
        assert_unavailable(&what("booking API"), &api_book, zh);
        let json: Value = serde_json::from_str(&api_book.body).unwrap();
        assert_eq!(json["error"], zh);
        assert_eq!(health.status, 503, "{mode:?}: healthz {}", health.body);

        // The database comes back: so does the service, without a restart, and nothing the
        // refused requests carried was written.
        proxy.set(Mode::Pass);
        wait_for(
            &app,
            &format!("/sites/{}", city.site),
            200,
            Duration::from_secs(15),
        )
        .await;
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.count("appointments", "1 = 1"), 0, "{mode:?}");
        assert_eq!(app.slot_counts(slot), (0, 0, 10), "{mode:?}");
    }
    let booked = app.book_api(slot, 1, &resident(99)).await;
    assert_eq!(booked.status(), 201, "{}", booked.text().await.unwrap());
    assert_eq!(app.count("appointments", "1 = 1"), 1);
    assert_eq!(app.slot_counts(slot), (1, 0, 10));
}

#[actix_web::test]
async fn readyz_fails_while_writes_cannot_commit_though_healthz_stays_200() {
    let app = spawn_app().await;
    let (_, slot) = app.city_with_slot(3, 10, 0, 10);
    let token = app.csrf(&format!("/slots/{slot}/book")).await;
    let ready = timed(app.client.get(format!("{}/readyz", app.address))).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(
        serde_json::from_str::<Value>(&ready.body).unwrap()["status"],
        "ready"
    );

    // Writes cannot commit: on SQLite another process holds the write lock (a stuck tool or
    // backup); on PostgreSQL the database turned read-only (as a standby is).
    let url = app.db.url.clone();
    let mut blocker = if app.db.is_postgres() {
        set_read_only(&url, true);
        None
    } else {
        let path = url.strip_prefix("sqlite://").unwrap();
        let mut c = diesel::SqliteConnection::establish(path).unwrap();
        c.batch_execute("BEGIN IMMEDIATE").unwrap();
        Some(c)
    };

    let health = timed(app.client.get(format!("{}/healthz", app.address))).await;
    assert_eq!(health.status, 200, "liveness: {}", health.body);
    let ready = timed(app.client.get(format!("{}/readyz", app.address))).await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.took < Duration::from_millis(3000), "{:?}", ready.took);
    assert!(ready.retry_after.is_some());
    assert_eq!(
        serde_json::from_str::<Value>(&ready.body).unwrap()["status"],
        "unavailable"
    );
    // A booking fails the same way (503, not a 500 or a hang), in the resident's language,
    // and writes nothing.
    let book = timed(
        app.client
            .post(format!("{}/slots/{slot}/book", app.address))
            .form(&book_form(1, &token)),
    )
    .await;
    assert_unavailable("booking", &book, Lang::Zh.t("err.unavailable"));

    // Writable again: ready again, and bookings go through.
    if let Some(c) = blocker.as_mut() {
        c.batch_execute("ROLLBACK").unwrap();
    } else {
        set_read_only(&url, false);
    }
    drop(blocker);
    wait_for(&app, "/readyz", 200, Duration::from_secs(15)).await;
    assert_eq!(app.count("appointments", "1 = 1"), 0);
    let booked = app.book_api(slot, 1, &resident(2)).await;
    assert_eq!(booked.status(), 201, "{}", booked.text().await.unwrap());
    assert_eq!(app.slot_counts(slot), (1, 0, 10));
}

/// Make the test's PostgreSQL database read-only (or writable), and end its sessions so the
/// server's connections reconnect under the new setting.
fn set_read_only(url: &str, on: bool) {
    let admin = std::env::var("TEST_DATABASE_URL").unwrap();
    let name = url.rsplit('/').next().unwrap();
    let mut c = diesel::PgConnection::establish(&admin).unwrap();
    let set = if on {
        "SET default_transaction_read_only = on"
    } else {
        "RESET default_transaction_read_only"
    };
    c.batch_execute(&format!(
        "ALTER DATABASE {name} {set}; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{name}' AND pid <> pg_backend_pid();"
    ))
    .unwrap();
}
