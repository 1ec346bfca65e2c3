//! The readiness probe's row: `GET /readyz` rewrites it inside a write transaction to prove
//! that a write can commit right now.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::readiness;
use crate::db::AnyConnection;

/// Record a successful probe at `now` (the row is recreated if someone deleted it).
pub fn touch(conn: &mut AnyConnection, now: NaiveDateTime) -> QueryResult<()> {
    let updated = diesel::update(readiness::table.find(1))
        .set(readiness::checked_at.eq(now))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(readiness::table)
            .values((readiness::id.eq(1), readiness::checked_at.eq(now)))
            .execute(conn)?;
    }
    Ok(())
}
