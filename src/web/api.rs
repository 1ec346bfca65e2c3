//! The JSON API under `/api/v1` (integrations such as a mini-program, and our load tests).
//! Errors are JSON: 400 malformed, 404, 409 refused by a booking rule, 422 invalid field.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::cache::Rendered;
use super::ctx::request_lang;
use super::lookup::{self, Attempt};
use super::resident::refusal_message;
use super::state::{blocking, blocking_with, AppState, Patience};
use crate::booking::{self, BookingError, ResidentDetails};
use crate::domain::{
    parse_date, parse_id, BookingCode, Email, FieldError, IdNumber, PersonName, Phone,
};
use crate::error::{AppError, Refused};
use crate::i18n::{Keyed, Lang};
use crate::ids::{SiteId, SlotId, TownId};
use crate::models::Slot;
use crate::views::day_bounds;

/// An API error with its JSON body.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: String,
    field: Option<&'static str>,
    /// More members of the body: a machine-readable `code` and what goes with it.
    extra: Vec<(&'static str, serde_json::Value)>,
}

impl ApiError {
    fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            field: None,
            extra: Vec::new(),
        }
    }

    /// 422 naming the field that was refused.
    fn field(lang: Lang, e: FieldError) -> ApiError {
        ApiError {
            field: Some(e.field),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, lang.t(e.key))
        }
    }

    /// 429 for a code tried with too many wrong ID numbers (`web::limits::CodeAttempts`).
    fn too_many_attempts(lang: Lang, wait: u64) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, lang.t("err.code_attempts"))
            .with("code", "too_many_attempts")
            .with("retry_after", wait)
    }

    fn with(mut self, key: &'static str, value: impl Into<serde_json::Value>) -> ApiError {
        self.extra.push((key, value.into()));
        self
    }

    /// A refusal of a booking or an entry, with the fair release's codes: `not_open` (and
    /// `opens_at`), `draw_running`, `already_entered`, `contact_cap`, `no_stock`.
    fn refused(lang: Lang, tz: chrono_tz::Tz, e: BookingError) -> ApiError {
        let iso = |t| crate::views::local(tz, t).to_rfc3339();
        let message = super::resident::refusal_text(lang, tz, &e);
        let code = match &e {
            BookingError::NotOpen(_) => "not_open",
            BookingError::DrawPending(_) => "draw_running",
            BookingError::AlreadyEntered => "already_entered",
            BookingError::ContactCap => "contact_cap",
            BookingError::NoStock => "no_stock",
            _ => return ApiError::booking(lang, e),
        };
        let answer = ApiError::new(StatusCode::CONFLICT, message).with("code", code);
        match e {
            BookingError::NotOpen(at) => answer.with("opens_at", iso(at)),
            BookingError::DrawPending(id) => answer.with("draw", id.to_string()),
            _ => answer,
        }
    }

    /// Any other refusal of a booking: the status `Refused` gives it (404, 409), but a slot that
    /// does not exist, which the API names as the body's field (422).
    fn booking(lang: Lang, e: BookingError) -> ApiError {
        match e {
            BookingError::SlotNotFound => {
                ApiError::field(lang, FieldError::new("slot_id", e.key()))
            }
            e if e.is_internal() && crate::db::is_outage_cause(&e) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, lang.t("err.unavailable"))
            }
            e if e.is_internal() => {
                tracing::error!(error = %e, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, lang.t("err.internal"))
            }
            e => ApiError::new(e.status(), refusal_message(lang, &e)),
        }
    }

    /// The handler for bodies that are not valid JSON of the expected shape, or too large.
    pub fn from_json(
        err: actix_web::error::JsonPayloadError,
        req: &HttpRequest,
    ) -> actix_web::Error {
        let lang = request_lang(req);
        let e = match err {
            actix_web::error::JsonPayloadError::Overflow { .. }
            | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, lang.t("err.too_large"))
            }
            _ => ApiError::new(StatusCode::BAD_REQUEST, lang.t("err.bad_json")),
        };
        e.into()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.error)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = match self.field {
            Some(f) => serde_json::json!({ "error": self.error, "field": f }),
            None => serde_json::json!({ "error": self.error }),
        };
        for (k, v) in &self.extra {
            body[*k] = v.clone();
        }
        let mut res = HttpResponse::build(self.status);
        if let Some(wait) = body.get("retry_after").and_then(serde_json::Value::as_u64) {
            res.insert_header((actix_web::http::header::RETRY_AFTER, wait.max(1)));
        }
        res.json(body)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match &e {
            AppError::Internal(cause) if e.is_unavailable() => {
                tracing::warn!(error = %format!("{cause:#}"), "database unavailable");
            }
            AppError::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "internal error");
            }
            _ => {}
        }
        ApiError::new(e.status_code(), Lang::En.t(e.key()))
    }
}

