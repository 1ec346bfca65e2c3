//! Approving a plan: one transaction that moves the doses to the sites, holds seats for the
//! second doses falling due, and tells each town and the people waiting there.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::plan::{read_plan, SiteLine, StoredPlan, TownLine};
use super::BureauError;
use crate::db::{AnyConnection, Db, StorageError};
use crate::domain::days::{day_bounds, local_day};
use crate::domain::eligibility::DoseWindow;
use crate::ids::{new_id, ProductId, TownId};
use crate::models::outbox::{self, Kind};
use crate::models::shipment::{self, Shipment, TownNotice};
use crate::models::stock::{self, Movement};
use crate::models::{audit, slot, town, waiting, Product};

/// Approve a draft plan in one transaction: move the doses from central stock to each site
/// through the ledger (lots by soonest expiry), hold seats for the second doses falling due,
/// record a notice for each town, tell the people waiting there, and audit it. Returns false if it was approved already
/// (approving twice does nothing more).
pub fn approve(
    db: &Db,
    plan_id: i64,
    tz: Tz,
    actor: &str,
    now: NaiveDateTime,
) -> Result<bool, BureauError> {
    let loaded = read_plan(db, plan_id)?;
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
        let last = run_date + Duration::days(horizon - 1);
        let (from, _) = day_bounds(tz, run_date);
        let (_, to) = day_bounds(tz, last);
        let slots = slot::list_for_product_between(c, ProductId(loaded.product.id), from, to)?;
        let mut held: BTreeMap<i64, i32> = BTreeMap::new();
        for site_line in plan.towns.iter().flat_map(|t| &t.sites) {
            let here: Vec<&slot::Slot> = slots
                .iter()
                .filter(|s| s.site_id == site_line.site_id)
                .collect();
            let days = (run_date, last, tz);
            hold_second_dose_seats(&loaded.product, site_line, &here, days, &mut held);
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
                .filter_map(|k| cohort_day(k))
                .map(|d| {
                    let p = &loaded.product;
                    DoseWindow::after_day(d, p.min_interval_days, p.max_interval_days).closes
                })
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
                outbox::enqueue(c, Kind::TownNotice, notice_id, address, "zh-CN", None, now)?;
            }
        }
        tell_waiting(c, &plan.towns, now)?;
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
        Err(BureauError::Storage(StorageError::Db(e))) if crate::db::is_unique_violation(&e) => {
            Err(BureauError::OtherApproved)
        }
        other => other,
    }
}

/// Tell the people waiting in each town that receives doses for first doses that seats are
/// open, with the "seats opened" mail a cancellation sends: first in line first, at most one
/// person per first dose among the doses received (the plan's first doses, no more than the
/// share, since the rest of them come from stock the town already had), and each person once
/// however many of those towns they wait in (their other entries keep their place).
fn tell_waiting(
    c: &mut AnyConnection,
    towns: &[TownLine],
    now: NaiveDateTime,
) -> Result<(), BureauError> {
    let mut told = BTreeSet::new();
    for t in towns {
        let mut left = t.first.min(t.ship);
        // Enough rows even if everyone already told this time waits here too.
        let limit = i64::try_from(left)
            .unwrap_or(i64::MAX)
            .saturating_add(i64::try_from(told.len()).unwrap_or(i64::MAX));
        for w in waiting::first_in_line(c, TownId(t.town_id), limit)? {
            if left == 0 {
                break;
            }
            if told.contains(&w.resident_id) || !waiting::mark_notified(c, w.entry)? {
                continue;
            }
            outbox::enqueue(c, Kind::SeatsOpened, w.entry, &w.email, &w.lang, None, now)?;
            told.insert(w.resident_id);
            left -= 1;
        }
    }
    Ok(())
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

/// The day a cohort's first doses were given, from its id (`{town}@{day}`, `bureau::instance`).
fn cohort_day(cohort: &str) -> Option<NaiveDate> {
    cohort
        .rsplit_once('@')
        .and_then(|(_, d)| d.parse::<NaiveDate>().ok())
}

/// Hold seats for each cohort the plan gives second doses to, spread over the site's slots of
/// the product (`slots`, in time order) inside the cohort's window (within the horizon, the
/// city days `run_date` to `last`), never beyond the seats a slot has left.
fn hold_second_dose_seats(
    p: &Product,
    line: &SiteLine,
    slots: &[&slot::Slot],
    (run_date, last, tz): (NaiveDate, NaiveDate, Tz),
    extra: &mut BTreeMap<i64, i32>,
) {
    for (cohort, count) in &line.second_doses {
        let Some(first) = cohort_day(cohort) else {
            continue;
        };
        let w = DoseWindow::after_day(first, p.min_interval_days, p.max_interval_days);
        let opens = w.opens.max(run_date);
        let closes = w.closes.clamp(run_date, last);
        let window: Vec<&slot::Slot> = slots
            .iter()
            .copied()
            .filter(|s| {
                let d = local_day(tz, s.starts_at);
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
}
