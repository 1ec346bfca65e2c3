//! City set-up pages for administrators (products also for the bureau): towns, products, sites
//! with their weekly template and exceptions, publishing slots, staff accounts, the CSV import.
//! Rules live in `setup/`.

mod forms;
mod home;
mod import;
mod products;
mod sites;
mod towns;
mod users;

use actix_web::http::StatusCode;
use actix_web::web;

pub use home::{home, publish};
pub use import::{import, import_example, import_form, ImportForm};
pub use products::{create_product, product_page, products, update_product};
pub use sites::{
    add_exception, create_site, save_template, site_page, sites, update_site, DoneQuery,
};
pub use towns::{create_town, delete_town, town_page, towns, update_town};
pub use users::{create_user, reset_password, set_active, users, ActiveForm, PasswordForm};

use super::state::{blocking, AppState};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::setup::SetupError;
use crate::views::FormErrors;

/// A set-up error as a page shows it: field errors next to fields, a refusal on top. Internal
/// errors and "not found" become `AppError`s.
fn explain(lang: Lang, e: SetupError) -> Result<(FormErrors, Option<String>), AppError> {
    let mut errors = FormErrors::default();
    match e {
        SetupError::Invalid(list) => {
            for e in list {
                errors.add(e.field, lang.t(e.key).to_string());
            }
            Ok((errors, None))
        }
        SetupError::Refused(key) => Ok((errors, Some(lang.t(key).to_string()))),
        SetupError::Import(_) => Err(AppError::BadRequest),
        other => Err(other.into()),
    }
}

/// The status of a page re-shown after a refused form.
fn refused_status(refusal: &Option<String>) -> StatusCode {
    if refusal.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// Run a set-up action off the async workers; the outer error is the system's, the inner the
/// request's.
async fn run<T, F>(state: &web::Data<AppState>, f: F) -> Result<Result<T, SetupError>, AppError>
where
    F: FnOnce(&AppState) -> Result<T, SetupError> + Send + 'static,
    T: Send + 'static,
{
    blocking(state, move |st| Ok::<_, AppError>(f(st))).await
}

/// Run a parsed set-up action off the async workers, or pass the form's errors on.
async fn run_parsed<I, T, F>(
    state: &web::Data<AppState>,
    parsed: Result<I, SetupError>,
    f: F,
) -> Result<Result<T, SetupError>, AppError>
where
    F: FnOnce(&AppState, I) -> Result<T, SetupError> + Send + 'static,
    I: Send + 'static,
    T: Send + 'static,
{
    match parsed {
        Ok(input) => run(state, move |st| f(st, input)).await,
        Err(e) => Ok(Err(e)),
    }
}
