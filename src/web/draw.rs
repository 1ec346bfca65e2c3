//! The fair release's resident pages: one's draw entry (`/entry`, granted by cookie after
//! entering or after code + ID number on `/entry/find`, never with the ID number in a URL) and a
//! draw's public record (`/draws/{id}`: commitment, then seed and order). Also what the site
//! page and the availability API share: a day's slots with their draws, running a draw whose
//! window has closed before showing it.

use crate::models::LocalName;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::cookies;
use super::ctx::{Ctx, Posted, Visit};
use super::lookup::{self, LookupForm, LookupPage};
use super::respond::{html, see_other};
use super::state::{blocking, read, AppState};
use crate::booking::draw::{self as drawing, EntryState};
use crate::domain::BookingCode;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::ids::SiteId;
use crate::models::draw::{self, Draw};
use crate::models::draw_entry::EntryStatus;
use crate::models::stock;
use crate::models::{site, slot};
use crate::views::draw::{Countdown, DrawPage, DrawRow, EntryFindPage, EntryPage};
use crate::views::{at_label, local, FormErrors, ResidentForm};

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

/// A draw as pages show it.
pub fn draw_row(lang: Lang, tz: Tz, now: NaiveDateTime, d: &Draw) -> DrawRow {
    let status = if d.is_done() {
        "draw.status.done"
    } else if now < d.opens_at {
        "draw.status.scheduled"
    } else if now < d.closes_at && d.status == "scheduled" {
        "draw.status.open"
    } else {
        "draw.status.running"
    };
    DrawRow {
        id: d.id.to_string(),
        window: lang.tf(
            "draw.window",
            &[
                ("opens", &at_label(lang, tz, d.opens_at)),
                ("closes", &at_label(lang, tz, d.closes_at)),
            ],
        ),
        status_label: lang.t(status),
        seed_hash: d.seed_hash.clone(),
        seed: d.revealed_seed().map(str::to_string),
        entries: d.entries,
    }
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
    let page = entry_view(ctx, &state, es, site);
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

fn entry_view(ctx: Ctx, state: &AppState, es: EntryState, s: crate::models::Site) -> EntryPage {
    let (lang, tz) = (ctx.lang, state.settings.time_zone);
    let status = es.entry.status();
    let booking_code = es.appointment.as_ref().map(|a| BookingCode::shown(&a.code));
    let message = match status {
        EntryStatus::Waiting => lang.tf(
            "entry.status.waiting",
            &[("time", &at_label(lang, tz, es.draw.closes_at))],
        ),
        EntryStatus::Drawn => match &es.appointment {
            Some(a) => lang.tf(
                "entry.status.drawn",
                &[("when", &at_label(lang, tz, a.starts_at))],
            ),
            None => lang.t("entry.status.not_drawn").to_string(),
        },
        EntryStatus::NotDrawn => match es.entry.reason.as_deref() {
            Some(drawing::REASON_CONTACT_CAP) => lang.t("entry.status.contact_cap").to_string(),
            Some(drawing::REASON_NO_STOCK) => lang.t("entry.status.no_stock").to_string(),
            _ => lang.t("entry.status.not_drawn").to_string(),
        },
    };
    EntryPage {
        code: BookingCode::shown(&es.entry.code),
        status: status.as_str(),
        message,
        site_name: s.local_name(lang).to_string(),
        requested: at_label(lang, tz, es.entry.starts_at),
        draw_at: at_label(lang, tz, es.draw.closes_at),
        draw_id: es.draw.id.to_string(),
        booking_code,
        town_id: s.town_id.to_string(),
        form: ResidentForm::default(),
        errors: FormErrors::default(),
        ctx,
    }
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
        draw: draw_row(ctx.lang, tz, state.now(), &d),
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

/// The opening of a slot as the site page labels it: `None` when it can be booked or entered.
pub fn closed_label(lang: Lang, tz: Tz, opening: &drawing::Opening) -> Option<String> {
    match opening {
        drawing::Opening::NotOpen(at) => {
            Some(lang.tf("site.opens_at", &[("when", &at_label(lang, tz, *at))]))
        }
        drawing::Opening::Pending(_) => Some(lang.t("draw.status.running").to_string()),
        _ => None,
    }
}

/// The countdown to `at` as the site page shows it at `now` (`None` once it has passed).
pub fn countdown(lang: Lang, tz: Tz, now: NaiveDateTime, at: NaiveDateTime) -> Option<Countdown> {
    let secs = (at - now).num_seconds();
    if secs <= 0 {
        return None;
    }
    Some(Countdown {
        datetime: local(tz, at).to_rfc3339(),
        when: at_label(lang, tz, at),
        left: time_left(lang, secs),
        secs,
        // Reload once a minute in the last ten, and right at the opening.
        refresh: (secs <= 600).then(|| secs.min(60)),
        fmt_dh: lang.t("countdown.dh").to_string(),
        fmt_hm: lang.t("countdown.hm").to_string(),
        fmt_m: lang.t("countdown.m").to_string(),
        soon: lang.t("countdown.soon").to_string(),
    })
}

/// `secs` in words, to the minute (rounded up): "1 d 2 h", "2 h 5 min", "5 min".
pub fn time_left(lang: Lang, secs: i64) -> String {
    let minutes = (secs + 59) / 60;
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    if secs < 60 {
        lang.t("countdown.soon").to_string()
    } else if d > 0 {
        lang.tf(
            "countdown.dh",
            &[("d", &d.to_string()), ("h", &h.to_string())],
        )
    } else if h > 0 {
        lang.tf(
            "countdown.hm",
            &[("h", &h.to_string()), ("m", &m.to_string())],
        )
    } else {
        lang.tf("countdown.m", &[("m", &m.to_string())])
    }
}

/// `GET /static/countdown.js`: keeps the site page's countdown current between reloads and
/// reloads the page at the opening. The page works without it (text and a meta refresh).
pub async fn countdown_script() -> HttpResponse {
    super::static_file(
        include_str!("../../static/countdown.js"),
        "text/javascript; charset=utf-8",
    )
}

/// What the booking form says about a slot's opening: not yet, in a draw, being drawn.
pub fn opening_notice(lang: Lang, tz: Tz, opening: &drawing::Opening) -> Option<String> {
    match opening {
        drawing::Opening::NotOpen(at) => {
            Some(lang.tf("err.book.not_open", &[("when", &at_label(lang, tz, *at))]))
        }
        drawing::Opening::Window(d) => Some(lang.tf(
            "book.draw_notice",
            &[("closes", &at_label(lang, tz, d.closes_at))],
        )),
        drawing::Opening::Pending(_) => Some(lang.t("err.book.draw_running").to_string()),
        drawing::Opening::Open => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_left_is_in_words_to_the_minute_rounded_up() {
        let en = Lang::En;
        assert_eq!(time_left(en, 59), "less than a minute");
        assert_eq!(time_left(en, 60), "1 min");
        assert_eq!(time_left(en, 61), "2 min");
        assert_eq!(time_left(en, 3600), "1 h 0 min");
        assert_eq!(time_left(en, 2 * 86400 + 3 * 3600), "2 d 3 h");
        assert_eq!(time_left(Lang::Zh, 300), "5 分钟");
    }
}
