//! The bureau's shipment workflow over HTTP: record, plan (instance built from the database),
//! adjust, approve (ledger, held seats, notices) and the audit trail.

use chrono::Duration;
use dosewise::ids::new_id;
use dosewise::models::waiting::WaitingEntry;
use dosewise::models::{resident, vaccination, NewResident, NewVaccination};
use futures::future::join_all;

use crate::helpers::{
    add_slot_at, add_stock, count_where, csrf_in, make_city, spawn_app, staff_client, test_now,
    City, TestApp,
};

/// Two towns giving one product (pack of 6), 10 days of slots, residents whose second doses fall
/// due soon, and people waiting for a first dose.
fn two_towns(app: &TestApp) -> (City, City) {
    let mut c = app.conn();
    let a = make_city(&mut c, "T001", 21, 56);
    let b = City {
        town: new_id(),
        site: new_id(),
        product: a.product,
    };
    dosewise::models::town::insert(
        &mut c,
        &dosewise::models::NewTown {
            id: b.town,
            code: "T002".into(),
            name: "第二镇".into(),
            eligible: 50_000,
            contact_emails: String::new(),
            active: true,
        },
    )
    .unwrap();
    dosewise::models::site::insert(
        &mut c,
        &dosewise::models::NewSite {
            id: b.site,
            town_id: b.town,
            name: "第二镇卫生院".into(),
            address: "和平路2号".into(),
            active: true,
        },
    )
    .unwrap();
    {
        use diesel::prelude::*;
        use dosewise::db::schema::products;
        diesel::update(products::table.find(a.product))
            .set(products::pack_size.eq(6))
            .execute(&mut *c)
            .unwrap();
    }
    for city in [a, b] {
        for d in 0..10 {
            for h in 0..4 {
                let start = test_now() + Duration::days(d) + Duration::hours(1 + h);
                add_slot_at(&mut c, city, start, 10, 0);
            }
        }
        add_stock(&mut c, city, 12);
    }
    // 30 residents of town A had dose 1 40 days ago: their window (21-56 days) closes in 16 days.
    for i in 0..30u32 {
        let rid = new_id();
        resident::insert(
            &mut c,
            &NewResident {
                id: rid,
                id_hash: format!("h{i}"),
                id_last4: "0000".into(),
                birth_date: chrono::NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(),
                name: "测试".into(),
                phone: "13900000000".into(),
                email: "t@example.com".into(),
                lang: "zh-CN".into(),
                created_at: test_now(),
            },
        )
        .unwrap();
        let given = test_now() - Duration::days(if i < 20 { 50 } else { 40 });
        vaccination::insert(
            &mut c,
            &NewVaccination {
                id: new_id(),
                resident_id: rid,
                appointment_id: None,
                site_id: a.site,
                product_id: a.product,
                dose_number: 1,
                lot: "OLD".into(),
                given_at: given,
                staff_user_id: None,
                observation_until: given + Duration::minutes(30),
            },
        )
        .unwrap();
        if i < 25 {
            dosewise::models::waiting::insert(
                &mut c,
                &WaitingEntry {
                    id: new_id(),
                    town_id: if i % 2 == 0 { a.town } else { b.town },
                    resident_id: rid,
                    dose_number: 1,
                    status: "waiting".into(),
                    created_at: test_now(),
                },
            )
            .unwrap();
        }
    }
    (a, b)
}

async fn post(
    c: &reqwest::Client,
    app: &TestApp,
    form_page: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let page = c
        .get(format!("{}{form_page}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&page).unwrap_or_default();
    let mut body: Vec<(&str, &str)> = form.to_vec();
    body.push(("csrf", &token));
    c.post(format!("{}{path}", app.address))
        .form(&body)
        .send()
        .await
        .unwrap()
}

fn shipment_form<'a>(product: &'a str, doses: &'a str, lots: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("product_id", product),
        ("doses", doses),
        ("received_on", "2030-03-04"),
        ("next_expected_on", "2030-03-11"),
        ("next_latest_on", "2030-03-14"),
        ("lots", lots),
    ]
}

