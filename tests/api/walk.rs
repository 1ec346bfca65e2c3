//! What walking README's demo as every role found: a handler's own "no match" page is not
//! replaced by the generic 404, a closed slot says closed (and why), a bad `?date=` says what is
//! wrong, the bureau's mail page and the exception page say what is true in both languages, and
//! the demo city has weekly templates that publishing keeps as they are.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use dosewise::db::schema::slots;
use dosewise::demo::CityOptions;
use dosewise::setup::PublishReport;

use crate::cli::{demo_data, dosewise, text};
use crate::helpers::{
    add_slot_at, book_code, confirm_token, count_where, id_number, login_as, spawn_app,
    spawn_app_on, test_now, ExceptionForm, Role, Session, TestApp, TestDb,
};

/// A visitor in `lang` ("zh-CN" is the default).
async fn visitor(app: &TestApp, lang: &str) -> Session {
    let s = Session::new(app);
    if lang != "zh-CN" {
        assert_eq!(s.get(&format!("/lang/{lang}")).await.status(), 303);
    }
    s
}

#[actix_web::test]
async fn a_wrong_code_and_id_pair_shows_the_look_up_form_again_not_the_generic_404() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 5);
    let slot = app.add_slot(city, 1, 6, 0);
    let code = book_code(&app, slot, 1).await;
    let wrong = id_number(2);
    for (lang, find_msg, entry_msg, generic) in [
        (
            "zh-CN",
            "预约码和身份证号码不匹配，请核对后重试。",
            "没有与该申请码和身份证号相符的抽签申请。",
            "找不到您要的页面。",
        ),
        (
            "en",
            "The booking code and ID number do not match. Please check them.",
            "No entry matches this code and ID number.",
            "We could not find that page.",
        ),
    ] {
        let s = visitor(&app, lang).await;
        for (path, message) in [("/find", find_msg), ("/entry/find", entry_msg)] {
            let res = s
                .post_form_from(path, path, &[("code", &code), ("id_number", &wrong)])
                .await;
            assert_eq!(res.status(), 404, "{lang} {path}");
            let body = res.text().await.unwrap();
            assert!(body.contains(message), "{lang} {path}: {body}");
            assert!(
                body.contains(&format!("<form method=\"post\" action=\"{path}\"")),
                "{lang} {path}: the form again"
            );
            assert!(
                body.contains(&code),
                "{lang} {path}: the code typed is kept"
            );
            assert!(!body.contains(&wrong), "the ID number is never echoed");
            assert!(
                !body.contains(generic),
                "{lang} {path}: not the generic page"
            );
        }
        // An unknown address still gets the generic page.
        let res = s.get("/no/such/page").await;
        assert_eq!(res.status(), 404);
        let body = res.text().await.unwrap();
        assert!(body.contains(generic), "{lang}: {body}");
    }
    // Nothing was granted or changed by the wrong pairs.
    assert_eq!(app.count("appointments", "status = 'booked'"), 1);
    assert_eq!(app.count("draw_entries", "1=1"), 0);
    assert_eq!(app.slot_counts(slot), (1, 0, 6));
}

