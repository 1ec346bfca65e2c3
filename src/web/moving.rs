//! What the site page needs to open on a useful day and to offer a move: the first day with a
//! free seat, and who is moving (the seat their dose needs, the dose window and age range of
//! `domain::eligibility` on each day), so the move page offers only slots a move would take.

use actix_web::web;
use chrono::NaiveDate;

use super::state::{read, AppState};
use crate::domain::days::local_day;
use crate::domain::eligibility::{check_age, check_dose};
use crate::error::AppError;
use crate::ids::{AppointmentId, ResidentId, SiteId, SlotId};
use crate::models::{appointment, resident, slot, vaccination, Product};

/// The city day of a site's first future slot with a free seat.
pub async fn first_free_day(
    state: &web::Data<AppState>,
    site_id: SiteId,
) -> Result<Option<NaiveDate>, AppError> {
    let tz = state.settings.time_zone;
    let now = state.rules().now;
    // Through the one-second cache: the day page without a date is what the whole city opens.
    let load = || {
        read(state, move |c, _| {
            Ok(slot::first_free_after(c, site_id, now)?)
        })
    };
    let at = state
        .caches
        .first_free
        .get_or_load(site_id.0, state.db.generation(), load)
        .await?;
    Ok(at.map(|at| local_day(tz, at)))
}

/// Who is moving an appointment: enough to offer only the slots a move would be accepted into
/// (a seat for their dose, the dose and age rules of `domain::eligibility` on that day).
pub struct Mover {
    pub from: SlotId,
    dose: i32,
    birth: NaiveDate,
    given: Vec<vaccination::Vaccination>,
}

impl Mover {
    pub fn fits(
        &self,
        sl: &slot::Slot,
        products: &[Product],
        free_first: i32,
        free_second: i32,
        tz: chrono_tz::Tz,
    ) -> bool {
        let seat = if self.dose == 1 {
            free_first > 0
        } else {
            free_second > 0
        };
        let Some(p) = products.iter().find(|p| p.id == sl.product_id) else {
            return false;
        };
        let (series, day) = (p.series(), local_day(tz, sl.starts_at));
        seat && check_dose(&series, &self.given, self.dose, day, tz).is_ok()
            && check_age(&series, self.birth, day).is_ok()
    }
}

/// The appointment being moved, and its mover.
pub async fn mover(
    state: &web::Data<AppState>,
    id: AppointmentId,
) -> Result<(appointment::Appointment, Mover), AppError> {
    read(state, move |c, _| {
        let a = appointment::find(c, id)?.ok_or(AppError::NotFound)?;
        let r = resident::find(c, ResidentId(a.resident_id))?.ok_or(AppError::NotFound)?;
        let given = vaccination::list_for_resident(c, ResidentId(a.resident_id))?;
        let m = Mover {
            from: SlotId(a.slot_id),
            dose: a.dose_number,
            birth: r.birth_date,
            given,
        };
        Ok((a, m))
    })
    .await
}
