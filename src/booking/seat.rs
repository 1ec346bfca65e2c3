//! A seat for a resident, in the caller's write transaction: the resident's row (new, or its
//! contact details brought up to date), then the seat, the appointment and its promised dose
//! ([`take_seat`], a walk-in's way), and for a booking the per-contact cap before them and the
//! confirmation after ([`book_seat`], every booking's way, a move's and a draw's too).

use chrono::NaiveDateTime;

use super::contact_cap::check_contact_cap;
use super::{BookingError, ResidentDetails};
use crate::db::prepared::{run_together, Part};
use crate::db::AnyConnection;
use crate::domain::BookingCode;
use crate::ids::{new_id, ProductId, ResidentId, SiteId, SlotId};
use crate::models::appointment::{self, AppointmentStatus, NewAppointment};
use crate::models::outbox::{self, Addressed, InsertOutbox, Kind};
use crate::models::resident::{self, NewResident, Resident};
use crate::models::{slot, stock, Appointment, Slot};

/// The resident as the request names them: the existing row (contact details brought up to
/// date) or a new one. Returns their id.
pub(crate) fn upsert_resident(
    c: &mut AnyConnection,
    existing: Option<&Resident>,
    who: &ResidentDetails,
    id_hash: &str,
    now: NaiveDateTime,
) -> Result<i64, BookingError> {
    let (id, new) = resident_for(c, existing, who, id_hash, now)?;
    if let Some(row) = new {
        resident::insert(c, &row)?;
    }
    Ok(id)
}

/// [`upsert_resident`] but for a new resident's row, given back (with its id) to insert with
/// the booking's other writes ([`book_seat`]'s `also`): an existing resident's contact details
/// are brought up to date at once, before the per-contact cap counts by them.
pub(crate) fn resident_for(
    c: &mut AnyConnection,
    existing: Option<&Resident>,
    who: &ResidentDetails,
    id_hash: &str,
    now: NaiveDateTime,
) -> Result<(i64, Option<Resident>), BookingError> {
    let Some(r) = existing else {
        let row = new_resident(who, id_hash, now);
        return Ok((row.id, Some(row)));
    };
    if r.name != who.name.as_str()
        || r.phone != who.phone.as_str()
        || r.email != who.email.as_str()
        || r.lang != who.lang
    {
        resident::update_contact(
            c,
            ResidentId(r.id),
            who.name.as_str(),
            who.phone.as_str(),
            who.email.as_str(),
            &who.lang,
        )?;
    }
    Ok((r.id, None))
}

/// Who takes a seat, and how, in [`take_seat`].
pub(crate) struct Seat<'a> {
    pub appointment_id: i64,
    pub code: &'a str,
    pub resident_id: i64,
    pub dose: i32,
    /// Whether held second-dose seats are open to first doses (see `Slot::held_seats_released`).
    pub released: bool,
}

impl<'a> Seat<'a> {
    /// A seat for a new appointment (a new id) with booking code `code`.
    pub fn new(code: &'a BookingCode, resident_id: i64, dose: i32, released: bool) -> Seat<'a> {
        Seat {
            appointment_id: new_id(),
            code: code.as_str(),
            resident_id,
            dose,
            released,
        }
    }
}

/// The contact details a booked seat is held under, in [`book_seat`]: the confirmation's
/// address and language, and the per-contact cap.
pub(crate) struct SeatHolder<'a> {
    pub email: &'a str,
    pub phone: &'a str,
    pub lang: &'a str,
    /// The most active bookings this phone number or e-mail address may hold on the slot's
    /// (local) day, counting this one; 0: no cap.
    pub contact_cap: u32,
    pub tz: chrono_tz::Tz,
}

