//! The clinic fixes of issue 14: a walk-in without an e-mail address, a late record's time, the
//! resident's record at the desk and wrong last-4 answers slowed per code. (A deferral staying
//! on the day list with its reason is in `clinic.rs`.)

use chrono::Duration;
use diesel::prelude::*;

use dosewise::db::schema::{appointments, residents, screenings};

use crate::clinic::{during_the_slot, location, Desk};
use crate::helpers::{
    add_user, cleared_screening, id_number, login_as_user, resident, resident_form, test_now,
};

fn walk_in_form(i: u32, slot: i64, email: &str) -> Vec<(String, String)> {
    resident_form(i)
        .into_iter()
        .map(|(k, v)| {
            if k == "email" {
                (k, email.to_string())
            } else {
                (k, v)
            }
        })
        .chain([("slot".to_string(), slot.to_string())])
        .collect()
}

#[actix_web::test]
async fn a_walk_in_may_leave_the_email_blank_and_is_then_never_mailed() {
    let d = Desk::new(3, 10).await;
    let tomorrow = d.app.add_slot(d.city, 1, 4, 0);
    d.app.clock.set(during_the_slot());
    let path = format!("/staff/sites/{}/walk-in", d.city.site);
    let page = d.text(&path).await;
    let email = &page[page.find("id=\"email\"").unwrap()..];
    let email = &email[..email.find('>').unwrap()];
    assert!(
        !email.contains("required"),
        "optional on the walk-in form: {email}"
    );
    assert!(page.contains("选填。不填则不发送任何邮件"), "{page}");
    // The resident's own booking form still requires it.
    let book = d.text(&format!("/slots/{tomorrow}/book")).await;
    let own = &book[book.find("id=\"email\"").unwrap()..];
    assert!(own[..own.find('>').unwrap()].contains("required"));

    // Something typed must still be an address.
    let bad = walk_in_form(7, d.slot, "not-an-address");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = d.post(&path, &bad).await;
    assert_eq!(res.status(), 422);
    assert_eq!(d.app.count("residents", "1=1"), 0);

    let form = walk_in_form(7, d.slot, "  ");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = d.post(&path, &form).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let to = location(&res);
    let code = to["/staff/checkin/".len()..to.find('?').unwrap()].to_string();
    let stored: String = residents::table
        .select(residents::email)
        .first(&mut *d.app.conn())
        .unwrap();
    assert_eq!(stored, "");
    assert_eq!(d.check_in(&code, 7).await.status(), 303);
    assert_eq!(d.give(&code, "LOT-A", "1", "10:05").await.status(), 303);
    // The scheduler would queue the second-dose window now; with no address, nothing is queued.
    let tz = d.app.state.settings.time_zone;
    dosewise::mail::worker::schedule(d.app.database(), during_the_slot(), 24, tz).unwrap();
    assert_eq!(
        d.app.count("outbox", "1=1"),
        0,
        "nothing queued for no address"
    );

    // A walk-in who gives one is mailed as before.
    let form = walk_in_form(8, d.slot, resident(8)["email"].as_str().unwrap());
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = d.post(&path, &form).await;
    assert_eq!(res.status(), 303);
    let code = location(&res)["/staff/checkin/".len()..]
        .split('?')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(d.check_in(&code, 8).await.status(), 303);
    assert_eq!(d.give(&code, "LOT-A", "1", "10:05").await.status(), 303);
    dosewise::mail::worker::schedule(d.app.database(), during_the_slot(), 24, tz).unwrap();
    assert_eq!(d.app.count("outbox", "recipient = ''"), 0);
    assert!(
        d.app.count("outbox", "1=1") >= 1,
        "the second walk-in is told"
    );
}

