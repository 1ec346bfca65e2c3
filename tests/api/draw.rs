//! Fair release (issue 9): announced openings, draw windows, the draw and its verification.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use futures::future::join_all;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{
    add_slot_at, csrf_in, id_number, login_as, open_at, open_in_draw, resident, resident_form,
    spawn_app, test_now, City, Role, Session, TestApp,
};

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The slot's start: `days` ahead at 10:00 Shanghai time.
fn day_at_ten(days: i64) -> NaiveDateTime {
    test_now() + Duration::days(days) + Duration::hours(1)
}

/// When the tests' releases open: an hour after the test clock's now.
fn release() -> NaiveDateTime {
    test_now() + Duration::hours(1)
}

/// A slot that opens at `opens_at`, with a draw of `window` minutes from then (none if 0).
/// Returns the slot and its draw.
fn released_slot(
    app: &TestApp,
    city: City,
    start: NaiveDateTime,
    seats: i32,
    opens_at: NaiveDateTime,
    window: i64,
) -> (i64, Option<i64>) {
    let mut c = app.conn();
    let id = add_slot_at(&mut c, city, start, seats, 0);
    if window == 0 {
        open_at(&mut c, &[id], opens_at);
        return (id, None);
    }
    (
        id,
        Some(open_in_draw(&mut c, city, &[id], opens_at, window)),
    )
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn lookup(app: &TestApp, entry: &str, who: u32) -> reqwest::Response {
    app.post_json(
        "/api/v1/entries/lookup",
        &json!({"entry": entry, "id_number": id_number(who)}),
    )
    .await
}

async fn draw_json(app: &TestApp, draw: i64) -> Value {
    let res = app.get(&format!("/api/v1/draws/{draw}")).await;
    assert_eq!(res.status(), 200);
    json_of(res).await
}

/// Enter `who` in a slot's draw through the API; returns the entry code.
async fn enter(app: &TestApp, slot: i64, who: u32) -> String {
    let res = app.book_api(slot, 1, &resident(who)).await;
    assert_eq!(res.status(), 202, "resident {who}");
    json_of(res).await["entry"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn booking_before_the_release_answers_409_not_open_with_the_opening_time_and_writes_nothing()
{
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let (slot, _) = released_slot(&app, city, day_at_ten(7), 5, release(), 0);

    let res = app.book_api(slot, 1, &resident(1)).await;
    assert_eq!(res.status(), 409);
    let body = json_of(res).await;
    assert_eq!(body["code"], "not_open");
    // 10:00 today in Shanghai, RFC 3339 with the city's offset.
    assert_eq!(body["opens_at"], "2030-03-04T10:00:00+08:00");
    assert!(body["error"].as_str().unwrap().contains("10:00"), "{body}");
    assert_eq!(app.count("appointments", "1=1"), 0);
    assert_eq!(app.count("residents", "1=1"), 0);
    assert_eq!(app.count("outbox", "1=1"), 0);
    assert_eq!(app.slot_counts(slot), (0, 0, 5));
    assert_eq!(app.stock(city), (10, 0));

    // The availability API and the site page say when it opens; the form refuses too.
    let date = (test_now() + Duration::days(7))
        .format("%Y-%m-%d")
        .to_string();
    let avail = app.availability(city.site, &date).await;
    assert_eq!(avail["slots"][0]["opens_at"], "2030-03-04T10:00:00+08:00");
    assert!(avail["slots"][0]["draw_closes_at"].is_null());
    let page = app
        .get_text(&format!("/sites/{}?date={date}", city.site))
        .await;
    assert!(page.contains("10:00 开放"), "{page}");
    assert!(!page.contains(&format!("/slots/{slot}/book")));
    let en = crate::helpers::Session::new(&app);
    en.get("/lang/en").await;
    let page = en
        .get_text(&format!("/sites/{}?date={date}", city.site))
        .await;
    assert!(page.contains("Opens Mon 4 Mar 10:00"), "{page}");
    let book = format!("/slots/{slot}/book");
    let csrf = app.csrf(&book).await;
    let mut form = resident_form(2);
    form.push(("dose_number".into(), "1".into()));
    form.push(("csrf".into(), csrf));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = app.post_raw(&book, &form).await;
    assert_eq!(res.status(), 409);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("将于 3月4日 星期一 10:00 开放预约"));
    assert_eq!(app.count("appointments", "1=1"), 0);
    assert_eq!(app.count("residents", "1=1"), 0);

    // At the opening time, without a draw, it is first come.
    app.clock.set(release());
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    assert_eq!(app.slot_counts(slot), (1, 0, 5));
    assert_eq!(app.stock(city), (10, 1));
}

#[actix_web::test]
async fn sixty_entries_for_ten_seats_take_no_seat_until_the_draw_which_books_exactly_ten() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 100);
    let (slot, draw) = released_slot(&app, city, day_at_ten(7), 10, release(), 10);
    let draw = draw.unwrap();
    let before = draw_json(&app, draw).await;
    let committed = before["seed_hash"].as_str().unwrap().to_string();
    assert!(
        before["seed"].is_null(),
        "the seed is secret until the draw"
    );
    assert_eq!(before["status"], "scheduled");

    app.clock.set(release() + Duration::minutes(3));
    let app_ref = &app;
    let reqs = (0..60).map(|i| async move { app_ref.book_api(slot, 1, &resident(100 + i)).await });
    let answers = join_all(reqs).await;
    let mut codes = Vec::new();
    for res in answers {
        assert_eq!(res.status(), 202);
        let body = json_of(res).await;
        assert_eq!(body["draw_at"], "2030-03-04T10:10:00+08:00");
        codes.push(body["entry"].as_str().unwrap().to_string());
    }
    assert_eq!(codes.iter().collect::<BTreeSet<_>>().len(), 60);
    // Nothing is taken before the draw.
    assert_eq!(app.count("appointments", "1=1"), 0);
    assert_eq!(app.slot_counts(slot), (0, 0, 10));
    assert_eq!(app.stock(city), (100, 0));
    assert_eq!(app.count("draw_entries", "status = 'waiting'"), 60);
    let date = (test_now() + Duration::days(7))
        .format("%Y-%m-%d")
        .to_string();
    let avail = app.availability(city.site, &date).await;
    assert_eq!(
        avail["slots"][0]["draw_closes_at"],
        "2030-03-04T10:10:00+08:00"
    );
    let who = |code: &str| 100 + codes.iter().position(|c| c == code).unwrap() as u32;
    let first = lookup(&app, &codes[0], who(&codes[0])).await;
    assert_eq!(json_of(first).await["status"], "waiting");
    // A lookup with another resident's ID number finds nothing.
    assert_eq!(lookup(&app, &codes[0], who(&codes[1])).await.status(), 404);

    // The window closes; the first lookup runs the draw.
    app.clock.set(release() + Duration::minutes(10));
    let mut drawn = Vec::new();
    for code in &codes {
        let res = lookup(&app, code, who(code)).await;
        assert_eq!(res.status(), 200);
        let body = json_of(res).await;
        match body["status"].as_str().unwrap() {
            "drawn" => {
                let booking = body["booking_code"].as_str().unwrap();
                assert_eq!(
                    app.count(
                        "appointments",
                        &format!("code = '{booking}' AND status = 'booked' AND slot_id = {slot}")
                    ),
                    1
                );
                drawn.push(code.clone());
            }
            "not_drawn" => assert!(body["booking_code"].is_null()),
            other => panic!("entry {code} is {other}"),
        }
    }
    assert_eq!(drawn.len(), 10);
    assert_eq!(app.count("appointments", "status = 'booked'"), 10);
    assert_eq!(app.slot_counts(slot), (10, 0, 10));
    assert_eq!(app.stock(city), (100, 10));
    assert_eq!(app.count("draw_entries", "status = 'not_drawn'"), 50);
    assert_eq!(app.count("outbox", "kind = 'booked'"), 10);
    assert_eq!(app.count("outbox", "kind = 'entry_result'"), 60);

    // The published seed hashes to the commitment made before the window, and recomputing the
    // order from it gives the published order, whose first ten are the winners.
    let after = draw_json(&app, draw).await;
    assert_eq!(after["status"], "done");
    assert_eq!(after["seed_hash"], committed);
    let seed = after["seed"].as_str().unwrap();
    assert_eq!(seed.len(), 64);
    assert_eq!(sha256_hex(seed), committed);
    let published: Vec<String> = after["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let mut recomputed = codes.clone();
    recomputed.sort_by_key(|c| sha256_hex(&format!("{seed}{c}")));
    assert_eq!(published, recomputed);
    let winners: BTreeSet<&String> = drawn.iter().collect();
    assert_eq!(winners, published[..10].iter().collect());
    // The draw's page publishes the same.
    let page = app.get_text(&format!("/draws/{draw}")).await;
    assert!(page.contains(seed) && page.contains(&committed) && page.contains(&published[59]));
}

#[actix_web::test]
async fn arriving_first_in_the_window_decides_nothing() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 100);
    let (slot, draw) = released_slot(&app, city, day_at_ten(7), 5, release(), 10);
    // A seeded run: the seed is fixed (and committed) before the window opens.
    let seed = "5eed".repeat(16);
    {
        use dosewise::db::schema::draws;
        diesel::update(draws::table.find(draw.unwrap()))
            .set((
                draws::seed.eq(&seed),
                draws::seed_hash.eq(sha256_hex(&seed)),
            ))
            .execute(&mut *app.conn())
            .unwrap();
    }
    app.clock.set(release());
    let mut arrivals = Vec::new();
    for i in 0..30 {
        app.clock
            .set(release() + Duration::seconds(15 * i64::from(i)));
        arrivals.push(enter(&app, slot, 200 + i).await);
    }
    app.clock.set(release() + Duration::minutes(11));
    let mut winners = BTreeSet::new();
    for (i, code) in arrivals.iter().enumerate() {
        let body = json_of(lookup(&app, code, 200 + i as u32).await).await;
        if body["status"] == "drawn" {
            winners.insert(code.clone());
        }
    }
    assert_eq!(winners.len(), 5);
    let first_five: BTreeSet<String> = arrivals[..5].iter().cloned().collect();
    assert_ne!(
        winners, first_five,
        "the first arrivals are not simply the winners"
    );
    let mut by_key = arrivals.clone();
    by_key.sort_by_key(|c| sha256_hex(&format!("{seed}{c}")));
    assert_eq!(winners, by_key[..5].iter().cloned().collect());
}

