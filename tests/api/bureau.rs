//! The bureau's shipment workflow over HTTP: record, plan (instance built from the database),
//! adjust, approve (ledger, held seats, notices) and the audit trail.

use std::collections::BTreeMap;

use chrono::Duration;
use dosewise::ids::new_id;
use dosewise::models::waiting::WaitingEntry;
use dosewise::models::{resident, vaccination, NewResident, NewVaccination};
use futures::future::join_all;
use serde_json::Value;

use crate::helpers::{
    add_slot_at, add_stock, count_where, csrf_in, login_as, make_city, plan_waiting_shipment,
    spawn_app, test_now, City, Role, Session, TestApp,
};

/// Two towns giving one product (pack of 6), 10 days of slots, residents whose second doses fall
/// due soon, and people waiting for a first dose.
pub(crate) fn two_towns(app: &TestApp) -> (City, City) {
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
            name_en: None,
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
            name_en: None,
            address_en: None,
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
        crate::helpers::ledger_history_dose(&mut c, a.site, a.product, "OLD", given);
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
                    priority: 0,
                },
            )
            .unwrap();
        }
    }
    (a, b)
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

async fn record(c: &Session, product: i64, doses: &str, lots: &str) -> reqwest::Response {
    let p = product.to_string();
    c.post_form_from(
        "/bureau/shipments",
        "/bureau/shipments",
        &shipment_form(&p, doses, lots),
    )
    .await
}

/// Change town `code`'s share of the plan at `plan` to `doses`, for `reason`.
async fn adjust(
    bureau: &Session,
    plan: &str,
    code: &str,
    doses: &str,
    reason: &str,
) -> reqwest::Response {
    let form = [("code", code), ("doses", doses), ("reason", reason)];
    bureau
        .post_form_from(plan, &format!("{plan}/adjust"), &form)
        .await
}

/// `POST {page}/{action}` with the page's token and no fields (`plan` a shipment, `approve` a
/// plan).
async fn act(bureau: &Session, page: &str, action: &str) -> reqwest::Response {
    bureau
        .post_form_from(page, &format!("{page}/{action}"), &[])
        .await
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

/// The id at the end of a plan's path.
fn plan_id(path: &str) -> i64 {
    path.rsplit('/').next().unwrap().parse().unwrap()
}

/// The stored plan document.
fn plan_doc(app: &TestApp, plan: i64) -> Value {
    let row = dosewise::models::shipment::find_plan(&mut app.conn(), plan)
        .unwrap()
        .unwrap();
    serde_json::from_str(&row.plan_json).unwrap()
}

/// A number from SQL (`SELECT ... AS n`), 0 when NULL.
fn sum_sql(app: &TestApp, sql: &str) -> i64 {
    use diesel::sql_types::BigInt;
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT CAST(COALESCE(({sql}), 0) AS BIGINT) AS n"))
        .get_result::<N>(&mut *app.conn())
        .unwrap()
        .n
}

/// What was planned = what was moved = what was told, per town and per site, for an approved
/// plan: each town's share in the plan, the doses that left central stock for its sites, the
/// doses its sites received, and the doses its one notice names are the same number; the rest
/// of the shipment is still central. Returns each town's share by code.
fn assert_carried_out(app: &TestApp, plan: i64) -> BTreeMap<String, i64> {
    let row = dosewise::models::shipment::find_plan(&mut app.conn(), plan)
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "approved");
    let shipment = row.shipment_id;
    let doc: Value = serde_json::from_str(&row.plan_json).unwrap();
    let mut shares = BTreeMap::new();
    let mut planned_total = 0;
    for t in doc["towns"].as_array().unwrap() {
        let code = t["code"].as_str().unwrap().to_string();
        let planned = t["ship"].as_i64().unwrap();
        let town_id = t["town_id"].as_i64().unwrap();
        let notices = app.count(
            "town_notices",
            &format!("plan_id = {plan} AND town_id = {town_id}"),
        );
        assert_eq!(notices, 1, "{code}: one notice");
        let told = sum_sql(
            app,
            &format!(
                "SELECT SUM(doses) FROM town_notices WHERE plan_id = {plan} AND town_id = {town_id}"
            ),
        );
        let (mut moved_out, mut moved_in, mut split) = (0, 0, 0);
        for s in t["sites"].as_array().unwrap() {
            let site = s["site_id"].as_i64().unwrap();
            let site_ship = s["ship"].as_i64().unwrap();
            let arrived = sum_sql(
                app,
                &format!(
                    "SELECT SUM(delta) FROM stock_movements WHERE site_id = {site} \
                     AND kind = 'allocated'"
                ),
            );
            let left = -sum_sql(
                app,
                &format!(
                    "SELECT SUM(delta) FROM stock_movements WHERE site_id IS NULL \
                     AND kind = 'allocated' AND reason = 'shipment {shipment} to site {site}'"
                ),
            );
            assert_eq!(
                (arrived, left),
                (site_ship, site_ship),
                "{code} site {site}: planned {site_ship}, arrived {arrived}, left central {left}"
            );
            split += site_ship;
            moved_in += arrived;
            moved_out += left;
        }
        assert_eq!(
            (split, moved_out, moved_in, told),
            (planned, planned, planned, planned),
            "{code}: planned {planned} = split over its sites = out of central = into its sites \
             = its notice"
        );
        planned_total += planned;
        shares.insert(code, planned);
    }
    let left_central = -sum_sql(
        app,
        "SELECT SUM(delta) FROM stock_movements WHERE site_id IS NULL AND kind = 'allocated'",
    );
    assert_eq!(
        left_central, planned_total,
        "nothing moved twice or beside the plan"
    );
    let doses = sum_sql(
        app,
        &format!("SELECT SUM(doses) FROM shipments WHERE id = {shipment}"),
    );
    assert_eq!(
        doc["central_hold"].as_i64().unwrap(),
        doses - planned_total,
        "the central hold is the rest of the shipment"
    );
    shares
}

