//! One day of a site as its page and the household page list it: each slot's seats, the label
//! that says why a slot takes no booking (closed, full, no vaccine in stock, second doses only,
//! not open yet, being drawn) and, on the move page, whether the appointment being moved could go
//! there. Read by `web::site_day::read_day`.

use chrono::{Duration, NaiveDate, Timelike};
use chrono_tz::Tz;

use crate::booking::draw::{opening_among, Opening};
use crate::booking::relocate::Mover;
use crate::booking::Rules;
use crate::i18n::{day_label, span, Lang};
use crate::models::draw::Draw;
use crate::models::stock::{self, StockBalance};
use crate::models::{exception, LocalName, Product, Site, Slot, Town};
use crate::views::layout::Layout;
use crate::views::{local, product_name, SitePage, SlotRow};

/// How many days after today a resident's pages show (a day asked beyond is shown as the last).
pub const DAYS_AHEAD: i64 = 60;

/// The day a resident's page shows for `asked`: no earlier than today, no later than
/// [`DAYS_AHEAD`] after it.
pub fn shown_day(today: NaiveDate, asked: NaiveDate) -> NaiveDate {
    asked.clamp(today, last_day(today))
}

/// The last day a resident's pages show.
pub fn last_day(today: NaiveDate) -> NaiveDate {
    today + Duration::days(DAYS_AHEAD)
}

/// What a day's rows are made from.
pub struct Day<'a> {
    pub lang: Lang,
    pub tz: Tz,
    pub rules: Rules,
    pub slots: &'a [Slot],
    pub draws: &'a [Draw],
    pub stock: &'a [StockBalance],
    pub products: &'a [Product],
    pub exceptions: &'a [exception::SiteException],
    pub mover: Option<&'a Mover>,
    /// The page books first come (a move, the household's booking together): a slot whose seats
    /// are being drawn takes no such booking, and says so.
    pub first_come: bool,
}

impl Day<'_> {
    /// The rows of the slots still ahead.
    pub fn rows(&self) -> Vec<SlotRow> {
        let (lang, tz, rules) = (self.lang, self.tz, self.rules);
        self.slots
            .iter()
            .filter(|sl| sl.starts_at > rules.now)
            .map(|sl| {
                let free_first =
                    stock::offered_first(sl, rules.now, rules.release_hours, self.stock);
                let free_second = sl.free_second();
                // Every booking promises a dose, a second one too: without one to promise the
                // slot offers no booking, whatever its seats.
                let no_stock = stock::unpromised(self.stock, sl.site_id, sl.product_id) == 0;
                let closure = (sl.seats == 0).then(|| closure_label(lang, tz, sl, self.exceptions));
                let label = if let Some(c) = &closure {
                    c.clone()
                } else if free_second == 0 {
                    lang.t("site.full").to_string()
                } else if no_stock {
                    lang.t("site.no_stock").to_string()
                } else if free_first == 0 {
                    lang.t("site.second_only").to_string()
                } else {
                    lang.tf("site.seats_left", &[("n", &free_first.to_string())])
                };
                let opening = opening_among(rules.now, sl, self.draws);
                let in_draw = matches!(opening, Opening::Window(_));
                let closed = super::draw::closed_label(lang, tz, &opening).or_else(|| {
                    // A first-come booking does not go into a slot whose seats are being drawn.
                    (self.first_come && in_draw).then(|| lang.t("draw.status.open").to_string())
                });
                // A move within the appointment's own site and vaccine keeps its promised dose.
                let movable = self.mover.is_some_and(|m| {
                    let needs_dose = m.holds != (sl.site_id, sl.product_id);
                    let (first, second) = if no_stock && needs_dose {
                        (0, 0)
                    } else {
                        (free_first, free_second)
                    };
                    m.fits(sl, self.products, first, second, tz)
                });
                SlotRow {
                    id: sl.id.to_string(),
                    time: span(tz, sl.starts_at, sl.ends_at),
                    product: product_name(lang, self.products, sl.product_id),
                    free_first,
                    free_second,
                    no_stock: no_stock && closure.is_none() && free_second > 0,
                    label,
                    closed,
                    in_draw,
                    shut: closure.is_some(),
                    current: self.mover.is_some_and(|m| m.from.0 == sl.id),
                    movable,
                }
            })
            .collect()
    }

    /// Whether the site holds no dose of any vaccine left to promise.
    pub fn site_without_stock(&self) -> bool {
        self.stock
            .iter()
            .all(|b| stock::unpromised(self.stock, b.site_id, b.product_id) == 0)
    }
}

/// "Closed", with the reason of the latest exception that closed the slot's time (or gave it no
/// seats) when there is one.
fn closure_label(lang: Lang, tz: Tz, sl: &Slot, exceptions: &[exception::SiteException]) -> String {
    let start = local(tz, sl.starts_at);
    let day = start.date_naive();
    let from = i32::try_from(start.time().num_seconds_from_midnight() / 60).unwrap_or(0);
    let to = from + i32::try_from((sl.ends_at - sl.starts_at).num_minutes()).unwrap_or(0);
    let reason = exceptions
        .iter()
        .rev()
        .filter(|e| e.day == day && e.starts < to && from < e.ends)
        .find(|e| e.kind == "closed" || e.seats == Some(0))
        .map(|e| e.reason.trim())
        .filter(|r| !r.is_empty());
    match reason {
        Some(r) => lang.tf("site.closed_because", &[("reason", r)]),
        None => lang.t("site.closed").to_string(),
    }
}

/// What a site's day page shows beside the day's rows.
pub struct SiteDayShown<'a> {
    pub site: &'a Site,
    pub town: &'a Town,
    /// The town's sites, to go to another.
    pub others: &'a [Site],
    pub today: NaiveDate,
    /// The day shown (see [`shown_day`]).
    pub day: NaiveDate,
    /// What went wrong, said on top: a move refused, or a `?date=` that could not be read.
    pub problem: Option<String>,
}

/// A site's day page: its slots as `day` makes them, the draws they open with and the countdown
/// to the next opening.
pub fn site_page(ctx: Layout, day: &Day, shown: SiteDayShown) -> SitePage {
    let (lang, tz, now) = (ctx.lang, day.tz, day.rules.now);
    let next_opening = day
        .slots
        .iter()
        .filter(|sl| sl.starts_at > now)
        .filter_map(|sl| match opening_among(now, sl, day.draws) {
            Opening::NotOpen(at) => Some(at),
            _ => None,
        })
        .min();
    let fmt = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let (s, today, d) = (shown.site, shown.today, shown.day);
    SitePage {
        countdown: next_opening.and_then(|at| super::draw::countdown(lang, tz, now, at)),
        site_id: s.id.to_string(),
        site_name: s.local_name(lang).to_string(),
        address: s.local_address(lang).to_string(),
        town_id: shown.town.id.to_string(),
        town_name: shown.town.local_name(lang).to_string(),
        day: day_label(lang, d),
        prev_date: (d > today).then(|| fmt(d - Duration::days(1))),
        next_date: (d < last_day(today)).then(|| fmt(d + Duration::days(1))),
        slots: day.rows(),
        no_stock: day.site_without_stock(),
        draws: day
            .draws
            .iter()
            .map(|d| super::draw::draw_row(lang, tz, now, d))
            .collect(),
        moving: day.mover.is_some(),
        date_error: shown.problem,
        other_sites: shown
            .others
            .iter()
            .filter(|o| o.id != s.id)
            .map(|o| (o.id.to_string(), o.local_name(lang).to_string()))
            .collect(),
        ctx,
    }
}
