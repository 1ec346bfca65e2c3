//! Moves instead of cancellations (issue 13): an exception that closes a session moves each
//! booking inside to the nearest equivalent seat (same site, then same town, inside the dose's
//! window), cancels the ones with nowhere to go and puts them first on the waiting list; the admin
//! sees the plan before anything changes, and each resident is mailed the reason, the new time and
//! a calendar file through a real SMTP server.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::Duration;
use diesel::prelude::*;
use dosewise::ids::{new_id, TownId};
use dosewise::models::{site, waiting, NewSite};

use crate::helpers::{
    add_slot_at, add_user, confirm_token, give_dose, id_number, local, login_as, resident,
    spawn_app_with, test_now, City, ExceptionForm, Mail, Role, TestApp, TestDb, PASSWORD,
};
use crate::smtp::Sink;

/// The plan's rows as shown: booking code -> (moves, text of the target cell).
fn plan_rows(page: &str) -> BTreeMap<String, (bool, String)> {
    let mut out = BTreeMap::new();
    for (class, moves) in [("moves", true), ("cancels", false)] {
        for chunk in page.split(&format!("<tr class=\"{class}\">")).skip(1) {
            let row = &chunk[..chunk.find("</tr>").unwrap()];
            let cells: Vec<&str> = row
                .split("<td>")
                .skip(1)
                .map(|c| c.split("</td>").next().unwrap())
                .collect();
            out.insert(cells[0].to_string(), (moves, cells[4].to_string()));
        }
    }
    out
}

/// A second site in the city's town, with `doses` of its product.
fn second_site(app: &TestApp, city: City, doses: i32) -> City {
    let other = City {
        site: new_id(),
        ..city
    };
    let mut c = app.conn();
    site::insert(
        &mut c,
        &NewSite {
            id: other.site,
            town_id: city.town,
            name: "东门接种点".into(),
            address: "东门路8号".into(),
            active: true,
            name_en: None,
            address_en: None,
        },
    )
    .unwrap();
    crate::helpers::add_stock(&mut c, other, doses);
    other
}

/// The resident of `i`'s booking code.
fn code_of(app: &TestApp, i: u32) -> String {
    use dosewise::db::schema::{appointments, residents};
    appointments::table
        .inner_join(residents::table)
        .filter(residents::email.eq(format!("r{i}@example.com")))
        .order(appointments::created_at.desc())
        .select(appointments::code)
        .first(&mut *app.conn())
        .unwrap()
}

/// `(status, slot, site)` of resident `i`'s latest appointment.
fn where_is(app: &TestApp, i: u32) -> (String, i64, i64) {
    use dosewise::db::schema::{appointments, residents};
    appointments::table
        .inner_join(residents::table)
        .filter(residents::email.eq(format!("r{i}@example.com")))
        .order(appointments::created_at.desc())
        .select((
            appointments::status,
            appointments::slot_id,
            appointments::site_id,
        ))
        .first(&mut *app.conn())
        .unwrap()
}

fn resident_id(app: &TestApp, i: u32) -> i64 {
    use dosewise::db::schema::residents;
    residents::table
        .filter(residents::email.eq(format!("r{i}@example.com")))
        .select(residents::id)
        .first(&mut *app.conn())
        .unwrap()
}

/// Make resident `i` known (through a waiting-list entry of another town would add rows; a
/// resident row is enough) and record their dose 1 `days_ago`.
fn dosed(app: &TestApp, city: City, i: u32, days_ago: i64) {
    use dosewise::domain::IdNumber;
    let id = IdNumber::parse(&id_number(i)).unwrap();
    let r = resident(i);
    dosewise::models::resident::insert(
        &mut app.conn(),
        &dosewise::models::NewResident {
            id: new_id(),
            id_hash: app.state.keys.hash_id_number(&id),
            id_last4: id.last4().to_string(),
            birth_date: id.birth_date(),
            name: r["name"].as_str().unwrap().into(),
            phone: r["phone"].as_str().unwrap().into(),
            email: r["email"].as_str().unwrap().into(),
            lang: "zh-CN".into(),
            created_at: test_now(),
        },
    )
    .unwrap();
    give_dose(app, city, &id_number(i), 1, days_ago);
}

