//! Moves instead of cancellations. When an exception closes or shrinks a session, each booking it
//! displaces is offered the nearest equivalent seat: the same vaccine, at the same site first,
//! then at another site of the same town, on a day the dose may be given (`domain::eligibility`:
//! the dose rules, the age range, and for a later dose never past its window), nearest in time
//! to the time booked. [`plan`] only reads, so the admin sees who moves where before anything
//! changes; [`carry_out`] does exactly that plan inside the caller's transaction (the one that
//! frees the old seats), or fails with [`BookingError::NotActive`], [`BookingError::SlotFull`] or
//! [`BookingError::NoStock`] when the database changed under it, and then nothing is kept.
//!
//! Who is served first when seats are short: later doses (their window is narrower), then in the
//! order the caller lists them (the exception lists them by booking time). The [`Mover`] is the
//! same one the resident's move page uses to offer only slots their dose can take.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::draw::{self, Opening};
use super::{BookingError, Rules};
use crate::db::AnyConnection;
use crate::domain::days::local_day;
use crate::domain::eligibility::{check_age, check_dose, stays_in_window, Series};
use crate::ids::{AppointmentId, ProductId, ResidentId, SiteId, SlotId, TownId};
use crate::models::{appointment, product, resident, site, slot, stock, vaccination};
use crate::models::{Appointment, Product, Site, Slot};

/// Who is moving an appointment: enough to tell which slots their dose may take.
pub struct Mover {
    pub from: SlotId,
    /// The site and vaccine of the appointment: a move among their slots needs no new dose.
    pub holds: (i64, i64),
    pub dose: i32,
    pub birth: NaiveDate,
    pub given: Vec<vaccination::Vaccination>,
}

impl Mover {
    /// The mover of an appointment (its resident's birth date and doses given); `None` when the
    /// resident is gone.
    pub fn load(c: &mut AnyConnection, a: &Appointment) -> diesel::QueryResult<Option<Mover>> {
        let Some(r) = resident::find(c, ResidentId(a.resident_id))? else {
            return Ok(None);
        };
        Ok(Some(Mover {
            from: SlotId(a.slot_id),
            holds: (a.site_id, a.product_id),
            dose: a.dose_number,
            birth: r.birth_date,
            given: vaccination::list_for_resident(c, ResidentId(a.resident_id))?,
        }))
    }

    /// Whether the dose and age rules allow this dose of `series` on the city day `day`.
    pub fn may_take(&self, series: &Series, day: NaiveDate, tz: Tz) -> bool {
        check_dose(series, &self.given, self.dose, day, tz).is_ok()
            && check_age(series, self.birth, day).is_ok()
    }

    /// Whether the resident may move to `sl` (the move page): a seat free for their dose and the
    /// rules of [`Mover::may_take`] on its day.
    pub fn fits(
        &self,
        sl: &Slot,
        products: &[Product],
        free_first: i32,
        free_second: i32,
        tz: Tz,
    ) -> bool {
        let seat = if self.dose == 1 {
            free_first > 0
        } else {
            free_second > 0
        };
        let Some(p) = products.iter().find(|p| p.id == sl.product_id) else {
            return false;
        };
        seat && self.may_take(&p.series(), local_day(tz, sl.starts_at), tz)
    }

    /// Whether the system may move the booking held for the city day `booked` to `day`: the
    /// rules of [`Mover::may_take`], and a later dose kept inside its window.
    pub fn may_be_moved_to(
        &self,
        series: &Series,
        booked: NaiveDate,
        day: NaiveDate,
        tz: Tz,
    ) -> bool {
        self.may_take(series, day, tz)
            && stays_in_window(series, &self.given, self.dose, booked, day, tz)
    }
}

/// A booking an exception displaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Displaced {
    pub appointment_id: i64,
    pub resident_id: i64,
    pub slot_id: i64,
    pub site_id: i64,
    pub product_id: i64,
    pub starts_at: NaiveDateTime,
    pub dose_number: i32,
}

