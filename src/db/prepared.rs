//! Writes kept prepared.
//!
//! diesel puts no `INSERT … VALUES` and no `UPDATE` in a connection's statement cache (a value
//! left out, `None` in a changeset or an insert form, changes the text), so each of a booking's
//! writes was parsed and planned anew on every run: on PostgreSQL a Parse and a plan per
//! statement (about a fifth of the database's CPU under the booking load, `perf`), on SQLite a
//! compile on the writer thread. (Marking the statement safe to cache on a wrapper did not
//! help: `MultiConnection` asks the statement by reference, and `&T` answers with diesel's
//! default, which walks the `UPDATE` and finds it unsafe.)
//!
//! - [`PreparedUpdate`]: diesel's own `UPDATE` text, kept under that text (so a changeset that
//!   leaves a column out is a different statement): what `models::update_one` runs.
//! - [`Fixed`]: a statement whose text its Rust type alone decides, kept and found again by its
//!   type, with no text built to find it: the inserts every booking makes. Its parts come from
//!   the schema (`Column::NAME`, the table's `FROM` clause), so a column keeps one spelling.
//! - [`run_together`]: the writes of a transaction that do not read each other's changes, in one
//!   round trip on PostgreSQL (the parts of one `WITH`): a booking's seat, appointment, promised
//!   dose, confirmation and audit entry.

use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::HasSqlType;
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl, Table};

use super::AnyConnection;

/// A statement whose SQL text its type alone decides (never a value it binds).
pub trait FixedSql {
    /// The type that names this statement in a connection's statement cache: `Self` with
    /// `'static` lifetimes. Two statements of different texts must not share one.
    type Key: 'static;

    /// Write the statement for SQLite: its text with [`AstPass::push_sql`], its values with
    /// [`AstPass::push_bind_param`] (or [`Values`]); never a text that depends on a value.
    fn walk_sqlite<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()>;

    /// The same statement for PostgreSQL. Both are run on the backend's own connection, not
    /// through `MultiConnection` (see [`Part::run`]).
    fn walk_pg<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

/// A [`FixedSql`] statement, run with [`Part::run`] (alone) or [`run_together`].
pub struct Fixed<S>(pub S);

impl<S: FixedSql> QueryId for Fixed<S> {
    type QueryId = S::Key;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S: FixedSql> QueryFragment<Sqlite> for Fixed<S> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.0.walk_sqlite(out)
    }
}

impl<S: FixedSql> QueryFragment<Pg> for Fixed<S> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_pg(out)
    }
}

/// Write `INSERT INTO table (columns) VALUES (` for `from`, a table's `FROM` clause (which
/// writes its name, quoted for the backend): the values follow through [`Values`].
pub fn insert_head<'b, DB: Backend>(
    out: &mut AstPass<'_, 'b, DB>,
    from: &'b impl QueryFragment<DB>,
    columns: &[&str],
) -> QueryResult<()> {
    insert_into(out, from, columns)?;
    out.push_sql(" VALUES (");
    Ok(())
}

/// Write `INSERT INTO table (columns)` for `from`, a table's `FROM` clause: the rows follow
/// (`VALUES`, as [`insert_head`] writes it, or a `SELECT`).
pub fn insert_into<'b, DB: Backend>(
    out: &mut AstPass<'_, 'b, DB>,
    from: &'b impl QueryFragment<DB>,
    columns: &[&str],
) -> QueryResult<()> {
    out.push_sql("INSERT INTO ");
    from.walk_ast(out.reborrow())?;
    out.push_sql(" (");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push_sql(", ");
        }
        out.push_identifier(c)?;
    }
    out.push_sql(")");
    Ok(())
}

/// The bound values of a statement's list, separated by commas.
pub struct Values<'p, 'q, 'b, DB: Backend> {
    out: &'p mut AstPass<'q, 'b, DB>,
    first: bool,
}

impl<'p, 'q, 'b, DB: Backend> Values<'p, 'q, 'b, DB> {
    /// An empty list written into `out`.
    pub fn new(out: &'p mut AstPass<'q, 'b, DB>) -> Self {
        Values { out, first: true }
    }