#[actix_web::test]
async fn an_exception_moves_five_bookings_cancels_the_one_with_nowhere_to_go_and_mails_each() {
    let store = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink::start(0, store.clone());
    let transport = dosewise::mail::Transport::from_settings(Some(&sink.url()), "unused").unwrap();
    let app = spawn_app_with(TestDb::new(), transport, Arc::new(Mutex::new(Vec::new()))).await;
    let city = app.city(); // dose 2 from 21 to 56 days after dose 1
    app.add_stock(city, 20);
    let east = second_site(&app, city, 10);
    // Tomorrow 10:00 (to be closed); the day after at 10:00 here (3 seats) and 09:00 at the
    // town's other site (5 seats).
    let closed = add_slot_at(&mut app.conn(), city, local(5, 10, 0), 6, 0);
    let here = add_slot_at(&mut app.conn(), city, local(6, 10, 0), 3, 0);
    let there = add_slot_at(&mut app.conn(), east, local(6, 9, 0), 5, 0);
    // Residents 1-4: first doses. Resident 5: dose 2, window open until 2030-03-20. Resident 6:
    // dose 2 whose window closes tomorrow: the seats of the day after are outside it.
    dosed(&app, city, 5, 40);
    dosed(&app, city, 6, 55);
    for i in 1..=6 {
        // One second apart: the booking order decides who gets the nearer seat.
        app.clock.set(test_now() + Duration::seconds(i64::from(i)));
        let dose = if i >= 5 { 2 } else { 1 };
        assert_eq!(app.book_api(closed, dose, &resident(i)).await.status(), 201);
    }
    diesel::sql_query("UPDATE residents SET lang = 'en' WHERE email = 'r3@example.com'")
        .execute(&mut *app.conn())
        .unwrap();
    // Someone already waiting in the town (joined before any of this).
    let mut form = crate::helpers::resident_form(7);
    form.push(("csrf".into(), app.csrf("/find").await));
    let res = app
        .post_fields(&format!("/towns/{}/wait", city.town), &form)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.deliver_mail().await.sent, 6, "the six confirmations");
    store.lock().unwrap().clear();

    let admin = login_as(&app, Role::Admin).await;
    let closure = ExceptionForm::morning_closure(&admin, city.site, "停电检修");
    // The preview: who moves where, who is cancelled; nothing changed yet.
    let res = closure.post().await;
    assert_eq!(res.status(), 409);
    let shown = res.text().await.unwrap();
    assert!(!shown.contains(&id_number(1)), "only masked ID numbers");
    assert!(shown.contains(&format!("**************{}", &id_number(6)[14..])));
    let first_plan = plan_rows(&shown);
    assert_eq!(first_plan.len(), 6, "{shown}");
    assert_eq!(first_plan.values().filter(|(m, _)| *m).count(), 5);
    assert!(
        !first_plan[&code_of(&app, 6)].0,
        "the late dose 2 has nowhere to go"
    );
    assert!(first_plan[&code_of(&app, 5)].1.contains("测试接种点"));
    let stale = confirm_token(&shown);
    // In English the plan names the site in English (set for this look, then unset).
    app.name_in_english(city, ["Test Clinic", "1 Test Road", "Test Vaccine"]);
    assert_eq!(admin.get("/lang/en").await.status(), 303);
    let en = closure.post().await.text().await.unwrap();
    assert!(
        plan_rows(&en)[&code_of(&app, 5)].1.contains("Test Clinic"),
        "{en}"
    );
    assert_eq!(admin.get("/lang/zh-CN").await.status(), 303);
    diesel::sql_query("UPDATE sites SET name_en = NULL, address_en = NULL")
        .execute(&mut *app.conn())
        .unwrap();
    diesel::sql_query("UPDATE products SET name_en = NULL")
        .execute(&mut *app.conn())
        .unwrap();
    assert_eq!(app.count("site_exceptions", "1=1"), 0);
    assert_eq!(app.count("appointments", "status = 'booked'"), 6);
    assert_eq!(app.slot_counts(here), (0, 0, 3));

    // Someone books a seat the plan counted on: confirming the old plan applies nothing and
    // shows the new one, saying it changed.
    assert_eq!(app.book_api(here, 1, &resident(8)).await.status(), 201);
    assert_eq!(app.deliver_mail().await.sent, 1);
    store.lock().unwrap().clear();
    let res = closure.confirm(&stale).await;
    assert_eq!(res.status(), 409);
    let shown = res.text().await.unwrap();
    assert!(shown.contains("列表显示后预约或名额有了变化"), "{shown}");
    assert_eq!(app.count("site_exceptions", "1=1"), 0);
    let plan = plan_rows(&shown);
    let token = confirm_token(&shown);
    assert_ne!(token, stale);
    assert_eq!(plan.values().filter(|(m, _)| *m).count(), 5);

    // Confirming the plan shown applies exactly it.
    let res = closure.confirm(&token).await;
    assert_eq!(res.status(), 303);
    let done = admin
        .get_text(res.headers()["location"].to_str().unwrap())
        .await;
    assert!(done.contains("改期 5 个预约，取消 1 个"), "{done}");
    for i in 1..=6 {
        let (status, slot, site) = where_is(&app, i);
        let (moves, target) = &plan[&code_of(&app, i)];
        if *moves {
            assert_eq!(status, "booked", "resident {i}");
            let name = if site == city.site {
                "测试接种点"
            } else {
                "东门接种点"
            };
            assert!(target.contains(name), "resident {i}: {target}");
            assert!(target.contains("3月6日"), "resident {i}: {target}");
            assert!(slot == here || slot == there);
        } else {
            assert_eq!((i, status.as_str()), (6, "cancelled"));
        }
    }
    // Dose 2 first, then in booking order; the same site before the town's other site.
    assert_eq!(where_is(&app, 5).1, here);
    assert_eq!(where_is(&app, 1).1, here);
    for i in [2, 3, 4] {
        assert_eq!(where_is(&app, i).1, there, "resident {i}");
    }
    // Counters, promised doses and the closed slot.
    assert_eq!(app.slot_counts(here), (2, 1, 3));
    assert_eq!(app.slot_counts(there), (3, 0, 5));
    assert_eq!(app.slot_counts(closed), (0, 0, 0));
    assert_eq!(app.stock(city), (20, 3));
    assert_eq!(app.stock(east), (10, 3));
    // The one cancelled is first on the town's waiting list, ahead of who was waiting.
    let (six, seven) = (resident_id(&app, 6), resident_id(&app, 7));
    let mut c = app.conn();
    let town = TownId(city.town);
    assert_eq!(waiting::position(&mut c, town, six).unwrap(), Some(1));
    assert_eq!(waiting::position(&mut c, town, seven).unwrap(), Some(2));
    drop(c);
    assert_eq!(app.count("exception_moves", "1=1"), 6);
    assert_eq!(
        app.count(
            "audit_log",
            "actor = 'system' AND action = 'appointment.move'"
        ),
        5
    );
    assert_eq!(
        app.count(
            "audit_log",
            "actor = 'system' AND action = 'appointment.cancel'"
        ),
        1
    );

    // The mails, through the SMTP server: one to each of the six, in their language.
    assert_eq!(app.deliver_mail().await.sent, 6);
    let mails: BTreeMap<String, (String, String, String)> = store
        .lock()
        .unwrap()
        .iter()
        .map(|raw| {
            let m = Mail::parse(raw.as_bytes());
            (m.to, (m.subject, m.text, m.ics.unwrap_or_default()))
        })
        .collect();
    assert_eq!(mails.len(), 6, "one message each");
    for i in [1, 2, 4, 5] {
        let (subject, text, ics) = &mails[&format!("r{i}@example.com")];
        assert!(subject.contains("接种点已为您改期"), "{subject}");
        assert!(text.contains("停电检修"), "the reason: {text}");
        assert!(text.contains("3月6日"), "the new time: {text}");
        assert!(text.contains("3月5日"), "the old time: {text}");
        assert!(
            text.contains("/find?then=move") && !text.contains(&id_number(i)),
            "a link to choose another, naming no ID number: {text}"
        );
        assert!(ics.contains("METHOD:REQUEST"), "{ics}");
        let start = if where_is(&app, i).1 == here {
            "DTSTART:20300306T020000Z"
        } else {
            "DTSTART:20300306T010000Z"
        };
        assert!(ics.contains(start), "{ics}");
    }
    let (subject, text, ics) = &mails["r3@example.com"];
    assert!(
        subject.starts_with("Moved by the site: 东门接种点"),
        "{subject}"
    );
    assert!(text.contains("Reason: 停电检修"), "{text}");
    assert!(text.contains("Choose another time"), "{text}");
    assert!(ics.contains("DTSTART:20300306T010000Z"), "{ics}");
    let (subject, text, ics) = &mails["r6@example.com"];
    assert!(subject.contains("接种点已取消您的预约"), "{subject}");
    assert!(
        text.contains("停电检修") && text.contains("候补名单的第一位"),
        "{text}"
    );
    assert!(ics.contains("METHOD:CANCEL"), "{ics}");
    sink.stop();

    // The mail's link leads through the look-up (code and ID number, never in a URL) straight
    // to the move page of the appointment; a wrong ID number keeps the way on.
    let find = app.get_text("/find?then=move").await;
    assert!(
        find.contains("<input type=\"hidden\" name=\"then\" value=\"move\">"),
        "{find}"
    );
    assert!(find.contains("找到预约后，即可为它另选时间"), "{find}");
    let code = code_of(&app, 1);
    let token = crate::helpers::csrf_in(&find).unwrap();
    let fields = |id: String| {
        [
            ("csrf", token.clone()),
            ("code", code.clone()),
            ("id_number", id),
            ("then", "move".into()),
        ]
    };
    let wrong = fields(id_number(2));
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = app.post_raw("/find", &wrong).await;
    assert_eq!(res.status(), 404);
    let again = res.text().await.unwrap();
    assert!(again.contains("name=\"then\" value=\"move\""), "{again}");
    let right = fields(id_number(1));
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = app.post_raw("/find", &right).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/appointment/move");
    let moving = app.get_text("/appointment/move").await;
    assert!(moving.contains("请选择新的时段"), "the move page: {moving}");
    assert_eq!(where_is(&app, 1).0, "booked", "looking it up moves nothing");

    // `dosewise check` holds the move rows to the appointments they name: a row saying resident
    // 3 went elsewhere, or was cancelled, is reported; put back, the check passes.
    let three = format!(
        "(SELECT id FROM appointments WHERE code = '{}')",
        code_of(&app, 3)
    );
    let repair = format!(
        "UPDATE exception_moves SET to_slot_id = (SELECT slot_id FROM appointments \
         WHERE id = {three}) WHERE appointment_id = {three}"
    );
    for (to, says) in [
        (
            closed.to_string(),
            "an exception's move holds: appointment id=",
        ),
        (
            "NULL".into(),
            "an exception's cancellation holds: appointment id=",
        ),
    ] {
        let break_it =
            format!("UPDATE exception_moves SET to_slot_id = {to} WHERE appointment_id = {three}");
        diesel::sql_query(&break_it)
            .execute(&mut *app.conn())
            .unwrap();
        let out = crate::cli::dosewise(&app.db.url, &["check"], "");
        let report = crate::cli::text(&out);
        assert_eq!(out.status.code(), Some(1), "after `{break_it}`: {report}");
        assert!(report.contains(says), "after `{break_it}`: {report}");
        diesel::sql_query(&repair)
            .execute(&mut *app.conn())
            .unwrap();
        let again = crate::cli::dosewise(&app.db.url, &["check"], "");
        assert!(again.status.success(), "{}", crate::cli::text(&again));
    }
}

