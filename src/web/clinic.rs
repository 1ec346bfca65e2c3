//! The clinic desk's pages: the site's day by slot (counts, stock, the observation list), check
//! in by code (identity, screening, then the dose), walk-ins, no-shows, wastage and adverse
//! reactions. Handlers parse forms into domain types and make one call into `booking::clinic`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::Duration;
use chrono_tz::Tz;
use serde::Deserialize;

use super::ctx::{Ctx, CurrentUser};
use super::resident::{field_message, parse_resident};
use super::state::{blocking, read, AppState};
use crate::booking::clinic::{
    self as desk_ops, CheckIn, ClinicError, Desk, GiveDose, Reaction, Staff, Waste,
};
use crate::db::AnyConnection;
use crate::domain::clinic::{
    parse_clock_time, parse_doses, parse_last4, parse_yes_no, screening_outcome, Decision, Note,
    ScreeningAnswers, ScreeningOutcome, Severity, WasteKind,
};
use crate::domain::{
    parse_dose_number, parse_id, parse_lot_number, text, BookingCode, FieldError, IdNumber,
};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::ids::{AppointmentId, ProductId, ResidentId, SiteId, SlotId};
use crate::models::{
    adverse_event, appointment, lot, product, resident, screening, site, slot, stock, town,
    vaccination, AppointmentStatus, Product, Role,
};
use crate::views::clinic::{
    ApptRow, CheckinForm, ChooseSitePage, Counts, DeskCheckinPage, DoseForm, HistoryRow,
    ObservationRow, ReactionForm, ReactionPage, SlotBlock, StockRow, TodayPage, WalkInForm,
    WalkInPage, WastagePage, WasteForm, SCREENING_QUESTIONS,
};
use crate::views::{day_label, hm, html, html_status, local, see_other, when, FormErrors};

/// How often the day's list reloads itself (with JavaScript) when nobody is typing.
const REFRESH_SECONDS: u32 = 30;

/// The desk as this user, now.
fn desk(state: &AppState, u: &CurrentUser) -> Desk {
    Desk {
        staff: Staff {
            user_id: u.id,
            username: u.username.clone(),
            site_id: u.site_id,
            any_site: u.role == Role::Admin,
        },
        now: state.now(),
        tz: state.settings.time_zone,
        release_hours: state.settings.second_dose_release_hours,
        observation_minutes: state.settings.observation_minutes,
    }
}

/// A refusal as staff read it.
fn refusal(lang: Lang, e: &ClinicError) -> String {
    match e {
        ClinicError::TooEarly { opens, days } => lang.tf(
            e.key(),
            &[
                ("date", &day_label(lang, *opens)),
                ("days", &days.to_string()),
            ],
        ),
        e => lang.t(e.key()).to_string(),
    }
}

/// The status of a page that explains a refusal.
fn refusal_status(e: &ClinicError) -> StatusCode {
    match e {
        ClinicError::WrongSite => StatusCode::FORBIDDEN,
        ClinicError::NotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    }
}

fn note(errors: &mut FormErrors, lang: Lang) -> impl FnMut(FieldError) + '_ {
    move |e: FieldError| errors.add(e.field, field_message(lang, e))
}

/// The `?done=` notice shown after a successful POST.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoticeQuery {
    done: String,
    n: Option<u32>,
}

impl NoticeQuery {
    fn message(&self, lang: Lang) -> Option<String> {
        let key = match self.done.as_str() {
            "checked_in" => "clinic.done.checked_in",
            "deferred" => "clinic.done.deferred",
            "dose" => "clinic.done.dose",
            "walk_in" => "clinic.done.walk_in",
            "no_show" => "clinic.done.no_show",
            "wastage" => "clinic.done.wastage",
            "reaction" => "clinic.done.reaction",
            _ => return None,
        };
        Some(lang.tf(key, &[("n", &self.n.unwrap_or(0).to_string())]))
    }
}

fn product_name(products: &[Product], id: i64) -> String {
    products
        .iter()
        .find(|p| p.id == id)
        .map(|p| p.name.clone())
        .unwrap_or_default()
}

// ---- the day ----------------------------------------------------------------------------------

