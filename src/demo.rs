//! Demo and generated cities: the small demo city behind `serve --demo`, and `demo-data` for a
//! city of any size (load tests, evaluation at city scale). Both fill only an empty database.
//! Each site gets a weekly template (every day 08:30-16:30, lunch 11:30-13:30, 30-minute slots)
//! and its slots are made in exactly that shape, so the hourly publishing job keeps the city
//! going day after day without touching the slots generated here.

use anyhow::{bail, Context};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use diesel::Connection;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::{AnyConnection, Db};
use crate::domain::days::{day_start, local_day, local_to_utc};
use crate::domain::eligibility::DoseWindow;
use crate::domain::IdNumber;
use crate::ids::{new_id, SiteId};
use crate::models::stock::{self, Movement};
use crate::models::template::{self, SiteHours, SiteTemplate};
use crate::models::{
    appointment, product, resident, site, site_product, slot, town, user, vaccination, waiting,
    AppointmentStatus, NewAppointment, NewProduct, NewResident, NewSite, NewSlot, NewTown, NewUser,
    NewVaccination,
};
use crate::security::{hash_password, random_token, Keys};

/// The size of a generated city.
#[derive(Debug, Clone, Copy)]
pub struct CityOptions {
    pub towns: usize,
    pub sites_per_town: usize,
    pub days: i64,
    pub seats_per_slot: i32,
    /// Residents who already had a first dose, with later doses partly booked.
    pub residents_in_series: usize,
    /// Days of seats each site holds in stock at the start.
    pub stock_days: i64,
    /// People on each town's waiting list for a first dose.
    pub waiting_per_town: usize,
    /// Whether to create one user per role.
    pub users: bool,
    /// Whether each site gets its weekly template (hours, slot length, seats, products), so the
    /// publishing job adds each new day's slots. Off for a city whose slots all open at one
    /// announced instant (`demo-data --draw-opens-in`): no template rule says that, and
    /// publishing would open them at once.
    pub weekly_templates: bool,
}

impl CityOptions {
    /// The demo city of `serve --demo`: 8 towns, 20 sites, 14 days.
    pub fn demo() -> CityOptions {
        CityOptions {
            towns: 8,
            sites_per_town: 0,
            days: 14,
            seats_per_slot: 6,
            residents_in_series: 40,
            stock_days: 2,
            waiting_per_town: 400,
            users: true,
            weekly_templates: true,
        }
    }
}

/// Who was created, with passwords to print once.
#[derive(Debug, Default)]
pub struct Created {
    pub towns: usize,
    pub sites: usize,
    pub slots: usize,
    pub users: Vec<(String, String, String)>,
}

const TOWN_NAMES: [&str; 24] = [
    "城关镇",
    "东湖镇",
    "西岭镇",
    "南桥镇",
    "北港镇",
    "青山镇",
    "白沙镇",
    "金田镇",
    "石门镇",
    "龙泉镇",
    "桃园镇",
    "柳河镇",
    "松林镇",
    "梅岭镇",
    "新塘镇",
    "江口镇",
    "长安镇",
    "永和镇",
    "平安镇",
    "兴隆镇",
    "太平镇",
    "安宁镇",
    "凤凰镇",
    "双河镇",
];
/// The towns' English names, in the order of [`TOWN_NAMES`].
#[rustfmt::skip]
const TOWN_NAMES_EN: [&str; 24] = [
    "Chengguan", "Donghu", "Xiling", "Nanqiao", "Beigang", "Qingshan", "Baisha", "Jintian",
    "Shimen", "Longquan", "Taoyuan", "Liuhe", "Songlin", "Meiling", "Xintang", "Jiangkou",
    "Chang'an", "Yonghe", "Ping'an", "Xinglong", "Taiping", "Anning", "Fenghuang", "Shuanghe",
];
const SITE_KINDS: [&str; 3] = ["社区卫生服务中心", "卫生院接种点", "体育馆临时接种点"];
/// The kinds of site in English, in the order of [`SITE_KINDS`].
const SITE_KINDS_EN: [&str; 3] = [
    "Community Health Centre",
    "Health Centre Vaccination Point",
    "Sports Hall Temporary Vaccination Point",
];
const STREETS: [&str; 6] = ["人民路", "解放路", "建设路", "中山路", "和平路", "文化路"];
/// The streets in English, in the order of [`STREETS`].
#[rustfmt::skip]
const STREETS_EN: [&str; 6] = [
    "Renmin Road", "Jiefang Road", "Jianshe Road", "Zhongshan Road", "Heping Road", "Wenhua Road",
];
/// Every site's hours on every day, in minutes after local midnight: 08:30-16:30 with lunch
/// 11:30-13:30, as stored in `site_hours`.
const OPENS: i32 = 8 * 60 + 30;
const LUNCH: (i32, i32) = (11 * 60 + 30, 13 * 60 + 30);
const CLOSES: i32 = 16 * 60 + 30;
const SLOT_MINUTES: i32 = 30;
/// The longest `days_ahead` a template may have (the form's and the table's limit); a city
/// generated for more days keeps its later slots as they are.
const MAX_DAYS_AHEAD: i64 = 60;