#[derive(Serialize)]
struct ApiSite {
    id: SiteId,
    name: String,
    /// The English name and address when the city has given them (null otherwise).
    name_en: Option<String>,
    address: String,
    address_en: Option<String>,
}

#[derive(Serialize)]
struct ApiTown {
    id: TownId,
    name: String,
    name_en: Option<String>,
    sites: Vec<ApiSite>,
}

/// `GET /api/v1/towns`.
pub async fn towns(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let list = super::common::town_list(&state).await?;
    let (towns, sites) = &*list;
    let out: Vec<ApiTown> = towns
        .iter()
        .map(|t| ApiTown {
            id: TownId(t.id),
            sites: sites
                .iter()
                .filter(|s| s.town_id == t.id)
                .map(|s| ApiSite {
                    id: SiteId(s.id),
                    name: s.name.clone(),
                    name_en: s.name_en.clone(),
                    address: s.address.clone(),
                    address_en: s.address_en.clone(),
                })
                .collect(),
            name: t.name.clone(),
            name_en: t.name_en.clone(),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=30"))
        .json(out))
}

/// Query of `GET /api/v1/availability`.
#[derive(Deserialize)]
pub struct AvailabilityQuery {
    site: Option<String>,
    date: Option<String>,
}

#[derive(Serialize)]
struct ApiSlot {
    id: SlotId,
    starts_at: String,
    ends_at: String,
    product: String,
    seats: i32,
    free_first_dose: i32,
    free_second_dose: i32,
    /// When the slot can be booked (entered, with a draw); `null`: since it was published.
    opens_at: Option<String>,
    /// While the slot's draw is scheduled or running: when its window closes.
    #[serde(skip_serializing_if = "Option::is_none")]
    draw_closes_at: Option<String>,
    /// The slot's draw, if it has one (`GET /api/v1/draws/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    draw: Option<String>,
}

/// `GET /api/v1/availability?site=ID&date=YYYY-MM-DD`: served from a one-second cache
/// (`web::cache`), cacheable by clients for a second, with an `ETag` (middleware).
pub async fn availability(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let lang = request_lang(&req);
    let bad =
        |field: &'static str| ApiError::field(lang, FieldError::new(field, "err.field_invalid"));
    let site_id: i64 = q
        .site
        .as_deref()
        .and_then(parse_id)
        .ok_or_else(|| bad("site"))?;
    // Bounded (2000-2100): PostgreSQL cannot store every date chrono can parse.
    let date = match q.date.as_deref() {
        Some(d) => parse_date(d, "date").map_err(|e| ApiError::field(lang, e))?,
        None => state.today(),
    };
    let now = state.now();
    // The body is made once per site, day and second (and this process's writes): read the
    // generation first, so a write committed meanwhile makes the next request make it again.
    let generation = state.db.generation();
    let key = (site_id, date);
    let fresh = |r: &Rendered| r.due_at.is_none_or(|due| now < due);
    let rendered = match state.caches.availability.get(&key, generation) {
        Some(hit) if fresh(&hit) => hit,
        _ => {
            let (rendered, read_at) = render_availability(&state, site_id, date).await?;
            if fresh(&rendered) {
                state
                    .caches
                    .availability
                    .put_stamped(key, generation, read_at, rendered.clone());
            }
            rendered
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=1"))
        .insert_header((actix_web::http::header::ETAG, rendered.etag.clone()))
        .content_type(actix_web::http::header::ContentType::json())
        .body(rendered.body.clone()))
}

/// The availability JSON of a site's day, its tag, when a draw among it comes due, and when
/// the data it was made from was read.
async fn render_availability(
    state: &web::Data<AppState>,
    site_id: i64,
    date: chrono::NaiveDate,
) -> Result<(Arc<Rendered>, std::time::Instant), ApiError> {
    #[derive(Serialize)]
    struct Body<'a> {
        site: SiteId,
        date: String,
        slots: &'a [ApiSlot],
    }
    let tz = state.settings.time_zone;
    let (from, to) = day_bounds(tz, date);
    let context = super::draw::site_context(state, SiteId(site_id)).await?;
    let products = &context.2;
    let (day, read_at) = super::draw::slots_and_draws(state, SiteId(site_id), from, to).await?;
    let (slots, draws, stock) = &*day;
    let rules = state.rules();
    let iso = |t| crate::views::local(tz, t).to_rfc3339();
    let draw_of = |s: &Slot| {
        draws
            .iter()
            .find(|d| Some(d.opens_at) == s.opens_at && d.site_id == s.site_id)
    };
    let out: Vec<ApiSlot> = slots
        .iter()
        .map(|s: &Slot| ApiSlot {
            opens_at: s.opens_at.map(iso),
            draw_closes_at: draw_of(s)
                .filter(|d| !d.is_done())
                .map(|d| iso(d.closes_at)),
            draw: draw_of(s).map(|d| d.id.to_string()),
            id: SlotId(s.id),
            starts_at: iso(s.starts_at),
            ends_at: iso(s.ends_at),
            product: products
                .iter()
                .find(|p| p.id == s.product_id)
                .map(|p| p.code.clone())
                .unwrap_or_default(),
            seats: s.seats,
            free_first_dose: if s.starts_at > rules.now {
                crate::models::stock::offered_first(s, rules.now, rules.release_hours, stock)
            } else {
                0
            },
            free_second_dose: if s.starts_at > rules.now {
                s.free_second()
            } else {
                0
            },
        })
        .collect();
    let body = serde_json::to_vec(&Body {
        site: SiteId(site_id),
        date: date.format("%Y-%m-%d").to_string(),
        slots: &out,
    })
    .map_err(|e| AppError::Internal(e.into()))?;
    let etag = actix_web::http::header::HeaderValue::from_str(&super::middleware::weak_etag(&body))
        .map_err(|e| AppError::Internal(e.into()))?;
    let due_at = draws
        .iter()
        .filter(|d| !d.is_done())
        .map(|d| d.closes_at)
        .min();
    let rendered = Rendered {
        body: body.into(),
        etag,
        due_at,
    };
    Ok((Arc::new(rendered), read_at))
}

/// An id sent as a JSON string or number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StrOrInt {
    S(String),
    N(i64),
}

