//! `/find`: an appointment looked up by its code and the ID number it was booked with, which
//! grants this browser its pages; `?then=move` goes on to its move page (the link of the mail that
//! says the site moved it, which names no code or ID number).

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::ctx::{Ctx, Posted};
use super::lookup::{self, LookupForm, LookupPage};
use super::resident::grant_and_show;
use super::state::AppState;
use crate::error::AppError;
use crate::models::Appointment;
use crate::views::FindPage;

/// The appointment's look-up page; `FIND_TO_MOVE` leads on to the move page (`/find?then=move`,
/// the link of a mail saying the site moved the appointment: it names no code or ID number).
const FIND: LookupPage<FindPage> = find_page(false);
const FIND_TO_MOVE: LookupPage<FindPage> = find_page(true);

const fn find_page(to_move: bool) -> LookupPage<FindPage> {
    LookupPage::appointment(if to_move {
        |ctx, code, errors, refusal| FindPage {
            ctx,
            code,
            errors,
            refusal,
            to_move: true,
        }
    } else {
        |ctx, code, errors, refusal| FindPage {
            ctx,
            code,
            errors,
            refusal,
            to_move: false,
        }
    })
}

/// `?then=move` on `/find`: after the look-up, the move page.
#[derive(Deserialize)]
pub struct FindQuery {
    then: Option<String>,
}

/// `GET /find`.
pub async fn find_form(ctx: Ctx, q: web::Query<FindQuery>) -> Result<HttpResponse, AppError> {
    match q.then.as_deref() {
        Some("move") => FIND_TO_MOVE.empty(ctx),
        _ => FIND.empty(ctx),
    }
}

/// `POST /find`: code + ID number, then 303 to the appointment (or its move page when the form
/// says `then=move`). Both wrong and unknown give the same slow answer.
pub async fn find_submit(posted: Posted<LookupForm>) -> Result<HttpResponse, AppError> {
    let (page, to) = match posted.form.then.as_str() {
        "move" => (FIND_TO_MOVE, "/appointment/move"),
        _ => (FIND, "/appointment"),
    };
    let grant = move |st: &AppState, a: Appointment| grant_and_show(st, a.id, to);
    page.submit(posted, lookup::find_appointment, grant).await
}
