//! The bureau's shipment workflow: record a shipment with its lots; build the lex-v1 instance
//! from the database; plan it (and split each town's share across its sites); adjust a town's
//! share against the optimal plan; approve it in one transaction (stock ledger, seats held for
//! second doses, notices to towns). No HTTP here.
//!
//! Instances are built as `vax-alloc-instance/1` documents and go through the same parser as the
//! `plan-allocation` CLI, so what the page plans, an analyst can re-run from the downloaded JSON.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::allocation::{self, parse_instance, Instance};
use crate::db::{AnyConnection, Db};
use crate::ids::{new_id, ProductId, SiteId, TownId};
use crate::models::shipment::{self, AllocationPlan, Shipment, ShipmentLot, TownNotice};
use crate::models::stock::{self, Movement};
use crate::models::{audit, product, site, slot, town, Product, Site, Town};
use crate::views::day_bounds;

/// Why a bureau action was refused. `Field` errors name the form field and a catalogue key.
#[derive(Debug, thiserror::Error)]
pub enum BureauError {
    #[error("{field}: {key}")]
    Field {
        field: &'static str,
        key: &'static str,
    },
    #[error("lots line {line}: {key}")]
    Lot { line: usize, key: &'static str },
    #[error("not found")]
    NotFound,
    #[error("the plan is approved already")]
    AlreadyApproved,
    #[error("another plan for this shipment is approved")]
    OtherApproved,
    /// The stored plan's shares do not add up (a town's sites get more or less than its share,
    /// or the shares exceed the shipment's lots): it is not carried out.
    #[error("the plan's shares do not add up at the sites")]
    Unplaced,
    /// The plan kept changing under an adjustment (others adjusting it at the same moment).
    #[error("the plan changed while it was being adjusted")]
    Changed,
    #[error("the instance could not be planned: {0}")]
    Instance(String),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database writer: {0}")]
    Write(#[from] crate::db::WriteError),
}

fn field(field: &'static str, key: &'static str) -> BureauError {
    BureauError::Field { field, key }
}

/// One lot as typed: `NUMBER, YYYY-MM-DD, DOSES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotInput {
    pub lot_number: String,
    pub expires_on: NaiveDate,
    pub doses: i32,
}

/// Parse the lots field: one lot per line, `number, expiry date, doses`.
pub fn parse_lots(text: &str) -> Result<Vec<LotInput>, BureauError> {
    use crate::domain::{parse_date, parse_lot_number, text};
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let lot = |key: &'static str| BureauError::Lot { line, key };
        let raw = text::clean(raw).ok_or(lot(text::CHARS))?;
        if raw.is_empty() {
            continue;
        }
        let parts: Vec<&str> = raw.split([',', '，']).map(str::trim).collect();
        let [number, expiry, doses] = parts[..] else {
            return Err(lot("err.lot.format"));
        };
        let number = parse_lot_number(number, "lots").map_err(|e| lot(e.key))?;
        let expires_on = parse_date(expiry, "lots").map_err(|_| lot("err.lot.expiry"))?;
        let doses: i32 = doses
            .parse()
            .ok()
            .filter(|d| *d > 0)
            .ok_or(lot("err.lot.doses"))?;
        if out.iter().any(|l: &LotInput| l.lot_number == number) {
            return Err(lot("err.lot.duplicate"));
        }
        out.push(LotInput {
            lot_number: number,
            expires_on,
            doses,
        });
    }
    if out.is_empty() {
        return Err(field("lots", "err.lot.none"));
    }
    Ok(out)
}

/// A shipment as recorded on the page.
#[derive(Debug, Clone)]
pub struct ShipmentInput {
    pub product_id: i64,
    pub doses: i32,
    pub received_on: NaiveDate,
    pub next_expected_on: NaiveDate,
    pub next_latest_on: NaiveDate,
    pub lots: Vec<LotInput>,
}

