//! Households: a resident adds members under their own phone number and e-mail address, up to a
//! cap, and books the next dose of several members into adjacent seats in one transaction.
//!
//! A group booking is all or none. Its seats are planned from a read (the slot asked for first,
//! then the following slots of the same vaccine at the same site on the same day, each filled
//! before the next is used, never skipping one), then taken in one transaction with the same
//! statements as a single booking: the per-contact cap under the contacts' locks, each seat by
//! the conditional `UPDATE` of `models::slot` (slots in id order), the appointments, the promised
//! doses by the conditional `UPDATE` of `models::stock`, a confirmation per member in the outbox
//! (each member gets their own mail, code and calendar file) and the audit rows. Any refusal
//! rolls the whole transaction back, so nothing is booked for anyone.

use chrono::NaiveDateTime;

use super::{check_eligibility, contact_cap, draw, retrying_collisions, BookingError, Rules};
use crate::db::{is_unique_violation, AnyConnection, Db, StorageError};
use crate::domain::days::{day_bounds, local_day};
use crate::domain::{BookingCode, IdNumber, PersonName};
use crate::i18n::Keyed;
use crate::ids::{new_id, ProductId, ResidentId, SiteId, SlotId};
use crate::models::appointment::{self, AppointmentStatus};
use crate::models::household::{self, Membership, NewHousehold};
use crate::models::outbox::{self, Kind};
use crate::models::{audit, resident, slot, stock, vaccination};
use crate::models::{Appointment, NewAppointment, NewResident, Resident, Slot};
use crate::security::Keys;

