//! `Ctx`, the extractor every page handler takes: the language, the CSRF token for its forms,
//! the logged-in user if any, and the path (for the language switch and login redirects): the
//! views' `Layout`, built from the request, plus the CSRF and role checks handlers make.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::cookies;
use super::state::{blocking, AppState};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::models::{user, Role};
use crate::security::{constant_time_eq, sha256_hex, Keys};
use crate::views::layout::{CurrentUser, Layout};
use crate::views::ErrorPage;

/// This request's CSRF token, checked (or minted) by the `csrf_cookie` middleware: the only
/// token forms may carry and `Ctx::check_csrf` accepts.
#[derive(Clone)]
pub struct CsrfToken(pub String);

/// What a CSRF token is bound to: the hash of the session token in the visitor's session cookie,
/// or "" without one. A login (new session) or logout therefore invalidates the old token.
pub fn csrf_binding(req: &HttpRequest, keys: &Keys) -> String {
    cookies::get_private(req, &keys.cookie, cookies::SESSION)
        .map(|t| sha256_hex(&t))
        .unwrap_or_default()
}

/// The CSRF token the middleware settled on for this request ("" on formless paths).
pub fn request_csrf(req: &HttpRequest) -> String {
    req.extensions()
        .get::<CsrfToken>()
        .map(|t| t.0.clone())
        .unwrap_or_default()
}

/// The request context handlers take: the views' [`Layout`] (language, CSRF token, path, user),
/// extracted here from the request, with the request's checks below.
pub type Ctx = Layout;

impl Ctx {
    /// Refuse a POST whose form token is not this request's token, which the server made for
    /// this browser's session (403, nothing changes).
    pub fn check_csrf(&self, submitted: &str) -> Result<(), AppError> {
        if !submitted.is_empty() && constant_time_eq(submitted, &self.csrf) {
            Ok(())
        } else {
            Err(AppError::Csrf)
        }
    }

    /// The logged-in user if they may act as `role`; otherwise a login redirect or 403.
    pub fn require(&self, role: Role) -> Result<&CurrentUser, AppError> {
        match &self.user {
            None => Err(AppError::LoginRequired(self.path.clone())),
            Some(u) if u.role.allows(role) => Ok(u),
            Some(_) => Err(AppError::Forbidden),
        }
    }

    /// The logged-in user if they may act as `role` and `csrf` is this request's token: what a
    /// staff form's POST checks first, in this order.
    pub fn acting(&self, role: Role, csrf: &str) -> Result<&CurrentUser, AppError> {
        let user = self.require(role)?;
        self.check_csrf(csrf)?;
        Ok(user)
    }
}

impl ErrorPage {
    /// The page for `status` with the message `key`, for a request that may have no `Ctx`.
    pub fn new(lang: Lang, req: &HttpRequest, status: u16, key: &str) -> ErrorPage {
        let ctx = Layout {
            lang,
            csrf: request_csrf(req),
            path: req.path().to_string(),
            user: None,
        };
        ErrorPage {
            message: lang.t(key),
            ctx,
            status,
        }
    }
}

/// The request's language: the cookie, then Accept-Language, then Chinese.
pub fn request_lang(req: &HttpRequest) -> Lang {
    req.cookie(cookies::LANG)
        .and_then(|c| Lang::from_code(c.value()))
        .or_else(|| {
            req.headers()
                .get("accept-language")
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default()
}

/// What page handlers take: the request's [`Ctx`] and the application's state, extracted
/// together (reading the `Ctx` needs the state's keys and database anyway).
pub struct Visit {
    pub ctx: Ctx,
    pub state: web::Data<AppState>,
}

impl FromRequest for Visit {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Visit, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let ctx = Ctx::from_request(req, payload);
        Box::pin(async move {
            let ctx = ctx.await?;
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("no AppState")))?;
            Ok(Visit { ctx, state })
        })
    }
}

/// A role as a type, for the extractors that check it: [`Signed`] and [`Acting`].
pub trait RoleOf: 'static {
    /// The role the user must be allowed to act as.
    const ROLE: Role;
}

/// Administrators.
pub struct Admin;
/// The health bureau (and administrators).
pub struct Bureau;
/// The clinic desk (and administrators).
pub struct Clinic;

impl RoleOf for Admin {
    const ROLE: Role = Role::Admin;
}
impl RoleOf for Bureau {
    const ROLE: Role = Role::Bureau;
}
impl RoleOf for Clinic {
    const ROLE: Role = Role::Clinic;
}

/// A page for staff acting as `R`: the [`Visit`] of a logged-in user who may act as `R`; anyone
/// else gets what [`Ctx::require`] answers (a login redirect or 403). Taken last by a handler,
/// so the path and query are read (and refused) first, as they were before the check.
pub struct Signed<R> {
    pub ctx: Ctx,
    pub state: web::Data<AppState>,
    pub user: CurrentUser,
    role: PhantomData<R>,
}

