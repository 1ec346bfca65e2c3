//! The clinic desk's pages: the site's day by slot (counts, stock, the observation list), check
//! in by code (identity, screening, then the dose), walk-ins, no-shows, wastage and adverse
//! reactions. Handlers parse forms (`forms`) into commands, make a call into `booking::clinic`
//! or read `models::desk`, and hand the data to `views::clinic`.

mod checkin;
mod day;
mod forms;
mod records;
mod sync;

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

pub use checkin::{checkin_page, checkin_submit, dose_submit, record_page};
pub use day::{find_code, no_shows, start, today, today_json};
pub use forms::{CodeQuery, NoShowForm, NoticeQuery};
super::ctx::staff_form!(super::ctx::Clinic:
    NoShowForm,
    crate::views::clinic::WalkInForm,
    crate::views::clinic::WasteForm,
    crate::views::clinic::ReactionForm,
    crate::views::clinic::CheckinForm,
    crate::views::clinic::DoseForm
);
pub use crate::views::clinic::{WalkInForm, WasteForm};
pub(crate) use records::site_form;
pub use records::{reaction_form, reaction_submit, walkin_submit, wastage_submit};
pub use sync::{sync, QueuedAction, SyncAnswer, SyncBatch, MAX_ACTIONS};

use actix_web::web;
use chrono::NaiveDateTime;

use super::ctx::Ctx;
use super::state::{blocking, AppState};
use crate::booking::clinic::{self as desk_ops, CheckIn, ClinicError, Desk, GiveDose, Staff};
use crate::domain::clinic::ScreeningOutcome;
use crate::domain::BookingCode;
use crate::error::{AppError, Refused};
use crate::i18n::{Keyed, Lang};
use crate::ids::AppointmentId;
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
        sync: None,
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

/// Check in through the per-code slowdown of wrong last-4 guesses (the resident pages'
/// `web::limits::CodeAttempts`, keyed `desk:CODE`): `Err(seconds)` while the code must wait.
async fn check_in_slowed(
    state: &web::Data<AppState>,
    d: Desk,
    cmd: CheckIn,
) -> Result<Result<Result<ScreeningOutcome, ClinicError>, u64>, AppError> {
    let key = format!("desk:{}", cmd.code.as_str());
    if let Some(wait) = state.limits.codes.wait(&key) {
        return Ok(Err(wait));
    }
    let outcome = blocking(state, move |st| {
        Ok::<_, AppError>(desk_ops::check_in(&st.db, &d, cmd))
    })
    .await?;
    match &outcome {
        Err(ClinicError::IdMismatch) => state.limits.codes.failed(&key),
        Ok(_) => state.limits.codes.succeeded(&key),
        Err(_) => {}
    }
    Ok(Ok(outcome))
}

/// Record a dose for the appointment with `code` (the dose form and the sync): its site and the
/// vaccination's id.
async fn give_dose(
    state: &web::Data<AppState>,
    d: Desk,
    code: BookingCode,
    lot: String,
    dose_number: i32,
    given_at: NaiveDateTime,
) -> Result<Result<(i64, i64), ClinicError>, AppError> {
    blocking(state, move |st| {
        let give = || {
            let a = desk_ops::find_code(&st.db, &code)?;
            let cmd = GiveDose {
                appointment: AppointmentId(a.id),
                lot,
                dose_number,
                given_at,
            };
            desk_ops::record_dose(&st.db, &d, cmd).map(|v| (a.site_id, v))
        };
        Ok::<_, AppError>(give())
    })
    .await
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

/// `GET /static/desk-offline.js`: the desk's offline queue (forms kept in IndexedDB while
/// offline, sent to `/clinic/sync` when the network returns) and its copy of the day.
pub async fn offline_script() -> HttpResponse {
    super::static_file(
        include_str!("../../../static/desk-offline.js"),
        "text/javascript; charset=utf-8",
    )
}

/// `GET /static/desk-sw.js`: the desk's service worker, allowed to control `/staff` (the desk
/// pages) from `/static/`.
pub async fn service_worker() -> HttpResponse {
    let mut res = super::static_file(
        include_str!("../../../static/desk-sw.js"),
        "text/javascript; charset=utf-8",
    );
    res.headers_mut().insert(
        actix_web::http::header::HeaderName::from_static("service-worker-allowed"),
        actix_web::http::header::HeaderValue::from_static("/staff"),
    );
    res
}

/// `GET /static/clinic.js`: the desk's small progressive enhancement (the list reloads itself
/// while nobody is typing). Every page works without it.
pub async fn script() -> HttpResponse {
    super::static_file(
        include_str!("../../../static/clinic.js"),
        "text/javascript; charset=utf-8",
    )
}
