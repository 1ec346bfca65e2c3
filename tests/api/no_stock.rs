//! A site without an unpromised dose of a slot's vaccine (walk defect 2): it offers no
//! first-dose seat, and a draw there tells its entries the true reason, on the page and by mail.

use chrono::{Duration, NaiveDateTime};
use serde_json::{json, Value};

use crate::helpers::{
    add_slot_at, csrf_in, id_number, open_in_draw, resident, spawn_app, test_now, Session, TestApp,
};

/// The slot's start: `days` ahead at 10:00 Shanghai time.
fn day_at_ten(days: i64) -> NaiveDateTime {
    test_now() + Duration::days(days) + Duration::hours(1)
}

/// When the tests' releases open: an hour after the test clock's now.
fn release() -> NaiveDateTime {
    test_now() + Duration::hours(1)
}

fn the_day(days: i64) -> String {
    (test_now() + Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// `GET /api/v1/availability` for the city's site `days` ahead.
async fn availability(app: &TestApp, site: i64, days: i64) -> Value {
    let path = format!("/api/v1/availability?site={site}&date={}", the_day(days));
    let res = app.get(&path).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Every text part of a message, decoded.
fn bodies(m: &mailparse::ParsedMail<'_>) -> String {
    let mut out = m.get_body().unwrap_or_default();
    for p in &m.subparts {
        out.push_str(&bodies(p));
    }
    out
}

#[actix_web::test]
async fn a_site_without_stock_offers_no_first_dose_seat_and_at_most_its_unpromised_doses() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = add_slot_at(&mut app.conn(), city, day_at_ten(7), 5, 0);
    let next_day = add_slot_at(&mut app.conn(), city, day_at_ten(8), 5, 0);
    let page = format!("/sites/{}?date={}", city.site, the_day(7));

    // No dose at the site: no first-dose seat, on the API and on the page.
    let body = availability(&app, city.site, 7).await;
    assert_eq!(body["slots"][0]["id"], slot.to_string(), "{body}");
    assert_eq!(body["slots"][0]["free_first_dose"], 0, "{body}");
    assert_eq!(body["slots"][0]["free_second_dose"], 5, "{body}");
    let html = app.get_text(&page).await;
    assert!(!html.contains("剩余 5 个名额"), "{html}");
    assert!(html.contains("暂无疫苗"), "{html}");
    assert!(!html.contains(&format!("/slots/{slot}/book")), "{html}");
    // Booking a first dose is refused as the page says, and writes nothing.
    let res = app.book_api(slot, 1, &resident(1)).await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "no_stock", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("疫苗已全部约出"),
        "{body}"
    );
    assert_eq!(app.slot_counts(slot), (0, 0, 5));
    assert_eq!(app.count("appointments", "1=1"), 0);

    // Two doses arrive: two seats are offered, not five (another day, not read since).
    app.add_stock(city, 2);
    let body = availability(&app, city.site, 8).await;
    assert_eq!(body["slots"][0]["id"], next_day.to_string(), "{body}");
    assert_eq!(body["slots"][0]["free_first_dose"], 2, "{body}");
    let html = app
        .get_text(&format!("/sites/{}?date={}", city.site, the_day(8)))
        .await;
    assert!(html.contains("剩余 2 个名额"), "{html}");
    // One is booked: one left; this process's write shows at once, and the promised dose is
    // not offered again.
    let res = app.book_api(next_day, 1, &resident(2)).await;
    assert_eq!(res.status(), 201);
    let body = availability(&app, city.site, 8).await;
    assert_eq!(body["slots"][0]["free_first_dose"], 1, "{body}");
    assert_eq!(app.stock(city), (2, 1));
    assert_eq!(app.slot_counts(next_day), (1, 0, 5));
}

#[actix_web::test]
async fn a_site_without_stock_says_so_on_the_town_and_site_pages_and_links_to_no_booking() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = add_slot_at(&mut app.conn(), city, day_at_ten(7), 5, 0);
    let site_page = format!("/sites/{}?date={}", city.site, the_day(7));
    let see_times = format!("<a class=\"button\" href=\"/sites/{}\">", city.site);

    // Seats but no dose: the town page says the site has no vaccine instead of a next free time.
    let town = app.get_text(&format!("/towns/{}", city.town)).await;
    assert!(
        town.contains("data-testid=\"no-stock\">该接种点暂无可预约的疫苗"),
        "{town}"
    );
    assert!(
        !town.contains("最近可约") && !town.contains(&see_times),
        "{town}"
    );
    // The site page says it first, and no slot links to a booking form.
    let html = app.get_text(&site_page).await;
    assert!(html.contains("该接种点目前没有可预约的疫苗"), "{html}");
    assert!(
        html.contains("data-testid=\"no-stock-slot\">暂无疫苗"),
        "{html}"
    );
    assert!(html.contains("slot is-dry"), "{html}");
    assert!(!html.contains(&format!("/slots/{slot}/book")), "{html}");
    // Reached all the same (an old link), the form says so before it is filled.
    let form = app.get_text(&format!("/slots/{slot}/book")).await;
    assert!(form.contains("这个接种点的疫苗已全部约出"), "{form}");
    let en = app.get_text_in(&site_page, "en").await;
    assert!(en.contains("No vaccine in stock"), "{en}");
    assert_eq!(app.count("appointments", "1=1"), 0);
    assert_eq!(app.stock(city), (0, 0));

    // Doses arrive (written behind the app's back: its one-second caches expire first).
    app.add_stock(city, 2);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let town = app.get_text(&format!("/towns/{}", city.town)).await;
    assert!(
        town.contains("最近可约") && town.contains(&see_times),
        "{town}"
    );
    assert!(!town.contains("该接种点暂无可预约的疫苗"), "{town}");
    let html = app.get_text(&site_page).await;
    assert!(!html.contains("该接种点目前没有可预约的疫苗"), "{html}");
    assert!(html.contains(&format!("/slots/{slot}/book")), "{html}");
    assert!(html.contains("剩余 2 个名额"), "{html}");
    let form = app.get_text(&format!("/slots/{slot}/book")).await;
    assert!(!form.contains("这个接种点的疫苗已全部约出"), "{form}");
    let res = app.book_api(slot, 1, &resident(1)).await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.stock(city), (2, 1));
}

