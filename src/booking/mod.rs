//! The booking transactions: book, cancel, reschedule, join a waiting list; the clinic desk's
//! (check in, record a dose, walk-ins, no-shows, wastage, reactions) are in `clinic`.
//!
//! How the invariants hold on both backends under concurrent requests:
//! - **No overbooking**: a seat is taken by a conditional `UPDATE slots ... WHERE booked < seats`
//!   (see `models::slot`). On PostgreSQL the row lock makes concurrent updates of one slot queue
//!   and re-check the condition; on SQLite all writes go through one connection. The CHECK
//!   constraint on `slots` is the backstop.
//! - **No promise without vaccine**: the same conditional update on `stock_balances.promised`,
//!   with `CHECK (promised <= on_hand)` as backstop.
//! - **One booking per dose**: a unique partial index on active appointments.
//! - **Held second-dose seats**: the first-dose update also requires
//!   `booked_first + second_dose_held < seats` until the slot's release time.
//! - **Nothing acknowledged is lost**: each change is one transaction; a reschedule takes the new
//!   seat inside the same transaction that gives up the old one.
//!
//! Deadlock freedom on PostgreSQL: every transaction locks rows in one order: the appointment,
//! then slots by id, then stock balances by (site, product). Reads and rule checks happen before
//! the transaction, so it stays short (four statements for a booking).

pub mod clinic;
mod contact_cap;
pub mod draw;
mod free;
pub mod household;
pub mod relocate;
mod seat;
pub use free::next_free_slots;
pub(crate) use seat::{
    book_seat, insert_resident, resident_for, take_seat, upsert_resident, Seat, SeatHolder,
};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::result::Error as DieselError;

use crate::db::prepared::Part;
use crate::db::{unique_violation_on, AnyConnection, Db, DbCause, StorageError};
use crate::domain::days::local_day;
use crate::domain::eligibility::{self, Refusal};
use crate::domain::{BookingCode, Email, IdNumber, PersonName, Phone};
use crate::i18n::Keyed;
use crate::ids::{new_id, AppointmentId, ProductId, ResidentId, SiteId, SlotId, TownId};
use crate::models::appointment::{self, AppointmentStatus};
use crate::models::outbox::{self, Kind};
use crate::models::{
    audit, product, resident, site, slot, stock, vaccination, waiting, Appointment, Product,
    Resident, Slot,
};
use crate::security::Keys;

/// Why a booking action was refused. Each maps to a catalogue key and an HTTP status in `web/`.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("no such slot")]
    SlotNotFound,
    #[error("the slot has already started")]
    SlotStarted,
    #[error("the slot is full")]
    SlotFull,
    #[error("the site has no vaccine left to promise")]
    NoStock,
    #[error("the resident already holds an appointment for this dose")]
    AlreadyBooked,
    #[error("the resident has already received this dose")]
    AlreadyVaccinated,
    #[error("the previous dose has not been recorded")]
    PreviousDoseMissing,
    #[error("this dose can be booked from {0}")]
    TooEarly(NaiveDate),
    #[error("the product's series has fewer doses")]
    NotInSeries,
    #[error("later doses must be of the product given first")]
    WrongProduct,
    #[error("the resident's age is outside the product's range")]
    AgeOutOfRange,
    #[error("no appointment matches")]
    NotFound,
    #[error("the appointment is no longer active")]
    NotActive,
    #[error("the new slot is the current one")]
    SameSlot,
    #[error("no such town")]
    TownNotFound,
    #[error("the slot opens for booking at {0}")]
    NotOpen(NaiveDateTime),
    #[error("the slot's seats are being drawn (draw {0})")]
    InDraw(i64),
    #[error("the draw {0} is being run")]
    DrawPending(i64),
    #[error("the resident already has an entry for this dose")]
    AlreadyEntered,
    #[error("this phone number or e-mail address already holds the day's cap of bookings")]
    ContactCap,
    /// The database failed; not the request's fault.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

crate::db::storage_error_from!(BookingError);

