//! Households (`households`) and who belongs to them (`household_members`): residents who share a
//! phone number and an e-mail address, seen and booked together. A resident belongs to at most
//! one household; `households.members` counts its rows in `household_members`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{household_members, households, residents};
use crate::db::AnyConnection;
use crate::ids::ResidentId;
use crate::models::Resident;

/// A household.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = households)]
pub struct Household {
    pub id: i64,
    /// How many residents belong to it.
    pub members: i32,
    pub created_at: NaiveDateTime,
}

/// A household to insert (the same columns).
pub type NewHousehold = Household;

/// One resident's place in a household.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = household_members)]
pub struct Membership {
    pub resident_id: i64,
    pub household_id: i64,
    pub added_at: NaiveDateTime,
}

/// Insert a household (with no members yet).
pub fn insert(conn: &mut AnyConnection, h: &NewHousehold) -> QueryResult<()> {
    super::insert_into(conn, households::table, h)
}

/// The household a resident belongs to, if any.
pub fn of_resident(conn: &mut AnyConnection, resident: ResidentId) -> QueryResult<Option<i64>> {
    household_members::table
        .find(resident.0)
        .select(household_members::household_id)
        .get_result(conn)
        .optional()
}

/// One household.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Household>> {
    super::find_one(conn, households::table.find(id))
}

/// The residents of a household, in the order they joined.
pub fn members(conn: &mut AnyConnection, household: i64) -> QueryResult<Vec<Resident>> {
    super::load_all(
        conn,
        household_members::table
            .inner_join(residents::table)
            .filter(household_members::household_id.eq(household))
            .order((
                household_members::added_at.asc(),
                residents::created_at.asc(),
                residents::id.asc(),
            )),
    )
}

/// Make room for one more member: raise the count if it is below `max`. False when the
/// household is full. The conditional UPDATE locks the household's row (PostgreSQL), so two
/// concurrent adds cannot both take the last place.
pub fn take_place(conn: &mut AnyConnection, household: i64, max: i32) -> QueryResult<bool> {
    super::update_one(
        conn,
        households::table
            .filter(households::id.eq(household))
            .filter(households::members.lt(max)),
        households::members.eq(households::members + 1),
    )
}

/// Put a resident in a household (after [`take_place`]); a resident already in one is a unique
/// violation on `household_members`' primary key.
pub fn join(conn: &mut AnyConnection, m: &Membership) -> QueryResult<()> {
    super::insert_into(conn, household_members::table, m)
}