/// Record a received shipment: the shipment, its lots, and the doses into central stock through
/// the ledger, with an audit entry, in one transaction.
pub fn record_shipment(
    db: &Db,
    input: ShipmentInput,
    today: NaiveDate,
    actor: &str,
    now: NaiveDateTime,
) -> Result<i64, BureauError> {
    if input.received_on > today {
        return Err(field("received_on", "err.shipment.future"));
    }
    if input.next_expected_on <= input.received_on {
        return Err(field("next_expected_on", "err.shipment.expected_order"));
    }
    if input.next_latest_on < input.next_expected_on {
        return Err(field("next_latest_on", "err.shipment.latest_order"));
    }
    if input.next_latest_on > input.received_on + Duration::days(366)
        || input.received_on < today - Duration::days(366)
    {
        return Err(field("next_latest_on", "err.shipment.too_far"));
    }
    if let Some(i) = input
        .lots
        .iter()
        .position(|l| l.expires_on <= input.received_on)
    {
        return Err(BureauError::Lot {
            line: i + 1,
            key: "err.lot.expired",
        });
    }
    let total: i64 = input.lots.iter().map(|l| i64::from(l.doses)).sum();
    if total != i64::from(input.doses) {
        return Err(field("lots", "err.lot.sum"));
    }
    {
        let mut c = db.read.get()?;
        product::find(&mut c, ProductId(input.product_id))?
            .ok_or(field("product_id", "err.shipment.product"))?;
        if !product_is_given(&mut c, input.product_id)? {
            return Err(field("product_id", "err.shipment.no_site"));
        }
        for l in &input.lots {
            if shipment::lot_exists(&mut c, input.product_id, &l.lot_number)? {
                return Err(field("lots", "err.lot.known"));
            }
        }
    }
    let actor = actor.to_string();
    db.transaction(move |c| -> Result<i64, BureauError> {
        let id = new_id();
        shipment::insert(
            c,
            &Shipment {
                id,
                product_id: input.product_id,
                doses: input.doses,
                received_on: input.received_on,
                next_expected_on: input.next_expected_on,
                next_latest_on: input.next_latest_on,
                status: "received".into(),
                recorded_by: actor.clone(),
                created_at: now,
            },
        )?;
        for l in &input.lots {
            shipment::insert_lot(
                c,
                &ShipmentLot {
                    id: new_id(),
                    shipment_id: Some(id),
                    product_id: input.product_id,
                    lot_number: l.lot_number.clone(),
                    expires_on: l.expires_on,
                    doses: l.doses,
                },
            )?;
            stock::record(
                c,
                &Movement {
                    id: new_id(),
                    site_id: None,
                    product_id: input.product_id,
                    delta: l.doses,
                    kind: "received".into(),
                    reason: format!("shipment {id}"),
                    actor: actor.clone(),
                    lot: Some(l.lot_number.clone()),
                    created_at: now,
                },
            )?;
        }
        audit::record(
            c,
            now,
            &actor,
            "shipment.record",
            &format!("shipment {id}"),
            &format!(
                "{} doses of product {}, next expected {} (latest {})",
                input.doses, input.product_id, input.next_expected_on, input.next_latest_on
            ),
        )?;
        Ok(id)
    })
}

/// Whether any site gives the product (has slots or stock of it).
fn product_is_given(c: &mut AnyConnection, product_id: i64) -> Result<bool, BureauError> {
    use crate::db::schema::{slots, stock_balances};
    use diesel::prelude::*;
    let slots: i64 = slots::table
        .filter(slots::product_id.eq(product_id))
        .count()
        .get_result(c)?;
    let stock: i64 = stock_balances::table
        .filter(stock_balances::product_id.eq(product_id))
        .count()
        .get_result(c)?;
    Ok(slots + stock > 0)
}

/// A plan as stored and shown: per town (and per site) what each level gets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StoredPlan {
    pub towns: Vec<TownLine>,
    pub central_hold: u64,
    pub levels: LevelTotals,
    pub water_level: f64,
    pub adjustments: Vec<Adjustment>,
}

/// The level totals of a plan.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct LevelTotals {
    pub urgent_second: u64,
    pub reserve: u64,
    pub first: u64,
    pub other_second: u64,
}

/// One town's line of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TownLine {
    pub town_id: i64,
    pub code: String,
    pub name: String,
    pub ship: u64,
    pub urgent_second: u64,
    pub reserve: u64,
    pub first: u64,
    pub other_second: u64,
    pub coverage_before: f64,
    pub coverage_after: f64,
    /// Why first doses stopped where they did: capacity, waiting_list, stock,
    /// shipment_exhausted or none.
    pub cap: String,
    pub second_doses: BTreeMap<String, u64>,
    pub sites: Vec<SiteLine>,
}

/// One site's share of its town's line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SiteLine {
    pub site_id: i64,
    pub name: String,
    pub ship: u64,
    pub first: u64,
    pub second_doses: BTreeMap<String, u64>,
}

/// A change the bureau made to a town's share.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Adjustment {
    pub code: String,
    pub from: u64,
    pub to: u64,
    pub reason: String,
    pub by: String,
}

/// What the planner was given: the instance, and per town the site-level "towns" that split it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredInstance {
    pub instance: Value,
    pub sites: BTreeMap<String, Vec<Value>>,
    pub town_ids: BTreeMap<String, i64>,
    pub site_names: BTreeMap<String, String>,
}

