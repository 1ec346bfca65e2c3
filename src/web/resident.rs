//! The resident's pages: towns, sites and their slots, booking, the appointment (find, move,
//! cancel), the waiting list.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::common::CsrfForm;
use super::cookies;
use super::ctx::{Ctx, Posted, Visit};
use super::lookup;
use super::moving;
use super::respond::{html, html_status, see_other, show, View};
use super::state::{blocking, read, AppState};
use crate::booking::{self, BookingError, ResidentDetails};
use crate::domain::days::local_day;
use crate::domain::{
    parse_date, parse_dose_number, parse_id, Email, FieldError, IdNumber, PersonName, Phone,
};
use crate::error::AppError;
use crate::i18n::{Keyed, Lang};
use crate::ids::{ProductId, SiteId, SlotId, TownId};
use crate::models::{
    my_appointment, product, site, slot, stock, stock::unpromised, town, waiting,
    AppointmentStatus, LocalName,
};
use crate::views::resident::{self as views_resident, AppointmentContext, BookRead};
use crate::views::site_day::{shown_day, SiteDayShown};
use crate::views::{day_label, BookPage, FormErrors, ResidentForm, TownPage, WaitingPage};

/// Turn a field error into its message in the page's language.
pub fn field_message(lang: Lang, e: FieldError) -> String {
    lang.t(e.key).to_string()
}

/// Parse the resident details of a form, collecting every error.
pub fn parse_resident(lang: Lang, f: &ResidentForm) -> Result<ResidentDetails, FormErrors> {
    parse_person(lang, f, Email::parse)
}

/// As [`parse_resident`], the e-mail address read by `email` (the desk's walk-in form passes
/// [`Email::optional`]).
pub fn parse_person(
    lang: Lang,
    f: &ResidentForm,
    email: fn(&str) -> Result<Email, FieldError>,
) -> Result<ResidentDetails, FormErrors> {
    let mut errors = FormErrors::default();
    let mut note = |e: FieldError| errors.add(e.field, field_message(lang, e));
    let name = PersonName::parse(&f.name).map_err(&mut note).ok();
    let id_number = IdNumber::parse(&f.id_number).map_err(&mut note).ok();
    let phone = Phone::parse(&f.phone).map_err(&mut note).ok();
    let email = email(&f.email).map_err(&mut note).ok();
    match (name, id_number, phone, email) {
        (Some(name), Some(id_number), Some(phone), Some(email)) => Ok(ResidentDetails {
            id_number,
            name,
            phone,
            email,
            lang: lang.code().to_string(),
        }),
        _ => Err(errors),
    }
}

/// A booking refusal as the resident reads it, times in the city's zone.
pub fn refusal_text(lang: Lang, tz: chrono_tz::Tz, e: &BookingError) -> String {
    match e {
        BookingError::NotOpen(at) => {
            lang.tf(e.key(), &[("when", &crate::views::at_label(lang, tz, *at))])
        }
        e => refusal_message(lang, e),
    }
}

/// A booking refusal as the resident reads it.
pub fn refusal_message(lang: Lang, e: &BookingError) -> String {
    match e {
        BookingError::TooEarly(d) => lang.tf(e.key(), &[("date", &day_label(lang, *d))]),
        e => lang.t(e.key()).to_string(),
    }
}

/// `GET /`: pick a town.
pub async fn home(Visit { ctx, state }: Visit) -> Result<HttpResponse, AppError> {
    let open = super::common::published(&state).await?;
    let list = super::common::town_list(&state).await?;
    // Not set up until some site has published slots (issue 6).
    html(&views_resident::home_page(ctx, !open, &list))
}

/// `GET /towns/{id}`: the town's sites with each one's next free slot.
pub async fn town_page(
    Visit { ctx, state }: Visit,
    town: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    if let Some(page) = super::common::not_set_up(&ctx, &state).await? {
        return Ok(page);
    }
    let empty = (
        TownId(*town),
        ResidentForm::default(),
        FormErrors::default(),
    );
    show(ctx, &state, empty, StatusCode::OK).await
}

