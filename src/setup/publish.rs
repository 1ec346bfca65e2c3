//! Publishing slots from each site's template (`plan_slots`, pure; `publish_site`, one
//! transaction) for the days ahead, in the city's time zone, stored as UTC. Publishing again
//! never duplicates a slot, never changes a slot that has bookings, and withdraws or reshapes only
//! unbooked future slots that the template no longer describes.

use crate::domain::days::local_day;
pub use crate::domain::days::local_to_utc;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::error::SetupError;
use crate::db::{AnyConnection, Db};
use crate::ids::{new_id, SiteId, SlotId};
use crate::models::exception::{self, SiteException};
use crate::models::template::{self, SiteHours, SiteTemplate};
use crate::models::{audit, site, site_product, slot, NewSlot, Slot};
use std::collections::BTreeMap;

/// A slot the template asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedSlot {
    pub product_id: i64,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub seats: i32,
}

/// What a publishing run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Slots created.
    pub created: usize,
    /// Unbooked slots whose end or seats changed with the template.
    pub reshaped: usize,
    /// Unbooked slots the template no longer has, deleted or closed.
    pub withdrawn: usize,
    /// Booked slots the template no longer has, left as they are.
    pub kept_booked: usize,
}

impl PublishReport {
    /// One line for logs and the audit log.
    pub fn summary(&self) -> String {
        format!(
            "{} slots created, {} reshaped, {} withdrawn, {} booked slots kept",
            self.created, self.reshaped, self.withdrawn, self.kept_booked
        )
    }

    fn add(&mut self, o: PublishReport) {
        self.created += o.created;
        self.reshaped += o.reshaped;
        self.withdrawn += o.withdrawn;
        self.kept_booked += o.kept_booked;
    }
}

/// The slots a template asks for on the `days_ahead` local days from `today`, for each product,
/// after the exceptions; only slots starting after `now`. Pure.
pub fn plan_slots(
    t: &SiteTemplate,
    hours: &[SiteHours],
    products: &[i64],
    exceptions: &[SiteException],
    tz: Tz,
    today: NaiveDate,
    now: NaiveDateTime,
) -> Vec<WantedSlot> {
    let len = t.slot_minutes.max(5);
    let mut out = BTreeMap::new();
    for d in 0..i64::from(t.days_ahead) {
        let day = today + Duration::days(d);
        let wd = day.weekday().num_days_from_monday() as i32;
        let Some(h) = hours.iter().find(|h| h.weekday == wd) else {
            continue;
        };
        let sessions = match (h.lunch_starts, h.lunch_ends) {
            (Some(a), Some(b)) => vec![(h.opens, a), (b, h.closes)],
            _ => vec![(h.opens, h.closes)],
        };
        let excs: Vec<&SiteException> = exceptions.iter().filter(|e| e.day == day).collect();
        for (from, to) in sessions {
            let mut m = from;
            while m + len <= to {
                let (a, b) = (m, m + len);
                m += len;
                let closed = excs
                    .iter()
                    .any(|e| e.kind == "closed" && e.starts < b && a < e.ends);
                if closed {
                    continue;
                }
                let seats = excs
                    .iter()
                    .rev()
                    .find(|e| e.kind == "seats" && e.starts < b && a < e.ends)
                    .and_then(|e| e.seats)
                    .unwrap_or(t.seats);
                if seats <= 0 {
                    continue;
                }
                let Some(start) = local_to_utc(tz, day, a) else {
                    continue; // the clock jumps over this time
                };
                if start <= now {
                    continue;
                }
                for p in products {
                    out.entry((*p, start)).or_insert(WantedSlot {
                        product_id: *p,
                        starts_at: start,
                        ends_at: start + Duration::minutes(i64::from(len)),
                        seats,
                    });
                }
            }
        }
    }
    out.into_values().collect()
}

