//! The start pages of the clinic, bureau and admin roles. The clinic desk itself (today's list,
//! check-in from a resident's QR code, doses, walk-ins) is in `web::clinic`.

use actix_web::{web, HttpResponse};
use chrono::Duration;

use super::ctx::Ctx;
use super::respond::html;
use super::state::{read, AppState};
use crate::domain::clinic::Severity;
use crate::error::AppError;
use crate::models::{adverse_event, stock, town, waiting, Role};
use crate::views::clinic::severe_reaction_rows;
use crate::views::RoleHomePage;

/// `GET /staff`: the clinic desk's start page: the user's site today (admins choose a site).
pub async fn clinic_home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    super::clinic::start(ctx, state).await
}

/// `GET /bureau`: towns with their waiting lists and stock.
pub async fn bureau_home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Bureau)?;
    let (lang, tz, now) = (ctx.lang, state.settings.time_zone, state.now());
    let rows = read(&state, move |c, _| {
        let towns = town::list_active(c)?;
        let waiting = waiting::waiting_town_ids(c)?;
        let balances = stock::balances_by_town(c)?;
        let mut rows: Vec<(String, String)> = towns
            .into_iter()
            .map(|t| {
                let waiting = waiting.iter().filter(|w| **w == t.id).count();
                let (on_hand, promised) = balances
                    .iter()
                    .filter(|(town, _, _)| *town == t.id)
                    .fold((0i64, 0i64), |(o, p), (_, on_hand, promised)| {
                        (o + i64::from(*on_hand), p + i64::from(*promised))
                    });
                (t.name, format!("{waiting} · {on_hand} ({promised})"))
            })
            .collect();
        let severe = adverse_event::list_by_severity_since(
            c,
            Severity::Severe.as_str(),
            now - Duration::days(7),
            100,
        )?;
        rows.extend(severe_reaction_rows(lang, tz, severe));
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
