//! Exceptions to a site's template: closing (part of) a day or changing its seats. The booked
//! appointments that no longer fit are moved to the nearest equivalent seat
//! (`booking::relocate`), or cancelled and put first on their town's waiting list when there is
//! none, in the same transaction that frees their seats; each resident is mailed the reason and
//! the new time (or the cancellation) through the outbox, and the audit log records each change.
//! The admin sees the plan first and confirms it; a plan that changed before the confirmation
//! arrives is shown again, not applied.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::error::SetupError;
use super::publish::{publish_site, PublishReport};
use crate::booking::relocate::{self, Displaced, Planned};
use crate::booking::{BookingError, Rules};
use crate::db::{AnyConnection, Db};
use crate::domain::city::{hm, ExceptionSeats, Window};
use crate::domain::days::{local_day, local_to_utc};
use crate::domain::IdNumber;
use crate::ids::{new_id, SiteId, SlotId, TownId};
use crate::models::appointment::{self, AppointmentStatus};
use crate::models::exception::{self, SiteException};
use crate::models::exception_move::{self, ExceptionMove};
use crate::models::outbox::{self, Kind};
use crate::models::{audit, resident, site, slot, waiting, Resident, Site, Slot};
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
    /// The plan the admin saw and confirmed (its [`relocate::fingerprint`]).
    pub confirmed: Option<String>,
}

/// An appointment an exception displaces, as the admin sees it (masked ID number only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    pub appointment_id: i64,
    pub resident_id: i64,
    pub code: String,
    pub masked_id: String,
    pub slot_id: i64,
    pub site_id: i64,
    pub product_id: i64,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub dose_number: i32,
    pub checked_in: bool,
}

impl Affected {
    fn displaced(&self) -> Displaced {
        Displaced {
            appointment_id: self.appointment_id,
            resident_id: self.resident_id,
            slot_id: self.slot_id,
            site_id: self.site_id,
            product_id: self.product_id,
            starts_at: self.starts_at,
            dose_number: self.dose_number,
        }
    }
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
            .filter(|s| local_day(tz, s.starts_at) == e.day)
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
    let slots = slots_in_window(c, site_id, e, tz)?;
    let ids: Vec<i64> = slots.iter().map(|s| s.id).collect();
    let active = appointment::list_active_in_slots(c, &ids)?;
    let keep = match e.kind {
        ExceptionKind::Closed => 0,
        ExceptionKind::Seats(n) => usize::try_from(n.get()).unwrap_or(0),
    };
    for s in slots {
        for a in active.iter().filter(|a| a.slot_id == s.id).skip(keep) {
            out.push(Affected {
                appointment_id: a.id,
                resident_id: a.resident_id,
                code: a.code.clone(),
                masked_id: IdNumber::mask_stored(&a.id_last4),
                slot_id: s.id,
                site_id: s.site_id,
                product_id: s.product_id,
                starts_at: s.starts_at,
                ends_at: s.ends_at,
                dose_number: a.dose_number,
                checked_in: a.status == AppointmentStatus::CheckedIn.as_str(),
            });
        }
    }
    Ok(out)
}

/// Where a displaced booking would go: a slot (and its site's names), or nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub slot_id: i64,
    pub site_id: i64,
    pub site_name: String,
    pub site_name_en: Option<String>,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
}

impl crate::models::LocalName for Target {
    fn local_name(&self, lang: crate::i18n::Lang) -> &str {
        crate::models::in_lang(lang, &self.site_name, self.site_name_en.as_deref())
    }
}

/// What confirming an exception would do: each displaced booking and where it goes (`None`:
/// cancelled, first on the waiting list), and the plan's fingerprint for the confirmation.
#[derive(Debug, Clone)]
pub struct Preview {
    pub rows: Vec<(Affected, Option<Target>)>,
    pub token: String,
    /// The admin confirmed another plan: bookings or seats changed since it was shown.
    pub changed: bool,
}

impl Preview {
    /// How many would be moved.
    pub fn moved(&self) -> usize {
        self.rows.iter().filter(|(_, t)| t.is_some()).count()
    }
}

