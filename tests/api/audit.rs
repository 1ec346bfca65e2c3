//! The audit trail after a scripted day: residents' book, move, cancel and waiting-list join,
//! a staff check-in and the mail sent are each one entry, with names instead of ids; the page
//! filters by kind, town, user and date, pages, and exports as CSV.

use serde_json::json;

use crate::concurrency::book_with_page;
use crate::helpers::{
    add_user, book_code, cleared_screening, csrf_in, id_number, login_as, login_as_user,
    resident_form, spawn_app, test_now, Role,
};

#[actix_web::test]
async fn a_scripted_day_is_in_the_audit_trail_once_each_with_names() {
    let app = spawn_app().await;
    let city = app.city();
    let today = app.add_slot(city, 0, 5, 0);
    let later = app.add_slot(city, 2, 5, 0);
    app.add_lot(
        city,
        "LOT-A",
        chrono::NaiveDate::from_ymd_opt(2031, 1, 1).unwrap(),
        50,
    );
    // Book (1), book and cancel (2), book on the pages and move (3), join the waiting list (4).
    let code1 = book_code(&app, today, 1).await;
    let code2 = book_code(&app, later, 2).await;
    let res = app
        .post_json(
            "/api/v1/appointments/cancel",
            &json!({"code": code2, "id_number": id_number(2)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mover = book_with_page(&app, today, 3).await;
    let token = csrf_in(&mover.get_text("/appointment/cancel").await).unwrap();
    let res = mover
        .post_raw(
            "/appointment/move",
            &[("csrf", token.as_str()), ("slot_id", &later.to_string())],
        )
        .await;
    assert_eq!(res.status(), 303);
    let token = app.csrf("/find").await;
    let mut form = resident_form(4);
    form.push(("csrf".into(), token));
    let res = app
        .post_fields(&format!("/towns/{}/wait", city.town), &form)
        .await;
    assert_eq!(res.status(), 200);
    // The nurse checks resident 1 in.
    add_user(&app, "护士李", "clinic", Some(city.site));
    let nurse = login_as_user(&app, "护士李", "/staff").await;
    let res = nurse
        .post_form(
            &format!("/staff/checkin/{code1}"),
            &cleared_screening(&id_number(1)[14..]),
        )
        .await;
    assert_eq!(res.status(), 303);
    // The system sends the mail the day queued.
    app.deliver_mail().await;

    for (action, n) in [
        ("appointment.book", 3),
        ("appointment.cancel", 1),
        ("appointment.move", 1),
        ("waiting.join", 1),
        ("check-in", 1),
    ] {
        assert_eq!(
            app.count("audit_log", &format!("action = '{action}'")),
            n,
            "{action}"
        );
    }
    let masked = |i: u32| format!("**************{}", &id_number(i)[14..]);
    assert_eq!(
        app.count(
            "audit_log",
            &format!(
                "action = 'appointment.cancel' AND actor = '{}' AND town_id = {}",
                masked(2),
                city.town
            )
        ),
        1
    );
    // Each booking's entry names its own appointment, the masked ID number, and the site's town
    // (written in the booking's one statement of writes, `INSERT … SELECT` of the town).
    for i in 1..=3 {
        assert_eq!(
            app.count(
                "audit_log a JOIN appointments p ON a.subject = 'appointment ' || p.id \
                 JOIN residents r ON r.id = p.resident_id",
                &format!(
                    "a.action = 'appointment.book' AND a.actor = '{}' AND a.town_id = {} \
                     AND r.id_last4 = '{}'",
                    masked(i),
                    city.town,
                    &id_number(i)[14..]
                )
            ),
            1,
            "resident {i}"
        );
    }
    let sent = app.count("outbox", "status = 'sent'");
    assert!(sent >= 4, "{sent}");
    assert_eq!(app.count("audit_log", "action = 'mail.sent'"), sent);

    // The page shows names: the booking code for the appointment, the site and town by name.
    let bureau = login_as(&app, Role::Bureau).await;
    let page = bureau
        .get_text("/bureau/audit?kind=appointment.cancel")
        .await;
    assert!(
        page.contains(&format!(
            "<td>{}</td><td>appointment.cancel</td><td>appointment {code2}</td><td>site 测试接种点 dose 1</td><td>测试镇T001</td>",
            masked(2)
        )),
        "{page}"
    );
    // Kind by prefix: every appointment entry and nothing else.
    let page = bureau.get_text("/bureau/audit?kind=appointment").await;
    assert_eq!(page.matches("<td>appointment.").count(), 5, "{page}");
    assert!(!page.contains("<td>waiting.join</td>"));
    // By user: the nurse's check-in only.
    let page = bureau
        .get_text("/bureau/audit?user=%E6%8A%A4%E5%A3%AB%E6%9D%8E")
        .await;
    assert_eq!(
        page.matches("<td>护士李</td>").count(),
        2,
        "login and check-in: {page}"
    );
    assert!(page.contains(&format!("<td>appointment {code1}</td>")));
    // By town, and by date (the day after has nothing).
    let page = bureau
        .get_text(&format!("/bureau/audit?town={}&kind=waiting", city.town))
        .await;
    assert!(
        page.contains(&format!("<td>{}</td><td>waiting.join</td>", masked(4))),
        "{page}"
    );
    let page = bureau.get_text("/bureau/audit?from=2030-03-05").await;
    assert!(!page.contains("<td>appointment."), "{page}");
    assert_eq!(bureau.get("/bureau/audit?page=0").await.status(), 400);

    // Pages of 50, newest first.
    {
        let mut c = app.conn();
        for n in 0..60 {
            dosewise::models::audit::record(
                &mut c,
                test_now() - chrono::Duration::hours(1) - chrono::Duration::seconds(n),
                "script",
                "test.step",
                &format!("step {n}"),
                "",
            )
            .unwrap();
        }
    }
    let first = bureau.get_text("/bureau/audit?kind=test").await;
    assert_eq!(first.matches("<td>test.step</td>").count(), 50);
    assert!(first.contains("<td>step 0</td>") && first.contains("rel=\"next\""));
    let second = bureau.get_text("/bureau/audit?kind=test&page=2").await;
    assert_eq!(second.matches("<td>test.step</td>").count(), 10);
    assert!(second.contains("<td>step 59</td>") && !second.contains("rel=\"next\""));

    // The CSV export of the same filters, with names.
    let body = bureau
        .get("/bureau/exports/audit.csv?kind=appointment.move")
        .await
        .bytes()
        .await
        .unwrap();
    assert!(body.starts_with(b"\xEF\xBB\xBF"));
    let mut r = csv::Reader::from_reader(&body[3..]);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][1], masked(3));
    assert_eq!(&rows[0][4], "site 测试接种点 -> site 测试接种点");
    assert_eq!(&rows[0][5], "测试镇T001");
}

#[actix_web::test]
async fn a_draw_entry_writes_one_audit_row_with_the_masked_id_and_the_town() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let start = test_now() + chrono::Duration::days(3) + chrono::Duration::hours(1);
    let slot = crate::helpers::add_slot_at(&mut app.conn(), city, start, 5, 0);
    let draw = crate::helpers::open_in_draw(&mut app.conn(), city, &[slot], test_now(), 10);
    let res = app.book_api(slot, 1, &crate::helpers::resident(7)).await;
    assert_eq!(res.status(), 202);
    // A second try by the same person is refused and writes nothing.
    let res = app.book_api(slot, 1, &crate::helpers::resident(7)).await;
    assert_eq!(res.status(), 409);

    let masked = format!("**************{}", &id_number(7)[14..]);
    assert_eq!(app.count("audit_log", "action = 'draw.enter'"), 1);
    assert_eq!(
        app.count(
            "audit_log",
            &format!(
                "action = 'draw.enter' AND actor = '{masked}' AND subject = 'draw {draw}' AND town_id = {}",
                city.town
            )
        ),
        1
    );
    assert_eq!(
        app.count("audit_log", &format!("actor LIKE '%{}%'", id_number(7))),
        0
    );
    let bureau = login_as(&app, Role::Bureau).await;
    let page = bureau.get_text("/bureau/audit?kind=draw.enter").await;
    assert!(
        page.contains(&format!("<td>{masked}</td><td>draw.enter</td>")),
        "{page}"
    );
    assert!(page.contains("测试镇T001"), "{page}");
    assert!(!page.contains(&id_number(7)));
}
