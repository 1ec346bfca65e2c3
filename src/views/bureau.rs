//! The pages of the bureau's shipment workflow: their structs, and the builders of the rows
//! and of a plan's page.

use std::collections::HashMap;

use askama::Template;

use super::FormErrors;
use crate::bureau::{LevelTotals, LoadedPlan, StoredPlan};
use chrono_tz::Tz;

use crate::domain::mask_email;
use crate::i18n::{stamp, Lang};
use crate::models::outbox::OutboxRow;
use crate::models::shipment::{AllocationPlan, ShipmentLot};
use crate::models::shipment::{Shipment, TownNotice};
use crate::models::{LocalName, Product, Site, Town};
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

/// The catalogue key of a shipment's or plan's status.
pub fn status_key(status: &str) -> &'static str {
    match status {
        "approved" => "shipment.status.approved",
        "draft" => "plan.status.draft",
        _ => "shipment.status.received",
    }
}

/// A shipment as a list shows it.
pub fn shipment_row(lang: Lang, s: &Shipment, products: &[Product]) -> ShipmentRow {
    ShipmentRow {
        id: s.id.to_string(),
        product: products
            .iter()
            .find(|p| p.id == s.product_id)
            .map(|p| p.local_name(lang).to_string())
            .unwrap_or_default(),
        doses: s.doses,
        received_on: s.received_on.to_string(),
        next_expected_on: s.next_expected_on.to_string(),
        next_latest_on: s.next_latest_on.to_string(),
        status: status_key(&s.status),
    }
}

/// A share as a percentage, to a tenth.
fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The catalogue key of what capped a town's allocation.
fn cap_key(cap: &str) -> &'static str {
    match cap {
        "capacity" => "cap.capacity",
        "waiting_list" => "cap.waiting_list",
        "stock" => "cap.stock",
        "shipment_exhausted" => "cap.shipment_exhausted",
        "adjusted" => "cap.adjusted",
        _ => "cap.none",
    }
}

/// The plan's totals per level beside the optimum's.
fn level_rows(optimal: &LevelTotals, current: &LevelTotals) -> Vec<LevelRow> {
    [
        (
            "level.urgent_second",
            optimal.urgent_second,
            current.urgent_second,
        ),
        ("level.reserve", optimal.reserve, current.reserve),
        ("level.first", optimal.first, current.first),
        (
            "level.other_second",
            optimal.other_second,
            current.other_second,
        ),
    ]
    .into_iter()
    .map(|(label, optimal, current)| LevelRow {
        label,
        optimal,
        current,
        lost: optimal.saturating_sub(current),
    })
    .collect()
}

/// The notices to towns, each town named in the page's language as it is now.
pub fn notice_rows(
    lang: Lang,
    notices: Vec<TownNotice>,
    towns: &HashMap<i64, crate::models::Town>,
) -> Vec<NoticeRow> {
    notices
        .into_iter()
        .map(|n| NoticeRow {
            town: towns
                .get(&n.town_id)
                .map(|t| t.local_name(lang).to_string())
                .unwrap_or_default(),
            doses: n.doses,
            arrives_on: n.arrives_on.to_string(),
            second_doses_due: n.second_doses_due,
            due_by: n.due_by.map(|d| d.to_string()).unwrap_or_default(),
            first_dose_seats: n.first_dose_seats,
        })
        .collect()
}

/// The adjust form of a plan's page as typed, with its errors (empty when first shown).
#[derive(Default)]
pub struct AdjustShown {
    pub code: String,
    pub doses: String,
    pub reason: String,
    pub errors: FormErrors,
    pub refusal: Option<String>,
}

/// What a plan's page is made from: the plan as loaded, its notices, and the towns and sites as
/// they are now.
pub struct PlanRead {
    pub loaded: LoadedPlan,
    pub notices: Vec<TownNotice>,
    pub towns: HashMap<i64, Town>,
    pub sites: HashMap<i64, Site>,
}

