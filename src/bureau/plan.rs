//! Plans: the optimal plan of an instance (each town's share split across its sites), storing
//! a draft, loading it back, and adjusting a town's share with a reason.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::instance::{build_instance, sub_instance, StoredInstance};
use super::{field, BureauError};
use crate::allocation::{self, parse_instance};
use crate::db::{AnyConnection, Db};
use crate::ids::{new_id, ProductId};
use crate::models::shipment::{self, AllocationPlan, Shipment};
use crate::models::{audit, product, Product};

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
    /// shipment_exhausted, adjusted (the bureau set this town's share) or none.
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
    let mut line = line_of(si, name, doses, &alone.towns[0], &alone.explanations[0])?;
    // Planned alone, the town's "shipment" is the share the bureau set: when that is what stops
    // its first doses, the limit is the adjustment, not the shipment (which may have doses left).
    if alone.explanations[0].first_dose_cap == allocation::FirstDoseCap::ShipmentExhausted {
        line.cap = "adjusted".into();
    }
    Ok(line)
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

/// [`load_plan`] on a read connection of its own.
pub(crate) fn read_plan(db: &Db, id: i64) -> Result<LoadedPlan, BureauError> {
    let mut c = db.read.get()?;
    load_plan(&mut c, id)
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
    let change = Change {
        plan_id,
        code,
        doses,
        reason,
        actor,
        now,
    };
    for _ in 0..ADJUST_TRIES {
        if adjust_once(db, &change)? {
            return Ok(());
        }
    }
    Err(BureauError::Changed)
}

/// What [`adjust`] was asked, for each of its tries.
struct Change<'a> {
    plan_id: i64,
    code: &'a str,
    doses: u64,
    reason: &'a str,
    actor: &'a str,
    now: NaiveDateTime,
}

/// One try of [`adjust`]: false when the plan changed since it was read.
fn adjust_once(db: &Db, change: &Change) -> Result<bool, BureauError> {
    let Change {
        plan_id,
        doses,
        now,
        ..
    } = *change;
    let loaded = read_plan(db, plan_id)?;
    if loaded.row.status != "draft" {
        return Err(BureauError::AlreadyApproved);
    }
    let pack = u64::try_from(loaded.product.pack_size.max(1)).unwrap_or(1);
    if !doses.is_multiple_of(pack) {
        return Err(field("doses", "err.adjust.packs"));
    }
    let mut plan = loaded.plan.clone();
    let Some(i) = plan.towns.iter().position(|t| t.code == change.code) else {
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
    plan.towns[i] = town_line(&loaded.instance, change.code, doses)?;
    plan.adjustments.push(Adjustment {
        code: change.code.to_string(),
        from,
        to: doses,
        reason: change.reason.to_string(),
        by: change.actor.to_string(),
    });
    plan.total(shipment);
    let (actor, reason, code) = (
        change.actor.to_string(),
        change.reason.to_string(),
        change.code.to_string(),
    );
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