/// The booking transaction's writes, in the caller's transaction: the contact cap (under a lock
/// on the phone number and e-mail address), [`take_seat`], the confirmation in the outbox, and
/// `also`, the caller's writes that go with the seat (its audit entry), sent with the seat's
/// (one round trip on PostgreSQL: see [`take_seat_with`]). Every booking goes through here, a
/// draw's too.
pub(crate) fn book_seat(
    c: &mut AnyConnection,
    slot: &Slot,
    seat: &Seat<'_>,
    holder: &SeatHolder<'_>,
    now: NaiveDateTime,
    also: &[&dyn Part],
) -> Result<Appointment, BookingError> {
    check_contact_cap(c, slot, holder)?;
    // The confirmation is queued in the same transaction: no booking without its mail,
    // and no mail for a booking that rolled back.
    let (email, lang) = (holder.email, holder.lang);
    let to = Addressed {
        kind: Kind::Booked,
        ref_id: seat.appointment_id,
        slot_id: Some(slot.id),
        recipient: email,
        lang,
    };
    let mail = outbox::row(&to, None, now);
    let mail = mail.as_ref().map(InsertOutbox::of);
    let mut parts = also.to_vec();
    parts.extend(mail.as_ref().map(|m| m as &dyn Part));
    take_seat_with(c, slot, seat, now, &parts)
}

/// The seat (conditional UPDATE), the appointment in it and its promised dose (conditional
/// UPDATE), in the caller's transaction: a booking's ([`book_seat`]) and a walk-in's.
pub(crate) fn take_seat(
    c: &mut AnyConnection,
    slot: &Slot,
    seat: &Seat<'_>,
    now: NaiveDateTime,
) -> Result<Appointment, BookingError> {
    take_seat_with(c, slot, seat, now, &[])
}

/// [`take_seat`] with `also`, more writes of the transaction that do not depend on these (a new
/// resident's row, the confirmation, the audit entry): all are sent together
/// ([`run_together`]: one statement on PostgreSQL). Nothing here reads what another part
/// writes: the seat and the dose are conditional updates of their own rows, and the
/// appointment's id and code are chosen before. On PostgreSQL every part runs even when the slot
/// is full (then rolled back); a unique violation then wins over `SlotFull`.
fn take_seat_with(
    c: &mut AnyConnection,
    slot: &Slot,
    seat: &Seat<'_>,
    now: NaiveDateTime,
    also: &[&dyn Part],
) -> Result<Appointment, BookingError> {
    let new = NewAppointment {
        id: seat.appointment_id,
        code: seat.code.to_string(),
        resident_id: seat.resident_id,
        slot_id: slot.id,
        site_id: slot.site_id,
        product_id: slot.product_id,
        dose_number: seat.dose,
        status: AppointmentStatus::Booked.as_str().into(),
        starts_at: slot.starts_at,
        created_at: now,
        updated_at: now,
        checked_in_at: None,
    };
    let taking = slot::seat_taking(SlotId(slot.id), seat.dose, seat.released);
    let inserting = appointment::inserting(&new);
    let promising = stock::dose_promising(SiteId(slot.site_id), ProductId(slot.product_id));
    // The seat first (the guard: nothing else is written on SQLite when the slot is full),
    // then `also`, so that a new resident's row is in before the appointment that names it.
    let mut parts: Vec<&dyn Part> = vec![&*taking];
    parts.extend_from_slice(also);
    parts.extend([&inserting as &dyn Part, &promising]);
    let changed = run_together(c, &parts)?;
    let (took, promised) = (changed[0], changed[parts.len() - 1]);
    if took != 1 {
        return Err(BookingError::SlotFull);
    }
    if promised != 1 {
        return Err(BookingError::NoStock);
    }
    Ok(new)
}

pub(crate) fn insert_resident(
    c: &mut AnyConnection,
    who: &ResidentDetails,
    id_hash: &str,
    now: NaiveDateTime,
) -> Result<i64, BookingError> {
    let row = new_resident(who, id_hash, now);
    resident::insert(c, &row)?;
    Ok(row.id)
}

/// A new resident's row, under a new id.
fn new_resident(who: &ResidentDetails, id_hash: &str, now: NaiveDateTime) -> NewResident {
    NewResident {
        id: new_id(),
        id_hash: id_hash.to_string(),
        id_last4: who.id_number.last4().to_string(),
        birth_date: who.id_number.birth_date(),
        name: who.name.as_str().into(),
        phone: who.phone.as_str().into(),
        email: who.email.as_str().into(),
        lang: who.lang.clone(),
        created_at: now,
    }
}
