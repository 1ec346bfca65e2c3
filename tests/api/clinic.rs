//! The clinic desk: today's list, check-in by code with identity and screening, recording the
//! dose, observation, adverse reactions, walk-ins, no-shows and wastage; their refusals, and the
//! invariants under many simultaneous requests.

use chrono::{Duration, NaiveDate};
use futures::future::join_all;

use dosewise::models::stock;

use crate::helpers::{
    add_user, book_code, cleared_screening, csrf_in, give_dose, id_number, login_as_user, resident,
    resident_form, run_in_chromium, spawn_app, test_now, City, Session, TestApp, PASSWORD,
};

/// 10:05 in Shanghai on the test day: inside the 10:00-10:30 slot `add_slot(city, 0, ..)` makes.
pub(crate) fn during_the_slot() -> chrono::NaiveDateTime {
    test_now() + Duration::hours(1) + Duration::minutes(5)
}

/// 10:31 in Shanghai: that slot is over.
pub(crate) fn after_the_slot() -> chrono::NaiveDateTime {
    test_now() + Duration::hours(1) + Duration::minutes(31)
}

pub(crate) fn far_expiry() -> NaiveDate {
    NaiveDate::from_ymd_opt(2031, 1, 1).unwrap()
}

/// A desk: a city with a slot today at 10:00 (`seats`), a lot of `doses`, and a logged-in nurse.
pub(crate) struct Desk {
    pub(crate) app: TestApp,
    pub(crate) city: City,
    pub(crate) slot: i64,
    pub(crate) nurse: Session,
}

impl Desk {
    /// The sum of the site's ledger movements of the city's product: its doses on hand.
    pub(crate) fn ledger_sum(&self) -> i64 {
        stock::ledger_sum(
            &mut self.app.conn(),
            dosewise::ids::SiteId(self.city.site),
            dosewise::ids::ProductId(self.city.product),
        )
        .unwrap()
    }

    pub(crate) async fn new(seats: i32, doses: i32) -> Desk {
        let app = spawn_app().await;
        let city = app.city();
        let slot = app.add_slot(city, 0, seats, 0);
        app.add_lot(city, "LOT-A", far_expiry(), doses);
        add_user(&app, "nurse", "clinic", Some(city.site));
        let nurse = login_as_user(&app, "nurse", "/staff").await;
        Desk {
            app,
            city,
            slot,
            nurse,
        }
    }

    /// Book resident `i` into `slot` through the API; their booking code.
    pub(crate) async fn book(&self, slot: i64, i: u32) -> String {
        book_code(&self.app, slot, i).await
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.nurse.get(path).await
    }

    pub(crate) async fn text(&self, path: &str) -> String {
        self.nurse.get_text(path).await
    }

    /// POST a form with the nurse's CSRF token.
    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.nurse.post_form(path, form).await
    }

    pub(crate) async fn csrf(&self) -> String {
        csrf_in(&self.text("/staff").await).unwrap()
    }

    /// Check resident `i` in with no screening concerns.
    pub(crate) async fn check_in(&self, code: &str, i: u32) -> reqwest::Response {
        let last4 = &id_number(i)[14..];
        self.post(&format!("/staff/checkin/{code}"), &cleared_screening(last4))
            .await
    }

    pub(crate) async fn give(
        &self,
        code: &str,
        lot: &str,
        dose: &str,
        time: &str,
    ) -> reqwest::Response {
        self.post(
            &format!("/staff/checkin/{code}/dose"),
            &[("lot", lot), ("dose_number", dose), ("time", time)],
        )
        .await
    }

    pub(crate) fn status_of(&self, code: &str) -> String {
        use diesel::prelude::*;
        use dosewise::db::schema::appointments;
        appointments::table
            .filter(appointments::code.eq(code))
            .select(appointments::status)
            .first(&mut *self.app.conn())
            .unwrap()
    }
}

pub(crate) fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

#[actix_web::test]
async fn a_nurse_checks_in_by_code_screens_records_the_dose_and_sees_the_person_in_observation() {
    let d = Desk::new(4, 10).await;
    let code = d.book(d.slot, 1).await;

    let today = d.text("/staff").await;
    assert!(today.contains(&code), "today's list shows the booking");
    assert!(today.contains("10:00–10:30"));
    assert!(today.contains("LOT-A"), "stock shows the lot");
    assert!(today.contains("/static/clinic.js"));
    assert!(!today.contains(&id_number(1)), "never the full ID number");

    // The typed code (lower case, with a space) leads to the check-in page.
    let typed: String = format!("{} {}", &code[..4], &code[4..]).to_lowercase();
    let res = d
        .get(&format!(
            "/staff/checkin?site={}&code={}",
            d.city.site,
            typed.replace(' ', "%20")
        ))
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("/staff/checkin/{code}"));
    let page = d.text(&format!("/staff/checkin/{code}")).await;
    assert!(page.contains("**************"), "{page}");
    assert!(page.contains("name=\"last4\""));

    // The wrong last four characters are refused next to the field; nothing is written.
    let res = d
        .post(
            &format!("/staff/checkin/{code}"),
            &cleared_screening("0000"),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("后 4 位不符"));
    assert_eq!(d.app.count("screenings", "1=1"), 0);
    assert_eq!(d.status_of(&code), "booked");

    let res = d.check_in(&code, 1).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        format!("/staff/checkin/{code}?done=checked_in")
    );
    assert_eq!(d.status_of(&code), "checked_in");
    assert_eq!(
        d.app.count(
            "screenings",
            "outcome = 'cleared' AND fever = FALSE AND staff_user_id IS NOT NULL"
        ),
        1
    );
    let page = d
        .text(&format!("/staff/checkin/{code}?done=checked_in"))
        .await;
    assert!(page.contains("action=\"/staff/checkin/"), "dose form");
    assert!(page.contains("value=\"LOT-A\""));

    let res = d.give(&code, "LOT-A", "1", "09:00").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        format!("/staff/sites/{}?done=dose#observation", d.city.site)
    );
    assert_eq!(d.status_of(&code), "vaccinated");
    assert_eq!(d.app.count("vaccinations", "lot = 'LOT-A'"), 1);
    assert_eq!(
        d.app.count(
            "stock_movements",
            "kind = 'given' AND delta = -1 AND lot = 'LOT-A' AND actor = 'nurse'"
        ),
        1
    );
    assert_eq!(d.app.stock(d.city), (9, 0));
    for action in ["check-in", "record-dose"] {
        assert_eq!(
            d.app.count(
                "audit_log",
                &format!("action = '{action}' AND actor = 'nurse'")
            ),
            1,
            "{action} audited"
        );
    }

    // Observation: given at 09:00, may leave at 09:30 (the default 30 minutes).
    let today = d
        .text(&format!("/staff/sites/{}?done=dose", d.city.site))
        .await;
    let obs = &today[today.find("id=\"observation\"").unwrap()..];
    assert!(obs.contains("测试乙") && obs.contains("09:30"), "{obs}");
    assert!(today.contains("已登记接种"));

    // The code now shows the record, and a second dose for the same appointment is refused.
    let page = d.text(&format!("/staff/checkin/{code}")).await;
    assert!(page.contains("登记不良反应"));
    let res = d.give(&code, "LOT-A", "1", "09:00").await;
    assert_eq!(res.status(), 409);
    assert_eq!(d.app.count("vaccinations", "1=1"), 1);
}

