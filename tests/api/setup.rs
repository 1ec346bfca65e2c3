//! City set-up over HTTP (issue 6): from an empty database to bookable slots with the pages
//! only; towns, vaccines (interval changes with a reason), sites with a weekly template and the
//! slots published from it (template changes, week and daylight-saving boundaries, publishing
//! twice, the `publish-slots` command), exceptions with the residents they affect, staff
//! accounts, and the CSV import's refusals.

use chrono::{Duration, NaiveDate};
use dosewise::domain::city::{ClockTime, DayHours, DaysAhead, Seats, SlotMinutes};
use dosewise::ids::new_id;
use dosewise::models::{site, town, NewSite, NewTown};
use dosewise::setup;
use dosewise::views::admin::HOUR_FIELDS;

use crate::helpers::{
    add_stock, add_user, confirm_token, id_number, local, login_as, resident, run_in_chromium,
    spawn_app, test_now, City, ExceptionForm, Role, Session, TestApp, TestDb, PASSWORD,
};

/// A form's fields.
type Form<'a> = Vec<(&'a str, &'a str)>;

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

/// The id in a `/admin/{kind}/{id}...` location.
fn id_in(loc: &str) -> i64 {
    loc.split('/')
        .nth(3)
        .unwrap()
        .split(['?', '#'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// `base` with `changes` put in: a field of the same name takes the new value in its place, a
/// field `base` lacks is added at the end.
fn with<'a>(base: &[(&'a str, &'a str)], changes: &[(&'a str, &'a str)]) -> Form<'a> {
    let mut form = base.to_vec();
    for &(name, value) in changes {
        match form.iter_mut().find(|(n, _)| *n == name) {
            Some(field) => field.1 = value,
            None => form.push((name, value)),
        }
    }
    form
}

/// A valid town form, for the cases that change one field.
const TOWN: [(&str, &str); 4] = [
    ("code", "T1"),
    ("name", "甲镇"),
    ("eligible", "5"),
    ("contact_emails", ""),
];

/// A valid vaccine form, for the cases that change a field or two.
const PRODUCT: [(&str, &str); 9] = [
    ("code", "P1"),
    ("name", "苗"),
    ("manufacturer", "厂"),
    ("doses_in_series", "2"),
    ("min_interval_days", "1"),
    ("max_interval_days", "2"),
    ("min_age_years", "0"),
    ("max_age_years", "9"),
    ("pack_size", "1"),
];

/// The template form's fields before the hours: `product`, 7 days ahead.
fn template_head<'a>(product: &'a str, minutes: &'a str, seats: &'a str) -> Form<'a> {
    vec![
        ("product", product),
        ("slot_minutes", minutes),
        ("seats", seats),
        ("days_ahead", "7"),
    ]
}

/// The template form: weekdays 08:30-11:30 and 13:30-16:30, Saturday mornings, Sunday closed.
fn template_form<'a>(product: &'a str, minutes: &'a str, seats: &'a str) -> Form<'a> {
    let mut f = template_head(product, minutes, seats);
    for d in ["0", "1", "2", "3", "4"] {
        let names = HOUR_FIELDS[d.parse::<usize>().unwrap()];
        f.push((names[0], "08:30"));
        f.push((names[1], "11:30"));
        f.push((names[2], "13:30"));
        f.push((names[3], "16:30"));
    }
    f.push((HOUR_FIELDS[5][0], "09:00"));
    f.push((HOUR_FIELDS[5][3], "12:00"));
    f
}

