//! The bureau's dashboard against a city of known counts: the numbers in each figure's data
//! table, the bars and labels of its SVG, the town selector, the links to the rows behind a
//! figure, who may open it, and the Chromium journey through it (phone and desktop).

use chrono::{Duration, NaiveDate, NaiveDateTime};
use dosewise::domain::IdNumber;
use dosewise::ids::new_id;
use dosewise::models::adverse_event::{self, AdverseEvent};
use dosewise::models::stock::{self, Movement};
use dosewise::models::waiting::{self, WaitingEntry};
use dosewise::models::{appointment, resident, slot};
use dosewise::models::{NewAppointment, NewResident, NewSlot};

use crate::helpers::{
    id_number, login_as, make_city, record_dose, run_in_chromium, spawn_app, test_now, City, Role,
    Session, TestApp,
};

/// 10:00 in Shanghai on `day` (02:00 UTC).
fn at_ten(day: NaiveDate) -> NaiveDateTime {
    day.and_hms_opt(2, 0, 0).unwrap()
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2030, m, d).unwrap()
}

/// A resident `i` inserted directly; their id.
fn add_resident(app: &TestApp, i: u32) -> i64 {
    let idn = id_number(i);
    let parsed = IdNumber::parse(&idn).unwrap();
    let id = new_id();
    resident::insert(
        &mut app.conn(),
        &NewResident {
            id,
            id_hash: app.state.keys.hash_id_number(&parsed),
            id_last4: idn[14..].to_string(),
            birth_date: day(1, 1) - Duration::days(365 * 30),
            name: format!("居民{i}"),
            phone: format!("139{i:08}"),
            email: String::new(),
            lang: "zh-CN".into(),
            created_at: test_now() - Duration::days(90),
        },
    )
    .unwrap();
    id
}

/// Dose `dose` given to `rid` at `given` (UTC) in `city`, with its ledger history; its id.
fn give(app: &TestApp, city: City, rid: i64, dose: i32, given: NaiveDateTime) -> i64 {
    give_for(app, city, rid, dose, given, None)
}

fn give_for(
    app: &TestApp,
    city: City,
    rid: i64,
    dose: i32,
    given: NaiveDateTime,
    appointment: Option<i64>,
) -> i64 {
    record_dose(&mut app.conn(), city, rid, appointment, dose, given)
}

fn react(app: &TestApp, city: City, vaccination: i64, rid: i64, severity: &str, at: NaiveDateTime) {
    adverse_event::insert(
        &mut app.conn(),
        &AdverseEvent {
            id: new_id(),
            vaccination_id: vaccination,
            resident_id: rid,
            site_id: city.site,
            severity: severity.into(),
            symptoms: format!("{severity} symptoms"),
            action_taken: "observed".into(),
            occurred_at: at,
            recorded_by: None,
            created_at: at,
        },
    )
    .unwrap();
}

fn wait(app: &TestApp, town: i64, rid: i64, dose: i32, status: &str) {
    waiting::insert(
        &mut app.conn(),
        &WaitingEntry {
            id: new_id(),
            town_id: town,
            resident_id: rid,
            dose_number: dose,
            status: status.into(),
            created_at: test_now() - Duration::days(1),
            priority: 0,
        },
    )
    .unwrap();
}

/// A past appointment on `slot` in `status`.
fn past_appointment(
    app: &TestApp,
    city: City,
    slot: i64,
    start: NaiveDateTime,
    rid: i64,
    status: &str,
) -> i64 {
    let id = new_id();
    appointment::insert(
        &mut app.conn(),
        &NewAppointment {
            id,
            code: format!("P{:07}", id % 10_000_000),
            resident_id: rid,
            slot_id: slot,
            site_id: city.site,
            product_id: city.product,
            dose_number: 1,
            status: status.into(),
            starts_at: start,
            created_at: start - Duration::days(3),
            updated_at: start,
            checked_in_at: None,
        },
    )
    .unwrap();
    id
}

/// The two towns of the known city: A with most of the activity, B with a little.
struct Known {
    app: TestApp,
    a: City,
    b: City,
}

