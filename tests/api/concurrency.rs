//! The invariants under many requests at once, on whichever backend the suite runs on.

use futures::future::join_all;

use crate::helpers::{csrf_in, resident, resident_form, spawn_app, Session, TestApp};

/// What the JSON API answers a refused booking with: 409 and the reason in `error`.
const SLOT_FULL: &str = "这个时段刚刚约满";
const NO_STOCK: &str = "这个接种点的疫苗已全部约出";
const ALREADY_BOOKED: &str = "您已经预约了这一剂";
const NOT_ACTIVE: &str = "这个预约已取消或已使用";

/// `n` simultaneous bookings; each answer's status and its `error` text (empty on success).
async fn book_many(app: &TestApp, slots: &[i64], n: u32) -> Vec<(u16, String)> {
    let reqs = (0..n).map(|i| {
        let slot = slots[i as usize % slots.len()];
        async move { answer(app.book_api(slot, 1, &resident(1000 + i)).await).await }
    });
    join_all(reqs).await
}

/// A JSON answer's status and `error` text.
async fn answer(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

/// Every answer is a success or a 409 whose message is one of `reasons`; the number of successes.
fn winners(answers: &[(u16, String)], ok: u16, reasons: &[&str]) -> usize {
    for (status, error) in answers {
        assert!(
            *status == ok || (*status == 409 && reasons.iter().any(|r| error.contains(r))),
            "a loser must be refused with 409 and its reason, not {status} {error:?}: {answers:?}"
        );
    }
    answers.iter().filter(|(s, _)| *s == ok).count()
}

#[actix_web::test]
async fn a_hundred_simultaneous_bookings_for_seven_seats_confirm_exactly_seven() {
    let app = spawn_app().await;
    let (city, slot) = app.city_with_slot(2, 7, 0, 1000);
    let answers = book_many(&app, &[slot], 100).await;
    assert_eq!(winners(&answers, 201, &[SLOT_FULL]), 7, "{answers:?}");
    assert_eq!(
        app.count(
            "appointments",
            &format!("slot_id = {slot} AND status = 'booked'")
        ),
        7
    );
    assert_eq!(app.slot_counts(slot), (7, 0, 7));
    assert_eq!(app.stock(city), (1000, 7));
    // A refused booking leaves nothing behind: the booking's writes go together (one statement
    // on PostgreSQL) and roll back together.
    refused_left_nothing(&app, 7);
}

/// Only the `winners` (all new residents) left rows: one resident, one confirmation and one
/// audit entry each, and nothing of the refused bookings.
fn refused_left_nothing(app: &TestApp, winners: i64) {
    assert_eq!(app.count("residents", "1=1"), winners, "residents");
    assert_eq!(
        app.count("outbox", "kind = 'booked'"),
        winners,
        "confirmations"
    );
    assert_eq!(
        app.count("audit_log", "action = 'appointment.book'"),
        winners,
        "audit entries"
    );
}

#[actix_web::test]
async fn simultaneous_bookings_never_promise_more_vaccine_than_the_site_holds() {
    let app = spawn_app().await;
    let city = app.city();
    let slots: Vec<i64> = (0..6).map(|d| app.add_slot(city, 1 + d, 10, 0)).collect();
    app.add_stock(city, 25);
    let answers = book_many(&app, &slots, 60).await;
    // Each slot gets exactly its ten seats' worth of requests: vaccine is the only limit.
    assert_eq!(winners(&answers, 201, &[NO_STOCK]), 25, "{answers:?}");
    assert_eq!(app.count("appointments", "status = 'booked'"), 25);
    assert_eq!(app.stock(city), (25, 25));
    let booked: i32 = slots.iter().map(|s| app.slot_counts(*s).0).sum();
    assert_eq!(
        booked, 25,
        "every seat taken by a refused booking was given back"
    );
    refused_left_nothing(&app, 25);
}

#[actix_web::test]
async fn one_resident_booking_the_same_dose_many_times_at_once_gets_one_appointment() {
    let app = spawn_app().await;
    let city = app.city();
    let slots: Vec<i64> = (0..5).map(|d| app.add_slot(city, 1 + d, 10, 0)).collect();
    app.add_stock(city, 100);
    let reqs = (0..20).map(|i| {
        let slot = slots[i % slots.len()];
        let app = &app;
        async move { answer(app.book_api(slot, 1, &resident(7)).await).await }
    });
    let answers = join_all(reqs).await;
    assert_eq!(winners(&answers, 201, &[ALREADY_BOOKED]), 1, "{answers:?}");
    assert_eq!(app.count("appointments", "status = 'booked'"), 1);
    assert_eq!(app.count("residents", "1=1"), 1);
    let booked: i32 = slots.iter().map(|s| app.slot_counts(*s).0).sum();
    assert_eq!(booked, 1);
    assert_eq!(app.stock(city), (100, 1));
}

/// Book `slot` through the pages with a client of its own, which then holds the grant.
pub async fn book_with_page(app: &TestApp, slot: i64, who: u32) -> Session {
    let c = Session::new(app);
    let path = format!("/slots/{slot}/book");
    let page = c.get_text(&path).await;
    let mut form = resident_form(who);
    form.push(("csrf".into(), csrf_in(&page).unwrap()));
    form.push(("dose_number".into(), "1".into()));
    let res = c.post_raw(&path, &form).await;
    assert_eq!(res.status(), 303);
    c
}

#[actix_web::test]
async fn a_reschedule_racing_a_booking_for_the_last_seat_loses_nothing() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 1000);
    for round in 0..8u32 {
        let from = app.add_slot(city, 1 + i64::from(round), 5, 0);
        let last = app.add_slot(city, 20 + i64::from(round), 1, 0);
        let mover = book_with_page(&app, from, 100 + round).await;
        let page = mover.get_text("/appointment/cancel").await;
        let token = csrf_in(&page).unwrap();
        let form = [("csrf", token.as_str()), ("slot_id", &last.to_string())];
        let other = resident(200 + round);
        let (moved, booked) = futures::join!(
            mover
                .client
                .post(format!("{}/appointment/move", app.address))
                .form(&form)
                .send(),
            app.book_api(last, 1, &other),
        );
        let moved = moved.unwrap();
        let moved = (moved.status().as_u16(), moved.text().await.unwrap());
        let booked = answer(booked).await;
        assert!(
            (moved.0 == 303 && booked.0 == 409 && booked.1.contains(SLOT_FULL))
                || (moved.0 == 409 && moved.1.contains(SLOT_FULL) && booked.0 == 201),
            "round {round}: the loser is refused because the slot is full: move {moved:?}, book {booked:?}"
        );
        let moved = moved.0;
        assert_eq!(app.slot_counts(last), (1, 0, 1));
        let kept_old = app.slot_counts(from).0;
        assert_eq!(kept_old, if moved == 303 { 0 } else { 1 }, "round {round}");
        // The mover holds exactly one active appointment either way.
        let hash = app.state.keys.hash_id_number(
            &dosewise::domain::IdNumber::parse(&crate::helpers::id_number(100 + round)).unwrap(),
        );
        assert_eq!(
            app.count(
                "appointments a JOIN residents r ON r.id = a.resident_id",
                &format!("r.id_hash = '{hash}' AND a.status = 'booked'")
            ),
            1
        );
    }
    let promised = app.stock(city).1;
    assert_eq!(
        i64::from(promised),
        app.count("appointments", "status = 'booked'")
    );
}