/// A plan's page with its adjust form.
pub fn plan_page(ctx: Layout, read: PlanRead, form: AdjustShown) -> PlanPage {
    let PlanRead {
        loaded,
        notices,
        towns,
        sites,
    } = read;
    let id = loaded.row.id;
    // The plan stored the names as they were; the page names towns and sites in its
    // language as they are now (the stored name for one no longer listed).
    let lang = ctx.lang;
    let town_name = |id: i64, stored: String| {
        towns
            .get(&id)
            .map_or(stored, |t| t.local_name(lang).to_string())
    };
    let site_name = |id: i64, stored: String| {
        sites
            .get(&id)
            .map_or(stored, |s| s.local_name(lang).to_string())
    };
    let StoredPlan {
        towns: lines,
        central_hold,
        levels,
        water_level,
        adjustments,
    } = loaded.plan;
    let approved = loaded.row.status == "approved";
    let page = PlanPage {
        plan_id: id.to_string(),
        shipment_id: loaded.shipment.id.to_string(),
        product: loaded.product.local_name(ctx.lang).to_string(),
        shipment_doses: loaded.shipment.doses,
        pack_size: loaded.product.pack_size,
        approved,
        status: status_key(&loaded.row.status),
        central_hold,
        water_level: pct(water_level),
        levels: level_rows(&loaded.optimal.levels, &levels),
        towns: lines
            .into_iter()
            .map(|t| PlanTownRow {
                optimal_ship: loaded
                    .optimal
                    .towns
                    .iter()
                    .find(|o| o.code == t.code)
                    .map_or(0, |o| o.ship),
                code: t.code,
                name: town_name(t.town_id, t.name),
                ship: t.ship,
                urgent: t.urgent_second,
                reserve: t.reserve,
                first: t.first,
                other: t.other_second,
                coverage_before: pct(t.coverage_before),
                coverage_after: pct(t.coverage_after),
                cap: cap_key(&t.cap),
                sites: t
                    .sites
                    .into_iter()
                    .map(|s| SiteShareRow {
                        second: s.second_doses.values().sum(),
                        name: site_name(s.site_id, s.name),
                        ship: s.ship,
                        first: s.first,
                    })
                    .collect(),
            })
            .collect(),
        adjustments: adjustments
            .into_iter()
            .map(|a| (a.code, a.from, a.to, a.reason, a.by))
            .collect(),
        notices: notice_rows(ctx.lang, notices, &towns),
        errors: form.errors,
        refusal: form.refusal,
        adjust_code: form.code,
        adjust_doses: form.doses,
        adjust_reason: form.reason,
        ctx,
    };
    page
}

/// What a shipment's page is made from: the shipment, its lots, its plans and the vaccines.
pub struct ShipmentRead {
    pub shipment: Shipment,
    pub lots: Vec<ShipmentLot>,
    pub plans: Vec<AllocationPlan>,
    pub products: Vec<Product>,
}

/// A shipment's page, with the refusal of its plan button if any.
pub fn shipment_page(
    ctx: Layout,
    tz: Tz,
    read: ShipmentRead,
    refusal: Option<String>,
) -> ShipmentPage {
    let ShipmentRead {
        shipment: s,
        lots,
        plans,
        products,
    } = read;
    ShipmentPage {
        can_plan: s.status != "approved",
        s: shipment_row(ctx.lang, &s, &products),
        lots: lots
            .into_iter()
            .map(|l| (l.lot_number, l.expires_on.to_string(), l.doses))
            .collect(),
        plans: plans
            .into_iter()
            .map(|p| {
                let at = stamp(tz, p.created_at);
                (p.id.to_string(), at, status_key(&p.status), p.created_by)
            })
            .collect(),
        refusal,
        ctx,
    }
}

/// The mail page: how much mail is in each state, and what failed for good (the recipient
/// masked).
pub fn mail_page(
    ctx: Layout,
    tz: Tz,
    counts: Vec<(String, i64)>,
    failed: Vec<OutboxRow>,
) -> MailPage {
    MailPage {
        counts,
        failed: failed
            .into_iter()
            .map(|m| {
                (
                    stamp(tz, m.created_at),
                    m.kind,
                    mask_email(&m.recipient),
                    m.attempts,
                    m.last_error.unwrap_or_default(),
                )
            })
            .collect(),
        ctx,
    }
}
