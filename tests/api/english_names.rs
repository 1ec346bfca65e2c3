//! English data names (issue 13): towns, sites (name and address) and products have optional
//! English names, set in the admin forms or the CSV import, shown on English pages and in
//! English mail, and falling back to the Chinese name when empty.

use std::sync::{Arc, Mutex};

use diesel::prelude::*;
use dosewise::db::schema::{products, sites, towns};
use serde_json::json;

use crate::helpers::{
    login_as, plan_waiting_shipment, resident, spawn_app, spawn_app_with, City, Role, Session,
    TestApp, TestDb,
};
use crate::smtp::Sink;

/// A visitor whose pages are in `lang` (`en` or `zh-CN`).
async fn visitor(app: &TestApp, lang: &str) -> Session {
    let s = Session::new(app);
    assert_eq!(s.get(&format!("/lang/{lang}")).await.status(), 303);
    s
}

/// The names stored for the city: (town, site, address, product) English names.
fn english_names(
    app: &TestApp,
    city: City,
) -> (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
) {
    let mut c = app.conn();
    let t: Option<String> = towns::table
        .find(city.town)
        .select(towns::name_en)
        .first(&mut c)
        .unwrap();
    let (s, a): (Option<String>, Option<String>) = sites::table
        .find(city.site)
        .select((sites::name_en, sites::address_en))
        .first(&mut c)
        .unwrap();
    let p: Option<String> = products::table
        .find(city.product)
        .select(products::name_en)
        .first(&mut c)
        .unwrap();
    (t, s, a, p)
}

