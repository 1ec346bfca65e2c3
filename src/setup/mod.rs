//! City set-up, the administrator's work: towns, vaccine products, sites with the products they
//! give and their weekly template, exceptions to the template, staff accounts, and the CSV
//! import of towns and sites. No HTTP here.
//!
//! Slots are published from each site's template (`plan_slots`, pure; `publish_site`, one
//! transaction) for the days ahead, in the city's time zone, stored as UTC. Publishing again
//! never duplicates a slot (inserts skip an existing `(site, product, start)`), never changes a
//! slot that has bookings, and withdraws or reshapes only unbooked future slots that the template
//! no longer describes. Exceptions are the one way seats of a booked slot change: the booked
//! appointments that no longer fit are cancelled (seat and promised dose released) in the same
//! transaction, each resident is sent the cancellation through the mail outbox, and the audit
//! log records it (action `notify.queued`).

mod csv;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde::Deserialize;

use crate::db::{unique_violation_on, AnyConnection, Db};
use crate::domain::{parse_id, text, Email, IdNumber, PlainText, TextRule};
use crate::ids::{new_id, AppointmentId, ProductId, SiteId, SlotId, TownId, UserId};
use crate::models::appointment::{self, AppointmentStatus};
use crate::models::exception::{self, SiteException};
use crate::models::product_change::{self, ProductChange};
use crate::models::template::{self, SiteHours, SiteTemplate};
use crate::models::{
    audit, product, site, site_product, slot, stock, town, user, NewProduct, NewSite, NewSlot,
    NewTown, NewUser, Role, Slot,
};

pub use csv::{import_csv, parse_csv_rows, ImportReport, EXAMPLE_CSV};

/// Why a set-up action was refused. `Field` names the form field and a catalogue key.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("invalid input: {0:?}")]
    Invalid(Vec<(&'static str, &'static str)>),
    #[error("refused: {0}")]
    Refused(&'static str),
    #[error("not found")]
    NotFound,
    #[error("import refused: {0:?}")]
    Import(Vec<(usize, String)>),
    #[error("password hashing: {0}")]
    Hash(anyhow::Error),
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database writer: {0}")]
    Write(#[from] crate::db::WriteError),
}

impl SetupError {
    /// Whether this is the system's fault rather than the request's.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            SetupError::Db(_) | SetupError::Pool(_) | SetupError::Write(_) | SetupError::Hash(_)
        )
    }
}

fn invalid(field: &'static str, key: &'static str) -> SetupError {
    SetupError::Invalid(vec![(field, key)])
}

/// Collects field errors while a form is parsed.
#[derive(Default)]
struct Check(Vec<(&'static str, &'static str)>);

impl Check {
    fn add(&mut self, field: &'static str, key: &'static str) {
        self.0.push((field, key));
    }

    /// The value, or its error noted against `field`.
    fn read<T>(&mut self, field: &'static str, r: Result<T, &'static str>) -> Option<T> {
        r.map_err(|key| self.add(field, key)).ok()
    }

    fn done<T>(self, value: impl FnOnce() -> T) -> Result<T, SetupError> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(SetupError::Invalid(self.0))
        }
    }
}

// ---- parsing ------------------------------------------------------------------------------

// Text fields are read as [`PlainText`]: the error is `key` (the field's own message) or
// `text::CHARS` when the text has control or text-direction characters.

/// A code (town or product): 1-20 letters, digits, `-` or `_`, kept upper-case.
pub fn parse_code(raw: &str, key: &'static str) -> Result<String, &'static str> {
    let s = PlainText::parse(raw, TextRule::line("code", 20).required())
        .map_err(|e| e.or_key(key).key)?;
    let ok = s
        .as_str()
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| s.as_str().to_ascii_uppercase()).ok_or(key)
}

/// A name or address: 1-`max` characters of one line.
pub fn parse_text(raw: &str, max: usize, key: &'static str) -> Result<String, &'static str> {
    PlainText::parse(raw, TextRule::line("text", max).required())
        .map(PlainText::into_string)
        .map_err(|e| e.or_key(key).key)
}

/// A whole number in `[min, max]`.
pub fn parse_int(raw: &str, min: i64, max: i64) -> Option<i64> {
    text::clean(raw)?
        .parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
}

/// Contact addresses separated by commas, semicolons or spaces; stored `a@x.cn; b@y.cn`.
pub fn parse_emails(raw: &str, key: &'static str) -> Result<String, &'static str> {
    let all = PlainText::parse(raw, TextRule::line("contact_emails", 3000))
        .map_err(|e| e.or_key(key).key)?;
    let mut out = Vec::new();
    for part in all
        .as_str()
        .split([',', ';', '，', '；', ' '])
        .filter(|p| !p.trim().is_empty())
    {
        let e = Email::parse(part).map_err(|e| e.or_key(key).key)?;
        let e = e.as_str().to_string();
        if !out.contains(&e) {
            out.push(e);
        }
    }
    (out.len() <= 10).then(|| out.join("; ")).ok_or(key)
}

/// `HH:MM` as minutes after midnight (`24:00` allowed as the end of a day).
pub fn parse_hm(raw: &str) -> Option<i32> {
    let (h, m) = text::clean(raw)?.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let ok = (0..=24).contains(&h) && (0..60).contains(&m) && m % 5 == 0 && h * 60 + m <= 1440;
    ok.then_some(h * 60 + m)
}

/// Minutes after midnight as `HH:MM`.
pub fn hm(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn checkbox(raw: &str) -> bool {
    matches!(raw, "on" | "true" | "1" | "yes")
}

/// The town form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct TownForm {
    pub code: String,
    pub name: String,
    pub eligible: String,
    pub contact_emails: String,
    pub active: String,
    pub csrf: String,
}

/// A valid town.
#[derive(Debug, Clone)]
pub struct TownInput {
    pub code: String,
    pub name: String,
    pub eligible: i64,
    pub contact_emails: String,
    pub active: bool,
}

/// Parse the town form, collecting every error.
pub fn parse_town(f: &TownForm, new: bool) -> Result<TownInput, SetupError> {
    let mut check = Check::default();
    let code = check.read("code", parse_code(&f.code, "err.setup.code"));
    let name = check.read("name", parse_text(&f.name, 60, "err.setup.name"));
    let eligible = parse_int(&f.eligible, 0, 100_000_000);
    if eligible.is_none() {
        check.add("eligible", "err.setup.eligible");
    }
    let emails = check.read(
        "contact_emails",
        parse_emails(&f.contact_emails, "err.setup.emails"),
    );
    check.done(|| TownInput {
        code: code.unwrap_or_default(),
        name: name.unwrap_or_default(),
        eligible: eligible.unwrap_or_default(),
        contact_emails: emails.unwrap_or_default(),
        active: new || checkbox(&f.active),
    })
}

/// The product form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ProductForm {
    pub code: String,
    pub name: String,
    pub manufacturer: String,
    pub doses_in_series: String,
    pub min_interval_days: String,
    pub max_interval_days: String,
    pub min_age_years: String,
    pub max_age_years: String,
    pub pack_size: String,
    pub reason: String,
    pub csrf: String,
}

/// A valid product, and the reason given for a change (may be empty).
#[derive(Debug, Clone)]
pub struct ProductInput {
    pub code: String,
    pub name: String,
    pub manufacturer: String,
    pub doses_in_series: i32,
    pub min_interval_days: i32,
    pub max_interval_days: i32,
    pub min_age_years: i32,
    pub max_age_years: i32,
    pub pack_size: i32,
    pub reason: String,
}

/// Parse the product form, collecting every error.
pub fn parse_product(f: &ProductForm) -> Result<ProductInput, SetupError> {
    let mut check = Check::default();
    let mut num = |raw: &str, field: &'static str, key: &'static str, min: i64, max: i64| {
        let v = parse_int(raw, min, max);
        if v.is_none() {
            check.add(field, key);
        }
        v.and_then(|v| i32::try_from(v).ok()).unwrap_or_default()
    };
    let doses = num(
        &f.doses_in_series,
        "doses_in_series",
        "err.setup.doses",
        1,
        5,
    );
    let min = num(
        &f.min_interval_days,
        "min_interval_days",
        "err.setup.days",
        0,
        365,
    );
    let max = num(
        &f.max_interval_days,
        "max_interval_days",
        "err.setup.days",
        0,
        365,
    );
    let min_age = num(&f.min_age_years, "min_age_years", "err.setup.age", 0, 120);
    let max_age = num(&f.max_age_years, "max_age_years", "err.setup.age", 0, 120);
    let pack = num(&f.pack_size, "pack_size", "err.setup.pack", 1, 1000);
    let code = check.read("code", parse_code(&f.code, "err.setup.code"));
    let name = check.read("name", parse_text(&f.name, 60, "err.setup.name"));
    let manufacturer = check.read(
        "manufacturer",
        parse_text(&f.manufacturer, 80, "err.setup.name"),
    );
    if max < min {
        check.add("max_interval_days", "err.setup.interval_order");
    }
    if max_age < min_age {
        check.add("max_age_years", "err.setup.age_order");
    }
    let reason = check
        .read(
            "reason",
            PlainText::parse(&f.reason, TextRule::line("reason", 200))
                .map_err(|e| e.or_key("err.setup.reason").key),
        )
        .map(PlainText::into_string)
        .unwrap_or_default();
    check.done(|| ProductInput {
        code: code.unwrap_or_default(),
        name: name.unwrap_or_default(),
        manufacturer: manufacturer.unwrap_or_default(),
        doses_in_series: doses,
        min_interval_days: min,
        max_interval_days: max,
        min_age_years: min_age,
        max_age_years: max_age,
        pack_size: pack,
        reason,
    })
}

/// The site form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct SiteForm {
    pub town_id: String,
    pub name: String,
    pub address: String,
    pub active: String,
    pub csrf: String,
}

