//! What the site page needs to open on a useful day and to offer a move: the first day with a
//! free seat, and who is moving (`booking::relocate::Mover`: the seat their dose needs, the dose
//! window and age range of `domain::eligibility` on each day), so the move page offers only
//! slots a move would take.

use actix_web::web;
use chrono::NaiveDate;

use super::state::{read, AppState};
use crate::domain::days::local_day;
use crate::error::AppError;
use crate::ids::{AppointmentId, SiteId};
use crate::models::{appointment, slot};

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

pub use crate::booking::relocate::Mover;

/// The appointment being moved, and its mover.
pub async fn mover(
    state: &web::Data<AppState>,
    id: AppointmentId,
) -> Result<(appointment::Appointment, Mover), AppError> {
    read(state, move |c, _| {
        let a = appointment::find(c, id)?.ok_or(AppError::NotFound)?;
        let m = Mover::load(c, &a)?.ok_or(AppError::NotFound)?;
        Ok((a, m))
    })
    .await
}
