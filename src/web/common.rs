//! What the resident, staff and admin pages share: the CSRF-only form and the page shown while
//! the city is not set up yet.

use std::sync::Arc;

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

super::ctx::posted_form!(CsrfForm);

/// Whether any site has published a future slot (read through the one-second cache).
pub async fn published(state: &web::Data<AppState>) -> Result<bool, AppError> {
    let load = || read(state, |c, st| Ok(slot::any_published(c, st.now())?));
    let generation = state.db.generation();
    state
        .caches
        .published
        .get_or_load((), generation, load)
        .await
}

/// The active towns and sites (the home page, `/api/v1/towns`), through the one-second cache.
pub async fn town_list(state: &web::Data<AppState>) -> Result<super::cache::TownList, AppError> {
    use crate::models::{site, town};
    let load = || {
        read(state, |c, _| {
            Ok(Arc::new((town::list_active(c)?, site::list_active(c)?)))
        })
    };
    let generation = state.db.generation();
    state.caches.towns.get_or_load((), generation, load).await
}

/// `Some(page)` while no site has published slots: resident pages other than home show it.
pub async fn not_set_up(
    ctx: &Ctx,
    state: &web::Data<AppState>,
) -> Result<Option<HttpResponse>, AppError> {
    if published(state).await? {
        return Ok(None);
    }
    html_status(
        &NotSetUpPage { ctx: ctx.clone() },
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .map(Some)
}
