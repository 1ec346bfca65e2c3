//! `spawn_app()`: a server on port 0 with its own database, a fixed clock and a cookie-keeping
//! client; plus fixtures that build a small city directly through the model layer.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use dosewise::clock::FixedClock;
use dosewise::config::Settings;
use dosewise::db::{AnyConnection, Db};
use dosewise::domain::IdNumber;
use dosewise::ids::new_id;
use dosewise::models::stock::{self, Movement};
use dosewise::models::{product, site, slot, town, NewProduct, NewSite, NewSlot, NewTown};
use dosewise::startup::Application;
use dosewise::web::state::AppState;
use serde_json::{json, Value};

/// 2030-03-04 01:00 UTC, a Monday, 09:00 in Shanghai.
pub fn test_now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2030, 3, 4)
        .unwrap()
        .and_hms_opt(1, 0, 0)
        .unwrap()
}

/// `h:m` local (Shanghai) on 2030-03-`day`, as UTC.
pub fn local(day: u32, h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2030, 3, day)
        .unwrap()
        .and_hms_opt(h, m, 0)
        .unwrap()
        - Duration::hours(8)
}

/// The secret every test server uses (so processes on one database agree).
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// A database for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database on the backend chosen by `TEST_DATABASE_URL`.
    pub fn new() -> TestDb {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin) if admin.starts_with("postgres") => {
                let name = format!("dosewise_test_{}", new_id());
                let mut conn = diesel::PgConnection::establish(&admin)
                    .expect("TEST_DATABASE_URL must reach PostgreSQL");
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                TestDb {
                    url: format!("{base}/{name}"),
                    admin_url: Some(admin),
                    name,
                    _dir: None,
                }
            }
            Some(other) => panic!("TEST_DATABASE_URL must be a postgres:// URL, not {other}"),
            None => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("test.db");
                TestDb {
                    url: format!("sqlite://{}", path.display()),
                    admin_url: None,
                    name: String::new(),
                    _dir: Some(dir),
                }
            }
        }
    }

    /// Whether this is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.admin_url.is_some()
    }
}

impl TestDb {
    /// What `dosewise check` finds wrong in this database (nothing if it was never set up).
    pub fn violations(&self) -> Vec<String> {
        if let Some(dir) = &self._dir {
            if !dir.path().join("test.db").exists() {
                return Vec::new();
            }
        }
        let Ok(mut conn) = dosewise::db::Manager::new(&self.url).and_then(|m| Ok(m.open()?)) else {
            return Vec::new();
        };
        // A database the test never migrated has nothing to check.
        if diesel::RunQueryDsl::execute(
            diesel::sql_query("SELECT 1 FROM app_secrets WHERE 1 = 0"),
            &mut conn,
        )
        .is_err()
        {
            return Vec::new();
        }
        match dosewise::check::run(&mut conn) {
            Ok(v) => v.iter().map(ToString::to_string).collect(),
            Err(e) => vec![format!("dosewise check could not read the database: {e}")],
        }
    }
}

impl Drop for TestDb {
    /// Every test ends with the whole-database check: a test passes only if it also left the
    /// database consistent.
    fn drop(&mut self) {
        let violations = if std::thread::panicking() {
            Vec::new()
        } else {
            self.violations()
        };
        self.remove();
        assert!(
            violations.is_empty(),
            "dosewise check after the test:\n{}",
            violations.join("\n")
        );
    }
}