/// Where a displaced booking goes: a slot, or nowhere (cancelled, first on the waiting list).
#[derive(Debug, Clone)]
pub struct Planned {
    pub appointment_id: i64,
    pub to: Option<Slot>,
}

/// A short digest of a plan: the admin confirms the plan they saw, and a plan computed again
/// that differs in any move is not applied.
pub fn fingerprint(plan: &[Planned]) -> String {
    let mut parts: Vec<String> = plan
        .iter()
        .map(|p| format!("{}>{}", p.appointment_id, p.to.as_ref().map_or(0, |s| s.id)))
        .collect();
    parts.sort();
    let digest = crate::security::sha256_hex(&parts.join(";"));
    format!("{}-{}", plan.len(), &digest[..16])
}

/// Seats already given to earlier displaced bookings while planning: (first, later doses).
type Taken = HashMap<i64, (i32, i32)>;

/// What the planner has read once: sites, products, candidate slots, stock and openings.
#[derive(Default)]
struct Seen {
    sites: HashMap<i64, Site>,
    town_sites: HashMap<i64, Vec<i64>>,
    products: HashMap<i64, Product>,
    candidates: HashMap<(i64, i64), Vec<Slot>>,
    /// Doses a site may still promise: on hand - promised - taken by this plan.
    unpromised: HashMap<(i64, i64), i32>,
    open: HashMap<i64, bool>,
}

/// Plan where each displaced booking goes (a read: nothing changes). `seats_in_window` gives
/// the slots the exception changes their seats after it (0: closed); none of them takes a
/// displaced booking beyond those seats. The result is in the order of `displaced`.
pub fn plan(
    c: &mut AnyConnection,
    rules: Rules,
    displaced: &[Displaced],
    seats_in_window: &BTreeMap<i64, i32>,
) -> Result<Vec<Planned>, BookingError> {
    // Who each one is: the residents and their doses, in two reads for all.
    let ids: Vec<i64> = displaced.iter().map(|d| d.resident_id).collect();
    let residents = resident::list_by_ids(c, &ids)?;
    let doses = vaccination::list_for_residents(c, &ids)?;
    let movers: Vec<Option<Mover>> = displaced
        .iter()
        .map(|d| {
            let r = residents.iter().find(|r| r.id == d.resident_id)?;
            Some(Mover {
                from: SlotId(d.slot_id),
                holds: (d.site_id, d.product_id),
                dose: d.dose_number,
                birth: r.birth_date,
                given: (doses.iter())
                    .filter(|v| v.resident_id == r.id)
                    .cloned()
                    .collect(),
            })
        })
        .collect();
    let mut order: Vec<usize> = (0..displaced.len()).collect();
    order.sort_by_key(|&i| (-displaced[i].dose_number, i));
    let mut seen = Seen::default();
    let mut taken = Taken::new();
    let mut out: Vec<Option<Slot>> = vec![None; displaced.len()];
    for i in order {
        let Some(mover) = &movers[i] else {
            continue;
        };
        out[i] = nearest(
            c,
            rules,
            (&displaced[i], mover),
            seats_in_window,
            &mut seen,
            &mut taken,
        )?;
    }
    Ok(displaced
        .iter()
        .zip(out)
        .map(|(d, to)| Planned {
            appointment_id: d.appointment_id,
            to,
        })
        .collect())
}

