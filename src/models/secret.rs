//! The generated master secret, kept in the database when `DOSEWISE_SECRET` is not set, so that
//! every server process on the same database hashes ID numbers and signs cookies alike.

use diesel::prelude::*;

use crate::db::schema::app_secrets;
use crate::db::AnyConnection;

/// The stored secret named `name`, created with `generate` on first use. A race between two
/// processes starting at once is settled by the primary key: the loser reads the winner's value.
pub fn get_or_create(
    conn: &mut AnyConnection,
    name: &str,
    generate: impl Fn() -> String,
) -> QueryResult<String> {
    let read = |conn: &mut AnyConnection| {
        app_secrets::table
            .find(name)
            .select(app_secrets::value)
            .first::<String>(conn)
            .optional()
    };
    if let Some(v) = read(conn)? {
        return Ok(v);
    }
    let inserted = diesel::insert_into(app_secrets::table)
        .values((
            app_secrets::name.eq(name),
            app_secrets::value.eq(generate()),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => {}
        Err(e) if crate::db::is_unique_violation(&e) => {}
        Err(e) => return Err(e),
    }
    read(conn)?.ok_or(diesel::result::Error::NotFound)
}