impl StoredPlan {
    /// Recompute totals and the central hold from the town lines.
    fn total(&mut self, shipment: u64) {
        let mut l = LevelTotals::default();
        for t in &self.towns {
            l.urgent_second += t.urgent_second;
            l.reserve += t.reserve;
            l.first += t.first;
            l.other_second += t.other_second;
        }
        self.levels = l;
        self.central_hold = shipment.saturating_sub(self.towns.iter().map(|t| t.ship).sum());
    }
}

/// Per site, what the instance needs to know.
#[derive(Default, Clone)]
struct SiteFacts {
    first_dosed: u64,
    booked_first: u64,
    stock: u64,
    capacity: Vec<u64>,
    cohorts: BTreeMap<NaiveDate, u64>,
}

/// Build the instance for a shipment from the database, as of `run_date`.
pub fn build_instance(
    c: &mut AnyConnection,
    s: &Shipment,
    p: &Product,
    run_date: NaiveDate,
    tz: Tz,
) -> Result<StoredInstance, BureauError> {
    use crate::db::schema::{appointments, slots, vaccinations, waiting_list};
    use diesel::prelude::*;
    let horizon = (s.next_expected_on - run_date).num_days();
    if horizon < 1 {
        return Err(field("next_expected_on", "err.shipment.expected_passed"));
    }
    let towns = town::list_active(c)?;
    let sites = site::list_active(c)?;
    let mut facts: HashMap<i64, SiteFacts> = sites
        .iter()
        .map(|s| {
            (
                s.id,
                SiteFacts {
                    capacity: vec![0; horizon as usize],
                    ..Default::default()
                },
            )
        })
        .collect();

    // Doses given: first doses by site, and who still waits for a second dose of this product.
    let given: Vec<(i64, i64, i64, i32, NaiveDateTime)> = vaccinations::table
        .filter(vaccinations::dose_number.le(2))
        .select((
            vaccinations::resident_id,
            vaccinations::site_id,
            vaccinations::product_id,
            vaccinations::dose_number,
            vaccinations::given_at,
        ))
        .load(c)?;
    let second: HashSet<i64> = given.iter().filter(|g| g.3 == 2).map(|g| g.0).collect();
    for (resident, site_id, product_id, dose, at) in &given {
        let Some(f) = facts.get_mut(site_id) else {
            continue;
        };
        if *dose == 1 {
            f.first_dosed += 1;
            if *product_id == p.id && !second.contains(resident) {
                let day = crate::views::local(tz, *at).date_naive().min(run_date);
                *f.cohorts.entry(day).or_default() += 1;
            }
        }
    }
    // First doses booked at each site (they are first-dose demand the shipment must cover).
    let booked: Vec<i64> = appointments::table
        .filter(appointments::product_id.eq(p.id))
        .filter(appointments::dose_number.eq(1))
        .filter(appointments::status.eq_any(["booked", "checked_in"]))
        .select(appointments::site_id)
        .load(c)?;
    for site_id in booked {
        if let Some(f) = facts.get_mut(&site_id) {
            f.booked_first += 1;
        }
    }
    for site in &sites {
        for b in stock::balances_for_site(c, SiteId(site.id))? {
            if b.product_id == p.id {
                if let Some(f) = facts.get_mut(&site.id) {
                    f.stock = u64::try_from(b.on_hand).unwrap_or(0);
                }
            }
        }
    }
    // Seats per day over the horizon.
    let (from, _) = day_bounds(tz, run_date);
    let (_, to) = day_bounds(tz, run_date + Duration::days(horizon - 1));
    let seats: Vec<(i64, NaiveDateTime, i32)> = slots::table
        .filter(slots::product_id.eq(p.id))
        .filter(slots::starts_at.ge(from))
        .filter(slots::starts_at.lt(to))
        .select((slots::site_id, slots::starts_at, slots::seats))
        .load(c)?;
    for (site_id, at, n) in seats {
        let day = (crate::views::local(tz, at).date_naive() - run_date).num_days();
        if let (Some(f), Ok(d)) = (facts.get_mut(&site_id), usize::try_from(day)) {
            if let Some(cap) = f.capacity.get_mut(d) {
                *cap += u64::try_from(n).unwrap_or(0);
            }
        }
    }
    let waiting: Vec<i64> = waiting_list::table
        .filter(waiting_list::status.eq("waiting"))
        .select(waiting_list::town_id)
        .load(c)?;

    let mut town_docs = Vec::new();
    let mut site_docs = BTreeMap::new();
    let mut town_ids = BTreeMap::new();
    let mut site_names = BTreeMap::new();
    for t in &towns {
        let own: Vec<&Site> = sites.iter().filter(|s| s.town_id == t.id).collect();
        if own.is_empty() {
            continue;
        }
        let waiting_here = waiting.iter().filter(|w| **w == t.id).count() as u64;
        let mut sum = SiteFacts {
            capacity: vec![0; horizon as usize],
            ..Default::default()
        };
        let mut docs = Vec::new();
        for s in &own {
            let f = &facts[&s.id];
            sum.first_dosed += f.first_dosed;
            sum.booked_first += f.booked_first;
            sum.stock += f.stock;
            for (a, b) in sum.capacity.iter_mut().zip(&f.capacity) {
                *a += b;
            }
            for (d, n) in &f.cohorts {
                *sum.cohorts.entry(*d).or_default() += n;
            }
            // Within a town, each site sees the town's waiting list: the split decides who serves it.
            let eligible = (t.eligible.max(0) as u64 / own.len() as u64).max(1);
            docs.push(unit_doc(
                &s.id.to_string(),
                &s.name,
                eligible,
                f,
                waiting_here,
            ));
            site_names.insert(s.id.to_string(), s.name.clone());
        }
        town_docs.push(unit_doc(
            &t.code,
            &t.name,
            t.eligible.max(0) as u64,
            &sum,
            waiting_here,
        ));
        site_docs.insert(t.code.clone(), docs);
        town_ids.insert(t.code.clone(), t.id);
    }
    let instance = json!({
        "schema": "vax-alloc-instance/1",
        "instance_id": format!("shipment-{}-{}", s.id, run_date),
        "run_date": run_date.to_string(),
        "product": {"id": p.code, "min_interval_days": p.min_interval_days,
                    "max_interval_days": p.max_interval_days, "pack_size": p.pack_size},
        "shipment": {"doses": s.doses, "received_date": s.received_on.min(run_date).to_string()},
        "next_shipment": {"expected_date": s.next_expected_on.to_string(),
                          "latest_date": s.next_latest_on.to_string()},
        "policy": {"name": "lex-v1", "reserve_safety_factor": 1.0},
        "towns": town_docs,
    });
    Ok(StoredInstance {
        instance,
        sites: site_docs,
        town_ids,
        site_names,
    })
}

