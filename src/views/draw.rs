//! Pages of the fair release: a draw entry (after entering, or found by code and ID number), the
//! form to find one, and a draw's public record (commitment, seed, order).

use askama::Template;

use super::FormErrors;
use crate::views::layout::Layout;

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