/// What applying an exception did, or why it waits.
#[derive(Debug, Clone)]
pub enum ExceptionOutcome {
    /// Appointments would be displaced: the admin must see the plan and confirm it.
    NeedsConfirmation(Preview),
    /// Recorded: appointments moved or cancelled and slots changed.
    Applied {
        moved: usize,
        cancelled: usize,
        report: PublishReport,
    },
}

/// The refusal when a confirmed plan could not be carried out as computed (a booking or a seat
/// changed under it): nothing is kept, and the handler shows the plan as it is now.
pub const PLAN_CHANGED: &str = "err.setup.plan_changed";

fn plan_changed(e: BookingError) -> SetupError {
    match e {
        BookingError::Storage(s) => SetupError::Storage(s),
        _ => SetupError::Refused(PLAN_CHANGED),
    }
}

/// The seats each existing future slot of the window has after the exception (0: closed).
fn seats_after(
    c: &mut AnyConnection,
    site_id: SiteId,
    e: &ExceptionInput,
    tz: Tz,
    now: NaiveDateTime,
) -> Result<BTreeMap<i64, i32>, SetupError> {
    let seats = match e.kind {
        ExceptionKind::Closed => 0,
        ExceptionKind::Seats(n) => n.get(),
    };
    Ok(slots_in_window(c, site_id, e, tz)?
        .into_iter()
        .filter(|s| s.starts_at > now)
        .map(|s| (s.id, seats))
        .collect())
}

/// The admin's view of a plan: each affected booking with its target's site name.
fn preview(
    c: &mut AnyConnection,
    affected: Vec<Affected>,
    plan: &[Planned],
    token: String,
    changed: bool,
) -> Result<Preview, SetupError> {
    let mut names: BTreeMap<i64, (String, Option<String>)> = BTreeMap::new();
    let mut rows = Vec::with_capacity(affected.len());
    for (a, p) in affected.into_iter().zip(plan) {
        let target = match &p.to {
            Some(to) => {
                if let std::collections::btree_map::Entry::Vacant(e) = names.entry(to.site_id) {
                    let name = site::find(c, SiteId(to.site_id))?.map(|s| (s.name, s.name_en));
                    e.insert(name.unwrap_or_default());
                }
                let (site_name, site_name_en) = names[&to.site_id].clone();
                Some(Target {
                    slot_id: to.id,
                    site_id: to.site_id,
                    site_name,
                    site_name_en,
                    starts_at: to.starts_at,
                    ends_at: to.ends_at,
                })
            }
            None => None,
        };
        rows.push((a, target));
    }
    Ok(Preview {
        rows,
        token,
        changed,
    })
}

