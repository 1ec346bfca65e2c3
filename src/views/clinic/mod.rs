//! Page structs of the clinic desk: the site chooser, today's list, check-in (identity,
//! screening, the dose), walk-ins, wastage and adverse reactions.

mod build;
mod offline;

use askama::Template;
use serde::Deserialize;

pub use build::{
    checkin_page, choose_site_page, reaction_page, severe_reaction_rows, today_page, walkin_page,
    wastage_page, CheckinView, Shown, TodayView,
};
pub use offline::offline_list;

use super::FormErrors;
use crate::views::layout::Layout;

/// The admin's site chooser.
#[derive(Template)]
#[template(path = "clinic/choose.html")]
pub struct ChooseSitePage {
    pub ctx: Layout,
    /// `(site id, site name, town name)`.
    pub sites: Vec<(String, String, String)>,
}

/// Counts of a slot or the whole day.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub booked: usize,
    pub checked_in: usize,
    pub vaccinated: usize,
    pub no_show: usize,
    pub deferred: usize,
}

/// One appointment in today's list.
pub struct ApptRow {
    pub code: String,
    /// The code as the resident's ticket shows it (`7K3Q-9MZD`).
    pub code_shown: String,
    pub name: String,
    pub masked_id: String,
    pub dose: i32,
    pub status: &'static str,
    pub status_label: &'static str,
    /// Why screening deferred the dose (empty otherwise).
    pub reason: String,
}

/// One slot of today's list.
pub struct SlotBlock {
    pub id: String,
    pub time: String,
    pub product: String,
    pub seats: i32,
    pub taken: i32,
    pub counts: Counts,
    pub ended: bool,
    pub current: bool,
    pub rows: Vec<ApptRow>,
}

/// A product's stock at the site.
pub struct StockRow {
    pub product: String,
    pub on_hand: i32,
    pub promised: i32,
    pub free: i32,
    /// `lot (expires) : doses` for each lot in stock.
    pub lots: Vec<String>,
}

/// Someone in their observation period.
pub struct ObservationRow {
    pub vaccination_id: String,
    pub name: String,
    pub masked_id: String,
    pub given: String,
    pub leave_at: String,
    /// The reactions recorded since the dose, oldest first.
    pub reactions: Vec<String>,
    /// Whether one of them is severe (the row is marked for the whole desk to see).
    pub severe: bool,
}

/// The site's day.
#[derive(Template)]
#[template(path = "clinic/today.html")]
pub struct TodayPage {
    pub ctx: Layout,
    pub site_id: String,
    pub site_name: String,
    pub day: String,
    pub updated: String,
    pub notice: Option<String>,
    pub code: String,
    pub code_error: Option<String>,
    pub totals: Counts,
    pub stock: Vec<StockRow>,
    pub slots: Vec<SlotBlock>,
    pub observation: Vec<ObservationRow>,
    pub any_to_mark: bool,
    pub refresh_seconds: u32,
}

/// The check-in form's values, kept on errors.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct CheckinForm {
    pub csrf: String,
    pub last4: String,
    pub fever: String,
    pub allergy: String,
    pub pregnant: String,
    pub recent_vaccine: String,
    pub decision: String,
    pub reason: String,
    /// When the resident was seen, `HH:MM` today (now unless recorded late).
    pub time: String,
}

impl CheckinForm {
    /// The answer given to a question, by field name.
    pub fn answer(&self, field: &str) -> &str {
        match field {
            "fever" => &self.fever,
            "allergy" => &self.allergy,
            "pregnant" => &self.pregnant,
            "recent_vaccine" => &self.recent_vaccine,
            _ => "",
        }
    }
}

/// The dose form's values, kept on errors.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct DoseForm {
    pub csrf: String,
    pub lot: String,
    pub dose_number: String,
    pub time: String,
}

/// A dose in the resident's record.
pub struct HistoryRow {
    pub vaccination_id: String,
    pub dose: i32,
    pub product: String,
    pub given: String,
    pub lot: String,
    pub here: bool,
    pub reactions: Vec<String>,
}

