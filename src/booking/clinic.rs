//! The clinic desk's transactions: check in (identity and screening, or deferral), record a
//! dose, take a walk-in, mark no-shows, record wastage and adverse reactions.
//!
//! They keep the booking invariants the same way `booking` does (see its module doc): rules are
//! read before the write transaction; inside it a conditional UPDATE decides every race (an
//! appointment moves from one status to the next at most once, a seat or a promised dose is
//! taken only while one is free, doses leave stock only while enough remain unpromised); the
//! UNIQUE and CHECK constraints are the backstop; rows are locked in the order appointment ->
//! slots by id -> stock rows. Every change names the staff member and writes its audit entry in
//! the same transaction.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::{retrying_collisions, BookingError, ResidentDetails, Rules};
use crate::db::{is_unique_violation, AnyConnection, Db, StorageError};
use crate::domain::clinic::{Note, ScreeningAnswers, ScreeningOutcome, Severity, WasteKind};
use crate::domain::days::{day_bounds, local_day, utc_of_local};
use crate::domain::eligibility::{self, Refusal};
use crate::domain::BookingCode;
use crate::i18n::Keyed;
use crate::ids::{new_id, AppointmentId, ProductId, ResidentId, SiteId, SlotId};
use crate::models::adverse_event::{self, AdverseEvent};
use crate::models::appointment::{self, AppointmentStatus};
use crate::models::screening::{self, Screening};
use crate::models::stock::{self, Movement};
use crate::models::sync_action::{self, SyncAction};
use crate::models::{
    audit, lot, product, resident, slot, vaccination, Appointment, NewVaccination,
};
use crate::security::Keys;

/// The staff member acting, and the sites they may act for.
#[derive(Debug, Clone)]
pub struct Staff {
    pub user_id: i64,
    pub username: String,
    /// The site a clinic user is bound to.
    pub site_id: Option<i64>,
    /// Admins may act for any site.
    pub any_site: bool,
}

impl Staff {
    /// Whether this person may act for `site`.
    pub fn may_act_for(&self, site: i64) -> bool {
        self.any_site || self.site_id == Some(site)
    }
}

/// Who is acting, when, and the settings the desk's rules use.
#[derive(Debug, Clone)]
pub struct Desk {
    pub staff: Staff,
    pub now: NaiveDateTime,
    pub tz: Tz,
    pub release_hours: i64,
    pub observation_minutes: i64,
    /// The idempotency key of an action queued offline, stored with the action.
    pub sync: Option<SyncKey>,
}

/// An offline action's idempotency key (`POST /clinic/sync`): written as accepted in the
/// transaction that carries the action out, so a repeat of the key finds it and records nothing.
#[derive(Debug, Clone)]
pub struct SyncKey {
    pub key: String,
    pub site: i64,
    pub kind: &'static str,
}

impl Desk {
    /// The city's date of a UTC instant.
    pub fn day_of(&self, at: NaiveDateTime) -> NaiveDate {
        local_day(self.tz, at)
    }

    /// Today in the city.
    pub fn today(&self) -> NaiveDate {
        self.day_of(self.now)
    }

    /// The UTC range `[start, end)` of today in the city.
    pub fn today_bounds(&self) -> (NaiveDateTime, NaiveDateTime) {
        day_bounds(self.tz, self.today())
    }

    /// A clock time typed today, as a UTC instant.
    pub fn today_at(&self, t: chrono::NaiveTime) -> NaiveDateTime {
        let local = self.today().and_time(t);
        utc_of_local(self.tz, local).unwrap_or(local)
    }

    /// A time typed at the desk for something done earlier (a late record): refused when it is
    /// in the future or not today.
    pub fn earlier_today(&self, at: NaiveDateTime) -> Result<NaiveDateTime, ClinicError> {
        if at > self.now {
            return Err(ClinicError::TimeInFuture);
        }
        if self.day_of(at) != self.today() {
            return Err(ClinicError::WrongDay);
        }
        Ok(at)
    }

