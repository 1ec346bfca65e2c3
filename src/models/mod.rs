//! One file per table: the record (`Queryable`), the insert form (`Insertable`) and named query
//! functions that take `&mut AnyConnection` and return `QueryResult`. HTTP meaning is added only
//! in handlers; business rules live in `booking/`.
//!
//! The shapes every model repeats are said once here: [`insert_into`], [`find_one`] (a unique
//! key's row), [`load_all`] (a filtered, ordered list) and [`update_one`] (a conditional UPDATE
//! of one row, and whether it applied).
//!
//! A lookup of one row by a unique key is `.get_result(conn).optional()` ([`find_one`]), not
//! `.first(conn)`: `first` adds `LIMIT ?`, and SQLite (3.47 and later) plans a bound `LIMIT` by
//! its value, so it re-prepares (re-parses) the cached statement every time it is run with a new
//! binding. That was a fifth of the SQLite booking transaction's time (BENCHMARKS.md). `.first`
//! is kept only where an ordered query must stop after one row.

use diesel::dsl::AsSelect;
use diesel::query_builder::{InsertStatement, IntoUpdateTarget, QueryFragment, QueryId};
use diesel::query_dsl::methods::{ExecuteDsl, SelectDsl};
use diesel::query_dsl::LoadQuery;
use diesel::{
    AsChangeset, Insertable, OptionalExtension, QueryResult, QuerySource, RunQueryDsl, Selectable,
    SelectableHelper, Table,
};

use crate::db::prepared::{self, Part};
use crate::db::{AnyConnection, MultiBackend};
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;

pub mod adverse_event;
pub mod appointment;
pub mod audit;
pub mod desk;
pub mod lot;
pub mod my_appointment;
pub mod outbox;
pub mod product;
pub mod readiness;
pub mod resident;
pub mod screening;
pub mod secret;
pub mod shipment;
pub mod site;
pub mod slot;
pub mod stock;
pub mod sync_action;
pub mod town;
pub mod user;
pub mod vaccination;
pub mod waiting;

// City set-up (issue 6).
pub mod exception;
pub mod exception_move;
pub mod product_change;
pub mod setup_progress;
pub mod site_product;
pub mod template;

// Fair release (issue 9).
pub mod draw;
pub mod draw_entry;

// The bureau sees the campaign (issue 12).
pub mod dashboard;
pub mod export;

// Households (issue 13).
pub mod household;

pub use appointment::{Appointment, AppointmentStatus, NewAppointment};
pub use product::{NewProduct, Product};
pub use resident::{NewResident, Resident};
pub use site::{NewSite, Site};
pub use slot::{NewSlot, Slot};
pub use stock::StockBalance;
pub use town::{NewTown, Town};
pub use user::{NewUser, Role, Session, User};
pub use vaccination::{NewVaccination, Vaccination};

/// A name kept in Chinese with an optional English form: towns, sites (and their addresses)
/// and products. Every page and message shows names through it, never by picking a field.
pub trait LocalName {
    /// The name to show in `lang`: the English one on English pages when it is set, otherwise
    /// the Chinese one.
    fn local_name(&self, lang: crate::i18n::Lang) -> &str;
}

/// `en` in English when it is set and not blank, otherwise `zh`.
pub fn in_lang<'a>(lang: crate::i18n::Lang, zh: &'a str, en: Option<&'a str>) -> &'a str {
    match (lang, en.map(str::trim)) {
        (crate::i18n::Lang::En, Some(en)) if !en.is_empty() => en,
        _ => zh,
    }
}

/// Insert one record (or a slice of them) into `table` in the caller's transaction: what each
/// model's `insert` does.
pub fn insert_into<T, V>(conn: &mut AnyConnection, table: T, values: V) -> QueryResult<()>
where
    T: Table,
    V: Insertable<T>,
    InsertStatement<T, V::Values>: ExecuteDsl<AnyConnection>,
{
    diesel::insert_into(table)
        .values(values)
        .execute(conn)
        .map(|_| ())
}