impl TestDb {
    fn remove(&mut self) {
        if let Some(admin) = &self.admin_url {
            if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
                let _ = conn.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }
}

/// Settings for a test server.
pub fn test_settings(url: &str) -> Settings {
    let mut s = Settings::defaults();
    s.database_url = url.to_string();
    s.bind = "127.0.0.1:0".into();
    s.secret = Some(SECRET.into());
    s.workers = 2;
    // Tests book hundreds of times from one address; `limits.rs` tests the limits themselves.
    s.rate_book_per_minute = 0;
    s.rate_lookup_per_minute = 0;
    s.rate_login_per_minute = 0;
    s.pool_size = 8;
    s.login_delay_ms = 50;
    // Tests deliver mail explicitly (`TestApp::deliver_mail`), into memory.
    s.mail_worker = false;
    s.mail_dir = std::env::temp_dir()
        .join("dosewise-test-mail")
        .display()
        .to_string();
    s
}

/// A running test server.
pub struct TestApp {
    pub address: String,
    /// The metrics listener (`http://127.0.0.1:PORT`) when the settings gave one.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    pub clock: Arc<FixedClock>,
    pub db: TestDb,
    /// Messages the memory transport received, raw RFC 5322.
    pub mail: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

/// Start a server on port 0 with a fresh database and a clock fixed at [`test_now`].
pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestDb::new()).await
}

/// Start a server on port 0 on the given database.
pub async fn spawn_app_on(db: TestDb) -> TestApp {
    let mail = Arc::new(std::sync::Mutex::new(Vec::new()));
    let transport = dosewise::mail::Transport::Memory(mail.clone());
    spawn_app_with(db, transport, mail).await
}

/// Start a server with a given mail transport (`mail` is what a memory transport fills).
pub async fn spawn_app_with(
    db: TestDb,
    transport: dosewise::mail::Transport,
    mail: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
) -> TestApp {
    spawn_app_configured(db, transport, mail, |_| {}).await
}

/// Start a server on a fresh database with memory mail, its settings changed by `configure`.
pub async fn spawn_app_with_settings(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mail = Arc::new(std::sync::Mutex::new(Vec::new()));
    let transport = dosewise::mail::Transport::Memory(mail.clone());
    spawn_app_configured(TestDb::new(), transport, mail, configure).await
}

/// Start a server whose settings `configure` changes first.
pub async fn spawn_app_configured(
    db: TestDb,
    transport: dosewise::mail::Transport,
    mail: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let clock = Arc::new(FixedClock::new(test_now()));
    let mut settings = test_settings(&db.url);
    configure(&mut settings);
    let pools = Db::connect_with(&settings.database_url, &settings.db_options()).expect("database");
    let app =
        Application::build_with(settings, pools, clock.clone(), transport).expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app.metrics_port().map(|p| format!("http://127.0.0.1:{p}"));
    let state = app.state();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        metrics_address,
        client: client(),
        state,
        clock,
        db,
        mail,
    }
}

/// A client that keeps cookies and does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A small city made through the model layer.
#[derive(Debug, Clone, Copy)]
pub struct City {
    pub town: i64,
    pub site: i64,
    pub product: i64,
}

impl TestApp {
    /// Run the mail worker once (schedule, then deliver what is due) and return its report.
    pub async fn deliver_mail(&self) -> dosewise::mail::worker::Report {
        let st = self.state.clone();
        actix_web::web::block(move || {
            dosewise::mail::worker::run_once(
                &st.db,
                &st.mail,
                &st.base_url,
                st.settings.time_zone,
                st.clock.as_ref(),
            )
        })
        .await
        .unwrap()
        .unwrap()
    }

    /// The messages delivered so far, as sent.
    pub fn sent_mail(&self) -> Vec<Vec<u8>> {
        self.mail.lock().unwrap().clone()
    }

    /// The messages delivered so far, read.
    pub fn mails(&self) -> Vec<Mail> {
        self.sent_mail()
            .iter()
            .map(|raw| Mail::parse(raw))
            .collect()
    }

    /// What the test clock shows.
    pub fn clock_now(&self) -> NaiveDateTime {
        use dosewise::clock::Clock;
        self.clock.now()
    }

    /// A connection for fixtures and checks.
    pub fn conn(&self) -> r2d2::PooledConnection<dosewise::db::Manager> {
        self.state.db.write.get().unwrap()
    }

    /// The app's database handle.
    pub fn database(&self) -> &Db {
        &self.state.db
    }

    /// One town with one site giving one two-dose product (21-56 days, ages 0-120).
    pub fn city(&self) -> City {
        let mut c = self.conn();
        make_city(&mut c, "T001", 21, 56)
    }