/// The town's page with its waiting-list form (empty, or again with its errors).
impl View for (TownId, ResidentForm, FormErrors) {
    type Page = TownPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (id, form, errors) = self;
        let load = || {
            read(state, move |c, st| {
                let t = town::find(c, id)?.filter(|t| t.active);
                let t = t.ok_or(AppError::NotFound)?;
                let sites = site::list_for_town(c, id)?;
                let ids: Vec<i64> = sites.iter().map(|s| s.id).collect();
                let stock = stock::balances_for_sites(c, &ids)?;
                let free = booking::next_free_slots(c, st.rules(), &ids, &stock, ids.len())?;
                let dry = (sites.iter().map(|s| s.id)).filter(|&s| {
                    !stock
                        .iter()
                        .any(|b| unpromised(&stock, s, b.product_id) > 0)
                });
                let dry = dry.collect();
                Ok(Arc::new((
                    t,
                    sites,
                    free,
                    waiting::count_waiting(c, id)?,
                    dry,
                )))
            })
        };
        let generation = state.db.generation();
        let cached = state
            .caches
            .town
            .get_or_load(id.0, generation, load)
            .await?;
        let tz = state.settings.time_zone;
        Ok(views_resident::town_page(ctx, tz, &cached, form, errors))
    }
}

/// The `?date=` of a site page.
#[derive(Debug, Deserialize)]
pub struct DayQuery {
    date: Option<String>,
    site: Option<String>,
}

/// `GET /sites/{id}?date=YYYY-MM-DD`: one day of a site's slots.
pub async fn site_page(
    Visit { ctx, state }: Visit,
    site: web::Path<i64>,
    q: web::Query<DayQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(page) = super::common::not_set_up(&ctx, &state).await? {
        return Ok(page);
    }
    let mut page = render_site(ctx, state, SiteId(*site), q.date.as_deref(), None, None).await?;
    // Revalidated on every visit (ETag): the page changes with every booking.
    page.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("private, no-cache"),
    );
    Ok(page)
}

async fn render_site(
    ctx: Ctx,
    state: web::Data<AppState>,
    site_id: SiteId,
    date: Option<&str>,
    mover: Option<&moving::Mover>,
    // Why a move just failed (the page is then the answer to that POST, 409).
    refused: Option<String>,
) -> Result<HttpResponse, AppError> {
    let today = state.today();
    // A date that cannot be read shows today, saying what was wrong with it (400).
    let (day, date_error) = match date
        .filter(|d| !d.is_empty())
        .map(|d| parse_date(d, "date"))
    {
        Some(Ok(d)) => (d, None),
        Some(Err(e)) => (
            today,
            Some(ctx.tf("site.bad_date", &[("why", ctx.t(e.key))])),
        ),
        // Asked for no day: the first day with a free seat (today when there is none ahead).
        None => (
            moving::first_free_day(&state, site_id)
                .await?
                .unwrap_or(today),
            None,
        ),
    };
    let day = shown_day(today, day);
    let tz = state.settings.time_zone;
    let context = super::draw::site_context(&state, site_id).await?;
    if !context.0.active {
        return Err(AppError::NotFound);
    }
    let (s, t, products, others) = &*context;
    let read_day = super::site_day::read_day(&state, site_id, day).await?;
    let (slots, draws, stock) = &*read_day.slots;
    let exceptions = read_day.exceptions;
    let rules = state.rules();
    let day_rows = crate::views::site_day::Day {
        lang: ctx.lang,
        tz,
        rules,
        slots,
        draws,
        stock,
        products,
        exceptions: &exceptions,
        mover,
        first_come: mover.is_some(),
    };
    let shown = SiteDayShown {
        site: s,
        town: t,
        others,
        today,
        day,
        problem: refused.clone().or_else(|| date_error.clone()),
    };
    let page = crate::views::site_day::site_page(ctx, &day_rows, shown);
    html_status(
        &page,
        if refused.is_some() {
            StatusCode::CONFLICT
        } else if date_error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
    )
}

/// The booking form of a slot (empty, again with its errors, or refused).
impl View for (SlotId, ResidentForm, FormErrors, Option<String>) {
    type Page = BookPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (slot_id, form, errors, refusal) = self;
        let (sl, s, p, opening, dry) = read(state, move |c, st| {
            let sl = slot::find(c, slot_id)?.ok_or(AppError::NotFound)?;
            let s = site::find(c, SiteId(sl.site_id))?.ok_or(AppError::NotFound)?;
            let p = product::find(c, ProductId(sl.product_id))?.ok_or(AppError::NotFound)?;
            let opening = booking::draw::opening(c, st.now(), &sl)?;
            let dry = unpromised(
                &stock::balances_for_site(c, SiteId(sl.site_id))?,
                s.id,
                p.id,
            ) == 0;
            Ok((sl, s, p, opening, dry))
        })
        .await?;
        let read = BookRead {
            slot: sl,
            site: s,
            product: p,
            opening,
            dry,
        };
        let tz = state.settings.time_zone;
        let page = views_resident::book_page(ctx, tz, state.now(), read, form, errors, refusal);
        Ok(page)
    }
}