/// `GET /staff`: a clinic user's site today; an admin chooses a site first.
pub async fn start(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    match (u.role, u.site_id) {
        (Role::Admin, _) => {
            let sites = read(&state, |c, _| {
                let towns = town::list_active(c)?;
                Ok(site::list_active(c)?
                    .into_iter()
                    .map(|s| {
                        let t = towns
                            .iter()
                            .find(|t| t.id == s.town_id)
                            .map(|t| t.name.clone())
                            .unwrap_or_default();
                        (s.id.to_string(), s.name, t)
                    })
                    .collect::<Vec<_>>())
            })
            .await?;
            html(&ChooseSitePage { ctx, sites })
        }
        (_, Some(site)) => {
            let page = TodayView::default();
            render_today(ctx, &state, SiteId(site), page, StatusCode::OK).await
        }
        (_, None) => Err(AppError::Forbidden),
    }
}

/// `GET /staff/sites/{id}`: the site's day.
pub async fn today(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    let view = TodayView {
        notice: q.message(ctx.lang),
        ..TodayView::default()
    };
    render_today(ctx, &state, SiteId(*path), view, StatusCode::OK).await
}

/// What a handler adds to the day's page.
#[derive(Default)]
struct TodayView {
    notice: Option<String>,
    code: String,
    code_error: Option<String>,
}

async fn render_today(
    ctx: Ctx,
    state: &web::Data<AppState>,
    site_id: SiteId,
    view: TodayView,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    let d = desk(state, &u);
    if !d.staff.may_act_for(site_id.0) {
        return Err(AppError::Forbidden);
    }
    let (from, to) = d.today_bounds();
    let (now, today, tz, lang) = (d.now, d.today(), d.tz, ctx.lang);
    let (s, slots, appts, reasons, products, balances, lots, observing) =
        read(state, move |c, _| {
            let s = site::find(c, site_id)?.ok_or(AppError::NotFound)?;
            let appts = appointment::list_for_site_between(c, site_id, from, to)?;
            let deferred: Vec<i64> = appts
                .iter()
                .filter(|(a, _)| a.status() == AppointmentStatus::Deferred)
                .map(|(a, _)| a.id)
                .collect();
            Ok((
                s,
                slot::list_for_site_between(c, site_id, from, to)?,
                appts,
                screening::deferral_reasons(c, &deferred)?,
                product::list(c)?,
                stock::balances_for_site(c, site_id)?,
                lot::in_stock_at_site(c, site_id, Some(today))?,
                vaccination::list_in_observation(c, site_id, now)?,
            ))
        })
        .await?;
    let mut totals = Counts::default();
    let mut any_to_mark = false;
    let blocks = slots
        .iter()
        .map(|sl| {
            let mut counts = Counts::default();
            let rows: Vec<ApptRow> = appts
                .iter()
                .filter(|(a, _)| a.slot_id == sl.id)
                .filter(|(a, _)| a.status() != AppointmentStatus::Cancelled)
                .map(|(a, r)| {
                    let st = a.status();
                    match st {
                        AppointmentStatus::Booked => counts.booked += 1,
                        AppointmentStatus::CheckedIn => counts.checked_in += 1,
                        AppointmentStatus::Vaccinated => counts.vaccinated += 1,
                        AppointmentStatus::NoShow => counts.no_show += 1,
                        AppointmentStatus::Deferred => counts.deferred += 1,
                        AppointmentStatus::Cancelled => {}
                    }
                    ApptRow {
                        code: a.code.clone(),
                        code_shown: BookingCode::parse(&a.code)
                            .map(|c| c.to_string())
                            .unwrap_or_else(|_| a.code.clone()),
                        name: r.name.clone(),
                        masked_id: IdNumber::mask_stored(&r.id_last4),
                        dose: a.dose_number,
                        status: st.as_str(),
                        status_label: lang.t(&format!("status.{}", st.as_str())),
                        reason: reasons.get(&a.id).cloned().unwrap_or_default(),
                    }
                })
                .collect();
            let ended = sl.ends_at <= now;
            if ended && counts.booked > 0 {
                any_to_mark = true;
            }
            totals.booked += counts.booked;
            totals.checked_in += counts.checked_in;
            totals.vaccinated += counts.vaccinated;
            totals.no_show += counts.no_show;
            totals.deferred += counts.deferred;
            SlotBlock {
                id: sl.id.to_string(),
                time: format!("{}–{}", hm(tz, sl.starts_at), hm(tz, sl.ends_at)),
                product: product_name(&products, sl.product_id),
                seats: sl.seats,
                taken: sl.booked_first + sl.booked_second,
                counts,
                ended,
                current: sl.starts_at <= now && now < sl.ends_at,
                rows,
            }
        })
        .collect();
    let stock_rows = balances
        .iter()
        .map(|b| StockRow {
            product: product_name(&products, b.product_id),
            on_hand: b.on_hand,
            promised: b.promised,
            free: b.on_hand - b.promised,
            lots: lots
                .iter()
                .filter(|(l, _)| l.product_id == b.product_id)
                .map(|(l, n)| {
                    lang.tf(
                        "clinic.stock.lot",
                        &[
                            ("lot", &l.lot_number),
                            ("date", &l.expires_on.format("%Y-%m-%d").to_string()),
                            ("n", &n.to_string()),
                        ],
                    )
                })
                .collect(),
        })
        .collect();
    let observation = observing
        .into_iter()
        .map(|(v, r)| ObservationRow {
            vaccination_id: v.id.to_string(),
            name: r.name,
            masked_id: IdNumber::mask_stored(&r.id_last4),
            given: hm(tz, v.given_at),
            leave_at: hm(tz, v.observation_until),
        })
        .collect();
    let page = TodayPage {
        site_id: s.id.to_string(),
        site_name: s.name,
        day: day_label(lang, today),
        updated: hm(tz, now),
        notice: view.notice,
        code: view.code,
        code_error: view.code_error,
        totals,
        stock: stock_rows,
        slots: blocks,
        observation,
        any_to_mark,
        refresh_seconds: REFRESH_SECONDS,
        ctx,
    };
    html_status(&page, status)
}

