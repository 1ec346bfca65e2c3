//! The clinic desk's pages: the site's day by slot (counts, stock, the observation list), check
//! in by code (identity, screening, then the dose), walk-ins, no-shows, wastage and adverse
//! reactions. Handlers parse forms (`forms`) into commands, make one call into `booking::clinic`
//! or one read of `models::desk`, and hand the data to `views::clinic`.

mod checkin;
mod day;
mod forms;
mod records;

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

pub use checkin::{checkin_page, checkin_submit, dose_submit};
pub use day::{find_code, no_shows, start, today};
pub use forms::{CodeQuery, NoShowForm, NoticeQuery};
pub use records::{
    reaction_form, reaction_submit, walkin_form, walkin_submit, wastage_form, wastage_submit,
};

use super::ctx::Ctx;
use super::state::AppState;
use crate::booking::clinic::{ClinicError, Desk, Staff};
use crate::error::{AppError, Refused};
use crate::i18n::Lang;
use crate::ids::SiteId;
use crate::models::Role;
use crate::views::day_label;
use crate::views::layout::CurrentUser;
use crate::web::respond::see_other;

/// The desk as this user, now.
fn desk(state: &AppState, u: &CurrentUser) -> Desk {
    Desk {
        staff: Staff {
            user_id: u.id,
            username: u.username.clone(),
            site_id: u.site_id,
            any_site: u.role == Role::Admin,
        },
        now: state.now(),
        tz: state.settings.time_zone,
        release_hours: state.settings.second_dose_release_hours,
        observation_minutes: state.settings.observation_minutes,
    }
}

/// The desk of the signed-in clinic user, refused unless they may act for `site`.
fn desk_for(ctx: &Ctx, state: &AppState, site: SiteId) -> Result<Desk, AppError> {
    let d = desk(state, ctx.require(Role::Clinic)?);
    if !d.staff.may_act_for(site.0) {
        return Err(AppError::Forbidden);
    }
    Ok(d)
}

/// A refusal as staff read it.
fn refusal(lang: Lang, e: &ClinicError) -> String {
    match e {
        ClinicError::TooEarly { opens, days } => lang.tf(
            e.key(),
            &[
                ("date", &day_label(lang, *opens)),
                ("days", &days.to_string()),
            ],
        ),
        e => lang.t(e.key()).to_string(),
    }
}

/// Refusals a form shows on itself: all of them.
fn on_the_form(_: &ClinicError) -> Option<AppError> {
    None
}

/// Refusals answered with the plain 403 page instead of the form: acting for another site.
fn wrong_site(e: &ClinicError) -> Option<AppError> {
    matches!(e, ClinicError::WrongSite).then_some(AppError::Forbidden)
}

/// As [`wrong_site`], and a dose that does not exist is a plain 404.
fn wrong_site_or_gone(e: &ClinicError) -> Option<AppError> {
    match e {
        ClinicError::NotFound => Some(AppError::NotFound),
        e => wrong_site(e),
    }
}

/// Answer a desk action: `303` to `done(value)` when it was carried out; a failure as an
/// error; a refusal as the plain page `plain` names, or else as the form again (`again`) with
/// the refusal on it and the refusal's status.
async fn answer<T, Fut>(
    lang: Lang,
    outcome: Result<T, ClinicError>,
    done: impl FnOnce(T) -> String,
    plain: fn(&ClinicError) -> Option<AppError>,
    again: impl FnOnce(String, StatusCode) -> Fut,
) -> Result<HttpResponse, AppError>
where
    Fut: Future<Output = Result<HttpResponse, AppError>>,
{
    match outcome {
        Ok(v) => Ok(see_other(&done(v))),
        Err(e) if e.is_internal() => Err(e.into()),
        Err(e) => match plain(&e) {
            Some(page) => Err(page),
            None => again(refusal(lang, &e), e.status()).await,
        },
    }
}

/// `GET /static/clinic.js`: the desk's small progressive enhancement (the list reloads itself
/// while nobody is typing). Every page works without it.
pub async fn script() -> HttpResponse {
    super::static_file(
        include_str!("../../../static/clinic.js"),
        "text/javascript; charset=utf-8",
    )
}