/// One town (or site) of an instance document.
fn unit_doc(id: &str, name: &str, eligible: u64, f: &SiteFacts, waiting_list: u64) -> Value {
    let waiting = f.booked_first + waiting_list;
    let eligible = eligible.max(f.first_dosed + waiting).max(1);
    let cohorts: Vec<Value> = f
        .cohorts
        .iter()
        .map(|(d, n)| json!({"cohort_id": format!("{id}@{d}"), "first_dose_date": d.to_string(), "count": n}))
        .collect();
    json!({
        "id": id, "name": name, "population": eligible, "eligible": eligible,
        "first_dosed": f.first_dosed, "first_dose_waiting": waiting,
        "stock_on_hand": f.stock, "capacity_per_day": f.capacity,
        "second_dose_queue": cohorts,
    })
}

/// The instance made of `towns` (documents), with the parent's header and `doses` to ship.
fn sub_instance(
    parent: &Value,
    towns: Vec<Value>,
    doses: u64,
    suffix: &str,
) -> Result<Instance, BureauError> {
    let mut doc = parent.clone();
    doc["towns"] = Value::Array(towns);
    doc["shipment"]["doses"] = json!(doses);
    doc["instance_id"] = json!(format!(
        "{}/{suffix}",
        parent["instance_id"].as_str().unwrap_or("")
    ));
    parse_instance(&doc.to_string()).map_err(|e| BureauError::Instance(e.to_string()))
}

/// Plan one town alone with `doses`: its best use of them, and the split across its sites.
fn town_line(si: &StoredInstance, code: &str, doses: u64) -> Result<TownLine, BureauError> {
    let town_doc = si.instance["towns"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["id"] == code))
        .cloned()
        .ok_or(BureauError::NotFound)?;
    let alone = allocation::plan(&sub_instance(
        &si.instance,
        vec![town_doc.clone()],
        doses,
        code,
    )?);
    let name = town_doc["name"].as_str().unwrap_or_default();
    line_of(si, name, doses, &alone.towns[0], &alone.explanations[0])
}

