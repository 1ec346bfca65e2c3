//! Sites and their weekly template: details, the products a site gives, opening hours, slot
//! length and seats, and the release rule. Saving a template publishes its slots.

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use serde::Deserialize;

use super::error::{invalid, FieldErrors, SetupError};
use super::publish::{publish_site, PublishReport};
use crate::db::Db;
use crate::domain::city::{checkbox, hm, parse_hm, parse_int, parse_text};
use crate::domain::{parse_id, text};
use crate::ids::{new_id, ProductId, SiteId, TownId};
use crate::models::template::{self, SiteHours, SiteTemplate};
use crate::models::{audit, product, site, site_product, town, NewSite};

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
    let mut check = FieldErrors::default();
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
    let mut check = FieldErrors::default();
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
    if check.is_empty() && hours.is_empty() {
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
fn parse_release(f: &TemplateForm, check: &mut FieldErrors) -> template::ReleaseRule {
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
