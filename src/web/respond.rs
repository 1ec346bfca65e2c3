//! The answers handlers share: a rendered page (with its status) and `303 See Other`.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

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