/// A town's line from its plan and explanation, with its share split across its sites. `ship`
/// is what the town is sent (an adjustment may send more than the town can use).
fn line_of(
    si: &StoredInstance,
    name: &str,
    ship: u64,
    tp: &allocation::TownPlan,
    ex: &allocation::TownExplanation,
) -> Result<TownLine, BureauError> {
    let site_docs = si.sites.get(&tp.id).cloned().unwrap_or_default();
    if site_docs.is_empty() && ship > 0 {
        return Err(field("doses", "err.adjust.no_sites"));
    }
    // The whole share goes to the sites, including what the town cannot use before the next
    // shipment (an adjustment may send more): the sites get it as stock.
    let split =
        allocation::split_whole_share(&sub_instance(&si.instance, site_docs, ship, &tp.id)?)
            .map_err(|e| BureauError::Instance(e.to_string()))?;
    Ok(TownLine {
        town_id: si.town_ids.get(&tp.id).copied().unwrap_or_default(),
        code: tp.id.clone(),
        name: name.to_string(),
        ship,
        urgent_second: ex.urgent_second,
        reserve: ex.reserve,
        first: ex.first,
        other_second: ex.other_second,
        coverage_before: ex.coverage_before,
        coverage_after: ex.coverage_after,
        cap: cap_name(&ex.first_dose_cap),
        second_doses: tp.second_doses.clone(),
        sites: split
            .towns
            .iter()
            .map(|s| SiteLine {
                site_id: s.id.parse().unwrap_or_default(),
                name: si.site_names.get(&s.id).cloned().unwrap_or_default(),
                ship: s.ship_doses,
                first: s.first_doses,
                second_doses: s.second_doses.clone(),
            })
            .collect(),
    })
}

fn cap_name(cap: &allocation::FirstDoseCap) -> String {
    serde_json::to_value(cap)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "none".into())
}

/// The optimal plan of an instance, with each town's site split.
pub fn optimal_plan(si: &StoredInstance) -> Result<StoredPlan, BureauError> {
    let inst = parse_instance(&si.instance.to_string())
        .map_err(|e| BureauError::Instance(e.to_string()))?;
    let p = allocation::plan(&inst);
    let mut towns = Vec::new();
    for (tp, ex) in p.towns.iter().zip(&p.explanations) {
        let name = inst
            .towns()
            .iter()
            .find(|t| t.id == tp.id)
            .map(|t| t.name.as_str());
        towns.push(line_of(
            si,
            name.unwrap_or_default(),
            tp.ship_doses,
            tp,
            ex,
        )?);
    }
    let mut out = StoredPlan {
        towns,
        central_hold: p.central_hold,
        levels: LevelTotals::default(),
        water_level: p.levels.water_level,
        adjustments: Vec::new(),
    };
    out.total(inst.header().shipment.doses);
    Ok(out)
}

/// Plan a shipment as of `today`: build the instance, run the engine, store a draft plan.
pub fn make_plan(
    db: &Db,
    shipment_id: i64,
    today: NaiveDate,
    tz: Tz,
    actor: &str,
    now: NaiveDateTime,
) -> Result<i64, BureauError> {
    let (si, plan) = {
        let mut c = db.read.get()?;
        let s = shipment::find(&mut c, shipment_id)?.ok_or(BureauError::NotFound)?;
        if s.status == "approved" {
            return Err(BureauError::AlreadyApproved);
        }
        let p = product::find(&mut c, ProductId(s.product_id))?.ok_or(BureauError::NotFound)?;
        let si = build_instance(&mut c, &s, &p, today.max(s.received_on), tz)?;
        let plan = optimal_plan(&si)?;
        (si, plan)
    };
    let actor = actor.to_string();
    db.transaction(move |c| -> Result<i64, BureauError> {
        let id = new_id();
        let plan_json = serde_json::to_string(&plan).unwrap_or_default();
        shipment::insert_plan(
            c,
            &AllocationPlan {
                id,
                shipment_id,
                status: "draft".into(),
                instance_json: serde_json::to_string(&si).unwrap_or_default(),
                plan_json: plan_json.clone(),
                optimal_json: plan_json,
                created_by: actor.clone(),
                created_at: now,
                approved_by: None,
                approved_at: None,
            },
        )?;
        audit::record(
            c,
            now,
            &actor,
            "allocation.plan",
            &format!("plan {id} of shipment {shipment_id}"),
            &format!(
                "urgent {} reserve {} first {} other {} hold {}",
                plan.levels.urgent_second,
                plan.levels.reserve,
                plan.levels.first,
                plan.levels.other_second,
                plan.central_hold
            ),
        )?;
        Ok(id)
    })
}

/// A stored plan with what it was made from.
pub struct LoadedPlan {
    pub row: AllocationPlan,
    pub shipment: Shipment,
    pub product: Product,
    pub instance: StoredInstance,
    pub plan: StoredPlan,
    pub optimal: StoredPlan,
}

