//! The HTTP status of each service error ([`Refused`]): the one place the web gives the
//! services' refusals their meaning. `AppError`'s `From` (in `error.rs`) turns them into answers.

use actix_web::http::StatusCode;

use crate::booking::clinic::ClinicError;
use crate::booking::household::HouseholdError;
use crate::booking::BookingError;
use crate::bureau::BureauError;
use crate::error::Refused;
use crate::setup::SetupError;
use crate::web::respond::Failing;

impl Refused for BookingError {
    fn status(&self) -> StatusCode {
        match self {
            BookingError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            BookingError::NotFound | BookingError::SlotNotFound | BookingError::TownNotFound => {
                StatusCode::NOT_FOUND
            }
            _ => StatusCode::CONFLICT,
        }
    }
}

impl Refused for ClinicError {
    fn status(&self) -> StatusCode {
        match self {
            ClinicError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ClinicError::WrongSite => StatusCode::FORBIDDEN,
            ClinicError::NotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::CONFLICT,
        }
    }
}

impl Refused for BureauError {
    /// A stored plan that cannot be read (`Instance` from `load_plan`) is the system's fault;
    /// the plan pages show a failed planning as a refusal of their own (409).
    fn status(&self) -> StatusCode {
        match self {
            BureauError::Storage(_) | BureauError::Instance(_) => StatusCode::INTERNAL_SERVER_ERROR,
            BureauError::NotFound => StatusCode::NOT_FOUND,
            BureauError::Field { .. } | BureauError::Lot { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::CONFLICT,
        }
    }
}

impl Refused for SetupError {
    /// Field errors and refusals are shown on the form again (422, 409, by `web::admin`); what
    /// reaches `AppError` is a missing row, a bad import or the system's failure.
    fn status(&self) -> StatusCode {
        match self {
            SetupError::Storage(_) | SetupError::Hash(_) => StatusCode::INTERNAL_SERVER_ERROR,
            SetupError::NotFound => StatusCode::NOT_FOUND,
            SetupError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            SetupError::Import(_) => StatusCode::BAD_REQUEST,
            SetupError::Refused(_) => StatusCode::CONFLICT,
        }
    }
}

impl Refused for HouseholdError {
    /// Refusals are shown on the household page again (409, by `web::household`); what reaches
    /// `AppError` is a missing row or the system's failure.
    fn status(&self) -> StatusCode {
        match self {
            HouseholdError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            HouseholdError::Booking(e) => e.status(),
            _ => StatusCode::CONFLICT,
        }
    }
}

/// Each service's own test of a failure of the system.
macro_rules! failing {
    ($($error:ty),+) => {
        $(impl Failing for $error {
            fn is_internal(&self) -> bool {
                <$error>::is_internal(self)
            }
        })+
    };
}
failing!(
    BookingError,
    ClinicError,
    BureauError,
    SetupError,
    HouseholdError
);