#[actix_web::test]
async fn in_a_real_browser_an_admin_previews_a_closure_sees_the_move_list_and_applies_it() {
    let app = crate::helpers::spawn_app().await;
    add_user(&app, "admin", "admin", None);
    let city = app.city();
    app.add_stock(city, 10);
    let closed = add_slot_at(&mut app.conn(), city, local(5, 10, 0), 6, 0);
    let later = add_slot_at(&mut app.conn(), city, local(5, 15, 0), 1, 0);
    for i in 1..=2 {
        app.clock.set(test_now() + Duration::seconds(i64::from(i)));
        assert_eq!(app.book_api(closed, 1, &resident(i)).await.status(), 201);
    }
    let stdout = crate::helpers::run_in_chromium(
        &app,
        "moves.mjs",
        &[
            "admin".into(),
            PASSWORD.into(),
            city.site.to_string(),
            "2030-03-05".into(),
            "1".into(),
            "1".into(),
        ],
    )
    .await;
    assert!(stdout.contains("3 passed, 0 failed"), "{stdout}");
    assert_eq!(where_is(&app, 1), ("booked".into(), later, city.site));
    assert_eq!(where_is(&app, 2).0, "cancelled");
    assert_eq!(app.slot_counts(later), (1, 0, 1));
    assert_eq!(app.stock(city), (10, 1));
}