/// Create a town, a vaccine and a site through the pages; returns (town, product, site).
async fn city_by_pages(app: &TestApp, admin: &Session) -> City {
    let res = admin
        .post_form_from(
            "/admin/towns",
            "/admin/towns",
            &[
                ("code", "t001"),
                ("name", "城关镇"),
                ("eligible", "120000"),
                (
                    "contact_emails",
                    "office@t001.example.cn, chief@t001.example.cn",
                ),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let towns = admin.get_text("/admin/towns").await;
    assert!(
        towns.contains("T001") && towns.contains("office@t001.example.cn; chief@t001.example.cn")
    );
    let town = town::find_by_code(&mut app.conn(), "T001")
        .unwrap()
        .unwrap()
        .id;
    let res = admin
        .post_form_from(
            "/admin/products",
            "/admin/products",
            &[
                ("code", "INACT-2"),
                ("name", "新冠灭活疫苗"),
                ("manufacturer", "某生物"),
                ("doses_in_series", "2"),
                ("min_interval_days", "21"),
                ("max_interval_days", "56"),
                ("min_age_years", "3"),
                ("max_age_years", "120"),
                ("pack_size", "2"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let product = dosewise::models::product::list(&mut app.conn()).unwrap()[0].id;
    let t = town.to_string();
    let res = admin
        .post_form_from(
            "/admin/sites",
            "/admin/sites",
            &[
                ("town_id", &t),
                ("name", "城关社区卫生服务中心"),
                ("address", "人民路10号"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let site = id_in(&location(&res));
    City {
        town,
        site,
        product,
    }
}

async fn save_template(
    admin: &Session,
    city: City,
    minutes: &str,
    seats: &str,
) -> reqwest::Response {
    let p = city.product.to_string();
    let page = format!("/admin/sites/{}", city.site);
    admin
        .post_form_from(
            &page,
            &format!("{page}/template"),
            &template_form(&p, minutes, seats),
        )
        .await
}

#[actix_web::test]
async fn an_admin_sets_up_a_city_from_an_empty_database_to_bookable_slots_with_the_pages_only() {
    let app = spawn_app().await;
    assert!(app
        .get_text("/")
        .await
        .contains("dosewise create-user --role admin"));
    let admin = login_as(&app, Role::Admin).await;
    let city = city_by_pages(&app, &admin).await;
    // Nothing is published yet: residents see "not set up" everywhere but home.
    let res = app.get(&format!("/towns/{}", city.town)).await;
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains("还没有接种点发布"));
    assert_eq!(
        app.get(&format!("/sites/{}", city.site)).await.status(),
        503
    );

    let res = save_template(&admin, city, "30", "6").await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let page = admin.get_text(&location(&res)).await;
    // Now is Monday 2030-03-04 09:00 local; 7 days ahead cover Mon-Fri (12 slots a day),
    // Saturday (6) and Sunday (closed).
    let today_left = 12 - 2; // 08:30 and 09:00 have started (now is 09:00)
    let expected = today_left + 4 * 12 + 6;
    assert!(page.contains(&format!("{expected} ")), "{page}");
    assert_eq!(
        app.count("slots", &format!("site_id = {}", city.site)),
        expected
    );
    assert_eq!(
        app.count("slots", "seats = 6 AND booked_first = 0"),
        expected
    );
    // Residents see the town, the site and its slots; a booking needs stock at the site.
    let home = app.get_text("/").await;
    assert!(home.contains("城关镇") && !home.contains("create-user"));
    let site_page = app
        .get_text(&format!("/sites/{}?date=2030-03-05", city.site))
        .await;
    assert!(site_page.contains("08:30") && site_page.contains("13:30"));
    assert!(!site_page.contains("12:00"), "lunch break");
    add_stock(&mut app.conn(), city, 10);
    let slot = {
        use diesel::prelude::*;
        use dosewise::db::schema::slots;
        slots::table
            .filter(slots::site_id.eq(city.site))
            .order(slots::starts_at.asc())
            .select(slots::id)
            .first::<i64>(&mut *app.conn())
            .unwrap()
    };
    let res = app.book_api(slot, 1, &resident(1)).await;
    assert_eq!(res.status(), 201);
    // Every change is in the audit log.
    for action in [
        "towns.create",
        "products.create",
        "sites.create",
        "sites.template",
    ] {
        assert_eq!(
            app.count("audit_log", &format!("action = '{action}'")),
            1,
            "{action}"
        );
    }
    // Clinic staff cannot reach set-up; the bureau reaches vaccines only.
    let nurse = login_as(&app, Role::Clinic(city.site)).await;
    assert_eq!(nurse.get("/admin/towns").await.status(), 403);
    let bureau = login_as(&app, Role::Bureau).await;
    assert_eq!(bureau.get("/admin/products").await.status(), 200);
    assert_eq!(bureau.get("/admin/sites").await.status(), 403);
}

#[actix_web::test]
async fn bad_town_product_site_and_template_forms_say_what_is_wrong_keep_the_input_and_write_nothing(
) {
    let app = spawn_app().await;
    let admin = login_as(&app, Role::Admin).await;
    let cases: Vec<(&str, Form, &str)> = vec![
        ("/admin/towns", with(&TOWN, &[("code", "T 1")]), "代码应为"),
        ("/admin/towns", with(&TOWN, &[("name", "")]), "请填写名称"),
        (
            "/admin/towns",
            with(&TOWN, &[("eligible", "-5")]),
            "适种人口",
        ),
        (
            "/admin/towns",
            with(&TOWN, &[("contact_emails", "x@")]),
            "邮箱",
        ),
        (
            "/admin/products",
            with(
                &PRODUCT,
                &[("min_interval_days", "30"), ("max_interval_days", "20")],
            ),
            "最长间隔",
        ),
        (
            "/admin/products",
            with(&PRODUCT, &[("doses_in_series", "x"), ("pack_size", "0")]),
            "每盒剂数",
        ),
        (
            "/admin/sites",
            vec![("town_id", "42"), ("name", "点"), ("address", "路")],
            "请选择镇",
        ),
    ];
    for (path, form, expect) in cases {
        let res = admin.post_form_from(path, path, &form).await;
        assert_eq!(res.status(), 422, "{expect}");
        let page = res.text().await.unwrap();
        assert!(page.contains(expect), "{expect}: {page}");
        assert!(path == "/admin/sites" || page.contains("aria-invalid=\"true\""));
    }
    assert_eq!(
        app.count("towns", "1=1") + app.count("products", "1=1") + app.count("sites", "1=1"),
        0
    );
    // A taken code; a town with sites cannot be deleted, only deactivated.
    let city = city_by_pages(&app, &admin).await;
    let res = admin
        .post_form_from(
            "/admin/towns",
            "/admin/towns",
            &with(
                &TOWN,
                &[("code", "T001"), ("name", "又一镇"), ("eligible", "1")],
            ),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text().await.unwrap().contains("value=\"又一镇\""),
        "input kept"
    );
    let page = format!("/admin/towns/{}", city.town);
    let res = admin
        .post_form_from(&page, &format!("{page}/delete"), &[])
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("只能停用"));
    let res = admin
        .post_form_from(
            &page,
            &page,
            &with(
                &TOWN,
                &[("code", "T001"), ("name", "城关镇"), ("eligible", "99")],
            ),
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("towns", "active = FALSE AND eligible = 99"), 1);
    // An empty town can be deleted.
    admin
        .post_form_from(
            "/admin/towns",
            "/admin/towns",
            &with(
                &TOWN,
                &[("code", "T009"), ("name", "空镇"), ("eligible", "1")],
            ),
        )
        .await;
    let empty = town::find_by_code(&mut app.conn(), "T009")
        .unwrap()
        .unwrap()
        .id;
    let page = format!("/admin/towns/{empty}");
    assert_eq!(
        admin
            .post_form_from(&page, &format!("{page}/delete"), &[])
            .await
            .status(),
        303
    );
    assert_eq!(app.count("audit_log", "action = 'towns.delete'"), 1);
    // Templates: times out of order, half a lunch break, no vaccine, no open day.
    let p = city.product.to_string();
    let site_page = format!("/admin/sites/{}", city.site);
    let n = HOUR_FIELDS[0];
    let head = template_head(&p, "30", "6");
    for (form, expect) in [
        (
            with(&head, &[(n[0], "17:00"), (n[3], "09:00")]),
            "时间应依次为",
        ),
        (
            with(&head, &[(n[0], "08:00"), (n[1], "12:00"), (n[3], "17:00")]),
            "同时填写",
        ),
        (
            with(&head[1..], &[(n[0], "08:00"), (n[3], "17:00")]),
            "至少选择一种疫苗",
        ),
        (head.clone(), "至少开放一天"),
        (
            with(
                &head,
                &[
                    ("slot_minutes", "3"),
                    ("seats", "0"),
                    ("days_ahead", "99"),
                    (n[0], "8:7"),
                    (n[3], "17:00"),
                ],
            ),
            "5 到 240",
        ),
    ] {
        let res = admin
            .post_form_from(&site_page, &format!("{site_page}/template"), &form)
            .await;
        assert_eq!(res.status(), 422, "{expect}");
        let page = res.text().await.unwrap();
        assert!(page.contains(expect), "{expect}: {page}");
    }
    assert_eq!(app.count("site_templates", "1=1"), 0);
    assert_eq!(app.count("slots", "1=1"), 0);
}

#[actix_web::test]
async fn a_vaccine_already_given_changes_its_interval_only_with_a_recorded_reason() {
    let app = spawn_app().await;
    let city = app.city();
    let bureau = login_as(&app, Role::Bureau).await;
    let page = format!("/admin/products/{}", city.product);
    let form = |min: &'static str, reason: &'static str| {
        vec![
            ("code", "P-T001"),
            ("name", "测试疫苗"),
            ("manufacturer", "测试"),
            ("doses_in_series", "2"),
            ("min_interval_days", min),
            ("max_interval_days", "56"),
            ("min_age_years", "0"),
            ("max_age_years", "120"),
            ("pack_size", "1"),
            ("reason", reason),
        ]
    };
    // Nobody vaccinated yet: no reason needed.
    assert_eq!(
        bureau
            .post_form_from(&page, &page, &form("20", ""))
            .await
            .status(),
        303
    );
    assert_eq!(app.count("product_changes", "1=1"), 0);
    // Once someone had a dose, the interval changes only with a reason, recorded.
    let slot = app.add_slot(city, 1, 3, 0);
    app.add_stock(city, 3);
    assert_eq!(app.book_api(slot, 1, &resident(1)).await.status(), 201);
    crate::helpers::give_dose(&app, city, &id_number(1), 1, 1);
    let res = bureau.post_form_from(&page, &page, &form("28", "")).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("说明原因"));
    assert_eq!(app.count("products", "min_interval_days = 20"), 1);
    let res = bureau
        .post_form_from(&page, &page, &form("28", "说明书修订"))
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.count(
            "product_changes",
            "old_min_interval_days = 20 AND new_min_interval_days = 28 AND reason = '说明书修订'"
        ),
        1
    );
    let shown = bureau.get_text(&page).await;
    assert!(shown.contains("说明书修订") && shown.contains("20–56"));
    assert_eq!(app.count("audit_log", "action = 'products.update'"), 2);
}

fn slot_count(app: &TestApp, site: i64) -> i64 {
    app.count("slots", &format!("site_id = {site}"))
}

#[actix_web::test]
async fn publishing_twice_duplicates_nothing_and_a_template_change_keeps_booked_slots() {
    let app = spawn_app().await;
    let admin = login_as(&app, Role::Admin).await;
    let city = city_by_pages(&app, &admin).await;
    assert_eq!(save_template(&admin, city, "30", "6").await.status(), 303);
    let before = slot_count(&app, city.site);
    add_stock(&mut app.conn(), city, 10);
    // Book the 10:00 slot tomorrow (02:00 UTC).
    let booked_slot = app.slot_starting(city.site, local(5, 10, 0));
    assert_eq!(
        app.book_api(booked_slot, 1, &resident(1)).await.status(),
        201
    );
    // The job twice: nothing changes.
    for _ in 0..2 {
        assert_eq!(app.publish(test_now()), setup::PublishReport::default());
    }
    assert_eq!(slot_count(&app, city.site), before);
    // Hour-long slots with 4 seats: unbooked slots are reshaped or withdrawn; the booked one is
    // kept with its booking but closed to new ones (its seats are its bookings), and the hour
    // slot that would overlap it is not published.
    let res = save_template(&admin, city, "60", "4").await;
    assert_eq!(res.status(), 303);
    let (b1, _, seats) = app.slot_counts(booked_slot);
    assert_eq!(
        (b1, seats),
        (1, 1),
        "the booked slot keeps its booking and takes no more"
    );
    assert_eq!(
        app.count(
            "slots",
            &format!("id = {booked_slot} AND ends_at = '2030-03-05 02:30:00'")
        ),
        1
    );
    let open = app.count("slots", &format!("site_id = {} AND seats > 0", city.site));
    // Weekdays: 08:30-11:30 and 13:30-16:30 hold 3 + 3 hour slots; Saturday 09-12 holds 3.
    // Today from 09:30, four days, Saturday; tomorrow's 09:30-10:30 gives way to the kept booking.
    let expected = 5 + 4 * 6 + 3 - 1 + 1;
    assert_eq!(open, expected);
    assert_eq!(
        app.count("slots", "seats = 4 AND ends_at > starts_at"),
        expected - 1
    );
    // Running again still changes nothing.
    let again = app.publish(test_now());
    assert_eq!(
        again.created + again.reshaped + again.withdrawn,
        0,
        "{again:?}"
    );
    // A week later the job publishes the new days (the week boundary) and nothing twice.
    let later = test_now() + Duration::days(7);
    let r = app.publish(later);
    assert_eq!(r.created, 5 + 4 * 6 + 3, "{r:?}");
}

/// Pairs of slots of one site and product that overlap in time while both have seats (with
/// `bookable`, only pairs that both have a free seat).
fn overlapping(app: &TestApp, site: i64, bookable: bool) -> i64 {
    let open = if bookable {
        "a.booked_first + a.booked_second < a.seats AND b.booked_first + b.booked_second < b.seats"
    } else {
        "a.seats > 0 AND b.seats > 0"
    };
    app.count(
        "slots a JOIN slots b ON a.site_id = b.site_id AND a.product_id = b.product_id \
         AND a.id < b.id AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at",
        &format!("a.site_id = {site} AND {open}"),
    )
}

#[actix_web::test]
async fn a_template_change_never_puts_new_slots_beside_a_booked_slot_of_the_old_shape() {
    let app = spawn_app().await;
    let admin = login_as(&app, Role::Admin).await;
    let city = city_by_pages(&app, &admin).await;
    assert_eq!(save_template(&admin, city, "30", "6").await.status(), 303);
    add_stock(&mut app.conn(), city, 20);
    // Two residents book the 10:00-10:30 slot tomorrow (02:00 UTC).
    let booked = app.slot_starting(city.site, local(5, 10, 0));
    for i in 1..=2 {
        assert_eq!(app.book_api(booked, 1, &resident(i)).await.status(), 201);
    }
    // Five-minute slots of 2 seats: the old half hour keeps its two bookings, takes nobody new,
    // and no five-minute slot is published beside it.
    let res = save_template(&admin, city, "5", "2").await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.slot_counts(booked), (2, 0, 2), "closed at its bookings");
    assert_eq!(overlapping(&app, city.site, false), 0);
    assert_eq!(overlapping(&app, city.site, true), 0);
    let beside = app.count(
        "slots",
        &format!(
            "site_id = {} AND id <> {booked} AND starts_at < '2030-03-05 02:30:00' \
             AND ends_at > '2030-03-05 02:00:00'",
            city.site
        ),
    );
    assert_eq!(beside, 0, "no new slot covers the booked half hour");
    assert!(
        app.count(
            "slots",
            &format!(
                "site_id = {} AND starts_at = '2030-03-05 02:30:00' \
                 AND ends_at = '2030-03-05 02:35:00' AND seats = 2",
                city.site
            )
        ) == 1,
        "the new shape starts right after it"
    );
    // A resident cannot take a third seat in the old slot, through the API or the page.
    let res = app.book_api(booked, 1, &resident(3)).await;
    assert_eq!(res.status(), 409);
    let day = app
        .get_text(&format!(
            "/api/v1/availability?site={}&date=2030-03-05",
            city.site
        ))
        .await;
    let v: serde_json::Value = serde_json::from_str(&day).unwrap();
    let old = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"].as_str() == Some(booked.to_string().as_str()))
        .unwrap();
    assert_eq!(old["free_first_dose"], 0, "{old}");
    assert_eq!(app.slot_counts(booked), (2, 0, 2));
    // Publishing again changes nothing.
    let again = app.publish(test_now());
    assert_eq!(
        again.created + again.reshaped + again.withdrawn,
        0,
        "{again:?}"
    );
    // Back to half hours of 6: the booked slot has the template's shape again and reopens.
    let res = save_template(&admin, city, "30", "6").await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.slot_counts(booked), (2, 0, 6), "reopened");
    assert_eq!(overlapping(&app, city.site, false), 0);
    assert_eq!(app.book_api(booked, 1, &resident(3)).await.status(), 201);
    // The other way round: hour slots of 4 around a booked half hour.
    let res = save_template(&admin, city, "60", "4").await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.slot_counts(booked), (3, 0, 3));
    assert_eq!(overlapping(&app, city.site, false), 0);
    assert_eq!(overlapping(&app, city.site, true), 0);
    // At 09:40 the 09:30-10:30 hour is under way: five-minute slots start after it ends.
    app.clock.set(test_now() + Duration::minutes(40));
    let res = save_template(&admin, city, "5", "2").await;
    assert_eq!(res.status(), 303);
    assert_eq!(overlapping(&app, city.site, false), 0);
    let today = |from: &str, to: &str| {
        app.count(
            "slots",
            &format!(
                "site_id = {} AND starts_at >= '2030-03-04 {from}' AND starts_at < '2030-03-04 {to}'",
                city.site
            ),
        )
    };
    assert_eq!(today("01:30:00", "02:30:00"), 1, "only the running hour");
    assert_eq!(today("02:30:00", "02:35:00"), 1, "then the new shape");
}

#[actix_web::test]
async fn slots_follow_local_time_across_the_daylight_saving_change_in_berlin() {
    let db = TestDb::new();
    let pools = dosewise::db::Db::connect(&db.url, 2).unwrap();
    let tz = chrono_tz::Europe::Berlin;
    let city = {
        let mut c = pools.write.get().unwrap();
        crate::helpers::make_city(&mut c, "B001", 21, 56)
    };
    // Open every day 01:00-04:00 and 09:00-10:00 (lunch 04:00-09:00), 30-minute slots.
    let t = |raw: &str| ClockTime::parse(raw).unwrap();
    let input = setup::TemplateInput {
        hours: (0..7)
            .map(|d| {
                DayHours::new(d, t("01:00"), Some((t("04:00"), t("09:00"))), t("10:00")).unwrap()
            })
            .collect(),
        slot_minutes: SlotMinutes::parse("30").unwrap(),
        seats: Seats::parse("2").unwrap(),
        days_ahead: DaysAhead::parse("4").unwrap(),
        products: vec![city.product],
        release: dosewise::models::template::ReleaseRule::NONE,
    };
    // Friday 2030-03-29 00:00 local (23:00 UTC the day before); the clocks go forward on
    // Sunday 31 March at 02:00.
    let now = NaiveDate::from_ymd_opt(2030, 3, 28)
        .unwrap()
        .and_hms_opt(23, 0, 0)
        .unwrap();
    let r = setup::save_template(&pools, city.site, input, tz, "test", now).unwrap();
    let mut c = pools.read.get().unwrap();
    let slots =
        dosewise::models::slot::list_future_for_site(&mut c, dosewise::ids::SiteId(city.site), now)
            .unwrap();
    let day = |d: u32| {
        NaiveDate::from_ymd_opt(
            2030,
            if d > 31 { 4 } else { 3 },
            if d > 31 { d - 31 } else { d },
        )
        .unwrap()
    };
    let on = |d: u32| {
        slots
            .iter()
            .filter(|s| tz.from_utc_datetime(&s.starts_at).date_naive() == day(d))
            .count()
    };
    use chrono::TimeZone;
    // Friday, Saturday, Monday: 6 + 2 slots. Sunday: 02:00 and 02:30 do not exist.
    assert_eq!((on(29), on(30), on(31), on(32)), (8, 8, 6, 8));
    assert_eq!(r.created, 30);
    // 09:00 local is 08:00 UTC before the change and 07:00 UTC after it.
    let utc = |d: NaiveDate, h: u32| {
        slots
            .iter()
            .any(|s| s.starts_at == d.and_hms_opt(h, 0, 0).unwrap())
    };
    assert!(utc(day(30), 8) && !utc(day(30), 7));
    assert!(utc(day(32), 7) && !utc(day(32), 8));
    // Sunday 03:00 CEST is 01:00 UTC; 01:30 CET is 00:30 UTC, the last slot before the gap.
    assert!(slots
        .iter()
        .any(|s| s.starts_at == day(31).and_hms_opt(1, 0, 0).unwrap()));
    assert!(slots
        .iter()
        .all(|s| s.ends_at - s.starts_at == Duration::minutes(30)));
    drop(c);
    // Publishing again the next day adds only the new day.
    let r = setup::publish_all(&pools, tz, now + Duration::days(1), "test").unwrap();
    assert_eq!((r.created, r.withdrawn, r.reshaped), (8, 0, 0));
}

#[actix_web::test]
async fn the_publish_slots_command_can_run_twice() {
    let app = spawn_app().await;
    let admin = login_as(&app, Role::Admin).await;
    let city = city_by_pages(&app, &admin).await;
    assert_eq!(save_template(&admin, city, "30", "6").await.status(), 303);
    let before = slot_count(&app, city.site);
    let run = || {
        crate::helpers::run_ok(crate::helpers::dosewise_command(&app.db.url).arg("publish-slots"))
    };
    // The command runs on the real clock (years before the test clock): it publishes the
    // template's days ahead of the real today, and leaves the test's later slots alone.
    let first = run();
    let after_first = slot_count(&app, city.site);
    assert!(
        !first.starts_with("0 slots created") && after_first > before,
        "{first}"
    );
    let second = run();
    assert!(
        second.starts_with("0 slots created, 0 reshaped, 0 withdrawn"),
        "{second}"
    );
    assert_eq!(slot_count(&app, city.site), after_first);
}

#[actix_web::test]
async fn closing_a_site_shows_where_each_booking_moves_before_moving_them_and_records_their_notices(
) {
    let app = spawn_app().await;
    let admin = login_as(&app, Role::Admin).await;
    let city = city_by_pages(&app, &admin).await;
    assert_eq!(save_template(&admin, city, "30", "6").await.status(), 303);
    add_stock(&mut app.conn(), city, 10);
    // Two bookings tomorrow morning (10:00 local), one in the afternoon.
    let slot_at = |h: u32, m: u32| app.slot_starting(city.site, local(5, h, m));
    let morning = slot_at(10, 0);
    let afternoon = slot_at(14, 0);
    for (slot, who) in [(morning, 1), (morning, 2), (afternoon, 3)] {
        assert_eq!(app.book_api(slot, 1, &resident(who)).await.status(), 201);
    }
    let page = format!("/admin/sites/{}", city.site);
    let closure = ExceptionForm::morning_closure(&admin, city.site, "停电");
    let res = closure.post().await;
    assert_eq!(res.status(), 409, "confirmation first");
    let shown = res.text().await.unwrap();
    assert!(shown.contains(&format!("**************{}", &id_number(1)[14..])));
    assert!(!shown.contains(&id_number(1)), "only masked ID numbers");
    assert!(shown.contains("name=\"confirm\" value=\"2-"));
    assert_eq!(app.count("site_exceptions", "1=1"), 0);
    assert_eq!(app.count("appointments", "status = 'booked'"), 3);
    // Confirming something else (an old count) shows the plan again; the plan shown applies.
    let res = closure.confirm("2").await;
    assert_eq!(res.status(), 409);
    let token = confirm_token(&res.text().await.unwrap());
    let res = closure.confirm(&token).await;
    assert_eq!(res.status(), 303);
    // Both move to the nearest seat of the site: 13:30 the same day (after the lunch break).
    let half_past_one = slot_at(13, 30);
    assert_eq!(app.count("appointments", "status = 'cancelled'"), 0);
    assert_eq!(app.slot_counts(half_past_one).0, 2);
    assert_eq!(app.slot_counts(afternoon).0, 1);
    assert_eq!(
        app.stock(city),
        (10, 3),
        "the doses stay promised at the same site"
    );
    assert_eq!(app.count("audit_log", "action = 'notify.queued'"), 2);
    assert_eq!(
        app.count("outbox", "kind = 'relocated'"),
        2,
        "each affected resident is mailed"
    );
    assert_eq!(app.count("audit_log", "action = 'sites.exception'"), 1);
    // The morning is closed: no seats before noon, the afternoon untouched.
    assert_eq!(
        app.count("slots", &format!("site_id = {} AND starts_at >= '2030-03-05 00:00:00' AND starts_at < '2030-03-05 04:00:00' AND seats > 0", city.site)),
        0
    );
    assert_eq!(
        app.count("slots", &format!("id = {afternoon} AND seats = 6")),
        1
    );
    // Publishing again does not reopen it.
    app.publish(test_now());
    assert_eq!(
        app.count("slots", &format!("id = {morning} AND seats = 0")),
        1
    );
    // Fewer seats in the afternoon: never below what stays booked; the latest booking goes.
    assert_eq!(app.book_api(afternoon, 1, &resident(4)).await.status(), 201);
    let seats = [
        ("exc-day", "2030-03-05"),
        ("kind", "seats"),
        ("exc-starts", "13:00"),
        ("exc-ends", "16:30"),
        ("exc-seats", "1"),
        ("exc-reason", "人手不足"),
    ];
    let seats = ExceptionForm::new(&admin, city.site, &seats);
    let res = seats.post().await;
    assert_eq!(res.status(), 409);
    let token = confirm_token(&res.text().await.unwrap());
    let res = seats.confirm(&token).await;
    assert_eq!(res.status(), 303);
    // The two beyond one seat move to the window's empty slots (one seat each).
    assert_eq!(app.count("appointments", "status = 'booked'"), 4);
    assert_eq!(app.slot_counts(afternoon), (1, 0, 1));
    assert_eq!(app.count("slots", &format!("site_id = {} AND starts_at >= '2030-03-05 05:00:00' AND starts_at < '2030-03-05 09:00:00' AND seats <> 1", city.site)), 0);
    let shown = admin.get_text(&page).await;
    assert!(shown.contains("停电") && shown.contains("人手不足"));
    // Bad exceptions: a past day, a reversed window, no reason.
    for (form, expect) in [
        (
            vec![
                ("exc-day", "2030-03-01"),
                ("kind", "closed"),
                ("exc-reason", "x"),
            ],
            "已过",
        ),
        (
            vec![
                ("exc-day", "2030-03-06"),
                ("kind", "closed"),
                ("exc-starts", "12:00"),
                ("exc-ends", "08:00"),
                ("exc-reason", "x"),
            ],
            "晚于开始",
        ),
        (
            vec![("exc-day", "2030-03-06"), ("kind", "closed")],
            "请填写原因",
        ),
    ] {
        let res = ExceptionForm::new(&admin, city.site, &form).post().await;
        assert_eq!(res.status(), 422, "{expect}");
        assert!(res.text().await.unwrap().contains(expect), "{expect}");
    }
}

/// The admin's new-user form, posted.
async fn add_user_by_form(
    admin: &Session,
    name: &str,
    role: &str,
    site: &str,
    password: &str,
) -> reqwest::Response {
    let form = [
        ("username", name),
        ("role", role),
        ("site_id", site),
        ("password", password),
    ];
    admin
        .post_form_from("/admin/users", "/admin/users", &form)
        .await
}

#[actix_web::test]
async fn staff_accounts_are_created_deactivated_at_once_and_reset_with_audit_entries() {
    const OLD: &str = "a long enough password";
    const NEW: &str = "another long password";
    let app = spawn_app().await;
    let city = app.city();
    let admin = login_as(&app, Role::Admin).await;
    let s = city.site.to_string();
    // `POST /admin/users/{id}/{what}` with one field.
    let change = |id: i64, what: &'static str, field: (&'static str, &'static str)| {
        let admin = &admin;
        async move {
            admin
                .post_form_from(
                    "/admin/users",
                    &format!("/admin/users/{id}/{what}"),
                    &[field],
                )
                .await
        }
    };
    // Refused: a clinic user without a site, a short password.
    let res = add_user_by_form(&admin, "nurse1", "clinic", "", "short").await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("需要指定接种点") && page.contains("10 到 200"));
    assert!(
        !page.contains("value=\"short\""),
        "passwords are never echoed"
    );
    let res = add_user_by_form(&admin, "nurse1", "clinic", &s, OLD).await;
    assert_eq!(res.status(), 303);
    let res = add_user_by_form(&admin, "nurse1", "bureau", "", OLD).await;
    assert_eq!(res.status(), 422, "a taken name");
    assert_eq!(
        app.count(
            "users",
            "username = 'nurse1' AND password_hash LIKE '$argon2id$%'"
        ),
        1
    );
    // The nurse logs in and works; deactivation ends the session on the next request.
    let nurse = Session::new(&app);
    let login = |password: &'static str| {
        let nurse = &nurse;
        async move { nurse.login("nurse1", password).await.status() }
    };
    assert_eq!(login(OLD).await, 303);
    assert_eq!(nurse.get("/staff").await.status(), 200);
    let id = dosewise::models::user::find_by_username(&mut app.conn(), "nurse1")
        .unwrap()
        .unwrap()
        .id;
    let res = change(id, "active", ("active", "false")).await;
    assert_eq!(res.status(), 303);
    let res = nurse.get("/staff").await;
    assert_eq!(res.status(), 303, "the session ended at once");
    assert!(location(&res).starts_with("/login"));
    assert_eq!(login(OLD).await, 401, "cannot log in");
    // Reactivate, reset the password: the old one stops working.
    change(id, "active", ("active", "true")).await;
    let res = change(id, "password", ("password", "short")).await;
    assert_eq!(res.status(), 422, "a password too short is a field error");
    assert_eq!(login(OLD).await, 303, "and changes nothing");
    let res = change(id, "password", ("password", NEW)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(login(OLD).await, 401);
    assert_eq!(login(NEW).await, 303);
    // An admin cannot lock themselves out.
    let me = {
        use diesel::prelude::*;
        use dosewise::db::schema::users;
        users::table
            .filter(users::role.eq("admin"))
            .select(users::id)
            .first::<i64>(&mut *app.conn())
            .unwrap()
    };
    let res = change(me, "active", ("active", "false")).await;
    assert_eq!(res.status(), 409);
    for action in [
        "users.create",
        "users.deactivate",
        "users.activate",
        "users.password",
    ] {
        assert_eq!(
            app.count("audit_log", &format!("action = '{action}'")),
            1,
            "{action}"
        );
    }
}