#[actix_web::test]
async fn two_moves_of_one_appointment_at_once_give_back_its_seat_only_once() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 100);
    for round in 0..6u32 {
        let from = app.add_slot(city, 1 + i64::from(round), 2, 0);
        let b = app.add_slot(city, 20 + i64::from(round), 5, 0);
        let c = app.add_slot(city, 40 + i64::from(round), 5, 0);
        // Someone else holds the other seat of the old slot.
        assert_eq!(
            app.book_api(from, 1, &resident(500 + round)).await.status(),
            201
        );
        let mover = book_with_page(&app, from, 600 + round).await;
        let page = mover.get_text("/appointment/cancel").await;
        let token = csrf_in(&page).unwrap();
        let (to_b, to_c) = (b.to_string(), c.to_string());
        let url = format!("{}/appointment/move", app.address);
        let (x, y) = futures::join!(
            mover
                .client
                .post(&url)
                .form(&[("csrf", token.as_str()), ("slot_id", &to_b)])
                .send(),
            mover
                .client
                .post(&url)
                .form(&[("csrf", token.as_str()), ("slot_id", &to_c)])
                .send(),
        );
        let mut ok = Vec::new();
        for res in [x.unwrap(), y.unwrap()] {
            ok.push((res.status().as_u16(), res.text().await.unwrap()));
        }
        // Either one wins and the other is refused (the appointment it read has moved on), or
        // they ran one after the other (B, then C): both are fine as long as every seat is
        // counted once. Never a 500.
        assert!(ok.iter().any(|(s, _)| *s == 303), "round {round}: {ok:?}");
        assert!(
            ok.iter()
                .all(|(s, body)| *s == 303 || (*s == 409 && body.contains(NOT_ACTIVE))),
            "round {round}: {ok:?}"
        );
        assert_eq!(
            app.slot_counts(from).0,
            1,
            "round {round}: the other resident keeps their seat"
        );
        assert_eq!(
            app.slot_counts(b).0 + app.slot_counts(c).0,
            1,
            "round {round}"
        );
    }
    assert_eq!(
        i64::from(app.stock(city).1),
        app.count("appointments", "status = 'booked'")
    );
}

