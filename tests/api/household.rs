//! Households (issue 13): members added under the same phone number and e-mail address, up to
//! `DOSEWISE_HOUSEHOLD_MAX`; several members booked together into adjacent seats, all or none;
//! the per-phone cap; the household found by any member's code and ID number; and no full ID
//! number on the page. Each test checks the page and the database.

use chrono::Duration;
use dosewise::models::appointment;

use crate::helpers::{
    add_slot_at, give_dose, id_number, resident_form, run_in_chromium, spawn_app,
    spawn_app_with_settings, test_now, City, Session, TestApp,
};

/// A slot `days` ahead at 10:00 Shanghai time plus `minutes`, 30 minutes long.
fn slot_at(app: &TestApp, city: City, days: i64, minutes: i64, seats: i32) -> i64 {
    let start = test_now() + Duration::days(days) + Duration::hours(1) + Duration::minutes(minutes);
    add_slot_at(&mut app.conn(), city, start, seats, 0)
}

/// Resident `i` books dose 1 of `slot` through the form in a browser of their own, which then
/// holds the appointment's grant (and so reaches `/household`).
async fn booked_browser(app: &TestApp, slot: i64) -> Session {
    let s = Session::new(app);
    let path = format!("/slots/{slot}/book");
    let token = s.csrf_from(&path).await;
    let mut form = resident_form(1);
    form.push(("csrf".into(), token));
    form.push(("dose_number".into(), "1".into()));
    let res = s.post_raw(&path, &form).await;
    assert_eq!(res.status(), 303, "the first booking");
    s
}

/// Resident 1's browser after booking a slot two days ahead (4 seats) in a city with 10 doses:
/// the city and that slot.
async fn booked_home(app: &TestApp) -> (City, i64, Session) {
    let city = app.city();
    let mine = slot_at(app, city, 2, 0, 4);
    app.add_stock(city, 10);
    let s = booked_browser(app, mine).await;
    (city, mine, s)
}

/// Add residents `members` to the browser's household under the names the tests give them
/// (2 is 测试乙, 3 测试丙, 4 测试丁); asserts each is added.
async fn add_members(s: &Session, members: std::ops::RangeInclusive<u32>) {
    for i in members {
        let name = ["测试乙", "测试丙", "测试丁"][i as usize - 2];
        assert_eq!(add_member(s, name, i).await.status(), 303, "member {i}");
    }
}

/// Add resident `i` (name `name`) to the household of the browser's resident.
async fn add_member(s: &Session, name: &str, i: u32) -> reqwest::Response {
    let id = id_number(i);
    s.post_form_from(
        "/household",
        "/household/members",
        &[("name", name), ("id_number", id.as_str())],
    )
    .await
}