/// A valid site (the town is checked against the database when saved).
#[derive(Debug, Clone)]
pub struct SiteInput {
    pub town_id: i64,
    pub name: String,
    pub address: String,
    pub active: bool,
}

/// Parse the site form, collecting every error.
pub fn parse_site(f: &SiteForm, new: bool) -> Result<SiteInput, SetupError> {
    let mut check = Check::default();
    let town_id = parse_id(&f.town_id);
    if town_id.is_none() {
        check.add("town_id", "err.setup.town");
    }
    let name = check.read("name", parse_text(&f.name, 60, "err.setup.name"));
    let address = check.read("address", parse_text(&f.address, 120, "err.setup.address"));
    check.done(|| SiteInput {
        town_id: town_id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        address: address.unwrap_or_default(),
        active: new || checkbox(&f.active),
    })
}

/// Field names of the opening hours, per weekday (0 = Monday): opens, lunch starts, lunch ends,
/// closes.
pub const HOUR_FIELDS: [[&str; 4]; 7] = [
    ["opens_0", "lunch_starts_0", "lunch_ends_0", "closes_0"],
    ["opens_1", "lunch_starts_1", "lunch_ends_1", "closes_1"],
    ["opens_2", "lunch_starts_2", "lunch_ends_2", "closes_2"],
    ["opens_3", "lunch_starts_3", "lunch_ends_3", "closes_3"],
    ["opens_4", "lunch_starts_4", "lunch_ends_4", "closes_4"],
    ["opens_5", "lunch_starts_5", "lunch_ends_5", "closes_5"],
    ["opens_6", "lunch_starts_6", "lunch_ends_6", "closes_6"],
];

/// The template form as typed (built from the form's pairs: products are repeated checkboxes).
#[derive(Debug, Default, Clone)]
pub struct TemplateForm {
    /// Per weekday: opens, lunch starts, lunch ends, closes (`HH:MM` or empty).
    pub hours: [[String; 4]; 7],
    pub slot_minutes: String,
    pub seats: String,
    pub days_ahead: String,
    pub products: Vec<String>,
    pub csrf: String,
    /// The release rule: days before the slot's day (empty: no rule), local `HH:MM`, and the
    /// draw window in minutes (empty: 10).
    pub release_days: String,
    pub release_time: String,
    pub draw_minutes: String,
}

impl TemplateForm {
    /// Collect the form from its `name=value` pairs.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> TemplateForm {
        let mut f = TemplateForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "slot_minutes" => f.slot_minutes = v,
                "seats" => f.seats = v,
                "days_ahead" => f.days_ahead = v,
                "product" => f.products.push(v),
                "csrf" => f.csrf = v,
                "release_days" => f.release_days = v,
                "release_time" => f.release_time = v,
                "draw_minutes" => f.draw_minutes = v,
                _ => {
                    for (d, names) in HOUR_FIELDS.iter().enumerate() {
                        if let Some(i) = names.iter().position(|n| *n == k) {
                            f.hours[d][i] = v.clone();
                        }
                    }
                }
            }
        }
        f
    }

    /// Show a stored release rule in the form.
    pub fn with_release(mut self, rule: &template::ReleaseRule) -> Self {
        self.release_days = rule.release_days.map(|d| d.to_string()).unwrap_or_default();
        self.release_time = rule.release_minutes.map(hm).unwrap_or_default();
        self.draw_minutes = rule.draw_minutes.to_string();
        self
    }

    /// The form showing a stored template.
    pub fn from_stored(t: Option<&SiteTemplate>, hours: &[SiteHours], products: &[i64]) -> Self {
        let mut f = TemplateForm {
            slot_minutes: t.map_or("30".into(), |t| t.slot_minutes.to_string()),
            seats: t.map_or("6".into(), |t| t.seats.to_string()),
            days_ahead: t.map_or("14".into(), |t| t.days_ahead.to_string()),
            products: products.iter().map(i64::to_string).collect(),
            ..Default::default()
        };
        for h in hours {
            if let Some(day) = usize::try_from(h.weekday)
                .ok()
                .and_then(|d| f.hours.get_mut(d))
            {
                *day = [
                    hm(h.opens),
                    h.lunch_starts.map(hm).unwrap_or_default(),
                    h.lunch_ends.map(hm).unwrap_or_default(),
                    hm(h.closes),
                ];
            }
        }
        f
    }
}

/// Opening hours on one weekday, in minutes after local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayHours {
    pub weekday: u32,
    pub opens: i32,
    pub lunch: Option<(i32, i32)>,
    pub closes: i32,
}

/// A valid weekly template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInput {
    pub hours: Vec<DayHours>,
    pub slot_minutes: i32,
    pub seats: i32,
    pub days_ahead: i32,
    pub products: Vec<i64>,
    /// When the template's slots open, and the draw window.
    pub release: template::ReleaseRule,
}

