//! `POST /clinic/sync`: actions a desk queued offline, each with an idempotency key, applied by
//! the online forms' rules; a repeated key records nothing; two desks recording one person give
//! one vaccination and one refusal; an action refused after a cancellation.

use serde_json::{json, Value};

use crate::clinic::{during_the_slot, Desk};
use crate::helpers::{add_user, id_number, login_as_user, run_in_chromium, Session, PASSWORD};

/// A check-in with no screening concerns, seen at `time`, as the desk page's form queues it.
fn check_in(key: &str, code: &str, i: u32, time: &str) -> Value {
    json!({"key": key, "kind": "check_in", "code": code, "fields": {
        "last4": &id_number(i)[14..], "fever": "no", "allergy": "no", "pregnant": "no",
        "recent_vaccine": "no", "decision": "", "reason": "", "time": time}})
}

fn dose(key: &str, code: &str, time: &str) -> Value {
    json!({"key": key, "kind": "dose", "code": code,
        "fields": {"lot": "LOT-A", "dose_number": "1", "time": time}})
}

/// Send a batch for the desk's site as `who` (with the CSRF token of their desk page).
async fn sync(d: &Desk, who: &Session, actions: Vec<Value>) -> reqwest::Response {
    let token = who.csrf_from("/staff").await;
    who.client
        .post(who.url("/clinic/sync"))
        .header("x-csrf-token", token)
        .json(&json!({"site": d.city.site.to_string(), "actions": actions}))
        .send()
        .await
        .unwrap()
}

async fn results(res: reqwest::Response) -> Vec<Value> {
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["results"].as_array().unwrap().clone()
}

