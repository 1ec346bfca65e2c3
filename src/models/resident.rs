//! Residents. The ID number is kept only as a keyed hash plus its last four characters.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::prepared::Part;
use crate::db::schema::residents;
use crate::db::AnyConnection;
use crate::ids::ResidentId;

/// A resident who has booked or joined a waiting list.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = residents)]
pub struct Resident {
    pub id: i64,
    pub id_hash: String,
    pub id_last4: String,
    pub birth_date: NaiveDate,
    pub name: String,
    pub phone: String,
    pub email: String,
    pub lang: String,
    pub created_at: NaiveDateTime,
}

/// A resident to insert (the same columns).
pub type NewResident = Resident;

/// The resident with this ID-number hash.
pub fn find_by_hash(conn: &mut AnyConnection, id_hash: &str) -> QueryResult<Option<Resident>> {
    super::find_one(
        conn,
        residents::table.filter(residents::id_hash.eq(id_hash)),
    )
}

/// One resident.
pub fn find(conn: &mut AnyConnection, id: ResidentId) -> QueryResult<Option<Resident>> {
    super::find_one(conn, residents::table.find(id.0))
}

/// The residents `ids` (those that exist).
pub fn list_by_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<Resident>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    super::load_all(
        conn,
        residents::table
            .filter(residents::id.eq_any(ids))
            .order(residents::id.asc()),
    )
}

/// Insert a resident.
pub fn insert(conn: &mut AnyConnection, r: &NewResident) -> QueryResult<()> {
    inserting(r).run(conn).map(|_| ())
}

/// The `INSERT` of [`insert`], not yet run (a part of `run_together`).
pub(crate) fn inserting(r: &NewResident) -> crate::db::prepared::Fixed<InsertResident<'_>> {
    InsertResident::of(r)
}

crate::db::prepared::fixed_insert!(
    /// The resident `INSERT`, kept prepared: a booking by someone new makes one.
    InsertResident,
    Resident,
    residents { id, id_hash, id_last4, birth_date, name, phone, email, lang, created_at }
);

/// Keep the latest contact details a resident gave.
pub fn update_contact(
    conn: &mut AnyConnection,
    id: ResidentId,
    name: &str,
    phone: &str,
    email: &str,
    lang: &str,
) -> QueryResult<()> {
    diesel::update(residents::table.find(id.0))
        .set((
            residents::name.eq(name),
            residents::phone.eq(phone),
            residents::email.eq(email),
            residents::lang.eq(lang),
        ))
        .execute(conn)
        .map(|_| ())
}