/// Why a household action was refused.
#[derive(Debug, thiserror::Error)]
pub enum HouseholdError {
    #[error("the household has as many members as it may")]
    Full,
    #[error("this resident is already a member")]
    AlreadyMember,
    #[error("this resident is registered with other contact details or another household")]
    CannotAdd,
    #[error("no member was chosen")]
    NoneChosen,
    #[error("a chosen resident is not a member of this household")]
    NotMember,
    #[error("not every chosen member fits into adjacent seats")]
    NoRoom,
    /// One member may not have this booking; the name says who.
    #[error("{0} cannot book: {1}")]
    Member(String, BookingError),
    /// The slot, its stock or the contacts' cap refused the booking.
    #[error(transparent)]
    Booking(BookingError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

crate::db::storage_error_from!(HouseholdError);

impl From<BookingError> for HouseholdError {
    fn from(e: BookingError) -> Self {
        match e {
            BookingError::Storage(s) => HouseholdError::Storage(s),
            e => HouseholdError::Booking(e),
        }
    }
}

impl Keyed for HouseholdError {
    /// The catalogue key of the message shown to the resident.
    fn key(&self) -> &'static str {
        match self {
            HouseholdError::Full => "err.house.full",
            HouseholdError::AlreadyMember => "err.house.already_member",
            HouseholdError::CannotAdd => "err.house.cannot_add",
            HouseholdError::NoneChosen => "err.house.none_chosen",
            HouseholdError::NotMember => "err.house.not_member",
            HouseholdError::NoRoom => "err.house.no_room",
            HouseholdError::Member(_, e) | HouseholdError::Booking(e) => e.key(),
            HouseholdError::Storage(_) => "err.internal",
        }
    }
}

impl HouseholdError {
    /// Whether this is the system's fault rather than the request's.
    pub fn is_internal(&self) -> bool {
        matches!(self, HouseholdError::Storage(_))
    }
}

/// The household of `resident`, if they belong to one, and its members (just the resident when
/// they belong to none).
pub fn members_of(
    conn: &mut AnyConnection,
    resident: ResidentId,
) -> Result<(Option<i64>, Vec<Resident>), HouseholdError> {
    match household::of_resident(conn, resident)? {
        Some(h) => Ok((Some(h), household::members(conn, h)?)),
        None => {
            let r = resident::find(conn, resident)?
                .ok_or(HouseholdError::Booking(BookingError::NotFound))?;
            Ok((None, vec![r]))
        }
    }
}

/// Add a member to the household of `by` (made now if `by` has none), under `by`'s phone number,
/// e-mail address and language. A resident already known by this ID number is added only when
/// they have the same phone number and e-mail address and no household. `max`: the most members
/// a household may have, `by` included.
pub fn add_member(
    db: &Db,
    keys: &Keys,
    now: NaiveDateTime,
    max: i32,
    by: ResidentId,
    name: &PersonName,
    id_number: &IdNumber,
) -> Result<ResidentId, HouseholdError> {
    let id_hash = keys.hash_id_number(id_number);
    let mut tries = 0;
    loop {
        tries += 1;
        let (name, id_number, id_hash) = (name.clone(), id_number.clone(), id_hash.clone());
        let added = db.transaction(move |c| try_add(c, now, max, by, &name, &id_number, &id_hash));
        // Two adds at once may both have made the household or the member: once more, and the
        // second sees what the first committed.
        match added {
            Err(HouseholdError::Storage(e))
                if tries < 3 && e.query().is_some_and(is_unique_violation) =>
            {
                continue
            }
            done => return done,
        }
    }
}

fn try_add(
    c: &mut AnyConnection,
    now: NaiveDateTime,
    max: i32,
    by: ResidentId,
    name: &PersonName,
    id_number: &IdNumber,
    id_hash: &str,
) -> Result<ResidentId, HouseholdError> {
    let lead = resident::find(c, by)?.ok_or(HouseholdError::Booking(BookingError::NotFound))?;
    let actor = IdNumber::mask_stored(&lead.id_last4);
    let existing = resident::find_by_hash(c, id_hash)?;
    if existing.as_ref().is_some_and(|r| r.id == lead.id) {
        return Err(HouseholdError::AlreadyMember);
    }
    let home = match household::of_resident(c, by)? {
        Some(h) => h,
        None => {
            let h = new_id();
            let row = NewHousehold {
                id: h,
                members: 0,
                created_at: now,
            };
            household::insert(c, &row)?;
            join(c, h, max, by, now)?;
            let subject = format!("household {h}");
            audit::record(c, now, &actor, "household.create", &subject, "")?;
            h
        }
    };
    let member = match existing {
        None => {
            let id = new_id();
            let row = NewResident {
                id,
                id_hash: id_hash.to_string(),
                id_last4: id_number.last4().to_string(),
                birth_date: id_number.birth_date(),
                name: name.as_str().to_string(),
                phone: lead.phone.clone(),
                email: lead.email.clone(),
                lang: lead.lang.clone(),
                created_at: now,
            };
            resident::insert(c, &row)?;
            ResidentId(id)
        }
        Some(r) => {
            match household::of_resident(c, ResidentId(r.id))? {
                Some(h) if h == home => return Err(HouseholdError::AlreadyMember),
                Some(_) => return Err(HouseholdError::CannotAdd),
                None => {}
            }
            if r.phone != lead.phone || r.email != lead.email {
                return Err(HouseholdError::CannotAdd);
            }
            ResidentId(r.id)
        }
    };
    join(c, home, max, member, now)?;
    audit::record(
        c,
        now,
        &actor,
        "household.add_member",
        &format!("household {home}"),
        &format!("member {}", id_number.masked()),
    )?;
    Ok(member)
}

/// Take a place in household `h` for `who`, or refuse when it is full.
fn join(
    c: &mut AnyConnection,
    h: i64,
    max: i32,
    who: ResidentId,
    now: NaiveDateTime,
) -> Result<(), HouseholdError> {
    if !household::take_place(c, h, max)? {
        return Err(HouseholdError::Full);
    }
    let m = Membership {
        resident_id: who.0,
        household_id: h,
        added_at: now,
    };
    household::join(c, &m)?;
    Ok(())
}

/// One member's seat in a group booking.
#[derive(Debug, Clone)]
struct Planned {
    member: Resident,
    dose: i32,
    slot: Slot,
}

/// Book the next dose of each of `chosen` (members of `by`'s household, or `by` alone) into
/// adjacent seats from slot `start`: all in it if its seats allow, else filling the following
/// slots of the same vaccine at the same site on the same day in turn. All or none; the
/// committed appointments in the order of `chosen`.
pub fn book_together(
    db: &Db,
    rules: Rules,
    contact_cap: u32,
    by: ResidentId,
    chosen: &[ResidentId],
    start: SlotId,
) -> Result<Vec<Appointment>, HouseholdError> {
    let mut unique: Vec<ResidentId> = Vec::new();
    for id in chosen {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    let chosen = unique;
    if chosen.is_empty() {
        return Err(HouseholdError::NoneChosen);
    }
    let (group, plan) = {
        let mut conn = db.read.get()?;
        plan_seats(&mut conn, rules, by, &chosen, start)?
    };
    let taken = BookingError::AlreadyBooked;
    retrying_collisions(HouseholdError::Booking(taken), || {
        let (plan, group) = (plan.clone(), group.clone());
        db.transaction(move |c| take_seats(c, rules, contact_cap, &group, &plan))
    })
}

/// Who books for a group, as the audit names them: the member who asked (masked ID number) and
/// the household's subject.
#[derive(Debug, Clone)]
struct Group {
    actor: String,
    subject: String,
}

/// Check each chosen member's eligibility for `start` and place them in adjacent seats, from a
/// read: who books, and the plan.
fn plan_seats(
    c: &mut AnyConnection,
    rules: Rules,
    by: ResidentId,
    chosen: &[ResidentId],
    start: SlotId,
) -> Result<(Group, Vec<Planned>), HouseholdError> {
    let (home, members) = members_of(c, by)?;
    let group = Group {
        actor: members
            .iter()
            .find(|m| m.id == by.0)
            .map_or_else(|| "resident".to_string(), mask),
        subject: home.map_or_else(
            || format!("resident {}", by.0),
            |h| format!("household {h}"),
        ),
    };
    let (first, product) = slot::find_with_product(c, start)?.ok_or(BookingError::SlotNotFound)?;
    let mut wanted = Vec::new();
    for id in chosen {
        let m = members
            .iter()
            .find(|m| m.id == id.0)
            .ok_or(HouseholdError::NotMember)?;
        let dose = vaccination::list_for_resident(c, ResidentId(m.id))?.len() as i32 + 1;
        check_eligibility(c, rules, Some(m), m.birth_date, &first, &product, dose)
            .map_err(|e| member_refusal(m, e))?;
        wanted.push((m.clone(), dose));
    }
    // The slot asked for, then the same vaccine's later slots at the site that day.
    let (from, to) = day_bounds(rules.tz, local_day(rules.tz, first.starts_at));
    let day = slot::list_for_site_between(c, SiteId(first.site_id), from, to)?;
    let (product_id, after) = (first.product_id, first.starts_at);
    let mut following = day
        .into_iter()
        .filter(move |s| s.product_id == product_id && s.starts_at > after);
    // First doses first: they cannot use seats still held for second doses, later doses can.
    wanted.sort_by_key(|(_, dose)| i32::from(*dose > 1));
    let mut plan = Vec::new();
    let mut next = Some(first);
    let mut left = wanted.into_iter().peekable();
    while left.peek().is_some() {
        let Some(s) = next.take() else {
            return Err(HouseholdError::NoRoom);
        };
        draw::ensure_bookable(c, rules.now, &s)?;
        let (mut firsts, mut all) = (
            s.free_first(rules.now, rules.release_hours),
            s.free_second(),
        );
        let before = plan.len();
        while let Some((member, dose)) = left.peek() {
            let fits = all > 0 && (*dose > 1 || firsts > 0);
            if !fits {
                break;
            }
            all -= 1;
            firsts = if *dose == 1 {
                firsts - 1
            } else {
                firsts.min(all)
            };
            plan.push(Planned {
                member: member.clone(),
                dose: *dose,
                slot: s.clone(),
            });
            left.next();
        }
        // A slot that takes nobody breaks the run: the seats would not be adjacent.
        if plan.len() == before {
            return Err(HouseholdError::NoRoom);
        }
        next = following.next();
    }
    plan.sort_by_key(|p| chosen.iter().position(|c| c.0 == p.member.id));
    Ok((group, plan))
}

/// A member's own refusal, naming them (the database's failures stay the system's).
fn member_refusal(m: &Resident, e: BookingError) -> HouseholdError {
    match e {
        BookingError::Storage(s) => HouseholdError::Storage(s),
        e => HouseholdError::Member(m.name.clone(), e),
    }
}

/// The group booking's writes, in one transaction (see the module doc for the order).
fn take_seats(
    c: &mut AnyConnection,
    rules: Rules,
    contact_cap: u32,
    group: &Group,
    plan: &[Planned],
) -> Result<Vec<Appointment>, HouseholdError> {
    let Some(first) = plan.first().map(|p| p.slot.clone()) else {
        return Err(HouseholdError::NoneChosen);
    };
    // Every member's contacts under their locks at once, as a single booking takes its two.
    let members = plan
        .iter()
        .map(|p| (p.member.phone.as_str(), p.member.email.as_str()));
    let adding = contact_cap::tally(members, 1);
    contact_cap::within_cap(c, first.starts_at, &adding, contact_cap, rules.tz)?;
    let mut by_slot: Vec<&Planned> = plan.iter().collect();
    by_slot.sort_by_key(|p| p.slot.id);
    for p in by_slot {
        let id = SlotId(p.slot.id);
        let released = p.slot.held_seats_released(rules.now, rules.release_hours);
        let took = slot::take_seat(c, id, p.dose, released)?;
        if !took {
            return Err(HouseholdError::NoRoom);
        }
    }
    let mut booked = Vec::new();
    for p in plan {
        let a = NewAppointment {
            id: new_id(),
            code: BookingCode::generate(&mut rand::rng()).as_str().to_string(),
            resident_id: p.member.id,
            slot_id: p.slot.id,
            site_id: p.slot.site_id,
            product_id: p.slot.product_id,
            dose_number: p.dose,
            status: AppointmentStatus::Booked.as_str().into(),
            starts_at: p.slot.starts_at,
            created_at: rules.now,
            updated_at: rules.now,
            checked_in_at: None,
        };
        appointment::insert(c, &a)?;
        booked.push(a);
    }
    let (site, product) = (SiteId(first.site_id), ProductId(first.product_id));
    for _ in plan {
        if !stock::promise_dose(c, site, product)? {
            return Err(BookingError::NoStock.into());
        }
    }
    for (p, a) in plan.iter().zip(&booked) {
        let (email, lang) = (&p.member.email, &p.member.lang);
        outbox::enqueue_for_appointment(c, Kind::Booked, a.id, a.slot_id, email, lang, rules.now)?;
        audit::record_at_site(
            c,
            rules.now,
            audit::Entry {
                actor: &mask(&p.member),
                action: "appointment.book",
                subject: &format!("appointment {}", a.id),
                detail: &format!("site {} dose {} (household)", a.site_id, a.dose_number),
            },
            a.site_id,
        )?;
    }
    let ids: Vec<String> = booked.iter().map(|a| a.id.to_string()).collect();
    audit::record_at_site(
        c,
        rules.now,
        audit::Entry {
            actor: &group.actor,
            action: "household.book",
            subject: &group.subject,
            detail: &format!(
                "site {}: {} appointments ({})",
                site.0,
                booked.len(),
                ids.join(", ")
            ),
        },
        site.0,
    )?;
    Ok(booked)
}

fn mask(r: &Resident) -> String {
    IdNumber::mask_stored(&r.id_last4)
}