/// The `<td>` cells of the table row that starts at `marker`, as text.
fn row_cells(page: &str, marker: &str) -> Vec<String> {
    let at = page.find(marker).unwrap_or_else(|| panic!("no {marker}"));
    let row = &page[at..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|c| {
            let c = &c[c.find('>').unwrap() + 1..];
            c[..c.find("</td>").unwrap()].trim().to_string()
        })
        .collect()
}

/// The leading whole number of a cell.
fn number(cell: &str) -> u64 {
    cell.chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number in {cell}"))
}

#[actix_web::test]
async fn recording_a_shipment_puts_its_lots_into_central_stock_through_the_ledger() {
    let app = spawn_app().await;
    let (a, _) = two_towns(&app);
    let bureau = login_as(&app, Role::Bureau).await;
    let res = record(
        &bureau,
        a.product,
        "600",
        "L1, 2030-09-30, 360\nL2, 2030-10-31, 240",
    )
    .await;
    assert_eq!(res.status(), 303);
    let page = bureau.get_text(&location(&res)).await;
    assert!(page.contains("L1") && page.contains("2030-10-31"), "{page}");
    assert_eq!(
        app.count("stock_movements", "site_id IS NULL AND kind = 'received'"),
        2
    );
    assert_eq!(app.count("lots", "1=1"), 2);
    assert_eq!(app.count("audit_log", "action = 'shipment.record'"), 1);
    // Clinic staff may not see the bureau's pages.
    let nurse = login_as(&app, Role::Clinic(a.site)).await;
    assert_eq!(nurse.get("/bureau/shipments").await.status(), 403);
}

