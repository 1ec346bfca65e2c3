//! The vaccination record: `GET /record` (the resident of the appointment this browser was
//! granted), `GET /record/key` (the public key), `GET`/`POST /verify` (check a payload).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::ctx::{Ctx, Posted, Visit};
use super::lookup::Granted;
use super::respond::{html, html_status};
use super::state::{read, AppState};
use crate::domain::days::local_day;
use crate::domain::{PlainText, TextRule};
use crate::error::AppError;
use crate::ids::ResidentId;
use crate::models::{appointment, resident, vaccination};
use crate::record::{Dose, Record, RecordKey, Verdict};
use crate::views::record::{VerdictView, VerifyPage};
use crate::views::FormErrors;

fn record_key(state: &AppState) -> RecordKey {
    RecordKey::from_seed(&state.keys.record_seed)
}

/// `GET /record`: the doses of the resident whose appointment this browser holds, signed.
pub async fn record_page(
    Visit { ctx, state }: Visit,
    Granted(id): Granted,
) -> Result<HttpResponse, AppError> {
    let (r, doses) = read(&state, move |c, _| {
        let a = appointment::find(c, id)?.ok_or(AppError::NotFound)?;
        let r = resident::find(c, ResidentId(a.resident_id))?.ok_or(AppError::NotFound)?;
        let doses = vaccination::list_named_for_resident(c, ResidentId(r.id))?;
        Ok((r, doses))
    })
    .await?;
    let tz = state.settings.time_zone;
    let today = state.today();
    let rec = Record::issue(
        &r.name,
        &r.id_last4,
        today,
        doses
            .iter()
            .map(|(v, product, site)| {
                let day = local_day(tz, v.given_at);
                Dose::given(v.dose_number, &product.name, &v.lot, day, &site.name)
            })
            .collect(),
    );
    let payload = if rec.doses.is_empty() {
        String::new()
    } else {
        record_key(&state).sign(&rec)
    };
    let page = crate::views::record::record_page(ctx, tz, today, &r, doses, payload);
    html(&page)
}

/// `GET /record/key`: the public key records are checked against, base64url, one line.
pub async fn public_key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(format!("{}\n", record_key(&state).public()))
}

/// The verify form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VerifyForm {
    payload: String,
    csrf: String,
}

super::ctx::posted_form!(VerifyForm);

/// `GET /verify`: the form.
pub async fn verify_page(Visit { ctx, state }: Visit) -> Result<HttpResponse, AppError> {
    verify_answer(ctx, &state, String::new(), FormErrors::default(), None)
}

/// `POST /verify`: the verdict on a pasted payload.
pub async fn verify_submit(
    Posted { ctx, state, form }: Posted<VerifyForm>,
) -> Result<HttpResponse, AppError> {
    // Plain text of one line, as any field: other characters get the form again, saying so.
    let payload = match PlainText::parse(&form.payload, TextRule::line("payload", 1800).required())
    {
        Ok(p) => p.into_string(),
        Err(e) => {
            let mut errors = FormErrors::default();
            errors.add(e.field, ctx.t(e.key).to_string());
            return verify_answer(ctx, &state, String::new(), errors, None);
        }
    };
    let verdict = record_key(&state).verify(&payload);
    let view = VerdictView {
        valid: matches!(verdict, Verdict::Valid(_)),
        key: verdict.key(),
        record: match verdict {
            Verdict::Valid(r) => Some(r),
            _ => None,
        },
    };
    verify_answer(ctx, &state, payload, FormErrors::default(), Some(view))
}

/// The verify page: 422 when the payload field has an error, else 200.
fn verify_answer(
    ctx: Ctx,
    state: &AppState,
    payload: String,
    errors: FormErrors,
    verdict: Option<VerdictView>,
) -> Result<HttpResponse, AppError> {
    let key = record_key(state);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = VerifyPage {
        public_key: key.public(),
        key_id: key.key_id(),
        payload,
        errors,
        verdict,
        ctx,
    };
    html_status(&page, status)
}