    /// Add one value of SQL type `ST`.
    pub fn bind<ST, U>(&mut self, value: &'b U) -> QueryResult<&mut Self>
    where
        DB: HasSqlType<ST>,
        U: ToSql<ST, DB> + ?Sized + 'b,
        ST: diesel::sql_types::SqlType,
    {
        if !self.first {
            self.out.push_sql(", ");
        }
        self.first = false;
        self.out.push_bind_param::<ST, U>(value)?;
        Ok(self)
    }

    /// The statement, to write on after the list.
    pub fn out(&mut self) -> &mut AstPass<'q, 'b, DB> {
        self.out
    }

    /// Close the list with `)`.
    pub fn close(self) {
        self.out.push_sql(")");
    }
}

/// diesel's `UPDATE table SET changes WHERE …`, kept in the statement cache under its text
/// (diesel's own `UpdateStatement` is never cached). A changeset that leaves out a `None` field
/// writes another text, so it is another statement; a part that cannot be cached (an `IN` list
/// on SQLite) still says so.
pub struct PreparedUpdate<F, W, V> {
    from: F,
    where_clause: W,
    changes: V,
}

/// The update of `table`'s rows that `where_clause` (diesel's `WHERE …`) names.
pub fn update<T: Table, W, V>(
    table: T,
    where_clause: W,
    changes: V,
) -> PreparedUpdate<T::FromClause, W, V> {
    PreparedUpdate {
        from: table.from_clause(),
        where_clause,
        changes,
    }
}

impl<F, W, V> QueryId for PreparedUpdate<F, W, V> {
    // Keyed by its text, never its type: see the type's comment.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB, F, W, V> QueryFragment<DB> for PreparedUpdate<F, W, V>
where
    DB: Backend,
    F: QueryFragment<DB>,
    W: QueryFragment<DB>,
    V: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.changes.walk_ast(out.reborrow())?;
        self.where_clause.walk_ast(out.reborrow())
    }
}

/// A data-modifying statement (`INSERT`, `UPDATE`, `DELETE`), run alone or in [`run_together`],
/// always on the backend's own connection: through `MultiConnection` every statement is written
/// out as text again in each of diesel's passes over it (to find it in the statement cache, to
/// ask whether it may be cached, to bind its values), even one found in the cache by its type.
/// That was over a quarter of the SQLite writer's time under the booking load, and a fifth of
/// the PostgreSQL server's blocking threads' (perf, 2026-12-06).
pub trait Part {
    /// Write the statement (without `RETURNING`) as a part of PostgreSQL's [`Together`].
    fn write_pg<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()>;
    /// Run it alone; the rows it changed.
    fn run(&self, conn: &mut AnyConnection) -> QueryResult<usize>;
}

impl<T: QueryFragment<Sqlite> + QueryFragment<Pg> + QueryId> Part for T {
    fn write_pg<'b>(&'b self, out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        QueryFragment::<Pg>::walk_ast(self, out)
    }

    fn run(&self, conn: &mut AnyConnection) -> QueryResult<usize> {
        use diesel::connection::Connection;
        match conn {
            AnyConnection::Sqlite(c) => c.execute_returning_count(self),
            AnyConnection::Postgresql(c) => c.execute_returning_count(self),
        }
    }
}

/// Run `parts`, writes of the caller's transaction, and give the rows each changed. The first
/// part is the guard, the conditional write that decides whether the rest are wanted (a seat):
/// when it changes no row the caller returns an error, rolling the transaction back.
///
/// PostgreSQL runs them as one statement, each part one data-modifying `WITH` query: one round
/// trip where a booking made six. So every part sees the database as it was before the statement:
/// no part may depend on another's change, and two parts must not change the same row. The parts
/// are written in the order their row locks should be taken (the seat before the dose, the order
/// every transaction that takes both keeps), and the final `SELECT` reads their counts in that
/// order; PostgreSQL's executor runs a `WITH` query when it is first read, but its documentation
/// calls the order of data-modifying `WITH` queries unpredictable, so this is the order observed,
/// not a promise (a deadlock PostgreSQL detects is answered 503, try again: `db::is_outage`).
/// Every part runs there, whatever the guard changed. SQLite runs them one after the other
/// (in-process: no round trip to save), each kept prepared as it is alone, and none after a guard
/// that changed nothing (counted 0).
pub fn run_together(conn: &mut AnyConnection, parts: &[&dyn Part]) -> QueryResult<Vec<usize>> {
    match conn {
        AnyConnection::Sqlite(_) => {
            let mut changed = Vec::with_capacity(parts.len());
            for part in parts {
                let guard_failed = changed.first() == Some(&0);
                changed.push(if guard_failed { 0 } else { part.run(conn)? });
            }
            Ok(changed)
        }
        AnyConnection::Postgresql(_) if parts.is_empty() => Ok(Vec::new()),
        AnyConnection::Postgresql(c) => {
            let mut counted: Vec<(i32, i64)> = Together(parts).load(c)?;
            counted.sort_unstable();
            if counted.len() != parts.len() {
                return Err(diesel::result::Error::DeserializationError(
                    "a part of run_together gave no count".into(),
                ));
            }
            Ok(counted.into_iter().map(|(_, n)| n as usize).collect())
        }
    }
}

