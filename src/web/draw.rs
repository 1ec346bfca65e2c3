//! The fair release's resident pages: one's draw entry (`/entry`, granted by cookie after
//! entering or after code + ID number on `/entry/find`, never with the ID number in a URL) and a
//! draw's public record (`/draws/{id}`: commitment, then seed and order). Also what the site
//! page and the availability API share: a day's slots with their draws, running a draw whose
//! window has closed before showing it.

use crate::models::LocalName;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;

use super::cookies;
use super::ctx::{Ctx, Posted, Visit};
use super::lookup::{self, LookupForm, LookupPage};
use super::respond::{html, see_other};
use super::state::{blocking, read, AppState};
use crate::booking::draw as drawing;
use crate::error::AppError;
use crate::ids::SiteId;
use crate::models::draw::{self, Draw};
use crate::models::stock;
use crate::models::{site, slot};
use crate::views::draw::{self as views_draw, DrawPage, EntryFindPage};

/// A site (active or not), its town, the vaccines and the town's sites, through the one-second
/// read cache; `NotFound` for no such site.
pub async fn site_context(
    state: &web::Data<AppState>,
    site_id: SiteId,
) -> Result<super::cache::SiteContext, AppError> {
    let load = || async move {
        let context = read(state, move |c, _| {
            let s = site::find(c, site_id)?.ok_or(AppError::NotFound)?;
            let t = crate::models::town::find(c, crate::ids::TownId(s.town_id))?
                .ok_or(AppError::NotFound)?;
            let products = crate::models::product::list(c)?;
            let others = site::list_for_town(c, crate::ids::TownId(s.town_id))?;
            Ok((s, t, products, others))
        })
        .await?;
        Ok(std::sync::Arc::new(context))
    };
    state
        .caches
        .site
        .get_or_load(site_id.0, state.db.generation(), load)
        .await
}