#[actix_web::test]
async fn one_entry_per_id_number_and_dose_with_the_booking_rules() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let (slot, draw) = released_slot(&app, city, day_at_ten(7), 4, release(), 10);
    let other = add_slot_at(
        &mut app.conn(),
        city,
        day_at_ten(7) + Duration::hours(1),
        4,
        0,
    );
    {
        use dosewise::db::schema::slots;
        diesel::update(slots::table.find(other))
            .set(slots::opens_at.eq(Some(release())))
            .execute(&mut *app.conn())
            .unwrap();
    }
    app.clock.set(release());
    enter(&app, slot, 1).await;
    for s in [slot, other] {
        let again = app.book_api(s, 1, &resident(1)).await;
        assert_eq!(again.status(), 409);
        assert_eq!(json_of(again).await["code"], "already_entered");
    }
    // The same ID number many times at once: still one entry.
    let app_ref = &app;
    let reqs = (0..8).map(|_| async move { app_ref.book_api(other, 1, &resident(2)).await });
    let statuses: Vec<u16> = join_all(reqs)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|s| *s == 202 || *s == 409));
    // A second dose with no first dose recorded is refused as a booking would be.
    let res = app.book_api(slot, 2, &resident(3)).await;
    assert_eq!(res.status(), 409);
    assert!(json_of(res).await["code"].is_null());
    assert_eq!(app.count("draw_entries", "1=1"), 2);
    // The draw's record counts them (no row counter during the window: entries do not queue
    // on the draw's row).
    let record = json_of(app.get(&format!("/api/v1/draws/{}", draw.unwrap())).await).await;
    assert_eq!(record["entries"], 2, "{record}");
    assert_eq!(app.count("residents", "1=1"), 2);
    assert_eq!(app.count("appointments", "1=1"), 0);
    app.clock.set(release() + Duration::minutes(10));
    assert_eq!(
        dosewise::booking::draw::run_due(
            app.database(),
            &|| app.state.rules(),
            app.state.settings.contact_day_cap
        )
        .unwrap(),
        1
    );
    assert_eq!(app.count("appointments", "status = 'booked'"), 2);
}