/// `GET /slots/{id}/book`: the booking form.
pub async fn book_form(
    Visit { ctx, state }: Visit,
    slot: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    if let Some(page) = super::common::not_set_up(&ctx, &state).await? {
        return Ok(page);
    }
    let empty = (
        SlotId(*slot),
        ResidentForm::default(),
        FormErrors::default(),
        None,
    );
    show(ctx, &state, empty, StatusCode::OK).await
}

/// `POST /slots/{id}/book`: book, then 303 to the confirmation.
pub async fn book_submit(
    slot: web::Path<i64>,
    Posted {
        ctx,
        state,
        mut form,
    }: Posted<ResidentForm>,
) -> Result<HttpResponse, AppError> {
    let slot_id = SlotId(*slot);
    form.id_number = form.id_number.trim().to_string();
    let dose = parse_dose_number(&form.dose_number);
    let details = parse_resident(ctx.lang, &form);
    let (details, dose) = match (details, dose) {
        (Ok(d), Ok(n)) => (d, n),
        (details, dose) => {
            let mut errors = details.err().unwrap_or_default();
            if let Err(e) = dose {
                errors.add(e.field, field_message(ctx.lang, e));
            }
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return show(ctx, &state, (slot_id, form, errors, None), status).await;
        }
    };
    let any_site_in_town = !form.any_site_in_town.is_empty();
    let outcome =
        super::state::book_or_enter(&state, slot_id, dose, any_site_in_town, details).await?;
    match outcome {
        Ok(booking::draw::Outcome::Booked(b)) => Ok(grant_and_show(
            &state,
            b.appointment.id,
            "/appointment?done=booked",
        )),
        Ok(booking::draw::Outcome::Entered(e)) => Ok(super::draw::grant_entry(&state, e.entry.id)),
        Err(BookingError::SlotNotFound) => Err(AppError::NotFound),
        Err(e) if e.is_internal() => Err(e.into()),
        Err(e) => {
            let msg = refusal_text(ctx.lang, state.settings.time_zone, &e);
            let shown = (slot_id, form, FormErrors::default(), Some(msg));
            show(ctx, &state, shown, StatusCode::CONFLICT).await
        }
    }
}

/// 303 to the appointment page, with the cookie that lets this browser see it.
pub(super) fn grant_and_show(state: &AppState, appointment_id: i64, to: &str) -> HttpResponse {
    cookies::grant(
        state,
        cookies::APPOINTMENT,
        appointment_id,
        cookies::APPOINTMENT_SECONDS,
        to,
    )
}

/// `GET /appointment`: the appointment this browser was granted (after booking or finding it).
/// `?done=booked|moved|cancelled` after the booking, move or cancellation that led here: the page then says so; looked
/// up again later it is simply "my appointment".
#[derive(Deserialize)]
pub struct AppointmentQuery {
    done: Option<String>,
}