    /// The audit entry of a change made in transaction `c`, and the sync key it answers, if any.
    fn audit(
        &self,
        c: &mut AnyConnection,
        action: &str,
        subject: &str,
        detail: &str,
    ) -> diesel::QueryResult<()> {
        audit::record(c, self.now, &self.staff.username, action, subject, detail)?;
        match &self.sync {
            Some(k) => sync_action::insert(
                c,
                &SyncAction {
                    user_id: self.staff.user_id,
                    idempotency_key: k.key.clone(),
                    site_id: k.site,
                    kind: k.kind.into(),
                    outcome: ACCEPTED.into(),
                    reason: String::new(),
                    created_at: self.now,
                },
            ),
            None => Ok(()),
        }
    }

    fn rules(&self) -> Rules {
        Rules {
            now: self.now,
            release_hours: self.release_hours,
            tz: self.tz,
        }
    }

    fn site(&self, site: i64) -> Result<(), ClinicError> {
        if self.staff.may_act_for(site) {
            Ok(())
        } else {
            Err(ClinicError::WrongSite)
        }
    }
}

/// The stored outcome of an accepted offline action.
pub const ACCEPTED: &str = "accepted";
/// The stored outcome of a refused one.
pub const REFUSED: &str = "refused";

/// Why the desk refused an action. Each has a catalogue key; `web::clinic` adds the status.
#[derive(Debug, thiserror::Error)]
pub enum ClinicError {
    #[error("not found")]
    NotFound,
    #[error("no appointment has this code")]
    UnknownCode,
    #[error("the appointment is at another site")]
    WrongSite,
    #[error("the appointment is not for today")]
    WrongDay,
    #[error("the appointment was cancelled or is no longer active")]
    NotActive,
    #[error("the resident was deferred at screening")]
    Deferred,
    #[error("already checked in")]
    AlreadyCheckedIn,
    #[error("not checked in yet")]
    NotCheckedIn,
    #[error("the dose for this appointment is already recorded")]
    AlreadyVaccinated,
    #[error("the last four characters do not match")]
    IdMismatch,
    #[error("the lot is not in stock at this site")]
    LotUnavailable,
    #[error("the lot has expired")]
    LotExpired,
    #[error("this dose number is already recorded for the resident")]
    DoseGiven,
    #[error("the previous dose is not recorded")]
    PreviousDoseMissing,
    #[error("too early for this dose: it can be given from {opens} ({days} days)")]
    TooEarly { opens: NaiveDate, days: i32 },
    #[error("later doses must be of the product given first")]
    WrongProduct,
    #[error("the product's series has fewer doses")]
    NotInSeries,
    #[error("the resident has completed the series")]
    SeriesComplete,
    #[error("the resident's age is outside the product's range")]
    AgeOutOfRange,
    #[error("no slot is running now")]
    NoCurrentSlot,
    #[error("the slot is full")]
    SlotFull,
    #[error("no unpromised dose left")]
    NoStock,
    #[error("the resident already holds an appointment for this dose")]
    AlreadyBooked,
    #[error("that would leave fewer doses than are promised")]
    WouldUnbackPromises,
    #[error("the lot holds fewer doses at this site")]
    NotEnoughInLot,
    #[error("the time is in the future")]
    TimeInFuture,
    #[error("the time is before the dose was given")]
    TimeBeforeDose,
    #[error("the slot has not ended yet")]
    SlotNotOver,
    /// The database failed; not the request's fault.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

crate::db::storage_error_from!(ClinicError);

impl Keyed for ClinicError {
    /// The catalogue key of the message shown at the desk.
    fn key(&self) -> &'static str {
        match self {
            ClinicError::NotFound => "err.not_found",
            ClinicError::UnknownCode => "checkin.unknown",
            ClinicError::WrongSite => "checkin.wrong_site",
            ClinicError::WrongDay => "checkin.wrong_day",
            ClinicError::NotActive => "checkin.not_active",
            ClinicError::Deferred => "checkin.deferred",
            ClinicError::AlreadyCheckedIn => "clinic.err.already_checked_in",
            ClinicError::NotCheckedIn => "clinic.err.not_checked_in",
            ClinicError::AlreadyVaccinated => "clinic.err.already_vaccinated",
            ClinicError::IdMismatch => "clinic.err.id_mismatch",
            ClinicError::LotUnavailable => "clinic.err.lot_unavailable",
            ClinicError::LotExpired => "clinic.err.lot_expired",
            ClinicError::DoseGiven => "clinic.err.dose_given",
            ClinicError::PreviousDoseMissing => "clinic.err.previous_dose_missing",
            ClinicError::TooEarly { .. } => "clinic.err.too_early",
            ClinicError::WrongProduct => "clinic.err.wrong_product",
            ClinicError::NotInSeries => "clinic.err.not_in_series",
            ClinicError::SeriesComplete => "clinic.err.series_complete",
            ClinicError::AgeOutOfRange => "err.book.age",
            ClinicError::NoCurrentSlot => "clinic.err.no_current_slot",
            ClinicError::SlotFull => "clinic.err.slot_full",
            ClinicError::NoStock => "clinic.err.no_stock",
            ClinicError::AlreadyBooked => "clinic.err.already_booked",
            ClinicError::WouldUnbackPromises => "clinic.err.would_unback",
            ClinicError::NotEnoughInLot => "clinic.err.not_enough_in_lot",
            ClinicError::TimeInFuture => "clinic.err.time_future",
            ClinicError::TimeBeforeDose => "clinic.err.time_before_dose",
            ClinicError::SlotNotOver => "clinic.err.slot_not_over",
            ClinicError::Storage(_) => "err.internal",
        }
    }
}