/// `WITH w0 AS (part RETURNING 1), … SELECT 0, count(*) FROM w0 UNION ALL …`: [`run_together`]
/// on PostgreSQL, kept prepared under its text.
struct Together<'a>(&'a [&'a dyn Part]);

impl QueryId for Together<'_> {
    // Keyed by its text, which its parts decide.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for Together<'_> {
    type SqlType = (diesel::sql_types::Integer, diesel::sql_types::BigInt);
}

impl QueryFragment<Pg> for Together<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for (i, part) in self.0.iter().enumerate() {
            out.push_sql(if i == 0 { "WITH " } else { ", " });
            out.push_sql(&format!("w{i} AS ("));
            part.write_pg(out.reborrow())?;
            out.push_sql(" RETURNING 1)");
        }
        for i in 0..self.0.len() {
            if i > 0 {
                out.push_sql(" UNION ALL");
            }
            out.push_sql(&format!(" SELECT {i}, count(*) FROM w{i}"));
        }
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for Together<'_> {}

/// `SELECT pg_advisory_xact_lock($1), …`: PostgreSQL's transaction-scoped locks on these keys,
/// taken in their order (the caller sorts them), kept prepared (one statement per number of keys;
/// diesel's `sql_query` is never cached). Every booking takes one per contact.
pub struct AdvisoryLocks(pub Vec<i64>);

impl QueryId for AdvisoryLocks {
    // Keyed by its text, which the number of keys decides.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<diesel::pg::Pg> for AdvisoryLocks {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        for (i, key) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_sql("pg_advisory_xact_lock(");
            out.push_bind_param::<diesel::sql_types::BigInt, _>(key)?;
            out.push_sql(")");
        }
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for AdvisoryLocks {}

/// Define `$name`, the `INSERT` of one `$row` (a record whose fields are named as `$table`'s
/// columns) into `$table` as a [`Fixed`] statement: `$name::of(&row).run(conn)` (a [`Part`]).
/// Each value is bound with its column's SQL type. Every field of `$row` must be listed (the
/// compiler checks it), so a column added to the record is not left out of its insert.
macro_rules! fixed_insert {
    ($(#[$doc:meta])* $name:ident, $row:ident, $table:ident { $($column:ident),+ $(,)? }) => {
        $(#[$doc])*
        pub(crate) struct $name<'a> {
            row: &'a $row,
            from: <$table::table as diesel::QuerySource>::FromClause,
        }

        impl<'a> $name<'a> {
            /// The insert of `row`.
            pub(crate) fn of(row: &'a $row) -> $crate::db::prepared::Fixed<Self> {
                let $row { $($column: _),+ } = row;
                $crate::db::prepared::Fixed($name {
                    row,
                    from: diesel::QuerySource::from_clause(&$table::table),
                })
            }
        }

        impl $crate::db::prepared::FixedSql for $name<'_> {
            type Key = $name<'static>;

            fn walk_sqlite<'b>(
                &'b self,
                out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
            ) -> diesel::QueryResult<()> {
                $crate::db::prepared::fixed_insert_values!(self, out, $table { $($column),+ })
            }

            fn walk_pg<'b>(
                &'b self,
                out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> diesel::QueryResult<()> {
                $crate::db::prepared::fixed_insert_values!(self, out, $table { $($column),+ })
            }
        }
    };
}

/// The body of a [`fixed_insert`] statement's walks, for whichever backend `$out` writes.
macro_rules! fixed_insert_values {
    ($this:ident, $out:ident, $table:ident { $($column:ident),+ }) => {{
        let mut out = $out;
        let columns = [$(<$table::$column as diesel::Column>::NAME),+];
        $crate::db::prepared::insert_head(&mut out, &$this.from, &columns)?;
        let mut values = $crate::db::prepared::Values::new(&mut out);
        $(values.bind::<<$table::$column as diesel::Expression>::SqlType, _>(&$this.row.$column)?;)+
        values.close();
        Ok(())
    }};
}
pub(crate) use fixed_insert;
pub(crate) use fixed_insert_values;