#[actix_web::test]
async fn bad_shipments_get_a_clear_message_and_write_nothing() {
    let app = spawn_app().await;
    let (a, _) = two_towns(&app);
    let orphan = {
        let mut c = app.conn();
        make_city(&mut c, "T009", 21, 56).product // a product with no slot and no stock
    };
    let bureau = login_as(&app, Role::Bureau).await;
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
        let res = bureau
            .post_form_from("/bureau/shipments", "/bureau/shipments", &form)
            .await;
        assert_eq!(res.status(), 422, "{expect}");
        let page = res.text().await.unwrap();
        assert!(page.contains(expect), "{expect}: {page}");
    }
    let no_token = bureau
        .post_raw(
            "/bureau/shipments",
            &shipment_form(&p, "6", "L1, 2030-09-30, 6"),
        )
        .await;
    assert_eq!(no_token.status(), 403);
    assert_eq!(app.count("shipments", "1=1"), 0);
    assert_eq!(app.count("lots", "1=1"), 0);
    assert_eq!(app.count("stock_movements", "site_id IS NULL"), 0);
}

/// Record 600 doses and plan them; returns the plan's path.
pub(crate) async fn planned(bureau: &Session, a: City) -> String {
    let res = record(
        bureau,
        a.product,
        "600",
        "L1, 2030-09-30, 360\nL2, 2030-10-31, 240",
    )
    .await;
    let shipment = location(&res);
    let res = act(bureau, &shipment, "plan").await;
    assert_eq!(res.status(), 303);
    location(&res)
}