impl StrOrInt {
    fn as_i64(&self) -> Option<i64> {
        match self {
            StrOrInt::S(s) => parse_id(s),
            StrOrInt::N(n) => Some(*n),
        }
    }
}

/// The resident in a booking request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiResident {
    id_number: String,
    name: String,
    phone: String,
    email: String,
}

/// A JSON call of the API: the request's language, the application state and the body `B`,
/// read in that order (a body that is not `B` is answered by [`ApiError::from_json`]).
pub struct ApiCall<B> {
    lang: Lang,
    state: web::Data<AppState>,
    body: B,
}

impl<B: DeserializeOwned + 'static> FromRequest for ApiCall<B> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<ApiCall<B>, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let lang = request_lang(req);
        let read = <(web::Data<AppState>, web::Json<B>)>::from_request(req, payload);
        Box::pin(async move {
            let (state, body) = read.await?;
            let body = body.into_inner();
            Ok(ApiCall { lang, state, body })
        })
    }
}

/// `POST /api/v1/appointments` body.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiBookRequest {
    slot_id: Option<StrOrInt>,
    dose_number: Option<i64>,
    resident: Option<ApiResident>,
    /// For a draw entry: another site of the same town will do if none is left at this one.
    any_site_in_town: Option<bool>,
}

#[derive(Serialize)]
struct ApiBooked {
    code: String,
    slot_id: SlotId,
    starts_at: String,
    dose_number: i32,
}

