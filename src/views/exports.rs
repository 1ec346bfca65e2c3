//! The bureau's CSV exports as files: which exports there are, their columns (catalogue keys),
//! and each row as cells. UTF-8 with a byte order mark (so a spreadsheet opens Chinese as
//! Chinese), ID numbers masked as on the pages, and every text cell that a spreadsheet would
//! read as a formula (`=`, `+`, `-`, `@`, tab, CR first) prefixed with `'`. Numbers are written
//! as numbers. The rows are read a page at a time by `models::export`; `web::exports` streams.

use std::borrow::Cow;

use askama::Template;
use chrono::NaiveDateTime;
use chrono_tz::Tz;

use crate::domain::IdNumber;
use crate::i18n::Lang;
use crate::models::export::{AppointmentRow, ReactionRow, StockRow, VaccinationRow, WaitingRow};
use crate::views::audit::AuditRow;
use crate::views::layout::Layout;

/// The UTF-8 byte order mark every export starts with.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Appointments,
    Vaccinations,
    Stock,
    Plans,
    Reactions,
    Waiting,
    Audit,
}

impl Export {
    /// Every export, in the order the exports page lists them.
    pub const ALL: [Export; 7] = [
        Export::Appointments,
        Export::Vaccinations,
        Export::Stock,
        Export::Plans,
        Export::Reactions,
        Export::Waiting,
        Export::Audit,
    ];

    /// The name in its URL, `/bureau/exports/{name}.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Export::Appointments => "appointments",
            Export::Vaccinations => "vaccinations",
            Export::Stock => "stock",
            Export::Plans => "plans",
            Export::Reactions => "reactions",
            Export::Waiting => "waiting",
            Export::Audit => "audit",
        }
    }

    /// The export named in a URL.
    pub fn from_name(name: &str) -> Option<Export> {
        Export::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Its title's catalogue key.
    pub fn title_key(self) -> &'static str {
        match self {
            Export::Appointments => "export.appointments",
            Export::Vaccinations => "export.vaccinations",
            Export::Stock => "export.stock",
            Export::Plans => "export.plans",
            Export::Reactions => "export.reactions",
            Export::Waiting => "export.waiting",
            Export::Audit => "export.audit",
        }
    }

    /// The catalogue keys of its columns, in order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Export::Appointments => &[
                "export.col.starts_at",
                "export.col.code",
                "export.col.town",
                "export.col.site",
                "export.col.product",
                "export.col.dose",
                "export.col.status",
                "export.col.name",
                "export.col.id_number",
                "export.col.booked_at",
            ],
            Export::Vaccinations => &[
                "export.col.given_at",
                "export.col.town",
                "export.col.site",
                "export.col.product",
                "export.col.dose",
                "export.col.lot",
                "export.col.staff",
                "export.col.name",
                "export.col.id_number",
            ],
            Export::Stock => &[
                "export.col.at",
                "export.col.town",
                "export.col.site",
                "export.col.product",
                "export.col.delta",
                "export.col.kind",
                "export.col.lot",
                "export.col.reason",
                "export.col.actor",
            ],
            Export::Plans => &[
                "export.col.plan",
                "export.col.approved_at",
                "export.col.approved_by",
                "export.col.product",
                "export.col.town_code",
                "export.col.town",
                "export.col.site",
                "export.col.ship",
                "export.col.urgent_second",
                "export.col.reserve",
                "export.col.first",
                "export.col.other_second",
                "export.col.second_total",
            ],
            Export::Reactions => &[
                "export.col.occurred_at",
                "export.col.town",
                "export.col.site",
                "export.col.product",
                "export.col.dose",
                "export.col.lot",
                "export.col.severity",
                "export.col.symptoms",
                "export.col.action",
                "export.col.staff",
                "export.col.name",
                "export.col.id_number",
            ],
            Export::Waiting => &[
                "export.col.joined_at",
                "export.col.town",
                "export.col.dose",
                "export.col.status",
                "export.col.name",
                "export.col.id_number",
            ],
            Export::Audit => &[
                "export.col.at",
                "export.col.actor",
                "export.col.audit_action",
                "export.col.subject",
                "export.col.detail",
                "export.col.town",
            ],
        }
    }
}

