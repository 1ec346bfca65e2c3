//! A seat for a resident, in the caller's write transaction: the resident's row (new, or its
//! contact details brought up to date), then the seat, the appointment and its promised dose
//! ([`take_seat`], a walk-in's way), and for a booking the per-contact cap before them and the
//! confirmation after ([`book_seat`], every booking's way, a move's and a draw's too).

use chrono::NaiveDateTime;

use super::contact_cap::check_contact_cap;
use super::{BookingError, ResidentDetails};
use crate::db::AnyConnection;
use crate::domain::BookingCode;
use crate::ids::{new_id, ProductId, ResidentId, SiteId, SlotId};
use crate::mail::outbox::{self, Kind};
use crate::models::appointment::{self, AppointmentStatus, NewAppointment};
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
    match existing {
        Some(r) => {
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
            Ok(r.id)
        }
        None => insert_resident(c, who, id_hash, now),
    }
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
/// on the phone number and e-mail address), [`take_seat`], the confirmation in the outbox.
/// Every booking goes through here, a draw's too.
pub(crate) fn book_seat(
    c: &mut AnyConnection,
    slot: &Slot,
    seat: &Seat<'_>,
    holder: &SeatHolder<'_>,
    now: NaiveDateTime,
) -> Result<Appointment, BookingError> {
    check_contact_cap(c, slot, holder)?;
    let new = take_seat(c, slot, seat, now)?;
    // The confirmation is queued in the same transaction: no booking without its mail,
    // and no mail for a booking that rolled back.
    let (email, lang) = (holder.email, holder.lang);
    outbox::enqueue_for_appointment(c, Kind::Booked, new.id, slot.id, email, lang, now)?;
    Ok(new)
}

/// The seat (conditional UPDATE), the appointment in it and its promised dose (conditional
/// UPDATE), in the caller's transaction: a booking's ([`book_seat`]) and a walk-in's.
pub(crate) fn take_seat(
    c: &mut AnyConnection,
    slot: &Slot,
    seat: &Seat<'_>,
    now: NaiveDateTime,
) -> Result<Appointment, BookingError> {
    let slot_id = SlotId(slot.id);
    let took = if seat.dose == 1 {
        slot::take_first_dose_seat(c, slot_id, seat.released)?
    } else {
        slot::take_second_dose_seat(c, slot_id)?
    };
    if !took {
        return Err(BookingError::SlotFull);
    }
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
    appointment::insert(c, &new)?;
    if !stock::promise_dose(c, SiteId(slot.site_id), ProductId(slot.product_id))? {
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
    let id = new_id();
    resident::insert(
        c,
        &NewResident {
            id,
            id_hash: id_hash.to_string(),
            id_last4: who.id_number.last4().to_string(),
            birth_date: who.id_number.birth_date(),
            name: who.name.as_str().into(),
            phone: who.phone.as_str().into(),
            email: who.email.as_str().into(),
            lang: who.lang.clone(),
            created_at: now,
        },
    )?;
    Ok(id)
}
