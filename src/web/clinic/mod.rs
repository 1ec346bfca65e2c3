//! The clinic desk's pages: the site's day by slot (counts, stock, the observation list), check
//! in by code (identity, screening, then the dose), walk-ins, no-shows, wastage and adverse
//! reactions. Handlers parse forms (`forms`) into commands, make one call into `booking::clinic`
//! or one read of `models::desk`, and hand the data to `views::clinic`.

mod forms;

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

pub use forms::{CodeQuery, NoShowForm, NoticeQuery};

use super::ctx::{Ctx, CurrentUser};
use super::resident::field_message;
use super::state::{blocking, read, AppState};
use crate::booking::clinic::{self as desk_ops, ClinicError, Desk, GiveDose, Staff};
use crate::domain::clinic::ScreeningOutcome;
use crate::domain::{parse_id, text, BookingCode};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::ids::{AppointmentId, SiteId, SlotId};
use crate::models::{
    appointment, desk as desk_read, site, town, vaccination, AppointmentStatus, Role,
};
use crate::views::clinic::{
    self as pages, CheckinForm, CheckinView, DoseForm, ReactionForm, Shown, TodayView, WalkInForm,
    WasteForm,
};
use crate::views::{day_label, hm, html, html_status, see_other, FormErrors};

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

/// The status of a page that explains a refusal.
fn refusal_status(e: &ClinicError) -> StatusCode {
    match e {
        ClinicError::WrongSite => StatusCode::FORBIDDEN,
        ClinicError::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
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
        Err(e) if e.is_internal() => Err(AppError::Internal(e.into())),
        Err(e) => match plain(&e) {
            Some(page) => Err(page),
            None => again(refusal(lang, &e), refusal_status(&e)).await,
        },
    }
}

// ---- the day ----------------------------------------------------------------------------------

/// `GET /staff`: a clinic user's site today; an admin chooses a site first.
pub async fn start(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    match (u.role, u.site_id) {
        (Role::Admin, _) => {
            let (sites, towns) = read(&state, |c, _| {
                Ok((site::list_active(c)?, town::list_active(c)?))
            })
            .await?;
            html(&pages::choose_site_page(ctx, sites, &towns))
        }
        (_, Some(site)) => {
            let page = TodayView::default();
            render_today(ctx, &state, SiteId(site), page, StatusCode::OK).await
        }
        (_, None) => Err(AppError::Forbidden),
    }
}

/// `GET /staff/sites/{id}`: the site's day.
pub async fn today(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    let view = TodayView {
        notice: q.message(ctx.lang),
        ..TodayView::default()
    };
    render_today(ctx, &state, SiteId(*path), view, StatusCode::OK).await
}

async fn render_today(
    ctx: Ctx,
    state: &web::Data<AppState>,
    site_id: SiteId,
    view: TodayView,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let d = desk_for(&ctx, state, site_id)?;
    let (bounds, now, today) = (d.today_bounds(), d.now, d.today());
    let day = read(state, move |c, _| {
        desk_read::day(c, site_id, bounds, today, now)?.ok_or(AppError::NotFound)
    })
    .await?;
    html_status(
        &pages::today_page(ctx, day, view, (now, today, d.tz)),
        status,
    )
}

/// `GET /staff/checkin?code=...&site=...`: the typed booking code leads to its check-in page.
pub async fn find_code(
    ctx: Ctx,
    state: web::Data<AppState>,
    q: web::Query<CodeQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    match BookingCode::parse(&q.code) {
        Ok(code) => Ok(see_other(&format!("/staff/checkin/{}", code.as_str()))),
        Err(e) => {
            let site = parse_id(&q.site).ok_or(AppError::BadRequest)?;
            let view = TodayView {
                code: q.code.chars().take(40).collect(),
                code_error: Some(field_message(ctx.lang, e)),
                ..TodayView::default()
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_today(ctx, &state, SiteId(site), view, status).await
        }
    }
}

/// `POST /staff/sites/{id}/no-shows`.
pub async fn no_shows(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<NoShowForm>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let site_id = SiteId(*path);
    let only = match text::clean(&form.slot) {
        Some("") => None,
        _ => Some(SlotId(parse_id(&form.slot).ok_or(AppError::BadRequest)?)),
    };
    let d = desk(&state, &u);
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::mark_no_shows(&st.db, &d, site_id, only))
    })
    .await?;
    let done = |n| format!("/staff/sites/{}?done=no_show&n={n}", site_id.0);
    answer(ctx.lang, outcome, done, wrong_site, |msg, status| {
        let view = TodayView {
            code_error: Some(msg),
            ..TodayView::default()
        };
        render_today(ctx, &state, site_id, view, status)
    })
    .await
}

