//! Appointments: a resident's booked seat in a slot for one dose.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use crate::db::prepared::{Fixed, Part};
use crate::db::schema::appointments;
use crate::db::AnyConnection;
use crate::ids::{AppointmentId, ResidentId};

/// Where an appointment stands. `booked` and `checked_in` are active: they hold a seat and a dose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppointmentStatus {
    /// Booked and waiting for the day.
    Booked,
    /// Checked in at the site.
    CheckedIn,
    /// The dose was given.
    Vaccinated,
    /// Cancelled by the resident or the site.
    Cancelled,
    /// The resident did not come.
    NoShow,
    /// Screening at the desk deferred the dose (the reason is the screening's); the seat of the
    /// slot stays counted, the promised dose is given back, and the resident may book again.
    Deferred,
}

impl AppointmentStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Booked => "booked",
            AppointmentStatus::CheckedIn => "checked_in",
            AppointmentStatus::Vaccinated => "vaccinated",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::NoShow => "no_show",
            AppointmentStatus::Deferred => "deferred",
        }
    }

    /// Parse the stored text (unknown text reads as cancelled, which holds nothing).
    pub fn parse(s: &str) -> AppointmentStatus {
        match s {
            "booked" => AppointmentStatus::Booked,
            "checked_in" => AppointmentStatus::CheckedIn,
            "vaccinated" => AppointmentStatus::Vaccinated,
            "no_show" => AppointmentStatus::NoShow,
            "deferred" => AppointmentStatus::Deferred,
            _ => AppointmentStatus::Cancelled,
        }
    }

    /// The statuses that hold a seat and a promised dose.
    pub const ACTIVE: [AppointmentStatus; 2] =
        [AppointmentStatus::Booked, AppointmentStatus::CheckedIn];

    /// The stored text of [`Self::ACTIVE`], for queries.
    pub const ACTIVE_TEXT: [&'static str; 2] = ["booked", "checked_in"];

    /// Whether it holds a seat and a promised dose.
    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }
}

/// An appointment.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = appointments)]
pub struct Appointment {
    pub id: i64,
    pub code: String,
    pub resident_id: i64,
    pub slot_id: i64,
    pub site_id: i64,
    pub product_id: i64,
    pub dose_number: i32,
    pub status: String,
    pub starts_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub checked_in_at: Option<NaiveDateTime>,
}

impl Appointment {
    /// The parsed status.
    pub fn status(&self) -> AppointmentStatus {
        AppointmentStatus::parse(&self.status)
    }
}

/// An appointment to insert: the record itself (`checked_in_at` is `None` until check-in).
pub type NewAppointment = Appointment;

/// Insert an appointment.
pub fn insert(conn: &mut AnyConnection, a: &NewAppointment) -> QueryResult<()> {
    inserting(a).run(conn).map(|_| ())
}

/// The `INSERT` of [`insert`], not yet run (a part of `run_together`).
pub(crate) fn inserting(a: &NewAppointment) -> Fixed<InsertAppointment<'_>> {
    InsertAppointment::of(a)
}

crate::db::prepared::fixed_insert!(
    /// The appointment `INSERT`, kept prepared: every booking makes one.
    InsertAppointment,
    Appointment,
    appointments {
        id, code, resident_id, slot_id, site_id, product_id, dose_number, status, starts_at,
        created_at, updated_at, checked_in_at,
    }
);

/// One appointment.
pub fn find(conn: &mut AnyConnection, id: AppointmentId) -> QueryResult<Option<Appointment>> {
    super::find_one(conn, appointments::table.find(id.0))
}

/// The appointment with this booking code.
pub fn find_by_code(conn: &mut AnyConnection, code: &str) -> QueryResult<Option<Appointment>> {
    super::find_one(
        conn,
        appointments::table.filter(appointments::code.eq(code)),
    )
}

/// The appointments of the residents `residents`, newest first.
pub fn list_for_residents(
    conn: &mut AnyConnection,
    residents: &[i64],
) -> QueryResult<Vec<Appointment>> {
    super::load_all(
        conn,
        appointments::table
            .filter(appointments::resident_id.eq_any(residents))
            .order((appointments::created_at.desc(), appointments::id.desc())),
    )
}

/// The resident's active appointment for a dose, if any.
pub fn find_active_for_dose(
    conn: &mut AnyConnection,
    resident: ResidentId,
    dose: i32,
) -> QueryResult<Option<Appointment>> {
    super::find_one(
        conn,
        appointments::table
            .filter(appointments::resident_id.eq(resident.0))
            .filter(appointments::dose_number.eq(dose))
            .filter(active()),
    )
}

/// A contact detail [`count_active_for_contacts`] counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    Phone(&'a str),
    Email(&'a str),
}