    /// Give the city's site and vaccine the English names `en` (site, site address, vaccine);
    /// returns their Chinese names (site, vaccine).
    pub fn name_in_english(&self, city: City, en: [&str; 3]) -> (String, String) {
        use diesel::prelude::*;
        use dosewise::db::schema::{products, sites};
        let mut c = self.conn();
        let [site, address, product] = en;
        diesel::update(sites::table.find(city.site))
            .set((sites::name_en.eq(site), sites::address_en.eq(address)))
            .execute(&mut c)
            .unwrap();
        diesel::update(products::table.find(city.product))
            .set(products::name_en.eq(product))
            .execute(&mut c)
            .unwrap();
        let site = sites::table.find(city.site).select(sites::name);
        let product = products::table.find(city.product).select(products::name);
        (site.first(&mut c).unwrap(), product.first(&mut c).unwrap())
    }

    /// [`TestApp::city`] with one slot `days` ahead at 10:00 Shanghai time (`seats`, `held` of
    /// them for second doses) and `stock` doses at its site: the city and the slot.
    pub fn city_with_slot(&self, days: i64, seats: i32, held: i32, stock: i32) -> (City, i64) {
        let city = self.city();
        let slot = self.add_slot(city, days, seats, held);
        self.add_stock(city, stock);
        (city, slot)
    }

    /// Add a slot `days` ahead at 10:00 Shanghai time.
    pub fn add_slot(&self, city: City, days: i64, seats: i32, held: i32) -> i64 {
        let start = test_now() + Duration::days(days) + Duration::hours(1);
        add_slot_at(&mut self.conn(), city, start, seats, held)
    }

    /// The demo city `dosewise::demo::generate_city` builds with `opts` at the test clock's time.
    pub fn demo_city(&self, opts: dosewise::demo::CityOptions) -> dosewise::demo::Created {
        dosewise::demo::generate_city(
            self.database(),
            &self.state.keys,
            self.state.settings.time_zone,
            test_now(),
            opts,
        )
        .unwrap()
    }

    /// Receive `n` doses at the city's site.
    pub fn add_stock(&self, city: City, n: i32) {
        add_stock(&mut self.conn(), city, n);
    }

    /// A lot of the city's product received at its site through the ledger.
    pub fn add_lot(&self, city: City, number: &str, expires: NaiveDate, doses: i32) {
        let mut c = self.conn();
        dosewise::models::lot::insert(
            &mut c,
            &dosewise::models::lot::NewLot {
                id: new_id(),
                shipment_id: None,
                product_id: city.product,
                lot_number: number.into(),
                expires_on: expires,
                doses,
            },
        )
        .unwrap();
        stock::record(
            &mut c,
            &Movement {
                id: new_id(),
                site_id: Some(city.site),
                product_id: city.product,
                delta: doses,
                kind: "received".into(),
                reason: "test".into(),
                actor: "test".into(),
                lot: Some(number.into()),
                created_at: test_now(),
            },
        )
        .unwrap();
    }

    /// GET a path.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    /// GET a page's body.
    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// GET a page's body, asking for it in `accept_language` (e.g. `en`).
    pub async fn get_text_in(&self, path: &str, accept_language: &str) -> String {
        text_in(
            self.client.get(format!("{}{path}", self.address)),
            accept_language,
        )
        .await
    }

    /// The CSRF token in the page at `path` (also sets the cookie).
    pub async fn csrf(&self, path: &str) -> String {
        let html = self.get_text(path).await;
        csrf_in(&html).unwrap_or_else(|| panic!("no CSRF token in {path}"))
    }

    /// POST owned form fields as they are (e.g. [`resident_form`] and a token).
    pub async fn post_fields(&self, path: &str, form: &[(String, String)]) -> reqwest::Response {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.post_raw(path, &pairs).await
    }

    /// POST a form as it is (the test supplies any CSRF token).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// POST JSON.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Book through the API.
    pub async fn book_api(&self, slot: i64, dose: i32, who: &Value) -> reqwest::Response {
        self.book_request(slot, dose, who).send().await.unwrap()
    }

