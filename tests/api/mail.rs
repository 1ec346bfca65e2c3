//! Mail: the outbox is written with the change, the worker delivers through a real SMTP server,
//! retries when it is down, and several workers deliver each message once.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::Duration;
use mailparse::{MailHeaderMap, ParsedMail};
use serde_json::json;

use crate::helpers::{
    give_dose, id_number, resident, spawn_app, spawn_app_with, test_now, TestApp, TestDb,
};
use crate::smtp::Sink;

fn parse(raw: &[u8]) -> ParsedMail<'_> {
    mailparse::parse_mail(raw).expect("a valid RFC 5322 message")
}

/// Every leaf part's (content type, decoded body).
fn parts(m: &ParsedMail<'_>) -> Vec<(String, String)> {
    if m.subparts.is_empty() {
        vec![(m.ctype.mimetype.clone(), m.get_body().unwrap_or_default())]
    } else {
        m.subparts.iter().flat_map(parts).collect()
    }
}

fn subjects(app: &TestApp) -> Vec<String> {
    app.sent_mail()
        .iter()
        .map(|raw| {
            parse(raw)
                .headers
                .get_first_value("Subject")
                .unwrap_or_default()
        })
        .collect()
}

#[actix_web::test]
async fn a_booking_queues_its_confirmation_with_a_calendar_file_and_a_refused_one_queues_nothing() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = app.add_slot(city, 2, 1, 0);
    app.add_stock(city, 10);
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    assert_eq!(app.book_api(slot, 1, &resident(2)).await.status(), 409);
    assert_eq!(
        app.count("outbox", "status = 'pending'"),
        1,
        "only the committed booking has mail"
    );

    let report = app.deliver_mail().await;
    assert_eq!(report.sent, 1);
    assert_eq!(app.count("outbox", "status = 'sent'"), 1);
    let raw = app.sent_mail().remove(0);
    let m = parse(&raw);
    let subject = m.headers.get_first_value("Subject").unwrap();
    assert!(
        subject.contains("预约成功") && subject.contains("测试接种点"),
        "{subject}"
    );
    assert!(
        String::from_utf8_lossy(&raw).contains("=?utf-8?"),
        "non-ASCII subject is encoded"
    );
    assert_eq!(m.headers.get_first_value("To").unwrap(), "r1@example.com");
    let message_id = m.headers.get_first_value("Message-ID").unwrap();
    assert!(message_id.ends_with("@dosewise>"));
    let all = parts(&m);
    let text = all
        .iter()
        .find(|p| p.0 == "text/plain")
        .expect("a text part");
    let html = all
        .iter()
        .find(|p| p.0 == "text/html")
        .expect("an HTML part");
    let ics = all
        .iter()
        .find(|p| p.0 == "text/calendar")
        .expect("a calendar attachment");
    assert!(
        text.1.contains("人民路1号") && text.1.contains("/find"),
        "{}",
        text.1
    );
    assert!(html.1.contains("<table") && html.1.contains("测试接种点"));
    assert!(!text.1.contains(&id_number(1)), "no ID number in mail");
    assert!(ics.1.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(ics.1.contains("DTSTART:20300306T020000Z"), "{}", ics.1);
    assert!(ics.1.contains("LOCATION:测试接种点 人民路1号"));
    assert!(ics.1.contains("BEGIN:VALARM"));

    // Delivered once: another pass sends nothing.
    assert_eq!(app.deliver_mail().await.sent, 0);
}

