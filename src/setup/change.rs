//! How every set-up change is saved: one write transaction that ends with the change's audit
//! entry, written under the actor who made it.

use chrono::NaiveDateTime;

use diesel::QueryResult;

use super::error::SetupError;
use crate::db::{AnyConnection, Db};
use crate::models::audit;

/// What a change writes to the audit log.
pub(crate) struct Entry {
    pub action: &'static str,
    pub subject: String,
    pub detail: String,
}

/// Run `change` (given the connection and the actor) as one write transaction; when it
/// succeeds, its audit entry is recorded under `actor` at `now` in the same transaction, and
/// its value returned.
pub(crate) fn audited<T, F>(
    db: &Db,
    actor: &str,
    now: NaiveDateTime,
    change: F,
) -> Result<T, SetupError>
where
    T: Send + 'static,
    F: FnOnce(&mut AnyConnection, &str) -> Result<(Entry, T), SetupError> + Send + 'static,
{
    let actor = actor.to_string();
    db.transaction(move |c| {
        let (e, out) = change(c, &actor)?;
        audit::record(c, now, &actor, e.action, &e.subject, &e.detail)?;
        Ok(out)
    })
}

/// Write `row` as a new record (`id` None) or over the record `id` names
/// ([`SetupError::NotFound`] when there is none), in the caller's transaction: how a town, site
/// or product form is saved. Returns the audit action of what it did: `actions.0` for a create,
/// `actions.1` for an update.
pub(crate) fn create_or_update<R>(
    c: &mut AnyConnection,
    id: Option<i64>,
    row: &R,
    insert: fn(&mut AnyConnection, &R) -> QueryResult<()>,
    update: fn(&mut AnyConnection, &R) -> QueryResult<bool>,
    actions: (&'static str, &'static str),
) -> Result<&'static str, SetupError> {
    if id.is_none() {
        insert(c, row)?;
        return Ok(actions.0);
    }
    if !update(c, row)? {
        return Err(SetupError::NotFound);
    }
    Ok(actions.1)
}