/// Fill an empty database with a city. Refuses a database that already has towns.
pub fn generate_city(
    db: &Db,
    keys: &Keys,
    tz: Tz,
    now: NaiveDateTime,
    opts: CityOptions,
) -> anyhow::Result<Created> {
    if opts.weekly_templates && !(1..=1000).contains(&opts.seats_per_slot) {
        bail!("a site's weekly template has 1 to 1000 seats per slot");
    }
    let mut conn = db.write.get()?;
    if town::count(&mut conn)? > 0 {
        bail!("the database already has towns; demo data only fills an empty database");
    }
    let mut rng = StdRng::seed_from_u64(20211);
    let today = local_day(tz, now);
    let mut created = Created::default();
    conn.transaction::<_, anyhow::Error, _>(|c| {
        let products = insert_products(c)?;
        let mut site_ids = Vec::new();
        let mut town_ids = Vec::new();
        for i in 0..opts.towns {
            let base = TOWN_NAMES[i % TOWN_NAMES.len()];
            let base_en = TOWN_NAMES_EN[i % TOWN_NAMES_EN.len()];
            let (name, name_en) = if i < TOWN_NAMES.len() {
                (base.to_string(), format!("{base_en} Town"))
            } else {
                let n = i / TOWN_NAMES.len() + 1;
                (format!("{base}{n}"), format!("{base_en} Town {n}"))
            };
            let town_id = new_id();
            town::insert(
                c,
                &NewTown {
                    id: town_id,
                    code: format!("T{:03}", i + 1),
                    name,
                    eligible: rng.random_range(20_000..160_000),
                    contact_emails: format!("town{:03}@health.example.cn", i + 1),
                    active: true,
                    name_en: Some(name_en),
                },
            )?;
            created.towns += 1;
            town_ids.push(town_id);
            // The demo city has 20 sites over 8 towns: 3, 3, 3, 3, 2, 2, 2, 2.
            let n_sites = if opts.sites_per_town > 0 {
                opts.sites_per_town
            } else if i < 4 {
                3
            } else {
                2
            };
            for j in 0..n_sites {
                let site_id = new_id();
                site::insert(
                    c,
                    &NewSite {
                        id: site_id,
                        town_id,
                        name: format!(
                            "{}{}",
                            town_name_prefix(i),
                            SITE_KINDS[j % SITE_KINDS.len()]
                        ),
                        address: format!(
                            "{}{}号",
                            STREETS[(i + j) % STREETS.len()],
                            10 + 7 * j + i
                        ),
                        active: true,
                        name_en: Some(format!(
                            "{} {}",
                            TOWN_NAMES_EN[i % TOWN_NAMES_EN.len()],
                            SITE_KINDS_EN[j % SITE_KINDS_EN.len()]
                        )),
                        address_en: Some(format!(
                            "{} {}",
                            10 + 7 * j + i,
                            STREETS_EN[(i + j) % STREETS_EN.len()]
                        )),
                    },
                )?;
                created.sites += 1;
                site_ids.push((site_id, products[(i + j) % products.len()]));
            }
        }
        // Slots and stock: each site gives one product and holds `stock_days` days of its
        // seats in stock, so the shipment waiting to be planned has somewhere to go. The
        // opening stock of each product is one earlier delivery, a lot like any other: its
        // `lots` row holds what the sites received of it through the ledger, so the desk can
        // record doses from it at once.
        let opening: Vec<(i64, String)> = products
            .iter()
            .enumerate()
            .map(|(k, &p)| {
                (
                    p,
                    format!("OPEN{}-{}", rng.random_range(100_000..999_999), k + 1),
                )
            })
            .collect();
        let opening_lot = |product: i64| {
            opening
                .iter()
                .find(|(p, _)| *p == product)
                .map(|(_, l)| l.clone())
        };
        let mut received: Vec<(i64, i64)> = Vec::new();
        let mut rows = Vec::new();
        for &(site_id, product_id) in &site_ids {
            let mut seats_total = 0i64;
            for d in 0..opts.days {
                let day = today + Duration::days(d);
                for start in day_slots(tz, day) {
                    rows.push(NewSlot {
                        id: new_id(),
                        site_id,
                        product_id,
                        starts_at: start,
                        ends_at: start + Duration::minutes(SLOT_MINUTES.into()),
                        seats: opts.seats_per_slot,
                        second_dose_held: opts.seats_per_slot / 3,
                        booked_first: 0,
                        booked_second: 0,
                        opens_at: None,
                    });
                    if d < opts.stock_days {
                        seats_total += i64::from(opts.seats_per_slot);
                    }
                }
            }
            stock::record(
                c,
                &demo_movement(
                    Some(site_id),
                    product_id,
                    i32::try_from(seats_total).unwrap_or(i32::MAX),
                    "received",
                    "demo data: opening stock".into(),
                    opening_lot(product_id),
                    now,
                ),
            )?;
            received.push((product_id, seats_total));
            if opts.weekly_templates {
                insert_template(c, site_id, product_id, &opts, now)?;
            }
        }
        for (product_id, lot_number) in &opening {
            let doses: i64 = received
                .iter()
                .filter(|(p, _)| p == product_id)
                .map(|(_, n)| n)
                .sum();
            if doses > 0 {
                insert_lot(
                    c,
                    *product_id,
                    lot_number,
                    today + Duration::days(150),
                    doses,
                )?;
            }
        }
        created.slots = rows.len();
        slot::insert_many(c, &rows)?;
        insert_residents_in_series(
            c,
            keys,
            &mut rng,
            (now, tz),
            &site_ids,
            opts.residents_in_series,
        )?;
        insert_waiting(c, keys, &mut rng, now, &town_ids, opts.waiting_per_town)?;
        if opts.users {
            created.users = insert_users(c, now, site_ids.first().map(|s| s.0))?;
        }
        insert_shipment_to_plan(c, products[0], today, now, &mut rng)?;
        Ok(())
    })?;
    Ok(created)
}