/// Bring one site's future slots in line with its template, in the caller's transaction.
pub fn publish_site(
    c: &mut AnyConnection,
    site_id: SiteId,
    tz: Tz,
    now: NaiveDateTime,
) -> Result<PublishReport, SetupError> {
    let Some(s) = site::find(c, site_id)? else {
        return Err(SetupError::NotFound);
    };
    let Some(t) = template::find(c, site_id)? else {
        // Sites without a template (demo data, fixtures) are not the publisher's.
        return Ok(PublishReport::default());
    };
    let today = local_day(tz, now);
    let rule = template::release_rule(c, site_id)?;
    let wanted = if s.active {
        let hours = template::hours(c, site_id)?;
        let products = site_product::list_for_site(c, site_id)?;
        let excs = exception::list_for_site_from(c, site_id, today)?;
        plan_slots(&t, &hours, &products, &excs, tz, today, now)
    } else {
        Vec::new()
    };
    let mut wanted: BTreeMap<(i64, NaiveDateTime), WantedSlot> = wanted
        .into_iter()
        .map(|w| ((w.product_id, w.starts_at), w))
        .collect();
    // Only the template's days are reconciled: slots beyond them (days ahead reduced, or
    // published by hand) are left as they are.
    let horizon = local_to_utc(tz, today + Duration::days(i64::from(t.days_ahead)), 0)
        .unwrap_or_else(|| now + Duration::days(i64::from(t.days_ahead) + 1));
    let existing: Vec<Slot> = slot::list_future_for_site(c, site_id, now)?
        .into_iter()
        .filter(|e| e.starts_at < horizon)
        .collect();
    // New slots never overlap a slot that stays: one under way now, or a booked slot the
    // template no longer has in that shape (kept for its bookings, closed to new ones below).
    let mut kept: Vec<(i64, NaiveDateTime, NaiveDateTime)> =
        slot::list_running_for_site(c, site_id, now)?
            .iter()
            .chain(existing.iter().filter(|e| {
                e.booked_first + e.booked_second > 0
                    && wanted
                        .get(&(e.product_id, e.starts_at))
                        .is_none_or(|w| w.ends_at != e.ends_at)
            }))
            .map(|e| (e.product_id, e.starts_at, e.ends_at))
            .collect();
    wanted.retain(|_, w| !overlaps_any(&kept, w.product_id, w.starts_at, w.ends_at));
    let mut report = PublishReport::default();
    for e in existing {
        let booked = e.booked_first + e.booked_second;
        let id = SlotId(e.id);
        let stays = match wanted.remove(&(e.product_id, e.starts_at)) {
            // The template's shape: a booked slot takes the template's seats, never fewer
            // than its bookings.
            Some(w) if booked > 0 => {
                if slot::fit_seats_to_bookings(c, id, w.seats)? {
                    report.reshaped += 1;
                }
                true
            }
            Some(w) if w.ends_at != e.ends_at || w.seats != e.seats => {
                if slot::reshape_unbooked(c, id, w.ends_at, w.seats)? {
                    report.reshaped += 1;
                    true
                } else if w.ends_at == e.ends_at {
                    // Booked meanwhile, in the template's shape: the template's seats.
                    slot::fit_seats_to_bookings(c, id, w.seats)?;
                    true
                } else {
                    false // booked meanwhile in its old shape
                }
            }
            Some(_) => true,
            None if booked == 0 && e.seats > 0 => {
                // False when it was booked meanwhile.
                let withdrawn = slot::withdraw_unbooked(c, id)?;
                report.withdrawn += usize::from(withdrawn);
                withdrawn
            }
            None if booked == 0 => {
                slot::withdraw_unbooked(c, id)?;
                true
            }
            None => false,
        };
        if !stays {
            // Booked in a shape the template no longer has: its residents keep their
            // appointments, nobody new is added (seats = bookings), and no new slot is
            // published beside it.
            slot::fit_seats_to_bookings(c, id, 0)?;
            report.kept_booked += 1;
            kept.push((e.product_id, e.starts_at, e.ends_at));
        }
    }
    wanted.retain(|_, w| !overlaps_any(&kept, w.product_id, w.starts_at, w.ends_at));
    let rows: Vec<NewSlot> = wanted
        .into_values()
        .map(|w| NewSlot {
            id: new_id(),
            site_id: site_id.0,
            product_id: w.product_id,
            starts_at: w.starts_at,
            ends_at: w.ends_at,
            seats: w.seats,
            second_dose_held: 0,
            booked_first: 0,
            booked_second: 0,
            opens_at: rule.opens_at(tz, w.starts_at),
        })
        .collect();
    report.created = slot::insert_many_new(c, &rows)?;
    crate::booking::draw::sync_release(c, site_id, &rule, tz, now)?;
    Ok(report)
}

/// Whether `[from, to)` of `product` overlaps any of the `(product, start, end)` slots.
fn overlaps_any(
    slots: &[(i64, NaiveDateTime, NaiveDateTime)],
    product: i64,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> bool {
    slots
        .iter()
        .any(|&(p, a, b)| p == product && a < to && from < b)
}

/// Publish every site with a template, one transaction per site (the daily job and
/// `dosewise publish-slots`). Running it twice changes nothing the second time.
pub fn publish_all(
    db: &Db,
    tz: Tz,
    now: NaiveDateTime,
    actor: &str,
) -> Result<PublishReport, SetupError> {
    let sites: Vec<i64> = {
        let mut c = db.read.get()?;
        template::list(&mut c)?
            .into_iter()
            .map(|t| t.site_id)
            .collect()
    };
    let mut total = PublishReport::default();
    for id in sites {
        let actor = actor.to_string();
        let r = db.transaction(move |c| -> Result<PublishReport, SetupError> {
            let r = publish_site(c, SiteId(id), tz, now)?;
            if r != PublishReport::default() {
                audit::record(
                    c,
                    now,
                    &actor,
                    "slots.publish",
                    &format!("site {id}"),
                    &r.summary(),
                )?;
            }
            Ok(r)
        })?;
        total.add(r);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpl(seats: i32, len: i32, days: i32) -> SiteTemplate {
        SiteTemplate {
            site_id: 1,
            slot_minutes: len,
            seats,
            days_ahead: days,
            updated_by: "t".into(),
            updated_at: NaiveDateTime::default(),
        }
    }

    fn weekdays(opens: i32, lunch: Option<(i32, i32)>, closes: i32) -> Vec<SiteHours> {
        (0..5)
            .map(|d| SiteHours {
                site_id: 1,
                weekday: d,
                opens,
                lunch_starts: lunch.map(|l| l.0),
                lunch_ends: lunch.map(|l| l.1),
                closes,
            })
            .collect()
    }

    #[test]
    fn a_day_is_split_into_sessions_around_lunch() {
        let monday = NaiveDate::from_ymd_opt(2030, 3, 4).unwrap();
        let now = monday.and_hms_opt(0, 0, 0).unwrap() - Duration::days(1);
        let slots = plan_slots(
            &tmpl(6, 30, 1),
            &weekdays(
                8 * 60 + 30,
                Some((11 * 60 + 30, 13 * 60 + 30)),
                16 * 60 + 30,
            ),
            &[7],
            &[],
            chrono_tz::Asia::Shanghai,
            monday,
            now,
        );
        assert_eq!(slots.len(), 12);
        assert_eq!(slots[0].starts_at, monday.and_hms_opt(0, 30, 0).unwrap());
        assert!(slots.iter().all(|s| s.seats == 6));
    }
}
