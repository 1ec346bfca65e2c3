//! The resident's journey through the HTML pages, without JavaScript: find a site, book, find the
//! appointment again, move it, cancel it, join a waiting list.

use crate::helpers::{csrf_in, id_number, resident_form, spawn_app, TestApp};

async fn book_form(app: &TestApp, slot: i64, who: u32, dose: &str) -> reqwest::Response {
    book_fields(app, slot, resident_form(who), dose).await
}

/// Post the booking form with these resident fields.
async fn book_fields(
    app: &TestApp,
    slot: i64,
    mut form: Vec<(String, String)>,
    dose: &str,
) -> reqwest::Response {
    let token = app.csrf(&format!("/slots/{slot}/book")).await;
    form.push(("csrf".into(), token));
    form.push(("dose_number".into(), dose.into()));
    app.post_fields(&format!("/slots/{slot}/book"), &form).await
}

#[actix_web::test]
async fn an_empty_database_explains_how_to_create_the_first_admin() {
    let app = spawn_app().await;
    let home = app.get_text("/").await;
    assert!(home.contains("dosewise create-user --role admin"), "{home}");
}

#[actix_web::test]
async fn a_resident_finds_a_site_and_its_slots_one_day_at_a_time() {
    let app = spawn_app().await;
    let city = app.city();
    let open = app.add_slot(city, 0, 3, 0);
    let full = app.add_slot(city, 1, 1, 0);
    app.add_stock(city, 10);
    assert_eq!(
        app.book_api(full, 1, &crate::helpers::resident(1))
            .await
            .status(),
        201
    );

    let home = app.get_text("/").await;
    assert!(home.contains(&format!("/towns/{}", city.town)));
    let town = app.get_text(&format!("/towns/{}", city.town)).await;
    assert!(town.contains("人民路1号"));
    assert!(
        town.contains("3月4日 星期一 10:00–10:30"),
        "next free slot shown: {town}"
    );

    let today = app.get_text(&format!("/sites/{}", city.site)).await;
    assert!(today.contains(&format!("/slots/{open}/book")));
    assert!(today.contains("剩余 3 个名额"));
    assert!(today.contains("?date=2030-03-05"), "a link to the next day");
    assert!(
        !today.contains("rel=\"prev\""),
        "no going back before today"
    );

    let tomorrow = app
        .get_text(&format!("/sites/{}?date=2030-03-05", city.site))
        .await;
    assert!(tomorrow.contains("is-full"));
    assert!(tomorrow.contains("已约满"));
    assert!(!tomorrow.contains(&format!("/slots/{full}/book")));
    assert!(tomorrow.contains("?date=2030-03-04"));
}

#[actix_web::test]
async fn the_appointment_page_gives_the_sites_own_observation_time() {
    let app = crate::helpers::spawn_app_with_settings(|s| s.observation_minutes = 45).await;
    let (_, slot) = app.city_with_slot(2, 3, 0, 10);
    assert_eq!(book_form(&app, slot, 1, "1").await.status(), 303);
    let page = app.get_text("/appointment").await;
    assert!(page.contains("接种后需留观 45 分钟"), "{page}");
    assert!(!page.contains("30 分钟"));
}

#[actix_web::test]
async fn the_move_page_offers_a_second_dose_only_the_slots_inside_its_window() {
    let app = spawn_app().await;
    let city = app.city();
    let too_early = app.add_slot(city, 0, 3, 0);
    let first = app.add_slot(city, 2, 3, 0);
    let booked = app.add_slot(city, 3, 3, 0);
    let inside = app.add_slot(city, 5, 3, 0);
    app.add_stock(city, 10);
    let r = crate::helpers::resident(1);
    assert_eq!(app.book_api(first, 1, &r).await.status(), 201);
    // Dose 1 twenty days ago: with 21 to 56 days between doses, dose 2 opens tomorrow.
    crate::helpers::give_dose(&app, city, &id_number(1), 1, 20);
    assert_eq!(book_form(&app, booked, 1, "2").await.status(), 303);

    let today = app
        .get_text(&format!(
            "/appointment/move?site={}&date=2030-03-04",
            city.site
        ))
        .await;
    assert!(
        !today.contains(&format!("name=\"slot_id\" value=\"{too_early}\""))
            && today.contains("data-testid=\"not-movable\""),
        "before the window opens: {today}"
    );
    let later = app
        .get_text(&format!(
            "/appointment/move?site={}&date=2030-03-09",
            city.site
        ))
        .await;
    assert!(
        later.contains(&format!("name=\"slot_id\" value=\"{inside}\"")),
        "inside the window: {later}"
    );
}

