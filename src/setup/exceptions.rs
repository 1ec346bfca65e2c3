//! Exceptions to a site's template: closing (part of) a day or changing its seats. The booked
//! appointments that no longer fit are cancelled in the same transaction, each resident is sent
//! the cancellation through the mail outbox, and the audit log records it.

use chrono::{Duration, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use super::error::SetupError;
use super::publish::{publish_site, PublishReport};
use crate::db::{AnyConnection, Db};
use crate::domain::city::{hm, ExceptionSeats, Window};
use crate::domain::days::local_to_utc;
use crate::domain::IdNumber;
use crate::ids::{new_id, AppointmentId, ProductId, SiteId, SlotId};
use crate::models::appointment::{self, AppointmentStatus};
use crate::models::exception::{self, SiteException};
use crate::models::{audit, site, slot, stock, Slot};
use std::collections::BTreeMap;

/// What an exception does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionKind {
    /// No slots in the window.
    Closed,
    /// This many seats per slot in the window.
    Seats(ExceptionSeats),
}

/// A valid exception: a day from today on, within a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionInput {
    pub day: NaiveDate,
    pub kind: ExceptionKind,
    pub window: Window,
    pub reason: String,
    /// How many affected appointments the admin saw and confirmed.
    pub confirmed: Option<usize>,
}

/// An appointment an exception would cancel, as the admin sees it (masked ID number only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    pub appointment_id: i64,
    pub code: String,
    pub masked_id: String,
    pub slot_id: i64,
    pub site_id: i64,
    pub product_id: i64,
    pub starts_at: NaiveDateTime,
    pub dose_number: i32,
    pub checked_in: bool,
}

/// The site's existing slots inside the exception's window.
fn slots_in_window(
    c: &mut AnyConnection,
    site_id: SiteId,
    e: &ExceptionInput,
    tz: Tz,
) -> Result<Vec<Slot>, SetupError> {
    let from = local_to_utc(tz, e.day, 0).unwrap_or_else(|| e.day.and_time(Default::default()));
    let to = from + Duration::hours(26);
    let lo = local_to_utc(tz, e.day, e.window.starts()).unwrap_or(from);
    let hi = local_to_utc(tz, e.day, e.window.ends()).unwrap_or(to);
    Ok(
        slot::list_for_site_between(c, site_id, from - Duration::hours(2), to)?
            .into_iter()
            .filter(|s| tz.from_utc_datetime(&s.starts_at).date_naive() == e.day)
            .filter(|s| s.starts_at < hi && lo < s.ends_at)
            .collect(),
    )
}

/// Who an exception would affect: every active appointment in a closed window; in a window with
/// fewer seats, the most recently booked beyond the new number in each slot.
pub fn affected_by(
    c: &mut AnyConnection,
    site_id: SiteId,
    e: &ExceptionInput,
    tz: Tz,
) -> Result<Vec<Affected>, SetupError> {
    let mut out = Vec::new();
    for s in slots_in_window(c, site_id, e, tz)? {
        let active = appointment::list_active_in_slot(c, SlotId(s.id))?;
        let keep = match e.kind {
            ExceptionKind::Closed => 0,
            ExceptionKind::Seats(n) => usize::try_from(n.get()).unwrap_or(0),
        };
        for (id, code, last4, dose, status) in active.into_iter().skip(keep) {
            out.push(Affected {
                appointment_id: id,
                code,
                masked_id: IdNumber::mask_stored(&last4),
                slot_id: s.id,
                site_id: s.site_id,
                product_id: s.product_id,
                starts_at: s.starts_at,
                dose_number: dose,
                checked_in: status == AppointmentStatus::CheckedIn.as_str(),
            });
        }
    }
    Ok(out)
}

/// What applying an exception did, or why it waits.
#[derive(Debug, Clone)]
pub enum ExceptionOutcome {
    /// Appointments would be cancelled: the admin must see them and confirm.
    NeedsConfirmation(Vec<Affected>),
    /// Recorded: appointments cancelled and slots changed.
    Applied {
        cancelled: usize,
        report: PublishReport,
    },
}

