//! The bureau's CSV exports, read back with a CSV reader: BOM, header from the catalogue,
//! quoting, formula cells neutralised, Chinese text, masked ID numbers, filters, paging past
//! one page of rows, and who may download them.

use chrono::Duration;
use dosewise::ids::new_id;
use dosewise::models::adverse_event::AdverseEvent;
use dosewise::models::stock::{self, Movement};
use dosewise::models::{vaccination, NewVaccination};

use crate::bureau::{planned, two_towns};
use crate::helpers::{
    add_user, book_code, csrf_in, id_number, login_as, login_as_user, spawn_app, test_now, Role,
    Session, TestApp,
};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Download an export; (header, rows), after checking the status, type and BOM.
async fn export(s: &Session, path: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let res = s.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let body = res.bytes().await.unwrap();
    assert!(body.starts_with(BOM), "{path} starts with a BOM");
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(&body[BOM.len()..]);
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// The column of `name` in `header`.
fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("{name} in {header:?}"))
}

/// A dose given by `staff` to the resident `rid`, with its ledger history; its id.
fn dose(app: &TestApp, city: crate::helpers::City, rid: i64, staff: i64, lot: &str) -> i64 {
    let mut c = app.conn();
    let id = new_id();
    let given = test_now() - Duration::hours(2);
    vaccination::insert(
        &mut c,
        &NewVaccination {
            id,
            resident_id: rid,
            appointment_id: None,
            site_id: city.site,
            product_id: city.product,
            dose_number: 2,
            lot: lot.into(),
            given_at: given,
            staff_user_id: Some(staff),
            observation_until: given + Duration::minutes(30),
        },
    )
    .unwrap();
    crate::helpers::ledger_history_dose(&mut c, city.site, city.product, lot, given);
    id
}

