//! Fair release (issue 9), abuse limits and the town fallback: the per-phone and per-email cap
//! on active bookings per day, wrong entry codes slowed per code, and draw entries that accept
//! another site of the same town.

use chrono::{Duration, NaiveDateTime};
use futures::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{
    add_slot_at, add_stock, id_number, open_in_draw, resident, spawn_app, spawn_app_with_settings,
    test_now, City, TestApp,
};

/// A slot's start: `days` ahead at 10:00 Shanghai time.
fn day_at_ten(days: i64) -> NaiveDateTime {
    test_now() + Duration::days(days) + Duration::hours(1)
}

/// When the tests' releases open: an hour after the test clock's now.
fn release() -> NaiveDateTime {
    test_now() + Duration::hours(1)
}

/// Resident `i` with a given phone number and e-mail address.
fn with_contact(i: u32, phone: &str, email: &str) -> Value {
    let mut r = resident(i);
    r["phone"] = json!(phone);
    r["email"] = json!(email);
    r
}

/// A server whose contact cap is `cap`.
async fn app_with_cap(cap: u32) -> TestApp {
    spawn_app_with_settings(|s| s.contact_day_cap = cap).await
}

/// A slot of `city` opening at `opens_at`, with a draw of `window` minutes from then. Returns
/// the slot and its draw.
fn slot_in_draw(app: &TestApp, city: City, start: NaiveDateTime, seats: i32) -> (i64, i64) {
    let mut c = app.conn();
    let id = add_slot_at(&mut c, city, start, seats, 0);
    (id, open_in_draw(&mut c, city, &[id], release(), 10))
}

/// Another active site in the city's town, with `stock` doses of its vaccine.
fn second_site(app: &TestApp, city: City, name: &str, stock: i32) -> City {
    let other = City {
        site: dosewise::ids::new_id(),
        ..city
    };
    let mut c = app.conn();
    dosewise::models::site::insert(
        &mut c,
        &dosewise::models::site::NewSite {
            id: other.site,
            town_id: city.town,
            name: name.into(),
            address: "解放路9号".into(),
            active: true,
            name_en: None,
            address_en: None,
        },
    )
    .unwrap();
    add_stock(&mut c, other, stock);
    other
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

#[actix_web::test]
async fn twenty_bookings_at_once_with_one_phone_confirm_exactly_the_cap() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 100);
    let slot = app.add_slot(city, 3, 40, 0);
    let other_day = app.add_slot(city, 4, 5, 0);
    let cap = app.state.settings.contact_day_cap;
    assert_eq!(cap, 6, "the documented default, a full household");
    let phone = "13912345678";
    let answers = join_all((0..20u32).map(|i| {
        let app = &app;
        async move {
            let who = with_contact(500 + i, phone, &format!("family{i}@example.com"));
            let res = app.book_api(slot, 1, &who).await;
            let status = res.status().as_u16();
            (status, json_of(res).await)
        }
    }))
    .await;
    let booked = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(booked, 6, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["code"], "contact_cap", "{body}");
    }
    assert_eq!(
        app.count(
            "appointments a JOIN residents r ON r.id = a.resident_id",
            &format!("r.phone = '{phone}' AND a.status = 'booked'")
        ),
        6
    );
    assert_eq!(app.slot_counts(slot), (6, 0, 40));
    assert_eq!(app.stock(city), (100, 6));
    // The cap is per day: the same phone books another day at once.
    let res = app
        .book_api(
            other_day,
            1,
            &with_contact(600, phone, "another@example.com"),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert!(app.db.violations().is_empty(), "{:?}", app.db.violations());
}