// ---- check-in and the dose --------------------------------------------------------------------

/// `GET /staff/checkin/{code}`: what a resident's QR code opens; the typed code leads here too.
pub async fn checkin_page(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    let code = BookingCode::parse(&path).map_err(|_| AppError::NotFound)?;
    let view = CheckinView {
        notice: q.message(ctx.lang),
        ..CheckinView::default()
    };
    render_checkin(ctx, &state, code, view, None).await
}

/// The check-in page; `status` is the handler's (a refused form), otherwise it follows from
/// what was found.
async fn render_checkin(
    ctx: Ctx,
    state: &web::Data<AppState>,
    code: BookingCode,
    mut view: CheckinView,
    status: Option<StatusCode>,
) -> Result<HttpResponse, AppError> {
    let d = desk(state, ctx.require(Role::Clinic)?);
    let lookup = code.as_str().to_string();
    let today = d.today();
    let found = read(state, move |c, _| {
        let Some(a) = appointment::find_by_code(c, &lookup)? else {
            return Ok(None);
        };
        Ok(Some(
            desk_read::checkin(c, a, today)?.ok_or(AppError::NotFound)?,
        ))
    })
    .await?;
    let lang = ctx.lang;
    let dose_form = view.dose_form.take();
    let mut page = pages::checkin_page(ctx, &code, view);
    let Some(rec) = found else {
        // Explained on the page (a bare 404 would be replaced by the generic error page).
        page.problem = Some(lang.t("checkin.unknown").to_string());
        return html_status(&page, status.unwrap_or(StatusCode::OK));
    };
    match desk_ops::admit(&d, &rec.appointment) {
        Err(e @ ClinicError::WrongSite) => {
            page.problem = Some(refusal(lang, &e));
            return html_status(&page, status.unwrap_or(StatusCode::FORBIDDEN));
        }
        Err(ClinicError::AlreadyVaccinated) => page.stage = "done",
        Err(e) => page.problem = Some(refusal(lang, &e)),
        Ok(()) if rec.appointment.status() == AppointmentStatus::CheckedIn => page.stage = "dose",
        Ok(()) => page.stage = "screen",
    }
    page.show(rec, dose_form, (d.now, d.tz), |site| {
        d.staff.may_act_for(site)
    });
    html_status(&page, status.unwrap_or(StatusCode::OK))
}

/// `POST /staff/checkin/{code}`: confirm identity and screen; check in or defer.
pub async fn checkin_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CheckinForm>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let code = BookingCode::parse(&path).map_err(|_| AppError::NotFound)?;
    let form = form.into_inner();
    let lang = ctx.lang;
    let unprocessable = Some(StatusCode::UNPROCESSABLE_ENTITY);
    let cmd = match forms::parse_checkin(lang, &code, &form) {
        Ok(cmd) => cmd,
        Err(errors) => {
            let view = CheckinView {
                form,
                errors,
                ..CheckinView::default()
            };
            return render_checkin(ctx, &state, code, view, unprocessable).await;
        }
    };
    let d = desk(&state, &u);
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::check_in(&st.db, &d, cmd))
    })
    .await?;
    if let Err(e @ ClinicError::IdMismatch) = outcome {
        let mut errors = FormErrors::default();
        errors.add("last4", refusal(lang, &e));
        let view = CheckinView {
            form,
            errors,
            ..CheckinView::default()
        };
        return render_checkin(ctx, &state, code, view, unprocessable).await;
    }
    let done = |o| {
        let done = match o {
            ScreeningOutcome::Cleared => "checked_in",
            ScreeningOutcome::Deferred(_) => "deferred",
        };
        format!("/staff/checkin/{}?done={done}", code.as_str())
    };
    let again = |msg, status| {
        let view = CheckinView {
            form,
            refusal: Some(msg),
            ..CheckinView::default()
        };
        render_checkin(ctx, &state, code.clone(), view, Some(status))
    };
    answer(lang, outcome, done, on_the_form, again).await
}

