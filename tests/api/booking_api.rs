//! The booking rules through `POST /api/v1/appointments` and its lookup and cancel calls.

use chrono::Duration;
use serde_json::{json, Value};

use crate::helpers::{give_dose, id_number, resident, spawn_app, test_now};

#[actix_web::test]
async fn booking_a_free_slot_answers_201_with_a_code_and_takes_one_seat_and_one_dose() {
    let app = spawn_app().await;
    let (city, slot) = app.city_with_slot(2, 5, 0, 10);

    let res = app.book_api(slot, 1, &resident(1)).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let code = body["code"].as_str().unwrap();
    assert_eq!(code.len(), 8);
    assert!(code
        .chars()
        .all(|c| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)));
    assert_eq!(body["slot_id"], slot.to_string());
    assert_eq!(body["dose_number"], 1);
    assert!(body["starts_at"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(app.slot_counts(slot), (1, 0, 5));
    assert_eq!(app.stock(city), (10, 1));
}

#[actix_web::test]
async fn a_resident_holds_at_most_one_active_appointment_per_dose() {
    let app = spawn_app().await;
    let city = app.city();
    let a = app.add_slot(city, 2, 5, 0);
    let b = app.add_slot(city, 3, 5, 0);
    app.add_stock(city, 10);
    assert_eq!(app.book_api(a, 1, &resident(1)).await.status(), 201);
    let again = app.book_api(b, 1, &resident(1)).await;
    assert_eq!(again.status(), 409);
    assert!(again.json::<Value>().await.unwrap()["error"].is_string());
    assert_eq!(app.slot_counts(b), (0, 0, 5));
    assert_eq!(app.stock(city), (10, 1));
}

#[actix_web::test]
async fn a_full_slot_answers_409_and_writes_nothing() {
    let app = spawn_app().await;
    let (city, slot) = app.city_with_slot(2, 1, 0, 10);
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    assert_eq!(app.book_api(slot, 1, &resident(2)).await.status(), 409);
    assert_eq!(app.count("appointments", "1=1"), 1);
    assert_eq!(app.slot_counts(slot), (1, 0, 1));
    assert_eq!(app.stock(city), (10, 1));
}

#[actix_web::test]
async fn no_appointment_is_promised_without_a_dose_in_stock() {
    let app = spawn_app().await;
    let (city, slot) = app.city_with_slot(2, 5, 0, 1);
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    let res = app.book_api(slot, 1, &resident(2)).await;
    assert_eq!(res.status(), 409);
    assert_eq!(app.count("appointments", "1=1"), 1);
    assert_eq!(
        app.slot_counts(slot),
        (1, 0, 5),
        "the seat taken before the stock check is rolled back"
    );
    assert_eq!(app.stock(city), (1, 1));
}

#[actix_web::test]
async fn seats_held_for_second_doses_open_to_first_doses_only_at_release_time() {
    let app = spawn_app().await;
    let (city, slot) = app.city_with_slot(3, 3, 2, 10);
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    assert_eq!(
        app.book_api(slot, 1, &resident(2)).await.status(),
        409,
        "2 of 3 seats are held"
    );

    let avail = app.availability(city.site, "2030-03-07").await;
    assert_eq!(avail["slots"][0]["free_first_dose"], 0);
    assert_eq!(avail["slots"][0]["free_second_dose"], 2);

    // 23 hours before the slot (release is 24 h before), the held seats are open to everyone.
    app.clock
        .set(test_now() + Duration::days(3) + Duration::hours(1) - Duration::hours(23));
    assert_eq!(app.book_api(slot, 1, &resident(2)).await.status(), 201);
    assert_eq!(app.slot_counts(slot), (2, 0, 3));
}

#[actix_web::test]
async fn second_doses_can_use_held_seats_but_never_more_than_the_slot_has() {
    let app = spawn_app().await;
    let city = app.city();
    let first = app.add_slot(city, 1, 5, 0);
    let slot = app.add_slot(city, 30, 2, 2);
    app.add_stock(city, 10);
    for i in 1..=3 {
        assert_eq!(app.book_api(first, 1, &resident(i)).await.status(), 201);
        give_dose(&app, city, &id_number(i), 1, 0);
    }
    assert_eq!(app.book_api(slot, 2, &resident(1)).await.status(), 201);
    assert_eq!(app.book_api(slot, 2, &resident(2)).await.status(), 201);
    assert_eq!(app.book_api(slot, 2, &resident(3)).await.status(), 409);
    assert_eq!(app.slot_counts(slot), (0, 2, 2));
}

#[actix_web::test]
async fn dose_two_is_bookable_from_the_minimum_interval_and_stays_bookable_when_overdue() {
    let app = spawn_app().await;
    let city = app.city(); // 21 to 56 days
    let early = app.add_slot(city, 10, 5, 0);
    let on_time = app.add_slot(city, 21, 5, 0);
    app.add_stock(city, 10);

    assert_eq!(
        app.book_api(on_time, 2, &resident(1)).await.status(),
        409,
        "no dose 1 yet"
    );
    assert_eq!(app.book_api(early, 1, &resident(1)).await.status(), 201);
    give_dose(&app, city, &id_number(1), 1, 0);
    // The dose-1 appointment still holds its seat; dose 2 is a separate booking.
    let res = app.book_api(early, 2, &resident(1)).await;
    assert_eq!(res.status(), 409);
    let msg = res.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("3月25日"),
        "the refusal names the first day: {msg}"
    );
    assert_eq!(app.book_api(on_time, 2, &resident(1)).await.status(), 201);

    // A resident whose window closed 30 days ago can still book dose 2.
    let late = app.add_slot(city, 5, 5, 0);
    assert_eq!(app.book_api(early, 1, &resident(2)).await.status(), 201);
    give_dose(&app, city, &id_number(2), 1, 86);
    assert_eq!(app.book_api(late, 2, &resident(2)).await.status(), 201);
    // Dose 3 is not in a two-dose series.
    assert_eq!(app.book_api(late, 3, &resident(2)).await.status(), 409);
}