/// Today is 2030-03-04 in Shanghai; the history runs from 2030-02-05, the days ahead to
/// 2030-03-17. Town A (eligible 10,000; a 21-56 day product):
/// - doses: R1 dose 1 on 01-20 (before the history) and dose 2 on 02-10; dose 1 for R8 on 02-05,
///   R7 on 02-12, R9 on 02-20, R2-R4 on 03-01 (by appointment), R5 at 00:30 on 03-03 (16:30
///   UTC on 03-02: a city day, not a UTC one) and R6 on 03-03;
/// - due: R8 already (02-26), R7 on 03-05, R9 on 03-13;
/// - the 03-01 slot: R2-R4 vaccinated and one no-show;
/// - 4 bookings on 03-05 (10 seats, 2 held) and none on 03-07 (6 seats);
/// - 50 doses received, 2 wasted on 03-03; reactions: 2 mild (03-01), 1 severe (03-03);
/// - waiting: 3 for dose 1, 1 for dose 2, and 1 already notified.
///
/// Town B: 3 first doses on 03-02, a moderate reaction, 2 waiting, a slot on 03-06 (8 seats).
async fn known_city() -> Known {
    let app = spawn_app().await;
    let (a, b) = {
        let mut c = app.conn();
        (
            make_city(&mut c, "T001", 21, 56),
            make_city(&mut c, "T002", 21, 56),
        )
    };
    app.add_stock(a, 50);
    let r: Vec<i64> = (0..=12).map(|i| add_resident(&app, 500 + i)).collect();
    give(&app, a, r[1], 1, at_ten(day(1, 20)));
    give(&app, a, r[1], 2, at_ten(day(2, 10)));
    give(&app, a, r[8], 1, at_ten(day(2, 5)));
    give(&app, a, r[7], 1, at_ten(day(2, 12)));
    give(&app, a, r[9], 1, at_ten(day(2, 20)));
    // The 03-01 slot: three vaccinated, one no-show.
    let start = at_ten(day(3, 1));
    let past = new_id();
    slot::insert_many(
        &mut app.conn(),
        &[NewSlot {
            id: past,
            site_id: a.site,
            product_id: a.product,
            starts_at: start,
            ends_at: start + Duration::minutes(30),
            seats: 5,
            second_dose_held: 0,
            booked_first: 4,
            booked_second: 0,
            opens_at: None,
        }],
    )
    .unwrap();
    let mut given_0301 = Vec::new();
    for i in [2, 3, 4] {
        let appt = past_appointment(&app, a, past, start, r[i], "vaccinated");
        given_0301.push(give_for(
            &app,
            a,
            r[i],
            1,
            start + Duration::minutes(5),
            Some(appt),
        ));
    }
    past_appointment(&app, a, past, start, r[10], "no_show");
    let r5 = give(&app, a, r[5], 1, day(3, 2).and_hms_opt(16, 30, 0).unwrap());
    give(&app, a, r[6], 1, at_ten(day(3, 3)));
    react(
        &app,
        a,
        given_0301[0],
        r[2],
        "mild",
        start + Duration::minutes(20),
    );
    react(
        &app,
        a,
        given_0301[1],
        r[3],
        "mild",
        start + Duration::minutes(25),
    );
    react(
        &app,
        a,
        r5,
        r[5],
        "severe",
        day(3, 2).and_hms_opt(17, 0, 0).unwrap(),
    );
    stock::record(
        &mut app.conn(),
        &Movement {
            id: new_id(),
            site_id: Some(a.site),
            product_id: a.product,
            delta: -2,
            kind: "wasted".into(),
            reason: "broken".into(),
            actor: "nurse".into(),
            lot: Some("LOT1".into()),
            created_at: day(3, 3).and_hms_opt(3, 0, 0).unwrap(),
        },
    )
    .unwrap();
    // Bookings ahead, through the API.
    let s1 = app.add_slot(a, 1, 10, 2);
    app.add_slot(a, 3, 6, 0);
    for i in 0..4 {
        let res = app
            .book_api(s1, 1, &crate::helpers::resident(900 + i))
            .await;
        assert_eq!(res.status(), 201);
    }
    for dose in [1, 1, 1, 2] {
        let rid = add_resident(&app, 700 + app.count("residents", "1 = 1") as u32);
        wait(&app, a.town, rid, dose, "waiting");
    }
    wait(&app, a.town, r[11], 1, "notified");
    // Town B.
    for i in 0..3 {
        let rid = add_resident(&app, 800 + i);
        let v = give(&app, b, rid, 1, at_ten(day(3, 2)));
        if i == 0 {
            react(&app, b, v, rid, "moderate", at_ten(day(3, 2)));
        }
    }
    for _ in 0..2 {
        let rid = add_resident(&app, 700 + app.count("residents", "1 = 1") as u32);
        wait(&app, b.town, rid, 1, "waiting");
    }
    app.add_slot(b, 2, 8, 0);
    Known { app, a, b }
}

/// The `<section>` of figure `id`.
fn figure<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("id=\"fig-{id}\""))
        .unwrap_or_else(|| panic!("figure {id} in the page"));
    let rest = &page[start..];
    &rest[..rest.find("</section>").unwrap()]
}