/// For each of `contacts`, the active appointments starting in `[from, to)` held by residents
/// with that phone number or e-mail address (the per-contact cap on bookings per day), read in
/// one statement whatever their number.
///
/// The statement starts from the residents with those contacts (their indexes) and counts each
/// one's appointments by `resident_id`: a plan that stays a few index look-ups however many
/// appointments the day holds, even before the planner has statistics (on opening day the
/// tables grow from nothing faster than they are analysed; a join let PostgreSQL start from
/// every active appointment instead, and each booking grew slower with the table).
pub fn count_active_for_contacts<'a>(
    conn: &mut AnyConnection,
    contacts: &[Contact<'a>],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<i64>> {
    use crate::db::schema::residents;
    if contacts.is_empty() {
        return Ok(Vec::new());
    }
    // `phone = $1 OR email = $2 …`, not `IN` lists, so that it is kept prepared (see
    // [`active`]). Run on the backend's own connection: it is on the SQLite writer's path for
    // every booking. A booking's contacts (a phone, an e-mail address, or both) give a
    // statement of a static type, found in the statement cache by that type; any other list
    // is boxed, and diesel writes its text out to find it in the cache (two thirds of this
    // function's time on the writer when every list was boxed: perf, 2026-12-06).
    let held: Vec<(String, String, i64)> = crate::on_backend!(conn, |c, DB| {
        let held_by_resident = appointments::table
            .filter(appointments::resident_id.eq(residents::id))
            .filter(active())
            .filter(appointments::starts_at.ge(from))
            .filter(appointments::starts_at.lt(to))
            .count()
            .single_value()
            .assume_not_null();
        macro_rules! held_where {
            ($matches:expr) => {
                residents::table
                    .filter($matches)
                    .select((residents::phone, residents::email, held_by_resident))
                    .load(c)?
            };
        }
        match *contacts {
            [Contact::Phone(p), Contact::Email(e)] => {
                held_where!(residents::phone.eq(p).or(residents::email.eq(e)))
            }
            [Contact::Phone(p)] => held_where!(residents::phone.eq(p)),
            [Contact::Email(e)] => held_where!(residents::email.eq(e)),
            _ => {
                type Matches<'m> =
                    Box<dyn BoxableExpression<residents::table, DB, SqlType = Bool> + 'm>;
                let one = |c: &Contact<'a>| -> Matches<'a> {
                    match *c {
                        Contact::Phone(p) => Box::new(residents::phone.eq(p)),
                        Contact::Email(e) => Box::new(residents::email.eq(e)),
                    }
                };
                held_where!(contacts[1..]
                    .iter()
                    .fold(one(&contacts[0]), |m, c| Box::new(m.or(one(c)))))
            }
        }
    });
    Ok(contacts
        .iter()
        .map(|c| {
            held.iter()
                .filter(|(phone, email, _)| match *c {
                    Contact::Phone(p) => phone == p,
                    Contact::Email(e) => email == e,
                })
                .map(|(_, _, n)| n)
                .sum()
        })
        .collect())
}

/// An active appointment ([`AppointmentStatus::is_active`]), as `status = $1 OR status = $2`:
/// diesel keeps no `IN` list prepared (it is parsed and planned anew each time), and this filter
/// is on every booking's path (the per-contact cap).
fn active() -> status_either {
    // Two texts: a status added to the list must be added here (this does not compile until it is).
    let [booked, checked_in] = AppointmentStatus::ACTIVE_TEXT;
    status_either(booked, checked_in)
}

/// `status = a OR status = b`.
#[diesel::dsl::auto_type]
fn status_either(a: &'static str, b: &'static str) -> _ {
    appointments::status.eq(a).or(appointments::status.eq(b))
}

/// Appointment `id` while its status is `status`: what a conditional change targets.
#[diesel::dsl::auto_type(no_type_alias)]
fn while_in(id: i64, status: &'static str) -> _ {
    appointments::table
        .find(id)
        .filter(appointments::status.eq(status))
}

/// Move an appointment from `from` to `to` status; false if it was no longer in `from`
/// (someone else changed it first).
pub fn transition(
    conn: &mut AnyConnection,
    id: AppointmentId,
    from: AppointmentStatus,
    to: AppointmentStatus,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    super::update_one(
        conn,
        while_in(id.0, from.as_str()),
        (
            appointments::status.eq(to.as_str()),
            appointments::updated_at.eq(now),
        ),
    )
}

