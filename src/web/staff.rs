//! The start pages of the clinic, bureau and admin roles, and the check-in page a resident's QR
//! code opens. The full clinic and bureau workflows build on these.

use actix_web::{web, HttpResponse};

use super::ctx::Ctx;
use super::state::{read, AppState};
use crate::domain::{BookingCode, IdNumber};
use crate::error::AppError;
use crate::ids::{ProductId, ResidentId, SiteId, SlotId, TownId};
use crate::models::{
    appointment, audit, product, resident, site, slot, stock, town, user, waiting, Role,
};
use crate::views::{day_bounds, html, when, CheckinPage, RoleHomePage};

/// `GET /staff`: the clinic desk's start page: the site's day at a glance.
pub async fn clinic_home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    let (from, to) = day_bounds(state.settings.time_zone, state.today());
    let rows = read(&state, move |c, _| {
        let mut rows = Vec::new();
        let sites = match u.site_id {
            Some(id) => site::find(c, SiteId(id))?.into_iter().collect(),
            None => site::list_active(c)?,
        };
        let products = product::list(c)?;
        for s in sites.iter().take(50) {
            let slots = slot::list_for_site_between(c, SiteId(s.id), from, to)?;
            let booked: i32 = slots.iter().map(|x| x.booked_first + x.booked_second).sum();
            let seats: i32 = slots.iter().map(|x| x.seats).sum();
            rows.push((s.name.clone(), format!("{booked} / {seats}")));
            for b in stock::balances_for_site(c, SiteId(s.id))? {
                let name = products
                    .iter()
                    .find(|p| p.id == b.product_id)
                    .map(|p| p.name.clone())
                    .unwrap_or_default();
                rows.push((
                    format!("{} · {}", s.name, name),
                    format!("{} ({})", b.on_hand, b.promised),
                ));
            }
        }
        Ok(rows)
    })
    .await?;
    html(&RoleHomePage {
        heading: ctx.t("staff.title"),
        intro: ctx.t("staff.intro"),
        rows,
        ctx,
    })
}

/// `GET /bureau`: towns with their waiting lists and stock.
pub async fn bureau_home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Bureau)?;
    let rows = read(&state, move |c, _| {
        let mut rows = Vec::new();
        for t in town::list_active(c)? {
            let waiting = waiting::count_waiting(c, TownId(t.id))?;
            let mut on_hand = 0i64;
            let mut promised = 0i64;
            for s in site::list_for_town(c, TownId(t.id))? {
                for b in stock::balances_for_site(c, SiteId(s.id))? {
                    on_hand += i64::from(b.on_hand);
                    promised += i64::from(b.promised);
                }
            }
            rows.push((t.name, format!("{waiting} · {on_hand} ({promised})")));
        }
        Ok(rows)
    })
    .await?;
    html(&RoleHomePage {
        heading: ctx.t("bureau.title"),
        intro: ctx.t("bureau.intro"),
        rows,
        ctx,
    })
}

/// `GET /admin`: the city's size and the latest audit entries.
pub async fn admin_home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Admin)?;
    let lang = ctx.lang;
    let rows = read(&state, move |c, _| {
        let mut rows = vec![
            (
                lang.t("admin.towns").to_string(),
                town::count(c)?.to_string(),
            ),
            (
                lang.t("admin.sites").to_string(),
                site::list_active(c)?.len().to_string(),
            ),
            (
                lang.t("admin.users").to_string(),
                user::count(c)?.to_string(),
            ),
        ];
        for e in audit::recent(c, 20)? {
            rows.push((
                e.created_at.format("%Y-%m-%d %H:%M").to_string(),
                format!("{} · {} · {}", e.actor, e.action, e.subject),
            ));
        }
        Ok(rows)
    })
    .await?;
    html(&RoleHomePage {
        heading: ctx.t("admin.title"),
        intro: ctx.t("admin.intro"),
        rows,
        ctx,
    })
}

/// `GET /staff/checkin/{code}`: what a resident's QR code opens for clinic staff.
pub async fn checkin(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let u = ctx.require(Role::Clinic)?.clone();
    let code = BookingCode::parse(&path).map_err(|_| AppError::NotFound)?;
    let lang = ctx.lang;
    let tz = state.settings.time_zone;
    let today = state.today();
    let shown = code.to_string();
    let (rows, problem) = read(&state, move |c, _| {
        let Some(a) = appointment::find_by_code(c, code.as_str())? else {
            return Ok((Vec::new(), Some("checkin.unknown")));
        };
        let r = resident::find(c, ResidentId(a.resident_id))?.ok_or(AppError::NotFound)?;
        let s = site::find(c, SiteId(a.site_id))?.ok_or(AppError::NotFound)?;
        let p = product::find(c, ProductId(a.product_id))?.ok_or(AppError::NotFound)?;
        let sl = slot::find(c, SlotId(a.slot_id))?.ok_or(AppError::NotFound)?;
        let day = crate::views::local(tz, sl.starts_at).date_naive();
        let status = a.status();
        let problem = if u.role != Role::Admin && u.site_id.is_some_and(|id| id != a.site_id) {
            Some("checkin.wrong_site")
        } else if !status.is_active() {
            Some("checkin.not_active")
        } else if day != today {
            Some("checkin.wrong_day")
        } else {
            None
        };
        let rows = vec![
            ("appt.name", r.name),
            ("appt.id_number", IdNumber::mask_stored(&r.id_last4)),
            ("appt.site", s.name),
            ("appt.when", when(lang, tz, sl.starts_at, sl.ends_at)),
            (
                "appt.product",
                format!(
                    "{} · {}",
                    p.name,
                    lang.tf("form.dose_n", &[("n", &a.dose_number.to_string())])
                ),
            ),
            (
                "appt.status",
                lang.t(&format!("status.{}", status.as_str())).to_string(),
            ),
        ];
        Ok((rows, problem))
    })
    .await?;
    html(&CheckinPage {
        code: shown,
        rows,
        problem,
        ctx,
    })
}