#[actix_web::test]
async fn a_taken_seat_gives_the_nearest_seat_that_day_and_the_rest_are_then_first_come() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 100);
    // 10:00 (2 seats) is asked for by all; 11:00 (2) and 08:30 (1) are nearer than the 16:00
    // slot; another day's slot is never offered.
    let (ten, _) = released_slot(&app, city, day_at_ten(7), 2, release(), 10);
    let (eleven, _) = released_slot(
        &app,
        city,
        day_at_ten(7) + Duration::hours(1),
        2,
        release(),
        10,
    );
    let (early, _) = released_slot(
        &app,
        city,
        day_at_ten(7) - Duration::minutes(90),
        1,
        release(),
        10,
    );
    let (late, _) = released_slot(
        &app,
        city,
        day_at_ten(7) + Duration::hours(6),
        10,
        release(),
        10,
    );
    let (next_day, _) = released_slot(&app, city, day_at_ten(8), 10, release(), 10);
    app.clock.set(release());
    let mut codes = Vec::new();
    for i in 0..8 {
        codes.push(enter(&app, ten, 300 + i).await);
    }
    app.clock.set(release() + Duration::minutes(10));
    let draw_id = dosewise::models::draw_entry::find_by_code(&mut app.conn(), &codes[0])
        .unwrap()
        .unwrap()
        .draw_id;
    assert!(dosewise::booking::draw::run_draw(
        app.database(),
        &|| app.state.rules(),
        app.state.settings.contact_day_cap,
        draw_id
    )
    .unwrap());
    assert_eq!(app.slot_counts(ten), (2, 0, 2));
    assert_eq!(app.slot_counts(eleven), (2, 0, 2));
    assert_eq!(app.slot_counts(early), (1, 0, 1));
    assert_eq!(app.slot_counts(late), (3, 0, 10));
    assert_eq!(app.slot_counts(next_day), (0, 0, 10));
    assert_eq!(app.stock(city), (100, 8));
    // The order decides who gets the seat asked for: the first two in the published order.
    let d = dosewise::models::draw::find(&mut app.conn(), draw_id)
        .unwrap()
        .unwrap();
    for code in &d.order()[..2] {
        assert_eq!(
            app.count(
                "draw_entries e JOIN appointments a ON a.id = e.appointment_id",
                &format!("e.code = '{code}' AND a.slot_id = {ten}")
            ),
            1
        );
    }
    // After the draw the seats left are first come, at once.
    let res = app.book_api(late, 1, &resident(400)).await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.slot_counts(late), (4, 0, 10));
}