/// The nearest seat for one displaced booking, counted as taken.
fn nearest(
    c: &mut AnyConnection,
    rules: Rules,
    (d, mover): (&Displaced, &Mover),
    seats_in_window: &BTreeMap<i64, i32>,
    seen: &mut Seen,
    taken: &mut Taken,
) -> Result<Option<Slot>, BookingError> {
    let Some(series) = looked_up(&mut seen.products, d.product_id, |id| {
        product::find(c, ProductId(id))
    })?
    .map(Product::series) else {
        return Ok(None);
    };
    let Some(home) = looked_up(&mut seen.sites, d.site_id, |id| site::find(c, SiteId(id)))? else {
        return Ok(None);
    };
    let town = home.town_id;
    if let Entry::Vacant(e) = seen.town_sites.entry(town) {
        let ids = site::list_for_town(c, TownId(town))?;
        e.insert(ids.into_iter().map(|s| s.id).collect());
    }
    if !seen.candidates.contains_key(&(town, d.product_id)) {
        let sites = seen.town_sites[&town].clone();
        let found =
            slot::list_open_for_product(c, &sites, ProductId(d.product_id), rules.now, 5000)?;
        seen.candidates.insert((town, d.product_id), found);
    }
    let mut order: Vec<&Slot> = seen.candidates[&(town, d.product_id)].iter().collect();
    order.sort_by_key(|s| {
        let gap = (s.starts_at - d.starts_at).num_seconds().abs();
        (s.site_id != d.site_id, gap, s.starts_at, s.id)
    });
    let order: Vec<Slot> = order.into_iter().cloned().collect();
    let booked_day = local_day(rules.tz, d.starts_at);
    for s in order {
        if s.id == d.slot_id || !has_seat(rules, &s, d.dose_number, seats_in_window, taken) {
            continue;
        }
        let day = local_day(rules.tz, s.starts_at);
        if !mover.may_be_moved_to(&series, booked_day, day, rules.tz) {
            continue;
        }
        let key = (s.site_id, s.product_id);
        if s.site_id != d.site_id && unpromised(c, seen, key)? <= 0 {
            continue;
        }
        if !is_open(c, rules.now, seen, &s)? {
            continue;
        }
        let t = taken.entry(s.id).or_default();
        if d.dose_number == 1 {
            t.0 += 1;
        } else {
            t.1 += 1;
        }
        if s.site_id != d.site_id {
            *seen.unpromised.entry(key).or_default() -= 1;
        }
        return Ok(Some(s));
    }
    Ok(None)
}

/// Whether `s` still has a seat for `dose` once the plan's earlier takes and the exception's
/// new seats are counted.
fn has_seat(
    rules: Rules,
    s: &Slot,
    dose: i32,
    seats_in_window: &BTreeMap<i64, i32>,
    taken: &Taken,
) -> bool {
    let seats = seats_in_window.get(&s.id).copied().unwrap_or(s.seats);
    let (first, later) = taken.get(&s.id).copied().unwrap_or_default();
    let after = Slot {
        seats,
        second_dose_held: s.second_dose_held.min(seats),
        booked_first: s.booked_first + first,
        booked_second: s.booked_second + later,
        ..s.clone()
    };
    let free = if dose == 1 {
        after.free_first(rules.now, rules.release_hours)
    } else {
        after.free_second()
    };
    free > 0 && after.released(rules.now)
}

/// The row `id` of `seen`, read by `find` the first time it is asked for.
fn looked_up<T>(
    seen: &mut HashMap<i64, T>,
    id: i64,
    find: impl FnOnce(i64) -> diesel::QueryResult<Option<T>>,
) -> Result<Option<&T>, BookingError> {
    if let Entry::Vacant(e) = seen.entry(id) {
        match find(id)? {
            Some(row) => e.insert(row),
            None => return Ok(None),
        };
    }
    Ok(seen.get(&id))
}

/// Doses a site may still promise of a product (on hand - promised - this plan's takes).
fn unpromised(
    c: &mut AnyConnection,
    seen: &mut Seen,
    key: (i64, i64),
) -> Result<i32, BookingError> {
    if !seen.unpromised.contains_key(&key) {
        for b in stock::balances_for_site(c, SiteId(key.0))? {
            seen.unpromised
                .entry((b.site_id, b.product_id))
                .or_insert(b.on_hand - b.promised);
        }
        seen.unpromised.entry(key).or_insert(0);
    }
    Ok(seen.unpromised[&key])
}

