//! Towns: the units the bureau allocates vaccine to.

use diesel::prelude::*;

use crate::db::schema::towns;
use crate::db::AnyConnection;
use crate::ids::TownId;

/// A town.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable, AsChangeset)]
#[diesel(table_name = towns, treat_none_as_null = true)]
pub struct Town {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub eligible: i64,
    pub contact_emails: String,
    pub active: bool,
    /// The English name, when set (see [`super::LocalName`]).
    pub name_en: Option<String>,
}

impl super::LocalName for Town {
    fn local_name(&self, lang: crate::i18n::Lang) -> &str {
        super::in_lang(lang, &self.name, self.name_en.as_deref())
    }
}

/// A town to insert (the same columns).
pub type NewTown = Town;

/// Active towns by name.
pub fn list_active(conn: &mut AnyConnection) -> QueryResult<Vec<Town>> {
    super::load_all(
        conn,
        towns::table
            .filter(towns::active.eq(true))
            .order((towns::code.asc(), towns::id.asc())),
    )
}

/// One town.
pub fn find(conn: &mut AnyConnection, id: TownId) -> QueryResult<Option<Town>> {
    super::find_one(conn, towns::table.find(id.0))
}

/// How many towns exist (an empty database has none).
pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    towns::table.count().get_result(conn)
}

/// Insert one row.
pub fn insert(conn: &mut AnyConnection, row: &NewTown) -> QueryResult<()> {
    super::insert_into(conn, towns::table, row)
}

/// Every town, active or not, by code (the admin's list).
pub fn list_all(conn: &mut AnyConnection) -> QueryResult<Vec<Town>> {
    super::load_all(
        conn,
        towns::table.order((towns::code.asc(), towns::id.asc())),
    )
}

/// The town with this code.
pub fn find_by_code(conn: &mut AnyConnection, code: &str) -> QueryResult<Option<Town>> {
    super::find_one(conn, towns::table.filter(towns::code.eq(code)))
}

/// Overwrite a town's editable fields; false if it does not exist.
pub fn update(conn: &mut AnyConnection, row: &NewTown) -> QueryResult<bool> {
    super::update_one(conn, towns::table.find(row.id), row)
}

/// Delete a town (the caller checks that nothing refers to it).
pub fn delete(conn: &mut AnyConnection, id: TownId) -> QueryResult<bool> {
    diesel::delete(towns::table.find(id.0))
        .execute(conn)
        .map(|n| n == 1)
}

/// How many waiting-list entries and notices refer to a town (a town in use is not deleted).
pub fn count_waiting_and_notices(conn: &mut AnyConnection, id: TownId) -> QueryResult<i64> {
    use crate::db::schema::{town_notices, waiting_list};
    let waiting: i64 = waiting_list::table
        .filter(waiting_list::town_id.eq(id.0))
        .count()
        .get_result(conn)?;
    let notices: i64 = town_notices::table
        .filter(town_notices::town_id.eq(id.0))
        .count()
        .get_result(conn)?;
    Ok(waiting + notices)
}