#[actix_web::test]
async fn the_desk_explains_unknown_wrong_site_wrong_day_cancelled_and_used_codes() {
    let d = Desk::new(4, 10).await;
    let today_code = d.book(d.slot, 1).await;
    let tomorrow = d.app.add_slot(d.city, 1, 4, 0);
    let tomorrow_code = d.book(tomorrow, 2).await;
    let cancelled_code = d.book(d.slot, 3).await;
    {
        use diesel::prelude::*;
        use dosewise::db::schema::appointments;
        let id: i64 = appointments::table
            .filter(appointments::code.eq(&cancelled_code))
            .select(appointments::id)
            .first(&mut *d.app.conn())
            .unwrap();
        dosewise::booking::cancel(
            d.app.database(),
            dosewise::ids::AppointmentId(id),
            test_now(),
        )
        .unwrap();
    }

    let res = d.get("/staff/checkin/ZZZZ2222").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("没有这个预约码"));

    let page = d.text(&format!("/staff/checkin/{tomorrow_code}")).await;
    assert!(page.contains("不是今天"), "{page}");
    assert!(!page.contains("name=\"last4\""));
    let res = d.check_in(&tomorrow_code, 2).await;
    assert_eq!(res.status(), 409);
    assert_eq!(d.status_of(&tomorrow_code), "booked");

    let page = d.text(&format!("/staff/checkin/{cancelled_code}")).await;
    assert!(page.contains("已取消或已使用"), "{page}");
    assert_eq!(d.check_in(&cancelled_code, 3).await.status(), 409);

    // A nurse of another site sees no details and can change nothing.
    let mut c = d.app.conn();
    let other = crate::helpers::make_city(&mut c, "T002", 21, 56);
    drop(c);
    add_user(&d.app, "other", "clinic", Some(other.site));
    let other_nurse = login_as_user(&d.app, "other", "/staff").await;
    let res = other_nurse
        .get(&format!("/staff/checkin/{today_code}"))
        .await;
    assert_eq!(res.status(), 403);
    let body = res.text().await.unwrap();
    assert!(body.contains("不在您的接种点"), "{body}");
    assert!(
        !body.contains("测试乙"),
        "no personal details for another site"
    );
    let res = other_nurse
        .get(&format!("/staff/sites/{}", d.city.site))
        .await;
    assert_eq!(res.status(), 403);

    // Used: after the dose, the code shows the record and cannot be checked in again.
    assert_eq!(d.check_in(&today_code, 1).await.status(), 303);
    assert_eq!(d.check_in(&today_code, 1).await.status(), 409);
    assert_eq!(
        d.give(&today_code, "LOT-A", "1", "09:00").await.status(),
        303
    );
    let res = d.check_in(&today_code, 1).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("已经登记过"));
    assert_eq!(d.app.count("screenings", "1=1"), 1);
}

