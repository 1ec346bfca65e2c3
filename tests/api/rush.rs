//! A small opening day (issue 9, section 3): 300 distinct residents at once for 40 seats, from
//! many loopback addresses with the per-address limits on, once first come and once with a
//! draw. Asserted: no 5xx (nor 429: no address goes over its limit), nothing oversold (seats
//! and doses, read from the database), and a definite answer for every resident. The database
//! check (`dosewise check`) runs when the test database is dropped.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{
    add_slot_at, id_number, open_in_draw, resident, spawn_app_with_settings, test_now, City,
    TestApp,
};

/// Residents arriving at once.
const RESIDENTS: u32 = 300;
/// Client tasks sending their requests.
const TASKS: u32 = 32;
/// Source addresses the residents come from (about 8 requests each, under the burst of 10).
const ADDRESSES: u32 = 40;
/// Slots of the day and seats in each.
const SLOTS: usize = 4;
const SEATS: i32 = 10;

/// A server with the production limits on booking and look-ups (30 a minute per address).
async fn app_with_limits() -> TestApp {
    spawn_app_with_settings(|s| {
        s.rate_book_per_minute = 30;
        s.rate_lookup_per_minute = 30;
    })
    .await
}

/// One client per source address 127.`net`.0.k.
fn clients(net: u8) -> Vec<reqwest::Client> {
    (0..ADDRESSES)
        .map(|k| {
            reqwest::Client::builder()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, net, 0, k as u8 + 1)))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
        })
        .collect()
}

/// `SLOTS` slots of `SEATS` seats, `days` ahead from 10:00, half an hour apart.
fn day_of_slots(app: &TestApp, city: City, days: i64) -> Vec<i64> {
    let start: NaiveDateTime = test_now() + Duration::days(days) + Duration::hours(1);
    (0..SLOTS)
        .map(|k| {
            add_slot_at(
                &mut app.conn(),
                city,
                start + Duration::minutes(30 * k as i64),
                SEATS,
                0,
            )
        })
        .collect()
}