#[actix_web::test]
async fn a_slot_closed_by_an_exception_says_closed_with_its_reason_not_full() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    // Tomorrow 10:00 and 14:00 local (02:00 and 06:00 UTC).
    let morning = app.add_slot(city, 1, 6, 0);
    let afternoon = add_slot_at(
        &mut app.conn(),
        city,
        test_now() + Duration::days(1) + Duration::hours(5),
        6,
        0,
    );
    let code = book_code(&app, morning, 1).await;
    let admin = login_as(&app, Role::Admin).await;
    let closure = ExceptionForm::morning_closure(&admin, city.site, "停电检修");
    // The confirmation page says residents are mailed (the outbox exists), in both languages.
    let res = closure.post().await;
    assert_eq!(res.status(), 409);
    let shown = res.text().await.unwrap();
    assert!(
        shown.contains("确认后系统会立即按居民选择的语言发邮件通知每一位居民"),
        "{shown}"
    );
    // The booking moves to the afternoon of the same site; nothing has changed yet.
    assert!(shown.contains("<tr class=\"moves\">"), "{shown}");
    assert!(!shown.contains("尚未上线") && !shown.contains("notify.pending"));
    admin.get("/lang/en").await;
    let res = closure.post().await;
    assert_eq!(res.status(), 409);
    let shown = res.text().await.unwrap();
    assert!(
        shown.contains("Each resident is mailed the reason and their new time, or the cancellation, in their language"),
        "{shown}"
    );
    assert!(!shown.contains("does not exist yet"));
    assert_eq!(
        app.count("site_exceptions", "1=1"),
        0,
        "not before confirming"
    );
    let res = closure.confirm(&confirm_token(&shown)).await;
    assert_eq!(res.status(), 303);
    // What the hint promises: the booking is moved and the resident is mailed.
    assert_eq!(
        app.count(
            "appointments",
            &format!("code = '{code}' AND status = 'booked' AND slot_id = {afternoon}")
        ),
        1
    );
    assert_eq!(app.count("outbox", "kind = 'relocated'"), 1);
    assert_eq!(
        app.slot_counts(morning),
        (0, 0, 0),
        "no seats, nothing booked"
    );
    assert_eq!(app.slot_counts(afternoon), (1, 0, 6));

    for (lang, closed, full, left) in [
        ("zh-CN", "停诊：停电检修", "已约满", "剩余 5 个名额"),
        ("en", "Closed: 停电检修", ">Full<", "5 seats left"),
    ] {
        let s = visitor(&app, lang).await;
        let res = s
            .get(&format!("/sites/{}?date=2030-03-05", city.site))
            .await;
        assert_eq!(res.status(), 200);
        let body = res.text().await.unwrap();
        assert!(body.contains(closed), "{lang}: {body}");
        assert!(body.contains("is-closed"), "{lang}");
        assert!(!body.contains(full), "{lang}: a closed slot is not full");
        assert!(body.contains(left), "{lang}: the afternoon is open");
        assert!(
            !body.contains(&format!("/slots/{morning}/book")),
            "{lang}: the closed slot offers no booking"
        );
        assert!(body.contains(&format!("/slots/{afternoon}/book")));
    }
    // The residents' badges are not the desk's green one.
    let css = Session::new(&app).get_text("/static/app.css").await;
    for rule in css.lines().filter(|l| l.starts_with(".badge")) {
        assert!(!rule.contains("var(--ok)"), "{rule}");
    }
}

#[actix_web::test]
async fn a_bad_date_on_a_resident_page_says_what_is_wrong_and_shows_today() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 5);
    // Today 10:00 local, and tomorrow.
    add_slot_at(&mut app.conn(), city, test_now() + Duration::hours(1), 6, 0);
    let tomorrow = app.add_slot(city, 1, 6, 0);
    let code = book_code(&app, tomorrow, 1).await;
    let site = format!("/sites/{}", city.site);
    let cases = [
        (
            "2030-02-30",
            "请填写日期，格式为 年-月-日。",
            "Enter a date as YYYY-MM-DD.",
        ),
        (
            "tomorrow",
            "请填写日期，格式为 年-月-日。",
            "Enter a date as YYYY-MM-DD.",
        ),
        (
            "1999-12-31",
            "请填写 2000 年到 2100 年之间的日期。",
            "Enter a date between 2000 and 2100.",
        ),
        (
            "99999-01-01",
            "请填写日期，格式为 年-月-日。",
            "Enter a date as YYYY-MM-DD.",
        ),
        (
            "2030%00-03-05",
            "不能使用的字符",
            "characters that cannot be used",
        ),
    ];
    for (lang, intro, today) in [
        ("zh-CN", "网址中的日期无法使用", "3月4日"),
        (
            "en",
            "The date in the address could not be used",
            "Mon 4 Mar",
        ),
    ] {
        let s = visitor(&app, lang).await;
        // The move page (reached after finding the appointment) reads `?date=` the same way.
        let res = s
            .post_form_from(
                "/find",
                "/find",
                &[("code", &code), ("id_number", &id_number(1))],
            )
            .await;
        assert_eq!(res.status(), 303);
        for (date, zh, en) in cases {
            let why = if lang == "en" { en } else { zh };
            for path in [
                format!("{site}?date={date}"),
                format!("/appointment/move?date={date}"),
            ] {
                let res = s.get(&path).await;
                assert_eq!(res.status(), 400, "{lang} {path}");
                let body = res.text().await.unwrap();
                assert!(body.contains(intro), "{lang} {path}: {body}");
                assert!(body.contains(why), "{lang} {path}: {body}");
                assert!(body.contains(today), "{lang} {path}: today is shown");
                assert!(body.contains("10:00"), "{lang} {path}: today's slot");
            }
        }
        // A good date still works.
        let res = s.get(&format!("{site}?date=2030-03-05")).await;
        assert_eq!(res.status(), 200);
    }
    // Reading pages changed nothing.
    assert_eq!(app.count("appointments", "status = 'booked'"), 1);
    assert_eq!(app.slot_counts(tomorrow), (1, 0, 6));
}

