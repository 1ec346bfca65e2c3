//! Vaccination sites, each in one town.

use diesel::prelude::*;

use crate::db::schema::sites;
use crate::db::AnyConnection;
use crate::ids::{SiteId, TownId};

/// A vaccination site.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable, AsChangeset)]
#[diesel(table_name = sites, treat_none_as_null = true)]
pub struct Site {
    pub id: i64,
    pub town_id: i64,
    pub name: String,
    pub address: String,
    pub active: bool,
    /// The English name and address, when set (see [`super::LocalName`]).
    pub name_en: Option<String>,
    pub address_en: Option<String>,
}

impl super::LocalName for Site {
    fn local_name(&self, lang: crate::i18n::Lang) -> &str {
        super::in_lang(lang, &self.name, self.name_en.as_deref())
    }
}

impl Site {
    /// The address to show in `lang` (the English one when set, else the Chinese).
    pub fn local_address(&self, lang: crate::i18n::Lang) -> &str {
        super::in_lang(lang, &self.address, self.address_en.as_deref())
    }
}

/// A site to insert (the same columns).
pub type NewSite = Site;

/// One site.
pub fn find(conn: &mut AnyConnection, id: SiteId) -> QueryResult<Option<Site>> {
    super::find_one(conn, sites::table.find(id.0))
}

/// Lock a site's row for the rest of the transaction (a no-op update, which takes the row lock
/// on PostgreSQL; SQLite has one writer anyway). Whether the site exists.
pub fn lock(conn: &mut AnyConnection, id: SiteId) -> QueryResult<bool> {
    super::update_one(
        conn,
        sites::table.find(id.0),
        sites::active.eq(sites::active),
    )
}

/// Active sites of a town by name.
pub fn list_for_town(conn: &mut AnyConnection, town: TownId) -> QueryResult<Vec<Site>> {
    super::load_all(
        conn,
        sites::table
            .filter(sites::town_id.eq(town.0))
            .filter(sites::active.eq(true))
            .order((sites::name.asc(), sites::id.asc())),
    )
}

/// Every active site.
pub fn list_active(conn: &mut AnyConnection) -> QueryResult<Vec<Site>> {
    super::load_all(
        conn,
        sites::table
            .filter(sites::active.eq(true))
            .order((sites::town_id.asc(), sites::name.asc())),
    )
}

/// Insert one row.
pub fn insert(conn: &mut AnyConnection, row: &NewSite) -> QueryResult<()> {
    super::insert_into(conn, sites::table, row)
}

/// Every site, active or not (the admin's list).
pub fn list_all(conn: &mut AnyConnection) -> QueryResult<Vec<Site>> {
    super::load_all(
        conn,
        sites::table.order((sites::town_id.asc(), sites::name.asc(), sites::id.asc())),
    )
}

/// How many sites, active or not, a town has.
pub fn count_for_town(conn: &mut AnyConnection, town: TownId) -> QueryResult<i64> {
    sites::table
        .filter(sites::town_id.eq(town.0))
        .count()
        .get_result(conn)
}

/// Overwrite a site's editable fields; false if it does not exist.
pub fn update(conn: &mut AnyConnection, row: &NewSite) -> QueryResult<bool> {
    super::update_one(conn, sites::table.find(row.id), row)
}