#[actix_web::test]
async fn a_second_dose_is_moved_only_inside_its_window_even_past_a_nearer_seat_at_its_site() {
    let app = crate::helpers::spawn_app().await;
    let city = app.city(); // dose 2 from 21 to 56 days after dose 1
    app.add_stock(city, 10);
    let east = second_site(&app, city, 10);
    let closed = add_slot_at(&mut app.conn(), city, local(5, 10, 0), 6, 0);
    // At the same site the next morning (outside the window of a dose 1 given 55 days ago,
    // which closes on the 5th); at the town's other site the same afternoon (inside it).
    let next_morning = add_slot_at(&mut app.conn(), city, local(6, 9, 0), 6, 0);
    let same_afternoon = add_slot_at(&mut app.conn(), east, local(5, 16, 0), 6, 0);
    dosed(&app, city, 1, 55);
    assert_eq!(app.book_api(closed, 2, &resident(1)).await.status(), 201);
    assert_eq!(app.book_api(closed, 1, &resident(2)).await.status(), 201);

    let admin = login_as(&app, Role::Admin).await;
    let closure = [
        ("exc-day", "2030-03-05"),
        ("kind", "closed"),
        ("exc-reason", "疫苗冷链检修"),
    ];
    let closure = ExceptionForm::new(&admin, city.site, &closure);
    let res = closure.post().await;
    assert_eq!(res.status(), 409);
    let shown = res.text().await.unwrap();
    let plan = plan_rows(&shown);
    let dose2 = &plan[&code_of(&app, 1)];
    assert!(
        dose2.0 && dose2.1.contains("东门接种点") && dose2.1.contains("3月5日"),
        "{dose2:?}"
    );
    let dose1 = &plan[&code_of(&app, 2)];
    assert!(
        dose1.0 && dose1.1.contains("测试接种点") && dose1.1.contains("3月6日"),
        "{dose1:?}"
    );
    let token = confirm_token(&shown);
    assert_eq!(closure.confirm(&token).await.status(), 303);
    // What was shown is what was done.
    assert_eq!(
        where_is(&app, 1),
        ("booked".into(), same_afternoon, east.site)
    );
    assert_eq!(
        where_is(&app, 2),
        ("booked".into(), next_morning, city.site)
    );
    assert_eq!(app.slot_counts(same_afternoon), (0, 1, 6));
    assert_eq!(app.slot_counts(next_morning), (1, 0, 6));
    assert_eq!((app.stock(city), app.stock(east)), ((10, 1), (10, 1)));
}

