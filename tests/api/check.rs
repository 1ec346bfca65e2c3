//! `dosewise check`: each invariant it names, broken on purpose in a real database, is reported
//! with the rows involved and exit code 1; repaired, the check passes again. (Every other test
//! also ends with the check: see `TestDb`'s `Drop`.)

use diesel::RunQueryDsl;
use serde_json::Value;

use crate::cli::{dosewise, text};
use crate::helpers::{resident, spawn_app};

/// Run one SQL statement on the test's database.
fn exec(app: &crate::helpers::TestApp, sql: &str) {
    diesel::sql_query(sql).execute(&mut *app.conn()).unwrap();
}

#[actix_web::test]
async fn each_broken_invariant_is_named_with_its_rows_and_exits_1() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let slot = app.add_slot(city, 2, 5, 0);
    let res = app.book_api(slot, 1, &resident(1)).await;
    assert_eq!(res.status(), 201);
    let booked: Value = res.json().await.unwrap();
    assert!(booked["code"].is_string(), "{booked}");

    let ok = dosewise(&app.db.url, &["check"], "");
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("every invariant holds"), "{}", text(&ok));

    let site = city.site;
    let product = city.product;
    let balance = |set: &str| {
        format!("UPDATE stock_balances SET {set} WHERE site_id = {site} AND product_id = {product}")
    };
    // (what to break, what to repair, what the report must say)
    let cases: Vec<(String, String, String)> = vec![
        (
            format!("UPDATE slots SET booked_first = 2 WHERE id = {slot}"),
            format!("UPDATE slots SET booked_first = 1 WHERE id = {slot}"),
            format!("slot seats match its appointments: slot id={slot}: seats=5"),
        ),
        (
            balance("on_hand = 12"),
            balance("on_hand = 10"),
            format!("stock balance equals its ledger: site id={site} product id={product}: on_hand=12 ledger sum=10"),
        ),
        (
            balance("promised = 0"),
            balance("promised = 1"),
            "promised doses equal active appointments".into(),
        ),
        (
            format!(
                "INSERT INTO stock_movements (id, site_id, product_id, delta, kind, reason, \
                 actor, lot, created_at) VALUES (78, NULL, {product}, -4, 'allocated', 'x', \
                 'test', 'LOT9', '2030-03-04 01:00:00')"
            ),
            "DELETE FROM stock_movements WHERE id = 78".into(),
            format!("no stock below zero: central stock product id={product} lot LOT9: -4"),
        ),
        (
            "UPDATE outbox SET status = 'lost' WHERE kind = 'booked'".into(),
            "UPDATE outbox SET status = 'pending' WHERE kind = 'booked'".into(),
            "outbox rows are in a known state".into(),
        ),
        (
            "UPDATE outbox SET kind = 'x' WHERE kind = 'booked'".into(),
            "UPDATE outbox SET kind = 'booked' WHERE kind = 'x'".into(),
            "every booking's confirmation is queued".into(),
        ),
        (
            "UPDATE appointments SET starts_at = '2030-03-01 01:00:00'".into(),
            format!(
                "UPDATE appointments SET starts_at = (SELECT starts_at FROM slots \
                 WHERE id = {slot})"
            ),
            "an appointment is on the slot it names".into(),
        ),
    ];
    // A second slot of the same site and vaccine, starting in the middle of the first.
    let start =
        crate::helpers::test_now() + chrono::Duration::days(2) + chrono::Duration::minutes(75);
    let overlapping = crate::helpers::add_slot_at(&mut app.conn(), city, start, 3, 0);
    let out = dosewise(&app.db.url, &["check"], "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "no overlapping bookable slots: site id={site}: slots id={} and id={}",
            slot.min(overlapping),
            slot.max(overlapping)
        )),
        "{}",
        text(&out)
    );
    exec(&app, &format!("DELETE FROM slots WHERE id = {overlapping}"));

    for (break_it, repair, says) in cases {
        exec(&app, &break_it);
        let out = dosewise(&app.db.url, &["check"], "");
        let report = text(&out);
        assert_eq!(out.status.code(), Some(1), "after `{break_it}`: {report}");
        assert!(
            report.contains(&says),
            "after `{break_it}` expected `{says}` in:\n{report}"
        );
        exec(&app, &repair);
        let again = dosewise(&app.db.url, &["check"], "");
        assert!(again.status.success(), "after `{repair}`: {}", text(&again));
    }
}