#[actix_web::test]
async fn a_resident_outside_the_age_range_is_refused() {
    let app = spawn_app().await;
    let (city, slot) = app.city_with_slot(2, 5, 0, 10);
    {
        use diesel::prelude::*;
        use dosewise::db::schema::products;
        diesel::update(products::table.find(city.product))
            .set(products::min_age_years.eq(60))
            .execute(&mut *app.conn())
            .unwrap();
    }
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 409);
    assert_eq!(app.count("residents", "1=1"), 0);
}

#[actix_web::test]
async fn lookup_and_cancel_need_the_code_and_the_id_number_in_the_body() {
    let app = spawn_app().await;
    let (city, slot) = app.city_with_slot(2, 5, 0, 10);
    let booked: Value = app
        .book_api(slot, 1, &resident(1))
        .await
        .json()
        .await
        .unwrap();
    let code = booked["code"].as_str().unwrap();

    let wrong = app
        .post_json(
            "/api/v1/appointments/lookup",
            &json!({"code": code, "id_number": id_number(2)}),
        )
        .await;
    assert_eq!(wrong.status(), 404);
    let found = app
        .post_json(
            "/api/v1/appointments/lookup",
            &json!({"code": code.to_lowercase(), "id_number": id_number(1)}),
        )
        .await;
    assert_eq!(found.status(), 200);
    assert_eq!(found.json::<Value>().await.unwrap()["status"], "booked");

    let cancelled = app
        .post_json(
            "/api/v1/appointments/cancel",
            &json!({"code": code, "id_number": id_number(1)}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(
        cancelled.json::<Value>().await.unwrap()["status"],
        "cancelled"
    );
    assert_eq!(app.slot_counts(slot), (0, 0, 5));
    assert_eq!(app.stock(city), (10, 0));
    let again = app
        .post_json(
            "/api/v1/appointments/cancel",
            &json!({"code": code, "id_number": id_number(1)}),
        )
        .await;
    assert_eq!(again.status(), 409);
    // Once cancelled, the same dose can be booked again.
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
}

#[actix_web::test]
async fn towns_and_availability_describe_the_city_with_string_ids() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = app.add_slot(city, 0, 4, 1);
    // Doses to back the seats (a first-dose seat is offered only with an unpromised dose).
    app.add_stock(city, 10);
    let towns: Value = app.get("/api/v1/towns").await.json().await.unwrap();
    assert_eq!(towns[0]["id"], city.town.to_string());
    assert_eq!(towns[0]["sites"][0]["id"], city.site.to_string());
    assert_eq!(towns[0]["sites"][0]["address"], "人民路1号");

    let res = app
        .get(&format!(
            "/api/v1/availability?site={}&date=2030-03-04",
            city.site
        ))
        .await;
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let avail: Value = res.json().await.unwrap();
    assert_eq!(avail["site"], city.site.to_string());
    assert_eq!(avail["date"], "2030-03-04");
    let s = &avail["slots"][0];
    assert_eq!(s["id"], slot.to_string());
    assert_eq!(s["starts_at"], "2030-03-04T10:00:00+08:00");
    assert_eq!(s["ends_at"], "2030-03-04T10:30:00+08:00");
    assert_eq!(s["seats"], 4);
    // Starting within the release window: held seats are free for everyone.
    assert_eq!(s["free_first_dose"], 4);
    assert_eq!(s["free_second_dose"], 4);
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[actix_web::test]
async fn intervals_count_the_citys_days_not_utcs() {
    let app = spawn_app().await;
    let city = app.city(); // 21-56 days, Asia/Shanghai
    let first = app.add_slot(city, 0, 5, 0);
    app.add_stock(city, 10);
    assert_eq!(app.book_api(first, 1, &resident(1)).await.status(), 201);
    // Dose 1 at 07:30 on 4 March in Shanghai, which is still 3 March in UTC.
    {
        use diesel::prelude::*;
        use dosewise::db::schema::vaccinations;
        let given = chrono::NaiveDate::from_ymd_opt(2030, 3, 3)
            .unwrap()
            .and_hms_opt(23, 30, 0)
            .unwrap();
        give_dose(&app, city, &id_number(1), 1, 0);
        diesel::update(vaccinations::table)
            .set(vaccinations::given_at.eq(given))
            .execute(&mut *app.conn())
            .unwrap();
    }
    // 24 March 10:00 Shanghai is day 20: too early; 25 March is day 21: bookable.
    let day20 = app.add_slot(city, 20, 5, 0);
    let day21 = app.add_slot(city, 21, 5, 0);
    assert_eq!(app.book_api(day20, 2, &resident(1)).await.status(), 409);
    assert_eq!(app.book_api(day21, 2, &resident(1)).await.status(), 201);
}