#[actix_web::test]
async fn a_system_move_is_not_blocked_by_the_contact_cap_that_still_holds_for_residents() {
    let app = crate::helpers::spawn_app_with_settings(|s| s.contact_day_cap = 1).await;
    let city = app.city();
    app.add_stock(city, 10);
    let closed = add_slot_at(&mut app.conn(), city, local(5, 10, 0), 3, 0);
    let next_day = add_slot_at(&mut app.conn(), city, local(6, 10, 0), 3, 0);
    // Two residents of one household share a phone (one booking a day each: the cap is 1).
    let shared = |i: u32| {
        let mut r = resident(i);
        r["phone"] = serde_json::json!("13900000001");
        r
    };
    assert_eq!(app.book_api(closed, 1, &shared(1)).await.status(), 201);
    assert_eq!(app.book_api(next_day, 1, &shared(2)).await.status(), 201);

    // The site closes the 5th: the only seat is on the 6th, where that phone already has its
    // one booking. The system's move is not the resident's choice, so the cap does not stop it.
    let admin = login_as(&app, Role::Admin).await;
    let closure = [
        ("exc-day", "2030-03-05"),
        ("kind", "closed"),
        ("exc-reason", "停电检修"),
    ];
    let closure = ExceptionForm::new(&admin, city.site, &closure);
    let res = closure.post().await;
    assert_eq!(res.status(), 409);
    let shown = res.text().await.unwrap();
    let moved = &plan_rows(&shown)[&code_of(&app, 1)];
    assert!(moved.0 && moved.1.contains("3月6日"), "{moved:?}");
    let token = confirm_token(&shown);
    assert_eq!(closure.confirm(&token).await.status(), 303);
    assert_eq!(where_is(&app, 1), ("booked".into(), next_day, city.site));
    assert_eq!(app.slot_counts(next_day), (2, 0, 3));
    assert_eq!(app.count("appointments", "status = 'cancelled'"), 0);
    assert_eq!(app.count("waiting_list", "1=1"), 0);

    // The cap still holds for what residents choose: a third booking with that phone on the
    // 6th is refused.
    let res = app.book_api(next_day, 1, &shared(3)).await;
    assert_eq!(res.status(), 409);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "contact_cap", "{body}");
    assert_eq!(app.slot_counts(next_day), (2, 0, 3));
}

