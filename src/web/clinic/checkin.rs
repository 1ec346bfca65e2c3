//! Check-in by code: identity and screening, then the dose.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::forms::{self, NoticeQuery};
use super::{answer, check_in_slowed, desk, give_dose, on_the_form, refusal};
use crate::booking::clinic::{self as desk_ops, ClinicError, Desk};
use crate::domain::clinic::ScreeningOutcome;
use crate::domain::BookingCode;
use crate::error::AppError;
use crate::models::{appointment, desk as desk_read, AppointmentStatus, Role};
use crate::views::clinic::{self as pages, CheckinForm, CheckinView, DoseForm};
use crate::views::layout::CurrentUser;
use crate::views::FormErrors;
use crate::web::ctx::{Acting, Clinic, Ctx, Signed};
use crate::web::respond::{html, html_status};
use crate::web::state::{read, AppState};

/// `GET /staff/checkin/{code}`: what a resident's QR code opens; the typed code leads here too.
pub async fn checkin_page(
    path: web::Path<String>,
    q: web::Query<NoticeQuery>,
    Signed { ctx, state, .. }: Signed<Clinic>,
) -> Result<HttpResponse, AppError> {
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

/// The start of every POST about a booking code (the clinic user and the form's CSRF token
/// checked by [`Acting`]): the code in the path; the desk as that user now.
fn code_post(
    state: &AppState,
    user: &CurrentUser,
    path: &str,
) -> Result<(Desk, BookingCode), AppError> {
    let code = BookingCode::parse(path).map_err(|_| AppError::NotFound)?;
    Ok((desk(state, user), code))
}

/// `POST /staff/checkin/{code}`: confirm identity and screen; check in or defer.
pub async fn checkin_submit(
    path: web::Path<String>,
    Acting(ctx, state, user, form): Acting<CheckinForm>,
) -> Result<HttpResponse, AppError> {
    let (d, code) = code_post(&state, &user, &path)?;
    let lang = ctx.lang;
    let unprocessable = Some(StatusCode::UNPROCESSABLE_ENTITY);
    let cmd = match forms::parse_checkin(lang, &code, &form, &d) {
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
    let outcome = match check_in_slowed(&state, d, cmd).await? {
        Ok(outcome) => outcome,
        Err(wait) => {
            let view = CheckinView {
                form,
                refusal: Some(lang.t("err.code_attempts").to_string()),
                ..CheckinView::default()
            };
            let too_many = Some(StatusCode::TOO_MANY_REQUESTS);
            let mut res = render_checkin(ctx, &state, code, view, too_many).await?;
            crate::web::middleware::retry_after(&mut res, wait);
            return Ok(res);
        }
    };
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
    path: web::Path<String>,
    Acting(ctx, state, user, form): Acting<DoseForm>,
) -> Result<HttpResponse, AppError> {
    let (d, code) = code_post(&state, &user, &path)?;
    let lang = ctx.lang;
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
    let given_at = d.today_at(time);
    let outcome = give_dose(&state, d, code.clone(), lot, dose, given_at).await?;
    let again = |msg, status| {
        let view = CheckinView {
            dose_form: Some(form),
            refusal: Some(msg),
            ..CheckinView::default()
        };
        render_checkin(ctx, &state, code.clone(), view, Some(status))
    };
    let done = |(site, _)| format!("/staff/sites/{site}?done=dose#observation");
    answer(lang, outcome, done, unknown_code, again).await
}

/// Refusals of the dose form answered with the plain 404 page: a code that names nothing.
fn unknown_code(e: &ClinicError) -> Option<AppError> {
    matches!(e, ClinicError::UnknownCode).then_some(AppError::NotFound)
}

/// `GET /staff/checkin/{code}/record`: the resident's record at the desk (who, with the ID
/// number masked, and every dose with its lot and reactions).
pub async fn record_page(
    path: web::Path<String>,
    Signed {
        ctx, state, user, ..
    }: Signed<Clinic>,
) -> Result<HttpResponse, AppError> {
    let d = desk(&state, &user);
    let code = BookingCode::parse(&path).map_err(|_| AppError::NotFound)?;
    let lookup = code.as_str().to_string();
    let today = d.today();
    let rec = read(&state, move |c, _| {
        let a = appointment::find_by_code(c, &lookup)?.ok_or(AppError::NotFound)?;
        desk_read::checkin(c, a, today)?.ok_or(AppError::NotFound)
    })
    .await?;
    if !d.staff.may_act_for(rec.appointment.site_id) {
        return Err(AppError::Forbidden);
    }
    let mut page = pages::checkin_page(ctx, &code, CheckinView::default());
    page.show(rec, None, (d.now, d.tz), |site| d.staff.may_act_for(site));
    html(&pages::record_page(page))
}