impl From<Refusal> for BookingError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotInSeries => BookingError::NotInSeries,
            Refusal::AlreadyGiven => BookingError::AlreadyVaccinated,
            Refusal::PreviousDoseMissing => BookingError::PreviousDoseMissing,
            Refusal::WrongProduct => BookingError::WrongProduct,
            Refusal::TooEarly { opens, .. } => BookingError::TooEarly(opens),
            Refusal::TooYoung | Refusal::TooOld => BookingError::AgeOutOfRange,
        }
    }
}

impl Keyed for BookingError {
    /// The catalogue key of the message shown to the resident.
    fn key(&self) -> &'static str {
        match self {
            BookingError::SlotNotFound => "err.book.slot_not_found",
            BookingError::SlotStarted => "err.book.slot_started",
            BookingError::SlotFull => "err.book.slot_full",
            BookingError::NoStock => "err.book.no_stock",
            BookingError::AlreadyBooked => "err.book.already_booked",
            BookingError::AlreadyVaccinated => "err.book.already_vaccinated",
            BookingError::PreviousDoseMissing => "err.book.previous_dose_missing",
            BookingError::TooEarly(_) => "err.book.too_early",
            BookingError::NotInSeries => "err.book.not_in_series",
            BookingError::WrongProduct => "err.book.wrong_product",
            BookingError::AgeOutOfRange => "err.book.age",
            BookingError::NotFound => "err.find.not_found",
            BookingError::NotActive => "err.book.not_active",
            BookingError::SameSlot => "err.book.same_slot",
            BookingError::TownNotFound => "err.not_found",
            BookingError::NotOpen(_) => "err.book.not_open",
            BookingError::InDraw(_) => "err.book.in_draw",
            BookingError::DrawPending(_) => "err.book.draw_running",
            BookingError::AlreadyEntered => "err.book.already_entered",
            BookingError::ContactCap => "err.book.contact_cap",
            BookingError::Storage(_) => "err.internal",
        }
    }
}

impl BookingError {
    /// Whether this is the system's fault rather than the request's.
    pub fn is_internal(&self) -> bool {
        matches!(self, BookingError::Storage(_))
    }
}

/// The validated details a resident gives when booking or joining a list.
#[derive(Debug, Clone)]
pub struct ResidentDetails {
    pub id_number: IdNumber,
    pub name: PersonName,
    pub phone: Phone,
    pub email: Email,
    /// The language for messages, `zh-CN` or `en`.
    pub lang: String,
}

/// The time and settings the rules are judged by.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub now: NaiveDateTime,
    pub release_hours: i64,
    /// The city's time zone: days (intervals, ages) are the city's days, not UTC's.
    pub tz: chrono_tz::Tz,
}

/// A confirmed booking.
#[derive(Debug, Clone)]
pub struct Booked {
    pub appointment: Appointment,
    pub slot: Slot,
}

/// What a booking asks for: `dose` in `slot_id`, under `contact_cap`, the most active bookings
/// one phone number or e-mail address may hold on one day (0: no cap).
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub slot_id: SlotId,
    pub dose: i32,
    pub contact_cap: u32,
}

/// Book what `ask` asks for, for a resident. Returns the committed appointment.
pub fn book(
    db: &Db,
    keys: &Keys,
    rules: Rules,
    ask: Request,
    who: &ResidentDetails,
) -> Result<Booked, BookingError> {
    let id_hash = keys.hash_id_number(&who.id_number);
    // A unique violation on the booking code (40 random bits) or on a resident created by a
    // concurrent request is settled by running the whole booking again.
    retrying_collisions(BookingError::AlreadyBooked, || {
        try_book(db, rules, ask, who, &id_hash)
    })
}

/// Run `attempt` again (up to three times in all) when it collided with a concurrent request
/// on a random code or on a resident created at the same moment; a collision on the one-per-dose
/// index is `taken` (already booked, or already entered in a draw).
pub(crate) fn retrying_collisions<T, E: DbCause>(
    taken: E,
    mut attempt: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let mut tries = 0;
    loop {
        tries += 1;
        let e = match attempt() {
            Err(e) => e,
            done => return done,
        };
        return match e.db_cause().and_then(Collision::of) {
            Some(Collision::Again) if tries < 3 => continue,
            Some(Collision::OnDose) => Err(taken),
            _ => Err(e),
        };
    }
}

