//! The vaccination record: `GET /record` (the resident of the appointment this browser was
//! granted), `GET /record/key` (the public key), `GET`/`POST /verify` (check a payload).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::cookies;
use super::ctx::Ctx;
use super::respond::{html, see_other};
use super::state::{read, AppState};
use crate::domain::days::local_day;
use crate::domain::IdNumber;
use crate::error::AppError;
use crate::i18n::day_label;
use crate::ids::{AppointmentId, ResidentId};
use crate::models::{appointment, resident, vaccination};
use crate::record::{self, Dose, Record, RecordKey, Verdict};
use crate::views::qr_svg;
use crate::views::record::{DoseLine, RecordPage, VerdictView, VerifyPage};

fn record_key(state: &AppState) -> RecordKey {
    RecordKey::from_seed(&state.keys.record_seed)
}

/// `GET /record`: the doses of the resident whose appointment this browser holds, signed.
pub async fn record_page(
    ctx: Ctx,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(id) = cookies::get_private(&req, &state.keys.cookie, cookies::APPOINTMENT)
        .and_then(|v| v.parse::<i64>().ok())
    else {
        return Ok(see_other("/find"));
    };
    let (r, doses) = read(&state, move |c, _| {
        let a = appointment::find(c, AppointmentId(id))?.ok_or(AppError::NotFound)?;
        let r = resident::find(c, ResidentId(a.resident_id))?.ok_or(AppError::NotFound)?;
        let doses = vaccination::list_named_for_resident(c, ResidentId(r.id))?;
        Ok((r, doses))
    })
    .await?;
    let tz = state.settings.time_zone;
    let today = state.today();
    let rec = Record {
        key_id: String::new(),
        name: r.name.clone(),
        id_last4: r.id_last4.clone(),
        issued: today.format("%Y-%m-%d").to_string(),
        doses: doses
            .iter()
            .map(|(v, product, site)| Dose {
                number: v.dose_number,
                product: product.clone(),
                lot: v.lot.clone(),
                date: local_day(tz, v.given_at).format("%Y-%m-%d").to_string(),
                site: site.clone(),
            })
            .collect(),
    };
    let payload = if rec.doses.is_empty() {
        String::new()
    } else {
        record_key(&state).sign(&rec)
    };
    let page = RecordPage {
        name: r.name,
        masked_id: IdNumber::mask_stored(&r.id_last4),
        issued: day_label(ctx.lang, today),
        doses: doses
            .into_iter()
            .map(|(v, product, site)| DoseLine {
                number: v.dose_number,
                product,
                lot: v.lot,
                day: day_label(ctx.lang, local_day(tz, v.given_at)),
                site,
            })
            .collect(),
        qr: if payload.is_empty() {
            String::new()
        } else {
            qr_svg(&payload)
        },
        payload,
        ctx,
    };
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

/// `GET /verify`: the form.
pub async fn verify_page(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    verify_answer(ctx, &state, String::new(), None)
}

/// `POST /verify`: the verdict on a pasted payload.
pub async fn verify_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    form: web::Form<VerifyForm>,
) -> Result<HttpResponse, AppError> {
    ctx.check_csrf(&form.csrf)?;
    let form = form.into_inner();
    let key = record_key(&state);
    let verdict = record::public_key(&key.public())
        .map(|public| record::verify(&form.payload, &public))
        .unwrap_or(Verdict::Unreadable);
    let view = VerdictView {
        valid: matches!(verdict, Verdict::Valid(_)),
        key: verdict.key(),
        record: match verdict {
            Verdict::Valid(r) => Some(r),
            _ => None,
        },
    };
    verify_answer(ctx, &state, form.payload, Some(view))
}

fn verify_answer(
    ctx: Ctx,
    state: &AppState,
    payload: String,
    verdict: Option<VerdictView>,
) -> Result<HttpResponse, AppError> {
    let key = record_key(state);
    html(&VerifyPage {
        public_key: key.public(),
        key_id: key.key_id(),
        payload,
        verdict,
        ctx,
    })
}