#[actix_web::test]
async fn a_late_check_in_keeps_the_time_typed_today_and_refuses_the_future() {
    let d = Desk::new(3, 10).await;
    let code = d.book(d.slot, 1).await;
    d.app.clock.set(during_the_slot()); // 10:05
    let page = d.text(&format!("/staff/checkin/{code}")).await;
    assert!(
        page.contains("name=\"time\" type=\"time\" class=\"short\" value=\"10:05\""),
        "the check-in form has a time, now by default: {page}"
    );
    let last4 = id_number(1)[14..].to_string();
    let post = |time: &'static str| {
        let (d, code, last4) = (&d, code.clone(), last4.clone());
        async move {
            d.post(
                &format!("/staff/checkin/{code}"),
                &[&cleared_screening(last4.as_str())[..], &[("time", time)]].concat(),
            )
            .await
        }
    };
    let res = post("10:20").await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("时间不能晚于现在"));
    let res = post("25:00").await;
    assert_eq!(res.status(), 422);
    assert_eq!(d.status_of(&code), "booked");
    assert_eq!(d.app.count("screenings", "1=1"), 0);

    let res = post("09:50").await;
    assert_eq!(res.status(), 303);
    // 09:50 in Shanghai is 01:50 UTC.
    let seen = test_now() + Duration::minutes(50);
    let (status, at): (String, Option<chrono::NaiveDateTime>) = appointments::table
        .filter(appointments::code.eq(&code))
        .select((appointments::status, appointments::checked_in_at))
        .first(&mut *d.app.conn())
        .unwrap();
    assert_eq!((status.as_str(), at), ("checked_in", Some(seen)));
    let screened: chrono::NaiveDateTime = screenings::table
        .select(screenings::created_at)
        .first(&mut *d.app.conn())
        .unwrap();
    assert_eq!(screened, seen);
    // The dose's time was already a field; it is held to today and the past as well.
    let res = d.give(&code, "LOT-A", "1", "10:06").await;
    assert_eq!(res.status(), 409);
    assert_eq!(d.give(&code, "LOT-A", "1", "09:55").await.status(), 303);
}

#[actix_web::test]
async fn the_desk_shows_a_residents_record_with_doses_lots_and_reactions_and_the_id_masked() {
    let d = Desk::new(3, 10).await;
    let code = d.book(d.slot, 1).await;
    d.app.clock.set(during_the_slot());
    let path = format!("/staff/checkin/{code}/record");
    let page = d.text(&path).await;
    assert!(page.contains("尚无接种记录"), "{page}");
    let checkin = d.text(&format!("/staff/checkin/{code}")).await;
    assert!(checkin.contains("/record\""), "{checkin}");
    assert_eq!(d.check_in(&code, 1).await.status(), 303);
    assert_eq!(d.give(&code, "LOT-A", "1", "10:02").await.status(), 303);
    let vaccination: i64 = {
        use dosewise::db::schema::vaccinations;
        vaccinations::table
            .select(vaccinations::id)
            .first(&mut *d.app.conn())
            .unwrap()
    };
    let res = d
        .post(
            &format!("/staff/vaccinations/{vaccination}/reaction"),
            &[
                ("severity", "mild"),
                ("symptoms", "Sore arm"),
                ("action", "Ice pack"),
                ("time", "10:04"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = d.text(&path).await;
    let who = resident(1);
    assert!(page.contains(who["name"].as_str().unwrap()), "{page}");
    assert!(page.contains("LOT-A") && page.contains("Sore arm") && page.contains("Ice pack"));
    assert!(page.contains("10:02"), "{page}");
    let id = id_number(1);
    assert!(
        !page.contains(&id) && !page.contains(&id[..14]),
        "the ID number is masked"
    );
    assert!(page.contains(&id[14..]), "its last four are shown");

    // Staff of another site may not read it.
    let other = crate::helpers::make_city(&mut d.app.conn(), "T002", 21, 56);
    add_user(&d.app, "elsewhere", "clinic", Some(other.site));
    let elsewhere = login_as_user(&d.app, "elsewhere", "/staff").await;
    assert_eq!(elsewhere.get(&path).await.status(), 403);
    assert_eq!(d.get("/staff/checkin/NOPE-NOPE/record").await.status(), 404);
}

#[actix_web::test]
async fn wrong_last_four_answers_at_the_desk_are_slowed_per_code() {
    let d = Desk::new(3, 10).await;
    let code = d.book(d.slot, 1).await;
    let other = d.book(d.slot, 2).await;
    let right = id_number(1)[14..].to_string();
    let wrong4 = format!(
        "{}{}",
        if right.starts_with('9') { '1' } else { '9' },
        &right[1..]
    );
    let wrong = |code: String| {
        let (d, wrong4) = (&d, wrong4.clone());
        async move {
            d.post(
                &format!("/staff/checkin/{code}"),
                &cleared_screening(wrong4.as_str()),
            )
            .await
        }
    };
    for _ in 0..3 {
        let res = wrong(code.clone()).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("后 4 位不符"));
    }
    // The fourth try on that code waits, even with the right answer.
    let res = d.check_in(&code, 1).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.text().await.unwrap().contains("次数过多"));
    assert_eq!(d.status_of(&code), "booked");
    // Another code is not slowed.
    assert_eq!(d.check_in(&other, 2).await.status(), 303);
    assert_eq!(d.status_of(&other), "checked_in");
}
