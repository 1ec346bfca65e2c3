//! Mail: the outbox is written with the change, the worker delivers through a real SMTP server,
//! retries when it is down, and several workers deliver each message once; reminders and
//! second-dose messages follow the city's days.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::Duration;
use mailparse::MailHeaderMap;
use serde_json::json;

use crate::helpers::{
    give_dose, id_number, mail_parts, parse_mail, resident, spawn_app, spawn_app_with, test_now,
    Mail, TestApp, TestDb,
};
use crate::smtp::Sink;

/// The delivered messages of one outbox kind (the kind is in the Message-ID).
fn sent_of_kind(app: &TestApp, kind: &str) -> Vec<Mail> {
    let tag = format!(".{kind}@dosewise>");
    app.mails()
        .into_iter()
        .filter(|m| m.message_id.ends_with(&tag))
        .collect()
}

/// Book through the API as a visitor whose browser asks for `lang`; returns the booking code.
async fn book_in(app: &TestApp, slot: i64, who: u32, lang: &str) -> String {
    let res = app.book_api_in(slot, 1, &resident(who), lang).await;
    assert_eq!(res.status(), 201);
    let body: serde_json::Value = res.json().await.unwrap();
    body["code"].as_str().unwrap().to_string()
}

/// Move an appointment the way a resident does: find it with code and ID number, then move.
async fn move_appointment(app: &TestApp, code: &str, who: u32, to: i64) {
    let browser = crate::helpers::Session::new(app);
    let find = browser.get_text("/find").await;
    let token = crate::helpers::csrf_in(&find).unwrap();
    let res = browser
        .post_raw(
            "/find",
            &[
                ("csrf", token.as_str()),
                ("code", code),
                ("id_number", &id_number(who)),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = browser
        .post_raw(
            "/appointment/move",
            &[("csrf", token.as_str()), ("slot_id", &to.to_string())],
        )
        .await;
    assert_eq!(res.status(), 303, "the move succeeds");
}

/// Run the worker once with a different reminder lead time.
async fn deliver_with_reminder_hours(app: &TestApp, hours: i64) {
    let st = app.state.clone();
    actix_web::web::block(move || {
        let mut cfg = st.mail.clone();
        cfg.reminder_hours = hours;
        dosewise::mail::worker::run_once(
            &st.db,
            &cfg,
            &st.base_url,
            st.settings.time_zone,
            st.clock.as_ref(),
        )
    })
    .await
    .unwrap()
    .unwrap();
}

fn subjects(app: &TestApp) -> Vec<String> {
    app.mails().into_iter().map(|m| m.subject).collect()
}

#[actix_web::test]
async fn a_booking_queues_its_confirmation_with_a_calendar_file_and_a_refused_one_queues_nothing() {
    let app = spawn_app().await;
    let (_, slot) = app.city_with_slot(2, 1, 0, 10);
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
    let m = parse_mail(&raw);
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
    let all = mail_parts(&m);
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
            .post_fields(&format!("/towns/{}/wait", city.town), &form)
            .await;
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
        .map(|raw| parse_mail(raw))
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
                || parse_mail(raw)
                    .headers
                    .get_first_value("Subject")
                    .unwrap_or_default()
                    .contains("取消")
        })
        .unwrap();
    assert!(mail_parts(&parse_mail(&cancel))
        .iter()
        .any(|p| p.1.contains("STATUS:CANCELLED")));
}

#[actix_web::test]
async fn reminders_go_the_day_before_once_and_not_for_cancelled_appointments() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = app.add_slot(city, 2, 5, 0); // 2030-03-06 10:00 Shanghai
    app.add_stock(city, 10);
    let _kept = book_in(&app, slot, 1, "zh-CN").await;
    let dropped = book_in(&app, slot, 2, "zh-CN").await;
    let res = app
        .post_json(
            "/api/v1/appointments/cancel",
            &json!({"code": dropped, "id_number": id_number(2)}),
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
    let reminders = sent_of_kind(&app, "reminder");
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert_eq!(
        reminders[0].to, "r1@example.com",
        "the reminder goes to the kept booking, never to the cancelled one"
    );
    assert!(
        reminders[0].subject.contains("明天接种提醒")
            && reminders[0].subject.contains("3月6日")
            && reminders[0].subject.contains("10:00"),
        "{reminders:?}"
    );
    assert_eq!(app.count("outbox", "kind = 'reminder'"), 1);
    assert_eq!(
        app.count(
            "outbox",
            "kind = 'reminder' AND status = 'sent' AND recipient = 'r1@example.com'"
        ),
        1
    );
}

