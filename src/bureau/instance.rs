//! The lex-v1 instance of a shipment, built from the database: per town (and per site) first
//! doses given, first doses booked, stock, seats per day and the second-dose cohorts.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{field, BureauError};
use crate::allocation::{parse_instance, Instance};
use crate::db::AnyConnection;
use crate::domain::days::{day_bounds, local_day};
use crate::ids::ProductId;
use crate::models::shipment::Shipment;
use crate::models::{appointment, site, slot, stock, town, vaccination, waiting, Product, Site};

/// What the planner was given: the instance, and per town the site-level "towns" that split it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredInstance {
    pub instance: Value,
    pub sites: BTreeMap<String, Vec<Value>>,
    pub town_ids: BTreeMap<String, i64>,
    pub site_names: BTreeMap<String, String>,
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

    // Doses given: first doses by site (counted by the database), and who still waits for a
    // second dose of this product, by the city day of their first (the cohorts).
    for (site_id, n) in vaccination::count_first_doses_by_site(c)? {
        if let Some(f) = facts.get_mut(&site_id) {
            f.first_dosed += u64::try_from(n).unwrap_or(0);
        }
    }
    for (site_id, given_at) in vaccination::list_first_doses_awaiting_second(c, ProductId(p.id))? {
        if let Some(f) = facts.get_mut(&site_id) {
            let day = local_day(tz, given_at).min(run_date);
            *f.cohorts.entry(day).or_default() += 1;
        }
    }
    // First doses booked at each site (they are first-dose demand the shipment must cover).
    for (site_id, n) in appointment::count_active_first_doses_by_site(c, ProductId(p.id))? {
        if let Some(f) = facts.get_mut(&site_id) {
            f.booked_first += u64::try_from(n).unwrap_or(0);
        }
    }
    for b in stock::balances_for_product(c, ProductId(p.id))? {
        if let Some(f) = facts.get_mut(&b.site_id) {
            f.stock = u64::try_from(b.on_hand).unwrap_or(0);
        }
    }
    // Seats per day over the horizon.
    let (from, _) = day_bounds(tz, run_date);
    let (_, to) = day_bounds(tz, run_date + Duration::days(horizon - 1));
    let seats = slot::seats_for_product_between(c, ProductId(p.id), from, to)?;
    for (site_id, at, n) in seats {
        let day = (local_day(tz, at) - run_date).num_days();
        if let (Some(f), Ok(d)) = (facts.get_mut(&site_id), usize::try_from(day)) {
            if let Some(cap) = f.capacity.get_mut(d) {
                *cap += u64::try_from(n).unwrap_or(0);
            }
        }
    }
    let waiting = waiting::waiting_town_ids(c)?;

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
pub(super) fn sub_instance(
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