#[actix_web::test]
async fn a_draw_at_a_site_without_stock_says_so_on_the_entry_page_and_by_mail() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = add_slot_at(&mut app.conn(), city, day_at_ten(7), 5, 0);
    // A second slot the same day: the draw may look there, and finds no dose either.
    let other = add_slot_at(
        &mut app.conn(),
        city,
        day_at_ten(7) + Duration::hours(1),
        5,
        0,
    );
    let draw = open_in_draw(&mut app.conn(), city, &[slot, other], release(), 10);

    app.clock.set(release() + Duration::minutes(1));
    let mut entries = Vec::new();
    for i in 0..3u32 {
        let res = app.book_api(slot, 1, &resident(300 + i)).await;
        assert_eq!(
            res.status(),
            202,
            "entering is not refused: the draw decides"
        );
        let body: Value = res.json().await.unwrap();
        entries.push(body["entry"].as_str().unwrap().to_string());
    }
    app.clock.set(release() + Duration::minutes(10));
    let cap = app.state.settings.contact_day_cap;
    assert!(
        dosewise::booking::draw::run_draw(app.database(), &|| app.state.rules(), cap, draw)
            .unwrap()
    );

    // Every entry: not drawn, because of the stock, not "drawn before yours".
    for (i, code) in entries.iter().enumerate() {
        let res = app
            .post_json(
                "/api/v1/entries/lookup",
                &json!({"entry": code, "id_number": id_number(300 + i as u32)}),
            )
            .await;
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], "not_drawn", "{body}");
        assert_eq!(body["reason"], "no_stock", "{body}");
    }
    assert_eq!(
        app.count(
            "draw_entries",
            "status = 'not_drawn' AND reason = 'no_stock'"
        ),
        3
    );
    assert_eq!(app.count("appointments", "1=1"), 0);
    assert_eq!(app.slot_counts(slot), (0, 0, 5), "no seat taken");
    assert_eq!(app.stock(city), (0, 0));

    // The entry page gives the reason.
    let s = Session::new(&app);
    let csrf = csrf_in(&s.get_text("/entry/find").await).unwrap();
    let res = s
        .post_raw(
            "/entry/find",
            &[
                ("code", entries[0].as_str()),
                ("id_number", &id_number(300)),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = s.get_text("/entry").await;
    assert!(
        page.contains("未中签：该接种点当天已没有可预约的该疫苗"),
        "{page}"
    );
    assert!(!page.contains("排在您之前"), "{page}");

    // And so does the mail, in the resident's language.
    app.deliver_mail().await;
    let results: Vec<String> = app
        .sent_mail()
        .iter()
        .map(|raw| mailparse::parse_mail(raw).unwrap())
        .filter(|m| {
            use mailparse::MailHeaderMap;
            m.headers
                .get_first_value("Subject")
                .is_some_and(|s| s.starts_with("未中签"))
        })
        .map(|m| bodies(&m))
        .collect();
    assert_eq!(results.len(), 3, "one result per entry");
    for body in &results {
        assert!(
            body.contains("您的抽签申请未分配名额：该接种点当天已没有可预约的该疫苗"),
            "{body}"
        );
    }
}