impl ClinicError {
    /// Whether this is the system's fault rather than the request's.
    pub fn is_internal(&self) -> bool {
        matches!(self, ClinicError::Storage(_))
    }
}

impl From<Refusal> for ClinicError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotInSeries => ClinicError::NotInSeries,
            Refusal::AlreadyGiven => ClinicError::DoseGiven,
            Refusal::PreviousDoseMissing => ClinicError::PreviousDoseMissing,
            Refusal::WrongProduct => ClinicError::WrongProduct,
            Refusal::TooEarly { opens, min_days } => ClinicError::TooEarly {
                opens,
                days: min_days,
            },
            Refusal::TooYoung | Refusal::TooOld => ClinicError::AgeOutOfRange,
        }
    }
}

impl From<BookingError> for ClinicError {
    fn from(e: BookingError) -> Self {
        match e {
            BookingError::Storage(e) => ClinicError::Storage(e),
            BookingError::SlotFull => ClinicError::SlotFull,
            BookingError::NoStock => ClinicError::NoStock,
            BookingError::AlreadyBooked => ClinicError::AlreadyBooked,
            BookingError::AlreadyVaccinated => ClinicError::DoseGiven,
            BookingError::PreviousDoseMissing => ClinicError::PreviousDoseMissing,
            BookingError::WrongProduct => ClinicError::WrongProduct,
            BookingError::NotInSeries => ClinicError::NotInSeries,
            BookingError::AgeOutOfRange => ClinicError::AgeOutOfRange,
            BookingError::NotActive => ClinicError::NotActive,
            _ => ClinicError::NotFound,
        }
    }
}

/// Whether the desk may deal with this appointment now: its site, an active status and today.
/// `CheckedIn` is allowed (the dose comes next); anything else explains itself.
pub fn admit(desk: &Desk, a: &Appointment) -> Result<(), ClinicError> {
    desk.site(a.site_id)?;
    match a.status() {
        AppointmentStatus::Booked | AppointmentStatus::CheckedIn => {}
        AppointmentStatus::Vaccinated => return Err(ClinicError::AlreadyVaccinated),
        AppointmentStatus::Cancelled | AppointmentStatus::NoShow => {
            return Err(ClinicError::NotActive)
        }
        AppointmentStatus::Deferred => return Err(ClinicError::Deferred),
    }
    if desk.day_of(a.starts_at) != desk.today() {
        return Err(ClinicError::WrongDay);
    }
    Ok(())
}