    /// Book through the API, asking for answers (and the resident's mail) in `accept_language`.
    pub async fn book_api_in(
        &self,
        slot: i64,
        dose: i32,
        who: &Value,
        accept_language: &str,
    ) -> reqwest::Response {
        self.book_request(slot, dose, who)
            .header("accept-language", accept_language)
            .send()
            .await
            .unwrap()
    }

    fn book_request(&self, slot: i64, dose: i32, who: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/api/v1/appointments", self.address))
            .json(&json!({"slot_id": slot.to_string(), "dose_number": dose, "resident": who}))
    }

    /// Count rows of a table matching a SQL condition.
    pub fn count(&self, table: &str, condition: &str) -> i64 {
        count_where(&mut self.conn(), table, condition)
    }

    /// No row of `table` matches the SQL `condition` (`why` says what that shows).
    pub fn assert_none(&self, table: &str, condition: &str, why: &str) {
        assert_eq!(self.count(table, condition), 0, "{why}");
    }

    /// A slot's `(booked_first, booked_second, seats)`.
    pub fn slot_counts(&self, slot_id: i64) -> (i32, i32, i32) {
        let s = slot::find(&mut self.conn(), dosewise::ids::SlotId(slot_id))
            .unwrap()
            .unwrap();
        (s.booked_first, s.booked_second, s.seats)
    }

    /// The id of `site`'s slot starting at `starts_at`.
    pub fn slot_starting(&self, site: i64, starts_at: NaiveDateTime) -> i64 {
        use diesel::prelude::*;
        use dosewise::db::schema::slots;
        slots::table
            .filter(slots::site_id.eq(site))
            .filter(slots::starts_at.eq(starts_at))
            .select(slots::id)
            .first::<i64>(&mut *self.conn())
            .unwrap()
    }

    /// `/api/v1/availability` of `site` on `date` (`YYYY-MM-DD`): the JSON of a 200.
    pub async fn availability(&self, site: i64, date: &str) -> Value {
        let res = self
            .get(&format!("/api/v1/availability?site={site}&date={date}"))
            .await;
        assert_eq!(res.status(), 200, "availability of {site} on {date}");
        res.json().await.unwrap()
    }

    /// The publishing job as `serve` runs it, at `now`.
    pub fn publish(&self, now: NaiveDateTime) -> dosewise::setup::PublishReport {
        let tz = self.state.settings.time_zone;
        dosewise::setup::publish_all(self.database(), tz, now, "test").unwrap()
    }

    /// The site's `(on_hand, promised)` of the city's product.
    pub fn stock(&self, city: City) -> (i32, i32) {
        stock::balances_for_site(&mut self.conn(), dosewise::ids::SiteId(city.site))
            .unwrap()
            .into_iter()
            .find(|b| b.product_id == city.product)
            .map(|b| (b.on_hand, b.promised))
            .unwrap_or((0, 0))
    }
}

/// Count rows with a raw condition (tests only).
pub fn count_where(c: &mut AnyConnection, table: &str, condition: &str) -> i64 {
    use diesel::sql_types::BigInt;
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM {table} WHERE {condition}"
    ))
    .get_result::<N>(c)
    .unwrap()
    .n
}

/// Build one town, site and product.
pub fn make_city(c: &mut AnyConnection, code: &str, min: i32, max: i32) -> City {
    let city = City {
        town: new_id(),
        site: new_id(),
        product: new_id(),
    };
    town::insert(
        c,
        &NewTown {
            id: city.town,
            code: code.into(),
            name: format!("测试镇{code}"),
            eligible: 10_000,
            contact_emails: String::new(),
            active: true,
            name_en: None,
        },
    )
    .unwrap();
    site::insert(
        c,
        &NewSite {
            id: city.site,
            town_id: city.town,
            name: "测试接种点".into(),
            address: "人民路1号".into(),
            active: true,
            name_en: None,
            address_en: None,
        },
    )
    .unwrap();
    product::insert(
        c,
        &NewProduct {
            id: city.product,
            code: format!("P-{code}"),
            name: "测试疫苗".into(),
            manufacturer: "测试".into(),
            doses_in_series: 2,
            min_interval_days: min,
            max_interval_days: max,
            min_age_years: 0,
            max_age_years: 120,
            pack_size: 1,
            name_en: None,
        },
    )
    .unwrap();
    city
}

