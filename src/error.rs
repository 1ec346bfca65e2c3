//! `AppError`: the one error type handlers return. Its *kind* decides the status and the page;
//! its *cause* (for 500s) goes only to the log. Pages are rendered in the request's language by
//! `web::middleware::render_errors`; JSON errors for `/api` are built in `web::api`. Services'
//! errors become `AppError` through [`Refused`], here and nowhere else.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// What went wrong, as the user should hear it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request could not be read.
    #[error("bad request")]
    BadRequest,
    /// 403: the CSRF token was missing or wrong.
    #[error("form expired or forged")]
    Csrf,
    /// 403: logged in without the right role.
    #[error("forbidden")]
    Forbidden,
    /// 303 to the login page, coming back to the given path afterwards.
    #[error("login required")]
    LoginRequired(String),
    /// 413: a body over the size limit.
    #[error("request too large")]
    TooLarge,
    /// 404.
    #[error("not found")]
    NotFound,
    /// 409: a booking rule refused the action; the key says which.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// 503 with `Retry-After`: the database did not answer in time (or refuses writes).
    #[error("the database is unavailable")]
    Unavailable,
    /// 500: the cause is logged, never shown. A cause that is a database outage
    /// (`db::is_outage_cause`) is answered as [`AppError::Unavailable`].
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

/// Seconds a client is asked to wait before retrying a 503.
pub const RETRY_AFTER_SECONDS: u32 = 5;

impl AppError {
    /// True for a database outage: status 503, "try again shortly", and `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            AppError::Unavailable => true,
            AppError::Internal(cause) => crate::db::is_outage_cause(cause.as_ref()),
            _ => false,
        }
    }

    /// The catalogue key of the page's message.
    pub fn key(&self) -> &'static str {
        if self.is_unavailable() {
            return "err.unavailable";
        }
        match self {
            AppError::BadRequest => "err.bad_request",
            AppError::Csrf => "err.csrf",
            AppError::Forbidden => "err.forbidden",
            AppError::NotFound => "err.not_found",
            AppError::LoginRequired(_) => "err.login_required",
            AppError::TooLarge => "err.too_large",
            AppError::Conflict(k) => k,
            AppError::Unavailable => "err.unavailable",
            AppError::Internal(_) => "err.internal",
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        if self.is_unavailable() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match self {
            AppError::BadRequest => StatusCode::BAD_REQUEST,
            AppError::Csrf | AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::LoginRequired(_) => StatusCode::SEE_OTHER,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::LoginRequired(next) = self {
            let to = format!("/login?next={}", crate::views::layout::encode(next));
            return HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, to))
                .finish();
        }
        // Replaced by the localised page in `render_errors`; this is the fallback.
        let mut res = HttpResponse::build(self.status_code());
        if self.is_unavailable() {
            res.insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECONDS));
        }
        res.content_type("text/plain; charset=utf-8")
            .body(self.status_code().to_string())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<crate::db::WriteError> for AppError {
    fn from(e: crate::db::WriteError) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

/// An error of a service (`BookingError`, `ClinicError`, `BureauError`, `SetupError`,
/// `HouseholdError`) as the web answers it: the catalogue key of its message (the services' own
/// [`Keyed`](crate::i18n::Keyed)) and its HTTP status. The services know nothing of HTTP: the
/// statuses are in `web::refusal`.
pub trait Refused: crate::i18n::Keyed + std::error::Error + Send + Sync + 'static {
    /// The status it is answered with: 404, 403, 409, 422 for refusals; 500 for a failure
    /// (a database outage among its causes is answered 503 by [`AppError`]).
    fn status(&self) -> StatusCode;
}

/// The one way a service's error becomes an answer: a failure keeps its cause for the log (and
/// for telling an outage), a refusal its key.
impl<R: Refused> From<R> for AppError {
    fn from(e: R) -> Self {
        match e.status() {
            StatusCode::NOT_FOUND => AppError::NotFound,
            StatusCode::FORBIDDEN => AppError::Forbidden,
            s if s.is_server_error() => AppError::Internal(e.into()),
            _ => AppError::Conflict(e.key()),
        }
    }
}