/// What a unique violation on a booking's writes means: the one classification that
/// [`retrying_collisions`], the draw's seats and [`BookingError::is_collision`] share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Collision {
    /// A random booking code or a new row's id made twice, or a resident created by a
    /// concurrent request: the same write may succeed when run again.
    Again,
    /// The one-per-dose index: the resident holds (or waits in a draw for) this dose already.
    OnDose,
}

impl Collision {
    /// The collision `d` is, if it is one.
    pub(crate) fn of(d: &DieselError) -> Option<Collision> {
        if unique_violation_on(d, "code")
            || unique_violation_on(d, "id_hash")
            || crate::db::primary_key_violation(d)
        {
            Some(Collision::Again)
        } else if unique_violation_on(d, "dose") {
            Some(Collision::OnDose)
        } else {
            None
        }
    }
}

fn try_book(
    db: &Db,
    rules: Rules,
    ask: Request,
    who: &ResidentDetails,
    id_hash: &str,
) -> Result<Booked, BookingError> {
    let (slot, appointment) =
        db.read_then_transaction(|c| prepare_book(c, rules, ask, who, id_hash))?;
    Ok(Booked { appointment, slot })
}

/// A booking queued on the SQLite writer by [`queue_book`]: its slot, and the commit to await.
pub struct QueuedBooking {
    slot: Slot,
    queued: crate::db::Queued<Appointment, BookingError>,
}

impl QueuedBooking {
    /// The booking once committed, or why not.
    pub async fn committed(self) -> Result<Booked, BookingError> {
        let appointment = self.queued.committed().await?;
        Ok(Booked {
            appointment,
            slot: self.slot,
        })
    }
}

/// One attempt of [`book`] on SQLite whose write transaction is queued on the writer, not
/// waited for: the caller awaits [`QueuedBooking::committed`]. `None` on PostgreSQL. A collision
/// on a random code or a new resident, which [`book`] settles by trying again, is the caller's
/// to settle ([`BookingError::is_collision`]).
pub fn queue_book(
    db: &Db,
    keys: &Keys,
    rules: Rules,
    ask: Request,
    who: &ResidentDetails,
) -> Option<Result<QueuedBooking, BookingError>> {
    if !db.queues_writes() {
        return None;
    }
    let id_hash = keys.hash_id_number(&who.id_number);
    let prepared = db
        .read
        .get()
        .map_err(BookingError::from)
        .and_then(|mut c| prepare_book(&mut c, rules, ask, who, &id_hash));
    let queued = prepared.and_then(|(slot, write)| match db.queue(write) {
        Some(Ok(queued)) => Ok(QueuedBooking { slot, queued }),
        Some(Err(e)) => Err(e),
        None => unreachable!("a database that queues writes has a writer"),
    });
    Some(queued)
}

impl BookingError {
    /// A unique violation that [`book`] settles itself (by trying again, or as
    /// [`BookingError::AlreadyBooked`]).
    pub fn is_collision(&self) -> bool {
        self.db_cause().and_then(Collision::of).is_some()
    }
}

/// A booking's write transaction, as [`prepare_book`] returns it to be run. On SQLite the
/// writer may run it twice (first without a savepoint, see `db::job`), so it writes nothing but
/// through the connection, and draws its new ids again on each run.
trait BookingWrite:
    FnMut(&mut AnyConnection) -> Result<Appointment, BookingError> + Send + 'static
{
}

impl<F> BookingWrite for F where
    F: FnMut(&mut AnyConnection) -> Result<Appointment, BookingError> + Send + 'static
{
}