/// The residents' ids the household page offers to book, in its order.
async fn bookable_members(s: &Session) -> Vec<i64> {
    let page = s.get_text("/household").await;
    page.split("name=\"member\" value=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

/// Book `members` together from `slot`.
async fn book_together(s: &Session, slot: i64, members: &[i64]) -> reqwest::Response {
    let ids: Vec<String> = members.iter().map(ToString::to_string).collect();
    let slot = slot.to_string();
    let mut form: Vec<(&str, &str)> = ids.iter().map(|m| ("member", m.as_str())).collect();
    form.push(("slot_id", &slot));
    s.post_form_from("/household", "/household/book", &form)
        .await
}

/// The resident with ID number `i`'s id.
fn resident_id(app: &TestApp, i: u32) -> i64 {
    let id = dosewise::domain::IdNumber::parse(&id_number(i)).unwrap();
    let hash = app.state.keys.hash_id_number(&id);
    dosewise::models::resident::find_by_hash(&mut app.conn(), &hash)
        .unwrap()
        .unwrap()
        .id
}

/// What a refused group booking must leave unchanged: appointments, outbox and booking audit
/// rows, the site's stock, and the slots' counters.
#[derive(Debug, PartialEq, Eq)]
struct Footprint {
    appointments: i64,
    outbox: i64,
    audit: i64,
    stock: (i32, i32),
    slots: Vec<(i32, i32, i32)>,
}

fn footprint(app: &TestApp, city: City, slots: &[i64]) -> Footprint {
    Footprint {
        appointments: app.count("appointments", "1 = 1"),
        outbox: app.count("outbox", "1 = 1"),
        audit: app.count(
            "audit_log",
            "action LIKE 'appointment.%' OR action = 'household.book'",
        ),
        stock: app.stock(city),
        slots: slots.iter().map(|s| app.slot_counts(*s)).collect(),
    }
}

#[actix_web::test]
async fn a_household_books_two_members_together_into_one_slot() {
    let app = spawn_app().await;
    let city = app.city();
    let mine = slot_at(&app, city, 2, 0, 4);
    let together = slot_at(&app, city, 3, 0, 3);
    app.add_stock(city, 10);
    let s = booked_browser(&app, mine).await;
    assert!(s.get_text("/appointment").await.contains("/household"));

    for (name, i) in [("测试乙", 2), ("测试丙", 3)] {
        let res = add_member(&s, name, i).await;
        assert_eq!(res.status(), 303, "adding {name}");
        assert_eq!(res.headers()["location"], "/household?done=added");
    }
    let page = s.get_text("/household").await;
    assert!(
        page.contains("测试乙") && page.contains("测试丙") && page.contains("3 / 6"),
        "{page}"
    );
    // Members share the first resident's phone number and e-mail address.
    assert_eq!(
        app.count(
            "residents",
            "phone = '13900000001' AND email = 'r1@example.com'"
        ),
        3
    );
    assert_eq!(app.count("households", "members = 3"), 1);
    assert_eq!(app.count("household_members", "1 = 1"), 3);
    assert_eq!(app.count("audit_log", "action = 'household.create'"), 1);
    assert_eq!(app.count("audit_log", "action = 'household.add_member'"), 2);

    // The first resident holds dose 1 already: the page offers the two new members.
    let mut members = bookable_members(&s).await;
    members.sort_unstable();
    let mut expected = vec![resident_id(&app, 2), resident_id(&app, 3)];
    expected.sort_unstable();
    assert_eq!(members, expected);
    let res = book_together(&s, together, &members).await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/household?done=booked"), "{to}");
    let page = s.get_text(&to).await;
    assert!(page.contains("预约成功"), "{page}");

    assert_eq!(
        app.slot_counts(together),
        (2, 0, 3),
        "two seats of the slot"
    );
    assert_eq!(app.stock(city), (10, 3), "one promised dose per booking");
    for i in [2, 3] {
        let id = resident_id(&app, i);
        let appts = appointment::list_for_residents(&mut app.conn(), &[id]).unwrap();
        assert_eq!(appts.len(), 1);
        assert_eq!((appts[0].slot_id, appts[0].dose_number), (together, 1));
        assert_eq!(appts[0].status, "booked");
    }
    // A confirmation per member, to the household's address; the audit names the group.
    assert_eq!(
        app.count(
            "outbox",
            &format!("kind = 'booked' AND slot_id = {together} AND recipient = 'r1@example.com'")
        ),
        2
    );
    assert_eq!(app.count("audit_log", "action = 'household.book'"), 1);
    assert_eq!(app.count("audit_log", "action = 'appointment.book'"), 3);
    app.deliver_mail().await;
    assert_eq!(
        app.sent_mail().len(),
        3,
        "the first booking's mail and one per member"
    );
}

#[actix_web::test]
async fn a_group_that_does_not_fit_one_slot_takes_the_next_slot_of_the_day() {
    let app = spawn_app().await;
    let (city, _, s) = booked_home(&app).await;
    let first = slot_at(&app, city, 3, 0, 1);
    let next = slot_at(&app, city, 3, 30, 3);
    let later = slot_at(&app, city, 3, 60, 3);
    add_members(&s, 2..=4).await;
    let members = bookable_members(&s).await;
    assert_eq!(book_together(&s, first, &members).await.status(), 303);
    assert_eq!(app.slot_counts(first), (1, 0, 1));
    assert_eq!(
        app.slot_counts(next),
        (2, 0, 3),
        "the rest in the slot right after"
    );
    assert_eq!(app.slot_counts(later), (0, 0, 3), "no gap, no third slot");
    assert_eq!(app.stock(city), (10, 4));
}

#[actix_web::test]
async fn a_group_booking_writes_nothing_when_one_member_is_not_eligible_or_seats_are_short() {
    let app = spawn_app().await;
    let (city, _, s) = booked_home(&app).await;
    let roomy = slot_at(&app, city, 3, 0, 5);
    let small = slot_at(&app, city, 4, 0, 1);
    add_members(&s, 2..=3).await;
    // 测试丙 had dose 1 five days ago: dose 2 opens 21 days after it.
    give_dose(&app, city, &id_number(3), 1, 5);
    let members = bookable_members(&s).await;
    assert_eq!(members.len(), 2);
    let before = footprint(&app, city, &[roomy, small]);

    let res = book_together(&s, roomy, &members).await;
    assert_eq!(res.status(), 409);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("测试丙不能进行此预约") && page.contains("所有人都没有预约"),
        "names who and says nothing was booked: {page}"
    );
    assert!(page.contains("checked"), "the choice is kept");
    assert_eq!(
        footprint(&app, city, &[roomy, small]),
        before,
        "nothing written"
    );

    // Seats short: one seat, and no later slot that day.
    assert_eq!(add_member(&s, "测试丁", 4).await.status(), 303);
    let (fresh, other) = (resident_id(&app, 2), resident_id(&app, 4));
    let before = footprint(&app, city, &[roomy, small]);
    let res = book_together(&s, small, &[fresh, other]).await;
    assert_eq!(res.status(), 409);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("容纳不下所有人") && page.contains("没有进行任何预约"),
        "{page}"
    );
    assert_eq!(
        footprint(&app, city, &[roomy, small]),
        before,
        "nothing written"
    );

    // English pages say the same.
    let res = s
        .client
        .post(s.url("/household/book"))
        .header("accept-language", "en")
        .form(&[
            (
                "csrf",
                crate::helpers::csrf_in(&s.get_text("/household").await)
                    .unwrap()
                    .as_str(),
            ),
            ("member", &fresh.to_string()),
            ("member", &other.to_string()),
            ("slot_id", &small.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let page = res.text().await.unwrap();
    assert!(page.contains("Not everyone fits"), "{page}");
}

#[actix_web::test]
async fn two_households_racing_for_the_last_seats_get_all_or_nothing() {
    let app = spawn_app().await;
    let city = app.city();
    let own = slot_at(&app, city, 2, 0, 10);
    let contested = slot_at(&app, city, 4, 0, 3);
    app.add_stock(city, 20);
    // Two households of three: each books its two new members into three seats.
    let mut groups = Vec::new();
    for (first, members) in [(1, [2, 3]), (5, [6, 7])] {
        let s = Session::new(&app);
        let path = format!("/slots/{own}/book");
        let token = s.csrf_from(&path).await;
        let mut form = resident_form(first);
        form.push(("csrf".into(), token));
        form.push(("dose_number".into(), "1".into()));
        assert_eq!(s.post_raw(&path, &form).await.status(), 303);
        for i in members {
            assert_eq!(add_member(&s, "测试戊", i).await.status(), 303);
        }
        groups.push((s, members.map(|i| resident_id(&app, i))));
    }
    let (a, b) = (&groups[0], &groups[1]);
    let (ra, rb) = futures::join!(
        book_together(&a.0, contested, &a.1),
        book_together(&b.0, contested, &b.1)
    );
    let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 409], "one group booked, the other refused");
    assert_eq!(
        app.slot_counts(contested),
        (2, 0, 3),
        "one group's two seats, no more"
    );
    assert_eq!(
        app.count("appointments", &format!("slot_id = {contested}")),
        2
    );
    assert_eq!(app.stock(city), (20, 4));
}

#[actix_web::test]
async fn a_household_holds_at_most_the_set_number_of_members() {
    let app = spawn_app_with_settings(|s| s.household_max = 3).await;
    let (_, _, s) = booked_home(&app).await;
    add_members(&s, 2..=3).await;
    assert!(s
        .get_text("/household")
        .await
        .contains("本家庭的成员人数已达上限"));
    let res = add_member(&s, "测试丁", 4).await;
    assert_eq!(res.status(), 409);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("本家庭的成员人数已达上限"));
    assert_eq!(
        app.count("residents", "1 = 1"),
        3,
        "the fourth was not stored"
    );
    assert_eq!(app.count("households", "members = 3"), 1);
    // Adding someone twice is refused too.
    let res = add_member(&s, "测试乙", 2).await;
    assert_eq!(res.status(), 409);
}