#[actix_web::test]
async fn a_yes_in_screening_needs_a_decision_a_fever_defers_and_a_deferral_gives_the_dose_back() {
    let d = Desk::new(4, 10).await;
    let code = d.book(d.slot, 1).await;
    assert_eq!(d.app.stock(d.city), (10, 1));
    let last4 = id_number(1)[14..].to_string();
    let path = format!("/staff/checkin/{code}");
    let answers = |decision: &'static str, reason: &'static str| {
        vec![
            ("last4", last4.clone()),
            ("fever", "yes".to_string()),
            ("allergy", "no".to_string()),
            ("pregnant", "no".to_string()),
            ("recent_vaccine", "no".to_string()),
            ("decision", decision.to_string()),
            ("reason", reason.to_string()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| {
        let path = path.clone();
        let d = &d;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            d.post(&path, &form).await
        }
    };
    let res = send(answers("", "")).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("请选择今天接种或暂缓接种"), "{body}");
    assert!(
        body.contains("guidance"),
        "the yes answer's advice is highlighted"
    );
    let res = send(answers("proceed", "")).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("发热者必须暂缓接种"));
    let res = send(answers("defer", "  ")).await;
    assert_eq!(res.status(), 422);
    let res = send(vec![("last4", last4.clone())]).await;
    assert_eq!(res.status(), 422, "unanswered questions");
    assert_eq!(d.app.count("screenings", "1=1"), 0);
    assert_eq!(d.status_of(&code), "booked");

    // Another resident in the same slot, cancelled by themselves: gone from the list.
    let other = d.book(d.slot, 2).await;
    let cancel = d
        .app
        .post_json(
            "/api/v1/appointments/cancel",
            &serde_json::json!({"code": other, "id_number": id_number(2)}),
        )
        .await;
    assert_eq!(cancel.status(), 200);

    let res = send(answers("defer", "38.6 °C")).await;
    assert_eq!(res.status(), 303);
    assert_eq!(d.status_of(&code), "deferred");
    assert_eq!(d.status_of(&other), "cancelled");
    // The day list keeps the deferred resident, labelled as deferred with the reason, in Chinese
    // and in English; a cancellation is not listed.
    let list = d.text(&format!("/staff/sites/{}", d.city.site)).await;
    let shown = |code: &str| {
        list.find(&format!("/staff/checkin/{code}\""))
            .map(|at| list[at..at + list[at..].find("</tr>").unwrap()].to_string())
    };
    let row = shown(&code).unwrap_or_else(|| panic!("the deferral is listed: {list}"));
    assert!(row.contains("已暂缓") && row.contains("38.6 °C"), "{row}");
    assert!(!row.contains("已取消"), "{row}");
    assert!(row.contains("st-deferred") || list.contains("class=\"st-deferred\""));
    assert!(shown(&other).is_none(), "a cancellation is not on the list");
    assert!(
        list.contains("暂缓 1"),
        "the slot counts the deferral: {list}"
    );
    d.nurse.get("/lang/en?next=/staff").await;
    let en = d.text(&format!("/staff/sites/{}", d.city.site)).await;
    let at = en.find(&format!("/staff/checkin/{code}\"")).unwrap();
    let row = &en[at..at + en[at..].find("</tr>").unwrap()];
    assert!(row.contains("Deferred") && row.contains("38.6 °C"), "{row}");
    assert!(!row.contains("Cancelled"), "{row}");
    // Its check-in page says it was deferred, not cancelled.
    let page = d.text(&format!("/staff/checkin/{code}")).await;
    assert!(page.contains("Deferred"), "{page}");
    assert_eq!(
        d.app.count(
            "screenings",
            "outcome = 'deferred' AND fever = TRUE AND reason = '38.6 °C'"
        ),
        1
    );
    assert_eq!(d.app.stock(d.city), (10, 0), "the promised dose is back");
    assert_eq!(d.app.count("audit_log", "action = 'defer'"), 1);
    // The resident's own page says why, and offers to book again.
    let token = d.app.csrf("/find").await;
    let res = d
        .app
        .post_raw(
            "/find",
            &[
                ("csrf", &token),
                ("code", &code),
                ("id_number", &id_number(1)),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let mine = d.app.get_text("/appointment").await;
    assert!(mine.contains("状态：<strong>已暂缓</strong>"), "{mine}");
    let why = &mine[mine.find("暂缓接种的原因").expect(&mine)..];
    assert!(
        why[..why.find("</section>").unwrap()].contains("38.6 °C"),
        "{why}"
    );
    assert!(
        mine.contains(&format!(
            "href=\"/towns/{}\" data-testid=\"rebook\">重新预约",
            d.city.town
        )),
        "{mine}"
    );
    assert!(
        !mine.contains("/appointment/cancel"),
        "nothing left to cancel"
    );
    // The resident may book again.
    let later = d.app.add_slot(d.city, 3, 4, 0);
    assert_eq!(d.app.book_api(later, 1, &resident(1)).await.status(), 201);
}

#[actix_web::test]
async fn the_dose_is_checked_against_history_interval_and_lot() {
    let d = Desk::new(4, 10).await;
    d.app.add_lot(
        d.city,
        "LOT-OLD",
        NaiveDate::from_ymd_opt(2030, 3, 1).unwrap(),
        5,
    );
    let code = d.book(d.slot, 1).await;
    assert_eq!(d.check_in(&code, 1).await.status(), 303);
    // Dose 1 was in fact given ten days ago elsewhere (recorded without an appointment).
    give_dose(&d.app, d.city, &id_number(1), 1, 10);

    let page = d.text(&format!("/staff/checkin/{code}")).await;
    assert!(
        !page.contains("value=\"LOT-OLD\""),
        "expired lots are not offered"
    );

    let res = d.give(&code, "LOT-A", "1", "09:00").await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("已接种过这一剂"));
    let res = d.give(&code, "LOT-A", "2", "09:00").await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("3月15日") && body.contains("21 天"),
        "dose 2 opens 21 days after 2月22日: {body}"
    );
    let res = d.give(&code, "LOT-OLD", "2", "09:00").await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("已过期"));
    assert_eq!(d.give(&code, "NOPE", "2", "09:00").await.status(), 409);
    let res = d.give(&code, "LOT-A", "2", "23:59").await;
    assert_eq!(res.status(), 409, "a time in the future");
    for (lot, dose, time) in [
        ("", "1", "09:00"),
        ("LOT-A", "x", "09:00"),
        ("LOT-A", "1", "9h"),
    ] {
        assert_eq!(d.give(&code, lot, dose, time).await.status(), 422);
    }
    assert_eq!(
        d.app.count("vaccinations", "1=1"),
        1,
        "only the earlier dose"
    );
    assert_eq!(
        d.app
            .count("stock_movements", "kind = 'given' AND reason <> 'history'"),
        0,
        "nothing given at the desk"
    );
    assert_eq!(d.status_of(&code), "checked_in");
}

