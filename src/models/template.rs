//! A site's weekly template (`site_templates`: slot length, seats, days published ahead) and its
//! opening hours per weekday (`site_hours`, minutes after local midnight, with a lunch break).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{site_hours, site_templates};
use crate::db::AnyConnection;
use crate::ids::SiteId;

/// A site's template settings.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = site_templates)]
pub struct SiteTemplate {
    pub site_id: i64,
    pub slot_minutes: i32,
    pub seats: i32,
    pub days_ahead: i32,
    pub updated_by: String,
    pub updated_at: NaiveDateTime,
}

/// Opening hours on one weekday (0 = Monday); a weekday without a row is closed.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = site_hours)]
pub struct SiteHours {
    pub site_id: i64,
    pub weekday: i32,
    pub opens: i32,
    pub lunch_starts: Option<i32>,
    pub lunch_ends: Option<i32>,
    pub closes: i32,
}

/// A site's template, if it has one.
pub fn find(conn: &mut AnyConnection, site: SiteId) -> QueryResult<Option<SiteTemplate>> {
    super::find_one(conn, site_templates::table.find(site.0))
}

/// A site's opening hours, Monday first.
pub fn hours(conn: &mut AnyConnection, site: SiteId) -> QueryResult<Vec<SiteHours>> {
    super::load_all(
        conn,
        site_hours::table
            .filter(site_hours::site_id.eq(site.0))
            .order(site_hours::weekday.asc()),
    )
}

/// Every template (the publishing job walks them all).
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<SiteTemplate>> {
    super::load_all(
        conn,
        site_templates::table.order(site_templates::site_id.asc()),
    )
}

/// Replace a site's template and hours.
pub fn replace(conn: &mut AnyConnection, t: &SiteTemplate, hours: &[SiteHours]) -> QueryResult<()> {
    diesel::delete(site_hours::table.filter(site_hours::site_id.eq(t.site_id))).execute(conn)?;
    diesel::delete(site_templates::table.find(t.site_id)).execute(conn)?;
    super::insert_into(conn, site_templates::table, t)?;
    for h in hours {
        super::insert_into(conn, site_hours::table, h)?;
    }
    Ok(())
}

/// A site's release rule and draw window (columns of `site_templates`, kept apart from
/// [`SiteTemplate`] so that saving the weekly template and the rule stay separate statements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = site_templates)]
pub struct ReleaseRule {
    /// Slots for day D open on D minus this many days; `None`: no rule, bookable at once.
    pub release_days: Option<i32>,
    /// ... at this local time, in minutes after midnight.
    pub release_minutes: Option<i32>,
    /// How long the draw window lasts from the opening; 0: first come from the opening.
    pub draw_minutes: i32,
}

impl ReleaseRule {
    /// No announced release: slots are bookable as soon as they are published.
    pub const NONE: ReleaseRule = ReleaseRule {
        release_days: None,
        release_minutes: None,
        draw_minutes: 10,
    };

    /// When a slot starting at `starts_at` (UTC) opens, in UTC; `None` without a rule. A local
    /// time that does not exist (the clock jumps forward) opens an hour later.
    pub fn opens_at(&self, tz: chrono_tz::Tz, starts_at: NaiveDateTime) -> Option<NaiveDateTime> {
        use crate::domain::days::{local_day, utc_of_local};
        let (days, minutes) = (self.release_days?, self.release_minutes?);
        let day = local_day(tz, starts_at) - chrono::Duration::days(days.into());
        let at = |m: i32| {
            let local = day.and_hms_opt(0, 0, 0)? + chrono::Duration::minutes(m.into());
            utc_of_local(tz, local)
        };
        at(minutes).or_else(|| at(minutes + 60))
    }
}

/// A site's release rule ([`ReleaseRule::NONE`] without a template).
pub fn release_rule(conn: &mut AnyConnection, site: SiteId) -> QueryResult<ReleaseRule> {
    Ok(site_templates::table
        .find(site.0)
        .select(ReleaseRule::as_select())
        .get_result(conn)
        .optional()?
        .unwrap_or(ReleaseRule::NONE))
}

/// Set a site's release rule (its template row must exist).
pub fn set_release_rule(
    conn: &mut AnyConnection,
    site: SiteId,
    rule: &ReleaseRule,
) -> QueryResult<()> {
    diesel::update(site_templates::table.find(site.0))
        .set((
            site_templates::release_days.eq(rule.release_days),
            site_templates::release_minutes.eq(rule.release_minutes),
            site_templates::draw_minutes.eq(rule.draw_minutes),
        ))
        .execute(conn)
        .map(|_| ())
}
