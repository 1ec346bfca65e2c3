//! The answers handlers share: a rendered page (with its status) and `303 See Other`.

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::ctx::Ctx;
use super::state::AppState;
use crate::error::AppError;

/// Render a page with status 200.
pub fn html<T: Template>(page: &T) -> Result<HttpResponse, AppError> {
    html_status(page, StatusCode::OK)
}

/// Render a page with a given status (422 for a form with errors, 409 for a refused booking).
/// The response is marked [`OwnPage`], so an error status keeps this page.
pub fn html_status<T: Template>(page: &T, status: StatusCode) -> Result<HttpResponse, AppError> {
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.render()?);
    res.extensions_mut().insert(OwnPage);
    Ok(res)
}

/// A page as a handler holds it before reading: what it shows besides what it reads (the form
/// again with its errors or refusal, the record it is about). [`show`] reads it and renders it
/// with a status: the one "read, build, answer with 200, 409 or 422" of the pages that show a
/// form again.
pub(crate) trait View {
    /// The page it becomes.
    type Page: Template;

    /// Read what the page needs and build it.
    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError>;
}

/// `view`'s page with `status`.
pub(crate) async fn show(
    ctx: Ctx,
    state: &web::Data<AppState>,
    view: impl View,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    html_status(&view.page(ctx, state).await?, status)
}

/// Marks a response whose body is the handler's own page (the form again with its message):
/// `web::middleware::render_errors` replaces error responses without it by the generic page.
#[derive(Debug, Clone, Copy)]
pub struct OwnPage;

/// A 303 See Other, the answer to every successful POST.
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to.to_string()))
        .finish()
}

/// The status of a form shown again after its POST was refused: 409 when a refusal is on top,
/// else 422 (errors next to its fields).
pub fn refused_status(refusal: &Option<String>) -> StatusCode {
    if refusal.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// A service's error as a form's POST meets it: the system's failure (never shown on the form)
/// or a refusal (shown, or answered with an error page of its own).
pub trait Failing: Into<AppError> {
    /// Whether this is the system's fault rather than the request's.
    fn is_internal(&self) -> bool;
}

/// The answer to a form's POST once its service has answered: `303` to `done(value)` when it
/// was carried out; the system's failure as its error; a refusal as `again` answers it (the
/// form again, with its errors and status, or a plain error page).
pub async fn redirect_or<T, E, Fut>(
    outcome: Result<T, E>,
    done: impl FnOnce(T) -> String,
    again: impl FnOnce(E) -> Fut,
) -> Result<HttpResponse, AppError>
where
    E: Failing,
    Fut: Future<Output = Result<HttpResponse, AppError>>,
{
    match outcome {
        Ok(v) => Ok(see_other(&done(v))),
        Err(e) if e.is_internal() => Err(e.into()),
        Err(e) => again(e).await,
    }
}
