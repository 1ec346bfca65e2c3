//! `exception_moves`: what an exception did to each booking it displaced (moved to `to_slot_id`,
//! or cancelled when that is `None`). The resident's mail is rendered from this row, so it keeps
//! the old time itself: the old slot may be withdrawn in the same transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::exception_moves;
use crate::db::AnyConnection;

/// One displaced booking.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = exception_moves)]
pub struct ExceptionMove {
    pub id: i64,
    pub exception_id: i64,
    pub appointment_id: i64,
    pub from_slot_id: i64,
    pub from_site_id: i64,
    pub from_starts_at: NaiveDateTime,
    pub from_ends_at: NaiveDateTime,
    /// The slot it was moved to; `None`: cancelled (and put first on the waiting list).
    pub to_slot_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// Insert one row in the caller's transaction.
pub fn insert(conn: &mut AnyConnection, m: &ExceptionMove) -> QueryResult<()> {
    super::insert_into(conn, exception_moves::table, m)
}

/// One row.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<ExceptionMove>> {
    super::find_one(conn, exception_moves::table.find(id))
}