#[actix_web::test]
async fn a_site_page_opens_on_the_first_day_with_a_free_seat() {
    let app = spawn_app().await;
    let city = app.city();
    let full_today = app.add_slot(city, 0, 1, 0);
    let later = app.add_slot(city, 3, 4, 0);
    app.add_stock(city, 10);
    let booked = app
        .book_api(full_today, 1, &crate::helpers::resident(1))
        .await;
    assert_eq!(booked.status(), 201);

    let page = app.get_text(&format!("/sites/{}", city.site)).await;
    assert!(
        page.contains("3月7日") && page.contains(&format!("/slots/{later}/book")),
        "today is full: the page opens three days ahead on the free slot: {page}"
    );
    assert!(page.contains("?date=2030-03-06"), "and can go back a day");
    // A day asked for is the day shown, free seats or not.
    let today = app
        .get_text(&format!("/sites/{}?date=2030-03-04", city.site))
        .await;
    assert!(today.contains("已约满") && !today.contains(&format!("/slots/{later}/book")));
}

#[actix_web::test]
async fn booking_through_the_form_shows_the_code_a_qr_code_and_only_a_masked_id() {
    let app = spawn_app().await;
    let (_, slot) = app.city_with_slot(2, 3, 0, 10);

    let res = book_form(&app, slot, 1, "1").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/appointment?done=booked");
    let page = app.get_text("/appointment?done=booked").await;
    assert!(page.contains("<h1>预约成功</h1>"));
    assert!(page.contains("<svg"), "inline QR code");
    let id = id_number(1);
    assert!(!page.contains(&id), "the full ID number is never shown");
    assert!(page.contains(&format!("**************{}", &id[14..])));
    assert!(page.contains("3月6日 星期三 10:00–10:30"));
    assert!(
        page.contains("接种后需留观 30 分钟"),
        "the default observation time"
    );
    let code = page.split("data-testid=\"booking-code\">").nth(1).unwrap()[..9].to_string();
    assert!(code.chars().nth(4) == Some('-'), "{code}");

    // Another browser finds it with the code and the ID number. Until it has, the booking's
    // pages send it to the look-up, the move page to the one that leads back to it.
    let other = crate::helpers::Session::new(&app);
    for (path, to) in [
        ("/appointment", "/find"),
        ("/appointment/move", "/find?then=move"),
        ("/appointment/move?site=1", "/find?then=move"),
    ] {
        let res = other.get(path).await;
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()["location"], to, "{path}");
    }
    let find = other.get_text("/find").await;
    let token = csrf_in(&find).unwrap();
    let res = other
        .post_raw(
            "/find",
            &[
                ("csrf", token.as_str()),
                ("code", &code),
                ("id_number", &id_number(2)),
            ],
        )
        .await;
    assert_eq!(res.status(), 404, "a wrong ID number finds nothing");
    let res = other
        .post_raw(
            "/find",
            &[
                ("csrf", token.as_str()),
                ("code", &code),
                ("id_number", &id),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/appointment");
    let found = other.get_text("/appointment").await;
    assert!(found.contains(&code));
    let moving = other.get("/appointment/move").await;
    assert_eq!(moving.status(), 200, "with the grant, the move page opens");
    assert!(
        found.contains("<h1>我的预约</h1>") && !found.contains("预约成功"),
        "looked up later, the booking is not announced as new: {found}"
    );
}

#[actix_web::test]
async fn moving_an_appointment_keeps_its_code_and_gives_back_the_old_seat() {
    let app = spawn_app().await;
    let city = app.city();
    let from = app.add_slot(city, 2, 3, 0);
    let to = app.add_slot(city, 3, 3, 0);
    // Its one seat is held for a second dose: no first dose can move in.
    let full = app.add_slot(city, 4, 1, 1);
    app.add_stock(city, 10);
    assert_eq!(book_form(&app, from, 1, "1").await.status(), 303);
    let page = app.get_text("/appointment").await;
    let code = page.split("data-testid=\"booking-code\">").nth(1).unwrap()[..9].to_string();

    // The day of the appointment shows its slot as the current one, not as a place to move to.
    let same_day = app
        .get_text(&format!(
            "/appointment/move?site={}&date=2030-03-06",
            city.site
        ))
        .await;
    assert!(
        !same_day.contains(&format!("name=\"slot_id\" value=\"{from}\"")),
        "{same_day}"
    );
    assert!(
        same_day.contains("data-testid=\"current\">当前预约的时段"),
        "{same_day}"
    );
    let choose = app
        .get_text(&format!(
            "/appointment/move?site={}&date=2030-03-07",
            city.site
        ))
        .await;
    assert!(!choose.contains("data-testid=\"current\""));
    assert!(
        choose.contains(&format!("name=\"slot_id\" value=\"{to}\"")),
        "the day offers slots to move to"
    );
    let token = csrf_in(&choose).unwrap();
    let held_day = app
        .get_text(&format!(
            "/appointment/move?site={}&date=2030-03-08",
            city.site
        ))
        .await;
    assert!(
        !held_day.contains(&format!("name=\"slot_id\" value=\"{full}\""))
            && held_day.contains("data-testid=\"not-movable\">不适合您这一剂"),
        "a seat held for second doses is not offered to a first dose: {held_day}"
    );

    // A refused move (posted all the same) says why and that the booking held is kept, on the move page of that day.
    let res = app
        .post_raw(
            "/appointment/move",
            &[("csrf", &token), ("slot_id", &full.to_string())],
        )
        .await;
    assert_eq!(res.status(), 409);
    let refused = res.text().await.unwrap();
    assert!(
        refused.contains("没能改约：") && refused.contains("您原来的预约保持不变。"),
        "{refused}"
    );
    assert!(refused.contains("3月8日"), "the day asked for: {refused}");
    assert!(!refused.contains('{'), "no raw placeholder: {refused}");
    assert!(
        refused.contains("href=\"?date=2030-03-07\""),
        "other days to move to: {refused}"
    );
    assert_eq!(app.slot_counts(from).0, 1, "still held");
    assert_eq!(app.slot_counts(full).0, 0);

    let res = app
        .post_raw(
            "/appointment/move",
            &[("csrf", &token), ("slot_id", &to.to_string())],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/appointment?done=moved");
    let page = app.get_text("/appointment?done=moved").await;
    assert!(page.contains("<h1>改约成功</h1>"), "{page}");
    assert!(page.contains(&code));
    assert!(page.contains("3月7日"));
    assert_eq!(app.slot_counts(from), (0, 0, 3));
    assert_eq!(app.slot_counts(to), (1, 0, 3));
    assert_eq!(app.stock(city), (10, 1));

    // Moving to the same slot is refused and changes nothing.
    let res = app
        .post_raw(
            "/appointment/move",
            &[("csrf", &token), ("slot_id", &to.to_string())],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(app.slot_counts(to), (1, 0, 3));

    // Cancelling asks first: the appointment links to a page that says what is cancelled, and
    // only its form cancels.
    let page = app.get_text("/appointment").await;
    assert!(
        page.contains("<a class=\"button danger\" href=\"/appointment/cancel\">取消预约</a>"),
        "{page}"
    );
    assert!(!page.contains("action=\"/appointment/cancel\""), "{page}");
    let confirm = app.get_text("/appointment/cancel").await;
    assert!(confirm.contains("确定取消此预约吗？"), "{confirm}");
    assert!(
        confirm.contains(&code) && confirm.contains("3月7日"),
        "{confirm}"
    );
    assert!(
        confirm.contains("<form method=\"post\" action=\"/appointment/cancel\"")
            && confirm.contains("class=\"button danger solid\">确定取消</button>")
            && confirm.contains("href=\"/appointment\">不取消，保留预约</a>"),
        "{confirm}"
    );
    assert_eq!(app.slot_counts(to), (1, 0, 3), "asking cancels nothing");
    assert_eq!(app.count("appointments", "status = 'booked'"), 1);
    let token = csrf_in(&confirm).unwrap();
    let res = app
        .post_raw("/appointment/cancel", &[("csrf", &token)])
        .await;
    assert_eq!(res.status(), 303);
    // The answer says the appointment is cancelled, and not in the green of a success.
    assert_eq!(res.headers()["location"], "/appointment?done=cancelled");
    let page = app.get_text("/appointment?done=cancelled").await;
    assert!(page.contains("<h1>您的预约已取消</h1>"), "{page}");
    assert!(page.contains("class=\"card ticket alert\""), "{page}");
    assert!(
        page.contains("<p class=\"status status-cancelled\">") && page.contains("已取消"),
        "{page}"
    );
    let css = app.get_text("/static/app.css").await;
    assert!(
        css.contains(".status-cancelled strong, .status-no_show strong, .status-deferred strong { color: var(--danger); }"),
        "a cancelled status is shown in the danger colour"
    );
    let page = app.get_text("/appointment").await;
    assert!(
        page.contains("已取消") && !page.contains("您的预约已取消"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "href=\"/towns/{}\" data-testid=\"rebook\">重新预约",
            city.town
        )),
        "a cancelled appointment offers to book again: {page}"
    );
    assert_eq!(app.slot_counts(to), (0, 0, 3));
    assert_eq!(app.stock(city), (10, 0));
    assert_eq!(app.count("appointments", "status = 'cancelled'"), 1);
    // Nothing is left to cancel: the question is not asked again.
    let res = app.get("/appointment/cancel").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/appointment");
}

#[actix_web::test]
async fn a_refused_booking_keeps_what_was_typed_and_says_why() {
    let app = spawn_app().await;
    let city = app.city();
    let slot = app.add_slot(city, 2, 1, 0);
    let later = app.add_slot(city, 3, 5, 0);
    app.add_stock(city, 10);
    assert_eq!(
        app.book_api(slot, 1, &crate::helpers::resident(9))
            .await
            .status(),
        201
    );
    let res = book_form(&app, slot, 1, "1").await;
    assert_eq!(res.status(), 409);
    let res_cache = res.headers()["cache-control"].to_str().unwrap().to_string();
    let page = res.text().await.unwrap();
    assert!(page.contains("刚刚约满"));
    assert!(page.contains("value=\"r1@example.com\""), "input kept");
    // Refused as a whole, the form is not sent again as it is: its ID number is not shown.
    assert!(
        !page.contains(&id_number(1)),
        "never the full ID number on a refused form"
    );
    assert_eq!(res_cache, "no-store");

    // Another field's error keeps the valid ID number; a wrong ID number is never echoed.
    let mut form = resident_form(2);
    form.retain(|(k, _)| k != "email");
    form.push(("email".into(), "not-an-email".into()));
    let res = book_fields(&app, later, form, "1").await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&format!("value=\"{}\"", id_number(2))),
        "{page}"
    );
    let mut form = resident_form(3);
    form.retain(|(k, _)| k != "id_number");
    form.push(("id_number".into(), "12345".into()));
    let res = book_fields(&app, later, form, "1").await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        !page.contains("value=\"12345\""),
        "a wrong ID number is not echoed"
    );
    assert!(page.contains("请重新输入"));
}

