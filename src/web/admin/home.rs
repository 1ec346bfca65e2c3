//! The administrator's start page (the set-up checklist, the latest audit entries) and
//! publishing every site's slots now.

use actix_web::{web, HttpResponse};

use super::explain;
use crate::error::AppError;
use crate::models::{audit, setup_progress};
use crate::setup;
use crate::views::admin::AdminHomePage;
use crate::web::ctx::{Acting, Admin, Button, Ctx, Signed};
use crate::web::respond::html;
use crate::web::state::{attempt, read, AppState};

/// `GET /admin`: the set-up checklist, publishing, the latest audit entries.
pub async fn home(Signed { ctx, state, .. }: Signed<Admin>) -> Result<HttpResponse, AppError> {
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
                    crate::i18n::stamp(tz, e.created_at),
                    format!("{} · {} · {}", e.actor, e.action, e.subject),
                )
            })
            .collect(),
        ctx,
    })
}

/// `POST /admin/publish`: publish every site's slots now (the daily job does the same).
pub async fn publish(
    Acting(ctx, state, user, _): Acting<Button<Admin>>,
) -> Result<HttpResponse, AppError> {
    let report = attempt(&state, move |st| {
        setup::publish_all(&st.db, st.settings.time_zone, st.now(), &user.username)
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