#[actix_web::test]
async fn reminders_say_today_tomorrow_or_the_date_by_the_city_s_days_in_both_languages() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 20);
    let at = |h: i64| {
        crate::helpers::add_slot_at(&mut app.conn(), city, test_now() + Duration::hours(h), 5, 0)
    };
    // The clock shows 2030-03-04 09:00 in Shanghai (01:00 UTC).
    let today = at(6); // 15:00 the same day
    let tomorrow = at(22); // 03-05 07:00 in Shanghai, still 03-04 in UTC
    let later = at(3 * 24 + 22); // 03-07 23:00 UTC, 03-08 07:00 in Shanghai
    let next_morning = at(24 + 25); // 03-06 02:00 UTC, 10:00 in Shanghai
    book_in(&app, today, 1, "zh-CN").await;
    book_in(&app, today, 2, "en").await;
    book_in(&app, tomorrow, 3, "zh-CN").await;
    book_in(&app, tomorrow, 4, "en").await;
    book_in(&app, next_morning, 5, "zh-CN").await;
    book_in(&app, later, 6, "en").await;
    book_in(&app, later, 7, "zh-CN").await;
    app.deliver_mail().await;

    let reminder_to = |who: u32| -> Mail {
        let to = format!("r{who}@example.com");
        let all: Vec<Mail> = sent_of_kind(&app, "reminder")
            .into_iter()
            .filter(|m| m.to == to)
            .collect();
        assert_eq!(all.len(), 1, "one reminder to {to}: {all:?}");
        all[0].clone()
    };
    let m = reminder_to(1);
    assert!(
        m.subject.starts_with("今天接种提醒") && m.subject.contains("15:00"),
        "{m:?}"
    );
    assert!(m.text.contains("今天") && !m.text.contains("明天"), "{m:?}");
    let m = reminder_to(2);
    assert!(
        m.subject.starts_with("Today:") && m.subject.contains("15:00"),
        "{m:?}"
    );
    assert!(
        m.text.contains("today") && !m.text.contains("tomorrow"),
        "{m:?}"
    );
    let m = reminder_to(3);
    assert!(
        m.subject.starts_with("明天接种提醒") && m.subject.contains("3月5日"),
        "{m:?}"
    );
    assert!(m.text.contains("明天"), "{m:?}");
    let m = reminder_to(4);
    assert!(
        m.subject.starts_with("Tomorrow:") && m.subject.contains("5 Mar"),
        "{m:?}"
    );
    assert!(m.text.contains("tomorrow"), "{m:?}");
    assert_eq!(
        app.count("outbox", "kind = 'reminder'"),
        4,
        "only the appointments within a day"
    );

    // 03-05 17:00 UTC is already 03-06 01:00 in Shanghai: the 10:00 appointment is today there
    // (though tomorrow in UTC).
    app.clock
        .set(test_now() + Duration::days(1) + Duration::hours(16));
    app.deliver_mail().await;
    let m = reminder_to(5);
    assert!(
        m.subject.starts_with("今天接种提醒") && m.subject.contains("3月6日"),
        "{m:?}"
    );
    assert!(m.text.contains("今天") && !m.text.contains("明天"), "{m:?}");

    // Reminders three days ahead name the date.
    deliver_with_reminder_hours(&app, 72).await;
    let m = reminder_to(6);
    assert!(
        m.subject.starts_with("Reminder:") && m.subject.contains("8 Mar"),
        "{m:?}"
    );
    assert!(
        m.text.contains("8 Mar") && !m.text.contains("today") && !m.text.contains("tomorrow"),
        "{m:?}"
    );
    let m = reminder_to(7);
    assert!(
        m.subject.starts_with("接种提醒") && m.subject.contains("3月8日"),
        "{m:?}"
    );
    assert!(
        m.text.contains("3月8日") && !m.text.contains("今天") && !m.text.contains("明天"),
        "{m:?}"
    );
    assert_eq!(
        app.count("outbox", "kind = 'reminder' AND status = 'sent'"),
        7
    );
}