#[actix_web::test]
async fn simultaneous_saves_of_one_sites_template_all_succeed_and_leave_one_template() {
    let app = spawn_app().await;
    let city = app.city();
    let admin = crate::helpers::login_as(&app, crate::helpers::Role::Admin).await;
    let page = format!("/admin/sites/{}", city.site);
    let html = admin.get_text(&page).await;
    let token = csrf_in(&html).unwrap();
    let product = city.product.to_string();
    let saves = (0..8).map(|i| {
        let (admin, token, product) = (admin.client.clone(), token.clone(), product.clone());
        let url = format!("{}{page}/template", app.address);
        async move {
            let seats = (4 + i % 2).to_string();
            admin
                .post(url)
                .form(&[
                    ("csrf", token.as_str()),
                    ("slot_minutes", "30"),
                    ("seats", seats.as_str()),
                    ("days_ahead", "7"),
                    ("product", product.as_str()),
                    ("opens_0", "08:00"),
                    ("closes_0", "12:00"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = join_all(saves).await;
    assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
    let site = format!("site_id = {}", city.site);
    assert_eq!(app.count("site_templates", &site), 1);
    assert_eq!(app.count("site_hours", &site), 1);
    assert_eq!(app.count("site_products", &site), 1);
    // The slots are one template's: all with the same seat count.
    let counts: Vec<i64> = [4, 5]
        .iter()
        .map(|n| app.count("slots", &format!("{site} AND seats = {n}")))
        .collect();
    assert!(counts.iter().sum::<i64>() > 0, "{counts:?}");
    assert!(counts.contains(&0), "one template's seats: {counts:?}");
    assert_eq!(app.count("audit_log", "action = 'sites.template'"), 8);
}

/// The appointment held by resident `who`: `(status, slot_id)`.
fn appointment_of(app: &TestApp, who: u32) -> (String, i64) {
    use diesel::prelude::*;
    use dosewise::db::schema::{appointments, residents};
    let hash = app.state.keys.hash_id_number(
        &dosewise::domain::IdNumber::parse(&crate::helpers::id_number(who)).unwrap(),
    );
    appointments::table
        .inner_join(residents::table)
        .filter(residents::id_hash.eq(hash))
        .select((appointments::status, appointments::slot_id))
        .first(&mut *app.conn())
        .unwrap()
}

#[actix_web::test]
async fn a_cancel_racing_a_move_of_the_same_appointment_frees_exactly_one_seat() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 100);
    let mut others = 0;
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..16u32 {
        let from = app.add_slot(city, 1 + i64::from(round), 2, 0);
        let to = app.add_slot(city, 20 + i64::from(round), 2, 0);
        // The move reads before it writes, so a cancel sent at once wins; in odd rounds the
        // cancel waits 0-3 ms, letting the move win or meet it halfway.
        let delay =
            (round % 2 == 1).then(|| std::time::Duration::from_millis(u64::from(round / 2 % 4)));
        // Someone else keeps a seat in the old slot throughout.
        assert_eq!(
            app.book_api(from, 1, &resident(700 + round)).await.status(),
            201
        );
        others += 1;
        let who = 800 + round;
        let c = book_with_page(&app, from, who).await;
        let page = c.get_text("/appointment/cancel").await;
        let token = csrf_in(&page).unwrap();
        let to_s = to.to_string();
        let (cancelled, moved) = futures::join!(
            async {
                if let Some(delay) = delay {
                    actix_web::rt::time::sleep(delay).await;
                }
                c.client
                    .post(format!("{}/appointment/cancel", app.address))
                    .form(&[("csrf", token.as_str())])
                    .send()
                    .await
            },
            c.client
                .post(format!("{}/appointment/move", app.address))
                .form(&[("csrf", token.as_str()), ("slot_id", to_s.as_str())])
                .send(),
        );
        let (cancelled, moved) = (cancelled.unwrap(), moved.unwrap());
        let cancelled = (cancelled.status().as_u16(), cancelled.text().await.unwrap());
        let moved = (moved.status().as_u16(), moved.text().await.unwrap());
        // Cancel then move: the move is refused (no longer active). Move then cancel: both
        // succeed and the cancel frees the new seat. Nothing else.
        assert_eq!(
            cancelled.0, 303,
            "round {round}: the cancel always succeeds: {cancelled:?}"
        );
        let (status, slot) = appointment_of(&app, who);
        assert_eq!(status, "cancelled", "round {round}");
        match moved.0 {
            303 => assert_eq!(slot, to, "round {round}: moved, then cancelled"),
            409 => {
                assert!(moved.1.contains(NOT_ACTIVE), "round {round}: {}", moved.1);
                assert_eq!(slot, from, "round {round}: cancelled where it was");
            }
            other => panic!("round {round}: move answered {other}: {}", moved.1),
        }
        seen.insert(moved.0);
        assert_eq!(app.slot_counts(from), (1, 0, 2), "round {round}: old slot");
        assert_eq!(app.slot_counts(to), (0, 0, 2), "round {round}: new slot");
        assert_eq!(
            app.stock(city),
            (100, others),
            "round {round}: promised doses"
        );
        assert_eq!(
            app.count("appointments", "status = 'booked'"),
            i64::from(others)
        );
    }
    eprintln!("move outcomes seen: {seen:?}");
}