/// The reads and rule checks of a booking on `conn`, before its write transaction (returned to
/// run).
fn prepare_book(
    conn: &mut AnyConnection,
    rules: Rules,
    ask: Request,
    who: &ResidentDetails,
    id_hash: &str,
) -> Result<(Slot, impl BookingWrite), BookingError> {
    let Request {
        slot_id,
        dose,
        contact_cap,
    } = ask;
    let (slot, product, existing) =
        slot::find_for_booking(conn, slot_id, id_hash)?.ok_or(BookingError::SlotNotFound)?;
    draw::ensure_bookable(conn, rules.now, &slot)?;
    let birth = who.id_number.birth_date();
    check_eligibility(conn, rules, existing.as_ref(), birth, &slot, &product, dose)?;
    let code = BookingCode::generate(&mut rand::rng());
    let now = rules.now;
    let released = slot.held_seats_released(now, rules.release_hours);
    let (who, id_hash, booked_slot) = (who.clone(), id_hash.to_string(), slot.clone());
    let write = move |c: &mut AnyConnection| -> Result<Appointment, BookingError> {
        let (who, slot) = (&who, &booked_slot);
        // A new resident's row goes with the seat's writes (see `book_seat`).
        let (resident_id, new) = resident_for(c, existing.as_ref(), who, &id_hash, now)?;
        let new = new.as_ref().map(resident::inserting);
        let seat = Seat::new(&code, resident_id, dose, released);
        let holder = SeatHolder {
            email: who.email.as_str(),
            phone: who.phone.as_str(),
            lang: &who.lang,
            contact_cap,
            tz: rules.tz,
        };
        let (actor, subject) = (
            who.id_number.masked(),
            format!("appointment {}", seat.appointment_id),
        );
        let detail = format!("site {} dose {dose}", slot.site_id);
        let entry = audit::Entry {
            actor: &actor,
            action: "appointment.book",
            subject: &subject,
            detail: &detail,
        };
        let audit = audit::at_site(now, entry, slot.site_id);
        let mut also: Vec<&dyn Part> = new.iter().map(|n| n as &dyn Part).collect();
        also.push(&audit);
        book_seat(c, slot, &seat, &holder, now, &also)
    };
    Ok((slot, write))
}

/// The rules a slot must meet for this resident and dose, checked before any write.
fn check_eligibility(
    conn: &mut AnyConnection,
    rules: Rules,
    resident: Option<&Resident>,
    birth: NaiveDate,
    slot: &Slot,
    product: &Product,
    dose: i32,
) -> Result<(), BookingError> {
    check_slot(rules, birth, slot, product)?;
    let doses = match resident {
        Some(r) => vaccination::list_for_resident(conn, ResidentId(r.id))?,
        None => Vec::new(),
    };
    let day = local_day(rules.tz, slot.starts_at);
    eligibility::check_dose(&product.series(), &doses, dose, day, rules.tz)?;
    if let Some(r) = resident {
        // Booking the same dose twice is refused; moving it is `reschedule`.
        if appointment::find_active_for_dose(conn, ResidentId(r.id), dose)?.is_some() {
            return Err(BookingError::AlreadyBooked);
        }
    }
    Ok(())
}

/// The slot has not started and the resident's age on its day is in the product's range.
fn check_slot(
    rules: Rules,
    birth: NaiveDate,
    slot: &Slot,
    product: &Product,
) -> Result<(), BookingError> {
    if slot.starts_at <= rules.now {
        return Err(BookingError::SlotStarted);
    }
    eligibility::check_age(
        &product.series(),
        birth,
        local_day(rules.tz, slot.starts_at),
    )?;
    Ok(())
}

/// Find an appointment by booking code and the resident's ID number. A wrong code and a wrong
/// ID number give the same answer, so the lookup reveals nothing.
pub fn find_appointment(
    conn: &mut AnyConnection,
    keys: &Keys,
    code: &BookingCode,
    id_number: &IdNumber,
) -> Result<(Appointment, Resident), BookingError> {
    let appt = appointment::find_by_code(conn, code.as_str())?.ok_or(BookingError::NotFound)?;
    let res = resident::find(conn, ResidentId(appt.resident_id))?.ok_or(BookingError::NotFound)?;
    if !crate::security::constant_time_eq(&res.id_hash, &keys.hash_id_number(id_number)) {
        return Err(BookingError::NotFound);
    }
    Ok((appt, res))
}