/// `POST /api/v1/appointments`: 201 with the booking code.
pub async fn book(
    ApiCall { lang, state, body }: ApiCall<ApiBookRequest>,
) -> Result<HttpResponse, ApiError> {
    let slot_id = body
        .slot_id
        .as_ref()
        .and_then(StrOrInt::as_i64)
        .ok_or_else(|| ApiError::field(lang, FieldError::new("slot_id", "err.field_invalid")))?;
    let dose = body
        .dose_number
        .and_then(|n| i32::try_from(n).ok())
        .filter(|n| (1..=10).contains(n))
        .ok_or_else(|| ApiError::field(lang, FieldError::new("dose_number", "err.dose_number")))?;
    let r = body.resident.unwrap_or_default();
    let prefix = |e: FieldError| ApiError::field(lang, e);
    let details = ResidentDetails {
        id_number: IdNumber::parse(&r.id_number).map_err(prefix)?,
        name: PersonName::parse(&r.name).map_err(prefix)?,
        phone: Phone::parse(&r.phone).map_err(prefix)?,
        email: Email::parse(&r.email).map_err(prefix)?,
        lang: lang.code().to_string(),
    };
    let any_site_in_town = body.any_site_in_town.unwrap_or(false);
    let outcome =
        super::state::book_or_enter(&state, SlotId(slot_id), dose, any_site_in_town, details)
            .await?;
    let tz = state.settings.time_zone;
    let b = match outcome.map_err(|e| ApiError::refused(lang, tz, e))? {
        booking::draw::Outcome::Booked(b) => b,
        booking::draw::Outcome::Entered(e) => {
            let iso = |t| crate::views::local(tz, t).to_rfc3339();
            return Ok(HttpResponse::Accepted().json(serde_json::json!({
                "entry": e.entry.code,
                "draw_at": iso(e.draw.closes_at),
                "draw": e.draw.id.to_string(),
                "slot_id": SlotId(e.entry.slot_id),
                "dose_number": e.entry.dose_number,
            })));
        }
    };
    Ok(HttpResponse::Created().json(ApiBooked {
        code: b.appointment.code,
        slot_id: SlotId(b.slot.id),
        starts_at: crate::views::local(tz, b.slot.starts_at).to_rfc3339(),
        dose_number: b.appointment.dose_number,
    }))
}

/// Body of lookup and cancel: the code and the ID number, never in the URL.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiCodeRequest {
    code: String,
    id_number: String,
}

#[derive(Serialize)]
struct ApiAppointment {
    code: String,
    status: String,
    slot_id: SlotId,
    site_id: SiteId,
    starts_at: String,
    dose_number: i32,
}

async fn find(
    lang: Lang,
    state: &web::Data<AppState>,
    body: ApiCodeRequest,
) -> Result<crate::models::Appointment, ApiError> {
    let code = BookingCode::parse(&body.code).map_err(|e| ApiError::field(lang, e))?;
    let key = lookup::appointment_attempts_key(&code);
    attempted(lang, state, (code, key), &body.id_number, |st, code, id| {
        let mut c = st.db.read.get()?;
        Ok(lookup::find_appointment(&mut c, st, code, id))
    })
    .await
}

/// A look-up by a code (with the key its wrong guesses are counted under) and the ID number
/// typed, through [`lookup::attempt`], as the API answers it.
async fn attempted<T, F>(
    lang: Lang,
    state: &web::Data<AppState>,
    (code, key): (BookingCode, String),
    id_number: &str,
    find: F,
) -> Result<T, ApiError>
where
    F: FnOnce(&AppState, &BookingCode, &IdNumber) -> Result<Result<T, BookingError>, AppError>
        + Send
        + 'static,
    T: Send + 'static,
{
    let id = IdNumber::parse(id_number).map_err(|e| ApiError::field(lang, e))?;
    let found = lookup::attempt(state, &key, move |st| find(st, &code, &id)).await?;
    match found {
        Attempt::Wait(wait) => Err(ApiError::too_many_attempts(lang, wait)),
        Attempt::Done(found) => found.map_err(|e| ApiError::booking(lang, e)),
    }
}

fn appointment_json(state: &AppState, a: crate::models::Appointment) -> HttpResponse {
    HttpResponse::Ok().json(ApiAppointment {
        code: a.code,
        status: a.status,
        slot_id: SlotId(a.slot_id),
        site_id: SiteId(a.site_id),
        starts_at: crate::views::local(state.settings.time_zone, a.starts_at).to_rfc3339(),
        dose_number: a.dose_number,
    })
}

/// `POST /api/v1/appointments/lookup`.
pub async fn lookup(
    ApiCall { lang, state, body }: ApiCall<ApiCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let a = find(lang, &state, body).await?;
    Ok(appointment_json(&state, a))
}

/// `POST /api/v1/appointments/cancel`.
pub async fn cancel(
    ApiCall { lang, state, body }: ApiCall<ApiCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let a = find(lang, &state, body).await?;
    let id = crate::ids::AppointmentId(a.id);
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(st.cancel(id).and_then(|_| {
            let mut c = st.db.read.get()?;
            crate::models::appointment::find(&mut c, id)?.ok_or(BookingError::NotFound)
        }))
    })
    .await?;
    let a = outcome.map_err(|e| ApiError::booking(lang, e))?;
    Ok(appointment_json(&state, a))
}