/// Load a plan and parse its JSON.
pub fn load_plan(c: &mut AnyConnection, id: i64) -> Result<LoadedPlan, BureauError> {
    let row = shipment::find_plan(c, id)?.ok_or(BureauError::NotFound)?;
    let s = shipment::find(c, row.shipment_id)?.ok_or(BureauError::NotFound)?;
    let p = product::find(c, ProductId(s.product_id))?.ok_or(BureauError::NotFound)?;
    let bad = |e: serde_json::Error| BureauError::Instance(e.to_string());
    Ok(LoadedPlan {
        instance: serde_json::from_str(&row.instance_json).map_err(bad)?,
        plan: serde_json::from_str(&row.plan_json).map_err(bad)?,
        optimal: serde_json::from_str(&row.optimal_json).map_err(bad)?,
        row,
        shipment: s,
        product: p,
    })
}

/// How often an adjustment is re-applied to a plan others changed meanwhile.
const ADJUST_TRIES: usize = 32;

/// Change one town's share of a draft plan, with a reason. Refused when it breaks a hard
/// constraint: more than the shipment, not whole packs, an unknown town.
///
/// The new plan is written only over the plan it was computed from (a conditional update on
/// the stored JSON); when another adjustment or an approval got there first, it is computed
/// again from the plan as it is then, so simultaneous adjustments never undo each other and one
/// that comes after the approval is refused.
pub fn adjust(
    db: &Db,
    plan_id: i64,
    code: &str,
    doses: u64,
    reason: &str,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), BureauError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(field("reason", "err.adjust.reason"));
    }
    for _ in 0..ADJUST_TRIES {
        if adjust_once(db, plan_id, code, doses, reason, actor, now)? {
            return Ok(());
        }
    }
    Err(BureauError::Changed)
}

/// One try of [`adjust`]: false when the plan changed since it was read.
fn adjust_once(
    db: &Db,
    plan_id: i64,
    code: &str,
    doses: u64,
    reason: &str,
    actor: &str,
    now: NaiveDateTime,
) -> Result<bool, BureauError> {
    let loaded = {
        let mut c = db.read.get()?;
        load_plan(&mut c, plan_id)?
    };
    if loaded.row.status != "draft" {
        return Err(BureauError::AlreadyApproved);
    }
    let pack = u64::try_from(loaded.product.pack_size.max(1)).unwrap_or(1);
    if !doses.is_multiple_of(pack) {
        return Err(field("doses", "err.adjust.packs"));
    }
    let mut plan = loaded.plan.clone();
    let Some(i) = plan.towns.iter().position(|t| t.code == code) else {
        return Err(BureauError::NotFound);
    };
    let shipment = u64::try_from(loaded.shipment.doses).unwrap_or(0);
    let others: u64 = plan
        .towns
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, t)| t.ship)
        .sum();
    if others + doses > shipment {
        return Err(field("doses", "err.adjust.over"));
    }
    let from = plan.towns[i].ship;
    plan.towns[i] = town_line(&loaded.instance, code, doses)?;
    plan.adjustments.push(Adjustment {
        code: code.to_string(),
        from,
        to: doses,
        reason: reason.to_string(),
        by: actor.to_string(),
    });
    plan.total(shipment);
    let (actor, reason, code) = (actor.to_string(), reason.to_string(), code.to_string());
    let read = loaded.row.plan_json;
    db.transaction(move |c| -> Result<bool, BureauError> {
        if !shipment::update_draft(
            c,
            plan_id,
            &read,
            &serde_json::to_string(&plan).unwrap_or_default(),
        )? {
            return Ok(false);
        }
        audit::record(
            c,
            now,
            &actor,
            "allocation.adjust",
            &format!("plan {plan_id} town {code}"),
            &format!("{from} -> {doses} doses: {reason}"),
        )?;
        Ok(true)
    })
}