/// Record an exception. When booked appointments fall inside, nothing changes until the admin
/// confirms having seen exactly that many; then, in one transaction, they are cancelled (seats
/// and promised doses released, locks taken appointment -> slots by id -> stock by key), the
/// slots in the window are closed or given their new seats (never below what stays booked), the
/// template is re-published, and each resident's notice is recorded in the audit log.
pub fn apply_exception(
    db: &Db,
    site_id: i64,
    input: ExceptionInput,
    tz: Tz,
    actor: &str,
    now: NaiveDateTime,
) -> Result<ExceptionOutcome, SetupError> {
    let actor = actor.to_string();
    db.transaction(move |c| {
        let s = site::find(c, SiteId(site_id))?.ok_or(SetupError::NotFound)?;
        let affected = affected_by(c, SiteId(site_id), &input, tz)?;
        if affected.iter().any(|a| a.checked_in) {
            return Err(SetupError::Refused("err.setup.checked_in"));
        }
        if !affected.is_empty() && input.confirmed != Some(affected.len()) {
            return Ok(ExceptionOutcome::NeedsConfirmation(affected));
        }
        let (kind, seats) = match input.kind {
            ExceptionKind::Closed => ("closed", None),
            ExceptionKind::Seats(n) => ("seats", Some(n.get())),
        };
        exception::insert(
            c,
            &SiteException {
                id: new_id(),
                site_id,
                day: input.day,
                kind: kind.into(),
                starts: input.window.starts(),
                ends: input.window.ends(),
                seats,
                reason: input.reason.clone(),
                created_by: actor.clone(),
                created_at: now,
            },
        )?;
        let (cancelled, promised) = cancel_all(c, &affected, now)?;
        let window = format!("{} {}-{}", input.day, hm(input.window.starts()), hm(input.window.ends()));
        for a in &affected {
            // The resident is told by mail (the cancellation message links to booking again).
            let appt = crate::models::appointment::find(c, crate::ids::AppointmentId(a.appointment_id))?;
            if let Some(r) = appt.map(|x| x.resident_id).map(|id| crate::models::resident::find(c, crate::ids::ResidentId(id))).transpose()?.flatten() {
                crate::mail::outbox::enqueue(c, crate::mail::outbox::Kind::Cancelled, a.appointment_id, &r.email, &r.lang, None, now)?;
            }
            audit::record(
                c,
                now,
                &actor,
                "notify.queued",
                &format!("appointment {}", a.code),
                &format!(
                    "cancelled by an exception at {} ({window}: {}); the resident is mailed and may book another slot",
                    s.name, input.reason
                ),
            )?;
        }
        if let ExceptionKind::Seats(n) = input.kind {
            for sl in slots_in_window(c, SiteId(site_id), &input, tz)? {
                if sl.starts_at > now && !slot::set_seats(c, SlotId(sl.id), n.get())? {
                    return Err(SetupError::Refused("err.setup.seats_below_booked"));
                }
            }
        }
        let report = publish_site(c, SiteId(site_id), tz, now)?;
        // Slots of sites without a template are closed here directly.
        if input.kind == ExceptionKind::Closed {
            for sl in slots_in_window(c, SiteId(site_id), &input, tz)? {
                if sl.starts_at > now && sl.seats > 0 {
                    slot::withdraw_unbooked(c, SlotId(sl.id))?;
                }
            }
        }
        // Stock rows last, after every slot this transaction touches: the global lock order.
        unpromise_all(c, promised)?;
        audit::record(
            c,
            now,
            &actor,
            "sites.exception",
            &format!("site {site_id}"),
            &format!(
                "{kind} {window}{}: {}; {} appointments cancelled; {}",
                seats.map(|n| format!(" to {n} seats")).unwrap_or_default(),
                input.reason,
                affected.len(),
                report.summary()
            ),
        )?;
        Ok(ExceptionOutcome::Applied { cancelled, report })
    })
}

/// Doses promised per (site, product), to withdraw.
type Promised = BTreeMap<(i64, i64), i32>;

/// Cancel appointments in lock order (appointments by id, then slots by id) and return the
/// promised doses to withdraw: the caller does that last, after any other slot it changes.
fn cancel_all(
    c: &mut AnyConnection,
    affected: &[Affected],
    now: NaiveDateTime,
) -> Result<(usize, Promised), SetupError> {
    let mut ids: Vec<&Affected> = affected.iter().collect();
    ids.sort_by_key(|a| a.appointment_id);
    let mut seats: BTreeMap<i64, (i32, i32)> = BTreeMap::new();
    let mut promised: BTreeMap<(i64, i64), i32> = BTreeMap::new();
    let mut n = 0;
    for a in ids {
        if appointment::transition(
            c,
            AppointmentId(a.appointment_id),
            AppointmentStatus::Booked,
            AppointmentStatus::Cancelled,
            now,
        )? {
            n += 1;
            let e = seats.entry(a.slot_id).or_default();
            if a.dose_number == 1 {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
            *promised.entry((a.site_id, a.product_id)).or_default() += 1;
        }
    }
    for (slot_id, (first, later)) in seats {
        for _ in 0..first {
            slot::release_seat(c, SlotId(slot_id), true)?;
        }
        for _ in 0..later {
            slot::release_seat(c, SlotId(slot_id), false)?;
        }
    }
    Ok((n, promised))
}

/// Withdraw the promised doses of cancelled appointments, in key order.
fn unpromise_all(c: &mut AnyConnection, promised: Promised) -> Result<(), SetupError> {
    for ((site_id, product_id), k) in promised {
        for _ in 0..k {
            stock::unpromise_dose(c, SiteId(site_id), ProductId(product_id))?;
        }
    }
    Ok(())
}