#[actix_web::test]
async fn a_csv_import_with_any_bad_row_writes_nothing_and_names_every_line() {
    let app = spawn_app().await;
    {
        let mut c = app.conn();
        town::insert(
            &mut c,
            &NewTown {
                id: new_id(),
                code: "T050".into(),
                name: "老镇".into(),
                eligible: 1,
                contact_emails: String::new(),
                active: true,
                name_en: None,
            },
        )
        .unwrap();
        let t = town::find_by_code(&mut c, "T050").unwrap().unwrap().id;
        site::insert(
            &mut c,
            &NewSite {
                id: new_id(),
                town_id: t,
                name: "老镇卫生院".into(),
                address: "老街1号".into(),
                active: true,
                name_en: None,
                address_en: None,
            },
        )
        .unwrap();
    }
    let admin = login_as(&app, Role::Admin).await;
    let example = admin.get("/admin/import/example.csv").await;
    assert!(example.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let example = example.text().await.unwrap();
    let bad = "type,town_code,name,eligible,contact_emails,address\n\
               town,T100,新镇,5000,office@new.example.cn,\n\
               town,T100,重复镇,10,,\n\
               town,T050,已有镇,10,,\n\
               site,T999,无主点,,,某路\n\
               site,T050,老镇卫生院,,,老街1号\n\
               site,T100,\"新镇点, 北门\",,,\n\
               town,T101,坏邮箱镇,10,not-mail,\n\
               moon,T100,x,,,y\n\
               site,T100,短行\n";
    let res = admin
        .post_form_from("/admin/import", "/admin/import", &[("csv", bad)])
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    for line in 3..=10 {
        assert!(
            page.contains(&format!("第 {line} 行")),
            "line {line}: {page}"
        );
    }
    assert!(!page.contains("第 2 行"), "line 2 is fine");
    assert!(page.contains("新镇点, 北门"), "the text is kept");
    assert_eq!(app.count("towns", "1=1"), 1);
    assert_eq!(app.count("sites", "1=1"), 1);
    // Only the database-level problems: still nothing written.
    let res = admin
        .post_form_from(
            "/admin/import",
            "/admin/import",
            &[(
                "csv",
                "type,town_code,name,eligible,contact_emails,address\ntown,T050,x,1,,\n",
            )],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("第 2 行"));
    // A wrong header, an empty file.
    for (csv, expect) in [("code,name\nT1,x\n", "第一行应为"), ("", "没有镇或接种点")] {
        let res = admin
            .post_form_from("/admin/import", "/admin/import", &[("csv", csv)])
            .await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(expect), "{expect}");
    }
    // The example imports as it is, and sites may name existing towns.
    let mut good = example.clone();
    // (The example has the optional English columns, so the added row has them too.)
    good.push_str("site,T050,老镇第二接种点,,,新街2号,,\n");
    let res = admin
        .post_form_from("/admin/import", "/admin/import", &[("csv", &good)])
        .await;
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("已导入 2 个镇和 4 个接种点"));
    assert_eq!(app.count("towns", "1=1"), 3);
    assert_eq!(app.count("sites", "name = '城关体育馆临时接种点, 北门'"), 1);
    assert_eq!(
        app.count("audit_log", "action IN ('towns.import', 'sites.import')"),
        6
    );
}

#[actix_web::test]
async fn in_a_real_browser_an_admin_sets_up_a_city_and_a_resident_sees_its_slots() {
    let app = spawn_app().await;
    add_user(&app, "admin", "admin", None);
    let stdout = run_in_chromium(&app, "setup.mjs", &["admin".into(), PASSWORD.into()]).await;
    assert!(stdout.contains("6 passed, 0 failed"), "{stdout}");
    assert!(app.count("slots", "seats = 4") > 0);
    assert_eq!(app.count("audit_log", "action = 'sites.template'"), 1);
}
