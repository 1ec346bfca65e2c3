//! The idempotency keys of the actions a clinic desk queued offline (`POST /clinic/sync`), each
//! with the answer it was given. An accepted action's row is written in the action's own
//! transaction (`booking::clinic`); a refused one's afterwards.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::sync_actions;
use crate::db::{is_unique_violation, AnyConnection};

/// A key and its answer. The insert form is the record.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sync_actions)]
pub struct SyncAction {
    pub user_id: i64,
    pub idempotency_key: String,
    pub site_id: i64,
    pub kind: String,
    /// `accepted` or `refused`.
    pub outcome: String,
    /// The refusal's catalogue key (empty when accepted).
    pub reason: String,
    pub created_at: NaiveDateTime,
}

/// The answer stored for `user`'s `key`, if any.
pub fn find(c: &mut AnyConnection, user: i64, key: &str) -> QueryResult<Option<SyncAction>> {
    sync_actions::table
        .find((user, key))
        .select(SyncAction::as_select())
        .first(c)
        .optional()
}

/// Store a key with its answer; fails on a key already stored (the caller's transaction is then
/// rolled back with it).
pub fn insert(c: &mut AnyConnection, row: &SyncAction) -> QueryResult<()> {
    diesel::insert_into(sync_actions::table)
        .values(row)
        .execute(c)
        .map(|_| ())
}

/// Store a key with its answer unless it is stored already (in a savepoint, so a key stored by
/// a simultaneous request does not abort the caller's transaction).
pub fn insert_once(c: &mut AnyConnection, row: &SyncAction) -> QueryResult<()> {
    match c.transaction(|c| insert(c, row)) {
        Err(e) if is_unique_violation(&e) => Ok(()),
        other => other,
    }
}