/// Insert a slot starting at `start` (UTC).
pub fn add_slot_at(
    c: &mut AnyConnection,
    city: City,
    start: NaiveDateTime,
    seats: i32,
    held: i32,
) -> i64 {
    let id = new_id();
    slot::insert_many(
        c,
        &[NewSlot {
            id,
            site_id: city.site,
            product_id: city.product,
            starts_at: start,
            ends_at: start + Duration::minutes(30),
            seats,
            second_dose_held: held,
            booked_first: 0,
            booked_second: 0,
            opens_at: None,
        }],
    )
    .unwrap();
    id
}

/// Let `slots` open for booking at `opens_at` (a release announced ahead).
pub fn open_at(c: &mut AnyConnection, slots: &[i64], opens_at: NaiveDateTime) {
    use diesel::prelude::*;
    use dosewise::db::schema::slots as s;
    diesel::update(s::table.filter(s::id.eq_any(slots)))
        .set(s::opens_at.eq(Some(opens_at)))
        .execute(c)
        .unwrap();
}

/// Let `slots` of `city` open at `opens_at` with a draw of `window` minutes from then, as the
/// release rule does: the draw's id.
pub fn open_in_draw(
    c: &mut AnyConnection,
    city: City,
    slots: &[i64],
    opens_at: NaiveDateTime,
    window: i64,
) -> i64 {
    use diesel::prelude::*;
    use dosewise::db::schema::draws;
    open_at(c, slots, opens_at);
    let closes_at = opens_at + Duration::minutes(window);
    let site = dosewise::ids::SiteId(city.site);
    dosewise::booking::draw::schedule(c, site, opens_at, closes_at, test_now()).unwrap();
    draws::table
        .filter(draws::site_id.eq(city.site))
        .filter(draws::opens_at.eq(opens_at))
        .select(draws::id)
        .first(c)
        .unwrap()
}

/// Receive doses at a site through the ledger.
pub fn add_stock(c: &mut AnyConnection, city: City, n: i32) {
    stock::record(
        c,
        &Movement {
            id: new_id(),
            site_id: Some(city.site),
            product_id: city.product,
            delta: n,
            kind: "received".into(),
            reason: "test".into(),
            actor: "test".into(),
            lot: Some("LOT1".into()),
            created_at: test_now(),
        },
    )
    .unwrap();
}

/// A valid, distinct ID number for resident `i`, born in 1980-2007.
pub fn id_number(i: u32) -> String {
    let birth =
        NaiveDate::from_ymd_opt(1980, 1, 1).unwrap() + Duration::days(i64::from(i % 10_000));
    let first17 = format!(
        "{}{}{:03}",
        110_101 + i / 10_000,
        birth.format("%Y%m%d"),
        i % 1000
    );
    IdNumber::with_check_digit(&first17)
        .unwrap()
        .expose()
        .to_string()
}

/// A resident for the JSON API.
pub fn resident(i: u32) -> Value {
    json!({
        "id_number": id_number(i),
        "name": format!("测试{}", ["甲", "乙", "丙", "丁"][(i % 4) as usize]),
        "phone": format!("139{:08}", i),
        "email": format!("r{i}@example.com"),
    })
}

/// The resident's form fields.
pub fn resident_form(i: u32) -> Vec<(String, String)> {
    let r = resident(i);
    ["name", "id_number", "phone", "email"]
        .iter()
        .map(|k| (k.to_string(), r[*k].as_str().unwrap().to_string()))
        .collect()
}

/// A raw message parsed (it must be a valid RFC 5322 message).
pub fn parse_mail(raw: &[u8]) -> mailparse::ParsedMail<'_> {
    mailparse::parse_mail(raw).expect("a valid RFC 5322 message")
}

/// Every leaf part of a message: (content type, decoded body).
pub fn mail_parts(m: &mailparse::ParsedMail<'_>) -> Vec<(String, String)> {
    if m.subparts.is_empty() {
        vec![(m.ctype.mimetype.clone(), m.get_body().unwrap_or_default())]
    } else {
        m.subparts.iter().flat_map(mail_parts).collect()
    }
}