fn town_name_prefix(i: usize) -> String {
    TOWN_NAMES[i % TOWN_NAMES.len()]
        .trim_end_matches('镇')
        .to_string()
}

/// The UTC start of every slot on a local day: the slots the sites' template asks for, with
/// local times turned into UTC as the publisher does (`domain::days::local_to_utc`).
pub fn day_slots(tz: Tz, day: NaiveDate) -> Vec<NaiveDateTime> {
    let mut out = Vec::new();
    for (from, to) in [(OPENS, LUNCH.0), (LUNCH.1, CLOSES)] {
        let mut m = from;
        while m + SLOT_MINUTES <= to {
            out.extend(local_to_utc(tz, day, m));
            m += SLOT_MINUTES;
        }
    }
    out
}

/// A site's weekly template in the shape of the generated slots: every day the same hours, one
/// product, the generated seats, as many days ahead as were generated (at most 60).
fn insert_template(
    c: &mut AnyConnection,
    site_id: i64,
    product_id: i64,
    opts: &CityOptions,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    let t = SiteTemplate {
        site_id,
        slot_minutes: SLOT_MINUTES,
        seats: opts.seats_per_slot,
        days_ahead: i32::try_from(opts.days.clamp(1, MAX_DAYS_AHEAD)).unwrap_or(1),
        updated_by: "demo-data".into(),
        updated_at: now,
    };
    let hours: Vec<SiteHours> = (0..7)
        .map(|weekday| SiteHours {
            site_id,
            weekday,
            opens: OPENS,
            lunch_starts: Some(LUNCH.0),
            lunch_ends: Some(LUNCH.1),
            closes: CLOSES,
        })
        .collect();
    template::replace(c, &t, &hours)?;
    site_product::replace(c, SiteId(site_id), &[product_id])?;
    Ok(())
}