/// Parse the template form, collecting every error.
pub fn parse_template(f: &TemplateForm) -> Result<TemplateInput, SetupError> {
    let mut check = Check::default();
    let slot_minutes = parse_int(&f.slot_minutes, 5, 240).unwrap_or_else(|| {
        check.add("slot_minutes", "err.setup.slot_minutes");
        0
    }) as i32;
    let seats = parse_int(&f.seats, 1, 1000).unwrap_or_else(|| {
        check.add("seats", "err.setup.seats");
        0
    }) as i32;
    let days_ahead = parse_int(&f.days_ahead, 1, 60).unwrap_or_else(|| {
        check.add("days_ahead", "err.setup.days_ahead");
        0
    }) as i32;
    let mut products = Vec::new();
    for p in &f.products {
        match parse_id(p) {
            Some(id) if !products.contains(&id) => products.push(id),
            Some(_) => {}
            None => check.add("products", "err.setup.products"),
        }
    }
    if products.is_empty() {
        check.add("products", "err.setup.products");
    }
    let mut hours = Vec::new();
    for (d, raw) in f.hours.iter().enumerate() {
        let names = HOUR_FIELDS[d];
        let blank: Vec<bool> = raw.iter().map(|s| text::clean(s) == Some("")).collect();
        if blank[0] && blank[3] {
            if !(blank[1] && blank[2]) {
                check.add(names[0], "err.setup.hours_missing");
            }
            continue;
        }
        let parsed: Vec<Option<i32>> = raw.iter().map(|s| parse_hm(s)).collect();
        let mut bad = false;
        for i in 0..4 {
            let required = i == 0 || i == 3;
            if (required || !blank[i]) && parsed[i].is_none() {
                check.add(names[i], "err.setup.time");
                bad = true;
            }
        }
        if blank[1] != blank[2] {
            check.add(names[1], "err.setup.lunch_both");
            bad = true;
        }
        if bad {
            continue;
        }
        let (opens, closes) = (parsed[0].unwrap_or(0), parsed[3].unwrap_or(0));
        let lunch = parsed[1].zip(parsed[2]);
        let ordered = match lunch {
            Some((a, b)) => opens < a && a < b && b < closes,
            None => opens < closes,
        };
        if !ordered {
            check.add(names[3], "err.setup.hours_order");
            continue;
        }
        hours.push(DayHours {
            weekday: d as u32,
            opens,
            lunch,
            closes,
        });
    }
    if check.0.is_empty() && hours.is_empty() {
        check.add(HOUR_FIELDS[0][0], "err.setup.no_hours");
    }
    let release = parse_release(f, &mut check);
    check.done(|| TemplateInput {
        hours,
        slot_minutes,
        seats,
        days_ahead,
        products,
        release,
    })
}

/// The release rule of the template form: both day and time, or neither (no rule).
fn parse_release(f: &TemplateForm, check: &mut Check) -> template::ReleaseRule {
    let (days_raw, time_raw) = (f.release_days.trim(), f.release_time.trim());
    let draw_minutes = if f.draw_minutes.trim().is_empty() {
        template::ReleaseRule::NONE.draw_minutes
    } else {
        parse_int(&f.draw_minutes, 0, 240).unwrap_or_else(|| {
            check.add("draw_minutes", "err.setup.draw_minutes");
            0
        }) as i32
    };
    let mut rule = template::ReleaseRule {
        draw_minutes,
        ..template::ReleaseRule::NONE
    };
    if days_raw.is_empty() && time_raw.is_empty() {
        return rule;
    }
    match parse_int(days_raw, 1, 60) {
        Some(d) => rule.release_days = Some(d as i32),
        None => check.add("release_days", "err.setup.release_days"),
    }
    match parse_hm(time_raw).filter(|m| *m < 1440) {
        Some(m) => rule.release_minutes = Some(m),
        None => check.add("release_time", "err.setup.release_time"),
    }
    rule
}

/// The release rule in one line for the audit log.
fn release_summary(r: &template::ReleaseRule) -> String {
    match (r.release_days, r.release_minutes) {
        (Some(d), Some(m)) => format!("slots open {} on D-{d}, draw {} min", hm(m), r.draw_minutes),
        _ => "no release rule".to_string(),
    }
}

/// The exception form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ExceptionForm {
    #[serde(rename = "exc-day")]
    pub day: String,
    pub kind: String,
    #[serde(rename = "exc-starts")]
    pub starts: String,
    #[serde(rename = "exc-ends")]
    pub ends: String,
    #[serde(rename = "exc-seats")]
    pub seats: String,
    #[serde(rename = "exc-reason")]
    pub reason: String,
    /// How many affected appointments the admin saw and confirmed.
    pub confirm: String,
    pub csrf: String,
}

/// What an exception does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionKind {
    /// No slots in the window.
    Closed,
    /// This many seats per slot in the window.
    Seats(i32),
}

/// A valid exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionInput {
    pub day: NaiveDate,
    pub kind: ExceptionKind,
    pub starts: i32,
    pub ends: i32,
    pub reason: String,
    pub confirmed: Option<usize>,
}

/// Parse the exception form; an empty window means the whole day.
pub fn parse_exception(f: &ExceptionForm, today: NaiveDate) -> Result<ExceptionInput, SetupError> {
    let mut check = Check::default();
    let day = text::clean(&f.day).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    match day {
        None => check.add("day", "err.setup.date"),
        Some(d) if d < today => check.add("day", "err.setup.past"),
        Some(d) if d > today + Duration::days(366) => check.add("day", "err.setup.too_far"),
        _ => {}
    }
    let time = |raw: &str, default: i32| {
        if text::clean(raw) == Some("") {
            Some(default)
        } else {
            parse_hm(raw)
        }
    };
    let starts = time(&f.starts, 0);
    let ends = time(&f.ends, 1440);
    if starts.is_none() {
        check.add("starts", "err.setup.time");
    }
    if ends.is_none() {
        check.add("ends", "err.setup.time");
    }
    if let (Some(a), Some(b)) = (starts, ends) {
        if a >= b {
            check.add("ends", "err.setup.window_order");
        }
    }
    let kind = match f.kind.as_str() {
        "closed" => Some(ExceptionKind::Closed),
        "seats" => match parse_int(&f.seats, 0, 1000) {
            Some(n) => Some(ExceptionKind::Seats(n as i32)),
            None => {
                check.add("seats", "err.setup.exception_seats");
                None
            }
        },
        _ => {
            check.add("kind", "err.setup.kind");
            None
        }
    };
    let reason = check.read(
        "reason",
        parse_text(&f.reason, 200, "err.setup.reason_required"),
    );
    let confirmed = text::clean(&f.confirm).and_then(|c| c.parse::<usize>().ok());
    check.done(|| ExceptionInput {
        day: day.unwrap_or(today),
        kind: kind.unwrap_or(ExceptionKind::Closed),
        starts: starts.unwrap_or(0),
        ends: ends.unwrap_or(1440),
        reason: reason.unwrap_or_default(),
        confirmed,
    })
}

/// The user form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct UserForm {
    pub username: String,
    pub role: String,
    pub site_id: String,
    pub password: String,
    pub csrf: String,
}

/// A valid new user.
#[derive(Debug, Clone)]
pub struct UserInput {
    pub username: String,
    pub role: Role,
    pub site_id: Option<i64>,
    pub password: String,
}

/// A username: 1-64 letters, digits, dots, hyphens or underscores (as `create-user`).
pub fn parse_username(raw: &str) -> Result<String, &'static str> {
    let key = "err.setup.username";
    let s = PlainText::parse(raw, TextRule::line("username", 64).required())
        .map_err(|e| e.or_key(key).key)?;
    let ok = s
        .as_str()
        .chars()
        .all(|c| c.is_alphanumeric() || "._-".contains(c));
    ok.then(|| s.into_string()).ok_or(key)
}