/// The count behind the cap gives the same answer for every list of contacts: a phone alone, an
/// e-mail address alone, both (the statements kept prepared by their type) and any longer list
/// in any order (a household's, built at run time); and nothing outside the day asked for.
#[actix_web::test]
async fn the_per_contact_count_agrees_for_every_list_of_contacts() {
    use dosewise::models::appointment::{count_active_for_contacts, Contact};
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 20);
    let slot = app.add_slot(city, 3, 10, 0);
    let (p1, p2, e1, e2) = (
        "13700000011",
        "13700000012",
        "one@example.com",
        "two@example.com",
    );
    for (i, phone, email) in [(801, p1, e1), (802, p1, e2), (803, p2, e1)] {
        let res = app.book_api(slot, 1, &with_contact(i, phone, email)).await;
        assert_eq!(res.status(), 201);
    }
    let (from, to) = (test_now(), test_now() + Duration::days(30));
    let count = |contacts: &[Contact<'_>], from, to| {
        count_active_for_contacts(&mut app.conn(), contacts, from, to).unwrap()
    };
    use Contact::{Email, Phone};
    assert_eq!(count(&[Phone(p1)], from, to), [2]);
    assert_eq!(count(&[Email(e1)], from, to), [2]);
    assert_eq!(count(&[Phone(p2), Email(e2)], from, to), [1, 1]);
    assert_eq!(count(&[Email(e2), Phone(p2)], from, to), [1, 1]);
    assert_eq!(
        count(&[Phone(p2), Email(e2), Phone(p1), Email(e1)], from, to),
        [1, 1, 2, 2]
    );
    assert_eq!(count(&[Phone("13700000099")], from, to), [0]);
    // A day without these bookings counts none of them.
    assert_eq!(
        count(&[Phone(p1), Email(e1)], to, to + Duration::days(1)),
        [0, 0]
    );
}