#[actix_web::test]
async fn at_the_edge_a_slot_starting_now_is_open_for_the_town_page_but_never_a_move_target() {
    use dosewise::ids::ProductId;
    use dosewise::models::slot;
    let app = crate::helpers::spawn_app().await;
    let city = app.city();
    let east = second_site(&app, city, 0);
    let other = City {
        product: crate::helpers::make_city(&mut app.conn(), "T002", 21, 56).product,
        ..city
    };
    let now = test_now();
    let sites = [city.site, east.site];
    let mut c = app.conn();
    let at_now = add_slot_at(&mut c, city, now, 6, 0);
    // The same product at the same time at the town's two sites.
    let later = [
        add_slot_at(&mut c, city, now + Duration::hours(1), 6, 0),
        add_slot_at(&mut c, east, now + Duration::hours(1), 6, 0),
    ];
    let other_product = add_slot_at(&mut c, other, now + Duration::minutes(30), 6, 0);
    let full = add_slot_at(&mut c, city, now + Duration::minutes(10), 0, 0);
    let ids = |slots: Vec<dosewise::models::Slot>| slots.into_iter().map(|s| s.id).collect();

    // The town page: from `now` on (the slot starting now included), every product, by time.
    let page: Vec<i64> = ids(slot::list_open_for_sites(&mut c, &sites, now, 10).unwrap());
    assert_eq!(page.len(), 4, "{page:?}");
    assert_eq!(page[..2], [at_now, other_product]);
    assert!(later.iter().all(|s| page[2..].contains(s)));
    assert!(!page.contains(&full), "a slot with no seat is not open");

    // A move: strictly after `now`, the booking's product only, by time and then id.
    let product = ProductId(city.product);
    let moves: Vec<i64> =
        ids(slot::list_open_for_product(&mut c, &sites, product, now, 10).unwrap());
    let mut same_time = later;
    same_time.sort_unstable();
    assert_eq!(moves, same_time.to_vec());

    // The limit counts after the edge and the filters.
    let one: Vec<i64> = ids(slot::list_open_for_sites(&mut c, &sites, now, 1).unwrap());
    assert_eq!(one, [at_now]);
    let one: Vec<i64> = ids(slot::list_open_for_product(&mut c, &sites, product, now, 1).unwrap());
    assert_eq!(one, [same_time[0]]);
}