/// A new password: 10 to 200 characters, none of them control or text-direction characters
/// (kept as typed, not trimmed).
pub fn parse_password(raw: &str) -> Option<String> {
    let n = raw.chars().count();
    let ok = (10..=200).contains(&n) && raw.chars().all(|c| text::allowed(c, false));
    ok.then(|| raw.to_string())
}

/// Parse the user form, collecting every error.
pub fn parse_user(f: &UserForm) -> Result<UserInput, SetupError> {
    let mut check = Check::default();
    let username = check.read("username", parse_username(&f.username));
    let role = Role::parse(&f.role);
    if role.is_none() {
        check.add("role", "err.setup.role");
    }
    let site_id = parse_id(&f.site_id);
    if role == Some(Role::Clinic) && site_id.is_none() {
        check.add("site_id", "err.setup.user_site");
    }
    let password = parse_password(&f.password);
    if password.is_none() {
        check.add("password", "err.setup.password");
    }
    check.done(|| UserInput {
        username: username.unwrap_or_default(),
        role: role.unwrap_or(Role::Clinic),
        site_id: if role == Some(Role::Clinic) {
            site_id
        } else {
            None
        },
        password: password.unwrap_or_default(),
    })
}

// ---- towns, products, sites ---------------------------------------------------------------

/// Create (`id` None) or update a town, with an audit entry. Returns its id.
pub fn save_town(
    db: &Db,
    id: Option<i64>,
    input: TownInput,
    actor: &str,
    now: NaiveDateTime,
) -> Result<i64, SetupError> {
    let actor = actor.to_string();
    db.transaction(move |c| {
        let row = NewTown {
            id: id.unwrap_or_else(new_id),
            code: input.code.clone(),
            name: input.name.clone(),
            eligible: input.eligible,
            contact_emails: input.contact_emails.clone(),
            active: input.active,
        };
        if let Some(other) = town::find_by_code(c, &row.code)? {
            if other.id != row.id {
                return Err(invalid("code", "err.setup.code_taken"));
            }
        }
        let action = match id {
            Some(_) => {
                if !town::update(c, &row)? {
                    return Err(SetupError::NotFound);
                }
                "towns.update"
            }
            None => {
                town::insert(c, &row)?;
                "towns.create"
            }
        };
        audit::record(
            c,
            now,
            &actor,
            action,
            &format!("town {}", row.code),
            &format!(
                "{}; eligible {}; contacts {}; {}",
                row.name,
                row.eligible,
                row.contact_emails,
                if row.active { "active" } else { "inactive" }
            ),
        )?;
        Ok(row.id)
    })
    .map_err(code_taken)
}

/// A unique violation on a code (two admins at once) as the field error it is.
fn code_taken(e: SetupError) -> SetupError {
    match e {
        SetupError::Db(d) if unique_violation_on(&d, "code") => {
            invalid("code", "err.setup.code_taken")
        }
        SetupError::Db(d) if unique_violation_on(&d, "username") => {
            invalid("username", "err.setup.username_taken")
        }
        other => other,
    }
}

/// Delete a town that nothing refers to; a town with sites can only be deactivated.
pub fn delete_town(db: &Db, id: i64, actor: &str, now: NaiveDateTime) -> Result<(), SetupError> {
    use crate::db::schema::{town_notices, waiting_list};
    let actor = actor.to_string();
    db.transaction(move |c| {
        let t = town::find(c, TownId(id))?.ok_or(SetupError::NotFound)?;
        if site::count_for_town(c, TownId(id))? > 0 {
            return Err(SetupError::Refused("err.setup.town_has_sites"));
        }
        let waiting: i64 = waiting_list::table
            .filter(waiting_list::town_id.eq(id))
            .count()
            .get_result(c)?;
        let notices: i64 = town_notices::table
            .filter(town_notices::town_id.eq(id))
            .count()
            .get_result(c)?;
        if waiting + notices > 0 {
            return Err(SetupError::Refused("err.setup.town_in_use"));
        }
        town::delete(c, TownId(id))?;
        audit::record(
            c,
            now,
            &actor,
            "towns.delete",
            &format!("town {}", t.code),
            &t.name,
        )?;
        Ok(())
    })
}

/// Create or update a product. Once a dose of it has been given, its interval changes only
/// with a reason, recorded in `product_changes`; the interval is read when a next dose is
/// booked, so the change applies only to doses not yet given.
pub fn save_product(
    db: &Db,
    id: Option<i64>,
    input: ProductInput,
    actor: &str,
    now: NaiveDateTime,
) -> Result<i64, SetupError> {
    let actor = actor.to_string();
    db.transaction(move |c| {
        let row = NewProduct {
            id: id.unwrap_or_else(new_id),
            code: input.code.clone(),
            name: input.name.clone(),
            manufacturer: input.manufacturer.clone(),
            doses_in_series: input.doses_in_series,
            min_interval_days: input.min_interval_days,
            max_interval_days: input.max_interval_days,
            min_age_years: input.min_age_years,
            max_age_years: input.max_age_years,
            pack_size: input.pack_size,
        };
        let mut detail = format!(
            "{} ({}); {} doses, {}-{} days apart, ages {}-{}, packs of {}",
            row.name,
            row.manufacturer,
            row.doses_in_series,
            row.min_interval_days,
            row.max_interval_days,
            row.min_age_years,
            row.max_age_years,
            row.pack_size
        );
        let action = match id {
            Some(pid) => {
                let old = product::find(c, ProductId(pid))?.ok_or(SetupError::NotFound)?;
                let interval_changed = old.min_interval_days != row.min_interval_days
                    || old.max_interval_days != row.max_interval_days;
                if interval_changed && product::has_been_given(c, ProductId(pid))? {
                    if input.reason.is_empty() {
                        return Err(invalid("reason", "err.setup.interval_reason"));
                    }
                    product_change::insert(
                        c,
                        &ProductChange {
                            id: new_id(),
                            product_id: pid,
                            old_min_interval_days: old.min_interval_days,
                            old_max_interval_days: old.max_interval_days,
                            new_min_interval_days: row.min_interval_days,
                            new_max_interval_days: row.max_interval_days,
                            reason: input.reason.clone(),
                            changed_by: actor.clone(),
                            changed_at: now,
                        },
                    )?;
                }
                if interval_changed {
                    detail.push_str(&format!(
                        "; interval was {}-{} days",
                        old.min_interval_days, old.max_interval_days
                    ));
                    if !input.reason.is_empty() {
                        detail.push_str(&format!("; reason: {}", input.reason));
                    }
                }
                product::update(c, &row)?;
                "products.update"
            }
            None => {
                if let Some(other) = product_by_code(c, &row.code)? {
                    if other != row.id {
                        return Err(invalid("code", "err.setup.code_taken"));
                    }
                }
                product::insert(c, &row)?;
                "products.create"
            }
        };
        audit::record(
            c,
            now,
            &actor,
            action,
            &format!("product {}", row.code),
            &detail,
        )?;
        Ok(row.id)
    })
    .map_err(code_taken)
}

fn product_by_code(c: &mut AnyConnection, code: &str) -> QueryResult<Option<i64>> {
    use crate::db::schema::products;
    products::table
        .filter(products::code.eq(code))
        .select(products::id)
        .first(c)
        .optional()
}