#[actix_web::test]
async fn a_booking_over_the_email_cap_answers_409_contact_cap_on_the_api_and_a_clear_page() {
    let app = app_with_cap(2).await;
    let city = app.city();
    app.add_stock(city, 20);
    let slot = app.add_slot(city, 3, 10, 0);
    let email = "shared@example.com";
    let mut codes = Vec::new();
    for i in 0..2u32 {
        let res = app
            .book_api(
                slot,
                1,
                &with_contact(700 + i, &format!("1370000000{i}"), email),
            )
            .await;
        assert_eq!(res.status(), 201);
        codes.push(json_of(res).await["code"].as_str().unwrap().to_string());
    }
    let res = app
        .book_api_in(slot, 1, &with_contact(702, "13700000002", email), "en")
        .await;
    assert_eq!(res.status(), 409);
    let body = json_of(res).await;
    assert_eq!(body["code"], "contact_cap");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already holds the most bookings allowed on that day"),
        "{body}"
    );
    assert_eq!(app.slot_counts(slot), (2, 0, 10));
    assert_eq!(
        app.count("residents", &format!("email = '{email}'")),
        2,
        "the refused booking wrote nothing"
    );

    // The booking page refuses with the reason, in the visitor's language, keeping the input.
    let token = app.csrf(&format!("/slots/{slot}/book")).await;
    let idn = id_number(703);
    let form = [
        ("name", "王小明"),
        ("id_number", idn.as_str()),
        ("phone", "13700000003"),
        ("email", email),
        ("dose_number", "1"),
        ("csrf", token.as_str()),
    ];
    let res = app.post_raw(&format!("/slots/{slot}/book"), &form).await;
    assert_eq!(res.status(), 409);
    let page = res.text().await.unwrap();
    assert!(page.contains("当天的有效预约已达上限"), "{page}");
    assert!(page.contains("13700000003"), "the input is kept");
    assert_eq!(app.slot_counts(slot), (2, 0, 10));

    // A cancelled booking no longer counts.
    let res = app
        .post_json(
            "/api/v1/appointments/cancel",
            &json!({"code": codes[0], "id_number": id_number(700)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .book_api(slot, 1, &with_contact(702, "13700000002", email))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.slot_counts(slot), (2, 0, 10));
}

#[actix_web::test]
async fn wrong_id_numbers_on_an_entry_code_are_slowed_with_429_and_retry_after() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let (slot, _) = slot_in_draw(&app, city, day_at_ten(7), 5);
    app.clock.set(release());
    let res = app.book_api(slot, 1, &resident(800)).await;
    assert_eq!(res.status(), 202);
    let entry = json_of(res).await["entry"].as_str().unwrap().to_string();
    let lookup = |who: u32| {
        let (app, entry) = (&app, entry.clone());
        async move {
            app.post_json(
                "/api/v1/entries/lookup",
                &json!({"entry": entry, "id_number": id_number(who)}),
            )
            .await
        }
    };
    for _ in 0..3 {
        assert_eq!(lookup(801).await.status(), 404);
    }
    let res = lookup(801).await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    let body = json_of(res).await;
    assert_eq!(body["code"], "too_many_attempts");
    // While it waits, even the right ID number is not checked.
    assert_eq!(lookup(800).await.status(), 429);

    // The entry page's find form counts the same code (an HTML page, with Retry-After).
    let token = app.csrf("/entry/find").await;
    let idn = id_number(800);
    let res = app
        .post_raw(
            "/entry/find",
            &[
                ("code", entry.as_str()),
                ("id_number", idn.as_str()),
                ("csrf", token.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("该抽签码输错身份证号的次数过多"));

    // A booking code with the same characters is not slowed: the counts are kept apart.
    let res = app
        .post_json(
            "/api/v1/appointments/lookup",
            &json!({"code": entry, "id_number": id_number(800)}),
        )
        .await;
    assert_eq!(res.status(), 404);

    // Once the wait is over, the right ID number answers and clears the count.
    tokio_sleep(wait).await;
    let res = lookup(800).await;
    assert_eq!(res.status(), 200);
    assert_eq!(json_of(res).await["status"], "waiting");
    assert_eq!(lookup(801).await.status(), 404, "the count started again");
}

async fn tokio_sleep(secs: u64) {
    actix_web::rt::time::sleep(std::time::Duration::from_millis(secs * 1000 + 100)).await;
}

#[actix_web::test]
async fn an_entry_that_allows_the_town_gets_the_nearest_seat_at_another_site_and_its_mail_names_it()
{
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let (slot, draw) = slot_in_draw(&app, city, day_at_ten(7), 1);
    let other = second_site(&app, city, "第二接种点", 10);
    // At the other site that day: 13:00 and 11:00 (the nearest to 10:00), first come; and a
    // seat the next day, never offered.
    let (far, near, next_day) = {
        let mut c = app.conn();
        (
            add_slot_at(&mut c, other, day_at_ten(7) + Duration::hours(3), 5, 0),
            add_slot_at(&mut c, other, day_at_ten(7) + Duration::hours(1), 5, 0),
            add_slot_at(&mut c, other, day_at_ten(8), 5, 0),
        )
    };
    // And the nearest of all, 10:30, which opens only the next day: never offered.
    let unopened = {
        use diesel::prelude::*;
        use dosewise::db::schema::slots;
        let mut c = app.conn();
        let id = add_slot_at(&mut c, other, day_at_ten(7) + Duration::minutes(30), 5, 0);
        diesel::update(slots::table.find(id))
            .set(slots::opens_at.eq(Some(release() + Duration::days(1))))
            .execute(&mut c)
            .unwrap();
        id
    };
    app.clock.set(release());
    // Residents 900-902 allow another site of the town; 903-904 do not.
    let mut codes = Vec::new();
    for i in 900..905u32 {
        let res = app
            .post_json(
                "/api/v1/appointments",
                &json!({
                    "slot_id": slot.to_string(),
                    "dose_number": 1,
                    "resident": resident(i),
                    "any_site_in_town": i < 903,
                }),
            )
            .await;
        assert_eq!(res.status(), 202);
        codes.push((i, json_of(res).await["entry"].as_str().unwrap().to_string()));
    }
    assert_eq!(
        app.count("draw_entries", "any_site_in_town = TRUE"),
        3,
        "the choice is stored"
    );
    app.clock.set(release() + Duration::minutes(10));
    let cap = app.state.settings.contact_day_cap;
    assert!(
        dosewise::booking::draw::run_draw(app.database(), &|| app.state.rules(), cap, draw)
            .unwrap()
    );
    // The first in the published order gets the seat asked for; each later one that allowed
    // the town gets the nearest seat at the other site; the others are not drawn.
    let order = dosewise::models::draw::find(&mut app.conn(), draw)
        .unwrap()
        .unwrap()
        .order();
    let who = |code: &str| codes.iter().find(|(_, c)| c == code).unwrap().0;
    let mut moved = Vec::new();
    for (n, code) in order.iter().enumerate() {
        let status = dosewise::models::draw_entry::find_by_code(&mut app.conn(), code)
            .unwrap()
            .unwrap()
            .status;
        let expected = if n == 0 || who(code) < 903 {
            "drawn"
        } else {
            "not_drawn"
        };
        assert_eq!(status, expected, "place {} resident {}", n + 1, who(code));
        if n > 0 && who(code) < 903 {
            moved.push(who(code));
        }
    }
    assert_eq!(app.slot_counts(slot), (1, 0, 1));
    assert_eq!(app.slot_counts(near), (moved.len() as i32, 0, 5));
    assert_eq!(app.slot_counts(far), (0, 0, 5));
    assert_eq!(app.slot_counts(next_day), (0, 0, 5));
    assert_eq!(app.slot_counts(unopened), (0, 0, 5), "not open yet");
    assert_eq!(app.stock(other), (10, moved.len() as i32));
    assert!(app.db.violations().is_empty(), "{:?}", app.db.violations());

    // The result mail of a moved entry names the site it was given.
    app.deliver_mail().await;
    let subjects: Vec<(String, String)> =
        app.mails().into_iter().map(|m| (m.to, m.subject)).collect();
    for i in &moved {
        let to = format!("r{i}@example.com");
        let result = subjects
            .iter()
            .find(|(t, s)| t.contains(&to) && s.starts_with("已中签"))
            .unwrap_or_else(|| panic!("an entry result for {to}: {subjects:?}"));
        assert!(result.1.contains("第二接种点"), "{result:?}");
    }
    // And the API gives the seat's time at the other site.
    let (i, code) = codes.iter().find(|(i, _)| moved.contains(i)).unwrap();
    let res = app
        .post_json(
            "/api/v1/entries/lookup",
            &json!({"entry": code, "id_number": id_number(*i)}),
        )
        .await;
    let body = json_of(res).await;
    assert_eq!(body["status"], "drawn");
    let booking = body["booking_code"].as_str().unwrap();
    assert_eq!(
        app.count(
            "appointments",
            &format!(
                "code = '{booking}' AND site_id = {} AND slot_id = {near}",
                other.site
            )
        ),
        1
    );
}

#[actix_web::test]
async fn a_draw_entry_beyond_the_contact_cap_is_not_drawn_with_reason_contact_cap() {
    let app = app_with_cap(1).await;
    let city = app.city();
    app.add_stock(city, 10);
    let (slot, draw) = slot_in_draw(&app, city, day_at_ten(7), 5);
    let open_same_day = add_slot_at(
        &mut app.conn(),
        city,
        day_at_ten(7) + Duration::hours(4),
        5,
        0,
    );
    let phone = "13655556666";
    let res = app
        .book_api(open_same_day, 1, &with_contact(950, phone, "a@example.com"))
        .await;
    assert_eq!(res.status(), 201);
    app.clock.set(release());
    let res = app
        .book_api(slot, 1, &with_contact(951, phone, "b@example.com"))
        .await;
    assert_eq!(
        res.status(),
        202,
        "entering is not refused: the draw decides"
    );
    let entry = json_of(res).await["entry"].as_str().unwrap().to_string();
    let res = app.book_api(slot, 1, &resident(952)).await;
    assert_eq!(res.status(), 202);
    app.clock.set(release() + Duration::minutes(10));
    let cap = app.state.settings.contact_day_cap;
    assert!(
        dosewise::booking::draw::run_draw(app.database(), &|| app.state.rules(), cap, draw)
            .unwrap()
    );
    let res = app
        .post_json(
            "/api/v1/entries/lookup",
            &json!({"entry": entry, "id_number": id_number(951)}),
        )
        .await;
    let body = json_of(res).await;
    assert_eq!(body["status"], "not_drawn", "{body}");
    assert_eq!(body["reason"], "contact_cap", "{body}");
    assert_eq!(
        app.slot_counts(slot),
        (1, 0, 5),
        "the other entry was drawn"
    );
    assert_eq!(
        app.count(
            "draw_entries",
            "reason = 'contact_cap' AND status = 'not_drawn'"
        ),
        1
    );
    assert!(app.db.violations().is_empty(), "{:?}", app.db.violations());
}

#[actix_web::test]
async fn the_site_page_counts_down_to_the_opening_and_reloads_itself_in_the_last_ten_minutes() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let (slot, _) = slot_in_draw(&app, city, day_at_ten(7), 5);
    let tz = app.state.settings.time_zone;
    let date = dosewise::views::local(tz, day_at_ten(7)).date_naive();
    let path = format!("/sites/{}?date={date}", city.site);
    let opens = dosewise::views::local(tz, release()).to_rfc3339();

    // An hour ahead: the opening as a machine-readable <time>, the time left, no reload.
    let html = app.get(&path).await.text().await.unwrap();
    assert!(html.contains("data-testid=\"countdown\""), "{html}");
    assert!(
        html.contains(&format!("<time datetime=\"{opens}\"")),
        "{html}"
    );
    assert!(html.contains("aria-live=\"polite\""));
    assert!(
        html.contains("<strong data-left>1 小时 0 分钟</strong>"),
        "{html}"
    );
    assert!(!html.contains("http-equiv=\"refresh\""));
    assert!(html.contains("<script src=\"/static/countdown.js\" defer></script>"));
    assert!(!html.contains(&format!("href=\"/slots/{slot}/book\"")));

    // Ten minutes or less: the page reloads itself once a minute, and right at the opening.
    app.clock.set(release() - Duration::minutes(5));
    let html = app.get(&path).await.text().await.unwrap();
    assert!(
        html.contains("<meta http-equiv=\"refresh\" content=\"60\">"),
        "{html}"
    );
    assert!(html.contains("<strong data-left>5 分钟</strong>"), "{html}");
    app.clock.set(release() - Duration::seconds(20));
    let html = app.get(&path).await.text().await.unwrap();
    assert!(
        html.contains("<meta http-equiv=\"refresh\" content=\"20\">"),
        "{html}"
    );
    assert!(html.contains("不到 1 分钟"));

    // Open: no countdown, the slot can be entered.
    app.clock.set(release());
    let html = app.get(&path).await.text().await.unwrap();
    assert!(!html.contains("data-testid=\"countdown\""));
    assert!(!html.contains("http-equiv=\"refresh\""));
    assert!(html.contains(&format!("href=\"/slots/{slot}/book\"")));

    // The script is served, as a script.
    let res = app.get("/static/countdown.js").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
}

#[actix_web::test]
async fn the_entry_form_offers_another_site_in_the_town_and_keeps_the_choice() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let (slot, _) = slot_in_draw(&app, city, day_at_ten(7), 5);
    let before = app.get_text(&format!("/slots/{slot}/book")).await;
    assert!(
        !before.contains("name=\"any_site_in_town\""),
        "only an entry offers it"
    );
    app.clock.set(release());
    let html = app.get_text(&format!("/slots/{slot}/book")).await;
    assert!(html.contains("name=\"any_site_in_town\""), "{html}");
    assert!(html.contains("可接受同一乡镇（街道）其他接种点的名额"));
    let token = crate::helpers::csrf_in(&html).unwrap();
    let mut form = crate::helpers::resident_form(990);
    form.push(("dose_number".into(), "1".into()));
    form.push(("any_site_in_town".into(), "on".into()));
    form.push(("csrf".into(), token));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    let res = app.post_raw(&format!("/slots/{slot}/book"), &form).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/entry");
    assert_eq!(
        app.count(
            "draw_entries",
            "any_site_in_town = TRUE AND status = 'waiting'"
        ),
        1
    );
}