#[actix_web::test]
async fn moving_and_cancelling_are_mailed_and_the_first_person_waiting_hears_of_the_seat() {
    let app = spawn_app().await;
    let city = app.city();
    // The town's only slot is full: two people wait, in order.
    let a = app.add_slot(city, 2, 1, 0);
    app.add_stock(city, 10);
    let booked: serde_json::Value = app.book_api(a, 1, &resident(1)).await.json().await.unwrap();
    for who in [5u32, 6] {
        app.clock.set(app.clock_now() + Duration::seconds(1));
        let token = app.csrf(&format!("/towns/{}", city.town)).await;
        let mut form = crate::helpers::resident_form(who);
        form.push(("csrf".into(), token));
        let res = app
            .client
            .post(format!("{}/towns/{}/wait", app.address, city.town))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let code = booked["code"].as_str().unwrap().to_string();
    let res = app
        .post_json(
            "/api/v1/appointments/cancel",
            &json!({"code": code, "id_number": id_number(1)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.deliver_mail().await;
    let subjects = subjects(&app);
    assert!(
        subjects.iter().any(|s| s.contains("预约成功")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("预约已取消")),
        "{subjects:?}"
    );
    let seats: Vec<_> = app
        .sent_mail()
        .iter()
        .map(|raw| parse(raw))
        .filter(|m| {
            m.headers
                .get_first_value("Subject")
                .unwrap_or_default()
                .contains("新的接种名额")
        })
        .map(|m| m.headers.get_first_value("To").unwrap())
        .collect();
    assert_eq!(
        seats,
        vec!["r5@example.com".to_string()],
        "one seat, the first in line"
    );
    let cancel = app
        .sent_mail()
        .into_iter()
        .find(|raw| {
            String::from_utf8_lossy(raw).contains("METHOD:CANCEL")
                || parse(raw)
                    .headers
                    .get_first_value("Subject")
                    .unwrap_or_default()
                    .contains("取消")
        })
        .unwrap();
    assert!(parts(&parse(&cancel))
        .iter()
        .any(|p| p.1.contains("STATUS:CANCELLED")));
}

#[actix_web::test]
async fn reminders_go_the_day_before_once_and_not_for_cancelled_appointments() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = app.add_slot(city, 2, 5, 0); // 2030-03-06 10:00 Shanghai
    app.add_stock(city, 10);
    let kept: serde_json::Value = app
        .book_api(slot, 1, &resident(1))
        .await
        .json()
        .await
        .unwrap();
    let dropped: serde_json::Value = app
        .book_api(slot, 1, &resident(2))
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .post_json(
            "/api/v1/appointments/cancel",
            &json!({"code": dropped["code"], "id_number": id_number(2)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.deliver_mail().await;
    assert_eq!(
        app.count("outbox", "kind = 'reminder'"),
        0,
        "more than a day ahead: no reminder yet"
    );

    app.clock
        .set(test_now() + Duration::days(1) + Duration::hours(2));
    app.deliver_mail().await;
    app.deliver_mail().await;
    let reminders: Vec<String> = subjects(&app)
        .into_iter()
        .filter(|s| s.contains("明天接种提醒"))
        .collect();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert_eq!(app.count("outbox", "kind = 'reminder'"), 1);
    let _ = kept;
}

#[actix_web::test]
async fn second_dose_messages_follow_the_window_and_stop_once_dose_two_is_booked() {
    let app = spawn_app().await;
    let city = app.city(); // 21-56 days
    let first = app.add_slot(city, 0, 5, 0);
    app.add_stock(city, 10);
    assert_eq!(app.book_api(first, 1, &resident(1)).await.status(), 201);
    give_dose(&app, city, &id_number(1), 1, 0);
    app.deliver_mail().await;
    assert!(
        subjects(&app).iter().any(|s| s.contains("第 2 剂接种时间")),
        "{:?}",
        subjects(&app)
    );

    app.clock
        .set(test_now() + Duration::days(21) + Duration::hours(1));
    app.deliver_mail().await;
    assert!(
        subjects(&app)
            .iter()
            .any(|s| s.contains("现在可以预约第 2 剂")),
        "{:?}",
        subjects(&app)
    );

    // Dose 2 booked: the last call is queued but not sent.
    let second = app.add_slot(city, 30, 5, 0);
    assert_eq!(app.book_api(second, 2, &resident(1)).await.status(), 201);
    app.clock.set(test_now() + Duration::days(54));
    let report = app.deliver_mail().await;
    assert!(report.skipped >= 1, "{report:?}");
    assert!(
        !subjects(&app).iter().any(|s| s.contains("即将超过")),
        "{:?}",
        subjects(&app)
    );
}

#[actix_web::test]
async fn messages_arrive_through_a_real_smtp_server_and_survive_it_going_down() {
    let store = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink::start(0, store.clone());
    let port = sink.port;
    let transport = dosewise::mail::Transport::from_settings(Some(&sink.url()), "unused").unwrap();
    let app = spawn_app_with(TestDb::new(), transport, Arc::new(Mutex::new(Vec::new()))).await;
    let city = app.city();
    let slot = app.add_slot(city, 2, 20, 0);
    app.add_stock(city, 20);
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    assert_eq!(app.deliver_mail().await.sent, 1);
    {
        let got = store.lock().unwrap();
        assert_eq!(got.len(), 1);
        let m = mailparse::parse_mail(got[0].as_bytes()).unwrap();
        assert!(m
            .headers
            .get_first_value("Subject")
            .unwrap()
            .contains("预约成功"));
        assert!(parts(&m).iter().any(|p| p.0 == "text/calendar"));
    }

    // The server goes down: nothing is lost, attempts are counted, retries are scheduled.
    sink.stop();
    for i in 2..=6 {
        assert_eq!(
            app.book_api(slot, 1, &resident(i)).await.status(),
            201,
            "bookings never wait for mail"
        );
    }
    let report = app.deliver_mail().await;
    assert_eq!((report.sent, report.retried), (0, 5), "{report:?}");
    assert_eq!(
        app.count(
            "outbox",
            "status = 'pending' AND attempts = 1 AND last_error IS NOT NULL"
        ),
        5
    );
    assert_eq!(
        app.deliver_mail().await.sent,
        0,
        "not retried before the backoff"
    );

    // It comes back on the same port; once the backoff has passed, everything arrives, once.
    let sink = Sink::start(port, store.clone());
    app.clock.set(test_now() + Duration::minutes(5));
    assert_eq!(app.deliver_mail().await.sent, 5);
    assert_eq!(app.deliver_mail().await.sent, 0);
    let ids: HashSet<String> = store
        .lock()
        .unwrap()
        .iter()
        .map(|raw| {
            mailparse::parse_mail(raw.as_bytes())
                .unwrap()
                .headers
                .get_first_value("Message-ID")
                .unwrap()
        })
        .collect();
    assert_eq!((ids.len(), store.lock().unwrap().len()), (6, 6));
    sink.stop();
}

#[actix_web::test]
async fn a_message_that_keeps_failing_is_marked_failed_for_the_bureau() {
    let transport =
        dosewise::mail::Transport::from_settings(Some("smtp://127.0.0.1:1"), "unused").unwrap();
    let app = spawn_app_with(TestDb::new(), transport, Arc::new(Mutex::new(Vec::new()))).await;
    let city = app.city();
    let slot = app.add_slot(city, 2, 5, 0);
    app.add_stock(city, 5);
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    for hour in 1..=12 {
        app.clock.set(test_now() + Duration::days(hour));
        app.deliver_mail().await;
    }
    assert_eq!(
        app.count("outbox", "status = 'failed' AND kind = 'booked'"),
        1
    );
    let bureau = crate::helpers::staff_client(&app, "bureau", None).await;
    let page = bureau
        .get(format!("{}/bureau/mail", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("booked") && page.contains("r1***@example.com"),
        "{page}"
    );
}

#[actix_web::test]
async fn two_worker_processes_on_one_database_deliver_each_message_exactly_once() {
    let store = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink::start(0, store.clone());
    let app = spawn_app().await;
    let city = app.city();
    let slots: Vec<i64> = (0..4).map(|d| app.add_slot(city, 2 + d, 40, 0)).collect();
    app.add_stock(city, 200);
    for i in 0..120u32 {
        assert_eq!(
            app.book_api(slots[i as usize % 4], 1, &resident(100 + i))
                .await
                .status(),
            201
        );
    }
    // The processes run on the real clock.
    {
        use diesel::prelude::*;
        use dosewise::db::schema::outbox;
        let past = chrono::Utc::now().naive_utc() - Duration::minutes(1);
        diesel::update(outbox::table)
            .set(outbox::next_attempt_at.eq(past))
            .execute(&mut *app.conn())
            .unwrap();
    }
    let spawn = || {
        crate::helpers::spawn(
            std::process::Command::new(env!("CARGO_BIN_EXE_dosewise"))
                .args(["send-mail", "--once"])
                .env("DATABASE_URL", &app.db.url)
                .env("DOSEWISE_SECRET", crate::helpers::SECRET)
                .env("SMTP_URL", sink.url())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped()),
        )
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let got = store.lock().unwrap().clone();
    let ids: HashSet<String> = got
        .iter()
        .map(|raw| {
            mailparse::parse_mail(raw.as_bytes())
                .unwrap()
                .headers
                .get_first_value("Message-ID")
                .unwrap()
        })
        .collect();
    assert_eq!(got.len(), 120, "each message once: {} received", got.len());
    assert_eq!(ids.len(), 120);
    assert_eq!(app.count("outbox", "status = 'sent'"), 120);
    sink.stop();
}

#[actix_web::test]
async fn without_smtp_the_messages_are_written_as_eml_files_into_the_mail_folder() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = app.add_slot(city, 2, 5, 0);
    app.add_stock(city, 5);
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    {
        use diesel::prelude::*;
        use dosewise::db::schema::outbox;
        let past = chrono::Utc::now().naive_utc() - Duration::minutes(1);
        diesel::update(outbox::table)
            .set(outbox::next_attempt_at.eq(past))
            .execute(&mut *app.conn())
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dosewise"))
        .args(["send-mail", "--once"])
        .env("DATABASE_URL", &app.db.url)
        .env("DOSEWISE_SECRET", crate::helpers::SECRET)
        .env("DOSEWISE_MAIL_DIR", dir.path())
        .env_remove("SMTP_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sent 1"));
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let raw = std::fs::read(&files[0]).unwrap();
    assert!(parse(&raw)
        .headers
        .get_first_value("Subject")
        .unwrap()
        .contains("预约成功"));
}