/// Create or update a site's details. A site moved to an inactive state keeps its booked slots
/// (residents keep their appointments) and publishes nothing new.
pub fn save_site(
    db: &Db,
    id: Option<i64>,
    input: SiteInput,
    tz: Tz,
    actor: &str,
    now: NaiveDateTime,
) -> Result<i64, SetupError> {
    let actor = actor.to_string();
    db.transaction(move |c| {
        let t = town::find(c, TownId(input.town_id))?
            .ok_or_else(|| invalid("town_id", "err.setup.town"))?;
        let row = NewSite {
            id: id.unwrap_or_else(new_id),
            town_id: t.id,
            name: input.name.clone(),
            address: input.address.clone(),
            active: input.active,
        };
        let action = match id {
            Some(_) => {
                if !site::update(c, &row)? {
                    return Err(SetupError::NotFound);
                }
                publish_site(c, SiteId(row.id), tz, now)?;
                "sites.update"
            }
            None => {
                site::insert(c, &row)?;
                "sites.create"
            }
        };
        audit::record(
            c,
            now,
            &actor,
            action,
            &format!("site {}", row.id),
            &format!(
                "{} in {}; {}; {}",
                row.name,
                t.code,
                row.address,
                if row.active { "active" } else { "inactive" }
            ),
        )?;
        Ok(row.id)
    })
}

/// Save a site's products and weekly template, and publish its slots, in one transaction.
pub fn save_template(
    db: &Db,
    site_id: i64,
    input: TemplateInput,
    tz: Tz,
    actor: &str,
    now: NaiveDateTime,
) -> Result<PublishReport, SetupError> {
    let actor = actor.to_string();
    db.transaction(move |c| {
        // Saves of one site's template queue here: each replaces the products and hours it
        // read (delete, then insert), which two at once would do twice.
        if !site::lock(c, SiteId(site_id))? {
            return Err(SetupError::NotFound);
        }
        for p in &input.products {
            product::find(c, ProductId(*p))?
                .ok_or_else(|| invalid("products", "err.setup.products"))?;
        }
        site_product::replace(c, SiteId(site_id), &input.products)?;
        let t = SiteTemplate {
            site_id,
            slot_minutes: input.slot_minutes,
            seats: input.seats,
            days_ahead: input.days_ahead,
            updated_by: actor.clone(),
            updated_at: now,
        };
        let hours: Vec<SiteHours> = input
            .hours
            .iter()
            .map(|h| SiteHours {
                site_id,
                weekday: h.weekday as i32,
                opens: h.opens,
                lunch_starts: h.lunch.map(|l| l.0),
                lunch_ends: h.lunch.map(|l| l.1),
                closes: h.closes,
            })
            .collect();
        template::replace(c, &t, &hours)?;
        template::set_release_rule(c, SiteId(site_id), &input.release)?;
        let report = publish_site(c, SiteId(site_id), tz, now)?;
        let days: Vec<String> = input
            .hours
            .iter()
            .map(|h| {
                let lunch = h
                    .lunch
                    .map(|(a, b)| format!(" lunch {}-{}", hm(a), hm(b)))
                    .unwrap_or_default();
                format!("{} {}-{}{}", h.weekday, hm(h.opens), hm(h.closes), lunch)
            })
            .collect();
        audit::record(
            c,
            now,
            &actor,
            "sites.template",
            &format!("site {site_id}"),
            &format!(
                "{} min slots, {} seats, {} days ahead, products {:?}; {}; {}; {}",
                input.slot_minutes,
                input.seats,
                input.days_ahead,
                input.products,
                days.join(", "),
                release_summary(&input.release),
                report.summary()
            ),
        )?;
        Ok(report)
    })
}

// ---- publishing slots ---------------------------------------------------------------------

/// A slot the template asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedSlot {
    pub product_id: i64,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub seats: i32,
}

/// What a publishing run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// Slots created.
    pub created: usize,
    /// Unbooked slots whose end or seats changed with the template.
    pub reshaped: usize,
    /// Unbooked slots the template no longer has, deleted or closed.
    pub withdrawn: usize,
    /// Booked slots the template no longer has, left as they are.
    pub kept_booked: usize,
}

impl PublishReport {
    /// One line for logs and the audit log.
    pub fn summary(&self) -> String {
        format!(
            "{} slots created, {} reshaped, {} withdrawn, {} booked slots kept",
            self.created, self.reshaped, self.withdrawn, self.kept_booked
        )
    }

    fn add(&mut self, o: PublishReport) {
        self.created += o.created;
        self.reshaped += o.reshaped;
        self.withdrawn += o.withdrawn;
        self.kept_booked += o.kept_booked;
    }
}

/// The local time `minutes` after midnight of `day` as UTC: `None` in a daylight-saving gap; the
/// earlier instant when the clock goes back.
pub fn local_to_utc(tz: Tz, day: NaiveDate, minutes: i32) -> Option<NaiveDateTime> {
    let local = day.and_hms_opt(0, 0, 0)? + Duration::minutes(i64::from(minutes));
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.naive_utc())
}

/// The slots a template asks for on the `days_ahead` local days from `today`, for each product,
/// after the exceptions; only slots starting after `now`. Pure.
pub fn plan_slots(
    t: &SiteTemplate,
    hours: &[SiteHours],
    products: &[i64],
    exceptions: &[SiteException],
    tz: Tz,
    today: NaiveDate,
    now: NaiveDateTime,
) -> Vec<WantedSlot> {
    let len = t.slot_minutes.max(5);
    let mut out = BTreeMap::new();
    for d in 0..i64::from(t.days_ahead) {
        let day = today + Duration::days(d);
        let wd = day.weekday().num_days_from_monday() as i32;
        let Some(h) = hours.iter().find(|h| h.weekday == wd) else {
            continue;
        };
        let sessions = match (h.lunch_starts, h.lunch_ends) {
            (Some(a), Some(b)) => vec![(h.opens, a), (b, h.closes)],
            _ => vec![(h.opens, h.closes)],
        };
        let excs: Vec<&SiteException> = exceptions.iter().filter(|e| e.day == day).collect();
        for (from, to) in sessions {
            let mut m = from;
            while m + len <= to {
                let (a, b) = (m, m + len);
                m += len;
                let closed = excs
                    .iter()
                    .any(|e| e.kind == "closed" && e.starts < b && a < e.ends);
                if closed {
                    continue;
                }
                let seats = excs
                    .iter()
                    .rev()
                    .find(|e| e.kind == "seats" && e.starts < b && a < e.ends)
                    .and_then(|e| e.seats)
                    .unwrap_or(t.seats);
                if seats <= 0 {
                    continue;
                }
                let Some(start) = local_to_utc(tz, day, a) else {
                    continue; // the clock jumps over this time
                };
                if start <= now {
                    continue;
                }
                for p in products {
                    out.entry((*p, start)).or_insert(WantedSlot {
                        product_id: *p,
                        starts_at: start,
                        ends_at: start + Duration::minutes(i64::from(len)),
                        seats,
                    });
                }
            }
        }
    }
    out.into_values().collect()
}