/// A query whose rows load as `R` once `R`'s columns are selected (`R::as_select()`): what
/// [`find_one`] and [`load_all`] take (every table, join or filtered query with those columns).
pub trait LoadsAs<'q, R>: SelectDsl<AsSelect<R, MultiBackend>, Output = Self::Selected>
where
    R: Selectable<MultiBackend>,
    R::SelectExpression: QueryId,
{
    /// The query with `R`'s columns selected.
    type Selected: LoadQuery<'q, AnyConnection, R> + RunQueryDsl<AnyConnection>;
}

impl<'q, R, Q, S> LoadsAs<'q, R> for Q
where
    R: Selectable<MultiBackend>,
    R::SelectExpression: QueryId,
    Q: SelectDsl<AsSelect<R, MultiBackend>, Output = S>,
    S: LoadQuery<'q, AnyConnection, R> + RunQueryDsl<AnyConnection>,
{
    type Selected = S;
}

/// The row `query` finds by a unique key (a primary key with `.find`, or a unique column), if
/// there is one: the lookup of every `find`/`find_by_*` function (no `LIMIT`: see the module
/// doc).
pub fn find_one<'q, R, Q>(conn: &mut AnyConnection, query: Q) -> QueryResult<Option<R>>
where
    R: Selectable<MultiBackend>,
    R::SelectExpression: QueryId,
    Q: LoadsAs<'q, R>,
{
    query.select(R::as_select()).get_result(conn).optional()
}

/// Every row of `query`, with its filters and order: what each `list_*` function loads.
pub fn load_all<'q, R, Q>(conn: &mut AnyConnection, query: Q) -> QueryResult<Vec<R>>
where
    R: Selectable<MultiBackend>,
    R::SelectExpression: QueryId,
    Q: LoadsAs<'q, R>,
{
    query.select(R::as_select()).load(conn)
}

/// Apply `changes` to the one row `target` names (its primary key, usually with conditions),
/// in the caller's transaction. True when the row was changed; false when no row matched: it
/// does not exist, or its conditions no longer hold because someone else changed it first. This
/// conditional UPDATE is how the models take a seat, a dose or a claim atomically on both
/// backends (PostgreSQL re-checks the conditions under the row lock; SQLite has one writer).
pub fn update_one<T, V>(conn: &mut AnyConnection, target: T, changes: V) -> QueryResult<bool>
where
    T: IntoUpdateTarget,
    V: AsChangeset<Target = T::Table>,
    <T::Table as QuerySource>::FromClause: QueryFragment<Sqlite> + QueryFragment<Pg>,
    T::WhereClause: QueryFragment<Sqlite> + QueryFragment<Pg>,
    V::Changeset: QueryFragment<Sqlite> + QueryFragment<Pg>,
{
    // As a `Part`: on the backend's own connection (see `Part::run`).
    update_of(target, changes).run(conn).map(|n| n == 1)
}

/// The UPDATE that [`update_one`] runs, not yet run: a part of
/// [`run_together`](crate::db::prepared::run_together), one row changed when it took.
pub fn update_of<T, V>(
    target: T,
    changes: V,
) -> prepared::PreparedUpdate<<T::Table as QuerySource>::FromClause, T::WhereClause, V::Changeset>
where
    T: IntoUpdateTarget,
    V: AsChangeset<Target = T::Table>,
{
    // Kept prepared (diesel prepares an UPDATE anew each time): these conditional updates take
    // seats and doses on every booking.
    let target = target.into_update_target();
    prepared::update(target.table, target.where_clause, changes.as_changeset())
}

#[cfg(test)]
mod tests {
    use super::in_lang;
    use crate::i18n::Lang;

    #[test]
    fn english_names_fall_back_to_chinese() {
        assert_eq!(in_lang(Lang::En, "东城镇", Some("Dongcheng")), "Dongcheng");
        assert_eq!(in_lang(Lang::Zh, "东城镇", Some("Dongcheng")), "东城镇");
        assert_eq!(in_lang(Lang::En, "东城镇", None), "东城镇");
        assert_eq!(in_lang(Lang::En, "东城镇", Some("  ")), "东城镇");
    }
}
