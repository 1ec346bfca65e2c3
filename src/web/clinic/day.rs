//! The site's day: the admin's site chooser, today's list, the typed code, no-shows.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::forms::{CodeQuery, NoShowForm, NoticeQuery};
use super::{answer, desk, desk_for, wrong_site};
use crate::booking::clinic as desk_ops;
use crate::domain::{parse_id, text, BookingCode};
use crate::error::AppError;
use crate::ids::{SiteId, SlotId};
use crate::models::{desk as desk_read, site, town, Role};
use crate::views::clinic::{self as pages, TodayPage, TodayView};
use crate::web::ctx::{Acting, Clinic, Ctx, Signed, Visit};
use crate::web::resident::field_message;
use crate::web::respond::{html, see_other, show, View};
use crate::web::state::{blocking, read, AppState};

/// `GET /staff`: a clinic user's site today; an admin chooses a site first.
pub async fn start(
    Signed {
        ctx,
        state,
        user: u,
        ..
    }: Signed<Clinic>,
) -> Result<HttpResponse, AppError> {
    match (u.role, u.site_id) {
        (Role::Admin, _) => {
            let (sites, towns) = read(&state, |c, _| {
                Ok((site::list_active(c)?, town::list_active(c)?))
            })
            .await?;
            html(&pages::choose_site_page(ctx, sites, &towns))
        }
        (_, Some(site)) => {
            let page = TodayView::default();
            show(ctx, &state, (SiteId(site), page), StatusCode::OK).await
        }
        (_, None) => Err(AppError::Forbidden),
    }
}

/// `GET /staff/sites/{id}`: the site's day.
pub async fn today(
    path: web::Path<i64>,
    q: web::Query<NoticeQuery>,
    Signed { ctx, state, .. }: Signed<Clinic>,
) -> Result<HttpResponse, AppError> {
    let view = TodayView {
        notice: q.message(ctx.lang),
        ..TodayView::default()
    };
    show(ctx, &state, (SiteId(*path), view), StatusCode::OK).await
}

/// The site's day at the desk, with what the view adds (a notice, the typed code again).
impl View for (SiteId, TodayView) {
    type Page = TodayPage;

    async fn page(self, ctx: Ctx, state: &web::Data<AppState>) -> Result<Self::Page, AppError> {
        let (site_id, view) = self;
        let d = desk_for(&ctx, state, site_id)?;
        let (bounds, now, today) = (d.today_bounds(), d.now, d.today());
        let day = read(state, move |c, _| {
            desk_read::day(c, site_id, bounds, today, now)?.ok_or(AppError::NotFound)
        })
        .await?;
        Ok(pages::today_page(ctx, day, view, (now, today, d.tz)))
    }
}

/// `GET /staff/sites/{id}/today.json`: today's list as the desk keeps it for working offline
/// (names, masked ID numbers, codes, slots, screening state; never a full ID number), with the
/// day and the instant it ends, after which the desk's copy is dropped.
pub async fn today_json(
    Visit { ctx, state }: Visit,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let d = desk_for(&ctx, &state, SiteId(*path))?;
    let user = d.staff.user_id;
    let page = (SiteId(*path), TodayView::default())
        .page(ctx, &state)
        .await?;
    let list = pages::offline_list(&page, user, d.today(), d.today_bounds().1);
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(list))
}

/// `GET /staff/checkin?code=...&site=...`: the typed booking code leads to its check-in page.
pub async fn find_code(
    q: web::Query<CodeQuery>,
    Signed { ctx, state, .. }: Signed<Clinic>,
) -> Result<HttpResponse, AppError> {
    match BookingCode::parse(&q.code) {
        Ok(code) => Ok(see_other(&format!("/staff/checkin/{}", code.as_str()))),
        Err(e) => {
            let site = parse_id(&q.site).ok_or(AppError::BadRequest)?;
            let view = TodayView {
                code: q.code.chars().take(40).collect(),
                code_error: Some(field_message(ctx.lang, e)),
                ..TodayView::default()
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            show(ctx, &state, (SiteId(site), view), status).await
        }
    }
}

/// `POST /staff/sites/{id}/no-shows`.
pub async fn no_shows(
    path: web::Path<i64>,
    Acting(ctx, state, u, form): Acting<NoShowForm>,
) -> Result<HttpResponse, AppError> {
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
    let done = |n| format!("/staff/sites/{}?done=no_show&n={n}", site_id.0);
    answer(ctx.lang, outcome, done, wrong_site, |msg, status| {
        let view = TodayView {
            code_error: Some(msg),
            ..TodayView::default()
        };
        show(ctx, &state, (site_id, view), status)
    })
    .await
}