#[actix_web::test]
async fn reminders_follow_a_moved_appointment_and_a_stale_one_is_not_sent() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let first = app.add_slot(city, 2, 5, 0); // 03-06 10:00 Shanghai
    let second = app.add_slot(city, 4, 5, 0); // 03-08
    let third = app.add_slot(city, 6, 5, 0); // 03-10
    let code = book_in(&app, first, 1, "zh-CN").await;

    app.clock
        .set(test_now() + Duration::days(1) + Duration::hours(2));
    app.deliver_mail().await;
    move_appointment(&app, &code, 1, second).await;

    // The reminder for the new time is queued, but the appointment moves again before it goes.
    app.clock
        .set(test_now() + Duration::days(3) + Duration::hours(2));
    let st = app.state.clone();
    let queued = actix_web::web::block(move || {
        dosewise::mail::worker::schedule(
            &st.db,
            st.clock.now(),
            st.mail.reminder_hours,
            st.settings.time_zone,
        )
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(queued, 1);
    move_appointment(&app, &code, 1, third).await;
    app.deliver_mail().await;

    app.clock
        .set(test_now() + Duration::days(5) + Duration::hours(2));
    app.deliver_mail().await;

    let reminders = sent_of_kind(&app, "reminder");
    let days: Vec<bool> = ["3月6日", "3月10日"]
        .iter()
        .map(|d| reminders.iter().any(|m| m.subject.contains(d)))
        .collect();
    assert_eq!(
        (reminders.len(), days),
        (2, vec![true, true]),
        "one reminder per time the appointment had a day before it, none stale: {reminders:?}"
    );
    assert!(reminders
        .iter()
        .all(|m| m.to == "r1@example.com" && m.subject.starts_with("明天接种提醒")));
    assert_eq!(
        app.count("outbox", "kind = 'reminder' AND status = 'sent'"),
        2
    );
    assert_eq!(
        app.count("outbox", "kind = 'reminder' AND status = 'skipped'"),
        1,
        "the reminder for 03-08 is dropped, not sent with the new time"
    );
}

#[actix_web::test]
async fn a_confirmation_states_the_time_that_was_booked_even_when_sent_after_a_move() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let day = test_now() + Duration::days(2) - Duration::hours(1); // 03-06 00:00 UTC
    let booked =
        crate::helpers::add_slot_at(&mut app.conn(), city, day + Duration::minutes(30), 5, 0);
    let moved =
        crate::helpers::add_slot_at(&mut app.conn(), city, day + Duration::minutes(90), 5, 0);
    let code = book_in(&app, booked, 1, "zh-CN").await;
    app.clock.set(test_now() + Duration::seconds(2));
    move_appointment(&app, &code, 1, moved).await;
    // Both messages wait in the outbox: the confirmation is sent after the move.
    assert_eq!(app.count("outbox", "status = 'pending'"), 2);
    app.deliver_mail().await;

    let confirmation = sent_of_kind(&app, "booked");
    let change = sent_of_kind(&app, "moved");
    assert_eq!((confirmation.len(), change.len()), (1, 1));
    let (c, m) = (&confirmation[0], &change[0]);
    assert!(
        c.subject.contains("预约成功") && c.subject.contains("08:30–09:00"),
        "the confirmation states the booked time: {c:?}"
    );
    assert!(
        c.text.contains("08:30–09:00") && !c.text.contains("09:30"),
        "{c:?}"
    );
    let ics = c.ics.as_deref().unwrap();
    assert!(
        ics.contains("DTSTART:20300306T003000Z") && ics.contains("SEQUENCE:0\r\n"),
        "{ics}"
    );
    assert!(
        m.subject.contains("预约已改期") && m.subject.contains("09:30–10:00"),
        "{m:?}"
    );
    let ics = m.ics.as_deref().unwrap();
    assert!(
        ics.contains("DTSTART:20300306T013000Z") && ics.contains("SEQUENCE:2\r\n"),
        "{ics}"
    );
    // The outbox rows name the slot each message is about.
    assert_eq!(
        app.count("outbox", &format!("kind = 'booked' AND slot_id = {booked}")),
        1
    );
    assert_eq!(
        app.count("outbox", &format!("kind = 'moved' AND slot_id = {moved}")),
        1
    );
}

