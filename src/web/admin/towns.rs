//! Town pages: the list, adding, editing, deleting.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::forms::town_input;
use super::{explain, Refusal, SetupForm};
use crate::error::AppError;
use crate::models::LocalName;
use crate::models::{site, town, Town};
use crate::setup::{self, SetupError};
use crate::views::admin::{TownEditPage, TownForm, TownListRow, TownsPage};
use crate::views::FormErrors;
use crate::web::ctx::{Acting, Admin, Button, Ctx, Signed};
use crate::web::respond::{html, html_status, redirect_or, refused_status, show, View};
use crate::web::state::{attempt, read, AppState};

/// `GET /admin/towns`.
pub async fn towns(Signed { ctx, state, .. }: Signed<Admin>) -> Result<HttpResponse, AppError> {
    let empty = (TownForm::default(), FormErrors::default());
    show(ctx, &state, empty, StatusCode::OK).await
}

/// The town list with the add form (empty, or again with its errors).
impl View for (TownForm, FormErrors) {
    type Page = TownsPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (towns, sites) =
            read(state, |c, _| Ok((town::list_all(c)?, site::list_all(c)?))).await?;
        let (form, errors) = self;
        Ok(TownsPage {
            towns: towns
                .into_iter()
                .map(|t| TownListRow {
                    sites: sites.iter().filter(|s| s.town_id == t.id).count(),
                    id: t.id.to_string(),
                    name: t.local_name(ctx.lang).to_string(),
                    code: t.code,
                    eligible: t.eligible,
                    contact_emails: t.contact_emails,
                    active: t.active,
                })
                .collect(),
            form,
            errors,
            ctx,
        })
    }
}

/// The town form: added on `/admin/towns`, edited (or deactivated) on the town's page.
impl SetupForm for TownForm {
    const LIST: &'static str = "/admin/towns";

    fn save(&self, st: &AppState, id: Option<i64>, actor: &str) -> Result<i64, SetupError> {
        let input = town_input(self, id.is_none())?;
        setup::save_town(&st.db, id, input, actor, st.now())
    }

    async fn again(self, r: Refusal<'_>) -> Result<HttpResponse, AppError> {
        let Some(id) = r.id else {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return show(r.ctx, r.state, (self, r.errors), status).await;
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
    path: web::Path<i64>,
    Signed { ctx, state, .. }: Signed<Admin>,
) -> Result<HttpResponse, AppError> {
    let id = *path;
    let form = stored_form(find_town(&state, id).await?);
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
    path: web::Path<i64>,
    Acting(ctx, state, user, _): Acting<Button<Admin>>,
) -> Result<HttpResponse, AppError> {
    let id = *path;
    let outcome = attempt(&state, move |st| {
        setup::delete_town(&st.db, id, &user.username, st.now())
    })
    .await?;
    redirect_or(
        outcome,
        |()| "/admin/towns".into(),
        |e| async move {
            let (errors, refusal) = explain(ctx.lang, e)?;
            let form = stored_form(find_town(&state, id).await?);
            let page = TownEditPage {
                id: id.to_string(),
                form,
                errors,
                refusal,
                ctx,
            };
            html_status(&page, StatusCode::CONFLICT)
        },
    )
    .await
}

/// The town `id`, or 404.
async fn find_town(state: &web::Data<AppState>, id: i64) -> Result<Town, AppError> {
    read(state, move |c, _| {
        town::find(c, crate::ids::TownId(id))?.ok_or(AppError::NotFound)
    })
    .await
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