impl<R: RoleOf> FromRequest for Signed<R> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Signed<R>, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let visit = Visit::from_request(req, payload);
        Box::pin(async move {
            let Visit { ctx, state } = visit.await?;
            let user = ctx.require(R::ROLE)?.clone();
            Ok(Signed {
                ctx,
                state,
                user,
                role: PhantomData,
            })
        })
    }
}

/// A form posted from one of our pages: the CSRF token it carries.
pub trait PostedForm: DeserializeOwned + 'static {
    /// The token posted.
    fn csrf(&self) -> &str;
}

/// Forms whose token is their `csrf` field: `posted_form!(LoginForm, CsrfForm)`.
macro_rules! posted_form {
    ($($form:ty),+ $(,)?) => {
        $(impl $crate::web::ctx::PostedForm for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        })+
    };
}
pub(crate) use posted_form;

/// A staff form: who may post it (and, as every form, the CSRF token of the page it was on).
pub trait StaffForm: PostedForm {
    /// Who may post it.
    type Who: RoleOf;
}

/// Staff forms whose token is their `csrf` field: `staff_form!(Admin: ActiveForm, PasswordForm)`.
macro_rules! staff_form {
    ($who:ty: $($form:ty),+ $(,)?) => {
        $crate::web::ctx::posted_form!($($form),+);
        $(impl $crate::web::ctx::StaffForm for $form {
            type Who = $who;
        })+
    };
}
pub(crate) use staff_form;

/// A staff button: a form with only the CSRF token, for users who may act as `R`.
#[derive(Debug, Deserialize)]
pub struct Button<R> {
    #[serde(default)]
    csrf: String,
    #[serde(skip)]
    role: PhantomData<R>,
}

impl<R: RoleOf> PostedForm for Button<R> {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl<R: RoleOf> StaffForm for Button<R> {
    type Who = R;
}

/// A staff form's POST: the request's [`Ctx`], the application state, the user and the form
/// `F`, read, once the user may act as `F::Who` and the form carries this request's CSRF token
/// ([`Ctx::acting`]: the role first, then the token). What every staff, bureau and admin form
/// handler takes instead of checking by hand; taken last, like the form it replaces.
pub struct Acting<F>(pub Ctx, pub web::Data<AppState>, pub CurrentUser, pub F);

impl<F: StaffForm> FromRequest for Acting<F> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Acting<F>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Read together, as when a handler took both.
        let read = <(Visit, web::Form<F>)>::from_request(req, payload);
        Box::pin(async move {
            let (Visit { ctx, state }, form) = read.await?;
            let user = ctx.acting(F::Who::ROLE, form.csrf())?.clone();
            Ok(Acting(ctx, state, user, form.into_inner()))
        })
    }
}

/// A form's POST that needs no login (residents' forms, the login itself): the request's
/// [`Ctx`], the application state and the form `F`, read, once the form carries this request's
/// CSRF token (403 otherwise, and nothing is done). What every such handler takes instead of
/// checking by hand; taken last, like the form it replaces.
pub struct Posted<F> {
    pub ctx: Ctx,
    pub state: web::Data<AppState>,
    pub form: F,
}

impl<F: PostedForm> FromRequest for Posted<F> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Posted<F>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = <(Visit, web::Form<F>)>::from_request(req, payload);
        Box::pin(async move {
            let (Visit { ctx, state }, form) = read.await?;
            ctx.check_csrf(form.csrf())?;
            Ok(Posted {
                ctx,
                state,
                form: form.into_inner(),
            })
        })
    }
}

impl FromRequest for Ctx {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Ctx, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let lang = request_lang(req);
        let csrf = request_csrf(req);
        let path = match req.query_string() {
            "" => req.path().to_string(),
            q => format!("{}?{}", req.path(), q),
        };
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = state
            .as_ref()
            .and_then(|s| cookies::get_private(req, &s.keys.cookie, cookies::SESSION));
        Box::pin(async move {
            let user = match (state, token) {
                (Some(state), Some(token)) => {
                    let hash = sha256_hex(&token);
                    blocking(&state, move |st| {
                        let mut conn = st.db.read.get()?;
                        let u = user::find_session_user(&mut conn, &hash, st.now())?;
                        Ok::<_, AppError>(u.map(|u| CurrentUser {
                            id: u.id,
                            role: u.role(),
                            username: u.username,
                            site_id: u.site_id,
                            session_hash: hash,
                        }))
                    })
                    .await?
                }
                _ => None,
            };
            Ok(Ctx {
                lang,
                csrf,
                path,
                user,
            })
        })
    }
}