#[actix_web::test]
async fn every_export_reads_back_with_bom_header_quoting_masked_ids_and_no_formulas() {
    let app = spawn_app().await;
    let (a, b) = two_towns(&app);
    // Three residents book in town A through the API (their ID numbers are id_number(i)).
    let slot = crate::helpers::add_slot_at(
        &mut app.conn(),
        a,
        test_now() + Duration::days(3) + Duration::minutes(90),
        10,
        0,
    );
    let mut codes = Vec::new();
    for i in 1..=3 {
        codes.push(book_code(&app, slot, i).await);
    }
    // A dose given by a named nurse, and a reaction whose text a spreadsheet would run.
    let nurse = add_user(&app, "护士王", "clinic", Some(a.site));
    let rid: i64 = {
        use diesel::prelude::*;
        use dosewise::db::schema::residents;
        residents::table
            .select(residents::id)
            .filter(residents::name.eq("测试"))
            .first(&mut *app.conn())
            .unwrap()
    };
    let v = dose(&app, a, rid, nurse, "LOT-甲");
    dosewise::models::adverse_event::insert(
        &mut app.conn(),
        &AdverseEvent {
            id: new_id(),
            vaccination_id: v,
            resident_id: rid,
            site_id: a.site,
            severity: "moderate".into(),
            symptoms: "=HYPERLINK(\"http://x\",\"点我\")".into(),
            action_taken: "观察, 休息\n\"已好转\"".into(),
            occurred_at: test_now() - Duration::hours(1),
            recorded_by: Some(nurse),
            created_at: test_now(),
        },
    )
    .unwrap();
    // A ledger longer than one page (500 rows) at one instant: the keyset must tie-break by id.
    {
        let mut c = app.conn();
        for n in 0..1100 {
            stock::record(
                &mut c,
                &Movement {
                    id: new_id(),
                    site_id: Some(b.site),
                    product_id: b.product,
                    delta: if n % 2 == 0 { 1 } else { -1 },
                    kind: "adjustment".into(),
                    reason: if n == 0 {
                        "+1 @盘点\t".into()
                    } else {
                        "盘点".into()
                    },
                    actor: "test".into(),
                    lot: None,
                    created_at: test_now() - Duration::days(1),
                },
            )
            .unwrap();
        }
    }
    let bureau = login_as(&app, Role::Bureau).await;
    let plan = planned(&bureau, a).await;
    let token = csrf_in(&bureau.get_text(&plan).await).unwrap();
    let res = bureau
        .post_raw(&format!("{plan}/approve"), &[("csrf", token.as_str())])
        .await;
    assert_eq!(res.status(), 303);

    // Appointments: header in Chinese by default, masked IDs, Chinese names, statuses in words.
    let (h, rows) = export(&bureau, "/bureau/exports/appointments.csv").await;
    assert_eq!(h[0], "预约时间");
    assert_eq!(rows.len(), 3);
    let (code, id, status) = (col(&h, "预约码"), col(&h, "身份证号"), col(&h, "状态"));
    let mut got: Vec<&str> = rows.iter().map(|r| r[code].as_str()).collect();
    got.sort();
    codes.sort();
    assert_eq!(got, codes);
    for (r, i) in rows.iter().zip(1..) {
        assert!(r[id].starts_with("**************"), "{:?}", r[id]);
        assert_eq!(r[id].len(), 18);
        assert_eq!(r[status], "已预约");
        let _ = i;
    }
    let raw = bureau
        .get("/bureau/exports/appointments.csv")
        .await
        .text()
        .await
        .unwrap();
    for i in 1..=3 {
        assert!(!raw.contains(&id_number(i)), "no full ID number");
    }

    // Vaccinations: the lot and the staff member.
    let (h, rows) = export(&bureau, "/bureau/exports/vaccinations.csv").await;
    let mine: Vec<_> = rows
        .iter()
        .filter(|r| r[col(&h, "批号")] == "LOT-甲")
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0][col(&h, "工作人员")], "护士王");
    assert_eq!(mine[0][col(&h, "身份证号")], "**************0000");
    assert_eq!(rows.len(), 31, "30 first doses and one second");

    // Reactions: the formula neutralised, the comma, newline and quotes round-trip.
    let (h, rows) = export(&bureau, "/bureau/exports/reactions.csv").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0][col(&h, "症状")],
        "'=HYPERLINK(\"http://x\",\"点我\")"
    );
    assert_eq!(rows[0][col(&h, "处置")], "观察, 休息\n\"已好转\"");
    assert_eq!(rows[0][col(&h, "严重程度")], "中等");

    // The stock ledger: over two pages, every row once, numbers as numbers, text neutralised.
    let (h, rows) = export(&bureau, "/bureau/exports/stock.csv").await;
    let delta = col(&h, "变动（剂）");
    let adjustments: Vec<_> = rows
        .iter()
        .filter(|r| r[col(&h, "类型")] == "adjustment")
        .collect();
    assert_eq!(adjustments.len(), 1100);
    assert_eq!(
        adjustments
            .iter()
            .map(|r| r[delta].parse::<i64>().unwrap())
            .sum::<i64>(),
        0,
        "negative deltas stay numbers"
    );
    assert!(rows.iter().any(|r| r[col(&h, "原因")] == "'+1 @盘点\t"));
    let ledger = app.count("stock_movements", "1=1");
    assert_eq!(rows.len() as i64, ledger, "every ledger row once");

    // Plans: one line per town and one per site, per level.
    let (h, rows) = export(&bureau, "/bureau/exports/plans.csv").await;
    let towns: Vec<_> = rows
        .iter()
        .filter(|r| r[col(&h, "接种点")].is_empty())
        .collect();
    assert_eq!(towns.len(), 2, "{rows:?}");
    let shipped: u64 = towns
        .iter()
        .map(|r| r[col(&h, "分配剂数")].parse::<u64>().unwrap())
        .sum();
    assert!(shipped > 0 && shipped <= 600, "{shipped}");
    assert!(rows.iter().any(|r| r[col(&h, "接种点")] == "第二镇卫生院"));

    // Waiting lists, and the town filter: 13 in town A, 12 in town B.
    let (_, rows) = export(&bureau, "/bureau/exports/waiting.csv").await;
    assert_eq!(rows.len(), 25);
    let (h, rows) = export(
        &bureau,
        &format!("/bureau/exports/waiting.csv?town={}", b.town),
    )
    .await;
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|r| r[col(&h, "乡镇")] == "第二镇"));
    let (_, rows) = export(
        &bureau,
        &format!("/bureau/exports/plans.csv?town={}", b.town),
    )
    .await;
    assert!(rows.iter().all(|r| r[5] == "第二镇"), "{rows:?}");

    // Date filters are the city's days, both ends included.
    let (_, rows) = export(&bureau, "/bureau/exports/waiting.csv?from=2030-03-05").await;
    assert_eq!(rows.len(), 0);
    let (_, rows) = export(
        &bureau,
        "/bureau/exports/waiting.csv?from=2030-03-04&to=2030-03-04",
    )
    .await;
    assert_eq!(rows.len(), 25);
    let (_, rows) = export(&bureau, "/bureau/exports/stock.csv?to=2030-03-02").await;
    assert!(
        rows.iter().all(|r| r[0].as_str() < "2030-03-03"),
        "{:?}",
        &rows[..1]
    );
    assert_eq!(
        export(
            &bureau,
            "/bureau/exports/appointments.csv?from=2030-03-08&to=2030-03-10"
        )
        .await
        .1
        .len(),
        0
    );
    assert_eq!(
        bureau
            .get("/bureau/exports/waiting.csv?from=yesterday")
            .await
            .status(),
        400
    );
    assert_eq!(
        bureau.get("/bureau/exports/secrets.csv").await.status(),
        404
    );

    // English headers for an English page.
    let res = bureau.get("/lang/en?next=/bureau").await;
    assert_eq!(res.status(), 303);
    let (h, _) = export(&bureau, "/bureau/exports/reactions.csv").await;
    assert_eq!(h[col(&h, "Severity")], "Severity");
    assert_eq!(h[0], "Occurred at");

    // The page lists every export with the filters in its links.
    let page = bureau
        .get_text(&format!("/bureau/exports?from=2030-03-01&town={}", a.town))
        .await;
    for name in [
        "appointments",
        "vaccinations",
        "stock",
        "plans",
        "reactions",
        "waiting",
    ] {
        assert!(
            page.contains(&format!(
                "/bureau/exports/{name}.csv?from=2030-03-01&#38;town={}",
                a.town
            )),
            "{name}: {page}"
        );
    }
}

#[actix_web::test]
async fn only_the_bureau_and_admins_may_export() {
    let app = spawn_app().await;
    let city = app.city();
    let anonymous = Session::new(&app);
    let res = anonymous.get("/bureau/exports/appointments.csv").await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/login"));
    let clinic = login_as(&app, Role::Clinic(city.site)).await;
    assert_eq!(
        clinic
            .get("/bureau/exports/appointments.csv")
            .await
            .status(),
        403
    );
    assert_eq!(clinic.get("/bureau/exports").await.status(), 403);
    add_user(&app, "chief", "admin", None);
    let admin = login_as_user(&app, "chief", "/admin").await;
    let (h, rows) = export(&admin, "/bureau/exports/appointments.csv").await;
    assert_eq!(h.len(), 10);
    assert!(rows.is_empty());
}