fn outcomes(r: &[Value]) -> Vec<(String, String)> {
    r.iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap().to_string(),
                a["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn a_replayed_batch_is_answered_again_and_records_once() {
    let d = Desk::new(3, 10).await;
    let code = d.book(d.slot, 1).await;
    d.app.clock.set(during_the_slot());
    let lot = format!("{}:LOT-A", d.city.product);
    let batch = vec![
        check_in("k-1", &code, 1, "10:01"),
        dose("k-2", &code, "10:03"),
        json!({"key": "k-3", "kind": "wastage", "fields": {
            "lot": lot, "doses": "1", "kind": "broken", "reason": "Dropped"}}),
    ];
    let first = results(sync(&d, &d.nurse, batch.clone()).await).await;
    let accepted = vec![("accepted".to_string(), String::new()); 3];
    assert_eq!(outcomes(&first), accepted, "{first:?}");
    assert_eq!(first[1]["key"], "k-2");
    assert_eq!(d.status_of(&code), "vaccinated");
    assert_eq!(d.app.stock(d.city), (8, 0), "one dose given, one wasted");

    // The network dropped before the answer arrived: the desk sends the batch again.
    let again = results(sync(&d, &d.nurse, batch).await).await;
    assert_eq!(outcomes(&again), accepted);
    assert_eq!(d.app.count("screenings", "1=1"), 1);
    assert_eq!(d.app.count("vaccinations", "1=1"), 1);
    assert_eq!(d.app.count("stock_movements", "kind = 'wasted'"), 1);
    assert_eq!(d.app.stock(d.city), (8, 0));
    assert_eq!(d.app.count("sync_actions", "outcome = 'accepted'"), 3);
    assert_eq!(
        d.app.count(
            "audit_log",
            "action IN ('check-in', 'record-dose', 'wastage')"
        ),
        3
    );

    // A refusal is remembered too: the same key is refused again without a second look.
    let late = vec![dose("k-4", &code, "10:04")];
    let r = results(sync(&d, &d.nurse, late.clone()).await).await;
    assert_eq!(
        outcomes(&r),
        vec![("refused".into(), "clinic.err.already_vaccinated".into())]
    );
    assert!(
        r[0]["message"].as_str().unwrap().contains("登记过了"),
        "{r:?}"
    );
    let r = results(sync(&d, &d.nurse, late).await).await;
    assert_eq!(r[0]["reason"], "clinic.err.already_vaccinated");
    assert_eq!(d.app.count("sync_actions", "1=1"), 4);
}

#[actix_web::test]
async fn two_desks_recording_the_same_person_offline_give_one_vaccination_and_one_refusal() {
    let d = Desk::new(3, 10).await;
    add_user(&d.app, "nurse2", "clinic", Some(d.city.site));
    let second = login_as_user(&d.app, "nurse2", "/staff").await;
    let codes = [
        d.book(d.slot, 1).await,
        d.book(d.slot, 2).await,
        d.book(d.slot, 3).await,
    ];
    d.app.clock.set(during_the_slot());
    for round in 0..3 {
        let code = codes[round as usize].clone();
        let i = 1 + round;
        let a = vec![
            check_in(&format!("a-{round}-1"), &code, i, "10:01"),
            dose(&format!("a-{round}-2"), &code, "10:02"),
        ];
        let b = vec![
            check_in(&format!("b-{round}-1"), &code, i, "10:02"),
            dose(&format!("b-{round}-2"), &code, "10:03"),
        ];
        let (ra, rb) = futures::join!(sync(&d, &d.nurse, a), sync(&d, &second, b));
        let (ra, rb) = (results(ra).await, results(rb).await);
        let all: Vec<(String, String)> = outcomes(&ra).into_iter().chain(outcomes(&rb)).collect();
        let accepted = |kind: usize| {
            [&ra, &rb]
                .iter()
                .filter(|r| r[kind]["outcome"] == "accepted")
                .count()
        };
        assert_eq!(accepted(0), 1, "one check-in: {all:?}");
        assert_eq!(accepted(1), 1, "one dose: {all:?}");
        for (outcome, reason) in &all {
            assert!(
                outcome == "accepted"
                    || [
                        "clinic.err.already_checked_in",
                        "clinic.err.already_vaccinated",
                        "clinic.err.dose_given",
                        "clinic.err.not_checked_in",
                        "checkin.not_active",
                    ]
                    .contains(&reason.as_str()),
                "{all:?}"
            );
        }
        assert_eq!(d.status_of(&code), "vaccinated");
    }
    assert_eq!(d.app.count("vaccinations", "1=1"), 3);
    assert_eq!(d.app.count("screenings", "1=1"), 3);
    assert_eq!(d.app.stock(d.city), (7, 0));
}

#[actix_web::test]
async fn a_queued_check_in_is_refused_when_the_appointment_was_cancelled_meanwhile() {
    let d = Desk::new(3, 10).await;
    let code = d.book(d.slot, 1).await;
    // Offline, the desk checks the resident in; meanwhile the resident cancels online.
    let cancel = d
        .app
        .post_json(
            "/api/v1/appointments/cancel",
            &json!({"code": code, "id_number": id_number(1)}),
        )
        .await;
    assert_eq!(cancel.status(), 200);
    d.app.clock.set(during_the_slot());
    let r = results(
        sync(
            &d,
            &d.nurse,
            vec![
                check_in("c-1", &code, 1, "10:01"),
                dose("c-2", &code, "10:02"),
            ],
        )
        .await,
    )
    .await;
    assert_eq!(
        outcomes(&r),
        vec![
            ("refused".into(), "checkin.not_active".into()),
            ("refused".into(), "checkin.not_active".into()),
        ]
    );
    assert!(!r[0]["message"].as_str().unwrap().is_empty());
    assert_eq!(d.status_of(&code), "cancelled");
    assert_eq!(d.app.count("screenings", "1=1"), 0);
    assert_eq!(d.app.count("vaccinations", "1=1"), 0);
    assert_eq!(d.app.stock(d.city), (10, 0));
}

#[actix_web::test]
async fn sync_takes_only_this_sites_staff_with_the_sessions_token_and_bad_actions_are_refused() {
    let d = Desk::new(3, 10).await;
    let code = d.book(d.slot, 1).await;
    d.app.clock.set(during_the_slot());
    let batch =
        json!({"site": d.city.site.to_string(), "actions": [check_in("x-1", &code, 1, "10:01")]});
    // No token, a wrong token: refused before anything is read.
    let res = d
        .nurse
        .client
        .post(d.nurse.url("/clinic/sync"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = d
        .nurse
        .client
        .post(d.nurse.url("/clinic/sync"))
        .header("x-csrf-token", "0".repeat(64))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Staff of another site.
    let other = crate::helpers::make_city(&mut d.app.conn(), "T002", 21, 56);
    add_user(&d.app, "elsewhere", "clinic", Some(other.site));
    let elsewhere = login_as_user(&d.app, "elsewhere", "/staff").await;
    assert_eq!(sync(&d, &elsewhere, vec![]).await.status(), 403);
    // Nobody logged in.
    let anon = Session::new(&d.app);
    let res = anon
        .client
        .post(anon.url("/clinic/sync"))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert!(
        res.status() == 403 || res.status() == 303,
        "{}",
        res.status()
    );
    assert_eq!(d.app.count("screenings", "1=1"), 0);

    // Broken actions are refused one by one; the good one in the batch is carried out.
    let r = results(
        sync(
            &d,
            &d.nurse,
            vec![
                json!({"key": "bad key!", "kind": "check_in", "code": code}),
                json!({"key": "y-1", "kind": "launch", "code": code}),
                json!({"key": "y-2", "kind": "dose", "code": code, "fields": {"lot": ""}}),
                json!({"key": "y-3", "kind": "check_in", "code": "NOPE", "fields": {}}),
                check_in("y-4", &code, 1, "10:01"),
            ],
        )
        .await,
    )
    .await;
    let got: Vec<String> = r
        .iter()
        .map(|a| a["reason"].as_str().unwrap().into())
        .collect();
    assert_eq!(
        got,
        vec![
            "clinic.sync.invalid",
            "clinic.sync.invalid",
            "clinic.sync.invalid",
            "checkin.unknown",
            ""
        ]
    );
    assert_eq!(d.status_of(&code), "checked_in");
}

#[actix_web::test]
async fn a_tablet_checks_in_and_records_a_dose_offline_in_chromium_and_syncs_them_once_back_online()
{
    use diesel::prelude::*;
    use dosewise::db::schema::vaccinations;
    let d = Desk::new(4, 10).await;
    let code = d.book(d.slot, 1).await;
    let other = d.book(d.slot, 2).await;
    d.app.clock.set(during_the_slot()); // 10:05 in Shanghai
    let input = json!({
        "username": "nurse",
        "password": PASSWORD,
        "code": code,
        "last4": &id_number(1)[14..],
        "now": during_the_slot().and_utc().timestamp_millis(),
        "ids": [id_number(1), id_number(2)],
    });
    let out = run_in_chromium(&d.app, "offline.mjs", &[input.to_string()]).await;
    assert!(out.contains("offline journey: 3 passed, 0 failed"), "{out}");
    assert_eq!(d.status_of(&code), "vaccinated");
    assert_eq!(d.status_of(&other), "booked", "nothing else recorded");
    assert_eq!(d.app.count("screenings", "outcome = 'cleared'"), 1);
    let given: Vec<(String, chrono::NaiveDateTime)> = vaccinations::table
        .select((vaccinations::lot, vaccinations::given_at))
        .load(&mut *d.app.conn())
        .unwrap();
    assert_eq!(given, vec![("LOT-A".to_string(), during_the_slot())]);
    assert_eq!(d.app.count("sync_actions", "outcome = 'accepted'"), 2);
    assert_eq!(d.app.count("sync_actions", "1=1"), 2);
    assert_eq!(d.app.stock(d.city), (9, 1));
}
