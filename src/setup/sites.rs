//! Sites and their weekly template: details, the products a site gives, opening hours, slot
//! length and seats, and the release rule. Saving a template publishes its slots.

use chrono::NaiveDateTime;
use chrono_tz::Tz;

use super::change::{audited, create_or_update, Entry};
use super::error::{invalid, SetupError};
use super::publish::{publish_site, PublishReport};
use crate::db::Db;
use crate::domain::city::{hm, DayHours, DaysAhead, Seats, SlotMinutes};
use crate::ids::{new_id, ProductId, SiteId, TownId};
use crate::models::template::{self, SiteHours, SiteTemplate};
use crate::models::{product, site, site_product, town, NewSite};

/// A valid site (the town is checked against the database when saved).
#[derive(Debug, Clone)]
pub struct SiteInput {
    pub town_id: i64,
    pub name: String,
    pub address: String,
    /// The English name and address, if any.
    pub name_en: Option<String>,
    pub address_en: Option<String>,
    pub active: bool,
}

/// A valid weekly template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInput {
    pub hours: Vec<DayHours>,
    pub slot_minutes: SlotMinutes,
    pub seats: Seats,
    pub days_ahead: DaysAhead,
    pub products: Vec<i64>,
    /// When the template's slots open, and the draw window.
    pub release: template::ReleaseRule,
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
    audited(db, actor, now, move |c, _| {
        let t = town::find(c, TownId(input.town_id))?
            .ok_or_else(|| invalid("town_id", "err.setup.town"))?;
        let row = NewSite {
            id: id.unwrap_or_else(new_id),
            town_id: t.id,
            name: input.name.clone(),
            address: input.address.clone(),
            active: input.active,
            name_en: input.name_en.clone(),
            address_en: input.address_en.clone(),
        };
        let actions = ("sites.create", "sites.update");
        let action = create_or_update(c, id, &row, site::insert, site::update, actions)?;
        if id.is_some() {
            publish_site(c, SiteId(row.id), tz, now)?;
        }
        let entry = Entry {
            action,
            subject: format!("site {}", row.id),
            detail: format!(
                "{} in {}; {}; {}",
                row.name,
                t.code,
                row.address,
                if row.active { "active" } else { "inactive" }
            ),
        };
        Ok((entry, row.id))
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
    audited(db, actor, now, move |c, actor| {
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
            slot_minutes: input.slot_minutes.get(),
            seats: input.seats.get(),
            days_ahead: input.days_ahead.get(),
            updated_by: actor.to_string(),
            updated_at: now,
        };
        let hours: Vec<SiteHours> = input
            .hours
            .iter()
            .map(|h| SiteHours {
                site_id,
                weekday: h.weekday() as i32,
                opens: h.opens(),
                lunch_starts: h.lunch().map(|l| l.0),
                lunch_ends: h.lunch().map(|l| l.1),
                closes: h.closes(),
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
                    .lunch()
                    .map(|(a, b)| format!(" lunch {}-{}", hm(a), hm(b)))
                    .unwrap_or_default();
                format!(
                    "{} {}-{}{}",
                    h.weekday(),
                    hm(h.opens()),
                    hm(h.closes()),
                    lunch
                )
            })
            .collect();
        let entry = Entry {
            action: "sites.template",
            subject: format!("site {site_id}"),
            detail: format!(
                "{} min slots, {} seats, {} days ahead, products {:?}; {}; {}; {}",
                input.slot_minutes.get(),
                input.seats.get(),
                input.days_ahead.get(),
                input.products,
                days.join(", "),
                release_summary(&input.release),
                report.summary()
            ),
        };
        Ok((entry, report))
    })
}