/// Approve a draft plan in one transaction: move the doses from central stock to each site
/// through the ledger (lots by soonest expiry), hold seats for the second doses falling due,
/// record a notice for each town, and audit it. Returns false if it was approved already
/// (approving twice does nothing more).
pub fn approve(
    db: &Db,
    plan_id: i64,
    tz: Tz,
    actor: &str,
    now: NaiveDateTime,
) -> Result<bool, BureauError> {
    let loaded = {
        let mut c = db.read.get()?;
        load_plan(&mut c, plan_id)?
    };
    if loaded.row.status == "approved" {
        return Ok(false);
    }
    let actor = actor.to_string();
    let result = db.transaction(move |c| -> Result<bool, BureauError> {
        if !shipment::approve(c, plan_id, &actor, now)? {
            return Ok(false);
        }
        // The plan as it is now that its row is ours: an adjustment that committed after the
        // read above is what gets carried out (and one after this point is refused).
        let row = shipment::find_plan(c, plan_id)?.ok_or(BureauError::NotFound)?;
        let plan: StoredPlan = serde_json::from_str(&row.plan_json)
            .map_err(|e| BureauError::Instance(e.to_string()))?;
        let s = &loaded.shipment;
        // What is planned is what is moved and what the towns are told: a plan whose towns'
        // shares are not exactly their sites' (a draft stored by an older version) or exceed
        // the shipment is refused, and the whole transaction with it.
        let planned: u64 = plan.towns.iter().map(|t| t.ship).sum();
        if planned > u64::try_from(s.doses).unwrap_or(0)
            || plan
                .towns
                .iter()
                .any(|t| t.sites.iter().map(|s| s.ship).sum::<u64>() != t.ship)
        {
            return Err(BureauError::Unplaced);
        }
        shipment::set_status(c, s.id, "approved")?;
        let mut lots: Vec<(String, i64)> = shipment::lots_of(c, s.id)?
            .into_iter()
            .map(|l| (l.lot_number, i64::from(l.doses)))
            .collect();
        let run_date = loaded.instance.instance["run_date"]
            .as_str()
            .and_then(|d| d.parse::<NaiveDate>().ok())
            .unwrap_or(s.received_on);
        let horizon = (s.next_expected_on - run_date).num_days().max(1);
        // Rows are locked in the global order (slots by id, then stock rows by key), the same
        // as bookings, so approving while residents book cannot deadlock on PostgreSQL.
        let mut held: BTreeMap<i64, i32> = BTreeMap::new();
        for site_line in plan.towns.iter().flat_map(|t| &t.sites) {
            hold_second_dose_seats(
                c,
                &loaded.product,
                site_line,
                run_date,
                horizon,
                tz,
                &mut held,
            )?;
        }
        for (slot_id, n) in held {
            slot::add_held_seats(c, crate::ids::SlotId(slot_id), n)?;
        }
        let mut sends: Vec<(i64, u64)> = plan
            .towns
            .iter()
            .flat_map(|t| t.sites.iter().map(|s| (s.site_id, s.ship)))
            .collect();
        sends.sort_unstable();
        for (site_id, ship) in sends {
            send_to_site(c, &mut lots, s, site_id, ship, &actor, now)?;
        }
        for t in &plan.towns {
            let due: u64 = t.second_doses.values().sum();
            let due_by = t
                .second_doses
                .keys()
                .filter_map(|k| {
                    k.rsplit_once('@')
                        .and_then(|(_, d)| d.parse::<NaiveDate>().ok())
                })
                .map(|d| d + Duration::days(i64::from(loaded.product.max_interval_days)))
                .max();
            let notice_id = new_id();
            shipment::insert_notice(
                c,
                &TownNotice {
                    id: notice_id,
                    town_id: t.town_id,
                    plan_id,
                    doses: i32::try_from(t.ship).unwrap_or(i32::MAX),
                    arrives_on: s.received_on.max(run_date) + Duration::days(1),
                    second_doses_due: i32::try_from(due).unwrap_or(i32::MAX),
                    due_by,
                    first_dose_seats: i32::try_from(t.first).unwrap_or(i32::MAX),
                    created_at: now,
                },
            )?;
            let contacts = town::find(c, TownId(t.town_id))?
                .map(|t| t.contact_emails)
                .unwrap_or_default();
            for address in contacts
                .split([',', ';', ' ', '\n'])
                .map(str::trim)
                .filter(|a| a.contains('@'))
            {
                crate::mail::outbox::enqueue(
                    c,
                    crate::mail::outbox::Kind::TownNotice,
                    notice_id,
                    address,
                    "zh-CN",
                    None,
                    now,
                )?;
            }
        }
        audit::record(
            c,
            now,
            &actor,
            "allocation.approve",
            &format!("plan {plan_id} of shipment {}", s.id),
            &format!(
                "{} towns, {} doses held centrally, {} adjustments",
                plan.towns.len(),
                plan.central_hold,
                plan.adjustments.len()
            ),
        )?;
        Ok(true)
    });
    match result {
        Err(BureauError::Db(e)) if crate::db::is_unique_violation(&e) => {
            Err(BureauError::OtherApproved)
        }
        other => other,
    }
}