/// Bring one site's future slots in line with its template, in the caller's transaction.
pub fn publish_site(
    c: &mut AnyConnection,
    site_id: SiteId,
    tz: Tz,
    now: NaiveDateTime,
) -> Result<PublishReport, SetupError> {
    let Some(s) = site::find(c, site_id)? else {
        return Err(SetupError::NotFound);
    };
    let Some(t) = template::find(c, site_id)? else {
        // Sites without a template (demo data, fixtures) are not the publisher's.
        return Ok(PublishReport::default());
    };
    let today = tz.from_utc_datetime(&now).date_naive();
    let rule = template::release_rule(c, site_id)?;
    let wanted = if s.active {
        let hours = template::hours(c, site_id)?;
        let products = site_product::list_for_site(c, site_id)?;
        let excs = exception::list_for_site_from(c, site_id, today)?;
        plan_slots(&t, &hours, &products, &excs, tz, today, now)
    } else {
        Vec::new()
    };
    let mut wanted: BTreeMap<(i64, NaiveDateTime), WantedSlot> = wanted
        .into_iter()
        .map(|w| ((w.product_id, w.starts_at), w))
        .collect();
    // Only the template's days are reconciled: slots beyond them (days ahead reduced, or
    // published by hand) are left as they are.
    let horizon = local_to_utc(tz, today + Duration::days(i64::from(t.days_ahead)), 0)
        .unwrap_or_else(|| now + Duration::days(i64::from(t.days_ahead) + 1));
    let existing: Vec<Slot> = slot::list_future_for_site(c, site_id, now)?
        .into_iter()
        .filter(|e| e.starts_at < horizon)
        .collect();
    // New slots never overlap a slot that stays: one under way now, or a booked slot the
    // template no longer has in that shape (kept for its bookings, closed to new ones below).
    let mut kept: Vec<(i64, NaiveDateTime, NaiveDateTime)> =
        slot::list_running_for_site(c, site_id, now)?
            .iter()
            .chain(existing.iter().filter(|e| {
                e.booked_first + e.booked_second > 0
                    && wanted
                        .get(&(e.product_id, e.starts_at))
                        .is_none_or(|w| w.ends_at != e.ends_at)
            }))
            .map(|e| (e.product_id, e.starts_at, e.ends_at))
            .collect();
    wanted.retain(|_, w| !overlaps_any(&kept, w.product_id, w.starts_at, w.ends_at));
    let mut report = PublishReport::default();
    for e in existing {
        let booked = e.booked_first + e.booked_second;
        let id = SlotId(e.id);
        let stays = match wanted.remove(&(e.product_id, e.starts_at)) {
            // The template's shape: a booked slot takes the template's seats, never fewer
            // than its bookings.
            Some(w) if booked > 0 => {
                if slot::fit_seats_to_bookings(c, id, w.seats)? {
                    report.reshaped += 1;
                }
                true
            }
            Some(w) if w.ends_at != e.ends_at || w.seats != e.seats => {
                if slot::reshape_unbooked(c, id, w.ends_at, w.seats)? {
                    report.reshaped += 1;
                    true
                } else if w.ends_at == e.ends_at {
                    // Booked meanwhile, in the template's shape: the template's seats.
                    slot::fit_seats_to_bookings(c, id, w.seats)?;
                    true
                } else {
                    false // booked meanwhile in its old shape
                }
            }
            Some(_) => true,
            None if booked == 0 && e.seats > 0 => {
                // False when it was booked meanwhile.
                let withdrawn = slot::withdraw_unbooked(c, id)?;
                report.withdrawn += usize::from(withdrawn);
                withdrawn
            }
            None if booked == 0 => {
                slot::withdraw_unbooked(c, id)?;
                true
            }
            None => false,
        };
        if !stays {
            // Booked in a shape the template no longer has: its residents keep their
            // appointments, nobody new is added (seats = bookings), and no new slot is
            // published beside it.
            slot::fit_seats_to_bookings(c, id, 0)?;
            report.kept_booked += 1;
            kept.push((e.product_id, e.starts_at, e.ends_at));
        }
    }
    wanted.retain(|_, w| !overlaps_any(&kept, w.product_id, w.starts_at, w.ends_at));
    let rows: Vec<NewSlot> = wanted
        .into_values()
        .map(|w| NewSlot {
            id: new_id(),
            site_id: site_id.0,
            product_id: w.product_id,
            starts_at: w.starts_at,
            ends_at: w.ends_at,
            seats: w.seats,
            second_dose_held: 0,
            booked_first: 0,
            booked_second: 0,
            opens_at: rule.opens_at(tz, w.starts_at),
        })
        .collect();
    report.created = slot::insert_many_new(c, &rows)?;
    crate::booking::draw::sync_release(c, site_id, &rule, tz, now)?;
    Ok(report)
}

/// Whether `[from, to)` of `product` overlaps any of the `(product, start, end)` slots.
fn overlaps_any(
    slots: &[(i64, NaiveDateTime, NaiveDateTime)],
    product: i64,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> bool {
    slots
        .iter()
        .any(|&(p, a, b)| p == product && a < to && from < b)
}

/// Publish every site with a template, one transaction per site (the daily job and
/// `dosewise publish-slots`). Running it twice changes nothing the second time.
pub fn publish_all(
    db: &Db,
    tz: Tz,
    now: NaiveDateTime,
    actor: &str,
) -> Result<PublishReport, SetupError> {
    let sites: Vec<i64> = {
        let mut c = db.read.get()?;
        template::list(&mut c)?
            .into_iter()
            .map(|t| t.site_id)
            .collect()
    };
    let mut total = PublishReport::default();
    for id in sites {
        let actor = actor.to_string();
        let r = db.transaction(move |c| -> Result<PublishReport, SetupError> {
            let r = publish_site(c, SiteId(id), tz, now)?;
            if r != PublishReport::default() {
                audit::record(
                    c,
                    now,
                    &actor,
                    "slots.publish",
                    &format!("site {id}"),
                    &r.summary(),
                )?;
            }
            Ok(r)
        })?;
        total.add(r);
    }
    Ok(total)
}

// ---- exceptions ---------------------------------------------------------------------------

/// An appointment an exception would cancel, as the admin sees it (masked ID number only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    pub appointment_id: i64,
    pub code: String,
    pub masked_id: String,
    pub slot_id: i64,
    pub site_id: i64,
    pub product_id: i64,
    pub starts_at: NaiveDateTime,
    pub dose_number: i32,
    pub checked_in: bool,
}

/// The site's existing slots inside the exception's window.
fn slots_in_window(
    c: &mut AnyConnection,
    site_id: SiteId,
    e: &ExceptionInput,
    tz: Tz,
) -> Result<Vec<Slot>, SetupError> {
    let from = local_to_utc(tz, e.day, 0).unwrap_or_else(|| e.day.and_time(Default::default()));
    let to = from + Duration::hours(26);
    let lo = local_to_utc(tz, e.day, e.starts).unwrap_or(from);
    let hi = local_to_utc(tz, e.day, e.ends).unwrap_or(to);
    Ok(
        slot::list_for_site_between(c, site_id, from - Duration::hours(2), to)?
            .into_iter()
            .filter(|s| tz.from_utc_datetime(&s.starts_at).date_naive() == e.day)
            .filter(|s| s.starts_at < hi && lo < s.ends_at)
            .collect(),
    )
}