/// A text cell as a spreadsheet cannot run it: a leading `=`, `+`, `-`, `@`, tab or CR gets a
/// `'` in front.
pub fn neutralise(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

/// One cell: text (neutralised when written) or a number (written as it is).
pub enum Cell<'a> {
    Text(Cow<'a, str>),
    Num(i64),
}

impl<'a> From<&'a str> for Cell<'a> {
    fn from(s: &'a str) -> Self {
        Cell::Text(Cow::Borrowed(s))
    }
}

impl From<String> for Cell<'_> {
    fn from(s: String) -> Self {
        Cell::Text(Cow::Owned(s))
    }
}

impl From<i64> for Cell<'_> {
    fn from(n: i64) -> Self {
        Cell::Num(n)
    }
}

impl From<i32> for Cell<'_> {
    fn from(n: i32) -> Self {
        Cell::Num(n.into())
    }
}

/// A part of an export: the BOM and header first, then rows, as bytes to send.
pub struct Sheet {
    lang: Lang,
    tz: Tz,
    out: csv::Writer<Vec<u8>>,
}

impl Sheet {
    /// An empty part; `first` starts the file (BOM and the header row in the page's language).
    pub fn new(export: Export, lang: Lang, tz: Tz, first: bool) -> csv::Result<Sheet> {
        let mut buf = Vec::with_capacity(64 * 1024);
        if first {
            buf.extend_from_slice(BOM);
        }
        let mut sheet = Sheet {
            lang,
            tz,
            out: csv::WriterBuilder::new().from_writer(buf),
        };
        if first {
            let header: Vec<Cell<'_>> = export
                .columns()
                .iter()
                .map(|k| Cell::from(lang.t(k)))
                .collect();
            sheet.row(header)?;
        }
        Ok(sheet)
    }