pub async fn appointment_page(
    Visit { ctx, state }: Visit,
    q: web::Query<AppointmentQuery>,
    lookup::Granted(id): lookup::Granted,
) -> Result<HttpResponse, AppError> {
    let found = read(&state, move |c, _| {
        my_appointment::read(c, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let shown = AppointmentContext {
        tz: state.settings.time_zone,
        today: state.today(),
        base_url: &state.base_url,
        observation_minutes: state.settings.observation_minutes,
        done: q.done.as_deref(),
    };
    let page = views_resident::appointment_page(ctx, found, shown);
    html(&page)
}

/// `GET /appointment/cancel`: ask before cancelling; the answer posts to the same path.
pub async fn cancel_confirm(
    Visit { ctx, state }: Visit,
    lookup::Granted(id): lookup::Granted,
) -> Result<HttpResponse, AppError> {
    let found = read(&state, move |c, _| {
        my_appointment::find_joined(c, id)?.ok_or(AppError::NotFound)
    })
    .await?;
    let (a, _, sl, s, _) = found;
    if a.status() != AppointmentStatus::Booked {
        return Ok(see_other("/appointment"));
    }
    let tz = state.settings.time_zone;
    html(&views_resident::cancel_page(ctx, tz, &a, &s, &sl))
}

/// `POST /appointment/cancel`.
pub async fn cancel(
    req: HttpRequest,
    Posted { state, .. }: Posted<CsrfForm>,
) -> Result<HttpResponse, AppError> {
    let id = lookup::granted(&req, &state).ok_or(AppError::Forbidden)?;
    blocking(&state, move |st| st.cancel(id)).await?;
    Ok(see_other("/appointment?done=cancelled"))
}

/// `GET /appointment/move?site=ID&date=...`: slots to move to. Without a grant (it lasts two
/// hours) the browser is sent to the look-up that leads back here (`/find?then=move`), as the
/// appointment's other pages send it to theirs.
pub async fn move_form(
    Visit { ctx, state }: Visit,
    req: HttpRequest,
    q: web::Query<DayQuery>,
) -> Result<HttpResponse, AppError> {
    let Some(id) = lookup::granted(&req, &state) else {
        return Ok(see_other("/find?then=move"));
    };
    let (a, m) = moving::mover(&state, id).await?;
    if a.status() != AppointmentStatus::Booked {
        return Ok(see_other("/appointment"));
    }
    let site_id = match q.site.as_deref() {
        Some(s) => SiteId(parse_id(s).ok_or(AppError::BadRequest)?),
        None => SiteId(a.site_id),
    };
    render_site(ctx, state, site_id, q.date.as_deref(), Some(&m), None).await
}

/// The move form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MoveForm {
    slot_id: String,
    csrf: String,
}

super::ctx::posted_form!(MoveForm, crate::views::ResidentForm);

/// `POST /appointment/move`: atomically move to another slot.
pub async fn move_submit(
    req: HttpRequest,
    Posted { ctx, state, form }: Posted<MoveForm>,
) -> Result<HttpResponse, AppError> {
    let id = lookup::granted(&req, &state).ok_or(AppError::Forbidden)?;
    let to = SlotId(parse_id(&form.slot_id).ok_or(AppError::BadRequest)?);
    let moved = blocking(&state, move |st| {
        Ok::<_, AppError>(booking::reschedule(
            &st.db,
            st.rules(),
            st.settings.contact_day_cap,
            id,
            to,
        ))
    })
    .await?;
    match moved {
        Ok(_) => Ok(see_other("/appointment?done=moved")),
        Err(BookingError::SlotNotFound) => Err(AppError::NotFound),
        Err(e) if e.is_internal() => Err(e.into()),
        // Refused: the move page again, on the day and site asked for, saying why and that the
        // booking held is kept.
        Err(e) => {
            let tz = state.settings.time_zone;
            let why = ctx.tf("move.refused", &[("why", &refusal_text(ctx.lang, tz, &e))]);
            let (held, m) = moving::mover(&state, id).await?;
            let target = read(&state, move |c, _| Ok(slot::find(c, to)?)).await?;
            let (site_id, day) = match target {
                Some(sl) => (SiteId(sl.site_id), local_day(tz, sl.starts_at)),
                None => (SiteId(held.site_id), local_day(tz, held.starts_at)),
            };
            let date = day.format("%Y-%m-%d").to_string();
            render_site(ctx, state, site_id, Some(&date), Some(&m), Some(why)).await
        }
    }
}

/// `POST /towns/{id}/wait`: join the town's waiting list.
pub async fn join_waiting(
    town: web::Path<i64>,
    Posted { ctx, state, form }: Posted<ResidentForm>,
) -> Result<HttpResponse, AppError> {
    let town_id = TownId(*town);
    let details = match parse_resident(ctx.lang, &form) {
        Ok(d) => d,
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return show(ctx, &state, (town_id, form, errors), status).await;
        }
    };
    let (t, w) = blocking(&state, move |st| {
        let w = booking::join_waiting_list(&st.db, &st.keys, st.now(), town_id, &details)?;
        let mut c = st.db.read.get()?;
        let t = town::find(&mut c, town_id)?.ok_or(AppError::NotFound)?;
        Ok::<_, AppError>((t, w))
    })
    .await?;
    let key = if w.already {
        "wait.already"
    } else {
        "wait.joined"
    };
    let town_name = t.local_name(ctx.lang).to_string();
    let message = ctx.tf(key, &[("n", &w.position.to_string()), ("town", &town_name)]);
    html(&WaitingPage {
        town_name,
        message,
        ctx,
    })
}
