//! The reads of one day of a site, as its page and the household page list it
//! (`views::site_day::Day` makes the rows).

use actix_web::web;
use chrono::NaiveDate;

use super::cache::DaySlots;
use super::state::{read, AppState};
use crate::domain::days::day_bounds;
use crate::error::AppError;
use crate::ids::SiteId;
use crate::models::exception;

/// What a site's day is made from: its slots, draws and stock (through the one-second cache) and
/// the exceptions that closed any slot of it still ahead.
pub struct DayRead {
    pub slots: DaySlots,
    pub exceptions: Vec<exception::SiteException>,
}

/// Read the city day `day` of `site`. The exceptions are read only when a slot ahead has no
/// seats (closed by the site: an exception, or a template change that kept it for appointments
/// since cancelled), for its reason.
pub async fn read_day(
    state: &web::Data<AppState>,
    site: SiteId,
    day: NaiveDate,
) -> Result<DayRead, AppError> {
    let (from, to) = day_bounds(state.settings.time_zone, day);
    let (slots, _) = super::draw::slots_and_draws(state, site, from, to).await?;
    let now = state.now();
    let exceptions = if slots.0.iter().any(|sl| sl.seats == 0 && sl.starts_at > now) {
        read(state, move |c, _| {
            Ok(exception::list_for_site_from(c, site, day)?)
        })
        .await?
    } else {
        Vec::new()
    };
    Ok(DayRead { slots, exceptions })
}