/// The appointment with this booking code.
pub fn find_code(db: &Db, code: &BookingCode) -> Result<Appointment, ClinicError> {
    let mut conn = db.read.get()?;
    appointment::find_by_code(&mut conn, code.as_str())?.ok_or(ClinicError::UnknownCode)
}

/// A check-in: the booking code, the last four characters staff read off the ID card, the
/// screening answers and the outcome they led to.
#[derive(Debug, Clone)]
pub struct CheckIn {
    pub code: BookingCode,
    pub last4: String,
    pub answers: ScreeningAnswers,
    pub outcome: ScreeningOutcome,
    /// When the resident was seen (now, or earlier today for a late record).
    pub at: NaiveDateTime,
}

/// Check a resident in (or defer them): the identity is confirmed against the stored last four
/// characters, the screening is stored, and the appointment moves on once. A deferral gives the
/// promised dose back (the seat is not reused: the slot is under way).
pub fn check_in(db: &Db, desk: &Desk, cmd: CheckIn) -> Result<ScreeningOutcome, ClinicError> {
    let at = desk.earlier_today(cmd.at)?;
    let a = {
        let a = find_code(db, &cmd.code)?;
        let mut conn = db.read.get()?;
        admit(desk, &a)?;
        if a.status() == AppointmentStatus::CheckedIn {
            return Err(ClinicError::AlreadyCheckedIn);
        }
        let r =
            resident::find(&mut conn, ResidentId(a.resident_id))?.ok_or(ClinicError::NotFound)?;
        if !crate::security::constant_time_eq(&r.id_last4.to_ascii_uppercase(), &cmd.last4) {
            return Err(ClinicError::IdMismatch);
        }
        a
    };
    let (now, staff) = (desk.now, desk.staff.clone());
    let outcome = cmd.outcome.clone();
    let d = desk.clone();
    db.transaction(move |c| {
        let id = AppointmentId(a.id);
        let (action, reason) = match &outcome {
            ScreeningOutcome::Cleared => {
                if !appointment::check_in(c, id, at, now)? {
                    return Err(ClinicError::NotActive);
                }
                ("check-in", String::new())
            }
            ScreeningOutcome::Deferred(reason) => {
                if !appointment::transition(
                    c,
                    id,
                    AppointmentStatus::Booked,
                    AppointmentStatus::Deferred,
                    now,
                )? {
                    return Err(ClinicError::NotActive);
                }
                stock::unpromise_dose(c, SiteId(a.site_id), ProductId(a.product_id))?;
                ("defer", reason.as_str().to_string())
            }
        };
        screening::insert(
            c,
            &Screening {
                id: new_id(),
                appointment_id: a.id,
                fever: cmd.answers.fever,
                allergy: cmd.answers.allergy,
                pregnant: cmd.answers.pregnant,
                recent_vaccine: cmd.answers.recent_vaccine,
                outcome: outcome.as_str().into(),
                reason,
                staff_user_id: Some(staff.user_id),
                created_at: at,
            },
        )?;
        d.audit(
            c,
            action,
            &format!("appointment {}", a.id),
            &format!("screening {}", outcome.as_str()),
        )?;
        Ok(())
    })?;
    Ok(cmd.outcome)
}

/// A dose to record for a checked-in appointment.
#[derive(Debug, Clone)]
pub struct GiveDose {
    pub appointment: AppointmentId,
    pub lot: String,
    pub dose_number: i32,
    pub given_at: NaiveDateTime,
}