/// The cells of the table row with `key` in a figure.
fn row(fig: &str, key: &str) -> Vec<String> {
    let start = fig
        .find(&format!("<tr data-key=\"{key}\">"))
        .unwrap_or_else(|| panic!("row {key} in {fig}"));
    let rest = &fig[start..];
    let tr = &rest[..rest.find("</tr>").unwrap()];
    tr.split("<td>")
        .skip(1)
        .map(|c| c[..c.find("</td>").unwrap()].to_string())
        .collect()
}

fn bars(fig: &str) -> usize {
    fig.matches("<rect class=\"bar ").count()
}

/// The SVG of a figure: present, labelled, an image.
fn svg(fig: &str) -> &str {
    let start = fig.find("<svg").expect("an svg");
    let s = &fig[start..fig.find("</svg>").unwrap()];
    assert!(
        s.contains("role=\"img\"") && s.contains("aria-labelledby="),
        "{s}"
    );
    assert!(s.contains("<title id=") && s.contains("<desc id="), "{s}");
    assert!(s.contains("viewBox=") && s.contains("width=\"100%\""));
    s
}

fn link(fig: &str) -> String {
    let at = fig.find("data-figure-link").unwrap();
    let before = &fig[..at];
    let href = &before[before.rfind("href=\"").unwrap() + 6..];
    href[..href.find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

#[actix_web::test]
async fn the_dashboard_counts_a_known_city_per_town_and_for_the_whole_city() {
    let k = known_city().await;
    let bureau = login_as(&k.app, Role::Bureau).await;

    // The whole city.
    let page = bureau.get_text("/bureau").await;
    let f = figure(&page, "coverage");
    assert_eq!(row(f, "2030-02-05"), ["2", "0.01%", "0", "0.00%"]);
    assert_eq!(row(f, "2030-03-04"), ["12", "0.06%", "1", "0.01%"]);
    assert_eq!(svg(f).matches("<polyline").count(), 2);
    assert_eq!(svg(f).matches("<circle").count(), 56);

    let f = figure(&page, "doses");
    assert_eq!(row(f, "2030-02-10"), ["0", "1", "1"]);
    assert_eq!(row(f, "2030-03-02"), ["3", "0", "3"]);
    assert_eq!(
        row(f, "2030-03-03"),
        ["2", "0", "2"],
        "00:30 in the city is 03-03"
    );
    assert_eq!(bars(svg(f)), 28 * 2);
    assert!(f.contains("近 28 天共接种 12 剂"), "{f}");

    let f = figure(&page, "seats");
    assert_eq!(row(f, "2030-03-05"), ["10", "4", "6", "40.00%"]);
    assert_eq!(row(f, "2030-03-06"), ["8", "0", "8", "0.00%"]);
    assert_eq!(row(f, "2030-03-07"), ["6", "0", "6", "0.00%"]);
    assert_eq!(row(f, "2030-03-17"), ["0", "0", "0", "0.00%"]);
    assert_eq!(bars(svg(f)), 14 * 2);
    assert!(svg(f).contains(">3/4</text>") && svg(f).contains(">3/6</text>"));

    let f = figure(&page, "due");
    assert_eq!(row(f, "already"), ["1", "—", "—"]);
    assert_eq!(row(f, "2030-03-05"), ["1", "2", "0"]);
    assert_eq!(row(f, "2030-03-13"), ["1", "0", "0"]);
    assert!(
        !f.contains("data-key=\"2030-03-22\""),
        "R2-R4 fall due after 14 days"
    );

    let f = figure(&page, "waiting");
    assert_eq!(row(f, &k.a.town.to_string()), ["3", "1", "4"]);
    assert_eq!(row(f, &k.b.town.to_string()), ["2", "0", "2"]);
    assert_eq!(bars(svg(f)), 2 * 2);
    assert!(svg(f).contains(">测试镇T001</text>") && svg(f).contains(">测试镇T002</text>"));

    let f = figure(&page, "stock");
    // A: 50 received, 2 wasted; 5 doses over the 7 days before today (03-01 and 03-03).
    assert_eq!(
        row(f, &k.a.site.to_string()),
        ["测试镇T001", "48", "4", "0.7", "67.2"]
    );
    assert_eq!(
        row(f, &k.b.site.to_string()),
        ["测试镇T002", "0", "0", "0.4", "0.0"]
    );
    assert_eq!(bars(svg(f)), 2);

    let f = figure(&page, "no_show");
    assert_eq!(row(f, "2030-03-01"), ["4", "1", "25.00%"]);
    assert!(f.contains("爽约 25.00%（已结束的 4 个预约中 1 个）"), "{f}");

    let f = figure(&page, "wastage");
    assert_eq!(row(f, "2030-03-03"), ["2", "2", "50.00%"]);
    assert!(f.contains("损耗 2 剂（占使用量的 14.29%）"), "2 of 14: {f}");

    let f = figure(&page, "reactions");
    assert_eq!(row(f, "mild"), ["2"]);
    assert_eq!(row(f, "moderate"), ["1"]);
    assert_eq!(row(f, "severe"), ["1"]);
    assert_eq!(bars(svg(f)), 3);
    assert!(
        svg(f).contains(">轻微</text>") && svg(f).contains(">严重</text>"),
        "{f}"
    );
    assert!(
        page.contains("severe symptoms"),
        "the week's severe reactions are listed"
    );

    // Town A only.
    let page = bureau.get_text(&format!("/bureau?town={}", k.a.town)).await;
    assert!(page.contains(&format!("<option value=\"{}\" selected>", k.a.town)));
    let f = figure(&page, "coverage");
    assert_eq!(row(f, "2030-03-04"), ["9", "0.09%", "1", "0.01%"]);
    let f = figure(&page, "doses");
    assert_eq!(row(f, "2030-03-02"), ["0", "0", "0"]);
    let f = figure(&page, "seats");
    assert_eq!(row(f, "2030-03-06"), ["0", "0", "0", "0.00%"]);
    let f = figure(&page, "waiting");
    assert_eq!(bars(svg(f)), 2);
    assert!(!f.contains(&format!("data-key=\"{}\"", k.b.town)));
    let f = figure(&page, "stock");
    assert_eq!(bars(svg(f)), 1);
    let f = figure(&page, "wastage");
    assert!(f.contains("损耗 2 剂（占使用量的 18.18%）"), "2 of 11: {f}");
    let f = figure(&page, "reactions");
    assert_eq!(row(f, "moderate"), ["0"]);

    // A figure's link gives the rows behind it: town A's 9 doses of the history.
    let f = figure(&page, "doses");
    let href = link(f);
    assert_eq!(
        href,
        format!(
            "/bureau/exports/vaccinations.csv?town={}&from=2030-02-05&to=2030-03-04",
            k.a.town
        )
    );
    let csv = bureau.get(&href).await;
    assert_eq!(csv.status(), 200);
    let body = csv.text().await.unwrap();
    assert_eq!(body.lines().count(), 1 + 9, "{body}");
}

#[actix_web::test]
async fn the_dashboard_is_for_the_bureau_and_refuses_bad_towns() {
    let app = spawn_app().await;
    let city = app.city();
    let anon = Session::new(&app);
    assert_eq!(anon.get("/bureau").await.status(), 303);
    let nurse = login_as(&app, Role::Clinic(city.site)).await;
    assert_eq!(nurse.get("/bureau").await.status(), 403);
    assert_eq!(
        nurse
            .get(&format!("/bureau?town={}", city.town))
            .await
            .status(),
        403
    );
    let admin = login_as(&app, Role::Admin).await;
    let page = admin.get_text("/bureau").await;
    assert!(page.contains("id=\"fig-coverage\""), "{page}");
    let bureau = login_as(&app, Role::Bureau).await;
    for (q, status) in [("abc", 400), ("99999", 404), ("-1", 404), ("1e3", 400)] {
        let res = bureau.get(&format!("/bureau?town={q}")).await;
        assert_eq!(res.status(), status, "town={q}");
    }
    // An empty city draws empty figures, not errors, in both languages.
    let page = bureau.get_text("/bureau").await;
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 9);
    let en = bureau.get_text_in("/bureau", "en").await;
    assert!(
        en.contains("Booked seats against capacity, next 14 days"),
        "{en}"
    );
}

#[actix_web::test]
async fn the_bureau_reads_the_dashboard_in_chromium_on_a_phone_and_a_desktop() {
    let k = known_city().await;
    crate::helpers::add_user(&k.app, "planner", "bureau", None);
    // Screenshots for README's section go to docs/ when asked (DOSEWISE_DOCS_SHOTS=1), so a
    // plain test run leaves the tracked files alone.
    let docs = if std::env::var("DOSEWISE_DOCS_SHOTS").is_ok_and(|v| v == "1")
        && !k.app.db.is_postgres()
    {
        "docs".to_string()
    } else {
        String::new()
    };
    let out = run_in_chromium(
        &k.app,
        "dashboard.mjs",
        &[
            "planner".into(),
            crate::helpers::PASSWORD.into(),
            k.a.town.to_string(),
            docs,
        ],
    )
    .await;
    assert!(out.contains("3 passed, 0 failed"), "{out}");
}