/// A delivered message as the tests read it: To, Subject, Message-ID, the text part and the
/// calendar part (empty strings for a missing header or text part).
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub ics: Option<String>,
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Mail {
        use mailparse::MailHeaderMap;
        let m = parse_mail(raw);
        let all = mail_parts(&m);
        let part = |t: &str| all.iter().find(|p| p.0 == t).map(|p| p.1.clone());
        let header = |name: &str| m.headers.get_first_value(name).unwrap_or_default();
        Mail {
            to: header("To"),
            subject: header("Subject"),
            message_id: header("Message-ID"),
            text: part("text/plain").unwrap_or_default(),
            ics: part("text/calendar"),
        }
    }
}

/// The body of the answer to `request`.
pub async fn text_of(request: reqwest::RequestBuilder) -> String {
    request.send().await.unwrap().text().await.unwrap()
}

/// The body of `request` sent with `Accept-Language: accept_language`.
async fn text_in(request: reqwest::RequestBuilder, accept_language: &str) -> String {
    text_of(request.header("accept-language", accept_language)).await
}

/// The check-in form's answers for a resident who confirms the last four characters of their ID
/// number and says no to every screening question (without the CSRF token).
pub fn cleared_screening(last4: &str) -> [(&str, &str); 5] {
    [
        ("last4", last4),
        ("fever", "no"),
        ("allergy", "no"),
        ("pregnant", "no"),
        ("recent_vaccine", "no"),
    ]
}

/// The `dosewise` binary on the database at `db_url`, with the tests' secret.
pub fn dosewise_command(db_url: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dosewise"));
    cmd.env("DATABASE_URL", db_url)
        .env("DOSEWISE_SECRET", SECRET);
    cmd
}

/// Run `cmd`, which must succeed (else the test fails with its stderr): its stdout.
pub fn run_ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The CSRF token in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(html[at..at + 64].to_string())
}

/// Record dose `dose` as given `days_ago` before the test clock, without an appointment.
pub fn give_dose(app: &TestApp, city: City, id_number: &str, dose: i32, days_ago: i64) {
    let mut c = app.conn();
    let hash = app
        .state
        .keys
        .hash_id_number(&IdNumber::parse(id_number).unwrap());
    let r = dosewise::models::resident::find_by_hash(&mut c, &hash)
        .unwrap()
        .unwrap();
    let given = test_now() - Duration::days(days_ago);
    record_dose(&mut c, city, r.id, None, dose, given);
}

/// A vaccination of `resident` (dose `dose` of lot `LOT1`, at `given` UTC, 30 minutes'
/// observation) at the city's site, for `appointment` if any, with its ledger history: its id.
pub fn record_dose(
    c: &mut AnyConnection,
    city: City,
    resident: i64,
    appointment: Option<i64>,
    dose: i32,
    given: NaiveDateTime,
) -> i64 {
    let id = new_id();
    dosewise::models::vaccination::insert(
        c,
        &dosewise::models::NewVaccination {
            id,
            resident_id: resident,
            appointment_id: appointment,
            site_id: city.site,
            product_id: city.product,
            dose_number: dose,
            lot: "LOT1".into(),
            given_at: given,
            staff_user_id: None,
            observation_until: given + Duration::minutes(30),
        },
    )
    .unwrap();
    ledger_history_dose(c, city.site, city.product, "LOT1", given);
    id
}

/// The ledger side of a dose given before the test: the dose arrived at the site and went out
/// as given (net zero), so that every vaccination is one `given` movement as `dosewise check`
/// requires.
pub fn ledger_history_dose(
    c: &mut AnyConnection,
    site: i64,
    product: i64,
    lot: &str,
    at: NaiveDateTime,
) {
    for (delta, kind) in [(1, "received"), (-1, "given")] {
        stock::record(
            c,
            &Movement {
                id: new_id(),
                site_id: Some(site),
                product_id: product,
                delta,
                kind: kind.into(),
                reason: "history".into(),
                actor: "test".into(),
                lot: Some(lot.into()),
                created_at: at,
            },
        )
        .unwrap();
    }
}

