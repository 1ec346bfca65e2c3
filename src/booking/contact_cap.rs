//! The per-contact day cap: no phone number or e-mail address holds more than the cap of active
//! bookings on one (local) day. Checked under the contacts' locks by a booking and a reschedule.

use chrono::NaiveDateTime;

use super::{BookingError, Seat};
use crate::db::AnyConnection;
use crate::domain::days::{day_bounds, local_day};
use crate::models::{appointment, Slot};

/// Refuse a seat that would give the seat's phone number or e-mail address more than
/// `contact_cap` active bookings on the slot's day. The lock makes concurrent bookings with one
/// contact take turns, so the count each one reads includes the others' committed seats.
pub(super) fn check_contact_cap(
    c: &mut AnyConnection,
    slot: &Slot,
    seat: &Seat<'_>,
) -> Result<(), BookingError> {
    let contact = (seat.phone, seat.email);
    contact_cap_holds(c, slot.starts_at, contact, seat.contact_cap, seat.tz, 0)
}

/// Refuse when the phone number or e-mail address of `contact` holds `cap` or more active
/// bookings on the (local) day of `starts_at`, not counting `moved` of them (an appointment
/// already moved onto that day in the caller's transaction: it is the seat being asked for).
/// Takes the contacts' locks first (see [`check_contact_cap`]). A cap of 0: no cap.
pub(super) fn contact_cap_holds(
    c: &mut AnyConnection,
    starts_at: NaiveDateTime,
    (phone, email): (&str, &str),
    cap: u32,
    tz: chrono_tz::Tz,
    moved: i64,
) -> Result<(), BookingError> {
    use appointment::Contact;
    if cap == 0 {
        return Ok(());
    }
    let contacts: Vec<Contact<'_>> = [Contact::Phone(phone), Contact::Email(email)]
        .into_iter()
        .filter(|c| !matches!(c, Contact::Phone("") | Contact::Email("")))
        .collect();
    let names: Vec<String> = contacts
        .iter()
        .map(|c| match c {
            Contact::Phone(p) => format!("contact:phone:{p}"),
            Contact::Email(e) => format!("contact:email:{e}"),
        })
        .collect();
    crate::db::lock_names(c, &names.iter().map(String::as_str).collect::<Vec<_>>())?;
    let (from, to) = day_bounds(tz, local_day(tz, starts_at));
    let held = appointment::count_active_for_contacts(c, &contacts, from, to)?;
    if held.iter().any(|n| n - moved >= i64::from(cap)) {
        return Err(BookingError::ContactCap);
    }
    Ok(())
}