/// The demo products' English names, by code.
fn product_name_en(code: &str) -> Option<&'static str> {
    match code {
        "INACT-2" => Some("COVID-19 Vaccine, Inactivated (Vero Cell)"),
        "MRNA-A" => Some("mRNA COVID-19 Vaccine A"),
        _ => None,
    }
}

fn insert_products(c: &mut AnyConnection) -> anyhow::Result<Vec<i64>> {
    let list = [
        (
            "INACT-2",
            "新冠病毒灭活疫苗（Vero细胞）",
            "示例生物制品所",
            2,
            21,
            56,
            18,
            120,
            2,
        ),
        (
            "MRNA-A",
            "mRNA 新冠疫苗 A",
            "示例医药",
            2,
            28,
            84,
            12,
            120,
            6,
        ),
    ];
    let mut ids = Vec::new();
    for (code, name, maker, doses, min, max, min_age, max_age, pack) in list {
        let id = new_id();
        product::insert(
            c,
            &NewProduct {
                id,
                code: code.into(),
                name: name.into(),
                manufacturer: maker.into(),
                doses_in_series: doses,
                min_interval_days: min,
                max_interval_days: max,
                min_age_years: min_age,
                max_age_years: max_age,
                pack_size: pack,
                name_en: product_name_en(code).map(str::to_string),
            },
        )?;
        ids.push(id);
    }
    Ok(ids)
}

/// A movement of demo stock (made by the demo-data actor).
fn demo_movement(
    site_id: Option<i64>,
    product_id: i64,
    delta: i32,
    kind: &str,
    reason: String,
    lot: Option<String>,
    created_at: NaiveDateTime,
) -> Movement {
    Movement {
        id: new_id(),
        site_id,
        product_id,
        delta,
        kind: kind.into(),
        reason,
        actor: "demo-data".into(),
        lot,
        created_at,
    }
}

/// A resident born on `birth` with a sample ID number (drawn from `rng` before the phone
/// number is).
fn demo_resident(
    keys: &Keys,
    rng: &mut StdRng,
    birth: NaiveDate,
    name: String,
    phone_prefix: &str,
    email: String,
    now: NaiveDateTime,
) -> NewResident {
    let id = sample_id_number(rng, birth);
    NewResident {
        id: new_id(),
        id_hash: keys.hash_id_number(&id),
        id_last4: id.last4().into(),
        birth_date: birth,
        name,
        phone: format!("{phone_prefix}{:08}", rng.random_range(0..100_000_000)),
        email,
        lang: "zh-CN".into(),
        created_at: now,
    }
}

/// A valid ID number for a person born on `birth`.
pub fn sample_id_number<R: Rng>(rng: &mut R, birth: NaiveDate) -> IdNumber {
    loop {
        let first17 = format!(
            "{}{}{:03}",
            rng.random_range(110_101..650_000),
            birth.format("%Y%m%d"),
            rng.random_range(0..1000)
        );
        if let Some(id) = IdNumber::with_check_digit(&first17) {
            return id;
        }
    }
}

/// A lot with no shipment row (demo deliveries before the system).
fn insert_lot(
    c: &mut AnyConnection,
    product_id: i64,
    lot_number: &str,
    expires_on: NaiveDate,
    doses: i64,
) -> anyhow::Result<()> {
    crate::models::lot::insert(
        c,
        &crate::models::lot::NewLot {
            id: new_id(),
            shipment_id: None,
            product_id,
            lot_number: lot_number.into(),
            expires_on,
            doses: i32::try_from(doses).unwrap_or(i32::MAX),
        },
    )?;
    Ok(())
}