/// Who an exception would affect: every active appointment in a closed window; in a window with
/// fewer seats, the most recently booked beyond the new number in each slot.
pub fn affected_by(
    c: &mut AnyConnection,
    site_id: SiteId,
    e: &ExceptionInput,
    tz: Tz,
) -> Result<Vec<Affected>, SetupError> {
    use crate::db::schema::{appointments, residents};
    let mut out = Vec::new();
    for s in slots_in_window(c, site_id, e, tz)? {
        let active: Vec<(i64, String, String, i32, String, NaiveDateTime)> = appointments::table
            .inner_join(residents::table)
            .filter(appointments::slot_id.eq(s.id))
            .filter(appointments::status.eq_any(["booked", "checked_in"]))
            .order((appointments::created_at.asc(), appointments::id.asc()))
            .select((
                appointments::id,
                appointments::code,
                residents::id_last4,
                appointments::dose_number,
                appointments::status,
                appointments::created_at,
            ))
            .load(c)?;
        let keep = match e.kind {
            ExceptionKind::Closed => 0,
            ExceptionKind::Seats(n) => usize::try_from(n).unwrap_or(0),
        };
        for (id, code, last4, dose, status, _) in active.into_iter().skip(keep) {
            out.push(Affected {
                appointment_id: id,
                code,
                masked_id: IdNumber::mask_stored(&last4),
                slot_id: s.id,
                site_id: s.site_id,
                product_id: s.product_id,
                starts_at: s.starts_at,
                dose_number: dose,
                checked_in: status == AppointmentStatus::CheckedIn.as_str(),
            });
        }
    }
    Ok(out)
}

/// What applying an exception did, or why it waits.
#[derive(Debug, Clone)]
pub enum ExceptionOutcome {
    /// Appointments would be cancelled: the admin must see them and confirm.
    NeedsConfirmation(Vec<Affected>),
    /// Recorded: appointments cancelled and slots changed.
    Applied {
        cancelled: usize,
        report: PublishReport,
    },
}

/// Record an exception. When booked appointments fall inside, nothing changes until the admin
/// confirms having seen exactly that many; then, in one transaction, they are cancelled (seats
/// and promised doses released, locks taken appointment -> slots by id -> stock by key), the
/// slots in the window are closed or given their new seats (never below what stays booked), the
/// template is re-published, and each resident's notice is recorded in the audit log.
pub fn apply_exception(
    db: &Db,
    site_id: i64,
    input: ExceptionInput,
    tz: Tz,
    actor: &str,
    now: NaiveDateTime,
) -> Result<ExceptionOutcome, SetupError> {
    let actor = actor.to_string();
    db.transaction(move |c| {
        let s = site::find(c, SiteId(site_id))?.ok_or(SetupError::NotFound)?;
        let affected = affected_by(c, SiteId(site_id), &input, tz)?;
        if affected.iter().any(|a| a.checked_in) {
            return Err(SetupError::Refused("err.setup.checked_in"));
        }
        if !affected.is_empty() && input.confirmed != Some(affected.len()) {
            return Ok(ExceptionOutcome::NeedsConfirmation(affected));
        }
        let (kind, seats) = match input.kind {
            ExceptionKind::Closed => ("closed", None),
            ExceptionKind::Seats(n) => ("seats", Some(n)),
        };
        exception::insert(
            c,
            &SiteException {
                id: new_id(),
                site_id,
                day: input.day,
                kind: kind.into(),
                starts: input.starts,
                ends: input.ends,
                seats,
                reason: input.reason.clone(),
                created_by: actor.clone(),
                created_at: now,
            },
        )?;
        let (cancelled, promised) = cancel_all(c, &affected, now)?;
        let window = format!("{} {}-{}", input.day, hm(input.starts), hm(input.ends));
        for a in &affected {
            // The resident is told by mail (the cancellation message links to booking again).
            let appt = crate::models::appointment::find(c, crate::ids::AppointmentId(a.appointment_id))?;
            if let Some(r) = appt.map(|x| x.resident_id).map(|id| crate::models::resident::find(c, crate::ids::ResidentId(id))).transpose()?.flatten() {
                crate::mail::outbox::enqueue(c, crate::mail::outbox::Kind::Cancelled, a.appointment_id, &r.email, &r.lang, None, now)?;
            }
            audit::record(
                c,
                now,
                &actor,
                "notify.queued",
                &format!("appointment {}", a.code),
                &format!(
                    "cancelled by an exception at {} ({window}: {}); the resident is mailed and may book another slot",
                    s.name, input.reason
                ),
            )?;
        }
        if let ExceptionKind::Seats(n) = input.kind {
            for sl in slots_in_window(c, SiteId(site_id), &input, tz)? {
                if sl.starts_at > now && !slot::set_seats(c, SlotId(sl.id), n)? {
                    return Err(SetupError::Refused("err.setup.seats_below_booked"));
                }
            }
        }
        let report = publish_site(c, SiteId(site_id), tz, now)?;
        // Slots of sites without a template are closed here directly.
        if input.kind == ExceptionKind::Closed {
            for sl in slots_in_window(c, SiteId(site_id), &input, tz)? {
                if sl.starts_at > now && sl.seats > 0 {
                    slot::withdraw_unbooked(c, SlotId(sl.id))?;
                }
            }
        }
        // Stock rows last, after every slot this transaction touches: the global lock order.
        unpromise_all(c, promised)?;
        audit::record(
            c,
            now,
            &actor,
            "sites.exception",
            &format!("site {site_id}"),
            &format!(
                "{kind} {window}{}: {}; {} appointments cancelled; {}",
                seats.map(|n| format!(" to {n} seats")).unwrap_or_default(),
                input.reason,
                affected.len(),
                report.summary()
            ),
        )?;
        Ok(ExceptionOutcome::Applied { cancelled, report })
    })
}

/// Doses promised per (site, product), to withdraw.
type Promised = BTreeMap<(i64, i64), i32>;