#[actix_web::test]
async fn second_dose_messages_follow_the_window_and_stop_once_dose_two_is_booked() {
    let app = spawn_app().await;
    let city = app.city(); // 21-56 days
    let first = app.add_slot(city, 0, 5, 0);
    app.add_stock(city, 10);
    for who in [1, 2] {
        assert_eq!(app.book_api(first, 1, &resident(who)).await.status(), 201);
        give_dose(&app, city, &id_number(who), 1, 0);
    }
    app.deliver_mail().await;
    let window = sent_of_kind(&app, "dose2_window");
    assert_eq!(window.len(), 2, "{window:?}");
    assert!(window.iter().all(|m| m.subject.contains("第 2 剂接种时间")));

    app.clock
        .set(test_now() + Duration::days(21) + Duration::hours(1));
    app.deliver_mail().await;
    let open = sent_of_kind(&app, "dose2_open");
    assert_eq!(open.len(), 2, "{open:?}");
    assert!(open
        .iter()
        .all(|m| m.subject.contains("现在可以预约第 2 剂")));

    // Resident 2 books dose 2; resident 1 does not. At the last call, only resident 1 hears.
    let second = app.add_slot(city, 30, 5, 0);
    assert_eq!(app.book_api(second, 2, &resident(2)).await.status(), 201);
    app.clock.set(test_now() + Duration::days(54));
    let report = app.deliver_mail().await;
    assert_eq!(report.skipped, 1, "{report:?}");
    let last = sent_of_kind(&app, "dose2_last_call");
    assert_eq!(last.len(), 1, "{last:?}");
    assert_eq!(last[0].to, "r1@example.com");
    assert!(
        last[0].subject.contains("即将超过") && last[0].text.contains("4月29日"),
        "{last:?}"
    );
    assert_eq!(
        app.count(
            "outbox",
            "kind = 'dose2_last_call' AND status = 'sent' AND recipient = 'r1@example.com'"
        ),
        1
    );
    assert_eq!(
        app.count(
            "outbox",
            "kind = 'dose2_last_call' AND status = 'skipped' AND recipient = 'r2@example.com'"
        ),
        1,
        "queued for resident 2 but not sent: dose 2 is booked"
    );
}

#[actix_web::test]
async fn the_second_dose_opens_in_mail_on_the_same_city_day_as_on_the_booking_page() {
    let app = spawn_app().await;
    let city = app.city(); // 21-56 days
    let first = app.add_slot(city, 0, 5, 0);
    app.add_stock(city, 10);
    assert_eq!(app.book_api(first, 1, &resident(1)).await.status(), 201);
    // Given 2030-03-04 09:00 in Shanghai: dose 2 may be booked from 03-25 in Shanghai.
    give_dose(&app, city, &id_number(1), 1, 0);
    app.deliver_mail().await;

    // 03-24 23:00 in Shanghai: not yet, in mail or on the booking page.
    app.clock
        .set(test_now() + Duration::days(20) + Duration::hours(14));
    app.deliver_mail().await;
    assert!(sent_of_kind(&app, "dose2_open").is_empty());
    let early = crate::helpers::add_slot_at(
        &mut app.conn(),
        city,
        test_now() + Duration::days(20) + Duration::hours(14) + Duration::minutes(30),
        5,
        0,
    );
    assert_eq!(app.book_api(early, 2, &resident(1)).await.status(), 409);

    // 03-25 01:00 in Shanghai (still 03-24 in UTC, less than 21 x 24 hours after the dose):
    // booking is open, and so the mail says so.
    app.clock
        .set(test_now() + Duration::days(21) - Duration::hours(8));
    app.deliver_mail().await;
    let open = sent_of_kind(&app, "dose2_open");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].to, "r1@example.com");
    assert!(open[0].text.contains("4月29日"), "{open:?}");
    assert_eq!(
        app.count("outbox", "kind = 'dose2_open' AND status = 'sent'"),
        1
    );
    let on_the_day = app.add_slot(city, 21, 5, 0); // 03-25 10:00 in Shanghai
    assert_eq!(
        app.book_api(on_the_day, 2, &resident(1)).await.status(),
        201
    );
}

