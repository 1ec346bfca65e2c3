//! Generated hostile input. The route table (`src/web/mod.rs`) is read and every route is
//! probed: each form and JSON endpoint gets a valid request with one thing broken (a field of
//! the wrong type, too long, empty, missing or duplicated, with a NUL or other control
//! character, a text-direction override, broken UTF-8, an out-of-range number or date), whole
//! bodies of the wrong type, size or encoding, and hostile path segments; every GET route gets
//! hostile path segments and query strings. The probes are generated from one seed, so a
//! failure reproduces, and are sent concurrently in batches.
//!
//! Checked: no answer is a 5xx; every broken form or JSON request is refused (4xx); a text field
//! with a control or text-direction character names the problem on the form (or in the JSON);
//! and nothing is written: a digest of every table is the same before and after. Finally each
//! valid request the probes were derived from is sent once and must be accepted, which shows
//! that every probe differed from an accepted request in one thing only.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{Duration, NaiveDate};
use diesel::sql_types::{BigInt, Text};
use diesel::RunQueryDsl;
use futures::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use dosewise::ids::new_id;
use dosewise::models::{town, NewTown};

use crate::helpers::{
    add_user, cleared_screening, client, csrf_in, id_number, resident, spawn_app, test_now,
    Session, TestApp, PASSWORD,
};

/// The seed of every generated value.
const SEED: u64 = 0x0D05_E715_E000_0010;
/// Requests in flight at once.
const BATCH: usize = 24;
/// Part of `err.text.chars` in Chinese (the default language).
const CHARS_MESSAGE: &str = "不能使用的字符";

/// Tables a refused request may legitimately change. A refused request writes nothing, not even
/// a session or an audit row (failed logins are logged by `tracing`, not stored); the one
/// exception is `readiness`, whose single row `GET /readyz` rewrites on every probe by design
/// (it proves a write can commit). A table added here needs its reason.
const EXCLUDED_TABLES: &[&str] = &["readiness"];

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    /// A visitor without cookies but the CSRF one.
    Anon,
    /// A resident's browser holding the grant to one appointment.
    Resident,
    /// A browser that is not logged in, used for the login form.
    Fresh,
    Clinic,
    Bureau,
    Admin,
}

/// What a form field holds, and so how it can be broken.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Free text; `required` fields may not be empty.
    Text { required: bool, multiline: bool },
    /// A secret (passwords): refused when broken, but the page need not say why.
    Secret,
    /// A whole number in `[min, max]`.
    Int { min: i64, max: i64 },
    /// An id of a row; `required`: may not be empty.
    Id { required: bool },
    /// A date `YYYY-MM-DD`.
    Date,
    /// A time `HH:MM`; `required`: may not be empty.
    Time { required: bool },
    /// A value from a fixed list (radio buttons, a select).
    Choice,
    /// The CSRF token.
    Csrf,
}

#[derive(Debug, Clone)]
struct Field {
    name: &'static str,
    kind: Kind,
    value: String,
}

