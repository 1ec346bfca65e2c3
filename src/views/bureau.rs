//! Page structs of the bureau's shipment workflow.

use askama::Template;

use super::FormErrors;
use crate::views::layout::Layout;

/// A shipment in a list.
pub struct ShipmentRow {
    pub id: String,
    pub product: String,
    pub doses: i32,
    pub received_on: String,
    pub next_expected_on: String,
    pub next_latest_on: String,
    pub status: &'static str,
}

/// The values typed into the shipment form, kept on errors.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct ShipmentForm {
    pub product_id: String,
    pub doses: String,
    pub received_on: String,
    pub next_expected_on: String,
    pub next_latest_on: String,
    pub lots: String,
    pub csrf: String,
}

/// Shipments and the form to record one.
#[derive(Template)]
#[template(path = "bureau/shipments.html")]
pub struct ShipmentsPage {
    pub ctx: Layout,
    pub shipments: Vec<ShipmentRow>,
    pub products: Vec<(String, String)>,
    pub form: ShipmentForm,
    pub errors: FormErrors,
}

/// One shipment, its lots and plans.
#[derive(Template)]
#[template(path = "bureau/shipment.html")]
pub struct ShipmentPage {
    pub ctx: Layout,
    pub s: ShipmentRow,
    pub lots: Vec<(String, String, i32)>,
    pub plans: Vec<(String, String, &'static str, String)>,
    pub can_plan: bool,
    pub refusal: Option<String>,
}

/// One level of a plan against the optimal plan.
pub struct LevelRow {
    pub label: &'static str,
    pub optimal: u64,
    pub current: u64,
    pub lost: u64,
}

/// A site's share in a town row.
pub struct SiteShareRow {
    pub name: String,
    pub ship: u64,
    pub first: u64,
    pub second: u64,
}

/// A town's row of a plan.
pub struct PlanTownRow {
    pub code: String,
    pub name: String,
    pub ship: u64,
    pub optimal_ship: u64,
    pub urgent: u64,
    pub reserve: u64,
    pub first: u64,
    pub other: u64,
    pub coverage_before: String,
    pub coverage_after: String,
    pub cap: &'static str,
    pub sites: Vec<SiteShareRow>,
}

/// A notice to a town.
pub struct NoticeRow {
    pub town: String,
    pub doses: i32,
    pub arrives_on: String,
    pub second_doses_due: i32,
    pub due_by: String,
    pub first_dose_seats: i32,
}

/// A plan: the table per town, the levels against the optimal plan, adjust and approve.
#[derive(Template)]
#[template(path = "bureau/plan.html")]
pub struct PlanPage {
    pub ctx: Layout,
    pub plan_id: String,
    pub shipment_id: String,
    pub product: String,
    pub shipment_doses: i32,
    pub pack_size: i32,
    pub approved: bool,
    pub status: &'static str,
    pub central_hold: u64,
    pub water_level: String,
    pub levels: Vec<LevelRow>,
    pub towns: Vec<PlanTownRow>,
    pub adjustments: Vec<(String, u64, u64, String, String)>,
    pub notices: Vec<NoticeRow>,
    pub errors: FormErrors,
    pub refusal: Option<String>,
    pub adjust_code: String,
    pub adjust_doses: String,
    pub adjust_reason: String,
}

/// Notices to towns.
#[derive(Template)]
#[template(path = "bureau/notices.html")]
pub struct NoticesPage {
    pub ctx: Layout,
    pub rows: Vec<NoticeRow>,
}

/// The mail outbox as the bureau sees it: counts, and messages that failed for good.
#[derive(Template)]
#[template(path = "bureau/mail.html")]
pub struct MailPage {
    pub ctx: Layout,
    pub counts: Vec<(String, i64)>,
    pub failed: Vec<(String, String, String, i32, String)>,
}

impl MailPage {
    /// An outbox status (`pending`, `sending`, `sent`, `skipped`, `failed`) in the page's
    /// language; an unknown one as it is stored.
    pub fn status<'a>(&self, status: &'a str) -> &'a str {
        let key = match status {
            "pending" => "mail.status.pending",
            "sending" => "mail.status.sending",
            "sent" => "mail.status.sent",
            "skipped" => "mail.status.skipped",
            "failed" => "mail.status.failed",
            _ => return status,
        };
        self.ctx.t(key)
    }

    /// A message kind in the page's language; an unknown one as it is stored.
    pub fn kind<'a>(&self, kind: &'a str) -> &'a str {
        let key = match kind {
            "booked" => "mail.kind.booked",
            "moved" => "mail.kind.moved",
            "cancelled" => "mail.kind.cancelled",
            "reminder" => "mail.kind.reminder",
            "dose2_window" => "mail.kind.dose2_window",
            "dose2_open" => "mail.kind.dose2_open",
            "dose2_last_call" => "mail.kind.dose2_last_call",
            "seats_opened" => "mail.kind.seats_opened",
            "town_notice" => "mail.kind.town_notice",
            "entry_result" => "mail.kind.entry_result",
            "relocated" => "mail.kind.relocated",
            _ => return kind,
        };
        self.ctx.t(key)
    }
}