/// Cancel a booked appointment: its seat and its promised dose go back.
pub fn cancel(db: &Db, id: AppointmentId, now: NaiveDateTime) -> Result<(), BookingError> {
    db.transaction(move |c| {
        // The transition locks the row first, so what is read next is the committed state
        // (a concurrent move cannot make us release the wrong slot).
        if !appointment::transition(
            c,
            id,
            AppointmentStatus::Booked,
            AppointmentStatus::Cancelled,
            now,
        )? {
            return Err(BookingError::NotActive);
        }
        let a = appointment::find(c, id)?.ok_or(BookingError::NotFound)?;
        slot::release_seat(c, SlotId(a.slot_id), a.dose_number == 1)?;
        stock::unpromise_dose(c, SiteId(a.site_id), ProductId(a.product_id))?;
        let r = resident::find(c, ResidentId(a.resident_id))?;
        audit::record_at_site(
            c,
            now,
            audit::Entry {
                actor: &r.as_ref().map_or_else(
                    || "resident".to_string(),
                    |r| IdNumber::mask_stored(&r.id_last4),
                ),
                action: "appointment.cancel",
                subject: &format!("appointment {}", a.id),
                detail: &format!("site {} dose {}", a.site_id, a.dose_number),
            },
            a.site_id,
        )?;
        if let Some(r) = r {
            outbox::enqueue_for_appointment(
                c,
                Kind::Cancelled,
                a.id,
                a.slot_id,
                &r.email,
                &r.lang,
                now,
            )?;
        }
        tell_next_waiting(c, SiteId(a.site_id), now)?;
        Ok(())
    })
}

/// A seat opened at a site: tell the first person on its town's waiting list (one seat, one
/// person, in the order they joined).
fn tell_next_waiting(
    c: &mut AnyConnection,
    site_id: SiteId,
    now: NaiveDateTime,
) -> Result<(), BookingError> {
    let Some(s) = site::find(c, site_id)? else {
        return Ok(());
    };
    if let Some(next) = waiting::take_next(c, TownId(s.town_id))? {
        outbox::enqueue(
            c,
            Kind::SeatsOpened,
            next.entry,
            &next.email,
            &next.lang,
            None,
            now,
        )?;
    }
    Ok(())
}

/// Move a booked appointment to another slot. The old seat is given up only in the transaction
/// that secures the new one, so a failed move leaves the booking exactly as it was. The new
/// slot's day must leave the resident's phone number and e-mail address within `contact_cap`
/// active bookings, as a booking must (0: no cap).
pub fn reschedule(
    db: &Db,
    rules: Rules,
    contact_cap: u32,
    id: AppointmentId,
    to: SlotId,
) -> Result<Booked, BookingError> {
    let (old, new_slot, res) = {
        let mut conn = db.read.get()?;
        let old = appointment::find(&mut conn, id)?.ok_or(BookingError::NotFound)?;
        if old.status() != AppointmentStatus::Booked {
            return Err(BookingError::NotActive);
        }
        if old.slot_id == to.0 {
            return Err(BookingError::SameSlot);
        }
        let new_slot = slot::find(&mut conn, to)?.ok_or(BookingError::SlotNotFound)?;
        draw::ensure_bookable(&mut conn, rules.now, &new_slot)?;
        let product = product::find(&mut conn, ProductId(new_slot.product_id))?
            .ok_or(BookingError::SlotNotFound)?;
        let res = resident::find(&mut conn, ResidentId(old.resident_id))?
            .ok_or(BookingError::NotFound)?;
        check_slot(rules, res.birth_date, &new_slot, &product)?;
        let doses = vaccination::list_for_resident(&mut conn, ResidentId(res.id))?;
        let day = local_day(rules.tz, new_slot.starts_at);
        eligibility::check_dose(&product.series(), &doses, old.dose_number, day, rules.tz)?;
        (old, new_slot, res)
    };
    let first = old.dose_number == 1;
    let released = new_slot.held_seats_released(rules.now, rules.release_hours);
    let moved_to = new_slot.clone();
    db.transaction(move |c| {
        let new_slot = &moved_to;
        if !appointment::move_to_slot(c, id, old.slot_id, new_slot, rules.now)? {
            return Err(BookingError::NotActive);
        }
        // Counted after the move, so the moved appointment is one of the day's (once, whether
        // it came from another day or from this one).
        let adding = contact_cap::tally([(res.phone.as_str(), res.email.as_str())], 0);
        contact_cap::within_cap(c, new_slot.starts_at, &adding, contact_cap, rules.tz)?;
        // Slots in id order, then stock rows in key order (see the module doc).
        let take = |c: &mut AnyConnection| -> Result<(), BookingError> {
            let took = slot::take_seat(c, SlotId(new_slot.id), old.dose_number, released)?;
            if took {
                Ok(())
            } else {
                Err(BookingError::SlotFull)
            }
        };
        if new_slot.id < old.slot_id {
            take(c)?;
            slot::release_seat(c, SlotId(old.slot_id), first)?;
        } else {
            slot::release_seat(c, SlotId(old.slot_id), first)?;
            take(c)?;
        }
        let old_key = (old.site_id, old.product_id);
        let new_key = (new_slot.site_id, new_slot.product_id);
        if old_key != new_key {
            let promise = |c: &mut AnyConnection| -> Result<(), BookingError> {
                if stock::promise_dose(c, SiteId(new_key.0), ProductId(new_key.1))? {
                    Ok(())
                } else {
                    Err(BookingError::NoStock)
                }
            };
            if new_key < old_key {
                promise(c)?;
                stock::unpromise_dose(c, SiteId(old_key.0), ProductId(old_key.1))?;
            } else {
                stock::unpromise_dose(c, SiteId(old_key.0), ProductId(old_key.1))?;
                promise(c)?;
            }
        }
        outbox::enqueue_for_appointment(
            c,
            Kind::Moved,
            id.0,
            new_slot.id,
            &res.email,
            &res.lang,
            rules.now,
        )?;
        audit::record_at_site(
            c,
            rules.now,
            audit::Entry {
                actor: &IdNumber::mask_stored(&res.id_last4),
                action: "appointment.move",
                subject: &format!("appointment {}", id.0),
                detail: &format!("site {} -> site {}", old.site_id, new_slot.site_id),
            },
            new_slot.site_id,
        )?;
        Ok(())
    })?;
    let mut conn = db.read.get()?;
    let appointment = appointment::find(&mut conn, id)?.ok_or(BookingError::NotFound)?;
    Ok(Booked {
        appointment,
        slot: new_slot,
    })
}