/// Residents whose first dose was given 10-60 days ago; some have their second dose booked.
/// Their doses came from an earlier lot per product, received by each site and given out in
/// full, so the ledger, the lots and the dose records agree.
fn insert_residents_in_series(
    c: &mut AnyConnection,
    keys: &Keys,
    rng: &mut StdRng,
    (now, tz): (NaiveDateTime, Tz),
    sites: &[(i64, i64)],
    count: usize,
) -> anyhow::Result<()> {
    const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"];
    const GIVEN: [&str; 10] = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "军"];
    if sites.is_empty() {
        return Ok(());
    }
    let mut products: Vec<i64> = sites.iter().map(|s| s.1).collect();
    products.sort_unstable();
    products.dedup();
    let earlier = |product: i64| {
        let k = products.iter().position(|p| *p == product).unwrap_or(0);
        format!("LOT-DEMO-{}", k + 1)
    };
    let mut per_site: Vec<(i64, i64, i64)> = Vec::new();
    for i in 0..count {
        let (site_id, product_id) = sites[i % sites.len()];
        match per_site.iter_mut().find(|s| s.0 == site_id) {
            Some(s) => s.2 += 1,
            None => per_site.push((site_id, product_id, 1)),
        }
    }
    for &product_id in &products {
        let doses: i64 = per_site
            .iter()
            .filter(|s| s.1 == product_id)
            .map(|s| s.2)
            .sum();
        if doses > 0 {
            let expires = now.date() + Duration::days(30);
            insert_lot(c, product_id, &earlier(product_id), expires, doses)?;
        }
    }
    for &(site_id, product_id, doses) in &per_site {
        stock::record(
            c,
            &demo_movement(
                Some(site_id),
                product_id,
                i32::try_from(doses).unwrap_or(i32::MAX),
                "received",
                "demo data: an earlier delivery".into(),
                Some(earlier(product_id)),
                now - Duration::days(61),
            ),
        )?;
    }
    for i in 0..count {
        let (site_id, product_id) = sites[i % sites.len()];
        let birth = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default()
            + Duration::days(rng.random_range(0..18_000));
        let resident = demo_resident(
            keys,
            rng,
            birth,
            format!("{}{}", SURNAMES[i % 10], GIVEN[(i * 7) % 10]),
            "139",
            format!("resident{i}@example.cn"),
            now,
        );
        resident::insert(c, &resident)?;
        let resident_id = resident.id;
        let given = now - Duration::days(rng.random_range(10..60));
        vaccination::insert(
            c,
            &NewVaccination {
                id: new_id(),
                resident_id,
                appointment_id: None,
                site_id,
                product_id,
                dose_number: 1,
                lot: earlier(product_id),
                given_at: given,
                staff_user_id: None,
                observation_until: given + Duration::minutes(30),
            },
        )?;
        stock::record(
            c,
            &demo_movement(
                Some(site_id),
                product_id,
                -1,
                "given",
                format!("demo data: dose 1 of resident {resident_id}"),
                Some(earlier(product_id)),
                given,
            ),
        )?;
        // Every third resident already holds a second-dose appointment.
        if i % 3 == 0 {
            book_demo_second_dose(c, (now, tz), resident_id, site_id, product_id, given)?;
        }
    }
    Ok(())
}

/// Residents with no dose yet, on their town's waiting list.
fn insert_waiting(
    c: &mut AnyConnection,
    keys: &Keys,
    rng: &mut StdRng,
    now: NaiveDateTime,
    towns: &[i64],
    per_town: usize,
) -> anyhow::Result<()> {
    for (t, town_id) in towns.iter().enumerate() {
        for i in 0..per_town {
            let birth = NaiveDate::from_ymd_opt(1960, 1, 1).unwrap_or_default()
                + Duration::days(rng.random_range(0..15_000));
            let resident = demo_resident(
                keys,
                rng,
                birth,
                format!("候补{}", t * per_town + i + 1),
                "137",
                format!("waiting{t}-{i}@example.cn"),
                now,
            );
            resident::insert(c, &resident)?;
            let resident_id = resident.id;
            waiting::insert(
                c,
                &waiting::WaitingEntry {
                    id: new_id(),
                    town_id: *town_id,
                    resident_id,
                    dose_number: 1,
                    status: "waiting".into(),
                    created_at: now - Duration::minutes((per_town - i) as i64),
                    priority: 0,
                },
            )?;
        }
    }
    Ok(())
}