#[actix_web::test]
async fn the_mail_page_names_statuses_and_kinds_in_the_bureau_s_language() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let slot = app.add_slot(city, 1, 6, 0);
    for i in 1..=3 {
        book_code(&app, slot, i).await;
    }
    let report = app.deliver_mail().await;
    assert_eq!(report.sent, 3);
    book_code(&app, slot, 4).await;
    book_code(&app, slot, 5).await;
    // One row the worker gave up on, one it found no longer needed (their states as the worker
    // leaves them).
    {
        let mut c = app.conn();
        diesel::sql_query(
            "UPDATE outbox SET status = 'failed', attempts = 8, last_error = 'smtp: 550 mailbox \
             unavailable' WHERE id = (SELECT MIN(id) FROM outbox WHERE status = 'pending')",
        )
        .execute(&mut *c)
        .unwrap();
        diesel::sql_query(
            "UPDATE outbox SET status = 'skipped' WHERE id = (SELECT MIN(id) FROM outbox \
             WHERE status = 'sent')",
        )
        .execute(&mut *c)
        .unwrap();
        for (status, n) in [("sent", 2), ("skipped", 1), ("pending", 1), ("failed", 1)] {
            assert_eq!(
                count_where(&mut c, "outbox", &format!("status = '{status}'")),
                n
            );
        }
    }
    let bureau = login_as(&app, Role::Bureau).await;
    let zh = bureau.get_text("/bureau/mail").await;
    for label in [
        "已发送",
        "已无需发送（跳过）",
        "等待发送",
        "最终发送失败",
        "预约确认",
    ] {
        assert!(zh.contains(label), "{label}: {zh}");
    }
    bureau.get("/lang/en").await;
    let en = bureau.get_text("/bureau/mail").await;
    for label in [
        ">Sent<",
        "Not needed any more (skipped)",
        "Waiting to be sent",
        "Failed for good",
        "Booking confirmation",
        "550 mailbox unavailable",
    ] {
        assert!(en.contains(label), "{label}: {en}");
    }
    for page in [&zh, &en] {
        for raw in [">sent<", ">skipped<", ">pending<", ">failed<", ">booked<"] {
            assert!(!page.contains(raw), "{raw} shown raw");
        }
    }
}

/// Every slot as it is stored, by id: id, start, end, seats, held, booked first and second,
/// opening.
type SlotState = (
    i64,
    NaiveDateTime,
    NaiveDateTime,
    i32,
    i32,
    i32,
    i32,
    Option<NaiveDateTime>,
);

fn slot_states(app: &TestApp) -> Vec<SlotState> {
    slots::table
        .order(slots::id.asc())
        .select((
            slots::id,
            slots::starts_at,
            slots::ends_at,
            slots::seats,
            slots::second_dose_held,
            slots::booked_first,
            slots::booked_second,
            slots::opens_at,
        ))
        .load(&mut *app.conn())
        .unwrap()
}

