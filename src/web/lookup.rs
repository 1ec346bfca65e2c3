//! Look-ups by a code and an ID number: `/find` (an appointment), `/entry/find` (a draw entry)
//! and their twins in the API. Wrong ID numbers are counted per code in `Limits::codes`; a code
//! that has had too many is refused for a while before any database work.

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::cookies;
use super::ctx::{Ctx, Posted};
use super::respond::{html_status, see_other};
use super::state::{blocking, AppState};
use crate::booking::{self, BookingError};
use crate::db::AnyConnection;
use crate::domain::{BookingCode, IdNumber};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::ids::AppointmentId;
use crate::models::Appointment;
use crate::views::FormErrors;

/// The look-up form: a code and an ID number (`/find`, `/entry/find`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LookupForm {
    pub code: String,
    pub id_number: String,
    pub csrf: String,
    /// `move` on `/find`: go on to the move page (nothing else is followed).
    pub then: String,
}

super::ctx::posted_form!(LookupForm);

/// A code (booking or entry) and an ID number from a look-up form, or the form's errors.
pub fn code_and_id(
    lang: Lang,
    code: &str,
    id_number: &str,
) -> Result<(BookingCode, IdNumber), FormErrors> {
    let mut errors = FormErrors::default();
    let mut note = |e: crate::domain::FieldError| errors.add(e.field, lang.t(e.key).to_string());
    let code = BookingCode::parse(code).map_err(&mut note).ok();
    let id = IdNumber::parse(id_number).map_err(&mut note).ok();
    match (code, id) {
        (Some(code), Some(id)) => Ok((code, id)),
        _ => Err(errors),
    }
}

/// The key wrong look-ups of a booking code are counted under in `Limits::codes`.
pub fn appointment_attempts_key(code: &BookingCode) -> String {
    code.as_str().to_string()
}

/// The key wrong look-ups of an entry code are counted under in `Limits::codes` (entry and
/// booking codes share an alphabet, so entry codes are kept apart by a prefix).
pub fn entry_attempts_key(code: &BookingCode) -> String {
    format!("entry:{}", code.as_str())
}

/// What came of a look-up: refused for `Wait(seconds)`, or done.
pub enum Attempt<T> {
    Wait(u64),
    Done(Result<T, BookingError>),
}

/// Look up under `key`, unless the code is waiting out its wrong guesses: `NotFound` counts as
/// one, a find clears the count, other refusals leave it alone.
pub async fn attempt<T, F>(
    state: &web::Data<AppState>,
    key: &str,
    find: F,
) -> Result<Attempt<T>, AppError>
where
    F: FnOnce(&AppState) -> Result<Result<T, BookingError>, AppError> + Send + 'static,
    T: Send + 'static,
{
    if let Some(wait) = state.limits.codes.wait(key) {
        return Ok(Attempt::Wait(wait));
    }
    let found = blocking(state, find).await?;
    match &found {
        Ok(_) => state.limits.codes.succeeded(key),
        Err(BookingError::NotFound) => state.limits.codes.failed(key),
        Err(_) => {}
    }
    Ok(Attempt::Done(found))
}

/// One of the look-up pages, and what it says.
pub struct LookupPage<P> {
    /// The key wrong guesses of a code are counted under.
    pub key: fn(&BookingCode) -> String,
    /// The catalogue keys of the refusals: too many wrong guesses, nothing found.
    pub too_many: &'static str,
    pub not_found: &'static str,
    /// The form again: the code as typed, its field errors, a refusal.
    pub page: fn(Ctx, String, FormErrors, Option<String>) -> P,
}

impl<P> LookupPage<P> {
    /// An appointment's look-up page (`/find`, `/household/find`): counted under the booking code,
    /// refused with the appointment's messages; its `find` is [`find_appointment`].
    pub const fn appointment(page: fn(Ctx, String, FormErrors, Option<String>) -> P) -> Self {
        LookupPage {
            key: appointment_attempts_key,
            too_many: "err.code_attempts",
            not_found: "err.find.not_found",
            page,
        }
    }
}

/// The appointment a booking code and an ID number find: the `find` of an appointment's look-up.
pub fn find_appointment(
    c: &mut AnyConnection,
    st: &AppState,
    code: &BookingCode,
    id: &IdNumber,
) -> Result<Appointment, BookingError> {
    booking::find_appointment(c, &st.keys, code, id).map(|(a, _)| a)
}

impl<P: Template> LookupPage<P> {
    /// The form as first shown.
    pub fn empty(&self, ctx: Ctx) -> Result<HttpResponse, AppError> {
        html_status(
            &(self.page)(ctx, String::new(), FormErrors::default(), None),
            StatusCode::OK,
        )
    }

    /// `POST` (its CSRF token checked by [`Posted`]): code + ID number, then `grant` what was
    /// found. Wrong and unknown give the same slow answer.
    pub async fn submit<T, F>(
        &self,
        Posted { ctx, state, form }: Posted<LookupForm>,
        find: F,
        grant: impl FnOnce(&AppState, T) -> HttpResponse,
    ) -> Result<HttpResponse, AppError>
    where
        F: FnOnce(
                &mut AnyConnection,
                &AppState,
                &BookingCode,
                &IdNumber,
            ) -> Result<T, BookingError>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let typed = form.code.clone();
        let (code, id) = match code_and_id(ctx.lang, &form.code, &form.id_number) {
            Ok(found) => found,
            Err(errors) => {
                let page = (self.page)(ctx, typed, errors, None);
                return html_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
            }
        };
        let key = (self.key)(&code);
        let outcome = attempt(&state, &key, move |st| {
            let mut c = st.db.read.get()?;
            Ok(find(&mut c, st, &code, &id))
        })
        .await?;
        let refusal = |ctx: Ctx, key: &str| {
            let refusal = Some(ctx.t(key).to_string());
            (self.page)(ctx, typed, FormErrors::default(), refusal)
        };
        match outcome {
            Attempt::Wait(wait) => {
                let page = refusal(ctx, self.too_many);
                let mut res = html_status(&page, StatusCode::TOO_MANY_REQUESTS)?;
                super::middleware::retry_after(&mut res, wait);
                Ok(res)
            }
            Attempt::Done(Ok(found)) => Ok(grant(&state, found)),
            Attempt::Done(Err(BookingError::NotFound)) => {
                actix_web::rt::time::sleep(std::time::Duration::from_millis(
                    state.settings.login_delay_ms / 2,
                ))
                .await;
                html_status(&refusal(ctx, self.not_found), StatusCode::NOT_FOUND)
            }
            Attempt::Done(Err(e)) => Err(e.into()),
        }
    }
}

/// The appointment a look-up (or a booking) granted this browser, from its private cookie.
pub fn granted(req: &HttpRequest, state: &AppState) -> Option<AppointmentId> {
    cookies::get_private(req, &state.keys.cookie, cookies::APPOINTMENT)?
        .parse()
        .ok()
}

/// The appointment this browser was granted, for its pages: without a grant the request is
/// sent to `/find` before the handler runs (taken last, so the other extractors' refusals come
/// first, as when the handler checked the grant itself).
pub struct Granted(pub AppointmentId);

impl FromRequest for Granted {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Granted, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>();
        let id = state.and_then(|state| granted(req, state));
        std::future::ready(id.map(Granted).ok_or_else(|| {
            InternalError::from_response("no appointment granted", see_other("/find")).into()
        }))
    }
}
