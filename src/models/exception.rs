//! Exceptions to a site's template (`site_exceptions`): a day or part of a day closed, or a
//! day's seats per slot changed. Times are minutes after local midnight.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::site_exceptions;
use crate::db::AnyConnection;
use crate::ids::SiteId;

/// One exception.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = site_exceptions)]
pub struct SiteException {
    pub id: i64,
    pub site_id: i64,
    pub day: NaiveDate,
    /// `closed` or `seats`.
    pub kind: String,
    pub starts: i32,
    pub ends: i32,
    pub seats: Option<i32>,
    pub reason: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// Insert one row.
pub fn insert(conn: &mut AnyConnection, e: &SiteException) -> QueryResult<()> {
    super::insert_into(conn, site_exceptions::table, e)
}

/// One exception.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<SiteException>> {
    super::find_one(conn, site_exceptions::table.find(id))
}

/// A site's exceptions on days from `from` on, in day order.
pub fn list_for_site_from(
    conn: &mut AnyConnection,
    site: SiteId,
    from: NaiveDate,
) -> QueryResult<Vec<SiteException>> {
    super::load_all(
        conn,
        site_exceptions::table
            .filter(site_exceptions::site_id.eq(site.0))
            .filter(site_exceptions::day.ge(from))
            .order((
                site_exceptions::day.asc(),
                site_exceptions::created_at.asc(),
            )),
    )
}