/// Move `doses` from central stock to a site, lot by lot in expiry order; refused (and with it
/// the approval) when the shipment's lots do not hold them.
fn send_to_site(
    c: &mut AnyConnection,
    lots: &mut [(String, i64)],
    s: &Shipment,
    site_id: i64,
    doses: u64,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), BureauError> {
    let mut left = i64::try_from(doses).unwrap_or(0);
    for (lot, available) in lots.iter_mut() {
        if left == 0 {
            break;
        }
        let n = left.min(*available);
        if n == 0 {
            continue;
        }
        *available -= n;
        left -= n;
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        for (site, delta) in [(None, -n), (Some(site_id), n)] {
            stock::record(
                c,
                &Movement {
                    id: new_id(),
                    site_id: site,
                    product_id: s.product_id,
                    delta,
                    kind: "allocated".into(),
                    reason: format!("shipment {} to site {site_id}", s.id),
                    actor: actor.to_string(),
                    lot: Some(lot.clone()),
                    created_at: now,
                },
            )?;
        }
    }
    if left > 0 {
        return Err(BureauError::Unplaced);
    }
    Ok(())
}

/// Hold seats for each cohort the plan gives second doses to, spread over the site's slots
/// inside the cohort's window (within the horizon), never beyond the seats a slot has left.
fn hold_second_dose_seats(
    c: &mut AnyConnection,
    p: &Product,
    line: &SiteLine,
    run_date: NaiveDate,
    horizon: i64,
    tz: Tz,
    extra: &mut BTreeMap<i64, i32>,
) -> Result<(), BureauError> {
    let last = run_date + Duration::days(horizon - 1);
    let (from, _) = day_bounds(tz, run_date);
    let (_, to) = day_bounds(tz, last);
    let mut slots = slot::list_for_site_between(c, SiteId(line.site_id), from, to)?;
    slots.retain(|s| s.product_id == p.id);
    for (cohort, count) in &line.second_doses {
        let Some(first) = cohort
            .rsplit_once('@')
            .and_then(|(_, d)| d.parse::<NaiveDate>().ok())
        else {
            continue;
        };
        let opens = (first + Duration::days(i64::from(p.min_interval_days))).max(run_date);
        let closes = (first + Duration::days(i64::from(p.max_interval_days))).clamp(run_date, last);
        let window: Vec<&slot::Slot> = slots
            .iter()
            .filter(|s| {
                let d = crate::views::local(tz, s.starts_at).date_naive();
                d >= opens.min(closes) && d <= closes
            })
            .collect();
        let mut left = i32::try_from(*count).unwrap_or(i32::MAX);
        // Round-robin, one seat at a time, so a cohort is spread over its window.
        while left > 0 {
            let mut placed = false;
            for s in &window {
                let e = extra.entry(s.id).or_default();
                if s.second_dose_held + *e + s.booked_first < s.seats {
                    *e += 1;
                    left -= 1;
                    placed = true;
                    if left == 0 {
                        break;
                    }
                }
            }
            if !placed {
                break;
            }
        }
    }
    Ok(())
}

/// Towns by id, for pages.
pub fn towns_by_id(c: &mut AnyConnection) -> Result<HashMap<i64, Town>, BureauError> {
    Ok(town::list_active(c)?
        .into_iter()
        .map(|t| (t.id, t))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lots_are_one_per_line_and_each_mistake_names_its_line() {
        let lots = parse_lots("A1, 2031-01-31, 600\n\n B-2，2031-02-28，400 ").unwrap();
        assert_eq!(lots.len(), 2);
        assert_eq!(lots[1].lot_number, "B-2");
        assert_eq!(lots[1].doses, 400);
        let line = |t: &str| match parse_lots(t) {
            Err(BureauError::Lot { line, key }) => (line, key),
            other => panic!("{other:?}"),
        };
        assert_eq!(line("A1, 2031-01-31"), (1, "err.lot.format"));
        assert_eq!(
            line("A1, 2031-01-31, 5\nA<b>, 2031-01-31, 5"),
            (2, "err.lot.number")
        );
        assert_eq!(line("A1, 2031-02-30, 5"), (1, "err.lot.expiry"));
        assert_eq!(line("A1, 2101-01-01, 5"), (1, "err.lot.expiry"));
        assert_eq!(line("A1, -262143-01-01, 5"), (1, "err.lot.expiry"));
        assert_eq!(
            line("A1, 2031-01-31, 5\nA\u{0}2, 2031-01-31, 5"),
            (2, "err.text.chars")
        );
        assert_eq!(line("A\u{202E}1, 2031-01-31, 5"), (1, "err.text.chars"));
        assert_eq!(line("A1, 2031-01-31, -5"), (1, "err.lot.doses"));
        assert_eq!(
            line("A1, 2031-01-31, 5\nA1, 2031-01-31, 5"),
            (2, "err.lot.duplicate")
        );
        assert!(matches!(
            parse_lots("  \n"),
            Err(BureauError::Field { field: "lots", .. })
        ));
    }
}