/// Body of the entry lookup: the entry code and the ID number, never in the URL.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiEntryRequest {
    entry: String,
    id_number: String,
}

/// `POST /api/v1/entries/lookup`: `{"entry","status","booking_code","draw_at","draw"}`; a
/// waiting entry whose window has closed has its draw run first. 404 when code and ID number
/// do not match.
pub async fn entry_lookup(
    ApiCall { lang, state, body }: ApiCall<ApiEntryRequest>,
) -> Result<HttpResponse, ApiError> {
    let code = BookingCode::parse(&body.entry)
        .map_err(|e| ApiError::field(lang, FieldError::new("entry", e.key)))?;
    let key = lookup::entry_attempts_key(&code);
    let es = attempted(
        lang,
        &state,
        (code, key),
        &body.id_number,
        |st, code, id| {
            let entry = {
                let mut c = st.db.read.get()?;
                match booking::draw::find_entry(&mut c, &st.keys, code, id) {
                    Ok(e) => e,
                    Err(e) => return Ok(Err(e)),
                }
            };
            Ok(booking::draw::entry_state(
                &st.db,
                &|| st.rules(),
                st.settings.contact_day_cap,
                entry.id,
            ))
        },
    )
    .await?;
    let iso = |t| crate::views::local(state.settings.time_zone, t).to_rfc3339();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "entry": es.entry.code,
        "status": es.entry.status,
        "booking_code": es.appointment.as_ref().map(|a| a.code.clone()),
        "starts_at": es.appointment.as_ref().map(|a| iso(a.starts_at)),
        "position": es.entry.position,
        "reason": es.entry.reason,
        "draw_at": iso(es.draw.closes_at),
        "draw": es.draw.id.to_string(),
    })))
}

/// `GET /api/v1/draws/{id}`: the commitment, and once done the seed and the order of entry
/// codes, so anyone can recompute it (`order = sort by hex SHA-256(seed || code)`).
pub async fn draw(
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let (d, _) = super::draw::load_draw(&state, *path).await?;
    let iso = |t| crate::views::local(state.settings.time_zone, t).to_rfc3339();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": d.id.to_string(),
        "site": SiteId(d.site_id),
        "opens_at": iso(d.opens_at),
        "closes_at": iso(d.closes_at),
        "status": d.status,
        "entries": d.entries,
        "seed_hash": d.seed_hash,
        "seed": d.revealed_seed(),
        "order": d.order(),
        "drawn_at": d.drawn_at.map(iso),
        "algorithm": "order = entry codes sorted by lower-case hex SHA-256(seed || code), seed and code as ASCII",
    })))
}

/// `GET /healthz`: liveness, 200 when the process runs and the database answered a read within
/// the last second (the read is made at most once a second while it succeeds; a failure is
/// never cached, so the next probe reads again).
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let st = state.clone();
    let ok = state
        .caches
        .health
        .get_or_load((), 0, || {
            blocking(&st, |st| {
                crate::db::ping(&mut *st.db.read.get()?).map_err(AppError::from)
            })
        })
        .await;
    match ok {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        Err(_) => unavailable(),
    }
}

/// `GET /readyz`: readiness, 200 only when a read answers and a write commits through the same
/// write path as bookings (on SQLite the group-commit writer), within `DOSEWISE_DB_TIMEOUT_MS`.
/// A read-only, full or locked database is not ready even though `/healthz` says 200.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let ok = blocking_with(&state, Patience::Strict, |st| {
        crate::db::ping(&mut *st.db.read.get()?)?;
        let now = st.now();
        st.db
            .transaction(move |c| crate::models::readiness::touch(c, now).map_err(AppError::from))
    })
    .await;
    match ok {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Err(e) => {
            match &e {
                AppError::Internal(cause) => {
                    tracing::warn!(error = %format!("{cause:#}"), "not ready")
                }
                e => tracing::warn!(error = %e, "not ready"),
            }
            unavailable()
        }
    }
}

/// The 503 of the probes, with `Retry-After`.
fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((
            actix_web::http::header::RETRY_AFTER,
            crate::error::RETRY_AFTER_SECONDS,
        ))
        .json(serde_json::json!({"status": "unavailable"}))
}