/// The password every test user gets from [`add_user`].
pub const PASSWORD: &str = "correct horse battery";

/// A staff role, with the clinic user's site.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    Admin,
    Bureau,
    Clinic(i64),
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Bureau => "bureau",
            Role::Clinic(_) => "clinic",
        }
    }

    fn site(self) -> Option<i64> {
        match self {
            Role::Clinic(site) => Some(site),
            _ => None,
        }
    }

    /// The page the role lands on, which carries a form and so the session's CSRF token.
    fn home(self) -> &'static str {
        match self {
            Role::Admin => "/admin",
            Role::Bureau => "/bureau",
            Role::Clinic(_) => "/staff",
        }
    }
}

/// Insert an active user `name` with `role` (a role name) and [`PASSWORD`]; their id.
pub fn add_user(app: &TestApp, name: &str, role: &str, site: Option<i64>) -> i64 {
    let id = new_id();
    dosewise::models::user::insert(
        &mut app.conn(),
        &dosewise::models::NewUser {
            id,
            username: name.into(),
            password_hash: dosewise::security::hash_password(PASSWORD).unwrap(),
            role: role.into(),
            site_id: site,
            active: true,
            created_at: test_now(),
        },
    )
    .unwrap();
    id
}

/// A browser of one person: a cookie-keeping client on one app that does not follow redirects.
#[derive(Clone)]
pub struct Session {
    pub client: reqwest::Client,
    address: String,
    /// Where [`Session::post_form`] fetches the CSRF token.
    token_page: String,
}

