//! What the desk records besides doses: walk-ins, wasted doses and adverse reactions.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::forms;
use super::{answer, desk, desk_for, wrong_site, wrong_site_or_gone};
use crate::booking::clinic as desk_ops;
use crate::error::AppError;
use crate::ids::SiteId;
use crate::models::{desk as desk_read, vaccination, Appointment, Role};
use crate::views::clinic::{
    self as pages, ReactionForm, ReactionPage, Shown, WalkInForm, WalkInPage, WastagePage,
    WasteForm,
};
use crate::views::{hm, FormErrors};
use crate::web::ctx::{Acting, Clinic, Ctx, Signed};
use crate::web::respond::{show, View};
use crate::web::state::{blocking, read, AppState};

/// `GET /staff/sites/{id}/walk-in` (register someone without an appointment) and
/// `/staff/sites/{id}/wastage` (record wasted doses): the site's form `F`, empty.
pub(crate) async fn site_form<F: Default>(
    path: web::Path<i64>,
    Signed { ctx, state, .. }: Signed<Clinic>,
) -> Result<HttpResponse, AppError>
where
    (SiteId, Shown<F>): View,
{
    let empty = (SiteId(*path), Shown::default());
    show(ctx, &state, empty, StatusCode::OK).await
}

/// A site's walk-in page with its form (empty, again with its errors, or refused).
impl View for (SiteId, Shown<WalkInForm>) {
    type Page = WalkInPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (site_id, shown) = self;
        let d = desk_for(&ctx, state, site_id)?;
        let bounds = d.today_bounds();
        let found = read(state, move |c, _| {
            desk_read::walk_in(c, site_id, bounds)?.ok_or(AppError::NotFound)
        })
        .await?;
        Ok(pages::walkin_page(ctx, found, shown, (d.now, d.tz)))
    }
}

/// `POST /staff/sites/{id}/walk-in`: take a seat and a dose, then go to the check-in page.
pub async fn walkin_submit(
    path: web::Path<i64>,
    Acting(ctx, state, _, mut form): Acting<WalkInForm>,
) -> Result<HttpResponse, AppError> {
    let site_id = SiteId(*path);
    let d = desk_for(&ctx, &state, site_id)?;
    form.id_number = form.id_number.trim().to_string();
    let lang = ctx.lang;
    let (details, slot_id) = match forms::parse_walkin(lang, &form) {
        Ok(parsed) => parsed,
        Err(errors) => {
            let shown = Shown::invalid(form, errors);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return show(ctx, &state, (site_id, shown), status).await;
        }
    };
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::walk_in(&st.db, &st.keys, &d, slot_id, &details))
    })
    .await?;
    let done = |a: Appointment| format!("/staff/checkin/{}?done=walk_in", a.code);
    answer(lang, outcome, done, wrong_site, |msg, status| {
        show(ctx, &state, (site_id, Shown::refused(form, msg)), status)
    })
    .await
}

// ---- wastage ----------------------------------------------------------------------------------

/// A site's wastage page with its form.
impl View for (SiteId, Shown<WasteForm>) {
    type Page = WastagePage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (site_id, shown) = self;
        desk_for(&ctx, state, site_id)?;
        let found = read(state, move |c, _| {
            desk_read::wastage(c, site_id)?.ok_or(AppError::NotFound)
        })
        .await?;
        Ok(pages::wastage_page(ctx, found, shown))
    }
}

/// `POST /staff/sites/{id}/wastage`.
pub async fn wastage_submit(
    path: web::Path<i64>,
    Acting(ctx, state, u, form): Acting<WasteForm>,
) -> Result<HttpResponse, AppError> {
    let site_id = SiteId(*path);
    let lang = ctx.lang;
    let w = match forms::parse_waste(lang, site_id, &form) {
        Ok(w) => w,
        Err(errors) => {
            let shown = Shown::invalid(form, errors);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return show(ctx, &state, (site_id, shown), status).await;
        }
    };
    let d = desk(&state, &u);
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::record_wastage(&st.db, &d, w))
    })
    .await?;
    let done = |()| format!("/staff/sites/{}?done=wastage", site_id.0);
    answer(lang, outcome, done, wrong_site, |msg, status| {
        show(ctx, &state, (site_id, Shown::refused(form, msg)), status)
    })
    .await
}

// ---- adverse reactions ------------------------------------------------------------------------

/// `GET /staff/vaccinations/{id}/reaction`: record a reaction after a dose.
pub async fn reaction_form(
    path: web::Path<i64>,
    Signed { ctx, state, .. }: Signed<Clinic>,
) -> Result<HttpResponse, AppError> {
    let form = ReactionForm {
        severity: "mild".into(),
        time: hm(state.settings.time_zone, state.now()),
        ..ReactionForm::default()
    };
    let shown = Shown::invalid(form, FormErrors::default());
    show(ctx, &state, (*path, shown), StatusCode::OK).await
}

/// The reaction page of the vaccination `id`, with its form.
impl View for (i64, Shown<ReactionForm>) {
    type Page = ReactionPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (vaccination_id, shown) = self;
        let d = desk(state, ctx.require(Role::Clinic)?);
        let rec = read(state, move |c, _| {
            desk_read::dose(c, vaccination_id)?.ok_or(AppError::NotFound)
        })
        .await?;
        if !d.staff.may_act_for(rec.vaccination.site_id) {
            return Err(AppError::Forbidden);
        }
        Ok(pages::reaction_page(ctx, rec, shown, d.tz))
    }
}

/// `POST /staff/vaccinations/{id}/reaction`.
pub async fn reaction_submit(
    path: web::Path<i64>,
    Acting(ctx, state, u, form): Acting<ReactionForm>,
) -> Result<HttpResponse, AppError> {
    let vaccination_id = *path;
    let lang = ctx.lang;
    let d = desk(&state, &u);
    let r = match forms::parse_reaction(lang, vaccination_id, &form, |t| d.today_at(t)) {
        Ok(r) => r,
        Err(errors) => {
            let shown = Shown::invalid(form, errors);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return show(ctx, &state, (vaccination_id, shown), status).await;
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
        let shown = Shown::refused(form, msg);
        show(ctx, &state, (vaccination_id, shown), status)
    })
    .await
}