/// Record a dose: the vaccination, the appointment marked vaccinated, and one dose of the lot out
/// of the site's stock through the ledger, with the audit entry, in one transaction. Returns the
/// vaccination's id. Of many simultaneous requests for one appointment exactly one succeeds: the
/// conditional status change admits one, and the UNIQUE constraints on `vaccinations` back it.
pub fn record_dose(db: &Db, desk: &Desk, cmd: GiveDose) -> Result<i64, ClinicError> {
    desk.earlier_today(cmd.given_at)?;
    let a = {
        let mut conn = db.read.get()?;
        let a = appointment::find(&mut conn, cmd.appointment)?.ok_or(ClinicError::NotFound)?;
        admit(desk, &a)?;
        if a.status() != AppointmentStatus::CheckedIn {
            return Err(ClinicError::NotCheckedIn);
        }
        let p = product::find(&mut conn, ProductId(a.product_id))?.ok_or(ClinicError::NotFound)?;
        let lot = lot::find_by_number(&mut conn, ProductId(p.id), &cmd.lot)?
            .ok_or(ClinicError::LotUnavailable)?;
        if lot.expires_on < desk.day_of(cmd.given_at) {
            return Err(ClinicError::LotExpired);
        }
        if lot::site_balance(&mut conn, SiteId(a.site_id), ProductId(p.id), &cmd.lot)? <= 0 {
            return Err(ClinicError::LotUnavailable);
        }
        let doses = vaccination::list_for_resident(&mut conn, ResidentId(a.resident_id))?;
        let day = desk.day_of(cmd.given_at);
        eligibility::check_dose(&p.series(), &doses, cmd.dose_number, day, desk.tz)?;
        a
    };
    let (now, staff, minutes) = (desk.now, desk.staff.clone(), desk.observation_minutes);
    let d = desk.clone();
    db.transaction(move |c| {
        let id = AppointmentId(a.id);
        if !appointment::transition(
            c,
            id,
            AppointmentStatus::CheckedIn,
            AppointmentStatus::Vaccinated,
            now,
        )? {
            return Err(ClinicError::AlreadyVaccinated);
        }
        let vaccination_id = new_id();
        vaccination::insert(
            c,
            &NewVaccination {
                id: vaccination_id,
                resident_id: a.resident_id,
                appointment_id: Some(a.id),
                site_id: a.site_id,
                product_id: a.product_id,
                dose_number: cmd.dose_number,
                lot: cmd.lot.clone(),
                given_at: cmd.given_at,
                staff_user_id: Some(staff.user_id),
                observation_until: cmd.given_at + Duration::minutes(minutes),
            },
        )
        .map_err(|e| {
            if is_unique_violation(&e) {
                ClinicError::DoseGiven
            } else {
                e.into()
            }
        })?;
        let (site, product) = (SiteId(a.site_id), ProductId(a.product_id));
        stock::unpromise_dose(c, site, product)?;
        stock::record(
            c,
            &Movement {
                id: new_id(),
                site_id: Some(a.site_id),
                product_id: a.product_id,
                delta: -1,
                kind: "given".into(),
                reason: format!("appointment {}", a.id),
                actor: staff.username.clone(),
                lot: Some(cmd.lot.clone()),
                created_at: now,
            },
        )?;
        // The balance row is locked now, so this sum sees every committed movement of the lot.
        if lot::site_balance(c, site, product, &cmd.lot)? < 0 {
            return Err(ClinicError::LotUnavailable);
        }
        d.audit(
            c,
            "record-dose",
            &format!("appointment {}", a.id),
            &format!("dose {} lot {}", cmd.dose_number, cmd.lot),
        )?;
        Ok(vaccination_id)
    })
}

/// Register someone without an appointment into the slot running now: the same ID checks and
/// dose rules as a booking, and the seat and the promised dose are taken in one transaction.
/// The new appointment is then checked in and vaccinated like any other.
pub fn walk_in(
    db: &Db,
    keys: &Keys,
    desk: &Desk,
    slot_id: SlotId,
    who: &ResidentDetails,
) -> Result<Appointment, ClinicError> {
    let id_hash = keys.hash_id_number(&who.id_number);
    retrying_collisions(ClinicError::AlreadyBooked, || {
        try_walk_in(db, desk, slot_id, who, &id_hash)
    })
}

