//! The start pages of the clinic, bureau and admin roles. The clinic desk itself (today's list,
//! check-in from a resident's QR code, doses, walk-ins) is in `web::clinic`.

use actix_web::{web, HttpResponse};

use super::ctx::Ctx;
use super::state::{read, AppState};
use crate::error::AppError;
use crate::ids::{SiteId, TownId};
use crate::models::{site, stock, town, waiting, Role};
use crate::views::{html, RoleHomePage};

/// `GET /staff`: the clinic desk's start page: the user's site today (admins choose a site).
pub async fn clinic_home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    super::clinic::start(ctx, state).await
}

/// `GET /bureau`: towns with their waiting lists and stock.
pub async fn bureau_home(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    ctx.require(Role::Bureau)?;
    let (lang, tz, now) = (ctx.lang, state.settings.time_zone, state.now());
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
        rows.extend(super::clinic::severe_reaction_rows(c, lang, tz, now)?);
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
