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

use actix_web::HttpResponse;
use serde::de::DeserializeOwned;

pub use crate::views::admin::{ProductForm, SiteForm, TownForm, UserForm};
pub use home::{home, publish};
pub use import::{import, import_example, import_form, ImportForm};
pub use products::{product_page, products};
pub use sites::{add_exception, save_template, site_page, sites, DoneQuery};
pub use towns::{delete_town, town_page, towns};
pub use users::{reset_password, set_active, users, ActiveForm, PasswordForm};

use super::ctx::{Ctx, Visit};
use super::respond::see_other;
use super::state::{blocking, AppState};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::models::Role;
use crate::setup::SetupError;
use crate::views::FormErrors;

/// A set-up form that adds a record on its list page and edits one on the record's page
/// (towns, products, sites; users are only added): who may post it, how it is read and saved,
/// where a saved one leads, and how a refused one is shown again. [`create`] and [`update`] are
/// the one flow every such form goes through.
pub(crate) trait SetupForm: DeserializeOwned + Clone + Send + 'static {
    /// Who may post it: set-up is the admin's (products also the bureau's).
    const ROLE: Role = Role::Admin;
    /// The list page, where new records are added; a record's page is `LIST/{id}`.
    const LIST: &'static str;

    /// The form's CSRF token.
    fn csrf(&self) -> &str;

    /// Read the form and save it as `actor`, a new record (`id` None) or the record `id`, in one
    /// audited transaction: the record's id.
    fn save(&self, st: &AppState, id: Option<i64>, actor: &str) -> Result<i64, SetupError>;

    /// Where a saved record leads (`303`).
    fn saved_to(id: Option<i64>, saved: i64) -> String {
        let _ = saved;
        match id {
            Some(id) => format!("{}/{id}", Self::LIST),
            None => Self::LIST.to_string(),
        }
    }

    /// The refused form again, on the page it came from.
    async fn again(self, shown: Refusal<'_>) -> Result<HttpResponse, AppError>;
}

/// What a refused set-up form is shown again with.
pub(crate) struct Refusal<'a> {
    pub ctx: Ctx,
    pub state: &'a web::Data<AppState>,
    /// The record edited (None: a new one).
    pub id: Option<i64>,
    /// The messages next to the fields.
    pub errors: FormErrors,
    /// The refusal on top.
    pub refusal: Option<String>,
}

/// `POST` of a set-up form's list page: add a record.
pub(crate) async fn create<F: SetupForm>(
    visit: Visit,
    form: web::Form<F>,
) -> Result<HttpResponse, AppError> {
    save(visit, None, form.into_inner()).await
}

/// `POST` of a record's page: edit it.
pub(crate) async fn update<F: SetupForm>(
    visit: Visit,
    path: web::Path<i64>,
    form: web::Form<F>,
) -> Result<HttpResponse, AppError> {
    save(visit, Some(*path), form.into_inner()).await
}

/// Role, then CSRF; read and save the form; 303 to where it leads, or the form again.
async fn save<F: SetupForm>(
    Visit { ctx, state }: Visit,
    id: Option<i64>,
    form: F,
) -> Result<HttpResponse, AppError> {
    let actor = ctx.acting(F::ROLE, form.csrf())?.username.clone();
    let posted = form.clone();
    let outcome = run(&state, move |st| posted.save(st, id, &actor)).await?;
    match outcome {
        Ok(saved) => Ok(see_other(&F::saved_to(id, saved))),
        Err(e) => {
            let (errors, refusal) = explain(ctx.lang, e)?;
            let shown = Refusal {
                ctx,
                state: &state,
                id,
                errors,
                refusal,
            };
            form.again(shown).await
        }
    }
}

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