/// Record an exception. When booked appointments fall inside, nothing changes until the admin
/// confirms the plan they saw (who moves where, who is cancelled); then, in one transaction,
/// that plan is carried out (`booking::relocate::carry_out`: appointments by id, seats slot by
/// slot in id order), each displaced booking is written to `exception_moves`, mailed and
/// audited (a cancelled one also goes first on its town's waiting list), the slots in the window
/// are closed or given their new seats (never below what stays booked), the template is
/// re-published, and the promised doses are moved last (stock rows in key order).
pub fn apply_exception(
    db: &Db,
    site_id: i64,
    input: ExceptionInput,
    rules: Rules,
    actor: &str,
) -> Result<ExceptionOutcome, SetupError> {
    let actor = actor.to_string();
    let (tz, now) = (rules.tz, rules.now);
    db.transaction(move |c| {
        let s = site::find(c, SiteId(site_id))?.ok_or(SetupError::NotFound)?;
        let affected = affected_by(c, SiteId(site_id), &input, tz)?;
        if affected.iter().any(|a| a.checked_in) {
            return Err(SetupError::Refused("err.setup.checked_in"));
        }
        let displaced: Vec<Displaced> = affected.iter().map(Affected::displaced).collect();
        let seats = seats_after(c, SiteId(site_id), &input, tz, now)?;
        let plan = relocate::plan(c, rules, &displaced, &seats).map_err(plan_changed)?;
        let token = relocate::fingerprint(&plan);
        if !affected.is_empty() && input.confirmed.as_deref() != Some(token.as_str()) {
            let changed = input.confirmed.as_deref().is_some_and(|t| !t.is_empty());
            let p = preview(c, affected, &plan, token, changed)?;
            return Ok(ExceptionOutcome::NeedsConfirmation(p));
        }
        let (kind, seats) = match input.kind {
            ExceptionKind::Closed => ("closed", None),
            ExceptionKind::Seats(n) => ("seats", Some(n.get())),
        };
        let exc = SiteException {
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
        };
        exception::insert(c, &exc)?;
        let promises = relocate::carry_out(c, rules, &displaced, &plan).map_err(plan_changed)?;
        let window = format!(
            "{} {}-{}",
            input.day,
            hm(input.window.starts()),
            hm(input.window.ends())
        );
        let ids: Vec<i64> = affected.iter().map(|a| a.resident_id).collect();
        let residents = resident::list_by_ids(c, &ids)?;
        for (a, p) in affected.iter().zip(&plan) {
            let r = residents.iter().find(|r| r.id == a.resident_id);
            record_displaced(c, (&exc, &s), (a, r), p.to.as_ref(), &window)?;
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
        relocate::apply_promises(c, &promises).map_err(plan_changed)?;
        let moved = plan.iter().filter(|p| p.to.is_some()).count();
        let cancelled = plan.len() - moved;
        audit::record(
            c,
            now,
            &actor,
            "sites.exception",
            &format!("site {site_id}"),
            &format!(
                "{kind} {window}{}: {}; {moved} appointments moved, {cancelled} cancelled; {}",
                seats.map(|n| format!(" to {n} seats")).unwrap_or_default(),
                input.reason,
                report.summary()
            ),
        )?;
        Ok(ExceptionOutcome::Applied {
            moved,
            cancelled,
            report,
        })
    })
}

/// The actor of the audit rows of what the system does to a displaced booking.
pub const SYSTEM: &str = "system";

/// Write what happened to one displaced booking: its `exception_moves` row, the resident's mail
/// (rendered from that row: the reason, the new time or the cancellation), the audit rows, and
/// for a cancelled one the first place on its town's waiting list.
fn record_displaced(
    c: &mut AnyConnection,
    (exc, s): (&SiteException, &Site),
    (a, r): (&Affected, Option<&Resident>),
    to: Option<&Slot>,
    window: &str,
) -> Result<(), SetupError> {
    let now = exc.created_at;
    let row = ExceptionMove {
        id: new_id(),
        exception_id: exc.id,
        appointment_id: a.appointment_id,
        from_slot_id: a.slot_id,
        from_site_id: a.site_id,
        from_starts_at: a.starts_at,
        from_ends_at: a.ends_at,
        to_slot_id: to.map(|t| t.id),
        created_at: now,
    };
    exception_move::insert(c, &row)?;
    if let Some(r) = r {
        outbox::enqueue(c, Kind::Relocated, row.id, &r.email, &r.lang, None, now)?;
    }
    let because = format!(
        "exception at {} ({window}: {}) by {}",
        s.name, exc.reason, exc.created_by
    );
    let subject = format!("appointment {}", a.appointment_id);
    match to {
        Some(t) => audit::record_at_site(
            c,
            now,
            audit::Entry {
                actor: SYSTEM,
                action: "appointment.move",
                subject: &subject,
                detail: &format!(
                    "{because}: slot {} -> slot {} (site {})",
                    a.slot_id, t.id, t.site_id
                ),
            },
            t.site_id,
        )?,
        None => {
            audit::record_at_site(
                c,
                now,
                audit::Entry {
                    actor: SYSTEM,
                    action: "appointment.cancel",
                    subject: &subject,
                    detail: &format!("{because}: no equivalent seat; first on the waiting list"),
                },
                a.site_id,
            )?;
            if let Some(r) = r {
                waiting::put_first(c, TownId(s.town_id), r.id, a.dose_number, now)?;
                audit::record_in_town(
                    c,
                    now,
                    SYSTEM,
                    "waiting.join",
                    &format!(
                        "town {} dose {} first in line ({})",
                        s.town_id, a.dose_number, a.masked_id
                    ),
                    s.town_id,
                )?;
            }
        }
    }
    audit::record(
        c,
        now,
        SYSTEM,
        "notify.queued",
        &format!("appointment {}", a.code),
        &format!(
            "{} by an exception at {} ({window}: {}); the resident is mailed the reason",
            if to.is_some() { "moved" } else { "cancelled" },
            s.name,
            exc.reason
        ),
    )?;
    Ok(())
}