/// The query of the typed check-in code.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeQuery {
    code: String,
    site: String,
}

/// `GET /staff/checkin?code=...&site=...`: the typed booking code leads to its check-in page.
pub async fn find_code(
    ctx: Ctx,
    state: web::Data<AppState>,
    q: web::Query<CodeQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    match BookingCode::parse(&q.code) {
        Ok(code) => Ok(see_other(&format!("/staff/checkin/{}", code.as_str()))),
        Err(e) => {
            let site = parse_id(&q.site).ok_or(AppError::BadRequest)?;
            let view = TodayView {
                code: q.code.chars().take(40).collect(),
                code_error: Some(field_message(ctx.lang, e)),
                ..TodayView::default()
            };
            render_today(
                ctx,
                &state,
                SiteId(site),
                view,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /staff/sites/{id}/no-shows`: mark the still-booked appointments of ended slots.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NoShowForm {
    csrf: String,
    slot: String,
}

/// `POST /staff/sites/{id}/no-shows`.
pub async fn no_shows(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<NoShowForm>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let site_id = SiteId(*path);
    let only = match text::clean(&form.slot) {
        Some("") => None,
        _ => Some(SlotId(parse_id(&form.slot).ok_or(AppError::BadRequest)?)),
    };
    let d = desk(&state, &u);
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::mark_no_shows(&st.db, &d, site_id, only))
    })
    .await?;
    match outcome {
        Ok(n) => Ok(see_other(&format!(
            "/staff/sites/{}?done=no_show&n={n}",
            site_id.0
        ))),
        Err(e) if e.is_internal() => Err(AppError::Internal(e.into())),
        Err(ClinicError::WrongSite) => Err(AppError::Forbidden),
        Err(e) => {
            let view = TodayView {
                code_error: Some(refusal(ctx.lang, &e)),
                ..TodayView::default()
            };
            render_today(ctx, &state, site_id, view, refusal_status(&e)).await
        }
    }
}

// ---- check-in and the dose --------------------------------------------------------------------

/// `GET /staff/checkin/{code}`: what a resident's QR code opens; the typed code leads here too.
pub async fn checkin_page(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<NoticeQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    let code = BookingCode::parse(&path).map_err(|_| AppError::NotFound)?;
    let view = CheckinView {
        notice: q.message(ctx.lang),
        ..CheckinView::default()
    };
    render_checkin(ctx, &state, code, view).await
}

/// What a handler adds to the check-in page.
#[derive(Default)]
struct CheckinView {
    form: CheckinForm,
    dose_form: Option<DoseForm>,
    errors: FormErrors,
    refusal: Option<String>,
    notice: Option<String>,
    status: Option<StatusCode>,
}

async fn render_checkin(
    ctx: Ctx,
    state: &web::Data<AppState>,
    code: BookingCode,
    view: CheckinView,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    let d = desk(state, &u);
    let lookup = code.as_str().to_string();
    let (today, tz, lang) = (d.today(), d.tz, ctx.lang);
    let found = read(state, move |c, _| {
        let Some(a) = appointment::find_by_code(c, &lookup)? else {
            return Ok(None);
        };
        let r = resident::find(c, ResidentId(a.resident_id))?.ok_or(AppError::NotFound)?;
        let s = site::find(c, SiteId(a.site_id))?.ok_or(AppError::NotFound)?;
        let sl = slot::find(c, SlotId(a.slot_id))?.ok_or(AppError::NotFound)?;
        let products = product::list(c)?;
        let mut history = Vec::new();
        for v in vaccination::list_for_resident(c, ResidentId(r.id))? {
            let reactions = adverse_event::list_for_vaccination(c, v.id)?;
            history.push((v, reactions));
        }
        let lots = lot::in_stock_at_site(c, SiteId(a.site_id), Some(today))?;
        Ok(Some((a, r, s, sl, products, history, lots)))
    })
    .await?;
    let mut page = DeskCheckinPage {
        code: code.to_string(),
        site_id: None,
        rows: Vec::new(),
        problem: None,
        refusal: view.refusal,
        notice: view.notice,
        stage: "none",
        form: view.form,
        dose_form: DoseForm::default(),
        errors: view.errors,
        lots: Vec::new(),
        doses_in_series: 1,
        history: Vec::new(),
        questions: SCREENING_QUESTIONS,
        ctx,
    };
    let Some((a, r, s, sl, products, history, lots)) = found else {
        // Explained on the page (a bare 404 would be replaced by the generic error page).
        page.problem = Some(lang.t("checkin.unknown").to_string());
        return html_status(&page, view.status.unwrap_or(StatusCode::OK));
    };
    let status = view.status.unwrap_or(StatusCode::OK);
    match desk_ops::admit(&d, &a) {
        Err(e @ ClinicError::WrongSite) => {
            page.problem = Some(refusal(lang, &e));
            return html_status(&page, view.status.unwrap_or(StatusCode::FORBIDDEN));
        }
        Err(ClinicError::AlreadyVaccinated) => page.stage = "done",
        Err(e) => page.problem = Some(refusal(lang, &e)),
        Ok(()) if a.status() == AppointmentStatus::CheckedIn => page.stage = "dose",
        Ok(()) => page.stage = "screen",
    }
    page.site_id = Some(a.site_id.to_string());
    let p = products.iter().find(|p| p.id == a.product_id);
    page.doses_in_series = p.map_or(1, |p| p.doses_in_series);
    page.rows = vec![
        ("appt.name", r.name.clone()),
        ("appt.id_number", IdNumber::mask_stored(&r.id_last4)),
        ("appt.site", s.name.clone()),
        ("appt.when", when(lang, tz, sl.starts_at, sl.ends_at)),
        (
            "appt.product",
            format!(
                "{} · {}",
                product_name(&products, a.product_id),
                lang.tf("form.dose_n", &[("n", &a.dose_number.to_string())])
            ),
        ),
        (
            "appt.status",
            lang.t(&format!("status.{}", a.status().as_str()))
                .to_string(),
        ),
    ];
    page.lots = lots
        .iter()
        .filter(|(l, _)| l.product_id == a.product_id)
        .map(|(l, n)| {
            (
                l.lot_number.clone(),
                lang.tf(
                    "clinic.stock.lot",
                    &[
                        ("lot", &l.lot_number),
                        ("date", &l.expires_on.format("%Y-%m-%d").to_string()),
                        ("n", &n.to_string()),
                    ],
                ),
            )
        })
        .collect();
    page.dose_form = view.dose_form.unwrap_or_else(|| DoseForm {
        lot: page.lots.first().map(|l| l.0.clone()).unwrap_or_default(),
        dose_number: a.dose_number.to_string(),
        time: hm(tz, d.now),
        csrf: String::new(),
    });
    page.history = history
        .into_iter()
        .map(|(v, reactions)| HistoryRow {
            vaccination_id: v.id.to_string(),
            dose: v.dose_number,
            product: product_name(&products, v.product_id),
            given: format!(
                "{} {}",
                day_label(lang, local(tz, v.given_at).date_naive()),
                hm(tz, v.given_at)
            ),
            lot: v.lot.clone(),
            here: d.staff.may_act_for(v.site_id),
            reactions: reactions
                .iter()
                .map(|e| reaction_line(lang, tz, e))
                .collect(),
        })
        .collect();
    html_status(&page, status)
}

fn reaction_line(lang: Lang, tz: Tz, e: &adverse_event::AdverseEvent) -> String {
    format!(
        "{} · {} · {} · {}",
        hm(tz, e.occurred_at),
        lang.t(&format!("clinic.severity.{}", e.severity)),
        e.symptoms,
        e.action_taken
    )
}

/// `POST /staff/checkin/{code}`: confirm identity and screen; check in or defer.
pub async fn checkin_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CheckinForm>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let code = BookingCode::parse(&path).map_err(|_| AppError::NotFound)?;
    let form = form.into_inner();
    let lang = ctx.lang;
    let mut errors = FormErrors::default();
    let parsed = {
        let mut note = note(&mut errors, lang);
        let last4 = parse_last4(&form.last4).map_err(&mut note).ok();
        let mut answer = |raw: &str, field| parse_yes_no(raw, field).map_err(&mut note).ok();
        let answers = match (
            answer(&form.fever, "fever"),
            answer(&form.allergy, "allergy"),
            answer(&form.pregnant, "pregnant"),
            answer(&form.recent_vaccine, "recent_vaccine"),
        ) {
            (Some(fever), Some(allergy), Some(pregnant), Some(recent_vaccine)) => {
                Some(ScreeningAnswers {
                    fever,
                    allergy,
                    pregnant,
                    recent_vaccine,
                })
            }
            _ => None,
        };
        let decision = Decision::parse(&form.decision).map_err(&mut note).ok();
        let outcome = match (answers, decision) {
            (Some(a), Some(d)) => screening_outcome(a, d, &form.reason)
                .map_err(&mut note)
                .ok(),
            _ => None,
        };
        match (last4, answers, outcome) {
            (Some(last4), Some(answers), Some(outcome)) => Some(CheckIn {
                code: code.clone(),
                last4,
                answers,
                outcome,
            }),
            _ => None,
        }
    };
    let Some(cmd) = parsed else {
        let view = CheckinView {
            form,
            errors,
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            ..CheckinView::default()
        };
        return render_checkin(ctx, &state, code, view).await;
    };
    let d = desk(&state, &u);
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::check_in(&st.db, &d, cmd))
    })
    .await?;
    match outcome {
        Ok(ScreeningOutcome::Cleared) => Ok(see_other(&format!(
            "/staff/checkin/{}?done=checked_in",
            code.as_str()
        ))),
        Ok(ScreeningOutcome::Deferred(_)) => Ok(see_other(&format!(
            "/staff/checkin/{}?done=deferred",
            code.as_str()
        ))),
        Err(e) if e.is_internal() => Err(AppError::Internal(e.into())),
        Err(ClinicError::IdMismatch) => {
            errors.add("last4", refusal(lang, &ClinicError::IdMismatch));
            let view = CheckinView {
                form,
                errors,
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                ..CheckinView::default()
            };
            render_checkin(ctx, &state, code, view).await
        }
        Err(e) => {
            let view = CheckinView {
                form,
                refusal: Some(refusal(lang, &e)),
                status: Some(refusal_status(&e)),
                ..CheckinView::default()
            };
            render_checkin(ctx, &state, code, view).await
        }
    }
}

/// `POST /staff/checkin/{code}/dose`: record the dose given.
pub async fn dose_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<DoseForm>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let code = BookingCode::parse(&path).map_err(|_| AppError::NotFound)?;
    let form = form.into_inner();
    let lang = ctx.lang;
    let d = desk(&state, &u);
    let mut errors = FormErrors::default();
    let (dose, time) = {
        let mut note = note(&mut errors, lang);
        let dose = parse_dose_number(&form.dose_number).map_err(&mut note).ok();
        let time = parse_clock_time(&form.time, "time").map_err(&mut note).ok();
        (dose, time)
    };
    let lot = parse_lot_number(&form.lot, "lot")
        .map_err(|e| {
            let e = e.or_key("clinic.err.lot_required");
            errors.add(e.field, field_message(lang, e))
        })
        .ok();
    let (Some(dose), Some(time), Some(lot), true) = (dose, time, lot, errors.is_empty()) else {
        let view = CheckinView {
            dose_form: Some(form),
            errors,
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            ..CheckinView::default()
        };
        return render_checkin(ctx, &state, code, view).await;
    };
    let lookup = code.as_str().to_string();
    let a = read(&state, move |c, _| {
        appointment::find_by_code(c, &lookup)?.ok_or(AppError::NotFound)
    })
    .await?;
    let cmd = GiveDose {
        appointment: AppointmentId(a.id),
        lot,
        dose_number: dose,
        given_at: d.today_at(time),
    };
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::record_dose(&st.db, &d, cmd))
    })
    .await?;
    match outcome {
        Ok(_) => Ok(see_other(&format!(
            "/staff/sites/{}?done=dose#observation",
            a.site_id
        ))),
        Err(e) if e.is_internal() => Err(AppError::Internal(e.into())),
        Err(e) => {
            let view = CheckinView {
                dose_form: Some(form),
                refusal: Some(refusal(lang, &e)),
                status: Some(refusal_status(&e)),
                ..CheckinView::default()
            };
            render_checkin(ctx, &state, code, view).await
        }
    }
}

// ---- walk-ins ---------------------------------------------------------------------------------

/// `GET /staff/sites/{id}/walk-in`: register someone without an appointment.
pub async fn walkin_form(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    let view = WalkInView::default();
    render_walkin(ctx, &state, SiteId(*path), view).await
}

#[derive(Default)]
struct WalkInView {
    form: WalkInForm,
    errors: FormErrors,
    refusal: Option<String>,
    status: Option<StatusCode>,
}

async fn render_walkin(
    ctx: Ctx,
    state: &web::Data<AppState>,
    site_id: SiteId,
    view: WalkInView,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    let d = desk(state, &u);
    if !d.staff.may_act_for(site_id.0) {
        return Err(AppError::Forbidden);
    }
    let (from, to) = d.today_bounds();
    let now = d.now;
    let (s, slots, products) = read(state, move |c, _| {
        let s = site::find(c, site_id)?.ok_or(AppError::NotFound)?;
        Ok((
            s,
            slot::list_for_site_between(c, site_id, from, to)?,
            product::list(c)?,
        ))
    })
    .await?;
    let (tz, lang) = (d.tz, ctx.lang);
    let running: Vec<(String, String)> = slots
        .iter()
        .filter(|sl| sl.starts_at <= now && now < sl.ends_at && sl.free_second() > 0)
        .map(|sl| {
            (
                sl.id.to_string(),
                lang.tf(
                    "clinic.walkin.slot",
                    &[
                        (
                            "time",
                            &format!("{}–{}", hm(tz, sl.starts_at), hm(tz, sl.ends_at)),
                        ),
                        ("product", &product_name(&products, sl.product_id)),
                        ("n", &sl.free_second().to_string()),
                    ],
                ),
            )
        })
        .collect();
    let mut form = view.form;
    if form.slot.is_empty() {
        if let Some((id, _)) = running.first() {
            form.slot = id.clone();
        }
    }
    let page = WalkInPage {
        site_id: s.id.to_string(),
        site_name: s.name,
        slots: running,
        form,
        errors: view.errors,
        refusal: view.refusal,
        ctx,
    };
    html_status(&page, view.status.unwrap_or(StatusCode::OK))
}

/// `POST /staff/sites/{id}/walk-in`: take a seat and a dose, then go to the check-in page.
pub async fn walkin_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<WalkInForm>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let site_id = SiteId(*path);
    if !desk(&state, &u).staff.may_act_for(site_id.0) {
        return Err(AppError::Forbidden);
    }
    let mut form = form.into_inner();
    form.id_number = form.id_number.trim().to_string();
    let lang = ctx.lang;
    let details = parse_resident(
        lang,
        &crate::views::ResidentForm {
            name: form.name.clone(),
            id_number: form.id_number.clone(),
            phone: form.phone.clone(),
            email: form.email.clone(),
            ..Default::default()
        },
    );
    let slot_id = parse_id(&form.slot).map(SlotId);
    let (details, slot_id) = match (details, slot_id) {
        (Ok(d), Some(s)) => (d, s),
        (details, slot_id) => {
            let mut errors = details.err().unwrap_or_default();
            if slot_id.is_none() {
                errors.add("slot", lang.t("clinic.err.no_current_slot").to_string());
            }
            let view = WalkInView {
                form,
                errors,
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                ..WalkInView::default()
            };
            return render_walkin(ctx, &state, site_id, view).await;
        }
    };
    let d = desk(&state, &u);
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::walk_in(&st.db, &st.keys, &d, slot_id, &details))
    })
    .await?;
    match outcome {
        Ok(a) => Ok(see_other(&format!(
            "/staff/checkin/{}?done=walk_in",
            a.code
        ))),
        Err(e) if e.is_internal() => Err(AppError::Internal(e.into())),
        Err(ClinicError::WrongSite) => Err(AppError::Forbidden),
        Err(e) => {
            let view = WalkInView {
                form,
                refusal: Some(refusal(lang, &e)),
                status: Some(refusal_status(&e)),
                ..WalkInView::default()
            };
            render_walkin(ctx, &state, site_id, view).await
        }
    }
}

// ---- wastage ----------------------------------------------------------------------------------

/// `GET /staff/sites/{id}/wastage`: record wasted doses.
pub async fn wastage_form(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    render_wastage(
        ctx,
        &state,
        SiteId(*path),
        WasteForm::default(),
        FormErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn render_wastage(
    ctx: Ctx,
    state: &web::Data<AppState>,
    site_id: SiteId,
    form: WasteForm,
    errors: FormErrors,
    refusal: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    let d = desk(state, &u);
    if !d.staff.may_act_for(site_id.0) {
        return Err(AppError::Forbidden);
    }
    let (s, lots, products) = read(state, move |c, _| {
        let s = site::find(c, site_id)?.ok_or(AppError::NotFound)?;
        // Expired lots too: an expired vial is the commonest wastage.
        Ok((
            s,
            lot::in_stock_at_site(c, site_id, None)?,
            product::list(c)?,
        ))
    })
    .await?;
    let lang = ctx.lang;
    let lots = lots
        .iter()
        .map(|(l, n)| {
            (
                format!("{}:{}", l.product_id, l.lot_number),
                format!(
                    "{} · {}",
                    product_name(&products, l.product_id),
                    lang.tf(
                        "clinic.stock.lot",
                        &[
                            ("lot", &l.lot_number),
                            ("date", &l.expires_on.format("%Y-%m-%d").to_string()),
                            ("n", &n.to_string()),
                        ],
                    )
                ),
            )
        })
        .collect();
    let page = WastagePage {
        site_id: s.id.to_string(),
        site_name: s.name,
        lots,
        kinds: WasteKind::ALL.iter().map(|k| k.as_str()).collect(),
        form,
        errors,
        refusal,
        ctx,
    };
    html_status(&page, status)
}

/// `POST /staff/sites/{id}/wastage`.
pub async fn wastage_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<WasteForm>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let site_id = SiteId(*path);
    let form = form.into_inner();
    let lang = ctx.lang;
    let mut errors = FormErrors::default();
    let parsed = {
        let mut note = note(&mut errors, lang);
        // The select's value is `PRODUCT_ID:LOT_NUMBER`.
        let lot = match form.lot.split_once(':') {
            Some((p, l)) => parse_id(p)
                .ok_or(FieldError::new("lot", "clinic.err.lot_required"))
                .and_then(|p| {
                    let l = parse_lot_number(l, "lot")
                        .map_err(|e| e.or_key("clinic.err.lot_required"))?;
                    Ok((ProductId(p), l))
                }),
            None => Err(FieldError::new("lot", "clinic.err.lot_required")),
        }
        .map_err(&mut note)
        .ok();
        let doses = parse_doses(&form.doses).map_err(&mut note).ok();
        let kind = WasteKind::parse(&form.kind).map_err(&mut note).ok();
        let reason = Note::parse(&form.reason, "reason").map_err(&mut note).ok();
        match (lot, doses, kind, reason) {
            (Some((product, lot)), Some(doses), Some(kind), Some(reason)) => Some(Waste {
                site: site_id,
                product,
                lot,
                doses,
                kind,
                reason,
            }),
            _ => None,
        }
    };
    let Some(w) = parsed else {
        return render_wastage(
            ctx,
            &state,
            site_id,
            form,
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let d = desk(&state, &u);
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::record_wastage(&st.db, &d, w))
    })
    .await?;
    match outcome {
        Ok(()) => Ok(see_other(&format!(
            "/staff/sites/{}?done=wastage",
            site_id.0
        ))),
        Err(e) if e.is_internal() => Err(AppError::Internal(e.into())),
        Err(ClinicError::WrongSite) => Err(AppError::Forbidden),
        Err(e) => {
            let msg = refusal(lang, &e);
            render_wastage(
                ctx,
                &state,
                site_id,
                form,
                errors,
                Some(msg),
                refusal_status(&e),
            )
            .await
        }
    }
}

// ---- adverse reactions ------------------------------------------------------------------------

/// `GET /staff/vaccinations/{id}/reaction`: record a reaction after a dose.
pub async fn reaction_form(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Clinic)?;
    let form = ReactionForm {
        severity: "mild".into(),
        time: hm(state.settings.time_zone, state.now()),
        ..ReactionForm::default()
    };
    render_reaction(
        ctx,
        &state,
        *path,
        form,
        FormErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn render_reaction(
    ctx: Ctx,
    state: &web::Data<AppState>,
    vaccination_id: i64,
    form: ReactionForm,
    errors: FormErrors,
    refusal: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    let d = desk(state, &u);
    let (v, r, p, existing) = read(state, move |c, _| {
        let v = vaccination::find(c, vaccination_id)?.ok_or(AppError::NotFound)?;
        let r = resident::find(c, ResidentId(v.resident_id))?.ok_or(AppError::NotFound)?;
        let p = product::find(c, ProductId(v.product_id))?.ok_or(AppError::NotFound)?;
        let existing = adverse_event::list_for_vaccination(c, v.id)?;
        Ok((v, r, p, existing))
    })
    .await?;
    if !d.staff.may_act_for(v.site_id) {
        return Err(AppError::Forbidden);
    }
    let (tz, lang) = (d.tz, ctx.lang);
    let page = ReactionPage {
        vaccination_id: v.id.to_string(),
        site_id: v.site_id.to_string(),
        rows: vec![
            ("appt.name", r.name),
            ("appt.id_number", IdNumber::mask_stored(&r.id_last4)),
            (
                "appt.product",
                format!(
                    "{} · {} · {}",
                    p.name,
                    lang.tf("form.dose_n", &[("n", &v.dose_number.to_string())]),
                    v.lot
                ),
            ),
            ("clinic.dose.given_at", hm(tz, v.given_at)),
            ("clinic.observe.leave_at", hm(tz, v.observation_until)),
        ],
        existing: existing
            .iter()
            .map(|e| reaction_line(lang, tz, e))
            .collect(),
        severities: Severity::ALL.iter().map(|s| s.as_str()).collect(),
        form,
        errors,
        refusal,
        ctx,
    };
    html_status(&page, status)
}

/// `POST /staff/vaccinations/{id}/reaction`.
pub async fn reaction_submit(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<ReactionForm>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    ctx.check_csrf(&form.csrf)?;
    let vaccination_id = *path;
    let form = form.into_inner();
    let lang = ctx.lang;
    let d = desk(&state, &u);
    let mut errors = FormErrors::default();
    let parsed = {
        let mut note = note(&mut errors, lang);
        let severity = Severity::parse(&form.severity).map_err(&mut note).ok();
        let symptoms = Note::parse(&form.symptoms, "symptoms")
            .map_err(&mut note)
            .ok();
        let action = Note::parse(&form.action, "action").map_err(&mut note).ok();
        let time = parse_clock_time(&form.time, "time").map_err(&mut note).ok();
        match (severity, symptoms, action, time) {
            (Some(severity), Some(symptoms), Some(action), Some(time)) => Some(Reaction {
                vaccination: vaccination_id,
                severity,
                symptoms,
                action,
                occurred_at: d.today_at(time),
            }),
            _ => None,
        }
    };
    let Some(r) = parsed else {
        return render_reaction(
            ctx,
            &state,
            vaccination_id,
            form,
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let site = read(&state, move |c, _| {
        Ok(vaccination::find(c, vaccination_id)?
            .ok_or(AppError::NotFound)?
            .site_id)
    })
    .await?;
    let outcome = blocking(&state, move |st| {
        Ok::<_, AppError>(desk_ops::record_reaction(&st.db, &d, r))
    })
    .await?;
    match outcome {
        Ok(()) => Ok(see_other(&format!(
            "/staff/sites/{site}?done=reaction#observation"
        ))),
        Err(e) if e.is_internal() => Err(AppError::Internal(e.into())),
        Err(ClinicError::WrongSite) => Err(AppError::Forbidden),
        Err(ClinicError::NotFound) => Err(AppError::NotFound),
        Err(e) => {
            let msg = refusal(lang, &e);
            render_reaction(
                ctx,
                &state,
                vaccination_id,
                form,
                errors,
                Some(msg),
                refusal_status(&e),
            )
            .await
        }
    }
}

/// The bureau's alert rows: severe reactions of the last seven days (a header row, then one row
/// per reaction: site and time, symptoms and action), newest first.
pub fn severe_reaction_rows(
    c: &mut AnyConnection,
    lang: Lang,
    tz: Tz,
    now: chrono::NaiveDateTime,
) -> Result<Vec<(String, String)>, AppError> {
    let events = adverse_event::list_by_severity_since(
        c,
        Severity::Severe.as_str(),
        now - Duration::days(7),
        100,
    )?;
    let mut rows = vec![(
        lang.t("clinic.bureau.severe_title").to_string(),
        lang.tf(
            "clinic.bureau.severe_count",
            &[("n", &events.len().to_string())],
        ),
    )];
    for (e, site_name) in events {
        let at = local(tz, e.occurred_at);
        rows.push((
            format!(
                "⚠ {} · {} {}",
                site_name,
                day_label(lang, at.date_naive()),
                at.format("%H:%M")
            ),
            format!("{} · {}", e.symptoms, e.action_taken),
        ));
    }
    Ok(rows)
}

/// `GET /static/clinic.js`: the desk's small progressive enhancement (the list reloads itself
/// while nobody is typing). Every page works without it.
pub async fn script() -> HttpResponse {
    super::static_file(
        include_str!("../../static/clinic.js"),
        "text/javascript; charset=utf-8",
    )
}