#[actix_web::test]
async fn the_demo_city_has_weekly_templates_that_publishing_keeps_going_unchanged() {
    let app = spawn_app().await;
    let created = app.demo_city(CityOptions {
        towns: 2,
        sites_per_town: 2,
        residents_in_series: 12,
        waiting_per_town: 3,
        users: false,
        ..CityOptions::demo()
    });
    assert_eq!(created.sites, 4);
    assert_eq!(
        app.count(
            "site_templates",
            "slot_minutes = 30 AND seats = 6 AND days_ahead = 14"
        ),
        4
    );
    assert_eq!(
        app.count(
            "site_hours",
            "opens = 510 AND lunch_starts = 690 AND lunch_ends = 810 AND closes = 990"
        ),
        28,
        "every day of the week at every site"
    );
    assert_eq!(app.count("site_products", "1=1"), 4);
    app.assert_none(
        "site_products sp",
        "NOT EXISTS (SELECT 1 FROM slots s WHERE s.site_id = sp.site_id \
             AND s.product_id = sp.product_id)",
        "each site gives the product of its slots",
    );
    let before = slot_states(&app);
    let booked_before = app.count("appointments", "status = 'booked'");
    assert!(booked_before > 0, "some second doses are booked");

    // Publishing now changes nothing: the generated slots are in the template's shape.
    let r = app.publish(test_now());
    assert_eq!(r, PublishReport::default(), "{}", r.summary());
    assert_eq!(slot_states(&app), before);

    // A day later it adds the new day (12 slots per site) and leaves every other slot alone;
    // twenty days on the city still has two weeks of slots.
    let r = app.publish(test_now() + Duration::days(1));
    assert_eq!(
        (r.created, r.reshaped, r.withdrawn, r.kept_booked),
        (48, 0, 0, 0)
    );
    let after: Vec<SlotState> = slot_states(&app)
        .into_iter()
        .filter(|s| before.iter().any(|b| b.0 == s.0))
        .collect();
    assert_eq!(after, before, "no generated slot was reshaped or removed");
    let later = test_now() + Duration::days(20);
    app.publish(later);
    // The 14th local day from then starts at its midnight in Shanghai (UTC+8).
    let last_day = (later.date() + Duration::days(13))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        - Duration::hours(8);
    assert_eq!(
        app.count(
            "slots",
            &format!("starts_at >= '{}'", last_day.format("%Y-%m-%d %H:%M:%S"))
        ),
        48,
        "the 14th day from then is published at every site"
    );
    assert_eq!(
        app.count("appointments", "status = 'booked'"),
        booked_before
    );

    // The admin's checklist has the template step done; every site lists its template.
    let admin = login_as(&app, Role::Admin).await;
    let home = admin.get_text("/admin").await;
    let step = home.find("已设每周模板的接种点").expect("template step");
    let li = home[..step].rfind("<li>").unwrap();
    assert!(home[li..step].contains('✓'), "{}", &home[li..step]);
    assert!(home[step..].starts_with("已设每周模板的接种点</a> <span class=\"muted\">(4)"));
    let sites = admin.get_text("/admin/sites").await;
    assert!(!sites.contains("尚未设置"), "{sites}");
}

#[actix_web::test]
async fn demo_data_then_publish_slots_changes_no_slot_and_check_passes() {
    let db = TestDb::new();
    let url = db.url.clone();
    demo_data(&url, "--towns 1 --sites-per-town 2 --days 3");
    let app = spawn_app_on(db).await;
    let before = slot_states(&app);
    assert_eq!(app.count("site_templates", "days_ahead = 3"), 2);
    let out = dosewise(&url, &["publish-slots"], "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("0 slots created, 0 reshaped, 0 withdrawn, 0 booked slots kept"),
        "{}",
        text(&out)
    );
    assert_eq!(slot_states(&app), before);
    let check = dosewise(&url, &["check"], "");
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("ok: every invariant holds"));

    // A city released at one instant has no template, so publishing cannot open it early.
    let db = TestDb::new();
    demo_data(
        &db.url,
        "--towns 1 --sites-per-town 1 --days 2 --draw-opens-in 3600",
    );
    let out = dosewise(&db.url, &["publish-slots"], "");
    assert!(out.status.success(), "{}", text(&out));
    let app = spawn_app_on(db).await;
    assert_eq!(app.count("site_templates", "1=1"), 0);
    assert_eq!(app.count("slots", "opens_at IS NULL"), 0, "still unopened");
}
