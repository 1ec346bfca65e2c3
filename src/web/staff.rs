//! The start page of the clinic role (the bureau's is its dashboard, `web::dashboard`). The
//! clinic desk itself (today's list, check-in from a resident's QR code, doses, walk-ins) is in
//! `web::clinic`.

use actix_web::HttpResponse;

use super::ctx::{Clinic, Signed};
use crate::error::AppError;

/// `GET /staff`: the clinic desk's start page: the user's site today (admins choose a site).
pub async fn clinic_home(signed: Signed<Clinic>) -> Result<HttpResponse, AppError> {
    super::clinic::start(signed).await
}