#[actix_web::test]
async fn english_pages_show_the_english_names_set_in_the_admin_forms_and_fall_back_to_chinese() {
    let app = spawn_app().await;
    let city = app.city();
    app.add_stock(city, 10);
    let slot = app.add_slot(city, 1, 5, 0);
    let admin = login_as(&app, Role::Admin).await;
    let town = format!("/admin/towns/{}", city.town);
    let res = admin
        .post_form(
            &town,
            &[
                ("code", "T001"),
                ("name", "测试镇T001"),
                ("name_en", "Testing Town"),
                ("eligible", "10000"),
                ("contact_emails", ""),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let site = format!("/admin/sites/{}", city.site);
    let res = admin
        .post_form(
            &site,
            &[
                ("town_id", &city.town.to_string()),
                ("name", "测试接种点"),
                ("address", "人民路1号"),
                ("name_en", "Testing Clinic"),
                ("address_en", "1 Renmin Road"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    // The forms show what is stored; the product has no English name yet.
    assert!(admin
        .get_text(&town)
        .await
        .contains("value=\"Testing Town\""));
    assert!(admin
        .get_text(&site)
        .await
        .contains("value=\"1 Renmin Road\""));
    assert_eq!(
        english_names(&app, city),
        (
            Some("Testing Town".into()),
            Some("Testing Clinic".into()),
            Some("1 Renmin Road".into()),
            None
        )
    );

    let en = visitor(&app, "en").await;
    let zh = visitor(&app, "zh-CN").await;
    let home = en.get_text("/").await;
    assert!(
        home.contains("Testing Town") && !home.contains("测试镇T001"),
        "{home}"
    );
    let page = en.get_text(&format!("/towns/{}", city.town)).await;
    assert!(
        page.contains("Testing Town") && page.contains("Testing Clinic"),
        "{page}"
    );
    assert!(
        page.contains("1 Renmin Road") && !page.contains("人民路1号"),
        "{page}"
    );
    let page = zh.get_text(&format!("/towns/{}", city.town)).await;
    assert!(
        page.contains("测试镇T001") && page.contains("测试接种点"),
        "{page}"
    );
    assert!(
        page.contains("人民路1号") && !page.contains("Testing"),
        "{page}"
    );
    // No English product name: the Chinese one, on English pages too.
    let book = format!("/slots/{slot}/book");
    let page = en.get_text(&book).await;
    assert!(
        page.contains("Testing Clinic") && page.contains("测试疫苗"),
        "{page}"
    );

    // The product's English name, through its form; an empty one falls back again.
    let product = format!("/admin/products/{}", city.product);
    let mut fields = vec![
        ("code", "P-T001"),
        ("name", "测试疫苗"),
        ("name_en", "Test Vaccine"),
        ("manufacturer", "测试"),
        ("doses_in_series", "2"),
        ("min_interval_days", "21"),
        ("max_interval_days", "56"),
        ("min_age_years", "0"),
        ("max_age_years", "120"),
        ("pack_size", "1"),
        ("reason", ""),
    ];
    assert_eq!(admin.post_form(&product, &fields).await.status(), 303);
    assert_eq!(english_names(&app, city).3.as_deref(), Some("Test Vaccine"));
    let page = en.get_text(&book).await;
    assert!(
        page.contains("Test Vaccine") && !page.contains("测试疫苗"),
        "{page}"
    );
    let page = zh.get_text(&book).await;
    assert!(
        page.contains("测试疫苗") && !page.contains("Test Vaccine"),
        "{page}"
    );
    let day = (crate::helpers::test_now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let page = en
        .get_text(&format!("/sites/{}?date={day}", city.site))
        .await;
    assert!(
        page.contains("Test Vaccine") && page.contains("Testing Clinic"),
        "{page}"
    );
    fields[2] = ("name_en", "  ");
    assert_eq!(admin.post_form(&product, &fields).await.status(), 303);
    assert_eq!(english_names(&app, city).3, None);
    let page = en.get_text(&book).await;
    assert!(page.contains("测试疫苗"), "{page}");
}

#[actix_web::test]
async fn the_csv_import_reads_english_names_when_given_and_old_files_still_import() {
    let app = spawn_app().await;
    let admin = login_as(&app, Role::Admin).await;
    let old = "type,town_code,name,eligible,contact_emails,address\n\
               town,T100,新镇,5000,office@new.example.cn,\n\
               site,T100,新镇卫生院,,,新街1号\n";
    let res = admin.post_form("/admin/import", &[("csv", old)]).await;
    assert_eq!(res.status(), 200);
    let new = "type,town_code,name,eligible,contact_emails,address,name_en,address_en\n\
               town,T200,东湖镇,8000,,,Donghu Town,\n\
               site,T200,东湖镇卫生院,,,建设路3号,Donghu Health Centre,3 Jianshe Road\n\
               site,T100,新镇二点,,,新街2号,,\n";
    let res = admin.post_form("/admin/import", &[("csv", new)]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.count("towns", "1=1"), 2);
    assert_eq!(app.count("sites", "1=1"), 3);
    assert_eq!(app.count("towns", "code = 'T100' AND name_en IS NULL"), 1);
    assert_eq!(
        app.count("towns", "code = 'T200' AND name_en = 'Donghu Town'"),
        1
    );
    assert_eq!(
        app.count(
            "sites",
            "name = '东湖镇卫生院' AND name_en = 'Donghu Health Centre' AND address_en = '3 Jianshe Road'"
        ),
        1
    );
    assert_eq!(
        app.count("sites", "name_en IS NULL AND address_en IS NULL"),
        2
    );
    // A town with an English address, or a row short of the header, is refused whole.
    let bad = "type,town_code,name,eligible,contact_emails,address,name_en,address_en\n\
               town,T300,西镇,10,,,West Town,1 Road\n\
               town,T301,北镇,10,,\n";
    let res = admin.post_form("/admin/import", &[("csv", bad)]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("address_en"), "{body}");
    assert_eq!(app.count("towns", "1=1"), 2);
}

#[actix_web::test]
async fn english_mail_names_the_site_and_vaccine_in_english_and_chinese_mail_in_chinese() {
    let store = Arc::new(Mutex::new(Vec::new()));
    let sink = Sink::start(0, store.clone());
    let transport = dosewise::mail::Transport::from_settings(Some(&sink.url()), "unused").unwrap();
    let app = spawn_app_with(TestDb::new(), transport, Arc::new(Mutex::new(Vec::new()))).await;
    let city = app.city();
    app.add_stock(city, 10);
    let slot = app.add_slot(city, 2, 5, 0);
    app.name_in_english(city, ["Testing Clinic", "1 Renmin Road", "Test Vaccine"]);
    for (who, lang) in [(1, "en"), (2, "zh-CN")] {
        let res = app.book_api_in(slot, 1, &resident(who), lang).await;
        assert_eq!(res.status(), 201);
    }
    assert_eq!(app.deliver_mail().await.sent, 2);
    let got = store.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let read = |to: &str| {
        let raw = got.iter().find(|m| m.contains(to)).unwrap();
        let m = crate::helpers::Mail::parse(raw.as_bytes());
        (m.subject, m.text, m.ics.unwrap_or_default())
    };
    let (subject, text, ics) = read("r1@example.com");
    assert!(subject.contains("Testing Clinic"), "{subject}");
    assert!(
        text.contains("1 Renmin Road") && text.contains("Test Vaccine"),
        "{text}"
    );
    assert!(
        !text.contains("测试接种点") && !text.contains("测试疫苗"),
        "{text}"
    );
    assert!(ics.contains("Testing Clinic"), "{ics}");
    let (subject, text, _) = read("r2@example.com");
    assert!(subject.contains("测试接种点"), "{subject}");
    assert!(
        text.contains("人民路1号") && text.contains("测试疫苗"),
        "{text}"
    );
    assert!(!text.contains("Testing"), "{text}");
}

#[actix_web::test]
async fn the_demo_city_reads_english_on_english_pages() {
    let app = spawn_app().await;
    app.demo_city(dosewise::demo::CityOptions {
        towns: 2,
        sites_per_town: 1,
        days: 3,
        seats_per_slot: 2,
        residents_in_series: 0,
        waiting_per_town: 0,
        stock_days: 1,
        users: false,
        ..dosewise::demo::CityOptions::demo()
    });
    let en = visitor(&app, "en").await;
    let home = en.get_text("/").await;
    assert!(
        home.contains("Chengguan Town") && home.contains("Donghu Town"),
        "{home}"
    );
    let town: i64 = {
        let mut c = app.conn();
        towns::table
            .filter(towns::code.eq("T001"))
            .select(towns::id)
            .first(&mut c)
            .unwrap()
    };
    let page = en.get_text(&format!("/towns/{town}")).await;
    assert!(page.contains("Chengguan Community Health Centre"), "{page}");
    assert!(page.contains("10 Renmin Road"), "{page}");
    assert_eq!(app.count("products", "name_en IS NULL"), 0);
    assert_eq!(
        app.count("sites", "name_en IS NULL OR address_en IS NULL"),
        0
    );
    let zh = visitor(&app, "zh-CN").await;
    assert!(zh.get_text("/").await.contains("城关镇"));
}

#[actix_web::test]
async fn staff_and_bureau_pages_and_the_towns_api_carry_the_english_names() {
    let app = spawn_app().await;
    let city = app.city();
    diesel::update(towns::table.find(city.town))
        .set(towns::name_en.eq("Riverside"))
        .execute(&mut app.conn())
        .unwrap();
    let (zh_site, zh_product) =
        app.name_in_english(city, ["Riverside Clinic", "10 River Road", "Testvax"]);

    // The desk: the site's name in the staff member's language.
    let nurse = login_as(&app, Role::Clinic(city.site)).await;
    let desk = format!("/staff/sites/{}", city.site);
    let zh = nurse.get_text(&desk).await;
    assert!(
        zh.contains(&zh_site) && !zh.contains("Riverside Clinic"),
        "{zh}"
    );
    assert_eq!(nurse.get("/lang/en").await.status(), 303);
    let en = nurse.get_text(&desk).await;
    assert!(en.contains("Riverside Clinic"), "{en}");

    // The bureau's shipments: the vaccine's name in the bureau's language.
    let bureau = login_as(&app, Role::Bureau).await;
    let zh = bureau.get_text("/bureau/shipments").await;
    assert!(zh.contains(&zh_product) && !zh.contains("Testvax"), "{zh}");
    assert_eq!(bureau.get("/lang/en").await.status(), 303);
    let en = bureau.get_text("/bureau/shipments").await;
    assert!(en.contains("Testvax"), "{en}");
    // The dashboard: the town selector and the stock figure's site.
    let dash = bureau.get_text("/bureau").await;
    assert!(dash.contains(">Riverside</option>"), "{dash}");
    assert!(dash.contains("Riverside Clinic"), "{dash}");

    // The admin's lists: towns, sites (with their town and address), vaccines and the users'
    // site chooser, in the admin's language; Chinese pages keep the Chinese names.
    let admin = login_as(&app, Role::Admin).await;
    assert_eq!(admin.get("/lang/en").await.status(), 303);
    for (path, english) in [
        ("/admin/towns", &["Riverside"][..]),
        (
            "/admin/sites",
            &["Riverside Clinic", "10 River Road", "Riverside"][..],
        ),
        ("/admin/products", &["Testvax"][..]),
        ("/admin/users", &["Riverside Clinic"][..]),
    ] {
        let en = admin.get_text(path).await;
        for name in english {
            assert!(en.contains(name), "{path}: {name}");
        }
        assert!(
            !en.contains(&zh_site) && !en.contains(&zh_product),
            "{path}: {en}"
        );
    }
    assert_eq!(admin.get("/lang/zh-CN").await.status(), 303);
    assert!(admin.get_text("/admin/sites").await.contains(&zh_site));

    // The API gives both names; a town or site without an English name gives null.
    let v: serde_json::Value = app.get("/api/v1/towns").await.json().await.unwrap();
    let town = v
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == json!(city.town.to_string()) || t["id"] == json!(city.town))
        .expect("the city's town");
    assert_eq!(town["name_en"], "Riverside");
    assert_eq!(town["sites"][0]["name_en"], "Riverside Clinic");
    assert_eq!(town["sites"][0]["address_en"], "10 River Road");
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["id"] != town["id"])
        .all(|t| t["name_en"].is_null()));
}

#[actix_web::test]
async fn the_bureau_s_plan_exports_and_audit_pages_name_towns_and_sites_in_the_page_s_language() {
    let app = spawn_app().await;
    app.demo_city(dosewise::demo::CityOptions {
        towns: 2,
        sites_per_town: 1,
        days: 10,
        residents_in_series: 4,
        waiting_per_town: 2,
        users: false,
        ..dosewise::demo::CityOptions::demo()
    });
    // A booking in 城关镇 (T001): its audit entry is in that town.
    let slot: i64 = {
        use dosewise::db::schema::slots;
        let t001 = towns::table
            .filter(towns::code.eq("T001"))
            .select(towns::id);
        let site = sites::table
            .filter(sites::town_id.eq_any(t001))
            .select(sites::id);
        slots::table
            .filter(slots::site_id.eq_any(site))
            .filter(slots::starts_at.gt(crate::helpers::test_now() + chrono::Duration::days(1)))
            .order(slots::starts_at.asc())
            .select(slots::id)
            .first(&mut app.conn())
            .unwrap()
    };
    let res = app.book_api_in(slot, 1, &resident(1), "zh-CN").await;
    assert_eq!(res.status(), 201);
    let bureau = login_as(&app, Role::Bureau).await;
    let plan = plan_waiting_shipment(&bureau).await;

    // The plan stored the Chinese names; each page names towns and sites in its own language.
    let zh = bureau.get_text(&plan).await;
    assert!(
        zh.contains("城关镇") && zh.contains("城关社区卫生服务中心"),
        "{zh}"
    );
    assert!(!zh.contains("Chengguan Town"), "{zh}");
    assert_eq!(bureau.get("/lang/en").await.status(), 303);
    let en = bureau.get_text(&plan).await;
    assert!(
        en.contains("Chengguan Town") && en.contains("Chengguan Community Health Centre"),
        "{en}"
    );
    let audit = bureau.get_text("/bureau/audit").await;
    assert!(audit.contains("<td>Chengguan Town</td>"), "{audit}");
    for page in [plan.as_str(), "/bureau/exports", "/bureau/audit"] {
        let en = bureau.get_text(page).await;
        assert!(en.contains("Donghu Town"), "{page}: {en}");
        assert!(
            !en.contains("城关镇") && !en.contains("东湖镇"),
            "{page}: {en}"
        );
    }
    let choice = bureau.get_text("/bureau/exports").await;
    assert!(choice.contains(">Chengguan Town</option>"), "{choice}");
}