#[actix_web::test]
async fn someone_registered_with_other_contact_details_is_not_added() {
    let app = spawn_app().await;
    let city = app.city();
    let mine = slot_at(&app, city, 2, 0, 4);
    app.add_stock(city, 10);
    // Resident 9 booked on their own, with their own phone number and e-mail address.
    crate::helpers::book_code(&app, mine, 9).await;
    let s = booked_browser(&app, mine).await;
    let res = add_member(&s, "测试丙", 9).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("无法在此添加此人"));
    assert_eq!(app.count("household_members", "1 = 1"), 0, "nothing joined");
    assert_eq!(
        app.count("households", "1 = 1"),
        0,
        "no household made for nothing"
    );
    assert_eq!(
        app.count(
            "residents",
            "phone = '13900000009' AND email = 'r9@example.com'"
        ),
        1,
        "their contact details are untouched"
    );
    let page = s.get_text("/household").await;
    assert_eq!(page.matches("data-testid=\"member\"").count(), 1, "{page}");
}

#[actix_web::test]
async fn the_per_phone_cap_holds_for_a_household_booking() {
    let app = spawn_app_with_settings(|s| s.contact_day_cap = 2).await;
    let city = app.city();
    let mine = slot_at(&app, city, 3, 0, 4);
    let same_day = slot_at(&app, city, 3, 30, 4);
    app.add_stock(city, 10);
    let s = booked_browser(&app, mine).await;
    add_members(&s, 2..=3).await;
    let members = bookable_members(&s).await;
    let before = footprint(&app, city, &[same_day]);
    // One booking on the day already; two more would be three on one phone.
    let res = book_together(&s, same_day, &members).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("所有人都没有预约"));
    assert_eq!(
        footprint(&app, city, &[same_day]),
        before,
        "nothing written"
    );
    // One more is within the cap.
    assert_eq!(
        book_together(&s, same_day, &members[..1]).await.status(),
        303
    );
    assert_eq!(app.slot_counts(same_day), (1, 0, 4));
}