    /// Write one row.
    pub fn row<'a>(&mut self, cells: impl IntoIterator<Item = Cell<'a>>) -> csv::Result<()> {
        let record: Vec<Cow<'_, str>> = cells
            .into_iter()
            .map(|c| match c {
                Cell::Text(s) => match neutralise(&s) {
                    Cow::Borrowed(_) => s,
                    Cow::Owned(o) => Cow::Owned(o),
                },
                Cell::Num(n) => Cow::Owned(n.to_string()),
            })
            .collect();
        self.out.write_record(record.iter().map(|c| c.as_bytes()))
    }

    /// The bytes written.
    pub fn finish(self) -> Result<Vec<u8>, csv::Error> {
        self.out
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))
    }

    /// A time in the city, to the minute.
    fn at(&self, t: NaiveDateTime) -> String {
        crate::i18n::stamp(self.tz, t)
    }

    /// A stored status, severity, ledger kind or waiting-list status in the page's language (as
    /// stored if unknown).
    fn status<'a>(&self, status: &'a str) -> Cow<'a, str> {
        let key = match status {
            "booked" => "status.booked",
            "checked_in" => "status.checked_in",
            "vaccinated" => "status.vaccinated",
            "cancelled" => "status.cancelled",
            "deferred" => "status.deferred",
            "no_show" => "status.no_show",
            "mild" => "clinic.severity.mild",
            "moderate" => "clinic.severity.moderate",
            "severe" => "clinic.severity.severe",
            "received" => "export.kind.received",
            "allocated" => "export.kind.allocated",
            "given" => "export.kind.given",
            "wasted" => "export.kind.wasted",
            "waiting" => "export.waiting.waiting",
            "notified" => "export.waiting.notified",
            _ => return Cow::Borrowed(status),
        };
        Cow::Borrowed(self.lang.t(key))
    }

    /// An appointment.
    pub fn appointment(&mut self, r: &AppointmentRow) -> csv::Result<()> {
        let row: [Cell<'_>; 10] = [
            self.at(r.starts_at).into(),
            r.code.as_str().into(),
            r.town.as_str().into(),
            r.site.as_str().into(),
            r.product.as_str().into(),
            r.dose_number.into(),
            Cell::Text(self.status(&r.status)),
            r.name.as_str().into(),
            IdNumber::mask_stored(&r.id_last4).into(),
            self.at(r.created_at).into(),
        ];
        self.row(row)
    }

    /// A dose given.
    pub fn vaccination(&mut self, r: &VaccinationRow) -> csv::Result<()> {
        let row: [Cell<'_>; 9] = [
            self.at(r.given_at).into(),
            r.town.as_str().into(),
            r.site.as_str().into(),
            r.product.as_str().into(),
            r.dose_number.into(),
            r.lot.as_str().into(),
            r.staff.as_deref().unwrap_or("").into(),
            r.name.as_str().into(),
            IdNumber::mask_stored(&r.id_last4).into(),
        ];
        self.row(row)
    }

    /// A ledger movement.
    pub fn stock(&mut self, r: &StockRow) -> csv::Result<()> {
        let row: [Cell<'_>; 9] = [
            self.at(r.created_at).into(),
            r.town.as_deref().unwrap_or("").into(),
            r.site
                .as_deref()
                .unwrap_or(self.lang.t("export.central"))
                .into(),
            r.product.as_str().into(),
            r.delta.into(),
            Cell::Text(self.status(&r.kind)),
            r.lot.as_deref().unwrap_or("").into(),
            r.reason.as_str().into(),
            r.actor.as_str().into(),
        ];
        self.row(row)
    }

    /// A reaction.
    pub fn reaction(&mut self, r: &ReactionRow) -> csv::Result<()> {
        let row: [Cell<'_>; 12] = [
            self.at(r.occurred_at).into(),
            r.town.as_str().into(),
            r.site.as_str().into(),
            r.product.as_str().into(),
            r.dose_number.into(),
            r.lot.as_str().into(),
            Cell::Text(self.status(&r.severity)),
            r.symptoms.as_str().into(),
            r.action_taken.as_str().into(),
            r.recorded_by.as_deref().unwrap_or("").into(),
            r.name.as_str().into(),
            IdNumber::mask_stored(&r.id_last4).into(),
        ];
        self.row(row)
    }

    /// A waiting-list entry.
    pub fn waiting(&mut self, r: &WaitingRow) -> csv::Result<()> {
        let row: [Cell<'_>; 6] = [
            self.at(r.created_at).into(),
            r.town.as_str().into(),
            r.dose_number.into(),
            Cell::Text(self.status(&r.status)),
            r.name.as_str().into(),
            IdNumber::mask_stored(&r.id_last4).into(),
        ];
        self.row(row)
    }

    /// An audit entry, with names.
    pub fn audit(&mut self, r: &AuditRow) -> csv::Result<()> {
        let row: [Cell<'_>; 6] = [
            r.at.as_str().into(),
            r.actor.as_str().into(),
            r.action.as_str().into(),
            r.subject.as_str().into(),
            r.detail.as_str().into(),
            r.town.as_str().into(),
        ];
        self.row(row)
    }

    /// One line of an approved plan: a town's line (`site` None, with its levels) or one of its
    /// sites' shares.
    pub fn plan_line(&mut self, l: &PlanLine<'_>) -> csv::Result<()> {
        let level = |v: Option<u64>| match v {
            Some(n) => Cell::Num(i64::try_from(n).unwrap_or(i64::MAX)),
            None => Cell::from(""),
        };
        let row: [Cell<'_>; 13] = [
            l.plan.to_string().into(),
            self.at(l.approved_at).into(),
            l.approved_by.into(),
            l.product.into(),
            l.town_code.into(),
            l.town.into(),
            l.site.unwrap_or("").into(),
            level(Some(l.ship)),
            level(l.urgent_second),
            level(l.reserve),
            level(Some(l.first)),
            level(l.other_second),
            level(Some(l.second_total)),
        ];
        self.row(row)
    }
}

/// A line of an approved plan, as `web::exports` reads it from the plan's JSON.
pub struct PlanLine<'a> {
    pub plan: i64,
    pub approved_at: NaiveDateTime,
    pub approved_by: &'a str,
    pub product: &'a str,
    pub town_code: &'a str,
    pub town: &'a str,
    pub site: Option<&'a str>,
    pub ship: u64,
    /// The levels of a town's line (None on a site's line).
    pub urgent_second: Option<u64>,
    pub reserve: Option<u64>,
    pub first: u64,
    pub other_second: Option<u64>,
    pub second_total: u64,
}

/// The exports page: the filter form and a link per export.
#[derive(Template)]
#[template(path = "bureau/exports.html")]
pub struct ExportsPage {
    pub ctx: Layout,
    /// (name, title key) of each export.
    pub exports: Vec<(&'static str, &'static str)>,
    /// Town id and name, for the town filter.
    pub towns: Vec<(String, String)>,
    pub from: String,
    pub to: String,
    pub town: String,
    /// The filters as a query string for the links (`from=…&to=…&town=…`).
    pub query: String,
}
