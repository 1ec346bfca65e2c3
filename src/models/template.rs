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
    site_templates::table
        .find(site.0)
        .select(SiteTemplate::as_select())
        .first(conn)
        .optional()
}

/// A site's opening hours, Monday first.
pub fn hours(conn: &mut AnyConnection, site: SiteId) -> QueryResult<Vec<SiteHours>> {
    site_hours::table
        .filter(site_hours::site_id.eq(site.0))
        .order(site_hours::weekday.asc())
        .select(SiteHours::as_select())
        .load(conn)
}

/// Every template (the publishing job walks them all).
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<SiteTemplate>> {
    site_templates::table
        .order(site_templates::site_id.asc())
        .select(SiteTemplate::as_select())
        .load(conn)
}

/// Replace a site's template and hours.
pub fn replace(conn: &mut AnyConnection, t: &SiteTemplate, hours: &[SiteHours]) -> QueryResult<()> {
    diesel::delete(site_hours::table.filter(site_hours::site_id.eq(t.site_id))).execute(conn)?;
    diesel::delete(site_templates::table.find(t.site_id)).execute(conn)?;
    diesel::insert_into(site_templates::table)
        .values(t)
        .execute(conn)?;
    for h in hours {
        diesel::insert_into(site_hours::table)
            .values(h)
            .execute(conn)?;
    }
    Ok(())
}