/// The check-in page: who, whether they may be seen today, then the screening or the dose.
#[derive(Template)]
#[template(path = "clinic/checkin.html")]
pub struct DeskCheckinPage {
    pub ctx: Layout,
    pub code: String,
    pub site_id: Option<String>,
    pub rows: Vec<(&'static str, String)>,
    pub problem: Option<String>,
    pub refusal: Option<String>,
    pub notice: Option<String>,
    /// `screen`, `dose`, `done` or `none`.
    pub stage: &'static str,
    pub form: CheckinForm,
    pub dose_form: DoseForm,
    pub errors: FormErrors,
    /// `(value, label)` of the lots the dose may come from.
    pub lots: Vec<(String, String)>,
    pub doses_in_series: i32,
    pub history: Vec<HistoryRow>,
    pub questions: [(&'static str, &'static str, &'static str); 4],
}

/// A resident's record at the desk: who (the ID number masked) and every dose with its lot and
/// reactions.
#[derive(Template)]
#[template(path = "clinic/record.html")]
pub struct RecordPage {
    pub ctx: Layout,
    pub code: String,
    pub site_id: Option<String>,
    pub rows: Vec<(&'static str, String)>,
    pub history: Vec<HistoryRow>,
}

/// The record page of what the check-in page found.
pub fn record_page(p: DeskCheckinPage) -> RecordPage {
    RecordPage {
        ctx: p.ctx,
        code: p.code,
        site_id: p.site_id,
        rows: p.rows,
        history: p.history,
    }
}

/// The screening questions: the field, the question and what to do on "yes".
pub const SCREENING_QUESTIONS: [(&str, &str, &str); 4] = [
    ("fever", "clinic.screen.fever", "clinic.screen.fever_hint"),
    (
        "allergy",
        "clinic.screen.allergy",
        "clinic.screen.allergy_hint",
    ),
    (
        "pregnant",
        "clinic.screen.pregnant",
        "clinic.screen.pregnant_hint",
    ),
    (
        "recent_vaccine",
        "clinic.screen.recent_vaccine",
        "clinic.screen.recent_vaccine_hint",
    ),
];

/// The walk-in form's values.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct WalkInForm {
    pub csrf: String,
    pub slot: String,
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub email: String,
}

impl WalkInForm {
    /// A walk-in may give no e-mail address (then nothing is mailed).
    pub fn email_required(&self) -> bool {
        false
    }
}

/// Register a walk-in into the slot running now.
#[derive(Template)]
#[template(path = "clinic/walkin.html")]
pub struct WalkInPage {
    pub ctx: Layout,
    pub site_id: String,
    pub site_name: String,
    /// `(slot id, label)` of the slots running now with a seat free.
    pub slots: Vec<(String, String)>,
    pub form: WalkInForm,
    pub errors: FormErrors,
    pub refusal: Option<String>,
}

/// The wastage form's values.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct WasteForm {
    pub csrf: String,
    pub lot: String,
    pub doses: String,
    pub kind: String,
    pub reason: String,
}

/// Record wasted doses.
#[derive(Template)]
#[template(path = "clinic/wastage.html")]
pub struct WastagePage {
    pub ctx: Layout,
    pub site_id: String,
    pub site_name: String,
    /// `(value, label)`: every lot the site holds, expired ones included.
    pub lots: Vec<(String, String)>,
    pub kinds: Vec<&'static str>,
    pub form: WasteForm,
    pub errors: FormErrors,
    pub refusal: Option<String>,
}

/// The reaction form's values.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ReactionForm {
    pub csrf: String,
    pub severity: String,
    pub symptoms: String,
    pub action: String,
    pub time: String,
}

/// Record an adverse reaction after a dose.
#[derive(Template)]
#[template(path = "clinic/reaction.html")]
pub struct ReactionPage {
    pub ctx: Layout,
    pub vaccination_id: String,
    pub site_id: String,
    pub rows: Vec<(&'static str, String)>,
    pub existing: Vec<String>,
    pub severities: Vec<&'static str>,
    pub form: ReactionForm,
    pub errors: FormErrors,
    pub refusal: Option<String>,
}