/// Send `request(i)` for every resident, from `TASKS` tasks, each request from the address of
/// its resident; returns each resident's status and body.
async fn rush<F>(app: &TestApp, net: u8, request: F) -> HashMap<u32, (u16, Value)>
where
    F: Fn(u32) -> (String, Value) + Send + Sync + 'static,
{
    let clients = Arc::new(clients(net));
    let request = Arc::new(request);
    let tasks = (0..TASKS).map(|t| {
        let (clients, request, base) = (clients.clone(), request.clone(), app.address.clone());
        actix_web::rt::spawn(async move {
            let mut out = Vec::new();
            let mut i = t;
            while i < RESIDENTS {
                let (path, body) = request(i);
                let client = &clients[(i % ADDRESSES) as usize];
                let res = client
                    .post(format!("{base}{path}"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                out.push((i, (status, body)));
                i += TASKS;
            }
            out
        })
    });
    join_all(tasks)
        .await
        .into_iter()
        .flat_map(|r| r.unwrap())
        .collect()
}

/// No slot holds more bookings than seats, each slot's counters match its active
/// appointments, and the site has promised no more doses than it holds.
fn assert_nothing_oversold(app: &TestApp, city: City, slots: &[i64]) {
    for &s in slots {
        let (first, second, seats) = app.slot_counts(s);
        assert!(
            first + second <= seats,
            "slot {s}: {first}+{second} > {seats}"
        );
        let active = app.count(
            "appointments",
            &format!("slot_id = {s} AND status = 'booked'"),
        );
        assert_eq!(i64::from(first + second), active, "slot {s}");
    }
    let (on_hand, promised) = app.stock(city);
    assert!(
        promised <= on_hand,
        "promised {promised} > on hand {on_hand}"
    );
    assert_eq!(
        i64::from(promised),
        app.count("appointments", "status = 'booked'"),
        "every booking holds one promised dose"
    );
    assert!(app.db.violations().is_empty(), "{:?}", app.db.violations());
}

#[actix_web::test]
async fn three_hundred_residents_at_once_for_forty_seats_first_come_then_by_draw() {
    let app = app_with_limits().await;
    let city = app.city();

    // First come: 40 seats, 36 doses. Exactly 36 are booked; everyone else is refused with
    // a reason (seat gone, or no dose left).
    app.add_stock(city, 36);
    let slots = day_of_slots(&app, city, 7);
    let targets = slots.clone();
    let answers = rush(&app, 1, move |i| {
        let slot = targets[i as usize % SLOTS];
        (
            "/api/v1/appointments".into(),
            json!({"slot_id": slot.to_string(), "dose_number": 1, "resident": resident(i)}),
        )
    })
    .await;
    assert_eq!(answers.len(), RESIDENTS as usize);
    let mut booked = 0;
    for (i, (status, body)) in &answers {
        match status {
            201 => {
                assert!(body["code"].is_string(), "resident {i}: {body}");
                booked += 1;
            }
            409 => assert!(
                body["error"].as_str().is_some_and(|e| !e.is_empty()),
                "resident {i}: a refusal says why: {body}"
            ),
            _ => panic!("resident {i}: {status} {body}"),
        }
    }
    assert_eq!(booked, 36, "every dose and no more");
    assert_eq!(app.count("appointments", "status = 'booked'"), 36);
    assert_nothing_oversold(&app, city, &slots);

    // With a draw: the next day's 40 seats open in an hour with a ten-minute window; 300 other
    // residents enter at once, each gets an entry, and after the draw each is drawn or not.
    app.add_stock(city, 100);
    let day2 = day_of_slots(&app, city, 8);
    let opens = test_now() + Duration::hours(1);
    open_in_draw(&mut app.conn(), city, &day2, opens, 10);
    app.clock.set(opens + Duration::minutes(2));
    let targets = day2.clone();
    let entries = rush(&app, 2, move |i| {
        let slot = targets[i as usize % SLOTS];
        let who = resident(RESIDENTS + i);
        (
            "/api/v1/appointments".into(),
            json!({"slot_id": slot.to_string(), "dose_number": 1, "resident": who}),
        )
    })
    .await;
    let mut codes: HashMap<u32, String> = HashMap::new();
    for (i, (status, body)) in &entries {
        assert_eq!(*status, 202, "resident {i}: {body}");
        codes.insert(*i, body["entry"].as_str().unwrap().to_string());
    }
    assert_eq!(app.count("draw_entries", "status = 'waiting'"), 300);
    assert_eq!(
        app.count("appointments", "status = 'booked'"),
        36,
        "no seat before the draw"
    );

    app.clock.set(opens + Duration::minutes(10));
    let draw: i64 = {
        use dosewise::db::schema::draws;
        draws::table
            .select(draws::id)
            .first(&mut *app.conn())
            .unwrap()
    };
    let state = app.state.clone();
    let done = actix_web::web::block(move || {
        let cap = state.settings.contact_day_cap;
        dosewise::booking::draw::run_draw(&state.db, &|| state.rules(), cap, draw)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(done);

    let codes = Arc::new(codes);
    let looked_up = {
        let codes = codes.clone();
        rush(&app, 3, move |i| {
            (
                "/api/v1/entries/lookup".into(),
                json!({"entry": codes[&i], "id_number": id_number(RESIDENTS + i)}),
            )
        })
        .await
    };
    let mut drawn = 0;
    for (i, (status, body)) in &looked_up {
        assert_eq!(*status, 200, "resident {i}: {body}");
        match body["status"].as_str() {
            Some("drawn") => {
                assert!(body["booking_code"].is_string(), "{body}");
                drawn += 1;
            }
            Some("not_drawn") => {}
            _ => panic!("resident {i}: no definite answer: {body}"),
        }
    }
    assert_eq!(drawn, 40, "every seat of the day drawn, none twice");
    assert_eq!(app.count("draw_entries", "status = 'drawn'"), 40);
    assert_eq!(app.count("draw_entries", "status = 'not_drawn'"), 260);
    assert_eq!(app.count("appointments", "status = 'booked'"), 76);
    let all: Vec<i64> = slots.iter().chain(&day2).copied().collect();
    assert_nothing_oversold(&app, city, &all);
}