/// A site's slots starting in `[from, to)` and the draws they open with, through the
/// one-second read cache, shared rather than copied, with the instant they were read (what is
/// made from them may be kept until [`super::cache::MAX_AGE`] after that instant). A draw among
/// them whose window has closed is run first (idempotent; another process may be running it).
pub async fn slots_and_draws(
    state: &web::Data<AppState>,
    site_id: SiteId,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> Result<(super::cache::DaySlots, std::time::Instant), AppError> {
    let load = move |c: &mut crate::db::AnyConnection| -> Result<_, AppError> {
        let slots = slot::list_for_site_between(c, site_id, from, to)?;
        let mut opens: Vec<NaiveDateTime> = slots.iter().filter_map(|s| s.opens_at).collect();
        opens.sort();
        opens.dedup();
        let mut draws = draw::list_for_openings(c, site_id, &opens)?;
        draw::count_entries(c, &mut draws)?;
        let stock = stock::balances_for_site(c, site_id)?;
        Ok((slots, draws, stock))
    };
    let now = state.now();
    let due = |draws: &[Draw]| draws.iter().any(|d| !d.is_done() && d.closes_at <= now);
    // At most a second old and never older than this process's last write (`web::cache`);
    // a draw that has come due is never served from it.
    let generation = state.db.generation();
    let key = (site_id.0, from, to);
    if let Some((at, hit)) = state.caches.slots.get_stamped(&key, generation) {
        if !due(&hit.1) {
            return Ok((hit, at));
        }
    }
    let read_at = std::time::Instant::now();
    let (slots, draws, stock) = read(state, move |c, _| load(c)).await?;
    if !due(&draws) {
        let fresh = std::sync::Arc::new((slots, draws, stock));
        state
            .caches
            .slots
            .put_stamped(key, generation, read_at, fresh.clone());
        return Ok((fresh, read_at));
    }
    let read_at = std::time::Instant::now();
    let settled = blocking(state, move |st| {
        drawing::settle(&st.db, &|| st.rules(), st.settings.contact_day_cap, &draws)?;
        let mut c = st.db.read.get()?;
        load(&mut c)
    })
    .await?;
    Ok((std::sync::Arc::new(settled), read_at))
}

/// 303 to the entry page, with the cookie that lets this browser see the entry.
pub fn grant_entry(state: &AppState, entry_id: i64) -> HttpResponse {
    cookies::grant(
        state,
        cookies::ENTRY,
        entry_id,
        cookies::ENTRY_SECONDS,
        "/entry",
    )
}

/// `GET /entry`: the entry this browser was granted; its draw is run first if it is due.
pub async fn entry_page(
    Visit { ctx, state }: Visit,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let Some(id) = cookies::get_private(&req, &state.keys.cookie, cookies::ENTRY)
        .and_then(|v| v.parse::<i64>().ok())
    else {
        return Ok(see_other("/entry/find"));
    };
    let (es, site) = blocking(&state, move |st| {
        let es = drawing::entry_state(&st.db, &|| st.rules(), st.settings.contact_day_cap, id)?;
        let mut c = st.db.read.get()?;
        // The site of the seat given (another site of the town, if the entry allowed it).
        let site_id = es
            .appointment
            .as_ref()
            .map_or(es.draw.site_id, |a| a.site_id);
        let s = site::find(&mut c, SiteId(site_id))?.ok_or(AppError::NotFound)?;
        Ok::<_, AppError>((es, s))
    })
    .await?;
    let appointment_id = es.appointment.as_ref().map(|a| a.id);
    let page = views_draw::entry_page(ctx, state.settings.time_zone, es, site);
    let mut res = html(&page)?;
    if let Some(a) = appointment_id {
        // Whoever may see the entry may see the appointment it was given.
        let _ = res.add_cookie(&cookies::private(
            &state.keys.cookie,
            cookies::APPOINTMENT,
            a.to_string(),
            cookies::APPOINTMENT_SECONDS,
            state.settings.cookie_secure,
        ));
    }
    Ok(res)
}

/// The entry's look-up page.
const ENTRY_FIND: LookupPage<EntryFindPage> = LookupPage {
    key: lookup::entry_attempts_key,
    too_many: "err.entry.code_attempts",
    not_found: "err.entry.not_found",
    page: |ctx, code, errors, refusal| EntryFindPage {
        ctx,
        code,
        errors,
        refusal,
    },
};

/// `GET /entry/find`.
pub async fn entry_find_form(ctx: Ctx) -> Result<HttpResponse, AppError> {
    ENTRY_FIND.empty(ctx)
}

/// `POST /entry/find`: code + ID number, then 303 to the entry. Wrong and unknown give the same
/// slow answer, as for appointments.
pub async fn entry_find_submit(posted: Posted<LookupForm>) -> Result<HttpResponse, AppError> {
    let find = |c: &mut _, st: &AppState, code: &_, id: &_| {
        drawing::find_entry(c, &st.keys, code, id).map(|e| e.id)
    };
    ENTRY_FIND.submit(posted, find, grant_entry).await
}

/// `GET /draws/{id}`: a draw's commitment, and once done its seed and order.
pub async fn draw_page(
    Visit { ctx, state }: Visit,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (d, s) = load_draw(&state, *path).await?;
    let tz = state.settings.time_zone;
    let page = DrawPage {
        site_id: s.id.to_string(),
        site_name: s.local_name(ctx.lang).to_string(),
        draw: views_draw::draw_row(ctx.lang, tz, state.now(), &d),
        order: d.order(),
        ctx,
    };
    html(&page)
}

/// A draw and its site, running the draw first if its window has closed.
pub async fn load_draw(
    state: &web::Data<AppState>,
    id: i64,
) -> Result<(Draw, crate::models::Site), AppError> {
    blocking(state, move |st| {
        let d = {
            let mut c = st.db.read.get()?;
            draw::find(&mut c, id)?.ok_or(AppError::NotFound)?
        };
        if !d.is_done() && d.closes_at <= st.now() {
            drawing::run_draw(&st.db, &|| st.rules(), st.settings.contact_day_cap, id)?;
        }
        let mut c = st.db.read.get()?;
        let d = draw::find_counted(&mut c, id)?.ok_or(AppError::NotFound)?;
        let s = site::find(&mut c, SiteId(d.site_id))?.ok_or(AppError::NotFound)?;
        Ok::<_, AppError>((d, s))
    })
    .await
}

/// `GET /static/countdown.js`: keeps the site page's countdown current between reloads and
/// reloads the page at the opening. The page works without it (text and a meta refresh).
pub async fn countdown_script() -> HttpResponse {
    super::static_file(
        include_str!("../../static/countdown.js"),
        "text/javascript; charset=utf-8",
    )
}
