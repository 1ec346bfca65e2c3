//! The audit log: who changed what, when and why.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::audit_log;
use crate::db::AnyConnection;

/// One audit entry.
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub created_at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

/// Write an entry in the caller's transaction.
pub fn record(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> QueryResult<()> {
    let entry = AuditEntry {
        id: crate::ids::new_id(),
        created_at: now,
        actor: actor.to_string(),
        action: action.to_string(),
        subject: subject.to_string(),
        detail: detail.to_string(),
    };
    super::insert_into(conn, audit_log::table, &entry)
}

/// The newest entries first.
pub fn recent(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table
        .order(audit_log::created_at.desc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)
}
