//! `POST /clinic/sync`: the actions a desk queued while it was offline (check-in with
//! screening, dose with lot, no-shows, wastage), each with an idempotency key. Each action is
//! the form it was typed into (the same fields, read by the same `forms` parsers) and is carried
//! out by the same `booking::clinic` function as the online form, so it meets the same rules;
//! each is answered accepted or refused with the catalogue reason. An accepted action's key is
//! stored in the action's own transaction (`Desk::sync`), a refused one's after it, so a repeated
//! key gets the stored answer and records nothing.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::forms::{self, NoShowForm};
use super::{check_in_slowed, desk_for, give_dose, refusal};
use crate::booking::clinic::{self as desk_ops, ClinicError, Desk, SyncKey, ACCEPTED, REFUSED};
use crate::domain::{parse_id, text, BookingCode};
use crate::error::AppError;
use crate::i18n::{Keyed, Lang};
use crate::ids::{SiteId, SlotId};
use crate::models::sync_action::{self, SyncAction};
use crate::views::clinic::{CheckinForm, DoseForm, WasteForm};
use crate::views::FormErrors;
use crate::web::ctx::Visit;
use crate::web::state::{blocking, read, AppState};

/// The most actions one request may carry (the desk's script sends fewer at a time).
pub const MAX_ACTIONS: usize = 50;

/// A batch of queued actions of one site (its id as a string: ids exceed JavaScript's exact
/// integers).
#[derive(Debug, Deserialize)]
pub struct SyncBatch {
    /// The session's CSRF token, when not sent as the `X-CSRF-Token` header.
    #[serde(default)]
    pub csrf: String,
    pub site: String,
    pub actions: Vec<QueuedAction>,
}

/// One queued action: its key, its kind (`check_in`, `dose`, `no_show`, `wastage`), the booking
/// code its form was about (check-in and dose) and the form's fields as typed.
#[derive(Debug, Deserialize)]
pub struct QueuedAction {
    pub key: String,
    pub kind: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub fields: serde_json::Value,
}

/// The answer to one action.
#[derive(Debug, Serialize)]
pub struct SyncAnswer {
    pub key: String,
    /// `accepted`, `refused`, or `error` (not carried out, not stored: send it again later).
    pub outcome: &'static str,
    /// The refusal's catalogue key.
    pub reason: String,
    /// The refusal as staff read it.
    pub message: String,
}

/// Why an action was not carried out.
enum NotDone {
    /// Refused by the desk's rules.
    Refused(ClinicError),
    /// The form as queued does not parse (the first mistake's message).
    Invalid(String),
    /// Wrong last-4 answers for this code: it must wait.
    Slowed,
}

const INVALID: &str = "clinic.sync.invalid";

impl NotDone {
    fn reason(&self) -> &'static str {
        match self {
            NotDone::Refused(e) => e.key(),
            NotDone::Invalid(_) => INVALID,
            NotDone::Slowed => "err.code_attempts",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            NotDone::Refused(e) => refusal(lang, e),
            NotDone::Invalid(m) => format!("{} {m}", lang.t(INVALID)),
            NotDone::Slowed => lang.t("err.code_attempts").to_string(),
        }
    }
}

fn invalid(e: FormErrors) -> NotDone {
    NotDone::Invalid(
        e.all()
            .first()
            .map(|(_, m)| m.to_string())
            .unwrap_or_default(),
    )
}

/// `POST /clinic/sync`: a clinic user of the batch's site (an admin for any), with the session's
/// CSRF token (the desk page's) in the `X-CSRF-Token` header or the body's `csrf`. Answers `{"results": [...]}` in the actions' order.
pub async fn sync(
    Visit { ctx, state }: Visit,
    req: HttpRequest,
    batch: web::Json<SyncBatch>,
) -> Result<HttpResponse, AppError> {
    let token = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&batch.csrf);
    ctx.require(crate::models::Role::Clinic)?;
    ctx.check_csrf(token)?;
    let batch = batch.into_inner();
    if batch.actions.len() > MAX_ACTIONS {
        return Err(AppError::TooLarge);
    }
    let site = SiteId(parse_id(&batch.site).ok_or(AppError::BadRequest)?);
    let d = desk_for(&ctx, &state, site)?;
    let mut results = Vec::with_capacity(batch.actions.len());
    for a in batch.actions {
        results.push(apply(ctx.lang, &state, &d, site, a).await?);
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "results": results })))
}

/// A key as the script makes them: 1 to 64 letters, digits, `-` or `_`.
fn parse_key(raw: &str) -> Option<String> {
    let k = text::clean(raw)?;
    let ok = (1..=64).contains(&k.len())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| k.to_string())
}

fn kind(raw: &str) -> Option<&'static str> {
    ["check_in", "dose", "no_show", "wastage"]
        .into_iter()
        .find(|k| *k == raw)
}