#[actix_web::test]
async fn when_no_slot_is_free_residents_join_the_town_waiting_list_in_order() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_slot(city, 1, 0, 0); // published, but no seat
    let town = app.get_text(&format!("/towns/{}", city.town)).await;
    assert!(
        town.contains(&format!("/towns/{}/wait", city.town)),
        "waiting list offered"
    );
    let token = csrf_in(&town).unwrap();
    for (who, expect) in [(1u32, "第 1 位"), (2, "第 2 位"), (1, "已经在")] {
        app.clock
            .set(app.clock_now() + chrono::Duration::seconds(1));
        let mut form = resident_form(who);
        form.push(("csrf".into(), token.clone()));
        let res = app
            .post_fields(&format!("/towns/{}/wait", city.town), &form)
            .await;
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        assert!(page.contains(expect), "{expect}: {page}");
    }
    assert_eq!(app.count("waiting_list", "status = 'waiting'"), 2);
    let mut form = resident_form(3);
    form[1].1 = "123".into();
    form.push(("csrf".into(), token));
    let res = app
        .post_fields(&format!("/towns/{}/wait", city.town), &form)
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(app.count("waiting_list", "1=1"), 2);
}

#[actix_web::test]
async fn after_dose_one_is_recorded_the_appointment_page_invites_dose_two() {
    let app = spawn_app().await;
    let (city, slot) = app.city_with_slot(1, 3, 0, 10);
    assert_eq!(book_form(&app, slot, 1, "1").await.status(), 303);
    let appt_id: i64 = {
        use diesel::prelude::*;
        use dosewise::db::schema::appointments;
        appointments::table
            .select(appointments::id)
            .first(&mut *app.conn())
            .unwrap()
    };
    // The next day, at the desk, during the slot: checked in, then the dose recorded.
    let given = crate::helpers::test_now() + chrono::Duration::days(1) + chrono::Duration::hours(1);
    app.clock.set(given);
    dosewise::models::lot::insert(
        &mut app.conn(),
        &dosewise::models::lot::NewLot {
            id: dosewise::ids::new_id(),
            shipment_id: None,
            product_id: city.product,
            lot_number: "LOT1".into(),
            expires_on: chrono::NaiveDate::from_ymd_opt(2031, 1, 1).unwrap(),
            doses: 10,
        },
    )
    .unwrap();
    use dosewise::booking::clinic::{self, CheckIn, Desk, GiveDose, Staff};
    let nurse_id = dosewise::ids::new_id();
    dosewise::models::user::insert(
        &mut app.conn(),
        &dosewise::models::NewUser {
            id: nurse_id,
            username: "nurse".into(),
            password_hash: "-".into(),
            role: "clinic".into(),
            site_id: Some(city.site),
            active: true,
            created_at: given,
        },
    )
    .unwrap();
    let desk = Desk {
        staff: Staff {
            user_id: nurse_id,
            username: "nurse".into(),
            site_id: Some(city.site),
            any_site: false,
        },
        now: given,
        tz: app.state.settings.time_zone,
        release_hours: 24,
        observation_minutes: 30,
        sync: None,
    };
    let code: String = {
        use diesel::prelude::*;
        use dosewise::db::schema::appointments;
        appointments::table
            .select(appointments::code)
            .first(&mut *app.conn())
            .unwrap()
    };
    clinic::check_in(
        app.database(),
        &desk,
        CheckIn {
            code: dosewise::domain::BookingCode::parse(&code).unwrap(),
            last4: crate::helpers::id_number(1)[14..].to_string(),
            answers: Default::default(),
            outcome: dosewise::domain::clinic::ScreeningOutcome::Cleared,
            at: given,
        },
    )
    .unwrap();
    let give = GiveDose {
        appointment: dosewise::ids::AppointmentId(appt_id),
        lot: "LOT1".into(),
        dose_number: 1,
        given_at: given,
    };
    clinic::record_dose(app.database(), &desk, give.clone()).unwrap();
    assert_eq!(
        app.stock(city),
        (9, 0),
        "one dose out of stock through the ledger"
    );
    assert_eq!(
        dosewise::models::stock::ledger_sum(
            &mut app.conn(),
            dosewise::ids::SiteId(city.site),
            dosewise::ids::ProductId(city.product)
        )
        .unwrap(),
        9
    );
    let page = app.get_text("/appointment").await;
    assert!(page.contains("已接种"));
    assert!(page.contains("预约下一剂"));
    assert!(
        page.contains("3月26日"),
        "dose 2 opens 21 days after 3月5日: {page}"
    );
    // Recording the same appointment twice is refused.
    assert!(clinic::record_dose(app.database(), &desk, give).is_err());
    assert_eq!(app.count("vaccinations", "1=1"), 1);
}