/// Whether a slot is open to first-come booking (not before its opening, not in a draw).
fn is_open(
    c: &mut AnyConnection,
    now: NaiveDateTime,
    seen: &mut Seen,
    s: &Slot,
) -> Result<bool, BookingError> {
    if let Some(open) = seen.open.get(&s.id) {
        return Ok(*open);
    }
    let open = matches!(draw::opening(c, now, s)?, Opening::Open);
    seen.open.insert(s.id, open);
    Ok(open)
}

/// Net change of promised doses per (site, product) that carrying out a plan needs, for the
/// caller to apply last, in key order, after every slot it changes (the global lock order).
pub type PromiseChanges = BTreeMap<(i64, i64), i32>;

/// Carry out `plan` for `displaced` (the same order) in the caller's transaction: appointments
/// by id (moved to their new slot, or cancelled), then every seat released and taken, slot by
/// slot in id order. Returns the promised doses to move, which the caller applies with
/// [`apply_promises`] after its own slot changes. Fails, for the caller to roll back, when an
/// appointment is no longer booked where it was or a seat is gone.
pub fn carry_out(
    c: &mut AnyConnection,
    rules: Rules,
    displaced: &[Displaced],
    plan: &[Planned],
) -> Result<PromiseChanges, BookingError> {
    let mut pairs: Vec<(&Displaced, &Planned)> = displaced.iter().zip(plan).collect();
    pairs.sort_by_key(|(d, _)| d.appointment_id);
    // (slot, releases of first doses, of later, takes of first doses, of later)
    let mut seats: BTreeMap<i64, [i32; 4]> = BTreeMap::new();
    let mut promises = PromiseChanges::new();
    let mut released_first: HashMap<i64, bool> = HashMap::new();
    for (d, p) in pairs {
        let id = AppointmentId(d.appointment_id);
        let first = d.dose_number == 1;
        let done = match &p.to {
            Some(to) => appointment::move_to_slot(c, id, d.slot_id, to, rules.now)?,
            None => appointment::transition(
                c,
                id,
                appointment::AppointmentStatus::Booked,
                appointment::AppointmentStatus::Cancelled,
                rules.now,
            )?,
        };
        if !done {
            return Err(BookingError::NotActive);
        }
        seats.entry(d.slot_id).or_default()[if first { 0 } else { 1 }] += 1;
        *promises.entry((d.site_id, d.product_id)).or_default() -= 1;
        if let Some(to) = &p.to {
            seats.entry(to.id).or_default()[if first { 2 } else { 3 }] += 1;
            *promises.entry((to.site_id, to.product_id)).or_default() += 1;
            released_first.insert(
                to.id,
                to.held_seats_released(rules.now, rules.release_hours),
            );
        }
    }
    for (slot_id, [rel_first, rel_later, take_first, take_later]) in seats {
        let id = SlotId(slot_id);
        for _ in 0..rel_first {
            slot::release_seat(c, id, true)?;
        }
        for _ in 0..rel_later {
            slot::release_seat(c, id, false)?;
        }
        let released = released_first.get(&slot_id).copied().unwrap_or(false);
        for _ in 0..take_first {
            if !slot::take_seat(c, id, 1, released)? {
                return Err(BookingError::SlotFull);
            }
        }
        for _ in 0..take_later {
            if !slot::take_seat(c, id, 2, false)? {
                return Err(BookingError::SlotFull);
            }
        }
    }
    promises.retain(|_, n| *n != 0);
    Ok(promises)
}

/// Apply the promised doses [`carry_out`] returned, in key order: give back what is no longer
/// promised, promise what the new seats need (refused when the site has no dose left).
pub fn apply_promises(c: &mut AnyConnection, changes: &PromiseChanges) -> Result<(), BookingError> {
    for (&(site_id, product_id), &n) in changes {
        let (site, product) = (SiteId(site_id), ProductId(product_id));
        for _ in 0..(-n).max(0) {
            stock::unpromise_dose(c, site, product)?;
        }
        for _ in 0..n.max(0) {
            if !stock::promise_dose(c, site, product)? {
                return Err(BookingError::NoStock);
            }
        }
    }
    Ok(())
}