#[actix_web::test]
async fn the_booking_form_in_the_window_gives_an_entry_page_whose_result_shows_after_the_draw() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let (slot, _) = released_slot(&app, city, day_at_ten(7), 1, release(), 10);
    app.clock.set(release() + Duration::minutes(1));
    let book = format!("/slots/{slot}/book");
    let page = app.get_text(&book).await;
    assert!(page.contains("3月4日 星期一 10:10"), "{page}");
    assert!(page.contains("参加抽签"));
    let csrf = csrf_in(&page).unwrap();
    let mut form = resident_form(7);
    form.push(("dose_number".into(), "1".into()));
    form.push(("csrf".into(), csrf));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = app.post_raw(&book, &form).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/entry");
    let page = app.get_text("/entry").await;
    let code: String = {
        use dosewise::db::schema::draw_entries;
        draw_entries::table
            .select(draw_entries::code)
            .first(&mut *app.conn())
            .unwrap()
    };
    let shown = format!("{}-{}", &code[..4], &code[4..]);
    assert!(page.contains(&shown), "{page}");
    assert!(page.contains("等待抽签"));
    assert!(
        !page.contains(&id_number(7)),
        "the ID number is never shown"
    );
    assert_eq!(app.count("appointments", "1=1"), 0);

    // Another browser finds it by code and ID number after the draw (run by this visit).
    app.clock.set(release() + Duration::minutes(10));
    let other = crate::helpers::Session::new(&app);
    let html = other.get_text("/entry/find").await;
    let csrf = csrf_in(&html).unwrap();
    let wrong = other
        .post_raw(
            "/entry/find",
            &[
                ("code", shown.as_str()),
                ("id_number", &id_number(8)),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 404);
    let found = other
        .post_raw(
            "/entry/find",
            &[
                ("code", shown.as_str()),
                ("id_number", &id_number(7)),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(found.status(), 303);
    let page = other.get_text("/entry").await;
    assert!(page.contains("已中签"), "{page}");
    let booking: String = {
        use dosewise::db::schema::appointments;
        appointments::table
            .select(appointments::code)
            .first(&mut *app.conn())
            .unwrap()
    };
    assert!(page.contains(&format!("{}-{}", &booking[..4], &booking[4..])));
    // The entry page grants the appointment it was given.
    let appt = other.get("/appointment").await;
    assert_eq!(appt.status(), 200);
    assert_eq!(app.slot_counts(slot), (1, 0, 1));

    // The result is mailed, in the resident's language.
    app.deliver_mail().await;
    let mail: Vec<String> = app
        .sent_mail()
        .iter()
        .map(|m| String::from_utf8_lossy(m).to_string())
        .collect();
    let result = mail
        .iter()
        .find(|m| m.contains("entry_result"))
        .expect("an entry result message");
    use mailparse::MailHeaderMap;
    let parsed = mailparse::parse_mail(result.as_bytes()).unwrap();
    let subject = parsed.headers.get_first_value("Subject").unwrap();
    assert!(subject.starts_with("已中签"), "{subject}");
}

/// The admin's template form for the city's site: every day 09:00-11:00, hour slots, 3 seats,
/// 10 days ahead, with the given release fields.
async fn post_template(admin: &Session, city: City, release: &[(&str, &str)]) -> reqwest::Response {
    let page = format!("/admin/sites/{}", city.site);
    let product = city.product.to_string();
    let mut form: Vec<(&str, &str)> = vec![
        ("product", &product),
        ("slot_minutes", "60"),
        ("seats", "3"),
        ("days_ahead", "10"),
    ];
    for names in dosewise::views::admin::HOUR_FIELDS {
        form.push((names[0], "09:00"));
        form.push((names[3], "11:00"));
    }
    form.extend_from_slice(release);
    admin
        .post_form_from(&page, &format!("{page}/template"), &form)
        .await
}

#[actix_web::test]
async fn a_release_time_off_the_five_minute_steps_is_refused_with_the_rule_it_breaks() {
    let app = spawn_app().await;
    let city = app.city();
    let admin = login_as(&app, Role::Admin).await;
    let templates = app.count("site_templates", "1=1");
    let rule = [("release_days", "7"), ("release_time", "16:03")];
    let res = post_template(&admin, city, &rule).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("release_time-error"), "{body}");
    // The message states the rule (5-minute steps, e.g. 16:05), in the page's language.
    assert!(body.contains("16:05"), "{body}");
    assert_eq!(app.count("draws", "1=1"), 0);
    assert_eq!(app.count("site_templates", "1=1"), templates);
    let rule = [("release_days", "7"), ("release_time", "16:05")];
    assert_eq!(post_template(&admin, city, &rule).await.status(), 303);
    let stored = format!("site_id = {} AND release_minutes = 965", city.site);
    assert_eq!(app.count("site_templates", &stored), 1);
}

#[actix_web::test]
async fn a_release_rule_on_the_template_opens_each_day_at_its_time_and_commits_its_draws_seed() {
    let app = spawn_app().await;
    let city = app.city();
    let admin = login_as(&app, Role::Admin).await;
    let blank = admin.get_text(&format!("/admin/sites/{}", city.site)).await;
    assert!(
        blank.contains(r#"name="draw_minutes" type="text" value="10""#),
        "the form offers DOSEWISE_DRAW_MINUTES"
    );
    let rule = [
        ("release_days", "7"),
        ("release_time", "20:00"),
        ("draw_minutes", "15"),
    ];
    assert_eq!(post_template(&admin, city, &rule).await.status(), 303);
    let form = admin.get_text(&format!("/admin/sites/{}", city.site)).await;
    for value in ["value=\"7\"", "value=\"20:00\"", "value=\"15\""] {
        assert!(
            form.contains(value),
            "the form shows the stored rule: {value}"
        );
    }
    use dosewise::db::schema::{draws, slots};
    let rows: Vec<(NaiveDateTime, Option<NaiveDateTime>)> = slots::table
        .filter(slots::site_id.eq(city.site))
        .order(slots::starts_at.asc())
        .select((slots::starts_at, slots::opens_at))
        .load(&mut *app.conn())
        .unwrap();
    assert!(!rows.is_empty());
    for (start, opens) in &rows {
        // Day D at 09:00 local (01:00 UTC) opens on D-7 at 20:00 local (12:00 UTC that day).
        let d = start.date() - Duration::days(7);
        let expected = d.and_hms_opt(12, 0, 0).unwrap();
        assert_eq!(*opens, Some(expected), "slot at {start}");
    }
    // A draw for each opening still ahead, its seed committed now.
    let future: BTreeSet<NaiveDateTime> = rows
        .iter()
        .filter_map(|r| r.1)
        .filter(|o| *o > test_now())
        .collect();
    let committed: Vec<(NaiveDateTime, NaiveDateTime, String, String)> = draws::table
        .filter(draws::site_id.eq(city.site))
        .order(draws::opens_at.asc())
        .select((
            draws::opens_at,
            draws::closes_at,
            draws::seed,
            draws::seed_hash,
        ))
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(committed.len(), future.len());
    for (o, c, seed, hash) in &committed {
        assert!(future.contains(o));
        assert_eq!(*c - *o, Duration::minutes(15));
        assert_eq!(sha256_hex(seed), *hash);
    }
    // The site page of a day not open yet shows when it opens and the commitment.
    let day = (test_now() + Duration::days(9))
        .format("%Y-%m-%d")
        .to_string();
    let page = app
        .get_text(&format!("/sites/{}?date={day}", city.site))
        .await;
    assert!(page.contains("3月6日 星期三 20:00 开放"), "{page}");
    assert!(page.contains(&committed.last().unwrap().3));
    assert!(
        !page.contains(&committed.last().unwrap().2),
        "the seed stays secret"
    );

    // Saving again changes nothing.
    let n = committed.len();
    assert_eq!(post_template(&admin, city, &rule).await.status(), 303);
    assert_eq!(app.count("draws", "1=1") as usize, n);
    // A half-given or impossible rule is refused, named, and nothing changes.
    let res = post_template(&admin, city, &[("release_days", "7")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("HH:MM"));
    let res = post_template(
        &admin,
        city,
        &[
            ("release_days", "0"),
            ("release_time", "25:00"),
            ("draw_minutes", "-1"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    for field in [
        "release_days-error",
        "release_time-error",
        "draw_minutes-error",
    ] {
        assert!(body.contains(field), "{field}");
    }
    assert_eq!(app.count("draws", "1=1") as usize, n);
    // Removing the rule opens the slots at once and drops the draws nobody entered.
    assert_eq!(post_template(&admin, city, &[]).await.status(), 303);
    assert_eq!(app.count("draws", "1=1"), 0);
    assert_eq!(app.count("slots", "opens_at > '2030-03-04 01:00:00'"), 0);
}

#[actix_web::test]
async fn several_runners_at_once_decide_each_entry_once() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 100);
    let (slot, _) = released_slot(&app, city, day_at_ten(7), 6, release(), 10);
    app.clock.set(release());
    for i in 0..20 {
        enter(&app, slot, 500 + i).await;
    }
    app.clock.set(release() + Duration::minutes(10));
    let runners = (0..4).map(|_| {
        let st = app.state.clone();
        actix_web::web::block(move || {
            dosewise::booking::draw::run_due(&st.db, &|| st.rules(), st.settings.contact_day_cap)
                .unwrap()
        })
    });
    let done: usize = join_all(runners)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .sum();
    assert_eq!(done, 1, "one runner completes the draw");
    assert_eq!(app.count("appointments", "status = 'booked'"), 6);
    assert_eq!(app.count("draw_entries", "status = 'drawn'"), 6);
    assert_eq!(app.count("draw_entries", "status = 'not_drawn'"), 14);
    assert_eq!(app.count("outbox", "kind = 'entry_result'"), 20);
    assert_eq!(app.slot_counts(slot), (6, 0, 6));
    assert_eq!(app.stock(city), (100, 6));
    // Too late for an entry: the window is closed and the draw done, so it is a booking.
    assert_eq!(app.book_api(slot, 1, &resident(600)).await.status(), 409);
    assert_eq!(app.count("draw_entries", "1=1"), 20);
}

#[actix_web::test]
async fn demo_data_can_announce_every_slots_release_and_run_draws_runs_the_draws_due() {
    use crate::cli::{demo_data, dosewise, text};
    use crate::helpers::{count_where, TestDb};
    let db = TestDb::new();
    let before = chrono::Utc::now().naive_utc();
    let out = demo_data(
        &db.url,
        "--towns 1 --sites-per-town 2 --days 2 --draw-opens-in 3600 --draw-seconds 120",
    );
    assert!(out.contains("2 draws"), "{out}");
    let after = chrono::Utc::now().naive_utc();
    {
        let pools = dosewise::db::Db::connect(&db.url, 1).unwrap();
        let mut c = pools.read.get().unwrap();
        assert!(count_where(&mut c, "slots", "1=1") > 0);
        assert_eq!(count_where(&mut c, "slots", "opens_at IS NULL"), 0);
        use dosewise::db::schema::{draws, slots};
        let opens: Vec<Option<NaiveDateTime>> = slots::table
            .select(slots::opens_at)
            .distinct()
            .load(&mut *c)
            .unwrap();
        assert_eq!(opens.len(), 1, "one opening for every slot");
        let opens = opens[0].unwrap();
        assert!(
            opens >= before + Duration::seconds(3599) && opens <= after + Duration::seconds(3601)
        );
        let rows: Vec<(NaiveDateTime, NaiveDateTime, String, String)> = draws::table
            .select((
                draws::opens_at,
                draws::closes_at,
                draws::seed,
                draws::seed_hash,
            ))
            .load(&mut *c)
            .unwrap();
        assert_eq!(rows.len(), 2, "one draw per site");
        for (o, cl, seed, hash) in rows {
            assert_eq!((o, cl - o), (opens, Duration::seconds(120)));
            assert_eq!(sha256_hex(&seed), hash);
        }
    }
    let out = dosewise(&db.url, &["run-draws"], "");
    assert!(text(&out).contains("0 draws run"), "{}", text(&out));

    // Opening at once with a one-second window: once it has passed, run-draws runs both.
    let db = TestDb::new();
    demo_data(
        &db.url,
        "--towns 1 --sites-per-town 2 --days 1 --draw-opens-in 0 --draw-seconds 1",
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let out = dosewise(&db.url, &["run-draws"], "");
    assert!(text(&out).contains("2 draws run"), "{}", text(&out));
    let pools = dosewise::db::Db::connect(&db.url, 1).unwrap();
    let mut c = pools.read.get().unwrap();
    assert_eq!(count_where(&mut c, "draws", "status = 'done'"), 2);

    // Without the flags, slots are bookable at once as before.
    let db = TestDb::new();
    demo_data(&db.url, "--towns 1 --days 1");
    let pools = dosewise::db::Db::connect(&db.url, 1).unwrap();
    let mut c = pools.read.get().unwrap();
    assert_eq!(count_where(&mut c, "slots", "opens_at IS NOT NULL"), 0);
    assert_eq!(count_where(&mut c, "draws", "1=1"), 0);
}

#[actix_web::test]
async fn bad_entry_lookups_and_unknown_draws_get_clear_answers_and_no_id_in_a_url() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/api/v1/entries/lookup",
            &json!({"entry": "not a code!", "id_number": id_number(1)}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(json_of(res).await["field"], "entry");
    let res = app
        .post_json(
            "/api/v1/entries/lookup",
            &json!({"entry": "7K3Q-9MZD", "id_number": "12345"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(lookup(&app, "7K3Q9MZD", 1).await.status(), 404);
    let res = app
        .client
        .post(format!("{}/api/v1/entries/lookup", app.address))
        .header("content-type", "application/json")
        .body("{\"entry\":")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(app.get("/api/v1/draws/123").await.status(), 404);
    assert_eq!(app.get("/api/v1/draws/x").await.status(), 404);
    assert_eq!(app.get("/draws/123").await.status(), 404);
    let res = app.get("/entry").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/entry/find");
    // The find form without its CSRF token is refused; with junk it says what is wrong.
    let res = app
        .post_raw("/entry/find", &[("code", "x"), ("id_number", "y")])
        .await;
    assert_eq!(res.status(), 403);
    let csrf = app.csrf("/entry/find").await;
    let res = app
        .post_raw(
            "/entry/find",
            &[("code", "x"), ("id_number", "y"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("code-error") && page.contains("id_number-error"));
}
