//! What the resident, staff and admin pages share: the CSRF-only form and the page shown while
//! the city is not set up yet.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::ctx::Ctx;
use super::respond::html_status;
use super::state::{read, AppState};
use crate::error::AppError;
use crate::models::slot;
use crate::views::admin::NotSetUpPage;

/// A form with only the CSRF token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf: String,
}

/// `Some(page)` while no site has published slots: resident pages other than home show it.
pub async fn not_set_up(
    ctx: &Ctx,
    state: &web::Data<AppState>,
) -> Result<Option<HttpResponse>, AppError> {
    let open = state
        .caches
        .published
        .get_or_load((), state.db.generation(), || {
            read(state, |c, st| Ok(slot::any_published(c, st.now())?))
        })
        .await?;
    if open {
        return Ok(None);
    }
    html_status(
        &NotSetUpPage { ctx: ctx.clone() },
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .map(Some)
}
