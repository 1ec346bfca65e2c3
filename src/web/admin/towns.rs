//! Town pages: the list, adding, editing, deleting.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::forms::town_input;
use super::{explain, refused_status, run, Refusal, SetupForm};
use crate::error::AppError;
use crate::models::{site, town, Role, Town};
use crate::setup::{self, SetupError};
use crate::views::admin::{TownEditPage, TownForm, TownListRow, TownsPage};
use crate::views::FormErrors;
use crate::web::common::CsrfForm;
use crate::web::ctx::{Ctx, Visit};
use crate::web::respond::{html, html_status, see_other};
use crate::web::state::{read, AppState};

/// `GET /admin/towns`.
pub async fn towns(Visit { ctx, state }: Visit) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    towns_page(
        ctx,
        &state,
        TownForm::default(),
        FormErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn towns_page(
    ctx: Ctx,
    state: &web::Data<AppState>,
    form: TownForm,
    errors: FormErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (towns, sites) = read(state, |c, _| Ok((town::list_all(c)?, site::list_all(c)?))).await?;
    html_status(
        &TownsPage {
            towns: towns
                .into_iter()
                .map(|t| TownListRow {
                    sites: sites.iter().filter(|s| s.town_id == t.id).count(),
                    id: t.id.to_string(),
                    code: t.code,
                    name: t.name,
                    eligible: t.eligible,
                    contact_emails: t.contact_emails,
                    active: t.active,
                })
                .collect(),
            form,
            errors,
            ctx,
        },
        status,
    )
}

/// The town form: added on `/admin/towns`, edited (or deactivated) on the town's page.
impl SetupForm for TownForm {
    const LIST: &'static str = "/admin/towns";

    fn csrf(&self) -> &str {
        &self.csrf
    }

    fn save(&self, st: &AppState, id: Option<i64>, actor: &str) -> Result<i64, SetupError> {
        let input = town_input(self, id.is_none())?;
        setup::save_town(&st.db, id, input, actor, st.now())
    }

    async fn again(self, r: Refusal<'_>) -> Result<HttpResponse, AppError> {
        let Some(id) = r.id else {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return towns_page(r.ctx, r.state, self, r.errors, status).await;
        };
        let status = refused_status(&r.refusal);
        let page = TownEditPage {
            id: id.to_string(),
            form: self,
            errors: r.errors,
            refusal: r.refusal,
            ctx: r.ctx,
        };
        html_status(&page, status)
    }
}

/// `GET /admin/towns/{id}`.
pub async fn town_page(
    Visit { ctx, state }: Visit,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    let id = *path;
    let t = read(&state, move |c, _| {
        town::find(c, crate::ids::TownId(id))?.ok_or(AppError::NotFound)
    })
    .await?;
    let form = stored_form(t);
    html(&TownEditPage {
        id: id.to_string(),
        form,
        errors: FormErrors::default(),
        refusal: None,
        ctx,
    })
}

/// `POST /admin/towns/{id}/delete`: delete a town with no sites (others are deactivated).
pub async fn delete_town(
    Visit { ctx, state }: Visit,
    path: web::Path<i64>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.acting(Role::Admin, &form.csrf)?.username.clone();
    let id = *path;
    let outcome = run(&state, move |st| {
        setup::delete_town(&st.db, id, &actor, st.now())
    })
    .await?;
    match outcome {
        Ok(()) => Ok(see_other("/admin/towns")),
        Err(e) => {
            let (errors, refusal) = explain(ctx.lang, e)?;
            let t = read(&state, move |c, _| {
                town::find(c, crate::ids::TownId(id))?.ok_or(AppError::NotFound)
            })
            .await?;
            html_status(
                &TownEditPage {
                    id: id.to_string(),
                    form: stored_form(t),
                    errors,
                    refusal,
                    ctx,
                },
                StatusCode::CONFLICT,
            )
        }
    }
}

/// The town form showing a stored town.
fn stored_form(t: Town) -> TownForm {
    TownForm {
        code: t.code,
        name: t.name,
        name_en: t.name_en.unwrap_or_default(),
        eligible: t.eligible.to_string(),
        contact_emails: t.contact_emails,
        active: if t.active { "on".into() } else { String::new() },
        csrf: String::new(),
    }
}
