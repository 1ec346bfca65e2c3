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

use actix_web::web;

use actix_web::HttpResponse;

pub use crate::views::admin::{ProductForm, SiteForm, TownForm, UserForm};
staff_form!(Admin: SiteForm, TownForm, UserForm, crate::views::admin::ExceptionForm);
staff_form!(Bureau: ProductForm);
pub use home::{home, publish};
pub use import::{import, import_example, import_form, ImportForm};
pub use products::{product_page, products};
pub use sites::{add_exception, save_template, site_page, sites, DoneQuery};
pub use towns::{delete_town, town_page, towns};
pub use users::{reset_password, set_active, users, ActiveForm, PasswordForm};

use super::ctx::{staff_form, Acting, Admin, Bureau, Ctx, StaffForm};
use super::respond::redirect_or;
use super::state::{attempt, AppState};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::setup::SetupError;
use crate::views::FormErrors;

/// A set-up form that adds a record on its list page and edits one on the record's page
/// (towns, products, sites; users are only added): who may post it, how it is read and saved,
/// where a saved one leads, and how a refused one is shown again. [`create`] and [`update`] are
/// the one flow every such form goes through.
pub(crate) trait SetupForm: StaffForm + Clone + Send {
    /// The list page, where new records are added; a record's page is `LIST/{id}`.
    const LIST: &'static str;

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
pub(crate) async fn create<F: SetupForm>(posted: Acting<F>) -> Result<HttpResponse, AppError> {
    save(posted, None).await
}

/// `POST` of a record's page: edit it.
pub(crate) async fn update<F: SetupForm>(
    path: web::Path<i64>,
    posted: Acting<F>,
) -> Result<HttpResponse, AppError> {
    save(posted, Some(*path)).await
}

/// Read and save the form (role and CSRF checked by [`Acting`]); 303 to where it leads, or the
/// form again.
async fn save<F: SetupForm>(
    Acting(ctx, state, user, form): Acting<F>,
    id: Option<i64>,
) -> Result<HttpResponse, AppError> {
    let actor = user.username;
    let posted = form.clone();
    let outcome = attempt(&state, move |st| posted.save(st, id, &actor)).await?;
    let done = |saved| F::saved_to(id, saved);
    redirect_or(outcome, done, |e| async move {
        let (errors, refusal) = explain(ctx.lang, e)?;
        let shown = Refusal {
            ctx,
            state: &state,
            id,
            errors,
            refusal,
        };
        form.again(shown).await
    })
    .await
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
        Ok(input) => attempt(state, move |st| f(st, input)).await,
        Err(e) => Ok(Err(e)),
    }
}