/// Move the appointments `ids` that are still in `from` to `to` status; returns how many moved
/// (the others were changed by someone else first).
pub fn transition_many(
    conn: &mut AnyConnection,
    ids: &[i64],
    from: AppointmentStatus,
    to: AppointmentStatus,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(
        appointments::table
            .filter(appointments::id.eq_any(ids))
            .filter(appointments::status.eq(from.as_str())),
    )
    .set((
        appointments::status.eq(to.as_str()),
        appointments::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Point a booked appointment at another slot; false if it is no longer booked in `from_slot`
/// (a concurrent move or cancel got there first, so the caller's view of it is stale).
pub fn move_to_slot(
    conn: &mut AnyConnection,
    id: AppointmentId,
    from_slot: i64,
    slot: &crate::models::Slot,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    super::update_one(
        conn,
        while_in(id.0, AppointmentStatus::Booked.as_str())
            .filter(appointments::slot_id.eq(from_slot)),
        (
            appointments::slot_id.eq(slot.id),
            appointments::site_id.eq(slot.site_id),
            appointments::product_id.eq(slot.product_id),
            appointments::starts_at.eq(slot.starts_at),
            appointments::updated_at.eq(now),
        ),
    )
}

/// Check a booked appointment in (clinic desk) as seen `at`; false if it was no longer booked.
pub fn check_in(
    conn: &mut AnyConnection,
    id: AppointmentId,
    at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    super::update_one(
        conn,
        while_in(id.0, AppointmentStatus::Booked.as_str()),
        (
            appointments::status.eq(AppointmentStatus::CheckedIn.as_str()),
            appointments::checked_in_at.eq(Some(at)),
            appointments::updated_at.eq(now),
        ),
    )
}

/// A site's appointments starting in `[from, to)` with their residents, in time order (the
/// clinic's day list).
pub fn list_for_site_between(
    conn: &mut AnyConnection,
    site: crate::ids::SiteId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(Appointment, crate::models::Resident)>> {
    use crate::db::schema::residents;
    appointments::table
        .inner_join(residents::table)
        .filter(appointments::site_id.eq(site.0))
        .filter(appointments::starts_at.ge(from))
        .filter(appointments::starts_at.lt(to))
        .order((
            appointments::starts_at.asc(),
            appointments::created_at.asc(),
        ))
        .select((
            Appointment::as_select(),
            crate::models::Resident::as_select(),
        ))
        .load(conn)
}

/// The booked (not checked-in) appointments of some slots: the candidates for no-show.
pub fn list_booked_in_slots(
    conn: &mut AnyConnection,
    slots: &[i64],
) -> QueryResult<Vec<Appointment>> {
    super::load_all(
        conn,
        appointments::table
            .filter(appointments::slot_id.eq_any(slots))
            .filter(appointments::status.eq(AppointmentStatus::Booked.as_str()))
            .order(appointments::id.asc()),
    )
}

/// How many active first-dose appointments for a product each site holds: `(site, count)`.
pub fn count_active_first_doses_by_site(
    conn: &mut AnyConnection,
    product: crate::ids::ProductId,
) -> QueryResult<Vec<(i64, i64)>> {
    appointments::table
        .filter(appointments::product_id.eq(product.0))
        .filter(appointments::dose_number.eq(1))
        .filter(active())
        .group_by(appointments::site_id)
        .select((appointments::site_id, diesel::dsl::count_star()))
        .load(conn)
}

/// A booked appointment to remind its resident of, with the address the reminder goes to.
#[derive(Debug, Clone, Queryable)]
pub struct DueReminder {
    pub id: i64,
    pub slot_id: i64,
    pub starts_at: NaiveDateTime,
    pub email: String,
    pub lang: String,
}

/// The booked appointments that start after `now` and no later than `until`, of residents who
/// gave an e-mail address: the reminders the mail scheduler queues.
pub fn list_due_reminders(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Vec<DueReminder>> {
    use crate::db::schema::residents;
    appointments::table
        .inner_join(residents::table)
        .filter(appointments::status.eq(AppointmentStatus::Booked.as_str()))
        .filter(appointments::starts_at.gt(now))
        .filter(appointments::starts_at.le(until))
        .filter(residents::email.ne(""))
        .select((
            appointments::id,
            appointments::slot_id,
            appointments::starts_at,
            residents::email,
            residents::lang,
        ))
        .load(conn)
}

/// An active appointment of a slot, with the last four characters of its resident's ID number.
#[derive(Debug, Clone, Queryable)]
pub struct ActiveInSlot {
    pub slot_id: i64,
    pub id: i64,
    pub resident_id: i64,
    pub code: String,
    pub id_last4: String,
    pub dose_number: i32,
    pub status: String,
}

/// The booked and checked-in appointments of the slots `slots`, oldest booking first (so each
/// slot's own are in its booking order).
pub fn list_active_in_slots(
    conn: &mut AnyConnection,
    slots: &[i64],
) -> QueryResult<Vec<ActiveInSlot>> {
    use crate::db::schema::residents;
    if slots.is_empty() {
        return Ok(Vec::new());
    }
    appointments::table
        .inner_join(residents::table)
        .filter(appointments::slot_id.eq_any(slots))
        .filter(active())
        .order((appointments::created_at.asc(), appointments::id.asc()))
        .select((
            appointments::slot_id,
            appointments::id,
            appointments::resident_id,
            appointments::code,
            residents::id_last4,
            appointments::dose_number,
            appointments::status,
        ))
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::AppointmentStatus;

    #[test]
    fn the_active_texts_are_the_active_statuses() {
        let texts = AppointmentStatus::ACTIVE.map(AppointmentStatus::as_str);
        assert_eq!(texts, AppointmentStatus::ACTIVE_TEXT);
        for s in AppointmentStatus::ACTIVE_TEXT {
            assert!(AppointmentStatus::parse(s).is_active());
        }
    }
}