/// Fields read leniently on purpose: a checkbox, the page to go to after login, the count of
/// affected appointments the admin confirmed. Sent with the base, never broken alone.
#[derive(Debug, Clone)]
struct Lenient(&'static str, String);

#[derive(Debug, Clone)]
enum Body {
    Form(Vec<Field>, Vec<Lenient>),
    /// A JSON body and its breakable fields: (path, is text).
    Json(Value, Vec<(Vec<&'static str>, bool)>),
}

/// One POST route with a valid request.
#[derive(Debug, Clone)]
struct Spec {
    pattern: &'static str,
    path: String,
    who: Who,
    body: Body,
}

/// One request to send.
#[derive(Debug, Clone)]
struct Probe {
    label: String,
    who: Who,
    post: bool,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
    /// Must be refused with a 4xx (else: only no 5xx).
    refuse: bool,
    /// Must name the bad characters: on the page, or as `(field)` in the JSON.
    explains: Option<Explains>,
}

#[derive(Debug, Clone)]
enum Explains {
    Page,
    Json(&'static str),
}

/// Everything the valid requests refer to.
struct World {
    town: i64,
    spare_town: i64,
    site: i64,
    product: i64,
    slot_now: i64,
    slot_a: i64,
    slot_b: i64,
    code_booked: String,
    code_checked_in: String,
    code_api: String,
    code_resident: String,
    vaccination: i64,
    shipment: i64,
    plan: i64,
    spare_user: i64,
    today: NaiveDate,
    /// A member of the resident's household, who holds no booking.
    member: i64,
}

#[actix_web::test]
async fn a_thousand_generated_hostile_inputs_get_no_5xx_and_write_nothing() {
    let started = std::time::Instant::now();
    let app = spawn_app().await;
    let (world, clients) = build_world(&app).await;
    let mut tokens = HashMap::new();
    for (who, c) in &clients {
        tokens.insert(*who, token_of(&app, c, *who).await);
    }
    let specs = specs(&world, &tokens);
    let table = route_table();

    // Every POST route of the table has a valid request to break.
    for (post, pattern) in &table {
        if *post {
            assert!(
                specs.iter().any(|s| s.pattern == pattern),
                "the route table's POST {pattern} has no hostile-input spec here"
            );
        }
    }
    for s in &specs {
        assert!(
            table.iter().any(|(post, p)| *post && p == s.pattern),
            "{} is not a POST route of the table",
            s.pattern
        );
    }

    let mut rng = StdRng::seed_from_u64(SEED);
    let mut probes = Vec::new();
    for s in &specs {
        probes.extend(post_probes(&mut rng, s));
    }
    for (post, pattern) in &table {
        if !*post {
            probes.extend(get_probes(&mut rng, pattern, &world));
        }
    }
    let refusals = probes.iter().filter(|p| p.refuse).count();
    assert!(
        refusals >= 1000,
        "only {refusals} hostile form and JSON requests were generated"
    );

    let before = snapshot(&app);
    let mut failures = Vec::new();
    for batch in probes.chunks(BATCH) {
        let results = join_all(batch.iter().map(|p| send(&app, &clients[&p.who], p))).await;
        for (p, (status, body)) in batch.iter().zip(results) {
            if let Some(problem) = judge(p, status, &body) {
                failures.push(format!("{problem}: {} {}", p.path, p.label));
            }
        }
    }
    let after = snapshot(&app);
    let changed: Vec<String> = before
        .iter()
        .filter(|(t, v)| after.get(*t) != Some(v))
        .map(|(t, v)| format!("{t}: {v:?} -> {:?}", after.get(t)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} probes failed:\n{}",
        failures.len(),
        probes.len(),
        failures
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        changed.is_empty(),
        "refused requests wrote rows:\n{}",
        changed.join("\n")
    );
    assert!(
        before.len() >= 20,
        "the snapshot saw {} tables",
        before.len()
    );

    // The requests the probes were made from are valid: each is accepted.
    let mut refused = Vec::new();
    // No draw entry exists in this world, so a well-formed entry look-up is a 404 here; their
    // valid use is tested in `draw.rs`.
    const NO_VALID_REQUEST: [&str; 2] = ["/entry/find", "/api/v1/entries/lookup"];
    for s in control_order(&specs) {
        if NO_VALID_REQUEST.contains(&s.pattern) {
            continue;
        }
        let p = base_probe(s);
        let (status, body) = send(&app, &clients[&p.who], &p).await;
        if status >= 400 {
            let snippet: String = body.chars().take(300).collect();
            refused.push(format!("{} {status}: {snippet}", s.path));
        }
    }
    assert!(
        refused.is_empty(),
        "valid requests were refused:\n{}",
        refused.join("\n")
    );
    // And the digest sees writes: the valid requests changed these tables.
    let written = snapshot(&app);
    for t in [
        "appointments",
        "residents",
        "vaccinations",
        "towns",
        "users",
        "shipments",
    ] {
        assert_ne!(
            written.get(t),
            before.get(t),
            "the digest missed {t} changing"
        );
    }
    eprintln!(
        "hostile input: {} probes ({refusals} to refuse) in {:?}",
        probes.len(),
        started.elapsed()
    );
}

/// The inputs of the report, one by one: each is refused with a message saying what is wrong
/// (in Chinese, and in English for an English browser), and nothing is written.
#[actix_web::test]
async fn the_reported_inputs_are_refused_with_a_clear_message_and_write_nothing() {
    let app = spawn_app().await;
    let (w, clients) = build_world(&app).await;
    let mut tokens = HashMap::new();
    for (who, c) in &clients {
        tokens.insert(*who, token_of(&app, c, *who).await);
    }
    let post = |who: Who, path: String, form: Vec<(&'static str, String)>| {
        let c = clients[&who].clone();
        let url = format!("{}{path}", app.address);
        let mut form = form;
        form.push(("csrf", tokens[&who].clone()));
        async move {
            let res = c.post(url).form(&form).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let before = snapshot(&app);
    let r = |s: &str| s.replace("RLO", "\u{202E}").replace("NUL", "\0");
    type Case = (&'static str, Who, String, Vec<(&'static str, String)>);
    let cases: Vec<Case> = vec![
        (
            "a NUL in the login username",
            Who::Fresh,
            "/login".into(),
            vec![("username", r("rootNUL")), ("password", PASSWORD.into())],
        ),
        (
            "a NUL in the dose's lot",
            Who::Clinic,
            format!("/staff/checkin/{}/dose", w.code_checked_in),
            vec![
                ("lot", r("LOTNUL1")),
                ("dose_number", "1".into()),
                ("time", "10:05".into()),
            ],
        ),
        (
            "a NUL in the wasted lot",
            Who::Clinic,
            format!("/staff/sites/{}/wastage", w.site),
            vec![
                ("lot", r(&format!("{}:LOTNUL1", w.product))),
                ("doses", "1".into()),
                ("kind", "broken".into()),
                ("reason", "摔碎".into()),
            ],
        ),
        (
            "a NUL in the reason of an adjustment",
            Who::Bureau,
            format!("/bureau/plans/{}/adjust", w.plan),
            vec![
                ("code", "T001".into()),
                ("doses", "0".into()),
                ("reason", r("停电NUL")),
            ],
        ),
        (
            "a right-to-left override in a resident's email",
            Who::Anon,
            format!("/slots/{}/book", w.slot_a),
            {
                let mut f: Vec<(&'static str, String)> = ["name", "id_number", "phone"]
                    .into_iter()
                    .map(|k| (k, resident(910)[k].as_str().unwrap().to_string()))
                    .collect();
                f.push(("email", r("RLOmoc.elpmaxe@il")));
                f.push(("dose_number", "1".into()));
                f
            },
        ),
        (
            "a right-to-left override in a town's name",
            Who::Admin,
            "/admin/towns".into(),
            vec![
                ("code", "T778".into()),
                ("name", r("城关RLO镇")),
                ("eligible", "100".into()),
                ("contact_emails", "".into()),
            ],
        ),
        (
            "a right-to-left override in a site's address",
            Who::Admin,
            "/admin/sites".into(),
            vec![
                ("town_id", w.town.to_string()),
                ("name", "新点".into()),
                ("address", r("人民路RLO1号")),
            ],
        ),
    ];
    for (what, who, path, form) in cases {
        let (status, page) = post(who, path, form).await;
        assert_eq!(status, 422, "{what}: {page}");
        assert!(page.contains(CHARS_MESSAGE), "{what}: {page}");
    }
    // The JSON API names the field.
    let mut who = resident(911);
    who["name"] = json!("王RLO小明".replace("RLO", "\u{202E}"));
    let res = app.book_api(w.slot_a, 1, &who).await;
    assert_eq!(res.status(), 422);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["field"], "name");
    assert!(v["error"].as_str().unwrap().contains(CHARS_MESSAGE), "{v}");
    // Dates: out of PostgreSQL's range, and out of 2000-2100.
    for (date, message) in [
        ("-262143-01-01", "年-月-日"),
        ("+262143-12-31", "年-月-日"),
        ("2101-01-01", "2000 年到 2100 年"),
    ] {
        let res = app
            .get(&format!(
                "/api/v1/availability?site={}&date={}",
                w.site,
                enc(date.as_bytes())
            ))
            .await;
        assert_eq!(res.status(), 422, "{date}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["field"], "date", "{date}");
        assert!(
            v["error"].as_str().unwrap().contains(message),
            "{date}: {v}"
        );
    }
    // In English for an English browser.
    let res = clients[&Who::Admin]
        .post(format!("{}/admin/towns", app.address))
        .header("accept-language", "en")
        .form(&[
            ("csrf", tokens[&Who::Admin].as_str()),
            ("code", "T779"),
            ("name", "East\u{2067}Lake"),
            ("eligible", "100"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("characters that cannot be used here"),
        "{page}"
    );
    assert_eq!(snapshot(&app), before, "nothing was written");
}

// ---- the world --------------------------------------------------------------------------------

async fn build_world(app: &TestApp) -> (World, HashMap<Who, reqwest::Client>) {
    let city = app.city();
    let slot_now = app.add_slot(city, 0, 20, 0);
    let mut later = Vec::new();
    for d in 1..=10 {
        later.push(app.add_slot(city, d, 20, 0));
    }
    let (slot_a, slot_b) = (later[1], later[2]);
    app.add_lot(
        city,
        "LOT1",
        NaiveDate::from_ymd_opt(2031, 1, 1).unwrap(),
        200,
    );
    let spare_town = new_id();
    town::insert(
        &mut app.conn(),
        &NewTown {
            id: spare_town,
            code: "TDEL".into(),
            name: "待删镇".into(),
            eligible: 10,
            contact_emails: String::new(),
            active: true,
            name_en: None,
        },
    )
    .unwrap();
    let mut spare_user = 0;
    for (name, role, site) in [
        ("nurse", "clinic", Some(city.site)),
        ("officer", "bureau", None),
        ("root", "admin", None),
        ("spare", "clinic", Some(city.site)),
    ] {
        let id = add_user(app, name, role, site);
        if name == "spare" {
            spare_user = id;
        }
    }
    let mut clients = HashMap::new();
    for (who, name) in [
        (Who::Clinic, "nurse"),
        (Who::Bureau, "officer"),
        (Who::Admin, "root"),
    ] {
        let c = Session::new(app);
        assert_eq!(c.login(name, PASSWORD).await.status(), 303);
        clients.insert(who, c.client);
    }
    clients.insert(Who::Anon, client());
    clients.insert(Who::Fresh, client());

    // Bookings made before the slot starts; then the clock moves into it (10:05).
    let mut codes = Vec::new();
    for (i, slot) in [(1, slot_now), (2, slot_now), (3, slot_now), (4, slot_a)] {
        let res = app.book_api(slot, 1, &resident(i)).await;
        assert_eq!(res.status(), 201, "booking {i}");
        let v: Value = res.json().await.unwrap();
        codes.push(v["code"].as_str().unwrap().to_string());
    }
    let holder = crate::helpers::Session::new(app);
    let path = format!("/slots/{slot_a}/book");
    let page = get_with(app, &holder.client, &path).await;
    let tok = csrf_in(&page).unwrap();
    let mut form = vec![("csrf".to_string(), tok)];
    form.extend(crate::helpers::resident_form(5));
    form.push(("dose_number".into(), "1".into()));
    let res = holder.post_raw(&path, &form).await;
    assert_eq!(res.status(), 303, "the resident's own booking");
    let code_resident = diesel::sql_query(format!(
        "SELECT code AS name FROM appointments WHERE slot_id = {slot_a} AND code <> '{}'",
        codes[3]
    ))
    .get_result::<Name>(&mut *app.conn())
    .unwrap()
    .name;
    let tok = csrf_in(&get_with(app, &holder.client, "/household").await).unwrap();
    let member_id = id_number(920);
    let res = holder
        .post_raw(
            "/household/members",
            &[
                ("csrf", tok.as_str()),
                ("name", "测试丙"),
                ("id_number", member_id.as_str()),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "a household member");
    let member = one_id(
        app,
        "SELECT m.resident_id AS n FROM household_members m \
         JOIN residents r ON r.id = m.resident_id WHERE r.name = '测试丙'",
    );
    clients.insert(Who::Resident, holder.client);
    app.clock
        .set(test_now() + Duration::hours(1) + Duration::minutes(5));

    let nurse = &clients[&Who::Clinic];
    let tok = csrf_in(&get_with(app, nurse, "/staff").await).unwrap();
    for (i, code) in [(2, &codes[1]), (3, &codes[2])] {
        let res = nurse
            .post(format!("{}/staff/checkin/{code}", app.address))
            .form(
                &[
                    &[("csrf", tok.as_str())][..],
                    &cleared_screening(&id_number(i)[14..]),
                ]
                .concat(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "check-in {i}");
    }
    let res = nurse
        .post(format!("{}/staff/checkin/{}/dose", app.address, codes[2]))
        .form(&[
            ("csrf", tok.as_str()),
            ("lot", "LOT1"),
            ("dose_number", "1"),
            ("time", "10:05"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the dose");
    let vaccination = one_id(app, "SELECT id AS n FROM vaccinations");

    let officer = &clients[&Who::Bureau];
    let tok = csrf_in(&get_with(app, officer, "/bureau/shipments").await).unwrap();
    let today = NaiveDate::from_ymd_opt(2030, 3, 4).unwrap();
    let mut shipment = shipment_form(city.product, today, "SH-1");
    shipment.push(("csrf".into(), tok.clone()));
    let res = officer
        .post(format!("{}/bureau/shipments", app.address))
        .form(&shipment)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the shipment");
    let shipment = id_in_location(&res);
    let res = officer
        .post(format!("{}/bureau/shipments/{shipment}/plan", app.address))
        .form(&[("csrf", tok.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the plan");
    let plan = id_in_location(&res);

    let world = World {
        town: city.town,
        spare_town,
        site: city.site,
        product: city.product,
        slot_now,
        slot_a,
        slot_b,
        code_booked: codes[0].clone(),
        code_checked_in: codes[1].clone(),
        code_api: codes[3].clone(),
        code_resident,
        vaccination,
        shipment,
        plan,
        spare_user,
        today,
        member,
    };
    (world, clients)
}

fn shipment_form(product: i64, today: NaiveDate, lot: &str) -> Vec<(String, String)> {
    [
        ("product_id", product.to_string()),
        ("doses", "60".into()),
        ("received_on", today.to_string()),
        ("next_expected_on", (today + Duration::days(14)).to_string()),
        ("next_latest_on", (today + Duration::days(21)).to_string()),
        ("lots", format!("{lot}, 2031-01-31, 60")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

async fn get_with(app: &TestApp, c: &reqwest::Client, path: &str) -> String {
    crate::helpers::text_of(c.get(format!("{}{path}", app.address))).await
}

async fn token_of(app: &TestApp, c: &reqwest::Client, who: Who) -> String {
    let page = match who {
        Who::Clinic => "/staff",
        Who::Bureau => "/bureau/shipments",
        Who::Admin => "/admin/towns",
        _ => "/find",
    };
    csrf_in(&get_with(app, c, page).await).unwrap_or_else(|| panic!("no token for {who:?}"))
}

fn id_in_location(res: &reqwest::Response) -> i64 {
    let loc = res.headers()["location"].to_str().unwrap();
    loc.trim_start_matches('/')
        .split('/')
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no id in {loc}"))
}

fn one_id(app: &TestApp, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<N>(&mut *app.conn())
        .unwrap()
        .n
}

// ---- the valid requests ----------------------------------------------------------------------

fn text(name: &'static str, value: &str) -> Field {
    Field {
        name,
        kind: Kind::Text {
            required: true,
            multiline: false,
        },
        value: value.into(),
    }
}

fn field(name: &'static str, kind: Kind, value: impl ToString) -> Field {
    Field {
        name,
        kind,
        value: value.to_string(),
    }
}

fn lines(name: &'static str, required: bool, value: &str) -> Field {
    field(
        name,
        Kind::Text {
            required,
            multiline: true,
        },
        value,
    )
}

fn resident_fields(i: u32) -> Vec<Field> {
    let r = resident(i);
    ["name", "id_number", "phone", "email"]
        .into_iter()
        .map(|k| text(k, r[k].as_str().unwrap()))
        .collect()
}

fn specs(w: &World, tokens: &HashMap<Who, String>) -> Vec<Spec> {
    let csrf = |who: Who| field("csrf", Kind::Csrf, &tokens[&who]);
    let form = |pattern: &'static str, path: String, who: Who, mut fields: Vec<Field>| {
        fields.push(csrf(who));
        Spec {
            pattern,
            path,
            who,
            body: Body::Form(fields, Vec::new()),
        }
    };
    let with_lenient = |mut s: Spec, extra: Vec<Lenient>| {
        if let Body::Form(_, l) = &mut s.body {
            *l = extra;
        }
        s
    };
    let int = |min, max| Kind::Int { min, max };
    let id = Kind::Id { required: true };
    let time = Kind::Time { required: true };
    let (site, product, town) = (w.site, w.product, w.town);
    let mut out = Vec::new();

    // Residents.
    let mut book = resident_fields(900);
    book.push(field("dose_number", int(1, 10), 1));
    out.push(form(
        "/slots/{id}/book",
        format!("/slots/{}/book", w.slot_a),
        Who::Anon,
        book,
    ));
    out.push(form(
        "/towns/{id}/wait",
        format!("/towns/{town}/wait"),
        Who::Anon,
        resident_fields(901),
    ));
    out.push(form(
        "/find",
        "/find".into(),
        Who::Anon,
        vec![
            text("code", &w.code_resident),
            text("id_number", &id_number(5)),
        ],
    ));
    out.push(form(
        "/verify",
        "/verify".into(),
        Who::Anon,
        vec![text("payload", "DW1.e30.AAAA")],
    ));
    out.push(form(
        "/appointment/move",
        "/appointment/move".into(),
        Who::Resident,
        vec![field("slot_id", id, w.slot_b)],
    ));
    out.push(form(
        "/appointment/cancel",
        "/appointment/cancel".into(),
        Who::Resident,
        vec![],
    ));
    // Households (issue 13).
    out.push(form(
        "/household/find",
        "/household/find".into(),
        Who::Anon,
        vec![
            text("code", &w.code_resident),
            text("id_number", &id_number(5)),
        ],
    ));
    out.push(form(
        "/household/members",
        "/household/members".into(),
        Who::Resident,
        vec![text("name", "测试丁"), text("id_number", &id_number(921))],
    ));
    out.push(form(
        "/household/book",
        "/household/book".into(),
        Who::Resident,
        vec![
            field("member", id, w.member),
            field("slot_id", id, w.slot_b),
        ],
    ));
    // Logging in and out.
    out.push(with_lenient(
        form(
            "/login",
            "/login".into(),
            Who::Fresh,
            vec![
                text("username", "root"),
                field("password", Kind::Secret, PASSWORD),
            ],
        ),
        vec![Lenient("next", String::new())],
    ));
    out.push(form("/logout", "/logout".into(), Who::Bureau, vec![]));
    // The clinic desk.
    out.push(form(
        "/staff/checkin/{code}",
        format!("/staff/checkin/{}", w.code_booked),
        Who::Clinic,
        vec![
            text("last4", &id_number(1)[14..]),
            field("fever", Kind::Choice, "no"),
            field("allergy", Kind::Choice, "yes"),
            field("pregnant", Kind::Choice, "no"),
            field("recent_vaccine", Kind::Choice, "no"),
            field("decision", Kind::Choice, "defer"),
            lines("reason", true, "自述对鸡蛋过敏\n需先咨询医生"),
        ],
    ));
    out.push(form(
        "/staff/checkin/{code}/dose",
        format!("/staff/checkin/{}/dose", w.code_checked_in),
        Who::Clinic,
        vec![
            field("lot", Kind::Choice, "LOT1"),
            field("dose_number", int(1, 10), 1),
            field("time", time, "10:05"),
        ],
    ));
    let mut walk_in = resident_fields(903);
    // A walk-in's e-mail address is optional (issue 14).
    for f in walk_in.iter_mut().filter(|f| f.name == "email") {
        f.kind = Kind::Text {
            required: false,
            multiline: false,
        };
    }
    walk_in.push(field("slot", id, w.slot_now));
    out.push(form(
        "/staff/sites/{id}/walk-in",
        format!("/staff/sites/{site}/walk-in"),
        Who::Clinic,
        walk_in,
    ));
    out.push(form(
        "/staff/sites/{id}/wastage",
        format!("/staff/sites/{site}/wastage"),
        Who::Clinic,
        vec![
            field("lot", Kind::Choice, format!("{product}:LOT1")),
            field("doses", int(1, 1000), 1),
            field("kind", Kind::Choice, "broken"),
            lines("reason", true, "掉落摔碎"),
        ],
    ));
    out.push(form(
        "/staff/sites/{id}/no-shows",
        format!("/staff/sites/{site}/no-shows"),
        Who::Clinic,
        vec![field("slot", Kind::Id { required: false }, "")],
    ));
    out.push(form(
        "/staff/vaccinations/{id}/reaction",
        format!("/staff/vaccinations/{}/reaction", w.vaccination),
        Who::Clinic,
        vec![
            field("severity", Kind::Choice, "mild"),
            lines("symptoms", true, "注射部位红肿"),
            lines("action", true, "冷敷，继续观察"),
            field("time", time, "10:05"),
        ],
    ));
    // The bureau.
    let ship: Vec<Field> = shipment_form(product, w.today, "SH-2")
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "product_id" => field("product_id", id, v),
            "doses" => field("doses", int(1, 10_000_000), v),
            "lots" => lines("lots", true, &v),
            "received_on" => field("received_on", Kind::Date, v),
            "next_expected_on" => field("next_expected_on", Kind::Date, v),
            _ => field("next_latest_on", Kind::Date, v),
        })
        .collect();
    out.push(form(
        "/bureau/shipments",
        "/bureau/shipments".into(),
        Who::Bureau,
        ship,
    ));
    out.push(form(
        "/bureau/shipments/{id}/plan",
        format!("/bureau/shipments/{}/plan", w.shipment),
        Who::Bureau,
        vec![],
    ));
    out.push(form(
        "/bureau/plans/{id}/adjust",
        format!("/bureau/plans/{}/adjust", w.plan),
        Who::Bureau,
        vec![
            text("code", "T001"),
            field("doses", int(0, 100_000_000), 0),
            text("reason", "该镇本周接种点停电"),
        ],
    ));
    out.push(form(
        "/bureau/plans/{id}/approve",
        format!("/bureau/plans/{}/approve", w.plan),
        Who::Bureau,
        vec![],
    ));
    // City set-up.
    let town_fields = |code: &str, name: &str| {
        vec![
            text("code", code),
            text("name", name),
            field("eligible", int(0, 100_000_000), 10_000),
            field(
                "contact_emails",
                Kind::Text {
                    required: false,
                    multiline: false,
                },
                "office@t.example.cn; chief@t.example.cn",
            ),
        ]
    };
    out.push(form(
        "/admin/towns",
        "/admin/towns".into(),
        Who::Admin,
        town_fields("T777", "新建镇"),
    ));
    out.push(with_lenient(
        form(
            "/admin/towns/{id}",
            format!("/admin/towns/{town}"),
            Who::Admin,
            town_fields("T001", "测试镇T001"),
        ),
        vec![Lenient("active", "on".into())],
    ));
    out.push(form(
        "/admin/towns/{id}/delete",
        format!("/admin/towns/{}/delete", w.spare_town),
        Who::Admin,
        vec![],
    ));
    let product_fields = |code: &str, name: &str| {
        vec![
            text("code", code),
            text("name", name),
            text("manufacturer", "测试"),
            field("doses_in_series", int(1, 5), 2),
            field("min_interval_days", int(0, 365), 21),
            field("max_interval_days", int(0, 365), 56),
            field("min_age_years", int(0, 120), 0),
            field("max_age_years", int(0, 120), 120),
            field("pack_size", int(1, 1000), 1),
            // Optional; not empty here, so that what is inserted lands inside it.
            field(
                "reason",
                Kind::Text {
                    required: false,
                    multiline: false,
                },
                "例行核对",
            ),
        ]
    };
    out.push(form(
        "/admin/products",
        "/admin/products".into(),
        Who::Admin,
        product_fields("P-NEW", "新疫苗"),
    ));
    out.push(form(
        "/admin/products/{id}",
        format!("/admin/products/{product}"),
        Who::Admin,
        product_fields("P-T001", "测试疫苗"),
    ));
    let site_fields = |name: &str, address: &str| {
        vec![
            field("town_id", id, town),
            text("name", name),
            text("address", address),
        ]
    };
    out.push(form(
        "/admin/sites",
        "/admin/sites".into(),
        Who::Admin,
        site_fields("新接种点", "新华路9号"),
    ));
    out.push(with_lenient(
        form(
            "/admin/sites/{id}",
            format!("/admin/sites/{site}"),
            Who::Admin,
            site_fields("测试接种点", "人民路1号"),
        ),
        vec![Lenient("active", "on".into())],
    ));
    out.push(form(
        "/admin/sites/{id}/template",
        format!("/admin/sites/{site}/template"),
        Who::Admin,
        vec![
            field("slot_minutes", int(5, 240), 30),
            field("seats", int(1, 1000), 6),
            field("days_ahead", int(1, 60), 7),
            field("product", id, product),
            field("opens_0", time, "08:00"),
            field("closes_0", time, "12:00"),
        ],
    ));
    out.push(with_lenient(
        form(
            "/admin/sites/{id}/exceptions",
            format!("/admin/sites/{site}/exceptions"),
            Who::Admin,
            vec![
                field("exc-day", Kind::Date, w.today + Duration::days(30)),
                field("kind", Kind::Choice, "seats"),
                field("exc-starts", Kind::Time { required: false }, "08:00"),
                field("exc-ends", Kind::Time { required: false }, "12:00"),
                field("exc-seats", int(0, 1000), 3),
                text("exc-reason", "停电检修"),
            ],
        ),
        vec![Lenient("confirm", String::new())],
    ));
    out.push(form(
        "/admin/users",
        "/admin/users".into(),
        Who::Admin,
        vec![
            text("username", "newnurse"),
            field("role", Kind::Choice, "clinic"),
            field("site_id", id, site),
            field("password", Kind::Secret, "another long password"),
        ],
    ));
    out.push(form(
        "/admin/users/{id}/active",
        format!("/admin/users/{}/active", w.spare_user),
        Who::Admin,
        vec![field("active", Kind::Choice, "false")],
    ));
    out.push(form(
        "/admin/users/{id}/password",
        format!("/admin/users/{}/password", w.spare_user),
        Who::Admin,
        vec![field("password", Kind::Secret, "a new long password")],
    ));
    out.push(form(
        "/admin/import",
        "/admin/import".into(),
        Who::Admin,
        vec![lines(
            "csv",
            true,
            "type,town_code,name,eligible,contact_emails,address\n\
             town,T900,新镇,1000,office@t900.example.cn,\n\
             site,T900,新镇卫生院,,,建设路2号\n",
        )],
    ));
    out.push(form(
        "/admin/publish",
        "/admin/publish".into(),
        Who::Admin,
        vec![],
    ));
    // The JSON API.
    out.push(Spec {
        pattern: "/api/v1/appointments",
        path: "/api/v1/appointments".into(),
        who: Who::Anon,
        body: Body::Json(
            json!({"slot_id": w.slot_b.to_string(), "dose_number": 1, "resident": resident(902)}),
            vec![
                (vec!["slot_id"], false),
                (vec!["dose_number"], false),
                (vec!["resident"], false),
                (vec!["resident", "id_number"], true),
                (vec!["resident", "name"], true),
                (vec!["resident", "phone"], true),
                (vec!["resident", "email"], true),
            ],
        ),
    });
    out.push(form(
        "/entry/find",
        "/entry/find".into(),
        Who::Anon,
        vec![
            text("code", &w.code_resident),
            text("id_number", &id_number(5)),
        ],
    ));
    out.push(Spec {
        pattern: "/api/v1/entries/lookup",
        path: "/api/v1/entries/lookup".into(),
        who: Who::Anon,
        body: Body::Json(
            json!({"entry": w.code_api, "id_number": id_number(4)}),
            vec![(vec!["entry"], true), (vec!["id_number"], true)],
        ),
    });
    out.push(Spec {
        pattern: "/clinic/sync",
        path: "/clinic/sync".into(),
        who: Who::Clinic,
        body: Body::Json(
            json!({"csrf": tokens[&Who::Clinic], "site": w.site.to_string(),
                "actions": [{"key": "hostile-1", "kind": "no_show", "fields": {"slot": ""}}]}),
            vec![(vec!["site"], false)],
        ),
    });
    for pattern in ["/api/v1/appointments/lookup", "/api/v1/appointments/cancel"] {
        out.push(Spec {
            pattern,
            path: pattern.into(),
            who: Who::Anon,
            body: Body::Json(
                json!({"code": w.code_api, "id_number": id_number(4)}),
                vec![(vec!["code"], true), (vec!["id_number"], true)],
            ),
        });
    }
    out
}

/// The order the valid requests are sent in at the end (some need others first or undo them).
fn control_order(specs: &[Spec]) -> Vec<&Spec> {
    let rank = |p: &str| match p {
        "/api/v1/appointments/lookup" => 0,
        "/find" => 1,
        "/appointment/move" => 2,
        "/appointment/cancel" => 3,
        "/api/v1/appointments/cancel" => 4,
        // Publishing a template withdraws the test's slots: after the bookings.
        "/admin/sites/{id}/template" | "/admin/publish" => 70,
        // Approval holds seats for second doses: after the bookings.
        "/bureau/shipments/{id}/plan" => 80,
        "/bureau/plans/{id}/adjust" => 81,
        "/bureau/plans/{id}/approve" => 82,
        "/login" => 90,
        "/logout" => 91,
        _ => 50,
    };
    let mut v: Vec<&Spec> = specs.iter().collect();
    v.sort_by_key(|s| rank(s.pattern));
    v
}

// ---- generating probes ------------------------------------------------------------------------

const C0: [char; 8] = [
    '\0', '\u{1}', '\u{7}', '\u{8}', '\u{b}', '\u{c}', '\u{1b}', '\u{7f}',
];
const C1: [char; 4] = ['\u{80}', '\u{85}', '\u{9b}', '\u{9f}'];
const BIDI: [char; 9] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}',
];
/// Bytes that are not UTF-8: a lone continuation byte, an overlong NUL, a surrogate, 0xFF.
const BROKEN_UTF8: [&[u8]; 4] = [b"\x80", b"\xC0\x80", b"\xED\xA0\x80", b"\xFF\xFE"];

/// `base` with `insert` at a random character boundary (never at the ends, which are trimmed).
fn insert_at(rng: &mut StdRng, base: &str, insert: &[u8]) -> Vec<u8> {
    let cuts: Vec<usize> = base.char_indices().map(|(i, _)| i).skip(1).collect();
    let at = if cuts.is_empty() {
        base.len()
    } else {
        cuts[rng.random_range(0..cuts.len())]
    };
    let mut out = base.as_bytes()[..at].to_vec();
    out.extend_from_slice(insert);
    out.extend_from_slice(&base.as_bytes()[at..]);
    out
}

fn ch(c: char) -> Vec<u8> {
    c.to_string().into_bytes()
}

/// One broken value: its label, the bytes (None: the field is left out), and whether the page
/// must say which characters are wrong.
type Broken = (String, Option<Vec<u8>>, bool);

fn broken_values(rng: &mut StdRng, f: &Field) -> Vec<Broken> {
    let base = f.value.as_str();
    let pick = |rng: &mut StdRng, set: &[char]| set[rng.random_range(0..set.len())];
    let mut out: Vec<Broken> = Vec::new();
    let mut v = |label: &str, bytes: Vec<u8>, explains: bool| {
        out.push((label.to_string(), Some(bytes), explains))
    };
    let text_like = matches!(f.kind, Kind::Text { .. });
    // Characters no field accepts, wherever they are.
    let nul = insert_at(rng, base, b"\0");
    v("NUL", nul, text_like);
    let c0 = pick(rng, &C0[1..]);
    let c0 = insert_at(rng, base, &ch(c0));
    v("C0 control", c0, text_like);
    let c1 = pick(rng, &C1);
    let c1 = insert_at(rng, base, &ch(c1));
    v("C1 control", c1, text_like);
    let bidi = pick(rng, &BIDI);
    let bidi = insert_at(rng, base, &ch(bidi));
    v("bidi control", bidi, text_like);
    let mut rlo = ch('\u{202E}');
    rlo.extend(base.chars().rev().collect::<String>().into_bytes());
    v("right-to-left override", rlo, text_like);
    if let Kind::Text {
        multiline: false, ..
    } = f.kind
    {
        // A header injection: a line break in a one-line value.
        let crlf = insert_at(rng, base, b"\r\nBcc: victim@example.com\r\n");
        v("line break", crlf, true);
    }
    let broken = BROKEN_UTF8[rng.random_range(0..BROKEN_UTF8.len())];
    let broken = insert_at(rng, base, broken);
    v("broken UTF-8", broken, false);
    // Too long for any field.
    let n = rng.random_range(2_000..4_000);
    v("too long", "x".repeat(n).into_bytes(), false);
    let required = match f.kind {
        Kind::Text { required, .. } => required,
        Kind::Id { required } | Kind::Time { required } => required,
        _ => true,
    };
    if required {
        v("empty", Vec::new(), false);
        v("blank", " \u{3000} ".as_bytes().to_vec(), false);
        out.push(("missing".into(), None, false));
    }
    let mut v = |label: &str, s: &str| out.push((label.to_string(), Some(s.into()), false));
    match f.kind {
        Kind::Int { min, max } => {
            for s in [
                "abc",
                "1.5",
                "1e3",
                "0x10",
                "１",
                "NaN",
                "99999999999999999999",
                "-99999999999999999999",
            ] {
                v("not a whole number", s);
            }
            v(
                "below the range",
                &(min - 1 - rng.random_range(0..3)).to_string(),
            );
            v(
                "above the range",
                &(max + 1 + rng.random_range(0..3)).to_string(),
            );
        }
        Kind::Id { .. } => {
            for s in ["abc", "1.5", "0x1F", "１", "99999999999999999999", "--1"] {
                v("not an id", s);
            }
        }
        Kind::Date => {
            for s in [
                "-262143-01-01",
                "+262143-12-31",
                "262144-01-01",
                "1899-12-31",
                "2101-01-01",
                "9999-12-31",
                "2030-02-30",
                "2030-13-01",
                "0000-00-00",
                "2030/03/10",
                "１２３",
            ] {
                v("not a date in range", s);
            }
        }
        Kind::Time { .. } => {
            for s in [
                "25:00",
                "12:60",
                "-1:00",
                "24:01",
                "12",
                "12:00:00",
                "99999999999:00",
                "１２:００",
                "12:0x",
            ] {
                v("not a time", s);
            }
        }
        Kind::Choice => {
            v("not a choice", "bogus");
            v("a choice and more", &format!("{base}x"));
        }
        Kind::Csrf => {
            v("another token", &"0".repeat(64));
            v("a short token", &base[..63]);
        }
        Kind::Text { .. } | Kind::Secret => {}
    }
    out
}

fn enc(bytes: &[u8]) -> String {
    let mut s = String::new();
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
            s.push(*b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

fn form_body(pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k.as_bytes()), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

const FORM: &str = "application/x-www-form-urlencoded";

fn base_probe(s: &Spec) -> Probe {
    let (content_type, body) = match &s.body {
        Body::Form(fields, lenient) => (FORM, form_body(&base_pairs(fields, lenient))),
        Body::Json(v, _) => ("application/json", v.to_string().into_bytes()),
    };
    Probe {
        label: "the valid request".into(),
        who: s.who,
        post: true,
        path: s.path.clone(),
        content_type: Some(content_type.into()),
        body,
        refuse: false,
        explains: None,
    }
}

fn base_pairs<'a>(fields: &'a [Field], lenient: &'a [Lenient]) -> Vec<(&'a str, Vec<u8>)> {
    fields
        .iter()
        .map(|f| (f.name, f.value.clone().into_bytes()))
        .chain(lenient.iter().map(|l| (l.0, l.1.clone().into_bytes())))
        .collect()
}

fn post_probes(rng: &mut StdRng, s: &Spec) -> Vec<Probe> {
    let base = base_probe(s);
    let probe = |label: String, content_type: &str, body: Vec<u8>, explains| Probe {
        label,
        content_type: Some(content_type.to_string()),
        body,
        refuse: true,
        explains,
        ..base.clone()
    };
    let mut out = Vec::new();
    match &s.body {
        Body::Form(fields, lenient) => {
            for (i, f) in fields.iter().enumerate() {
                for (label, value, explains) in broken_values(rng, f) {
                    let mut pairs = base_pairs(fields, lenient);
                    match value {
                        Some(v) => pairs[i].1 = v,
                        None => {
                            pairs.remove(i);
                        }
                    }
                    let explains = (explains && f.name != "csrf").then_some(Explains::Page);
                    out.push(probe(
                        format!("{}: {label}", f.name),
                        FORM,
                        form_body(&pairs),
                        explains,
                    ));
                }
                // The field twice, the second copy broken.
                let mut pairs = base_pairs(fields, lenient);
                pairs.push((f.name, insert_at(rng, &f.value, b"\0")));
                out.push(probe(
                    format!("{}: twice", f.name),
                    FORM,
                    form_body(&pairs),
                    None,
                ));
            }
            let good = form_body(&base_pairs(fields, lenient));
            out.push(probe(
                "sent as JSON".into(),
                "application/json",
                good.clone(),
                None,
            ));
            out.push(probe(
                "sent as text".into(),
                "text/plain",
                good.clone(),
                None,
            ));
            out.push(probe(
                "an unknown charset".into(),
                "application/x-www-form-urlencoded; charset=x-bogus",
                good.clone(),
                None,
            ));
            out.push(probe("no body".into(), FORM, Vec::new(), None));
            let mut huge = good.clone();
            huge.extend(format!("&pad={}", "y".repeat(20_000)).into_bytes());
            out.push(probe("a body over the limit".into(), FORM, huge, None));
            let garbage: Vec<u8> = (0..300).map(|_| rng.random::<u8>()).collect();
            out.push(probe("random bytes".into(), FORM, garbage, None));
        }
        Body::Json(v, breakable) => {
            for (path, is_text) in breakable {
                let name = path.join(".");
                let last = *path.last().unwrap_or(&"");
                let mut values: Vec<(String, Option<Value>, bool)> = Vec::new();
                if *is_text {
                    let base_s = get_path(v, path).as_str().unwrap_or_default().to_string();
                    for (label, bytes, explains) in broken_values(rng, &text(last, &base_s)) {
                        let Some(bytes) = bytes else {
                            values.push((label, None, false));
                            continue;
                        };
                        // JSON strings are UTF-8: broken bytes go in raw below.
                        if let Ok(s) = String::from_utf8(bytes) {
                            values.push((label, Some(Value::String(s)), explains));
                        }
                    }
                } else {
                    values.push(("missing".into(), None, false));
                }
                for (label, bad) in [
                    ("a number", json!(5)),
                    ("a fraction", json!(1.5)),
                    ("a boolean", json!(true)),
                    ("an array", json!(["x"])),
                    ("an object", json!({"x": 1})),
                    ("a string", json!("abc")),
                    ("out of range", json!(-1)),
                    ("too big", json!(1e30)),
                    ("huge", json!("9".repeat(40))),
                ] {
                    if !(*is_text && label == "a string") {
                        values.push((label.to_string(), Some(bad), false));
                    }
                }
                for (label, value, explains) in values {
                    let mut body = v.clone();
                    set_path(&mut body, path, value);
                    let explains = (explains).then_some(Explains::Json(last));
                    out.push(probe(
                        format!("{name}: {label}"),
                        "application/json",
                        body.to_string().into_bytes(),
                        explains,
                    ));
                }
                // Twice, as raw text: the second copy is broken.
                let text = v.to_string();
                let key = format!("\"{last}\":");
                if let Some(at) = text.find(&key) {
                    let dup = format!("{key}\"\\u0000\",");
                    let body = format!("{}{dup}{}", &text[..at], &text[at..]);
                    out.push(probe(
                        format!("{name}: twice"),
                        "application/json",
                        body.into_bytes(),
                        None,
                    ));
                }
            }
            let good = v.to_string();
            let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
            let mut bad_utf8 = good.clone().into_bytes();
            let at = bad_utf8.iter().position(|b| *b == b'"').unwrap_or(0) + 1;
            bad_utf8.splice(at..at, b"\xFF\xC0\x80".iter().copied());
            for (label, ctype, body) in [
                ("not JSON", "application/json", b"{\"slot_id\": ".to_vec()),
                ("an array", "application/json", b"[]".to_vec()),
                ("a string", "application/json", b"\"x\"".to_vec()),
                ("null", "application/json", b"null".to_vec()),
                ("NaN", "application/json", b"NaN".to_vec()),
                ("nested deep", "application/json", deep.into_bytes()),
                ("broken UTF-8", "application/json", bad_utf8),
                ("a byte-order mark", "application/json", {
                    let mut b = "\u{feff}".as_bytes().to_vec();
                    b.extend(good.as_bytes());
                    b
                }),
                (
                    "trailing garbage",
                    "application/json",
                    format!("{good}x").into_bytes(),
                ),
                ("sent as text", "text/plain", good.clone().into_bytes()),
                ("sent as a form", FORM, good.clone().into_bytes()),
                ("no body", "application/json", Vec::new()),
                ("a body over the limit", "application/json", {
                    let mut big = v.clone();
                    big["pad"] = json!("y".repeat(20_000));
                    big.to_string().into_bytes()
                }),
            ] {
                out.push(probe(label.to_string(), ctype, body, None));
            }
        }
    }
    // Hostile path segments, with an otherwise valid request.
    for (i, seg) in s.pattern.split('/').enumerate() {
        if seg.starts_with('{') {
            for bad in hostile_segments() {
                let mut parts: Vec<String> = s.path.split('/').map(String::from).collect();
                parts[i] = bad.to_string();
                out.push(Probe {
                    label: format!("path {seg} = {bad}"),
                    path: parts.join("/"),
                    refuse: true,
                    explains: None,
                    ..base.clone()
                });
            }
        }
    }
    out
}

fn hostile_segments() -> [&'static str; 8] {
    [
        "abc",
        "99999999999999999999",
        "-1",
        "0",
        "1.5",
        "%00",
        "%E2%80%AE1",
        "%FF",
    ]
}

fn get_path<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn set_path(v: &mut Value, path: &[&str], value: Option<Value>) {
    let (last, parents) = path.split_last().expect("a path");
    let mut at = v;
    for k in parents {
        at = &mut at[*k];
    }
    if let Value::Object(m) = at {
        match value {
            Some(x) => {
                m.insert(last.to_string(), x);
            }
            None => {
                m.remove(*last);
            }
        }
    }
}

/// Hostile values for a query parameter.
fn hostile_query_values(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let bidi = BIDI[rng.random_range(0..BIDI.len())];
    vec![
        b"-262143-01-01".to_vec(),
        b"+262143-12-31".to_vec(),
        b"2030-02-30".to_vec(),
        b"9999-12-31".to_vec(),
        b"0000-01-01".to_vec(),
        b"99999999999999999999".to_vec(),
        b"-1".to_vec(),
        b"\0".to_vec(),
        format!("2030-03-05{bidi}").into_bytes(),
        b"\xFF\xFE".to_vec(),
        "x".repeat(3_000).into_bytes(),
        b"//evil.example".to_vec(),
        b"/\t/evil.example".to_vec(),
    ]
}

/// The names each GET route reads from its query string.
fn query_names(pattern: &str) -> &'static [&'static str] {
    match pattern {
        "/sites/{id}" => &["date"],
        "/appointment/move" => &["site", "date"],
        "/household" => &["site", "date", "done"],
        "/api/v1/availability" => &["site", "date"],
        "/staff/checkin" => &["code", "site"],
        "/staff/sites/{id}" | "/staff/checkin/{code}" => &["done", "n"],
        "/bureau/notices" => &["town"],
        "/bureau/exports" | "/bureau/exports/{name}.csv" | "/bureau/audit" => {
            &["from", "to", "town", "kind", "user", "page"]
        }
        "/admin/sites/{id}" => &["created", "cancelled"],
        "/login" | "/lang/{code}" => &["next"],
        _ => &[],
    }
}

/// A valid path for a GET route of the table, and who may open it.
fn valid_get(pattern: &str, w: &World) -> (String, Who) {
    let id = match pattern {
        "/towns/{id}" | "/admin/towns/{id}" => w.town.to_string(),
        "/sites/{id}"
        | "/staff/sites/{id}"
        | "/staff/sites/{id}/walk-in"
        | "/staff/sites/{id}/wastage"
        | "/staff/sites/{id}/today.json"
        | "/admin/sites/{id}" => w.site.to_string(),
        "/slots/{id}/book" => w.slot_a.to_string(),
        "/lang/{code}" => "en".into(),
        "/staff/checkin/{code}" | "/staff/checkin/{code}/record" => w.code_booked.clone(),
        "/staff/vaccinations/{id}/reaction" => w.vaccination.to_string(),
        "/bureau/shipments/{id}" => w.shipment.to_string(),
        "/bureau/plans/{id}" | "/bureau/plans/{id}/instance.json" => w.plan.to_string(),
        "/admin/products/{id}" => w.product.to_string(),
        "/bureau/exports/{name}.csv" => "appointments".into(),
        // No draw exists in this world: an unknown one (404), whose paths are probed all the
        // same; `draw.rs` opens real ones.
        "/draws/{id}" | "/api/v1/draws/{id}" => "1".into(),
        p if p.contains('{') => panic!("GET {p} needs a valid path in hostile.rs"),
        _ => String::new(),
    };
    let path = pattern
        .replace("{id}", &id)
        .replace("{code}", &id)
        .replace("{name}", &id);
    let who = if pattern.starts_with("/staff") {
        Who::Clinic
    } else if pattern.starts_with("/bureau") {
        Who::Bureau
    } else if pattern.starts_with("/admin") {
        Who::Admin
    } else if pattern.starts_with("/appointment") || pattern.starts_with("/household") {
        Who::Resident
    } else {
        Who::Anon
    };
    (path, who)
}

fn get_probes(rng: &mut StdRng, pattern: &str, w: &World) -> Vec<Probe> {
    let (path, who) = valid_get(pattern, w);
    let get = |label: String, path: String| Probe {
        label,
        who,
        post: false,
        path,
        content_type: None,
        body: Vec::new(),
        refuse: false,
        explains: None,
    };
    let mut out = vec![get("the valid page".into(), path.clone())];
    for (i, seg) in pattern.split('/').enumerate() {
        if seg.starts_with('{') {
            for bad in hostile_segments() {
                let mut parts: Vec<String> = path.split('/').map(String::from).collect();
                parts[i] = bad.to_string();
                out.push(get(format!("path {seg} = {bad}"), parts.join("/")));
            }
        }
    }
    let valid_query = |name: &str| match name {
        "site" => w.site.to_string(),
        "date" => (w.today + Duration::days(1)).to_string(),
        "town" => w.town.to_string(),
        "code" => w.code_booked.clone(),
        "n" | "created" | "cancelled" => "1".into(),
        "done" => "dose".into(),
        _ => "/".into(),
    };
    let names = query_names(pattern);
    for name in names.iter().chain(["x"].iter()) {
        for bad in hostile_query_values(rng) {
            let mut q: Vec<String> = names
                .iter()
                .filter(|n| *n != name)
                .map(|n| format!("{n}={}", enc(valid_query(n).as_bytes())))
                .collect();
            q.push(format!("{name}={}", enc(&bad)));
            out.push(get(
                format!("?{name}= hostile"),
                format!("{path}?{}", q.join("&")),
            ));
        }
        // The parameter twice.
        out.push(get(
            format!("?{name} twice"),
            format!("{path}?{name}=1&{name}=2"),
        ));
    }
    out
}

/// The route table: (is POST, pattern) for every `.route(...)` in `src/web/mod.rs`.
fn route_table() -> Vec<(bool, String)> {
    let src = include_str!("../../src/web/mod.rs");
    let mut out = Vec::new();
    for chunk in src.split(".route(").skip(1) {
        let start = chunk.find('"').expect("a path") + 1;
        let end = start + chunk[start..].find('"').expect("a closing quote");
        let get = chunk.find("web::get()");
        let post = chunk.find("web::post()");
        let is_post = match (get, post) {
            (Some(g), Some(p)) => p < g,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (None, None) => panic!("no method for {}", &chunk[start..end]),
        };
        out.push((is_post, chunk[start..end].to_string()));
    }
    assert!(out.len() > 40, "the route table has {} routes", out.len());
    out
}

// ---- sending and judging ----------------------------------------------------------------------

async fn send(app: &TestApp, c: &reqwest::Client, p: &Probe) -> (u16, String) {
    let url = format!("{}{}", app.address, p.path);
    let mut req = if p.post { c.post(&url) } else { c.get(&url) };
    if let Some(ct) = &p.content_type {
        req = req.header("content-type", ct);
    }
    if p.post {
        req = req.body(p.body.clone());
    }
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_default();
            (status, body)
        }
        Err(e) => (599, format!("no answer: {e}")),
    }
}

fn judge(p: &Probe, status: u16, body: &str) -> Option<String> {
    if status >= 500 {
        let snippet: String = body.chars().take(160).collect();
        return Some(format!("{status} {snippet:?}"));
    }
    if p.refuse && !(400..500).contains(&status) {
        return Some(format!("accepted with {status}"));
    }
    match &p.explains {
        Some(Explains::Page) if !body.contains(CHARS_MESSAGE) => {
            Some(format!("{status} without the characters message"))
        }
        Some(Explains::Json(field)) => {
            let v: Value = serde_json::from_str(body).unwrap_or_default();
            let ok = status == 422
                && v["field"] == *field
                && v["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(CHARS_MESSAGE);
            (!ok).then(|| format!("{status} {v} does not name the characters of {field}"))
        }
        _ => None,
    }
}

// ---- the database snapshot -------------------------------------------------------------------

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(diesel::QueryableByName)]
struct Digest {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Text)]
    h: String,
}

/// Every table's row count and a digest of all its rows (sorted), but the excluded ones.
fn snapshot(app: &TestApp) -> BTreeMap<String, (i64, u64)> {
    let mut c = app.conn();
    let pg = app.db.is_postgres();
    let tables: Vec<String> = diesel::sql_query(if pg {
        "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    })
    .load::<Name>(&mut *c)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .filter(|n| !EXCLUDED_TABLES.contains(&n.as_str()))
    .collect();
    let mut out = BTreeMap::new();
    for t in tables {
        let sql = if pg {
            format!(
                "SELECT COUNT(*) AS n, COALESCE(string_agg(r, E'\\n' ORDER BY r), '') AS h \
                 FROM (SELECT x::text AS r FROM \"{t}\" x) s"
            )
        } else {
            let cols: Vec<String> =
                diesel::sql_query(format!("SELECT name FROM pragma_table_info('{t}')"))
                    .load::<Name>(&mut *c)
                    .unwrap()
                    .into_iter()
                    .map(|n| format!("quote(\"{}\")", n.name))
                    .collect();
            format!(
                "SELECT COUNT(*) AS n, COALESCE(group_concat(r, char(10)), '') AS h \
                 FROM (SELECT {} AS r FROM \"{t}\" ORDER BY r)",
                cols.join(" || ',' || ")
            )
        };
        let d = diesel::sql_query(sql)
            .get_result::<Digest>(&mut *c)
            .unwrap();
        let mut hasher = DefaultHasher::new();
        d.h.hash(&mut hasher);
        out.insert(t, (d.n, hasher.finish()));
    }
    out
}