/// Carry out one action unless its key was answered before.
async fn apply(
    lang: Lang,
    state: &web::Data<AppState>,
    d: &Desk,
    site: SiteId,
    a: QueuedAction,
) -> Result<SyncAnswer, AppError> {
    let (Some(key), Some(kind)) = (parse_key(&a.key), kind(&a.kind)) else {
        // Nothing to store it under: refused, and not remembered.
        let message = lang.t(INVALID).to_string();
        return Ok(SyncAnswer {
            key: a.key.chars().take(64).collect(),
            outcome: REFUSED,
            reason: INVALID.into(),
            message,
        });
    };
    let user = d.staff.user_id;
    if let Some(stored) = stored(state, user, &key).await? {
        return Ok(answer_of(lang, stored, None));
    }
    let mut d = d.clone();
    d.sync = Some(SyncKey {
        key: key.clone(),
        site: site.0,
        kind,
    });
    let done = carry_out(lang, state, d.clone(), site, kind, a).await?;
    let (outcome, reason) = match &done {
        Ok(()) => (ACCEPTED, ""),
        Err(NotDone::Refused(e)) if e.is_internal() => ("error", ""),
        Err(e) => (REFUSED, e.reason()),
    };
    if outcome != "error" {
        // An accepted action stored its key already; this stores a refusal (or the answer of a
        // no-show run that found nobody to mark), unless a simultaneous repeat stored one first.
        let row = SyncAction {
            user_id: user,
            idempotency_key: key.clone(),
            site_id: site.0,
            kind: kind.into(),
            outcome: outcome.into(),
            reason: reason.into(),
            created_at: d.now,
        };
        blocking(state, move |st| {
            st.db
                .transaction(move |c| sync_action::insert_once(c, &row).map_err(ClinicError::from))
        })
        .await?;
    }
    match stored(state, user, &key).await? {
        Some(s) => Ok(answer_of(lang, s, done.err())),
        None => Ok(SyncAnswer {
            key,
            outcome: "error",
            reason: "err.internal".into(),
            message: lang.t("err.internal").to_string(),
        }),
    }
}

async fn stored(
    state: &web::Data<AppState>,
    user: i64,
    key: &str,
) -> Result<Option<SyncAction>, AppError> {
    let key = key.to_string();
    read(state, move |c, _| Ok(sync_action::find(c, user, &key)?)).await
}

/// The stored answer; `fresh` is the refusal just met (its message may say more than the key).
fn answer_of(lang: Lang, s: SyncAction, fresh: Option<NotDone>) -> SyncAnswer {
    let message = match (&fresh, s.outcome.as_str()) {
        (_, ACCEPTED) => String::new(),
        (Some(f), _) if f.reason() == s.reason => f.message(lang),
        _ => lang.t(&s.reason).to_string(),
    };
    SyncAnswer {
        key: s.idempotency_key,
        outcome: if s.outcome == ACCEPTED {
            ACCEPTED
        } else {
            REFUSED
        },
        reason: s.reason,
        message,
    }
}

fn form<F: serde::de::DeserializeOwned + Default>(fields: serde_json::Value) -> F {
    serde_json::from_value(fields).unwrap_or_default()
}

/// Parse the action's form with the online form's parser and carry it out.
async fn carry_out(
    lang: Lang,
    state: &web::Data<AppState>,
    d: Desk,
    site: SiteId,
    kind: &'static str,
    a: QueuedAction,
) -> Result<Result<(), NotDone>, AppError> {
    let code = BookingCode::parse(&a.code).map_err(|_| NotDone::Refused(ClinicError::UnknownCode));
    let done = match kind {
        "check_in" => {
            let code = match code {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            let f: CheckinForm = form(a.fields);
            let cmd = match forms::parse_checkin(lang, &code, &f, &d) {
                Ok(cmd) => cmd,
                Err(e) => return Ok(Err(invalid(e))),
            };
            match check_in_slowed(state, d, cmd).await? {
                Ok(outcome) => outcome.map(|_| ()).map_err(NotDone::Refused),
                Err(_) => Err(NotDone::Slowed),
            }
        }
        "dose" => {
            let code = match code {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            let f: DoseForm = form(a.fields);
            let (dose, time, lot) = match forms::parse_dose(lang, &f) {
                Ok(p) => p,
                Err(e) => return Ok(Err(invalid(e))),
            };
            let at = d.today_at(time);
            give_dose(state, d, code, lot, dose, at)
                .await?
                .map(|_| ())
                .map_err(NotDone::Refused)
        }
        "no_show" => {
            let f: NoShowForm = form(a.fields);
            let only = match text::clean(&f.slot) {
                Some("") => None,
                _ => match parse_id(&f.slot) {
                    Some(id) => Some(SlotId(id)),
                    None => return Ok(Err(NotDone::Refused(ClinicError::NotFound))),
                },
            };
            blocking(state, move |st| {
                Ok::<_, AppError>(desk_ops::mark_no_shows(&st.db, &d, site, only))
            })
            .await?
            .map(|_| ())
            .map_err(NotDone::Refused)
        }
        _ => {
            let f: WasteForm = form(a.fields);
            let w = match forms::parse_waste(lang, site, &f) {
                Ok(w) => w,
                Err(e) => return Ok(Err(invalid(e))),
            };
            blocking(state, move |st| {
                Ok::<_, AppError>(desk_ops::record_wastage(&st.db, &d, w))
            })
            .await?
            .map_err(NotDone::Refused)
        }
    };
    Ok(done)
}
