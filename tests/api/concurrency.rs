//! The invariants under many requests at once, on whichever backend the suite runs on.

use futures::future::join_all;

use crate::helpers::{client, csrf_in, resident, resident_form, spawn_app, TestApp};

async fn book_many(app: &TestApp, slots: &[i64], n: u32) -> Vec<u16> {
    let reqs = (0..n).map(|i| {
        let slot = slots[i as usize % slots.len()];
        async move {
            app.book_api(slot, 1, &resident(1000 + i))
                .await
                .status()
                .as_u16()
        }
    });
    join_all(reqs).await
}

#[actix_web::test]
async fn a_hundred_simultaneous_bookings_for_seven_seats_confirm_exactly_seven() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = app.add_slot(city, 2, 7, 0);
    app.add_stock(city, 1000);
    let statuses = book_many(&app, &[slot], 100).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        93,
        "{statuses:?}"
    );
    assert_eq!(
        app.count(
            "appointments",
            &format!("slot_id = {slot} AND status = 'booked'")
        ),
        7
    );
    assert_eq!(app.slot_counts(slot), (7, 0, 7));
    assert_eq!(app.stock(city), (1000, 7));
}

#[actix_web::test]
async fn simultaneous_bookings_never_promise_more_vaccine_than_the_site_holds() {
    let app = spawn_app().await;
    let city = app.city();
    let slots: Vec<i64> = (0..6).map(|d| app.add_slot(city, 1 + d, 10, 0)).collect();
    app.add_stock(city, 25);
    let statuses = book_many(&app, &slots, 60).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        25,
        "{statuses:?}"
    );
    assert_eq!(app.count("appointments", "status = 'booked'"), 25);
    assert_eq!(app.stock(city), (25, 25));
    let booked: i32 = slots.iter().map(|s| app.slot_counts(*s).0).sum();
    assert_eq!(
        booked, 25,
        "every seat taken by a refused booking was given back"
    );
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
        async move { app.book_api(slot, 1, &resident(7)).await.status().as_u16() }
    });
    let statuses = join_all(reqs).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(app.count("appointments", "status = 'booked'"), 1);
    assert_eq!(app.count("residents", "1=1"), 1);
    let booked: i32 = slots.iter().map(|s| app.slot_counts(*s).0).sum();
    assert_eq!(booked, 1);
    assert_eq!(app.stock(city), (100, 1));
}

/// Book `slot` through the pages with a client of its own, which then holds the grant.
async fn book_with_page(app: &TestApp, slot: i64, who: u32) -> reqwest::Client {
    let c = client();
    let page = c
        .get(format!("{}/slots/{slot}/book", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = resident_form(who);
    form.push(("csrf".into(), csrf_in(&page).unwrap()));
    form.push(("dose_number".into(), "1".into()));
    let res = c
        .post(format!("{}/slots/{slot}/book", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();
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
        let page = mover
            .get(format!("{}/appointment", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = csrf_in(&page).unwrap();
        let form = [("csrf", token.as_str()), ("slot_id", &last.to_string())];
        let other = resident(200 + round);
        let (moved, booked) = futures::join!(
            mover
                .post(format!("{}/appointment/move", app.address))
                .form(&form)
                .send(),
            app.book_api(last, 1, &other),
        );
        let moved = moved.unwrap().status().as_u16();
        let booked = booked.status().as_u16();
        assert!(
            (moved == 303 && booked == 409) || (moved == 409 && booked == 201),
            "round {round}: move {moved}, book {booked}"
        );
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
        let page = mover
            .get(format!("{}/appointment", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = csrf_in(&page).unwrap();
        let (to_b, to_c) = (b.to_string(), c.to_string());
        let url = format!("{}/appointment/move", app.address);
        let (x, y) = futures::join!(
            mover
                .post(&url)
                .form(&[("csrf", token.as_str()), ("slot_id", &to_b)])
                .send(),
            mover
                .post(&url)
                .form(&[("csrf", token.as_str()), ("slot_id", &to_c)])
                .send(),
        );
        let ok = [x.unwrap().status().as_u16(), y.unwrap().status().as_u16()];
        // Either one wins and the other is refused, or they ran one after the other (B, then C):
        // both are fine as long as every seat is counted once.
        assert!(ok.contains(&303), "round {round}: {ok:?}");
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
    let admin = crate::helpers::staff_client(&app, "admin", None).await;
    let page = format!("/admin/sites/{}", city.site);
    let html = admin
        .get(format!("{}{page}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&html).unwrap();
    let product = city.product.to_string();
    let saves = (0..8).map(|i| {
        let (admin, token, product) = (admin.clone(), token.clone(), product.clone());
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
