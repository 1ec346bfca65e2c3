//! The administrator's start page (the set-up checklist, the latest audit entries) and
//! publishing every site's slots now.

use actix_web::{web, HttpResponse};

use super::{explain, run};
use crate::error::AppError;
use crate::models::{audit, setup_progress, Role};
use crate::setup;
use crate::views::admin::AdminHomePage;
use crate::views::local;
use crate::web::common::CsrfForm;
use crate::web::ctx::{Ctx, Visit};
use crate::web::respond::html;
use crate::web::state::{read, AppState};

/// `GET /admin`: the set-up checklist, publishing, the latest audit entries.
pub async fn home(Visit { ctx, state }: Visit) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    render_home(ctx, &state, None).await
}

async fn render_home(
    ctx: Ctx,
    state: &web::Data<AppState>,
    message: Option<String>,
) -> Result<HttpResponse, AppError> {
    let tz = state.settings.time_zone;
    let (p, recent) = read(state, |c, st| {
        Ok((setup_progress::count(c, st.now())?, audit::recent(c, 15)?))
    })
    .await?;
    html(&AdminHomePage {
        steps: vec![
            ("admin.step_towns", p.towns, "/admin/towns", p.towns > 0),
            (
                "admin.step_products",
                p.products,
                "/admin/products",
                p.products > 0,
            ),
            ("admin.step_sites", p.sites, "/admin/sites", p.sites > 0),
            (
                "admin.step_templates",
                p.templates,
                "/admin/sites",
                p.templates > 0,
            ),
            ("admin.step_slots", p.future_slots, "/", p.future_slots > 0),
            ("admin.step_users", p.users, "/admin/users", p.users > 1),
        ],
        message,
        audit: recent
            .into_iter()
            .map(|e| {
                (
                    local(tz, e.created_at).format("%Y-%m-%d %H:%M").to_string(),
                    format!("{} · {} · {}", e.actor, e.action, e.subject),
                )
            })
            .collect(),
        ctx,
    })
}

/// `POST /admin/publish`: publish every site's slots now (the daily job does the same).
pub async fn publish(
    Visit { ctx, state }: Visit,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.acting(Role::Admin, &form.csrf)?.username.clone();
    let report = run(&state, move |st| {
        setup::publish_all(&st.db, st.settings.time_zone, st.now(), &actor)
    })
    .await?;
    match report {
        Ok(r) => {
            let msg = ctx.tf(
                "admin.published",
                &[
                    ("created", &r.created.to_string()),
                    ("reshaped", &r.reshaped.to_string()),
                    ("withdrawn", &r.withdrawn.to_string()),
                ],
            );
            render_home(ctx, &state, Some(msg)).await
        }
        Err(e) => Err(explain(ctx.lang, e).err().unwrap_or(AppError::BadRequest)),
    }
}