#[actix_web::test]
async fn messages_arrive_through_a_real_smtp_server_and_survive_it_going_down() {
    let store = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink::start(0, store.clone());
    let port = sink.port;
    let transport = dosewise::mail::Transport::from_settings(Some(&sink.url()), "unused").unwrap();
    let app = spawn_app_with(TestDb::new(), transport, Arc::new(Mutex::new(Vec::new()))).await;
    let (_, slot) = app.city_with_slot(2, 20, 0, 20);
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
        assert!(mail_parts(&m).iter().any(|p| p.0 == "text/calendar"));
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
    let (_, slot) = app.city_with_slot(2, 5, 0, 5);
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    for hour in 1..=12 {
        app.clock.set(test_now() + Duration::days(hour));
        app.deliver_mail().await;
    }
    assert_eq!(
        app.count("outbox", "status = 'failed' AND kind = 'booked'"),
        1
    );
    let bureau = crate::helpers::login_as(&app, crate::helpers::Role::Bureau).await;
    let page = bureau.get_text("/bureau/mail").await;
    assert!(
        page.contains("预约确认") && page.contains("r1***@example.com"),
        "{page}"
    );
}

#[actix_web::test]
async fn two_workers_at_once_against_a_slow_smtp_server_deliver_each_message_exactly_once() {
    const N: u32 = 150;
    let store = Arc::new(Mutex::new(Vec::new()));
    // Each message takes 0.8 s: a batch of 50 over 8 senders takes about 5 s, longer than the
    // 3 s lease the workers are given, so a claim only holds if each claim has its own lease,
    // renewed while its messages are sent.
    let sink = Sink::start_slow(0, store.clone(), std::time::Duration::from_millis(800));
    let app = spawn_app().await;
    let city = app.city();
    let slots: Vec<i64> = (0..4).map(|d| app.add_slot(city, 2 + d, 40, 0)).collect();
    app.add_stock(city, 200);
    for i in 0..N {
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
    let spawn = |name: &str| {
        crate::helpers::spawn(
            crate::helpers::dosewise_command(&app.db.url)
                .args(["send-mail", "--once"])
                .env("SMTP_URL", sink.url())
                .env("DOSEWISE_MAIL_LEASE_SECONDS", "3")
                // The sender names the worker, so the sink can tell who delivered what.
                .env(
                    "DOSEWISE_MAIL_FROM",
                    format!("{name} <{name}@dosewise.invalid>"),
                )
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped()),
        )
    };
    // Worker b starts while worker a is busy, after a's first lease would have run out: it must
    // not take over the messages a has claimed and is still sending.
    let mut a = spawn("worker-a");
    actix_web::rt::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(a.try_wait().unwrap().is_none(), "worker a is still sending");
    let b = spawn("worker-b");
    let (a, b) = actix_web::web::block(move || (a.wait_with_output(), b.wait_with_output()))
        .await
        .unwrap();
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let got = store.lock().unwrap().clone();
    let times = sink.accepted_at.lock().unwrap().clone();
    let mut per_recipient: std::collections::BTreeMap<String, usize> = Default::default();
    let mut by_worker: std::collections::BTreeMap<String, Vec<std::time::Instant>> =
        Default::default();
    for (raw, at) in got.iter().zip(&times) {
        let m = mailparse::parse_mail(raw.as_bytes()).unwrap();
        let to = m.headers.get_first_value("To").unwrap();
        *per_recipient.entry(to).or_default() += 1;
        let from = m.headers.get_first_value("From").unwrap();
        let worker = if from.contains("worker-a") { "a" } else { "b" };
        by_worker.entry(worker.into()).or_default().push(*at);
    }
    let twice: Vec<_> = per_recipient.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "received more than once: {twice:?}");
    assert_eq!(
        per_recipient.len(),
        N as usize,
        "every recipient received one"
    );
    for i in 0..N {
        assert!(per_recipient.contains_key(&format!("r{}@example.com", 100 + i)));
    }
    // The two workers really ran at the same time: each delivered while the other did.
    let (Some(a), Some(b)) = (by_worker.get("a"), by_worker.get("b")) else {
        panic!("both workers delivered: {by_worker:?}");
    };
    let span = |v: &Vec<std::time::Instant>| (*v.iter().min().unwrap(), *v.iter().max().unwrap());
    let ((a_first, a_last), (b_first, b_last)) = (span(a), span(b));
    assert!(
        a_first.max(b_first) < a_last.min(b_last),
        "the workers overlapped: a {} messages, b {}",
        a.len(),
        b.len()
    );
    assert_eq!(app.count("outbox", "status = 'sent'"), i64::from(N));
    assert_eq!(
        app.count("outbox", "attempts <> 1 OR claim_token IS NOT NULL"),
        0,
        "no message was claimed twice"
    );
    sink.stop();
}