#[actix_web::test]
async fn any_member_finds_the_household_by_code_and_id_number_with_the_lookup_limit() {
    let app = spawn_app().await;
    let (city, _, s) = booked_home(&app).await;
    let together = slot_at(&app, city, 3, 0, 4);
    add_members(&s, 2..=2).await;
    let member = resident_id(&app, 2);
    assert_eq!(book_together(&s, together, &[member]).await.status(), 303);
    let code = appointment::list_for_residents(&mut app.conn(), &[member]).unwrap()[0]
        .code
        .clone();

    // Another browser, no cookies: sent to the look-up.
    let other = Session::new(&app);
    let res = other.get("/household").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/household/find");
    let id = id_number(2);
    let res = other
        .post_form_from(
            "/household/find",
            "/household/find",
            &[("code", code.as_str()), ("id_number", id.as_str())],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/household");
    let page = other.get_text("/household").await;
    assert_eq!(
        page.matches("data-testid=\"member\"").count(),
        2,
        "both members: {page}"
    );
    assert!(page.contains(&id_number(1)[14..]) && page.contains(&id_number(2)[14..]));

    // Wrong ID numbers are counted per code, with /find's count.
    let stranger = Session::new(&app);
    let wrong = id_number(9);
    for _ in 0..3 {
        let res = stranger
            .post_form_from(
                "/household/find",
                "/household/find",
                &[("code", code.as_str()), ("id_number", wrong.as_str())],
            )
            .await;
        assert_eq!(res.status(), 404);
    }
    let res = stranger
        .post_form_from(
            "/find",
            "/find",
            &[("code", code.as_str()), ("id_number", id.as_str())],
        )
        .await;
    assert_eq!(res.status(), 429, "the code waits, whichever page asks");
    assert!(res.headers().contains_key("retry-after"));
}

#[actix_web::test]
async fn the_household_page_shows_no_full_id_number() {
    let app = spawn_app().await;
    let (city, _, s) = booked_home(&app).await;
    let together = slot_at(&app, city, 3, 0, 4);
    add_members(&s, 2..=2).await;
    let res = add_member(&s, "测试丙", 2).await;
    assert_eq!(res.status(), 409, "the same person twice");
    let refused = res.text().await.unwrap();
    assert_eq!(
        book_together(&s, together, &[resident_id(&app, 2)])
            .await
            .status(),
        303
    );
    let page = s.get_text("/household").await;
    for i in [1, 2] {
        let full = id_number(i);
        assert!(!page.contains(&full), "full ID number {i} on the page");
        assert!(
            page.contains(&full[14..]),
            "the masked form shows the last four"
        );
        assert_eq!(
            app.count(
                "audit_log",
                &format!(
                    "actor LIKE '%{full}%' OR subject LIKE '%{full}%' OR detail LIKE '%{full}%'"
                )
            ),
            0
        );
    }
    // The name typed is kept after the refusal (the ID number only in that answer).
    assert!(refused.contains("测试丙"));
}

#[actix_web::test]
async fn a_resident_books_adds_members_and_books_them_together_in_chromium() {
    let app = spawn_app().await;
    let city = app.city();
    let mine = slot_at(&app, city, 2, 0, 4);
    slot_at(&app, city, 3, 0, 1);
    slot_at(&app, city, 3, 30, 4);
    app.add_stock(city, 10);
    let day = (test_now() + Duration::days(3)).date();
    let out = run_in_chromium(
        &app,
        "household.mjs",
        &[
            mine.to_string(),
            id_number(1),
            id_number(2),
            id_number(3),
            city.site.to_string(),
            day.format("%Y-%m-%d").to_string(),
        ],
    )
    .await;
    assert!(out.contains("4 passed, 0 failed"), "{out}");
    assert_eq!(app.count("household_members", "1 = 1"), 3);
    assert_eq!(
        app.count("appointments", "status = 'booked' AND dose_number = 1"),
        3,
        "the resident's own booking and the two booked together"
    );
    assert_eq!(app.count("audit_log", "action = 'household.book'"), 1);
}

/// The household page's article for resident `i` (found by the last four of their ID number).
fn member_article(page: &str, i: u32) -> &str {
    let last4 = &id_number(i)[14..];
    page.split("data-testid=\"member\"")
        .skip(1)
        .map(|a| a.split("</article>").next().unwrap_or(a))
        .find(|a| a.split("</h3>").next().is_some_and(|h| h.contains(last4)))
        .unwrap_or_else(|| panic!("no article for resident {i}: {page}"))
}

#[actix_web::test]
async fn each_member_s_row_shows_their_own_doses_and_appointments_named_in_the_page_s_language() {
    let app = spawn_app().await;
    let (city, _, s) = booked_home(&app).await;
    add_members(&s, 2..=3).await;
    // Resident 3 had dose 1 five days ago at the city's site; resident 1 holds a booking there.
    give_dose(&app, city, &id_number(3), 1, 5);
    let (zh_site, zh_product) =
        app.name_in_english(city, ["Riverside Clinic", "10 River Road", "Testvax"]);
    let zh_dose = format!("第 1 剂：{zh_product}，");

    let page = s.get_text("/household").await;
    let booked = member_article(&page, 1);
    assert!(
        booked.contains(&zh_site) && !booked.contains(&zh_dose),
        "{booked}"
    );
    let dosed = member_article(&page, 3);
    assert!(
        dosed.contains(&zh_dose) && dosed.contains(&zh_site),
        "{dosed}"
    );
    assert!(!dosed.contains("Testvax"), "{dosed}");
    let fresh = member_article(&page, 2);
    assert!(
        !fresh.contains("第 1 剂：") && !fresh.contains(&zh_site),
        "{fresh}"
    );

    assert_eq!(s.get("/lang/en").await.status(), 303);
    let page = s.get_text("/household").await;
    let dosed = member_article(&page, 3);
    assert!(
        dosed.contains("Dose 1: Testvax,") && dosed.contains("Riverside Clinic"),
        "{dosed}"
    );
    assert!(
        !dosed.contains(&zh_product) && !dosed.contains(&zh_site),
        "{dosed}"
    );
    let booked = member_article(&page, 1);
    assert!(
        booked.contains("Riverside Clinic") && !booked.contains("Dose 1: Testvax"),
        "{booked}"
    );
}

/// The household page lists a day's slots as the site's own page does, with the same reasons
/// why one takes no booking: a slot being drawn, one not open yet and one the site closed are
/// offered to nobody, and the seats left are the ones there is a dose to promise for. Each
/// label is the site page's, word for word.
#[actix_web::test]
async fn the_household_page_offers_a_day_s_slots_as_the_site_page_does() {
    use dosewise::i18n::Lang;
    let app = spawn_app().await;
    let city = app.city();
    let mine = slot_at(&app, city, 2, 0, 4);
    // Two doses: the first booking promises one, so one is left to offer.
    app.add_stock(city, 2);
    let s = booked_browser(&app, mine).await;
    assert_eq!(add_member(&s, "测试乙", 2).await.status(), 303);
    let drawn = slot_at(&app, city, 2, 60, 3);
    let later = slot_at(&app, city, 2, 120, 3);
    let shut = slot_at(&app, city, 2, 180, 0);
    let free = slot_at(&app, city, 2, 240, 3);
    {
        let mut c = app.conn();
        crate::helpers::open_in_draw(
            &mut c,
            city,
            &[drawn],
            test_now() - Duration::minutes(10),
            60,
        );
        crate::helpers::open_at(&mut c, &[later], test_now() + Duration::days(1));
    }
    let date = (test_now() + Duration::days(2)).date().to_string();
    let query = format!("?site={}&date={date}", city.site);
    let household = s.get_text_in(&format!("/household{query}"), "en").await;
    let site_page = s
        .get_text_in(&format!("/sites/{}{query}", city.site), "en")
        .await;
    // The household's radio button of `slot`: whether it is disabled, and its label.
    let choice = |slot: i64| {
        let at = household
            .find(&format!("name=\"slot_id\" value=\"{slot}\""))
            .unwrap_or_else(|| panic!("slot {slot} listed: {household}"));
        let line = household[at..].split("</label>").next().unwrap();
        let disabled = line.split('>').next().unwrap().contains("disabled");
        let label = line.rsplit(" · ").next().unwrap().trim().to_string();
        (disabled, label)
    };
    let seats = Lang::En.tf("site.seats_left", &[("n", "1")]);
    let opens = Lang::En.t("draw.status.open").to_string();
    let closed = Lang::En.t("site.closed").to_string();
    assert_eq!(choice(drawn), (true, opens), "being drawn");
    let (disabled, label) = choice(later);
    assert!(
        disabled && label.starts_with("Opens"),
        "not open yet: {label}"
    );
    assert_eq!(choice(shut), (true, closed), "closed by the site");
    assert_eq!(
        choice(free),
        (false, seats.clone()),
        "one dose left to promise"
    );
    for label in [&seats, &label] {
        assert!(
            site_page.contains(label.as_str()),
            "the site page says {label} too"
        );
    }
}