/// `POST /staff/checkin/{code}/dose`: record the dose given.
pub async fn dose_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<DoseForm>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let code = BookingCode::parse(&path).map_err(|_| AppError::NotFound)?;
    let form = form.into_inner();
    let lang = ctx.lang;
    let d = desk(&state, &u);
    let (dose, time, lot) = match forms::parse_dose(lang, &form) {
        Ok(parsed) => parsed,
        Err(errors) => {
            let view = CheckinView {
                dose_form: Some(form),
                errors,
                ..CheckinView::default()
            };
            let status = Some(StatusCode::UNPROCESSABLE_ENTITY);
            return render_checkin(ctx, &state, code, view, status).await;
        }
    };
    let lookup = code.as_str().to_string();
    let a = read(&state, move |c, _| {
        appointment::find_by_code(c, &lookup)?.ok_or(AppError::NotFound)
    })
    .await?;
    let cmd = GiveDose {
        appointment: AppointmentId(a.id),
        lot,
        dose_number: dose,
        given_at: d.today_at(time),
    };
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::record_dose(&st.db, &d, cmd))
    })
    .await?;
    let done = |_| format!("/staff/sites/{}?done=dose#observation", a.site_id);
    let again = |msg, status| {
        let view = CheckinView {
            dose_form: Some(form),
            refusal: Some(msg),
            ..CheckinView::default()
        };
        render_checkin(ctx, &state, code.clone(), view, Some(status))
    };
    answer(lang, outcome, done, on_the_form, again).await
}

// ---- walk-ins ---------------------------------------------------------------------------------

/// `GET /staff/sites/{id}/walk-in`: register someone without an appointment.
pub async fn walkin_form(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    render_walkin(ctx, &state, SiteId(*path), Shown::default(), StatusCode::OK).await
}

async fn render_walkin(
    ctx: Ctx,
    state: &web::Data<AppState>,
    site_id: SiteId,
    shown: Shown<WalkInForm>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let d = desk_for(&ctx, state, site_id)?;
    let bounds = d.today_bounds();
    let found = read(state, move |c, _| {
        desk_read::walk_in(c, site_id, bounds)?.ok_or(AppError::NotFound)
    })
    .await?;
    let page = pages::walkin_page(ctx, found, shown, (d.now, d.tz));
    html_status(&page, status)
}

/// `POST /staff/sites/{id}/walk-in`: take a seat and a dose, then go to the check-in page.
pub async fn walkin_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<WalkInForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    ctx.check_csrf(&form.csrf)?;
    let site_id = SiteId(*path);
    let d = desk_for(&ctx, &state, site_id)?;
    let mut form = form.into_inner();
    form.id_number = form.id_number.trim().to_string();
    let lang = ctx.lang;
    let (details, slot_id) = match forms::parse_walkin(lang, &form) {
        Ok(parsed) => parsed,
        Err(errors) => {
            let shown = Shown {
                form,
                errors,
                refusal: None,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_walkin(ctx, &state, site_id, shown, status).await;
        }
    };
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::walk_in(&st.db, &st.keys, &d, slot_id, &details))
    })
    .await?;
    let done = |a: crate::models::Appointment| format!("/staff/checkin/{}?done=walk_in", a.code);
    answer(lang, outcome, done, wrong_site, |msg, status| {
        let shown = Shown {
            form,
            errors: FormErrors::default(),
            refusal: Some(msg),
        };
        render_walkin(ctx, &state, site_id, shown, status)
    })
    .await
}

// ---- wastage ----------------------------------------------------------------------------------

