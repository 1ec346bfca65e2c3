//! The per-contact day cap: no phone number or e-mail address holds more than the cap of active
//! bookings on one (local) day. Checked under the contacts' locks by a booking, a reschedule and
//! a household's group booking.

use chrono::NaiveDateTime;

use super::{BookingError, SeatHolder};
use crate::db::AnyConnection;
use crate::domain::days::{day_bounds, local_day};
use crate::models::appointment::{self, Contact};
use crate::models::Slot;

/// Refuse a seat that would give its holder's phone number or e-mail address more than
/// `contact_cap` active bookings on the slot's day. The lock makes concurrent bookings with one
/// contact take turns, so the count each one reads includes the others' committed seats.
pub(super) fn check_contact_cap(
    c: &mut AnyConnection,
    slot: &Slot,
    holder: &SeatHolder<'_>,
) -> Result<(), BookingError> {
    let adding = tally([(holder.phone, holder.email)], 1);
    within_cap(c, slot.starts_at, &adding, holder.contact_cap, holder.tz)
}

/// The contacts (phone, e-mail) of `people`, each once with the `each` bookings every person
/// holding it adds; empty ones are left out.
pub(super) fn tally<'a>(
    people: impl IntoIterator<Item = (&'a str, &'a str)>,
    each: i64,
) -> Vec<(Contact<'a>, i64)> {
    let mut adding: Vec<(Contact<'a>, i64)> = Vec::new();
    for (phone, email) in people {
        for contact in [Contact::Phone(phone), Contact::Email(email)] {
            if matches!(contact, Contact::Phone("") | Contact::Email("")) {
                continue;
            }
            match adding.iter_mut().find(|(k, _)| *k == contact) {
                Some((_, n)) => *n += each,
                None => adding.push((contact, each)),
            }
        }
    }
    adding
}

/// Refuse when any contact of `adding` would hold more than `cap` active bookings on the (local)
/// day of `starts_at` once its bookings are added (0 for an appointment already moved onto that
/// day in the caller's transaction: it is the seat being asked for). Every contact's lock is
/// taken at once, in the one order `db::lock_names` keeps (see [`check_contact_cap`]). A cap of
/// 0: no cap.
pub(super) fn within_cap(
    c: &mut AnyConnection,
    starts_at: NaiveDateTime,
    adding: &[(Contact<'_>, i64)],
    cap: u32,
    tz: chrono_tz::Tz,
) -> Result<(), BookingError> {
    if cap == 0 {
        return Ok(());
    }
    let names: Vec<String> = adding
        .iter()
        .map(|(k, _)| match k {
            Contact::Phone(p) => format!("contact:phone:{p}"),
            Contact::Email(e) => format!("contact:email:{e}"),
        })
        .collect();
    crate::db::lock_names(c, &names.iter().map(String::as_str).collect::<Vec<_>>())?;
    let (from, to) = day_bounds(tz, local_day(tz, starts_at));
    let asked: Vec<Contact<'_>> = adding.iter().map(|(k, _)| *k).collect();
    let held = appointment::count_active_for_contacts(c, &asked, from, to)?;
    if (adding.iter().zip(held)).any(|((_, n), h)| h + n > i64::from(cap)) {
        return Err(BookingError::ContactCap);
    }
    Ok(())
}