#[actix_web::test]
async fn without_smtp_the_messages_are_written_as_eml_files_into_the_mail_folder() {
    let app = spawn_app().await;
    let (_, slot) = app.city_with_slot(2, 5, 0, 5);
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
    let out = crate::helpers::run_ok(
        crate::helpers::dosewise_command(&app.db.url)
            .args(["send-mail", "--once"])
            .env("DOSEWISE_MAIL_DIR", dir.path())
            .env_remove("SMTP_URL"),
    );
    assert!(out.contains("sent 1"));
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let raw = std::fs::read(&files[0]).unwrap();
    assert!(parse_mail(&raw)
        .headers
        .get_first_value("Subject")
        .unwrap()
        .contains("预约成功"));
}

#[actix_web::test]
async fn a_message_is_marked_sent_with_its_audit_entry_only_under_the_claim_that_holds_it() {
    use diesel::prelude::*;
    use dosewise::db::schema::outbox;
    use dosewise::db::{claim_outbox, mark_outbox_sent, StorageError};
    let app = spawn_app().await;
    let city = app.city();
    let slot = app.add_slot(city, 2, 10, 0);
    app.add_stock(city, 10);
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    let db = app.database().clone();
    let later = test_now() + Duration::days(30);
    let claimed = db
        .transaction(move |c| -> Result<usize, StorageError> {
            Ok(claim_outbox(
                c,
                "token-a",
                later,
                later + Duration::minutes(5),
                10,
            )?)
        })
        .unwrap();
    assert_eq!(claimed, 1, "the confirmation is claimed");
    let id: i64 = outbox::table
        .select(outbox::id)
        .first(&mut *app.conn())
        .unwrap();
    let mark = |token: &'static str| {
        let audit_id = dosewise::ids::new_id();
        db.single_statement(move |c| -> Result<bool, StorageError> {
            Ok(mark_outbox_sent(
                c,
                id,
                token,
                later,
                (audit_id, &format!("mail {id}"), "booked"),
            )?)
        })
        .unwrap()
    };
    let audited = || app.count("audit_log", "action = 'mail.sent'");

    assert!(!mark("token-b"), "another claim's token marks nothing");
    assert_eq!(
        app.count("outbox", "status = 'sending' AND claim_token = 'token-a'"),
        1
    );
    assert_eq!(audited(), 0, "and writes no audit entry");

    // Only a message being sent is marked, whatever token it still carries.
    let set_status = |status: &str| {
        diesel::update(outbox::table.find(id))
            .set(outbox::status.eq(status))
            .execute(&mut *app.conn())
            .unwrap();
    };
    set_status("pending");
    assert!(!mark("token-a"), "a message not being sent is not marked");
    assert_eq!(audited(), 0);
    set_status("sending");

    assert!(mark("token-a"));
    let sent_at: Option<chrono::NaiveDateTime> = outbox::table
        .find(id)
        .select(outbox::sent_at)
        .first(&mut *app.conn())
        .unwrap();
    assert_eq!(sent_at, Some(later), "sent at the worker's time");
    assert_eq!(
        app.count(
            "outbox",
            "status = 'sent' AND sent_at IS NOT NULL AND claim_token IS NULL AND lease_until IS NULL"
        ),
        1
    );
    assert_eq!(
        app.count(
            "audit_log",
            &format!(
                "action = 'mail.sent' AND actor = 'system' AND subject = 'mail {id}' \
                 AND detail = 'booked' AND town_id IS NULL"
            )
        ),
        1
    );

    assert!(
        !mark("token-a"),
        "a message already sent is not marked again"
    );
    assert_eq!(audited(), 1);
}
