//! Towns: the units the bureau allocates vaccine to.

use diesel::prelude::*;

use crate::db::schema::towns;
use crate::db::AnyConnection;
use crate::ids::TownId;

/// A town.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = towns)]
pub struct Town {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub eligible: i64,
    pub contact_emails: String,
    pub active: bool,
}

/// A town to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = towns)]
pub struct NewTown {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub eligible: i64,
    pub contact_emails: String,
    pub active: bool,
}

/// Active towns by name.
pub fn list_active(conn: &mut AnyConnection) -> QueryResult<Vec<Town>> {
    towns::table
        .filter(towns::active.eq(true))
        .order((towns::code.asc(), towns::id.asc()))
        .select(Town::as_select())
        .load(conn)
}

/// One town.
pub fn find(conn: &mut AnyConnection, id: TownId) -> QueryResult<Option<Town>> {
    towns::table
        .find(id.0)
        .select(Town::as_select())
        .first(conn)
        .optional()
}

/// How many towns exist (an empty database has none).
pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    towns::table.count().get_result(conn)
}

/// Insert one row.
pub fn insert(conn: &mut AnyConnection, row: &NewTown) -> QueryResult<()> {
    diesel::insert_into(towns::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}