fn try_walk_in(
    db: &Db,
    desk: &Desk,
    slot_id: SlotId,
    who: &ResidentDetails,
    id_hash: &str,
) -> Result<Appointment, ClinicError> {
    let (sl, existing, dose) = {
        let mut conn = db.read.get()?;
        let (sl, p) =
            slot::find_with_product(&mut conn, slot_id)?.ok_or(ClinicError::NoCurrentSlot)?;
        desk.site(sl.site_id)?;
        if !(sl.starts_at <= desk.now && desk.now < sl.ends_at) {
            return Err(ClinicError::NoCurrentSlot);
        }
        let series = p.series();
        eligibility::check_age(&series, who.id_number.birth_date(), desk.today())?;
        let existing = resident::find_by_hash(&mut conn, id_hash)?;
        let doses = match &existing {
            Some(r) => vaccination::list_for_resident(&mut conn, ResidentId(r.id))?,
            None => Vec::new(),
        };
        let dose = doses.iter().map(|v| v.dose_number).max().unwrap_or(0) + 1;
        if dose > p.doses_in_series {
            return Err(ClinicError::SeriesComplete);
        }
        eligibility::check_dose(&series, &doses, dose, desk.today(), desk.tz)?;
        if let Some(r) = &existing {
            if appointment::find_active_for_dose(&mut conn, ResidentId(r.id), dose)?.is_some() {
                return Err(ClinicError::AlreadyBooked);
            }
        }
        (sl, existing.map(|r| r.id), dose)
    };
    let code = BookingCode::generate(&mut rand::rng());
    let rules = desk.rules();
    let released = sl.held_seats_released(rules.now, rules.release_hours);
    let (who, id_hash) = (who.clone(), id_hash.to_string());
    let d = desk.clone();
    db.transaction(move |c| {
        let now = rules.now;
        let resident_id = match existing {
            Some(id) => id,
            None => super::insert_resident(c, &who, &id_hash, now)?,
        };
        // No per-contact cap and no confirmation mail: the resident is at the desk.
        let seat = super::Seat::new(&code, resident_id, dose, released);
        let a = super::take_seat(c, &sl, &seat, now)?;
        d.audit(
            c,
            "walk-in",
            &format!("appointment {}", a.id),
            &format!("slot {} dose {dose}", sl.id),
        )?;
        Ok(a)
    })
}

/// Mark the still-booked appointments of today's ended slots at a site (or of one ended slot)
/// as no-shows. Their promised doses go back to stock availability; their seats stay counted,
/// since a slot that is over cannot be given away. Returns how many were marked.
pub fn mark_no_shows(
    db: &Db,
    desk: &Desk,
    site: SiteId,
    only: Option<SlotId>,
) -> Result<usize, ClinicError> {
    desk.site(site.0)?;
    let appointments = {
        let mut conn = db.read.get()?;
        let (from, to) = desk.today_bounds();
        let slots = slot::list_for_site_between(&mut conn, site, from, to)?;
        let chosen: Vec<_> = slots
            .iter()
            .filter(|s| only.is_none_or(|o| o.0 == s.id))
            .collect();
        if only.is_some() && chosen.is_empty() {
            return Err(ClinicError::NotFound);
        }
        let ended: Vec<i64> = chosen
            .iter()
            .filter(|s| s.ends_at <= desk.now)
            .map(|s| s.id)
            .collect();
        if only.is_some() && ended.is_empty() {
            return Err(ClinicError::SlotNotOver);
        }
        appointment::list_booked_in_slots(&mut conn, &ended)?
    };
    if appointments.is_empty() {
        return Ok(0);
    }
    let now = desk.now;
    let d = desk.clone();
    db.transaction(move |c| {
        // Appointments first (one UPDATE per product, counting those still booked), then each
        // stock row once: the global lock order.
        let mut per_product: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
        for a in &appointments {
            per_product.entry(a.product_id).or_default().push(a.id);
        }
        let (booked, no_show) = (AppointmentStatus::Booked, AppointmentStatus::NoShow);
        let mut released = Vec::new();
        for (product, ids) in per_product {
            let n = appointment::transition_many(c, &ids, booked, no_show, now)?;
            released.push((product, i32::try_from(n).unwrap_or(i32::MAX)));
        }
        let mut marked = 0usize;
        for (product, n) in released.into_iter().filter(|(_, n)| *n > 0) {
            stock::unpromise_doses(c, site, ProductId(product), n)?;
            marked += n as usize;
        }
        d.audit(
            c,
            "no-show",
            &format!("site {}", site.0),
            &format!("{marked} appointments"),
        )?;
        Ok(marked)
    })
}