#[actix_web::test]
async fn twenty_simultaneous_dose_posts_for_one_appointment_record_exactly_one() {
    let d = Desk::new(4, 10).await;
    let code = d.book(d.slot, 1).await;
    assert_eq!(d.check_in(&code, 1).await.status(), 303);
    let token = d.csrf().await;
    let url = format!("{}/staff/checkin/{code}/dose", d.app.address);
    let posts = (0..20).map(|_| {
        let (c, url, token) = (d.nurse.client.clone(), url.clone(), token.clone());
        async move {
            c.post(url)
                .form(&[
                    ("csrf", token.as_str()),
                    ("lot", "LOT-A"),
                    ("dose_number", "1"),
                    ("time", "09:00"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = join_all(posts).await;
    only_winners_and_conflicts(&statuses, 1);
    assert_eq!(d.app.count("vaccinations", "1=1"), 1);
    assert_eq!(d.app.count("stock_movements", "kind = 'given'"), 1);
    assert_eq!(d.app.count("audit_log", "action = 'record-dose'"), 1);
    assert_eq!(d.app.stock(d.city), (9, 0));
    assert_eq!(d.ledger_sum(), 9);
}

#[actix_web::test]
async fn simultaneous_walk_ins_never_exceed_the_seats_or_the_stock() {
    // Seats are the limit: 3 seats, plenty of vaccine, 12 people at once.
    let d = Desk::new(3, 50).await;
    d.app.clock.set(during_the_slot());
    let statuses = walk_in_many(&d, 12).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(d.app.slot_counts(d.slot), (3, 0, 3));
    assert_eq!(d.app.stock(d.city), (50, 3));

    // Stock is the limit: 10 seats, 2 doses.
    let d = Desk::new(10, 2).await;
    d.app.clock.set(during_the_slot());
    let statuses = walk_in_many(&d, 8).await;
    only_winners_and_conflicts(&statuses, 2);
    assert_eq!(d.app.slot_counts(d.slot), (2, 0, 10));
    assert_eq!(d.app.stock(d.city), (2, 2));
    assert_eq!(d.app.count("appointments", "1=1"), 2);
    assert_eq!(d.app.count("audit_log", "action = 'walk-in'"), 2);
}

/// The wastage form: `doses` of `lot` wasted, of `kind`, for `reason`.
fn waste_form<'a>(
    lot: &'a str,
    doses: &'a str,
    kind: &'a str,
    reason: &'a str,
) -> [(&'a str, &'a str); 4] {
    [
        ("lot", lot),
        ("doses", doses),
        ("kind", kind),
        ("reason", reason),
    ]
}

/// Of simultaneous posts, exactly `winners` succeeded (303) and every other one was refused as a
/// conflict (409).
fn only_winners_and_conflicts(statuses: &[u16], winners: usize) {
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        winners,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 409),
        "{statuses:?}"
    );
}

async fn walk_in_many(d: &Desk, n: u32) -> Vec<u16> {
    let token = d.csrf().await;
    let url = format!("{}/staff/sites/{}/walk-in", d.app.address, d.city.site);
    let slot = d.slot.to_string();
    let posts = (0..n).map(|i| {
        let (c, url, token, slot) = (
            d.nurse.client.clone(),
            url.clone(),
            token.clone(),
            slot.clone(),
        );
        async move {
            let mut form = resident_form(500 + i);
            form.push(("csrf".into(), token));
            form.push(("slot".into(), slot));
            c.post(url)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    join_all(posts).await
}

#[actix_web::test]
async fn a_walk_in_takes_a_seat_and_a_dose_then_goes_through_check_in_like_a_booking() {
    let d = Desk::new(3, 10).await;
    // 09:00: nothing is running yet.
    let page = d
        .text(&format!("/staff/sites/{}/walk-in", d.city.site))
        .await;
    assert!(page.contains("目前没有进行中"), "{page}");
    d.app.clock.set(during_the_slot());
    let page = d
        .text(&format!("/staff/sites/{}/walk-in", d.city.site))
        .await;
    assert!(page.contains(&format!("value=\"{}\"", d.slot)));

    let path = format!("/staff/sites/{}/walk-in", d.city.site);
    let slot = d.slot.to_string();
    let mut bad: Vec<(String, String)> = resident_form(7);
    let good = id_number(7);
    let wrong = if good.ends_with('0') { '1' } else { '0' };
    bad[1].1 = format!("{}{wrong}", &good[..17]); // a wrong check digit
    bad.push(("slot".into(), slot.clone()));
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(d.post(&path, &bad).await.status(), 422);
    assert_eq!(d.app.count("residents", "1=1"), 0);

    let form: Vec<(String, String)> = resident_form(7)
        .into_iter()
        .chain([("slot".to_string(), slot.clone())])
        .collect();
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = d.post(&path, &form).await;
    assert_eq!(res.status(), 303);
    let to = location(&res);
    assert!(
        to.starts_with("/staff/checkin/") && to.ends_with("?done=walk_in"),
        "{to}"
    );
    let code = to["/staff/checkin/".len()..to.len() - "?done=walk_in".len()].to_string();
    assert_eq!(d.app.slot_counts(d.slot), (1, 0, 3));
    assert_eq!(d.app.stock(d.city), (10, 1));

    // The same person again: they already hold this dose's appointment.
    let res = d.post(&path, &form).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("预约码签到"));

    assert_eq!(d.check_in(&code, 7).await.status(), 303);
    assert_eq!(d.give(&code, "LOT-A", "1", "10:05").await.status(), 303);
    assert_eq!(d.app.stock(d.city), (9, 0));
    // Dose 1 done: a walk-in for the same person now would be dose 2, too early.
    let res = d.post(&path, &form).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("还不能接种"));
}

#[actix_web::test]
async fn no_shows_free_the_promised_dose_keep_the_seat_and_let_the_resident_book_again() {
    let d = Desk::new(4, 10).await;
    let absent = d.book(d.slot, 1).await;
    let present = d.book(d.slot, 2).await;
    assert_eq!(d.check_in(&present, 2).await.status(), 303);
    let path = format!("/staff/sites/{}/no-shows", d.city.site);
    let slot = d.slot.to_string();

    let res = d.post(&path, &[("slot", slot.as_str())]).await;
    assert_eq!(res.status(), 409, "the slot has not ended");
    assert_eq!(d.status_of(&absent), "booked");

    d.app.clock.set(after_the_slot());
    let today = d.text("/staff").await;
    assert!(today.contains("标记为未到"));
    let res = d.post(&path, &[("slot", slot.as_str())]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&res),
        format!("/staff/sites/{}?done=no_show&n=1", d.city.site)
    );
    assert_eq!(d.status_of(&absent), "no_show");
    assert_eq!(d.status_of(&present), "checked_in");
    assert_eq!(
        d.app.stock(d.city),
        (10, 1),
        "only the present one's dose stays promised"
    );
    assert_eq!(
        d.app.slot_counts(d.slot),
        (2, 0, 4),
        "seats are not reused retroactively"
    );
    assert_eq!(d.app.count("audit_log", "action = 'no-show'"), 1);
    // Again: nothing left to mark.
    let res = d.post(&path, &[("slot", "")]).await;
    assert_eq!(
        location(&res),
        format!("/staff/sites/{}?done=no_show&n=0", d.city.site)
    );
    assert_eq!(d.post(&path, &[("slot", "abc")]).await.status(), 400);

    let later = d.app.add_slot(d.city, 2, 4, 0);
    assert_eq!(d.app.book_api(later, 1, &resident(1)).await.status(), 201);
}

#[actix_web::test]
async fn wastage_goes_through_the_ledger_and_never_leaves_promises_unbacked() {
    let d = Desk::new(4, 3).await;
    d.book(d.slot, 1).await;
    d.book(d.slot, 2).await;
    assert_eq!(d.app.stock(d.city), (3, 2));
    let path = format!("/staff/sites/{}/wastage", d.city.site);
    let lot = format!("{}:LOT-A", d.city.product);
    let page = d.text(&path).await;
    assert!(page.contains(&lot));

    let res = d
        .post(&path, &waste_form(&lot, "2", "broken", "dropped"))
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("少于已承诺"));
    for form in [
        waste_form(&lot, "abc", "broken", "x"),
        waste_form(&lot, "1", "stolen", "x"),
        waste_form(&lot, "1", "broken", " "),
        waste_form("garbage", "1", "broken", "x"),
    ] {
        assert_eq!(d.post(&path, &form).await.status(), 422, "{form:?}");
    }
    assert_eq!(d.app.count("stock_movements", "kind = 'wasted'"), 0);
    assert_eq!(d.app.stock(d.city), (3, 2));

    let res = d
        .post(
            &path,
            &waste_form(&lot, "1", "cold_chain", "fridge at 12 °C"),
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(d.app.stock(d.city), (2, 2));
    assert_eq!(
        d.app.count(
            "stock_movements",
            "kind = 'wasted' AND delta = -1 AND lot = 'LOT-A' AND actor = 'nurse' AND reason LIKE 'cold_chain:%'"
        ),
        1
    );
    assert_eq!(d.app.count("audit_log", "action = 'wastage'"), 1);
}

#[actix_web::test]
async fn a_severe_reaction_is_recorded_from_observation_and_flagged_to_the_bureau() {
    let d = Desk::new(4, 10).await;
    add_user(&d.app, "planner", "bureau", None);
    let code = d.book(d.slot, 1).await;
    assert_eq!(d.check_in(&code, 1).await.status(), 303);
    assert_eq!(d.give(&code, "LOT-A", "1", "09:00").await.status(), 303);
    let vaccination: i64 = {
        use diesel::prelude::*;
        use dosewise::db::schema::vaccinations;
        vaccinations::table
            .select(vaccinations::id)
            .first(&mut *d.app.conn())
            .unwrap()
    };
    let today = d.text("/staff").await;
    let path = format!("/staff/vaccinations/{vaccination}/reaction");
    assert!(
        today.contains(&path),
        "the observation list links to the reaction form"
    );
    let form = d.text(&path).await;
    assert!(
        form.contains("登记人：nurse。") && !form.contains("接种人记录为"),
        "the form names who records the reaction, not who gave the dose: {form}"
    );
    d.get("/lang/en?next=/").await;
    let form = d.text(&path).await;
    assert!(
        form.contains("Recorded by nurse.") && !form.contains("given by"),
        "{form}"
    );
    d.get("/lang/zh-CN?next=/").await;

    for form in [
        [
            ("severity", "deadly"),
            ("symptoms", "rash"),
            ("action", "x"),
            ("time", "09:10"),
        ],
        [
            ("severity", "severe"),
            ("symptoms", ""),
            ("action", "x"),
            ("time", "09:10"),
        ],
        [
            ("severity", "severe"),
            ("symptoms", "rash"),
            ("action", "x"),
            ("time", "9 o'clock"),
        ],
    ] {
        assert_eq!(d.post(&path, &form).await.status(), 422, "{form:?}");
    }
    let res = d
        .post(
            &path,
            &[
                ("severity", "severe"),
                ("symptoms", "rash"),
                ("action", "x"),
                ("time", "08:00"),
            ],
        )
        .await;
    assert_eq!(res.status(), 409, "before the dose");
    assert_eq!(d.app.count("adverse_events", "1=1"), 0);

    let res = d
        .post(
            &path,
            &[
                ("severity", "severe"),
                ("symptoms", "wheezing and hives"),
                ("action", "adrenaline 0.5 mg, ambulance called"),
                ("time", "09:00"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        d.app.count(
            "adverse_events",
            "severity = 'severe' AND recorded_by = (SELECT id FROM users WHERE username = 'nurse')"
        ),
        1
    );
    assert_eq!(
        d.app
            .count("audit_log", "action = 'adverse-event' AND actor = 'nurse'"),
        1
    );
    let record = d.text(&format!("/staff/checkin/{code}")).await;
    assert!(record.contains("wheezing and hives"));
    // The desk's observation list, where the answer to the form lands, marks the person.
    let done = res.headers()["location"].to_str().unwrap().to_string();
    assert!(done.ends_with("#observation"), "{done}");
    let today = d.text(&done).await;
    let observation = &today[today.find("id=\"observation\"").unwrap()..];
    let observation = &observation[..observation.find("</section>").unwrap()];
    let row = &observation[observation
        .find("<tr class=\"severe\">")
        .expect(observation)..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("⚠ 严重")
            && row.contains("wheezing and hives")
            && row.contains("adrenaline 0.5 mg, ambulance called")
            && row.contains(&path),
        "{row}"
    );

    let planner = login_as_user(&d.app, "planner", "/bureau").await;
    let bureau = planner.get_text("/bureau").await;
    assert!(bureau.contains("近 7 天严重不良反应"), "{bureau}");
    assert!(bureau.contains("wheezing and hives") && bureau.contains("测试接种点"));
}

#[actix_web::test]
async fn admins_choose_a_site_and_clinic_staff_reach_only_their_own() {
    let d = Desk::new(4, 10).await;
    add_user(&d.app, "root", "admin", None);
    add_user(&d.app, "planner", "bureau", None);
    let root = login_as_user(&d.app, "root", "/admin").await;
    let page = root.get_text("/staff").await;
    assert!(
        page.contains(&format!("/staff/sites/{}", d.city.site)),
        "{page}"
    );
    let res = root.get(&format!("/staff/sites/{}", d.city.site)).await;
    assert_eq!(res.status(), 200);
    let planner = login_as_user(&d.app, "planner", "/bureau").await;
    let res = planner.get(&format!("/staff/sites/{}", d.city.site)).await;
    assert_eq!(res.status(), 403);
    let anon = Session::new(&d.app);
    let res = anon.get(&format!("/staff/sites/{}", d.city.site)).await;
    assert_eq!(res.status(), 303);
}

#[actix_web::test]
async fn bad_input_on_the_desk_gets_a_page_in_the_users_language_and_writes_nothing() {
    let d = Desk::new(4, 10).await;
    let code = d.book(d.slot, 1).await;
    d.get("/lang/en?next=/").await;
    let before = d.app.count("audit_log", "1=1");

    let res = d
        .get(&format!(
            "/staff/checkin?site={}&code=%3Cscript%3E",
            d.city.site
        ))
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("lang=\"en\"") && !body.contains("<script>"),
        "{body}"
    );
    assert_eq!(d.get("/staff/checkin?code=x&site=y").await.status(), 400);
    assert_eq!(d.get("/staff/checkin/%00%00").await.status(), 404);
    assert_eq!(d.get("/staff/sites/abc").await.status(), 404);
    assert_eq!(d.get("/staff/sites/12345").await.status(), 403);
    assert_eq!(d.get("/staff/vaccinations/1/reaction").await.status(), 404);

    let res = d
        .post(
            &format!("/staff/checkin/{code}"),
            &[("last4", "12"), ("fever", "maybe")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("Enter the last 4 characters"), "{body}");
    assert!(body.contains("Answer yes or no."));

    // Forged or missing CSRF tokens are refused before anything else.
    let res = d
        .nurse
        .post_raw(
            &format!("/staff/checkin/{code}/dose"),
            &[("lot", "LOT-A"), ("dose_number", "1"), ("time", "09:00")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let huge = "x".repeat(20_000);
    let res = d
        .post(
            &format!("/staff/sites/{}/wastage", d.city.site),
            &[("reason", huge.as_str())],
        )
        .await;
    assert_eq!(res.status(), 413);
    assert_eq!(d.app.count("audit_log", "1=1"), before);
    assert_eq!(d.status_of(&code), "booked");
}

#[actix_web::test]
async fn the_desk_script_is_served_for_the_csp_and_the_page_prints() {
    let app = spawn_app().await;
    let res = app.get("/static/clinic.js").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let js = res.text().await.unwrap();
    assert!(js.contains("getElementById('live')") && js.contains("defaultValue"));
    let css = app.get_text("/static/app.css").await;
    assert!(
        css.contains(".no-print, form"),
        "a print stylesheet for the day's list"
    );
}

#[actix_web::test]
async fn a_nurse_runs_the_desk_in_a_real_browser_on_a_tablet_and_a_desk_computer() {
    let d = Desk::new(6, 10).await;
    let tablet = d.book(d.slot, 1).await;
    let desk = d.book(d.slot, 2).await;
    let names = |i: u32| resident(i)["name"].as_str().unwrap().to_string();
    let input = serde_json::json!({
        "username": "nurse",
        "password": PASSWORD,
        "runs": [
            {"code": tablet, "last4": &id_number(1)[14..], "name_shown": names(1)},
            {"code": desk, "last4": &id_number(2)[14..], "name_shown": names(2)},
        ],
    });
    let stdout = run_in_chromium(&d.app, "clinic.mjs", &[input.to_string()]).await;
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    assert_eq!(d.app.count("vaccinations", "1=1"), 2);
    assert_eq!(d.app.count("stock_movements", "kind = 'given'"), 2);
    assert_eq!(d.app.stock(d.city), (8, 0));
}

#[actix_web::test]
async fn the_demo_city_lets_the_clinic_user_record_a_dose_from_its_stock() {
    let app = spawn_app().await;
    let created = app.demo_city(dosewise::demo::CityOptions::demo());
    // Every lot the ledger names is a lot, and each lot's movements add up to its doses.
    app.assert_none(
        "stock_movements m",
        "m.lot IS NOT NULL AND NOT EXISTS (SELECT 1 FROM lots l \
             WHERE l.lot_number = m.lot AND l.product_id = m.product_id)",
        "no ledger row names an unknown lot",
    );
    app.assert_none(
        "lots l",
        "l.doses <> (SELECT COALESCE(SUM(m.delta), 0) FROM stock_movements m \
             WHERE m.lot = l.lot_number AND m.product_id = l.product_id AND m.kind = 'received')",
        "each lot's doses are what was received of it",
    );
    app.assert_none(
        "vaccinations v",
        "NOT EXISTS (SELECT 1 FROM lots l WHERE l.lot_number = v.lot \
             AND l.product_id = v.product_id)",
        "every dose given names a known lot",
    );
    app.assert_none(
        "vaccinations v",
        "NOT EXISTS (SELECT 1 FROM stock_movements m WHERE m.kind = 'given' \
             AND m.site_id = v.site_id AND m.lot = v.lot AND m.created_at = v.given_at)",
        "every dose given left the ledger",
    );
    app.assert_none(
        "stock_balances b",
        "b.on_hand <> (SELECT COALESCE(SUM(m.delta), 0) FROM stock_movements m \
             WHERE m.site_id = b.site_id AND m.product_id = b.product_id AND m.lot IS NOT NULL)",
        "every dose a site holds belongs to a lot",
    );
    // The README's walk-through: log in as `clinic` with the printed password, open /staff.
    let password = created
        .users
        .iter()
        .find(|(name, _, _)| name == "clinic")
        .map(|(_, _, p)| p.clone())
        .unwrap();
    let nurse = Session::new(&app);
    let res = nurse.login("clinic", &password).await;
    assert_eq!(res.status(), 303);
    let get = |path: String| {
        let nurse = nurse.clone();
        async move { nurse.get_text(&path).await }
    };
    let site: i64 = {
        use diesel::prelude::*;
        use dosewise::db::schema::users;
        users::table
            .filter(users::username.eq("clinic"))
            .select(users::site_id)
            .first::<Option<i64>>(&mut *app.conn())
            .unwrap()
            .unwrap()
    };
    let day = get(format!("/staff/sites/{site}")).await;
    // A resident books a slot there today, as on the resident pages.
    let slot: i64 = {
        use diesel::prelude::*;
        use dosewise::db::schema::slots;
        slots::table
            .filter(slots::site_id.eq(site))
            .filter(slots::starts_at.gt(test_now() + Duration::minutes(30)))
            .filter(slots::starts_at.lt(test_now() + Duration::hours(3)))
            .order(slots::starts_at.asc())
            .select(slots::id)
            .first(&mut *app.conn())
            .unwrap()
    };
    let held = dosewise::models::lot::in_stock_at_site(
        &mut app.conn(),
        dosewise::ids::SiteId(site),
        Some(test_now().date()),
    )
    .unwrap();
    assert!(!held.is_empty(), "the site holds doses of a lot");
    assert!(
        day.contains(&held[0].0.lot_number),
        "the desk lists its lots: {day}"
    );
    let res = app.book_api(slot, 1, &resident(7)).await;
    assert_eq!(res.status(), 201);
    let booked: serde_json::Value = res.json().await.unwrap();
    let code = booked["code"].as_str().unwrap().to_string();
    // Check in by the typed code, screen, and record the dose from the lot the form offers.
    let res = nurse
        .get(&format!("/staff/checkin?code={code}&site={site}"))
        .await;
    assert_eq!(res.status(), 303);
    let checkin = format!("/staff/checkin/{code}");
    let page = get(checkin.clone()).await;
    let token = csrf_in(&page).unwrap();
    let last4 = &id_number(7)[14..];
    let res = nurse
        .post_raw(
            &checkin,
            &[&[("csrf", token.as_str())][..], &cleared_screening(last4)].concat(),
        )
        .await;
    assert_eq!(res.status(), 303);
    let form = get(checkin.clone()).await;
    assert!(form.contains("name=\"lot\""), "the dose form: {form}");
    let select = &form[form.find("name=\"lot\"").unwrap()..];
    let at = select.find("<option value=\"").expect("a lot is offered") + "<option value=\"".len();
    let lot = select[at..at + select[at..].find('"').unwrap()].to_string();
    assert_eq!(lot, held[0].0.lot_number, "the soonest-expiring lot first");
    assert!(!lot.is_empty(), "{form}");
    let (on_hand, _) = {
        let b = dosewise::models::stock::balances_for_site(
            &mut app.conn(),
            dosewise::ids::SiteId(site),
        )
        .unwrap();
        (b[0].on_hand, b[0].promised)
    };
    let token = csrf_in(&form).unwrap();
    let res = nurse
        .post_raw(
            &format!("{checkin}/dose"),
            &[
                ("csrf", token.as_str()),
                ("lot", lot.as_str()),
                ("dose_number", "1"),
                ("time", "09:00"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(
        app.count(
            "vaccinations",
            &format!("lot = '{lot}' AND site_id = {site} AND dose_number = 1")
        ),
        1
    );
    let after =
        dosewise::models::stock::balances_for_site(&mut app.conn(), dosewise::ids::SiteId(site))
            .unwrap();
    assert_eq!(
        after[0].on_hand,
        on_hand - 1,
        "one dose left the site's stock"
    );
    let record = get(checkin).await;
    assert!(record.contains(&lot), "the record names the lot: {record}");
}

/// The booking code and status of resident `who`'s appointment.
fn code_and_status(app: &TestApp, who: u32) -> (String, String) {
    use diesel::prelude::*;
    use dosewise::db::schema::{appointments, residents};
    let hash = app
        .state
        .keys
        .hash_id_number(&dosewise::domain::IdNumber::parse(&id_number(who)).unwrap());
    appointments::table
        .inner_join(residents::table)
        .filter(residents::id_hash.eq(hash))
        .select((appointments::code, appointments::status))
        .first(&mut *app.conn())
        .unwrap()
}

/// A POST's status and page.
async fn answer(res: reqwest::Result<reqwest::Response>) -> (u16, String, String) {
    let res = res.unwrap();
    let status = res.status().as_u16();
    let to = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, to, res.text().await.unwrap())
}

/// What a refusal says when the appointment moved on (zh: cancelled or already used).
const NOT_ACTIVE: &str = "这个预约已取消或已使用";

#[actix_web::test]
async fn a_cancel_racing_check_in_either_cancels_or_checks_in_and_counts_once() {
    let d = Desk::new(40, 100).await;
    let mut checked_in = 0i32;
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..12u32 {
        let who = 300 + round;
        let resident_client = crate::concurrency::book_with_page(&d.app, d.slot, who).await;
        let (code, _) = code_and_status(&d.app, who);
        let page = resident_client.get_text("/appointment/cancel").await;
        let resident_token = csrf_in(&page).unwrap();
        let nurse_token = d.csrf().await;
        let last4 = id_number(who)[14..].to_string();
        // A cancel sent at once wins (check-in reads first); in odd rounds it waits 0-3 ms.
        let delay =
            (round % 2 == 1).then(|| std::time::Duration::from_millis(u64::from(round / 2 % 4)));
        let (cancel, check_in) = futures::join!(
            async {
                if let Some(delay) = delay {
                    actix_web::rt::time::sleep(delay).await;
                }
                resident_client
                    .client
                    .post(format!("{}/appointment/cancel", d.app.address))
                    .form(&[("csrf", resident_token.as_str())])
                    .send()
                    .await
            },
            d.nurse
                .client
                .post(format!("{}/staff/checkin/{code}", d.app.address))
                .form(
                    &[
                        &[("csrf", nurse_token.as_str())][..],
                        &cleared_screening(last4.as_str())
                    ]
                    .concat()
                )
                .send(),
        );
        let (cancel, check_in) = (answer(cancel).await, answer(check_in).await);
        let (_, status) = code_and_status(&d.app, who);
        match (cancel.0, check_in.0) {
            (303, 409) => {
                assert!(
                    check_in.2.contains(NOT_ACTIVE),
                    "round {round}: check-in page"
                );
                assert_eq!(status, "cancelled", "round {round}");
            }
            (409, 303) => {
                assert!(cancel.2.contains(NOT_ACTIVE), "round {round}: cancel page");
                assert_eq!(status, "checked_in", "round {round}");
                checked_in += 1;
            }
            other => panic!("round {round}: cancel and check-in answered {other:?}"),
        }
        seen.insert(status);
        // The seat and the promised dose are held by the checked-in only.
        assert_eq!(
            d.app.slot_counts(d.slot),
            (checked_in, 0, 40),
            "round {round}"
        );
        assert_eq!(d.app.stock(d.city), (100, checked_in), "round {round}");
        assert_eq!(
            d.app.count("screenings", "outcome = 'cleared'"),
            i64::from(checked_in)
        );
        assert_eq!(
            d.app.count("audit_log", "action = 'check-in'"),
            i64::from(checked_in)
        );
    }
    eprintln!("outcomes seen: {seen:?}");
}

#[actix_web::test]
async fn no_shows_racing_a_dose_and_a_late_check_in_count_every_seat_and_dose_once() {
    use chrono::Duration;
    let d = Desk::new(4, 100).await;
    let mut given = 0i32;
    let mut late_checked_in = 0i32;
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..8i64 {
        // A slot of its own today, 10:30 + 30 min per round (Shanghai), booked before it starts.
        d.app.clock.set(test_now());
        let starts = test_now() + Duration::minutes(90 + 30 * round);
        let slot = crate::helpers::add_slot_at(&mut d.app.conn(), d.city, starts, 4, 0);
        let (x, y) = (400 + round as u32, 500 + round as u32);
        let code_x = d.book(slot, x).await;
        let code_y = d.book(slot, y).await;
        assert_eq!(d.check_in(&code_x, x).await.status(), 303);
        // The slot is over: Y has not come (yet), X is about to get the dose.
        let now = starts + Duration::minutes(31);
        d.app.clock.set(now);
        let time = (now + Duration::hours(8)).format("%H:%M").to_string();
        let token = d.csrf().await;
        let url = |p: &str| format!("{}{p}", d.app.address);
        let slot_s = slot.to_string();
        let last4 = id_number(y)[14..].to_string();
        let (no_show, dose, late) = futures::join!(
            d.nurse
                .client
                .post(url(&format!("/staff/sites/{}/no-shows", d.city.site)))
                .form(&[("csrf", token.as_str()), ("slot", slot_s.as_str())])
                .send(),
            d.nurse
                .client
                .post(url(&format!("/staff/checkin/{code_x}/dose")))
                .form(&[
                    ("csrf", token.as_str()),
                    ("lot", "LOT-A"),
                    ("dose_number", "1"),
                    ("time", time.as_str()),
                ])
                .send(),
            d.nurse
                .client
                .post(url(&format!("/staff/checkin/{code_y}")))
                .form(
                    &[
                        &[("csrf", token.as_str())][..],
                        &cleared_screening(last4.as_str())
                    ]
                    .concat()
                )
                .send(),
        );
        let (no_show, dose, late) = (
            answer(no_show).await,
            answer(dose).await,
            answer(late).await,
        );
        // The dose never meets the no-show (it is for a checked-in appointment).
        assert_eq!(dose.0, 303, "round {round}: {}", dose.2);
        given += 1;
        assert_eq!(d.status_of(&code_x), "vaccinated");
        // Y is either marked absent, or checked in late: one of the two, never both.
        assert_eq!(no_show.0, 303, "round {round}: {}", no_show.2);
        let y_status = d.status_of(&code_y);
        match late.0 {
            303 => {
                assert_eq!(y_status, "checked_in", "round {round}");
                assert!(no_show.1.ends_with("n=0"), "round {round}: {}", no_show.1);
                late_checked_in += 1;
            }
            409 => {
                assert!(
                    late.2.contains(NOT_ACTIVE),
                    "round {round}: late check-in page"
                );
                assert_eq!(y_status, "no_show", "round {round}");
                assert!(no_show.1.ends_with("n=1"), "round {round}: {}", no_show.1);
            }
            other => panic!("round {round}: the late check-in answered {other}"),
        }
        seen.insert(y_status);
        // Seats of an ended slot stay counted; the dose left stock through the ledger; only
        // the late arrivals still hold a promised dose.
        assert_eq!(d.app.slot_counts(slot), (2, 0, 4), "round {round}");
        assert_eq!(
            d.app.stock(d.city),
            (100 - given, late_checked_in),
            "round {round}"
        );
        assert_eq!(d.ledger_sum(), i64::from(100 - given));
        assert_eq!(d.app.count("vaccinations", "1=1"), i64::from(given));
    }
    eprintln!("late arrivals seen: {seen:?}");
}