/// A resident's browser holding the grant to their appointment (code + ID number on `/find`).
async fn signed_in(app: &TestApp, code: &str, who: u32) -> crate::helpers::Session {
    let s = crate::helpers::Session::new(app);
    let idn = id_number(who);
    let res = s
        .post_form_from(
            "/find",
            "/find",
            &[("code", code), ("id_number", idn.as_str())],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    s
}

/// Move the appointment `s` holds to `slot`: the status and the page.
async fn move_to(s: &crate::helpers::Session, slot: i64) -> (u16, String) {
    let res = s
        .post_form_from(
            "/appointment/cancel",
            "/appointment/move",
            &[("slot_id", &slot.to_string())],
        )
        .await;
    (res.status().as_u16(), res.text().await.unwrap())
}

#[actix_web::test]
async fn a_move_into_a_day_where_the_phone_holds_the_cap_is_refused_and_changes_nothing() {
    let app = app_with_cap(2).await;
    let city = app.city();
    app.add_stock(city, 20);
    let full_day = app.add_slot(city, 3, 10, 0);
    let full_day_later = add_slot_at(
        &mut app.conn(),
        city,
        day_at_ten(3) + Duration::hours(2),
        10,
        0,
    );
    let other_day = app.add_slot(city, 4, 10, 0);
    let phone = "13955556666";
    let mut codes = Vec::new();
    for (i, slot) in [(900u32, full_day), (901, full_day), (902, other_day)] {
        let res = app
            .book_api(
                slot,
                1,
                &with_contact(i, phone, &format!("m{i}@example.com")),
            )
            .await;
        assert_eq!(res.status(), 201);
        codes.push(json_of(res).await["code"].as_str().unwrap().to_string());
    }
    // The third booking's holder moves into the day where the phone already holds the cap.
    let third = signed_in(&app, &codes[2], 902).await;
    let (status, page) = move_to(&third, full_day).await;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains("该手机号或电子邮箱当天的有效预约已达上限"),
        "{page}"
    );
    // Nothing moved: the appointment, both slots and the stock are as they were.
    assert_eq!(
        app.count(
            "appointments",
            &format!(
                "code = '{}' AND slot_id = {other_day} AND status = 'booked'",
                codes[2]
            )
        ),
        1
    );
    assert_eq!(app.slot_counts(full_day), (2, 0, 10));
    assert_eq!(app.slot_counts(other_day), (1, 0, 10));
    assert_eq!(app.stock(city), (20, 3));
    assert_eq!(
        app.count("outbox", "kind = 'moved'"),
        0,
        "no mail for a move that did not happen"
    );

    // A move within the day at the cap is no extra booking on it: allowed.
    let first = signed_in(&app, &codes[0], 900).await;
    let (status, page) = move_to(&first, full_day_later).await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(app.slot_counts(full_day), (1, 0, 10));
    assert_eq!(app.slot_counts(full_day_later), (1, 0, 10));
    // With one of the day's bookings cancelled, the refused move goes through.
    let res = app
        .post_json(
            "/api/v1/appointments/cancel",
            &json!({"code": codes[1], "id_number": id_number(901)}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let (status, page) = move_to(&third, full_day).await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(
        app.count(
            "appointments",
            &format!(
                "code = '{}' AND slot_id = {full_day} AND status = 'booked'",
                codes[2]
            )
        ),
        1
    );
    assert!(app.db.violations().is_empty(), "{:?}", app.db.violations());
}