/// Cancel appointments in lock order (appointments by id, then slots by id) and return the
/// promised doses to withdraw: the caller does that last, after any other slot it changes.
fn cancel_all(
    c: &mut AnyConnection,
    affected: &[Affected],
    now: NaiveDateTime,
) -> Result<(usize, Promised), SetupError> {
    let mut ids: Vec<&Affected> = affected.iter().collect();
    ids.sort_by_key(|a| a.appointment_id);
    let mut seats: BTreeMap<i64, (i32, i32)> = BTreeMap::new();
    let mut promised: BTreeMap<(i64, i64), i32> = BTreeMap::new();
    let mut n = 0;
    for a in ids {
        if appointment::transition(
            c,
            AppointmentId(a.appointment_id),
            AppointmentStatus::Booked,
            AppointmentStatus::Cancelled,
            now,
        )? {
            n += 1;
            let e = seats.entry(a.slot_id).or_default();
            if a.dose_number == 1 {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
            *promised.entry((a.site_id, a.product_id)).or_default() += 1;
        }
    }
    for (slot_id, (first, later)) in seats {
        for _ in 0..first {
            slot::release_seat(c, SlotId(slot_id), true)?;
        }
        for _ in 0..later {
            slot::release_seat(c, SlotId(slot_id), false)?;
        }
    }
    Ok((n, promised))
}

/// Withdraw the promised doses of cancelled appointments, in key order.
fn unpromise_all(c: &mut AnyConnection, promised: Promised) -> Result<(), SetupError> {
    for ((site_id, product_id), k) in promised {
        for _ in 0..k {
            stock::unpromise_dose(c, SiteId(site_id), ProductId(product_id))?;
        }
    }
    Ok(())
}

// ---- staff accounts -----------------------------------------------------------------------

/// Create a staff, bureau or admin user (Argon2id password), with an audit entry.
pub fn create_user(
    db: &Db,
    input: UserInput,
    actor: &str,
    now: NaiveDateTime,
) -> Result<i64, SetupError> {
    let hash = crate::security::hash_password(&input.password).map_err(SetupError::Hash)?;
    let actor = actor.to_string();
    db.transaction(move |c| {
        if let Some(sid) = input.site_id {
            site::find(c, SiteId(sid))?.ok_or_else(|| invalid("site_id", "err.setup.user_site"))?;
        }
        if user::find_by_username(c, &input.username)?.is_some() {
            return Err(invalid("username", "err.setup.username_taken"));
        }
        let id = new_id();
        user::insert(
            c,
            &NewUser {
                id,
                username: input.username.clone(),
                password_hash: hash,
                role: input.role.as_str().into(),
                site_id: input.site_id,
                active: true,
                created_at: now,
            },
        )?;
        audit::record(
            c,
            now,
            &actor,
            "users.create",
            &format!("user {}", input.username),
            &format!(
                "role {}{}",
                input.role.as_str(),
                input
                    .site_id
                    .map(|s| format!(", site {s}"))
                    .unwrap_or_default()
            ),
        )?;
        Ok(id)
    })
    .map_err(code_taken)
}

/// Activate or deactivate a user; deactivating ends their sessions at once. An admin cannot
/// deactivate themselves (the city would lose its last way in).
pub fn set_user_active(
    db: &Db,
    id: i64,
    active: bool,
    actor_id: i64,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), SetupError> {
    if id == actor_id && !active {
        return Err(SetupError::Refused("err.setup.self"));
    }
    let actor = actor.to_string();
    db.transaction(move |c| {
        let u = user::find(c, UserId(id))?.ok_or(SetupError::NotFound)?;
        user::set_active(c, UserId(id), active)?;
        let ended = if active {
            0
        } else {
            user::revoke_all_sessions(c, UserId(id), now)?
        };
        audit::record(
            c,
            now,
            &actor,
            if active {
                "users.activate"
            } else {
                "users.deactivate"
            },
            &format!("user {}", u.username),
            &format!("{ended} sessions ended"),
        )?;
        Ok(())
    })
}

/// Set a new password for a user and end their sessions.
pub fn reset_password(
    db: &Db,
    id: i64,
    password: &str,
    actor: &str,
    now: NaiveDateTime,
) -> Result<(), SetupError> {
    let password =
        parse_password(password).ok_or_else(|| invalid("password", "err.setup.password"))?;
    let hash = crate::security::hash_password(&password).map_err(SetupError::Hash)?;
    let actor = actor.to_string();
    db.transaction(move |c| {
        let u = user::find(c, UserId(id))?.ok_or(SetupError::NotFound)?;
        user::set_password(c, UserId(id), &hash)?;
        let ended = user::revoke_all_sessions(c, UserId(id), now)?;
        audit::record(
            c,
            now,
            &actor,
            "users.password",
            &format!("user {}", u.username),
            &format!("password reset; {ended} sessions ended"),
        )?;
        Ok(())
    })
}

/// The set-up checklist on the admin's start page.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub towns: i64,
    pub products: i64,
    pub sites: i64,
    pub templates: i64,
    pub future_slots: i64,
    pub users: i64,
}

/// Count what the city has so far.
pub fn progress(c: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<Progress> {
    use crate::db::schema::{products, site_templates, sites, slots, towns, users};
    Ok(Progress {
        towns: towns::table.count().get_result(c)?,
        products: products::table.count().get_result(c)?,
        sites: sites::table.count().get_result(c)?,
        templates: site_templates::table.count().get_result(c)?,
        future_slots: slots::table
            .filter(slots::starts_at.gt(now))
            .count()
            .get_result(c)?,
        users: users::table.count().get_result(c)?,
    })
}

/// Product ids that a set of form values names, for keeping checkboxes on errors.
pub fn checked(values: &[String]) -> BTreeSet<String> {
    values.iter().map(|v| v.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpl(seats: i32, len: i32, days: i32) -> SiteTemplate {
        SiteTemplate {
            site_id: 1,
            slot_minutes: len,
            seats,
            days_ahead: days,
            updated_by: "t".into(),
            updated_at: NaiveDateTime::default(),
        }
    }

    fn weekdays(opens: i32, lunch: Option<(i32, i32)>, closes: i32) -> Vec<SiteHours> {
        (0..5)
            .map(|d| SiteHours {
                site_id: 1,
                weekday: d,
                opens,
                lunch_starts: lunch.map(|l| l.0),
                lunch_ends: lunch.map(|l| l.1),
                closes,
            })
            .collect()
    }

    #[test]
    fn a_day_is_split_into_sessions_around_lunch() {
        let monday = NaiveDate::from_ymd_opt(2030, 3, 4).unwrap();
        let now = monday.and_hms_opt(0, 0, 0).unwrap() - Duration::days(1);
        let slots = plan_slots(
            &tmpl(6, 30, 1),
            &weekdays(
                8 * 60 + 30,
                Some((11 * 60 + 30, 13 * 60 + 30)),
                16 * 60 + 30,
            ),
            &[7],
            &[],
            chrono_tz::Asia::Shanghai,
            monday,
            now,
        );
        assert_eq!(slots.len(), 12);
        assert_eq!(slots[0].starts_at, monday.and_hms_opt(0, 30, 0).unwrap());
        assert!(slots.iter().all(|s| s.seats == 6));
    }

    #[test]
    fn times_parse_and_refuse_nonsense() {
        assert_eq!(parse_hm("08:30"), Some(510));
        assert_eq!(parse_hm("24:00"), Some(1440));
        assert_eq!(parse_hm("24:05"), None);
        assert_eq!(parse_hm("8"), None);
        assert_eq!(parse_hm("08:07"), None);
        assert_eq!(hm(510), "08:30");
    }

    #[test]
    fn emails_are_normalised_and_bad_ones_refused() {
        let k = "err.setup.emails";
        assert_eq!(
            parse_emails("a@x.cn, b@y.cn;a@x.cn", k).as_deref(),
            Ok("a@x.cn; b@y.cn")
        );
        assert_eq!(parse_emails("a@x.cn\r\nb@y.cn", k), Err(text::CHARS));
        assert_eq!(parse_emails("", k).as_deref(), Ok(""));
        assert_eq!(parse_emails("not-an-address", k), Err(k));
        assert_eq!(parse_emails("a@x.cn\u{202E}", k), Err(text::CHARS));
        assert_eq!(parse_emails("a@x.cn; \0b@y.cn", k), Err(text::CHARS));
    }

    #[test]
    fn names_codes_and_passwords_refuse_control_and_text_direction_characters() {
        let k = "err.setup.name";
        assert_eq!(parse_text(" 城关镇 ", 60, k).as_deref(), Ok("城关镇"));
        assert_eq!(parse_text("城关\u{202E}镇", 60, k), Err(text::CHARS));
        assert_eq!(parse_text("城关镇\u{c}", 60, k), Err(text::CHARS));
        assert_eq!(parse_text("", 60, k), Err(k));
        assert_eq!(parse_text(&"镇".repeat(61), 60, k), Err(k));
        assert_eq!(parse_code("t001", "c").as_deref(), Ok("T001"));
        assert_eq!(parse_code("T0\u{0}01", "c"), Err(text::CHARS));
        assert_eq!(parse_code("T 1", "c"), Err("c"));
        assert_eq!(parse_username("nurse\u{2066}"), Err(text::CHARS));
        assert_eq!(parse_int("7\u{85}", 1, 60), None);
        assert_eq!(parse_hm("08:00\u{c}"), None);
        assert!(parse_password("correct horse battery").is_some());
        assert!(parse_password("correct horse\0battery").is_none());
        assert!(parse_password("correct\u{202E} horse battery").is_none());
    }
}