impl Session {
    /// A new visitor with no cookies.
    pub fn new(app: &TestApp) -> Session {
        Session {
            client: client(),
            address: app.address.clone(),
            token_page: "/login".into(),
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GET a path.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// GET a page's body.
    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    /// GET a page's body, asking for it in `accept_language` (e.g. `en`).
    pub async fn get_text_in(&self, path: &str, accept_language: &str) -> String {
        text_in(self.client.get(self.url(path)), accept_language).await
    }

    /// The CSRF token in the page at `path` ("" if it has none).
    pub async fn csrf_from(&self, path: &str) -> String {
        csrf_in(&self.get_text(path).await).unwrap_or_default()
    }

    /// POST a form as it is, without adding a CSRF token.
    pub async fn post_raw<F: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        form: &F,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// POST a form with the session's CSRF token, fetched from the session's start page.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let page = self.token_page.clone();
        self.post_form_from(&page, path, form).await
    }

    /// POST a form with the CSRF token of the page at `form_page` (sent empty if it has none).
    pub async fn post_form_from(
        &self,
        form_page: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = self.csrf_from(form_page).await;
        let mut body: Vec<(&str, &str)> = form.to_vec();
        body.push(("csrf", &token));
        self.post_raw(path, &body).await
    }

    /// Log in through the login form (fetching its CSRF token first); the answer.
    pub async fn login(&self, name: &str, password: &str) -> reqwest::Response {
        let token = csrf_in(&self.get_text("/login").await).unwrap();
        self.post_raw(
            "/login",
            &[
                ("csrf", token.as_str()),
                ("username", name),
                ("password", password),
                ("next", ""),
            ],
        )
        .await
    }
}

/// A session logged in as user `name` (made with [`add_user`]); asserts the login succeeds.
pub async fn login_as_user(app: &TestApp, name: &str, home: &str) -> Session {
    let s = Session::new(app);
    let res = s.login(name, PASSWORD).await;
    assert_eq!(res.status(), 303, "login as {name}");
    Session {
        token_page: home.into(),
        ..s
    }
}

/// Create a user with `role` and return a session logged in as them.
pub async fn login_as(app: &TestApp, role: Role) -> Session {
    let name = format!("{}{}", role.name(), new_id() % 100_000);
    add_user(app, &name, role.name(), role.site());
    login_as_user(app, &name, role.home()).await
}

/// The bureau plans the shipment the demo city has waiting (the first on its list): the plan's
/// path.
pub async fn plan_waiting_shipment(bureau: &Session) -> String {
    let list = bureau.get_text("/bureau/shipments").await;
    let at = list.find("/bureau/shipments/").expect("a shipment waiting");
    let id: String = list[at + 18..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let shipment = format!("/bureau/shipments/{id}");
    let res = bureau
        .post_form_from(&shipment, &format!("{shipment}/plan"), &[])
        .await;
    assert_eq!(res.status(), 303, "planned");
    res.headers()["location"].to_str().unwrap().to_string()
}

/// A site's exception form as an admin posts it (its token from the site's page): first as it
/// is, which answers the plan (409), then with the plan's token, which applies it.
pub struct ExceptionForm<'a> {
    admin: &'a Session,
    page: String,
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> ExceptionForm<'a> {
    pub fn new(admin: &'a Session, site: i64, fields: &[(&'a str, &'a str)]) -> Self {
        ExceptionForm {
            admin,
            page: format!("/admin/sites/{site}"),
            fields: fields.to_vec(),
        }
    }

    /// The day's closure from 08:00 to 12:00 local on 2030-03-05, for `reason`.
    pub fn morning_closure(admin: &'a Session, site: i64, reason: &'a str) -> Self {
        let fields = [
            ("exc-day", "2030-03-05"),
            ("kind", "closed"),
            ("exc-starts", "08:00"),
            ("exc-ends", "12:00"),
            ("exc-reason", reason),
        ];
        ExceptionForm::new(admin, site, &fields)
    }

    /// Post the form without a confirmation: the plan, or the form with its errors.
    pub async fn post(&self) -> reqwest::Response {
        self.post_with(&[]).await
    }

    /// Post the form confirming the plan whose token is `token`.
    pub async fn confirm(&self, token: &str) -> reqwest::Response {
        self.post_with(&[("confirm", token)]).await
    }

    async fn post_with(&self, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut form = self.fields.clone();
        form.extend_from_slice(extra);
        let url = format!("{}/exceptions", self.page);
        self.admin.post_form_from(&self.page, &url, &form).await
    }
}

/// The plan's fingerprint a confirmation page posts back.
pub fn confirm_token(page: &str) -> String {
    let key = "name=\"confirm\" value=\"";
    let at = page.find(key).expect("a confirmation form") + key.len();
    page[at..].split('"').next().unwrap().to_string()
}

/// Book resident `i` into `slot` for dose 1 through the API; the booking code.
pub async fn book_code(app: &TestApp, slot: i64, i: u32) -> String {
    let res = app.book_api(slot, 1, &resident(i)).await;
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    v["code"].as_str().unwrap().to_string()
}

/// Run `tests/browser/<script>` (a journey on `tests/browser/harness.mjs`) against the app in
/// Debian's headless Chromium with `args` after the base URL and screenshot directory; asserts
/// it succeeded and returns what it printed.
pub async fn run_in_chromium(app: &TestApp, script: &str, args: &[String]) -> String {
    assert!(
        std::path::Path::new("tests/browser/node_modules/playwright-core").exists(),
        "run `npm ci --prefix tests/browser` first (scripts/test.sh does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "Debian's chromium is needed: apt-get install chromium (scripts/test.sh does)"
    );
    let backend = if app.db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    let mut argv = vec![
        format!("tests/browser/{script}"),
        app.address.clone(),
        format!("target/screenshots/{backend}"),
    ];
    argv.extend_from_slice(args);
    let out = actix_web::web::block(move || {
        std::process::Command::new("node")
            .args(&argv)
            .env("CHROMIUM", chromium)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    stdout
}

/// Start a command, retrying while the kernel reports the executable busy (ETXTBSY): another
/// test thread may be forking while holding a just-written file open, a known Linux race.
pub fn spawn(cmd: &mut std::process::Command) -> std::process::Child {
    for _ in 0..50 {
        match cmd.spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) => panic!("cannot start {cmd:?}: {e}"),
        }
    }
    panic!("{cmd:?} stayed busy")
}