#[actix_web::test]
async fn the_plan_is_built_from_the_database_and_its_input_replans_identically_in_the_cli() {
    let app = spawn_app().await;
    let (a, _) = two_towns(&app);
    // Three of the 20 whose first dose was 50 days ago have had their second (one of them of
    // another vaccine): none is owed them.
    {
        use diesel::prelude::*;
        use dosewise::db::schema::vaccinations;
        let mut c = app.conn();
        let first: Vec<(i64, chrono::NaiveDateTime)> = vaccinations::table
            .filter(vaccinations::dose_number.eq(1))
            .order((vaccinations::given_at.asc(), vaccinations::id.asc()))
            .select((vaccinations::resident_id, vaccinations::given_at))
            .limit(3)
            .load(&mut c)
            .unwrap();
        let other = City {
            product: new_id(),
            ..a
        };
        dosewise::models::product::insert(
            &mut c,
            &dosewise::models::NewProduct {
                id: other.product,
                code: "P-OTHER".into(),
                name: "另一种疫苗".into(),
                manufacturer: "测试".into(),
                doses_in_series: 2,
                min_interval_days: 21,
                max_interval_days: 56,
                min_age_years: 0,
                max_age_years: 120,
                pack_size: 1,
                name_en: None,
            },
        )
        .unwrap();
        for (k, (resident, given)) in first.into_iter().enumerate() {
            let later = given + Duration::days(25);
            let city = if k == 0 { other } else { a };
            crate::helpers::record_dose(&mut c, city, resident, None, 2, later);
        }
    }
    let bureau = login_as(&app, Role::Bureau).await;
    let plan = planned(&bureau, a).await;
    let page = bureau.get_text(&plan).await;
    assert!(page.contains("T001") && page.contains("T002"), "{page}");
    assert!(page.contains("到期第二剂") && page.contains("第一剂"));
    assert!(
        page.contains("测试接种点"),
        "a town row expands to its sites"
    );

    let instance = bureau.get_text(&format!("{plan}/instance.json")).await;
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
    let queue: Vec<(String, u64)> = (t1["second_dose_queue"].as_array().unwrap().iter())
        .map(|q| {
            let day = q["first_dose_date"].as_str().unwrap().to_string();
            (day, q["count"].as_u64().unwrap())
        })
        .collect();
    let day = |ago: i64| (test_now() - Duration::days(ago)).date().to_string();
    assert_eq!(queue, [(day(50), 17), (day(40), 10)], "{queue:?}");
    let replanned = dosewise::allocation::run_cli(&instance).unwrap();
    let replanned: serde_json::Value = serde_json::from_str(&replanned).unwrap();
    let levels = &replanned["levels"];
    assert!(levels["urgent_second"].as_u64().unwrap() > 0, "{levels}");
    // The page's level totals are the CLI's, level by level, in the optimal column and (nothing
    // adjusted yet) in this plan's column.
    let table = &page[page.find("class=\"card table levels\"").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    let rows: Vec<Vec<String>> = table
        .split("<tr><th scope=\"row\">")
        .skip(1)
        .map(|r| row_cells(r, ""))
        .collect();
    let cli: Vec<u64> = ["urgent_second", "reserve", "first", "other_second"]
        .iter()
        .map(|k| levels[*k].as_u64().unwrap())
        .collect();
    let optimal: Vec<u64> = rows.iter().map(|r| number(&r[0])).collect();
    let current: Vec<u64> = rows.iter().map(|r| number(&r[1])).collect();
    assert_eq!(optimal, cli, "the optimal column is the CLI's levels");
    assert_eq!(current, cli, "this plan is the optimal one");
    // Each town's row: the CLI's shipment and first doses; the stored split adds up to it.
    let stored = plan_doc(&app, plan_id(&plan));
    let mut shipped = 0;
    for t in replanned["towns"].as_array().unwrap() {
        let code = t["id"].as_str().unwrap();
        let cells = row_cells(&page, &format!("data-town=\"{code}\""));
        let ship = t["ship_doses"].as_u64().unwrap();
        assert_eq!(number(&cells[0]), ship, "{code} ships the CLI's doses");
        assert_eq!(
            number(&cells[3]),
            t["first_doses"].as_u64().unwrap(),
            "{code} gives the CLI's first doses"
        );
        let line = stored["towns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["code"] == code)
            .unwrap();
        assert_eq!(line["ship"].as_u64().unwrap(), ship);
        let split: u64 = line["sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["ship"].as_u64().unwrap())
            .sum();
        assert_eq!(split, ship, "{code}'s sites get its whole share");
        shipped += ship;
    }
    assert_eq!(
        replanned["central_hold"].as_u64().unwrap(),
        stored["central_hold"].as_u64().unwrap()
    );
    assert_eq!(shipped + stored["central_hold"].as_u64().unwrap(), 600);
    assert_eq!(app.count("audit_log", "action = 'allocation.plan'"), 1);
}

#[actix_web::test]
async fn an_adjustment_shows_its_cost_and_hard_constraints_are_refused() {
    let app = spawn_app().await;
    let (a, _) = two_towns(&app);
    let bureau = login_as(&app, Role::Bureau).await;
    let plan = planned(&bureau, a).await;
    for (doses, reason, expect) in [
        ("7", "台风", "整箱"),
        ("606", "台风", "超过本批"),
        ("6", "", "原因"),
        ("abc", "台风", "非负整数"),
    ] {
        let res = adjust(&bureau, &plan, "T002", doses, reason).await;
        assert_eq!(res.status(), 422, "{expect}");
        assert!(res.text().await.unwrap().contains(expect), "{expect}");
    }
    let res = adjust(&bureau, &plan, "T001", "6", "道路中断").await;
    assert_eq!(res.status(), 303);
    let page = bureau.get_text(&plan).await;
    assert!(page.contains("道路中断"));
    let t001 = page
        .split("<tr")
        .find(|row| row.contains("T001"))
        .expect("the adjusted town's row");
    assert!(
        t001.contains("局里调整了本镇份额") && !t001.contains("本批疫苗已分完"),
        "a lowered share is limited by the adjustment, not by the shipment: {t001}"
    );
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
    let bureau = login_as(&app, Role::Bureau).await;
    let plan = planned(&bureau, a).await;
    let page = bureau.get_text(&plan).await;
    let token = csrf_in(&page).unwrap();
    let url = format!("{}{plan}/approve", app.address);
    let statuses = join_all((0..8).map(|_| {
        let (c, url, token) = (bureau.client.clone(), url.clone(), token.clone());
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
    // The people told seats are open were told once each, not once per click.
    let told = app.count("waiting_list", "status = 'notified'");
    assert!(told > 0, "the towns' waiting lists hear of the doses");
    assert_eq!(app.count("outbox", "kind = 'seats_opened'"), told);
    assert_eq!(
        app.count(
            "outbox",
            "kind = 'seats_opened' AND ref_id IN (SELECT id FROM waiting_list WHERE status = 'notified')"
        ),
        told
    );
    // The ledger, per town: planned = moved out of central = arrived at its sites = told.
    let shares = assert_carried_out(&app, plan_id(&plan));
    assert!(
        shares.values().sum::<i64>() > 24,
        "the sites received doses: {shares:?}"
    );
    let mut c = app.conn();
    let lots_moved = count_where(
        &mut c,
        "stock_movements",
        "site_id IS NOT NULL AND kind = 'allocated' AND lot IN ('L1', 'L2')",
    );
    assert!(lots_moved > 0, "doses travel lot by lot");
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
    assert_eq!(
        to_sites,
        24 + shares.values().sum::<i64>(),
        "each site holds its opening stock and its share"
    );
    let held = count_where(
        &mut c,
        "slots",
        &format!("site_id = {} AND second_dose_held > 0", a.site),
    );
    assert!(held > 0, "seats held for town A's second doses");
    drop(c);
    let page = bureau.get_text(&plan).await;
    assert!(
        page.contains("2030-03-05"),
        "notices say when it arrives: {page}"
    );
    // Approved plans cannot change.
    let res = adjust(&bureau, &plan, "T001", "6", "x").await;
    assert_eq!(res.status(), 409);
    let notices = bureau.get_text("/bureau/notices").await;
    assert!(notices.contains("第二镇"));
    let audit = bureau.get_text("/bureau/audit").await;
    assert!(audit.contains("allocation.approve") && audit.contains("shipment.record"));
}

#[actix_web::test]
async fn the_demo_city_has_a_shipment_ready_to_plan_and_approve() {
    let app = spawn_app().await;
    app.demo_city(dosewise::demo::CityOptions {
        towns: 3,
        sites_per_town: 2,
        days: 10,
        residents_in_series: 9,
        waiting_per_town: 5,
        users: false,
        ..dosewise::demo::CityOptions::demo()
    });
    let bureau = login_as(&app, Role::Bureau).await;
    let plan = plan_waiting_shipment(&bureau).await;
    let res = act(&bureau, &plan, "approve").await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.count("town_notices", "1=1"), 3);
}

/// Two more sites in town A (T001): one with fewer seats, one with no seats in the horizon, both
/// without stock, so its share has to be split three ways.
fn more_sites_in_town_a(app: &TestApp, a: City) -> [i64; 2] {
    let mut c = app.conn();
    let mut ids = [0; 2];
    for (k, seats) in [(0usize, 4), (1, 0)] {
        let site = City {
            town: a.town,
            site: new_id(),
            product: a.product,
        };
        dosewise::models::site::insert(
            &mut c,
            &dosewise::models::NewSite {
                id: site.site,
                town_id: a.town,
                name: format!("测试镇分点{k}"),
                address: "人民路3号".into(),
                active: true,
                name_en: None,
                address_en: None,
            },
        )
        .unwrap();
        if seats > 0 {
            for d in 0..10 {
                let start = test_now() + Duration::days(d) + Duration::hours(2);
                add_slot_at(&mut c, site, start, seats, 0);
            }
        }
        ids[k] = site.site;
    }
    ids
}

#[actix_web::test]
async fn an_adjusted_share_reaches_the_sites_whole_and_the_notice_says_what_was_moved() {
    let app = spawn_app().await;
    let (a, _) = two_towns(&app);
    let extra = more_sites_in_town_a(&app, a);
    let bureau = login_as(&app, Role::Bureau).await;
    let plan = planned(&bureau, a).await;
    let optimal = plan_doc(&app, plan_id(&plan));
    let t001 = |doc: &Value| {
        doc["towns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["code"] == "T001")
            .unwrap()
            .clone()
    };
    let before = t001(&optimal)["ship"].as_u64().unwrap();
    // Far more than the town can use before the next shipment: the bureau stocks it up.
    let share = 300u64;
    assert!(before < share, "{before}");
    let res = adjust(&bureau, &plan, "T001", "300", "防汛储备").await;
    assert_eq!(res.status(), 303);
    let adjusted = t001(&plan_doc(&app, plan_id(&plan)));
    assert_eq!(adjusted["ship"].as_u64().unwrap(), share);
    let sites: Vec<(i64, u64)> = adjusted["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["site_id"].as_i64().unwrap(), s["ship"].as_u64().unwrap()))
        .collect();
    assert_eq!(sites.len(), 3, "{sites:?}");
    assert_eq!(
        sites.iter().map(|s| s.1).sum::<u64>(),
        share,
        "the split adds up to the share: {sites:?}"
    );
    assert!(sites.iter().all(|s| s.1 % 6 == 0), "whole packs: {sites:?}");
    let no_seats = sites.iter().find(|s| s.0 == extra[1]).unwrap().1;
    assert_eq!(no_seats, 0, "a site with no seats gets no stock: {sites:?}");
    // The page shows each site's part of the new share.
    let page = bureau.get_text(&plan).await;
    let row = row_cells(&page, "data-town=\"T001\"");
    assert_eq!(number(&row[0]), share, "{row:?}");
    for (_, n) in &sites {
        assert!(page.contains(&format!("下发 {n} 剂")), "site share {n}");
    }

    let res = act(&bureau, &plan, "approve").await;
    assert_eq!(res.status(), 303);
    let shares = assert_carried_out(&app, plan_id(&plan));
    assert_eq!(shares["T001"], 300);
    // The notice on the bureau's list says the same 300.
    let notices = bureau.get_text(&plan).await;
    let told = row_cells(&notices, "<th scope=\"row\">测试镇T001</th>");
    assert_eq!(number(&told[0]), 300, "{told:?}");
}

#[actix_web::test]
async fn approval_racing_adjustments_ends_with_one_plan_carried_out_as_it_reads() {
    let app = spawn_app().await;
    let (a, _) = two_towns(&app);
    more_sites_in_town_a(&app, a);
    let bureau = login_as(&app, Role::Bureau).await;
    let plan = planned(&bureau, a).await;
    let page = bureau.get_text(&plan).await;
    let token = csrf_in(&page).unwrap();
    let approve = format!("{}{plan}/approve", app.address);
    let adjust_url = format!("{}{plan}/adjust", app.address);
    // 12 adjustments of both towns and 6 approvals, all at once (the approvals spread over
    // the first 170 ms).
    let requests = (0..18).map(|i| {
        let (c, token) = (bureau.client.clone(), token.clone());
        let (approve, adjust_url) = (approve.clone(), adjust_url.clone());
        async move {
            if i % 3 == 2 {
                // Approvals arrive while the adjustments are under way.
                actix_web::rt::time::sleep(std::time::Duration::from_millis(10 * i as u64)).await;
                let res = c
                    .post(approve)
                    .form(&[("csrf", token.as_str())])
                    .send()
                    .await
                    .unwrap();
                ("approve", res.status().as_u16())
            } else {
                let code = if i % 3 == 0 { "T001" } else { "T002" };
                let doses = (6 * (i + 1)).to_string();
                let reason = format!("调整{i}");
                let res = c
                    .post(adjust_url)
                    .form(&[
                        ("csrf", token.as_str()),
                        ("code", code),
                        ("doses", doses.as_str()),
                        ("reason", reason.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                ("adjust", res.status().as_u16())
            }
        }
    });
    let outcomes = join_all(requests).await;
    assert!(
        outcomes
            .iter()
            .all(|(what, s)| *s == 303 || (*what == "adjust" && *s == 409)),
        "every approval succeeds (once), every adjustment is made or refused as too late: \
         {outcomes:?}"
    );
    let accepted = outcomes
        .iter()
        .filter(|(what, s)| *what == "adjust" && *s == 303)
        .count();
    assert_eq!(app.count("allocation_plans", "status = 'approved'"), 1);
    assert_eq!(app.count("audit_log", "action = 'allocation.approve'"), 1);
    // Every adjustment acknowledged is in the approved plan; none is lost to another.
    let doc = plan_doc(&app, plan_id(&plan));
    let adjustments = doc["adjustments"].as_array().unwrap();
    assert_eq!(adjustments.len(), accepted, "{adjustments:?}");
    assert_eq!(
        app.count("audit_log", "action = 'allocation.adjust'"),
        accepted as i64
    );
    // Each town's share is the last adjustment made to it (or the optimal one).
    let shares = assert_carried_out(&app, plan_id(&plan));
    for code in ["T001", "T002"] {
        if let Some(last) = adjustments.iter().rev().find(|a| a["code"] == code) {
            assert_eq!(
                shares[code],
                last["to"].as_i64().unwrap(),
                "{code}: {adjustments:?}"
            );
        }
    }
    // Adjusting after the approval is refused and changes nothing.
    let res = adjust(&bureau, &plan, "T001", "6", "晚了").await;
    assert_eq!(res.status(), 409);
    assert_eq!(plan_doc(&app, plan_id(&plan)), doc);
}

#[actix_web::test]
async fn a_stored_plan_whose_sites_do_not_add_up_is_refused_and_moves_nothing() {
    let app = spawn_app().await;
    let (a, _) = two_towns(&app);
    let bureau = login_as(&app, Role::Bureau).await;
    let plan = planned(&bureau, a).await;
    // A draft saved by an older version: town T001's sites get less than its share.
    let mut doc = plan_doc(&app, plan_id(&plan));
    let town = doc["towns"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["code"] == "T001")
        .unwrap();
    let ship = town["ship"].as_u64().unwrap();
    town["ship"] = serde_json::json!(ship + 6);
    let read = dosewise::models::shipment::find_plan(&mut app.conn(), plan_id(&plan))
        .unwrap()
        .unwrap()
        .plan_json;
    assert!(dosewise::models::shipment::update_draft(
        &mut app.conn(),
        plan_id(&plan),
        &read,
        &doc.to_string()
    )
    .unwrap());
    let res = act(&bureau, &plan, "approve").await;
    assert_eq!(res.status(), 409);
    let page = res.text().await.unwrap();
    assert!(page.contains("重新生成方案"), "{page}");
    assert_eq!(app.count("allocation_plans", "status = 'approved'"), 0);
    assert_eq!(app.count("stock_movements", "kind = 'allocated'"), 0);
    assert_eq!(app.count("town_notices", "1=1"), 0);
    assert_eq!(app.count("shipments", "status = 'approved'"), 0);
}

/// A resident with no dose yet, waiting in each of `towns` since `at`; their mail goes to
/// `email`.
fn wait_in(app: &TestApp, email: &str, towns: &[i64], at: chrono::NaiveDateTime) {
    let mut c = app.conn();
    let rid = new_id();
    resident::insert(
        &mut c,
        &NewResident {
            id: rid,
            id_hash: format!("hash-{email}"),
            id_last4: "0000".into(),
            birth_date: chrono::NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(),
            name: "候补".into(),
            phone: "13900000000".into(),
            email: email.into(),
            lang: "zh-CN".into(),
            created_at: at,
        },
    )
    .unwrap();
    for town in towns {
        dosewise::models::waiting::insert(
            &mut c,
            &WaitingEntry {
                id: new_id(),
                town_id: *town,
                resident_id: rid,
                dose_number: 1,
                status: "waiting".into(),
                created_at: at,
                priority: 0,
            },
        )
        .unwrap();
    }
}

/// The recipients of the "seats opened" mail delivered so far, sorted.
fn told_seats_opened(app: &TestApp) -> Vec<String> {
    let mut to: Vec<String> = app
        .mails()
        .into_iter()
        .filter(|m| m.subject.contains("有新的接种名额"))
        .map(|m| m.to)
        .collect();
    to.sort();
    to
}

#[actix_web::test]
async fn approving_tells_the_first_in_line_in_each_town_one_person_per_first_dose_once() {
    let app = spawn_app().await;
    let (a, b) = two_towns(&app);
    {
        use diesel::prelude::*;
        diesel::delete(dosewise::db::schema::waiting_list::table)
            .execute(&mut *app.conn())
            .unwrap();
    }
    // x is first in line in both towns; then ten people in each town, in the order they joined.
    let t0 = test_now() - Duration::days(1);
    wait_in(&app, "x@example.com", &[a.town, b.town], t0);
    for k in 0..10i64 {
        let at = t0 + Duration::minutes(k + 1);
        wait_in(&app, &format!("a{k}@example.com"), &[a.town], at);
        wait_in(&app, &format!("b{k}@example.com"), &[b.town], at);
    }
    let bureau = login_as(&app, Role::Bureau).await;
    let plan = planned(&bureau, a).await;
    // Town B's share down to one pack: fewer first doses than the 11 people waiting there.
    let res = adjust(&bureau, &plan, "T002", "6", "道路中断").await;
    assert_eq!(res.status(), 303);
    let doc = plan_doc(&app, plan_id(&plan));
    let towns = doc["towns"].as_array().unwrap();
    let codes: Vec<&str> = towns.iter().map(|t| t["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        ["T001", "T002"],
        "towns are told in the plan's order"
    );
    // First doses out of the doses received (the rest of the plan's come from stock on hand).
    let received: Vec<usize> = towns
        .iter()
        .map(|t| {
            t["first"]
                .as_u64()
                .unwrap()
                .min(t["ship"].as_u64().unwrap()) as usize
        })
        .collect();
    let (ma, mb) = (received[0], received[1]);
    assert!((1..=11).contains(&ma), "town A gets first doses: {ma}");
    assert!(
        mb > 0 && mb < 11,
        "town B gets fewer first doses than it has waiting: {mb}"
    );

    let res = act(&bureau, &plan, "approve").await;
    assert_eq!(res.status(), 303);
    app.deliver_mail().await;
    // Town A: x, then the first in line; town B: its first mb, x having been told already.
    let mut expected: Vec<String> = std::iter::once("x@example.com".to_string())
        .chain((0..ma - 1).map(|k| format!("a{k}@example.com")))
        .chain((0..mb).map(|k| format!("b{k}@example.com")))
        .collect();
    expected.sort();
    assert_eq!(told_seats_opened(&app), expected);
    assert_eq!(
        app.count("outbox", "kind = 'seats_opened'"),
        (ma + mb) as i64
    );
    // The entries told are marked, the rest keep their place (x's in town B too).
    assert_eq!(
        app.count(
            "waiting_list",
            &format!("town_id = {} AND status = 'notified'", a.town)
        ),
        ma as i64
    );
    assert_eq!(
        app.count(
            "waiting_list",
            &format!("town_id = {} AND status = 'notified'", b.town)
        ),
        mb as i64
    );
    assert_eq!(
        app.count(
            "waiting_list",
            &format!("town_id = {} AND status = 'waiting'", b.town)
        ),
        11 - mb as i64
    );
    assert_eq!(
        app.count(
            "waiting_list",
            &format!(
                "town_id = {} AND status = 'waiting' AND resident_id = \
                 (SELECT id FROM residents WHERE email = 'x@example.com')",
                b.town
            )
        ),
        1,
        "x keeps their place in town B"
    );

    // Approving again tells nobody again.
    let res = act(&bureau, &plan, "approve").await;
    assert_eq!(res.status(), 303);
    app.deliver_mail().await;
    assert_eq!(told_seats_opened(&app), expected);
    assert_eq!(
        app.count("outbox", "kind = 'seats_opened'"),
        (ma + mb) as i64
    );
}
