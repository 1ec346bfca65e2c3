//! Pages of the fair release: a draw entry (after entering, or found by code and ID number), the
//! form to find one, and a draw's public record (commitment, seed, order).

use askama::Template;
use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::{FormErrors, ResidentForm};
use crate::booking::draw::{self as drawing, EntryState};
use crate::domain::BookingCode;
use crate::i18n::{at_label, Lang};
use crate::models::draw::Draw;
use crate::models::draw_entry::EntryStatus;
use crate::models::{LocalName, Site};
use crate::views::layout::Layout;
use crate::views::local;

/// A draw as the site page and the draw page show it.
pub struct DrawRow {
    pub id: String,
    /// "Opens ... ; entries until ...", in the city's time and the page's language.
    pub window: String,
    pub status_label: &'static str,
    pub seed_hash: String,
    pub seed: Option<String>,
    pub entries: i32,
}

/// The site page's countdown to the day's next opening.
pub struct Countdown {
    /// The opening, RFC 3339 with the city's offset (the `<time datetime>`).
    pub datetime: String,
    /// The opening as people read it, in the city's time.
    pub when: String,
    /// How long until then, in words ("2 h 5 min"), as of the page's rendering.
    pub left: String,
    /// The same in seconds (the script counts from it, not from the visitor's clock).
    pub secs: i64,
    /// Reload the page after this many seconds (only when the opening is 10 minutes away or
    /// less, so that the page turns bookable by itself without JavaScript).
    pub refresh: Option<i64>,
    /// The unit templates the optional script formats with (`{d}`, `{h}`, `{m}`).
    pub fmt_dh: String,
    pub fmt_hm: String,
    pub fmt_m: String,
    pub soon: String,
}

/// One's entry in a draw.
#[derive(Template)]
#[template(path = "resident/entry.html")]
pub struct EntryPage {
    pub ctx: Layout,
    pub code: String,
    /// `waiting`, `drawn` or `not_drawn`.
    pub status: &'static str,
    pub message: String,
    pub site_name: String,
    pub requested: String,
    pub draw_at: String,
    pub draw_id: String,
    pub booking_code: Option<String>,
    pub town_id: String,
    /// The waiting-list form (offered when not drawn).
    pub form: crate::views::ResidentForm,
    pub errors: FormErrors,
}

/// Find an entry by code and ID number.
#[derive(Template)]
#[template(path = "resident/entry_find.html")]
pub struct EntryFindPage {
    pub ctx: Layout,
    pub code: String,
    pub errors: FormErrors,
    pub refusal: Option<String>,
}

/// A draw's public record.
#[derive(Template)]
#[template(path = "resident/draw.html")]
pub struct DrawPage {
    pub ctx: Layout,
    pub site_id: String,
    pub site_name: String,
    pub draw: DrawRow,
    /// Entry codes in drawn order, once done.
    pub order: Vec<String>,
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

/// An entry as its page shows it: where it stands in words, the seat drawn for it, if any.
pub fn entry_page(ctx: Layout, tz: Tz, es: EntryState, s: Site) -> EntryPage {
    let lang = ctx.lang;
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