/// The outcome of joining a waiting list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    /// The resident's place in the queue (1 = next).
    pub position: i64,
    /// True if they were already on the list.
    pub already: bool,
}

/// Put a resident on a town's waiting list for a first dose (or the next dose they need).
pub fn join_waiting_list(
    db: &Db,
    keys: &Keys,
    now: NaiveDateTime,
    town: TownId,
    who: &ResidentDetails,
) -> Result<Waiting, BookingError> {
    let id_hash = keys.hash_id_number(&who.id_number);
    let existing = {
        let mut conn = db.read.get()?;
        crate::models::town::find(&mut conn, town)?.ok_or(BookingError::TownNotFound)?;
        resident::find_by_hash(&mut conn, &id_hash)?
    };
    let (who_owned, hash_owned, existing_id) = (
        who.clone(),
        id_hash.clone(),
        existing.as_ref().map(|r| r.id),
    );
    let already = db.transaction(move |c| -> Result<bool, BookingError> {
        let resident_id = match existing_id {
            Some(id) => id,
            None => insert_resident(c, &who_owned, &hash_owned, now)?,
        };
        let doses = vaccination::list_for_resident(c, ResidentId(resident_id))?;
        let entry = waiting::WaitingEntry {
            id: new_id(),
            town_id: town.0,
            resident_id,
            dose_number: doses.len() as i32 + 1,
            status: "waiting".into(),
            created_at: now,
            priority: 0,
        };
        // A savepoint, so that "already waiting" does not abort the transaction on PostgreSQL.
        match c.transaction(|c| waiting::insert(c, &entry)) {
            Ok(()) => {
                audit::record_in_town(
                    c,
                    now,
                    &who_owned.id_number.masked(),
                    "waiting.join",
                    &format!("town {} dose {}", town.0, entry.dose_number),
                    town.0,
                )?;
                Ok(false)
            }
            Err(e) if crate::db::is_unique_violation(&e) => Ok(true),
            Err(e) => Err(e.into()),
        }
    })?;
    let mut conn = db.read.get()?;
    let resident_id = match existing {
        Some(r) => r.id,
        None => {
            resident::find_by_hash(&mut conn, &id_hash)?
                .ok_or(BookingError::NotFound)?
                .id
        }
    };
    let position = waiting::position(&mut conn, town, resident_id)?.unwrap_or(1);
    Ok(Waiting { position, already })
}
