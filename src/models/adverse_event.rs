//! Adverse events: reactions after a dose, with what was done and who recorded them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{adverse_events, sites};
use crate::db::AnyConnection;

/// A recorded reaction.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = adverse_events)]
pub struct AdverseEvent {
    pub id: i64,
    pub vaccination_id: i64,
    pub resident_id: i64,
    pub site_id: i64,
    /// `mild`, `moderate` or `severe`.
    pub severity: String,
    pub symptoms: String,
    pub action_taken: String,
    pub occurred_at: NaiveDateTime,
    pub recorded_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// Insert a reaction in the caller's transaction.
pub fn insert(conn: &mut AnyConnection, e: &AdverseEvent) -> QueryResult<()> {
    super::insert_into(conn, adverse_events::table, e)
}

/// Reactions of one severity since `since`, newest first, with the site's name.
pub fn list_by_severity_since(
    conn: &mut AnyConnection,
    severity: &str,
    since: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<(AdverseEvent, String)>> {
    adverse_events::table
        .inner_join(sites::table.on(sites::id.eq(adverse_events::site_id)))
        .filter(adverse_events::severity.eq(severity))
        .filter(adverse_events::occurred_at.ge(since))
        .order(adverse_events::occurred_at.desc())
        .limit(limit)
        .select((AdverseEvent::as_select(), sites::name))
        .load(conn)
}

/// Reactions recorded for any of `vaccinations`, in one query, oldest first.
pub fn list_for_vaccinations(
    conn: &mut AnyConnection,
    vaccinations: &[i64],
) -> QueryResult<Vec<AdverseEvent>> {
    if vaccinations.is_empty() {
        return Ok(Vec::new());
    }
    super::load_all(
        conn,
        adverse_events::table
            .filter(adverse_events::vaccination_id.eq_any(vaccinations))
            .order(adverse_events::occurred_at.asc()),
    )
}