/// `GET /staff/sites/{id}/wastage`: record wasted doses.
pub async fn wastage_form(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    render_wastage(ctx, &state, SiteId(*path), Shown::default(), StatusCode::OK).await
}

async fn render_wastage(
    ctx: Ctx,
    state: &web::Data<AppState>,
    site_id: SiteId,
    shown: Shown<WasteForm>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    desk_for(&ctx, state, site_id)?;
    let found = read(state, move |c, _| {
        desk_read::wastage(c, site_id)?.ok_or(AppError::NotFound)
    })
    .await?;
    html_status(&pages::wastage_page(ctx, found, shown), status)
}

/// `POST /staff/sites/{id}/wastage`.
pub async fn wastage_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<WasteForm>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let site_id = SiteId(*path);
    let form = form.into_inner();
    let lang = ctx.lang;
    let w = match forms::parse_waste(lang, site_id, &form) {
        Ok(w) => w,
        Err(errors) => {
            let shown = Shown {
                form,
                errors,
                refusal: None,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_wastage(ctx, &state, site_id, shown, status).await;
        }
    };
    let d = desk(&state, &u);
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::record_wastage(&st.db, &d, w))
    })
    .await?;
    let done = |()| format!("/staff/sites/{}?done=wastage", site_id.0);
    answer(lang, outcome, done, wrong_site, |msg, status| {
        let shown = Shown {
            form,
            errors: FormErrors::default(),
            refusal: Some(msg),
        };
        render_wastage(ctx, &state, site_id, shown, status)
    })
    .await
}

// ---- adverse reactions ------------------------------------------------------------------------

/// `GET /staff/vaccinations/{id}/reaction`: record a reaction after a dose.
pub async fn reaction_form(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    let form = ReactionForm {
        severity: "mild".into(),
        time: hm(state.settings.time_zone, state.now()),
        ..ReactionForm::default()
    };
    let shown = Shown {
        form,
        ..Shown::default()
    };
    render_reaction(ctx, &state, *path, shown, StatusCode::OK).await
}

async fn render_reaction(
    ctx: Ctx,
    state: &web::Data<AppState>,
    vaccination_id: i64,
    shown: Shown<ReactionForm>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let d = desk(state, ctx.require(Role::Clinic)?);
    let rec = read(state, move |c, _| {
        desk_read::dose(c, vaccination_id)?.ok_or(AppError::NotFound)
    })
    .await?;
    if !d.staff.may_act_for(rec.vaccination.site_id) {
        return Err(AppError::Forbidden);
    }
    html_status(&pages::reaction_page(ctx, rec, shown, d.tz), status)
}

/// `POST /staff/vaccinations/{id}/reaction`.
pub async fn reaction_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<ReactionForm>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let vaccination_id = *path;
    let form = form.into_inner();
    let lang = ctx.lang;
    let d = desk(&state, &u);
    let r = match forms::parse_reaction(lang, vaccination_id, &form, |t| d.today_at(t)) {
        Ok(r) => r,
        Err(errors) => {
            let shown = Shown {
                form,
                errors,
                refusal: None,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render_reaction(ctx, &state, vaccination_id, shown, status).await;
        }
    };
    let site = read(&state, move |c, _| {
        Ok(vaccination::find(c, vaccination_id)?
            .ok_or(AppError::NotFound)?
            .site_id)
    })
    .await?;
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::record_reaction(&st.db, &d, r))
    })
    .await?;
    let done = |()| format!("/staff/sites/{site}?done=reaction#observation");
    answer(lang, outcome, done, wrong_site_or_gone, |msg, status| {
        let shown = Shown {
            form,
            errors: FormErrors::default(),
            refusal: Some(msg),
        };
        render_reaction(ctx, &state, vaccination_id, shown, status)
    })
    .await
}

/// `GET /static/clinic.js`: the desk's small progressive enhancement (the list reloads itself
/// while nobody is typing). Every page works without it.
pub async fn script() -> HttpResponse {
    super::static_file(
        include_str!("../../../static/clinic.js"),
        "text/javascript; charset=utf-8",
    )
}