/// Doses wasted at a site.
#[derive(Debug, Clone)]
pub struct Waste {
    pub site: SiteId,
    pub product: ProductId,
    pub lot: String,
    pub doses: i32,
    pub kind: WasteKind,
    pub reason: Note,
}

/// Record wasted doses: out of the site's stock through the ledger, refused if the site would
/// hold fewer doses than it has promised to appointments, or the lot fewer than zero.
pub fn record_wastage(db: &Db, desk: &Desk, w: Waste) -> Result<(), ClinicError> {
    desk.site(w.site.0)?;
    {
        let mut conn = db.read.get()?;
        lot::find_by_number(&mut conn, w.product, &w.lot)?.ok_or(ClinicError::LotUnavailable)?;
        if lot::site_balance(&mut conn, w.site, w.product, &w.lot)? < i64::from(w.doses) {
            return Err(ClinicError::NotEnoughInLot);
        }
    }
    let (now, staff) = (desk.now, desk.staff.clone());
    let d = desk.clone();
    db.transaction(move |c| {
        let m = Movement {
            id: new_id(),
            site_id: Some(w.site.0),
            product_id: w.product.0,
            delta: -w.doses,
            kind: "wasted".into(),
            reason: format!("{}: {}", w.kind.as_str(), w.reason.as_str()),
            actor: staff.username.clone(),
            lot: Some(w.lot.clone()),
            created_at: now,
        };
        if !stock::record_out_of_unpromised(c, &m)? {
            return Err(ClinicError::WouldUnbackPromises);
        }
        if lot::site_balance(c, w.site, w.product, &w.lot)? < 0 {
            return Err(ClinicError::NotEnoughInLot);
        }
        d.audit(
            c,
            "wastage",
            &format!("site {} product {}", w.site.0, w.product.0),
            &format!("{} doses lot {} ({})", w.doses, w.lot, w.kind.as_str()),
        )?;
        Ok(())
    })
}

/// An adverse reaction to record.
#[derive(Debug, Clone)]
pub struct Reaction {
    pub vaccination: i64,
    pub severity: Severity,
    pub symptoms: Note,
    pub action: Note,
    pub occurred_at: NaiveDateTime,
}

/// Record an adverse reaction after a dose given at the staff member's site.
pub fn record_reaction(db: &Db, desk: &Desk, r: Reaction) -> Result<(), ClinicError> {
    let v = {
        let mut conn = db.read.get()?;
        vaccination::find(&mut conn, r.vaccination)?.ok_or(ClinicError::NotFound)?
    };
    desk.site(v.site_id)?;
    if r.occurred_at > desk.now {
        return Err(ClinicError::TimeInFuture);
    }
    if r.occurred_at < v.given_at {
        return Err(ClinicError::TimeBeforeDose);
    }
    let (now, staff) = (desk.now, desk.staff.clone());
    let d = desk.clone();
    db.transaction(move |c| {
        adverse_event::insert(
            c,
            &AdverseEvent {
                id: new_id(),
                vaccination_id: v.id,
                resident_id: v.resident_id,
                site_id: v.site_id,
                severity: r.severity.as_str().into(),
                symptoms: r.symptoms.as_str().into(),
                action_taken: r.action.as_str().into(),
                occurred_at: r.occurred_at,
                recorded_by: Some(staff.user_id),
                created_at: now,
            },
        )?;
        d.audit(
            c,
            "adverse-event",
            &format!("vaccination {}", v.id),
            r.severity.as_str(),
        )?;
        Ok(())
    })
}
