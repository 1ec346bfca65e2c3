//! Staff account pages: the list, adding, activating or deactivating, new passwords.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::forms::user_input;
use super::{explain, run_parsed, Refusal, SetupForm};
use crate::domain::city::Password;
use crate::error::AppError;
use crate::models::LocalName;
use crate::models::{site, user};
use crate::setup::{self, invalid, SetupError};
use crate::views::admin::{UserForm, UserRow, UsersPage};
use crate::views::FormErrors;
use crate::web::ctx::{staff_form, Acting, Admin, Ctx, Signed};
use crate::web::respond::{html_status, redirect_or, refused_status};
use crate::web::state::{attempt, read, AppState};

/// `GET /admin/users`.
pub async fn users(Signed { ctx, state, .. }: Signed<Admin>) -> Result<HttpResponse, AppError> {
    users_list(ctx, &state, None, None).await
}

/// The users page with a blank form, a message or a refusal on top.
async fn users_list(
    ctx: Ctx,
    state: &web::Data<AppState>,
    message: Option<String>,
    refusal: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (form, errors) = (UserForm::default(), FormErrors::default());
    users_page(ctx, state, form, errors, message, refusal).await
}

async fn users_page(
    ctx: Ctx,
    state: &web::Data<AppState>,
    form: UserForm,
    errors: FormErrors,
    message: Option<String>,
    refusal: Option<String>,
) -> Result<HttpResponse, AppError> {
    let status = if errors.is_empty() && refusal.is_none() {
        StatusCode::OK
    } else {
        refused_status(&refusal)
    };
    let me = ctx.user.as_ref().map_or(0, |u| u.id);
    let (list, sites) = read(state, |c, _| Ok((user::list(c)?, site::list_all(c)?))).await?;
    html_status(
        &UsersPage {
            users: list
                .into_iter()
                .map(|u| UserRow {
                    id: u.id.to_string(),
                    site: u
                        .site_id
                        .and_then(|sid| sites.iter().find(|s| s.id == sid))
                        .map(|s| s.local_name(ctx.lang).to_string())
                        .unwrap_or_default(),
                    is_me: u.id == me,
                    username: u.username,
                    role: u.role,
                    active: u.active,
                })
                .collect(),
            sites: sites
                .into_iter()
                .map(|s| (s.id.to_string(), s.local_name(ctx.lang).to_string()))
                .collect(),
            form: UserForm {
                password: String::new(),
                ..form
            },
            errors,
            message,
            refusal,
            ctx,
        },
        status,
    )
}

/// The user form: accounts are created on `/admin/users` (and never edited, only activated,
/// deactivated or given a new password).
impl SetupForm for UserForm {
    const LIST: &'static str = "/admin/users";

    fn save(&self, st: &AppState, _: Option<i64>, actor: &str) -> Result<i64, SetupError> {
        let by = setup::CreatedBy::Admin(actor);
        setup::create_user(&st.db, user_input(self)?, by, st.now())
    }

    async fn again(self, r: Refusal<'_>) -> Result<HttpResponse, AppError> {
        users_page(r.ctx, r.state, self, r.errors, None, r.refusal).await
    }
}

/// The activate/deactivate form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActiveForm {
    active: String,
    csrf: String,
}
staff_form!(Admin: ActiveForm, PasswordForm);

/// `POST /admin/users/{id}/active`: deactivate (ending their sessions at once) or reactivate.
pub async fn set_active(
    path: web::Path<i64>,
    Acting(ctx, state, me, form): Acting<ActiveForm>,
) -> Result<HttpResponse, AppError> {
    let id = *path;
    let active = match form.active.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(AppError::BadRequest),
    };
    let outcome = attempt(&state, move |st| {
        setup::set_user_active(&st.db, id, active, me.id, &me.username, st.now())
    })
    .await?;
    redirect_or(
        outcome,
        |()| "/admin/users".into(),
        |e| async move {
            let (_, refusal) = explain(ctx.lang, e)?;
            users_list(ctx, &state, None, refusal).await
        },
    )
    .await
}

/// The password reset form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    password: String,
    csrf: String,
}

/// `POST /admin/users/{id}/password`: set a new password and end the user's sessions.
pub async fn reset_password(
    path: web::Path<i64>,
    Acting(ctx, state, user, form): Acting<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let actor = user.username;
    let id = *path;
    let parsed = Password::parse(&form.password).map_err(|k| invalid("password", k));
    let outcome = run_parsed(&state, parsed, move |st, password| {
        setup::reset_password(&st.db, id, &password, &actor, st.now())
    })
    .await?;
    match outcome {
        Ok(()) => {
            let msg = ctx.t("user.password_reset").to_string();
            users_list(ctx, &state, Some(msg), None).await
        }
        Err(e) => {
            let (errors, refusal) = explain(ctx.lang, e)?;
            // A password too short or too long is a field error (422), shown on top of the list
            // where the row's form is; a refusal stays 409.
            let status = refused_status(&refusal);
            let refusal = refusal.or_else(|| errors.all().first().map(|(_, m)| m.to_string()));
            let mut res = users_list(ctx, &state, None, refusal).await?;
            *res.status_mut() = status;
            Ok(res)
        }
    }
}