fn book_demo_second_dose(
    c: &mut AnyConnection,
    (now, tz): (NaiveDateTime, Tz),
    resident_id: i64,
    site_id: i64,
    product_id: i64,
    given: NaiveDateTime,
) -> anyhow::Result<()> {
    let p = product::find(c, crate::ids::ProductId(product_id))?.context("product")?;
    // From the window's first city day, as booking reckons it (and not before tomorrow).
    let window = DoseWindow::after(tz, given, p.min_interval_days, p.max_interval_days);
    let opens = day_start(tz, window.opens).max(now + Duration::days(1));
    let candidates = slot::list_open_for_sites(c, &[site_id], opens, 50)?;
    for s in candidates {
        if slot::take_seat(c, crate::ids::SlotId(s.id), 2, false)?
            && stock::promise_dose(
                c,
                crate::ids::SiteId(site_id),
                crate::ids::ProductId(product_id),
            )?
        {
            let id = new_id();
            appointment::insert(
                c,
                &NewAppointment {
                    id,
                    code: crate::domain::BookingCode::generate(&mut rand::rng())
                        .as_str()
                        .into(),
                    resident_id,
                    slot_id: s.id,
                    site_id,
                    product_id,
                    dose_number: 2,
                    status: AppointmentStatus::Booked.as_str().into(),
                    starts_at: s.starts_at,
                    created_at: now,
                    updated_at: now,
                    checked_in_at: None,
                },
            )?;
            // Like any booking, its confirmation is queued with it.
            let r = crate::models::resident::find(c, crate::ids::ResidentId(resident_id))?
                .context("resident")?;
            crate::models::outbox::enqueue(
                c,
                crate::models::outbox::Kind::Booked,
                id,
                &r.email,
                &r.lang,
                None,
                now,
            )?;
            return Ok(());
        }
    }
    Ok(())
}

/// A shipment received today and not yet allocated, so the bureau has one to plan.
fn insert_shipment_to_plan(
    c: &mut AnyConnection,
    product_id: i64,
    today: NaiveDate,
    now: NaiveDateTime,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    use crate::models::shipment::{self, Shipment, ShipmentLot};
    let id = new_id();
    shipment::insert(
        c,
        &Shipment {
            id,
            product_id,
            doses: 2400,
            received_on: today,
            next_expected_on: today + Duration::days(7),
            next_latest_on: today + Duration::days(10),
            status: "received".into(),
            recorded_by: "demo-data".into(),
            created_at: now,
        },
    )?;
    for (i, doses) in [1400, 1000].into_iter().enumerate() {
        let lot = format!("DEMO{}-{}", rng.random_range(10_000..99_999), i + 1);
        crate::models::lot::insert(
            c,
            &ShipmentLot {
                id: new_id(),
                shipment_id: Some(id),
                product_id,
                lot_number: lot.clone(),
                expires_on: today + Duration::days(180 + 30 * i as i64),
                doses,
            },
        )?;
        stock::record(
            c,
            &demo_movement(
                None,
                product_id,
                doses,
                "received",
                format!("shipment {id}"),
                Some(lot),
                now,
            ),
        )?;
    }
    Ok(())
}

fn insert_users(
    c: &mut AnyConnection,
    now: NaiveDateTime,
    clinic_site: Option<i64>,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for (name, role, site) in [
        ("admin", "admin", None),
        ("bureau", "bureau", None),
        ("clinic", "clinic", clinic_site),
    ] {
        let password = random_token()[..16].to_string();
        user::insert(
            c,
            &NewUser {
                id: new_id(),
                username: name.into(),
                password_hash: hash_password(&password)?,
                role: role.into(),
                site_id: site,
                active: true,
                created_at: now,
            },
        )?;
        out.push((name.to_string(), role.to_string(), password));
    }
    Ok(out)
}