async fn record(
    app: &TestApp,
    c: &reqwest::Client,
    product: i64,
    doses: &str,
    lots: &str,
) -> reqwest::Response {
    let p = product.to_string();
    post(
        c,
        app,
        "/bureau/shipments",
        "/bureau/shipments",
        &shipment_form(&p, doses, lots),
    )
    .await
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

#[actix_web::test]
async fn recording_a_shipment_puts_its_lots_into_central_stock_through_the_ledger() {
    let app = spawn_app().await;
    let (a, _) = two_towns(&app);
    let bureau = staff_client(&app, "bureau", None).await;
    let res = record(
        &app,
        &bureau,
        a.product,
        "600",
        "L1, 2030-09-30, 360\nL2, 2030-10-31, 240",
    )
    .await;
    assert_eq!(res.status(), 303);
    let page = bureau
        .get(format!("{}{}", app.address, location(&res)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("L1") && page.contains("2030-10-31"), "{page}");
    assert_eq!(
        app.count("stock_movements", "site_id IS NULL AND kind = 'received'"),
        2
    );
    assert_eq!(app.count("lots", "1=1"), 2);
    assert_eq!(app.count("audit_log", "action = 'shipment.record'"), 1);
    // Clinic staff may not see the bureau's pages.
    let nurse = staff_client(&app, "clinic", Some(a.site)).await;
    assert_eq!(
        nurse
            .get(format!("{}/bureau/shipments", app.address))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

#[actix_web::test]
async fn bad_shipments_get_a_clear_message_and_write_nothing() {
    let app = spawn_app().await;
    let (a, _) = two_towns(&app);
    let orphan = {
        let mut c = app.conn();
        make_city(&mut c, "T009", 21, 56).product // a product with no slot and no stock
    };
    let bureau = staff_client(&app, "bureau", None).await;
    let p = a.product.to_string();
    let o = orphan.to_string();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            shipment_form(&p, "lots", "L1, 2030-09-30, 6"),
            "剂数应为正整数",
        ),
        (shipment_form(&p, "6", "L1, 2030-03-01, 6"), "已过期"),
        (shipment_form(&p, "12", "L1, 2030-09-30, 6"), "之和"),
        (shipment_form(&p, "6", "L1 2030-09-30 6"), "第 1 行"),
        (shipment_form(&o, "6", "L1, 2030-09-30, 6"), "没有接种点"),
        (
            vec![
                ("product_id", &p[..]),
                ("doses", "6"),
                ("received_on", "2030-03-04"),
                ("next_expected_on", "2030-03-03"),
                ("next_latest_on", "2030-03-14"),
                ("lots", "L1, 2030-09-30, 6"),
            ],
            "应晚于",
        ),
        (
            vec![
                ("product_id", &p[..]),
                ("doses", "6"),
                ("received_on", "2030-03-04"),
                ("next_expected_on", "2030-03-11"),
                ("next_latest_on", "2030-03-10"),
                ("lots", "L1, 2030-09-30, 6"),
            ],
            "不能早于",
        ),
        (
            vec![
                ("product_id", &p[..]),
                ("doses", "6"),
                ("received_on", "2030-13-04"),
                ("next_expected_on", "2030-03-11"),
                ("next_latest_on", "2030-03-14"),
                ("lots", "L1, 2030-09-30, 6"),
            ],
            "年-月-日",
        ),
    ];
    for (form, expect) in cases {
        let res = post(
            &bureau,
            &app,
            "/bureau/shipments",
            "/bureau/shipments",
            &form,
        )
        .await;
        assert_eq!(res.status(), 422, "{expect}");
        let page = res.text().await.unwrap();
        assert!(page.contains(expect), "{expect}: {page}");
    }
    let no_token = bureau
        .post(format!("{}/bureau/shipments", app.address))
        .form(&shipment_form(&p, "6", "L1, 2030-09-30, 6"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);
    assert_eq!(app.count("shipments", "1=1"), 0);
    assert_eq!(app.count("lots", "1=1"), 0);
    assert_eq!(app.count("stock_movements", "site_id IS NULL"), 0);
}

/// Record 600 doses and plan them; returns the plan's path.
async fn planned(app: &TestApp, bureau: &reqwest::Client, a: City) -> String {
    let res = record(
        app,
        bureau,
        a.product,
        "600",
        "L1, 2030-09-30, 360\nL2, 2030-10-31, 240",
    )
    .await;
    let shipment = location(&res);
    let res = post(bureau, app, &shipment, &format!("{shipment}/plan"), &[]).await;
    assert_eq!(res.status(), 303);
    location(&res)
}

#[actix_web::test]
async fn the_plan_is_built_from_the_database_and_its_input_replans_identically_in_the_cli() {
    let app = spawn_app().await;
    let (a, _) = two_towns(&app);
    let bureau = staff_client(&app, "bureau", None).await;
    let plan = planned(&app, &bureau, a).await;
    let page = bureau
        .get(format!("{}{plan}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("T001") && page.contains("T002"), "{page}");
    assert!(page.contains("到期第二剂") && page.contains("第一剂"));
    assert!(
        page.contains("测试接种点"),
        "a town row expands to its sites"
    );

    let instance = bureau
        .get(format!("{}{plan}/instance.json", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&instance).unwrap();
    assert_eq!(doc["run_date"], "2030-03-04");
    assert_eq!(doc["shipment"]["doses"], 600);
    let t1 = &doc["towns"][0];
    assert_eq!(t1["id"], "T001");
    assert_eq!(t1["stock_on_hand"], 12);
    assert_eq!(t1["capacity_per_day"].as_array().unwrap().len(), 7);
    assert_eq!(t1["capacity_per_day"][0], 40);
    assert_eq!(t1["first_dosed"], 30);
    assert_eq!(t1["first_dose_waiting"], 13);
    assert_eq!(t1["second_dose_queue"].as_array().unwrap().len(), 2);
    let replanned = dosewise::allocation::run_cli(&instance).unwrap();
    let replanned: serde_json::Value = serde_json::from_str(&replanned).unwrap();
    let levels = &replanned["levels"];
    assert!(levels["urgent_second"].as_u64().unwrap() > 0, "{levels}");
    // The page's level totals are the CLI's.
    let first = levels["first"].as_u64().unwrap().to_string();
    assert!(
        page.contains(&format!("<td>{first}</td>")),
        "first doses {first}"
    );
    assert_eq!(app.count("audit_log", "action = 'allocation.plan'"), 1);
}

#[actix_web::test]
async fn an_adjustment_shows_its_cost_and_hard_constraints_are_refused() {
    let app = spawn_app().await;
    let (a, _) = two_towns(&app);
    let bureau = staff_client(&app, "bureau", None).await;
    let plan = planned(&app, &bureau, a).await;
    let adjust = format!("{plan}/adjust");
    for (doses, reason, expect) in [
        ("7", "台风", "整箱"),
        ("606", "台风", "超过本批"),
        ("6", "", "原因"),
        ("abc", "台风", "非负整数"),
    ] {
        let res = post(
            &bureau,
            &app,
            &plan,
            &adjust,
            &[("code", "T002"), ("doses", doses), ("reason", reason)],
        )
        .await;
        assert_eq!(res.status(), 422, "{expect}");
        assert!(res.text().await.unwrap().contains(expect), "{expect}");
    }
    let res = post(
        &bureau,
        &app,
        &plan,
        &adjust,
        &[("code", "T001"), ("doses", "6"), ("reason", "道路中断")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let page = bureau
        .get(format!("{}{plan}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("道路中断"));
    assert!(
        page.contains("class=\"lost\""),
        "the cost against the optimal plan is shown"
    );
    assert_eq!(app.count("audit_log", "action = 'allocation.adjust'"), 1);
}

#[actix_web::test]
async fn approving_twice_at_once_moves_the_stock_holds_seats_and_notifies_each_town_once() {
    let app = spawn_app().await;
    let (a, b) = two_towns(&app);
    let bureau = staff_client(&app, "bureau", None).await;
    let plan = planned(&app, &bureau, a).await;
    let page = bureau
        .get(format!("{}{plan}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&page).unwrap();
    let url = format!("{}{plan}/approve", app.address);
    let statuses = join_all((0..8).map(|_| {
        let (c, url, token) = (bureau.clone(), url.clone(), token.clone());
        async move {
            c.post(url)
                .form(&[("csrf", token.as_str())])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 303), "{statuses:?}");
    assert_eq!(app.count("allocation_plans", "status = 'approved'"), 1);
    assert_eq!(
        app.count("town_notices", "1=1"),
        2,
        "one notice per town, not per click"
    );
    assert_eq!(app.count("audit_log", "action = 'allocation.approve'"), 1);
    assert_eq!(app.count("shipments", "status = 'approved'"), 1);
    // The ledger: what left central stock arrived at the sites, lot by lot.
    let mut c = app.conn();
    let central = count_where(
        &mut c,
        "stock_movements",
        "site_id IS NULL AND kind = 'allocated'",
    );
    let arrived = count_where(
        &mut c,
        "stock_movements",
        "site_id IS NOT NULL AND kind = 'allocated'",
    );
    assert!(central > 0 && central == arrived);
    let to_sites: i64 = [a, b]
        .iter()
        .map(|city| {
            dosewise::models::stock::ledger_sum(
                &mut c,
                dosewise::ids::SiteId(city.site),
                dosewise::ids::ProductId(city.product),
            )
            .unwrap()
        })
        .sum();
    assert!(to_sites > 24, "the sites received doses: {to_sites}");
    let held = count_where(
        &mut c,
        "slots",
        &format!("site_id = {} AND second_dose_held > 0", a.site),
    );
    assert!(held > 0, "seats held for town A's second doses");
    drop(c);
    let page = bureau
        .get(format!("{}{plan}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("2030-03-05"),
        "notices say when it arrives: {page}"
    );
    // Approved plans cannot change.
    let res = post(
        &bureau,
        &app,
        &plan,
        &format!("{plan}/adjust"),
        &[("code", "T001"), ("doses", "6"), ("reason", "x")],
    )
    .await;
    assert_eq!(res.status(), 409);
    let notices = bureau
        .get(format!("{}/bureau/notices", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(notices.contains("第二镇"));
    let audit = bureau
        .get(format!("{}/bureau/audit", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains("allocation.approve") && audit.contains("shipment.record"));
}

#[actix_web::test]
async fn the_demo_city_has_a_shipment_ready_to_plan_and_approve() {
    let app = spawn_app().await;
    let opts = dosewise::demo::CityOptions {
        towns: 3,
        sites_per_town: 2,
        days: 10,
        seats_per_slot: 6,
        residents_in_series: 9,
        waiting_per_town: 5,
        stock_days: 2,
        users: false,
    };
    dosewise::demo::generate_city(
        app.database(),
        &app.state.keys,
        app.state.settings.time_zone,
        test_now(),
        opts,
    )
    .unwrap();
    let bureau = staff_client(&app, "bureau", None).await;
    let list = bureau
        .get(format!("{}/bureau/shipments", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = list.find("/bureau/shipments/").unwrap();
    let id: String = list[at + 18..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let shipment = format!("/bureau/shipments/{id}");
    let res = post(&bureau, &app, &shipment, &format!("{shipment}/plan"), &[]).await;
    assert_eq!(res.status(), 303);
    let plan = location(&res);
    let res = post(&bureau, &app, &plan, &format!("{plan}/approve"), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("town_notices", "1=1"), 3);
}
