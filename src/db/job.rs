//! The jobs the SQLite writer ([`super::writer`]) runs in its groups, and how each one's
//! outcome reaches its caller once the group has committed (or failed to).
//!
//! A job runs either once, in a savepoint of its own ([`Job::Once`]), or first without one
//! ([`Job::Replayable`]). A savepoint costs a copy of every page the job changes (SQLite keeps the
//! original of each in a sub-journal, so that the savepoint alone can be rolled back): under
//! `benches/ceiling tx` that was about 13 % of the writer's time, for a rollback that almost
//! no booking needs. So the writer runs a group's replayable jobs one after another without
//! savepoints (the "bare pass"); one refused before it wrote anything (a full slot, a new
//! resident's contact over its cap) keeps its refusal, since a savepoint would have had nothing
//! to roll back. When one fails after writing (no dose left to promise, a booking the
//! one-per-dose index refuses, a returning resident's updated contact then refused), or on any
//! database error but a broken constraint, the pass is rolled back and every replayable job of
//! the group runs again, each in its savepoint: the outcome is the one the savepoints alone give
//! in the order the writer runs the jobs. The writer then runs the next few groups in
//! savepoints at once ([`BareGate`]), so that refusals which write first (a script sending the
//! same booking twice) cannot make every group run twice.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use diesel::result::Error as DieselError;
use diesel::{Connection, RunQueryDsl};

use super::writer::WriteError;
use super::{is_cancelled, AnyConnection, DbCause};

/// How to deliver a job's outcome, given whether its group committed (`Err`: why not).
pub(super) type Deliver = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A job that runs once, in a savepoint.
pub(super) type OnceJob = Box<dyn FnOnce(Option<&mut AnyConnection>) -> Deliver + Send>;

/// A job queued on the writer.
pub(super) enum Job {
    /// Runs once, in its own savepoint; without a connection (`None`: the group's transaction
    /// could not begin) it does not run, and its deliver hears why.
    Once(OnceJob),
    /// Runs in the bare pass first, and again in a savepoint if that pass is undone.
    Replayable(Box<dyn Replayable>),
}

/// What a job's run without a savepoint left.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Bare {
    /// Its outcome stands: it succeeded, or failed having written nothing.
    Kept,
    /// It failed after writing (or was cancelled after its writes): the pass must be undone.
    Undo,
}

/// A job that may run twice (see the module's note).
pub(super) trait Replayable: Send {
    /// Run it in the group's transaction without a savepoint.
    fn bare(&mut self, conn: &mut AnyConnection) -> Bare;
    /// Its outcome after [`Replayable::bare`] gave [`Bare::Kept`].
    fn kept(self: Box<Self>) -> Deliver;
    /// Run it in its own savepoint, as a [`Job::Once`] (or not at all, without a connection).
    fn in_savepoint(self: Box<Self>, conn: Option<&mut AnyConnection>) -> Deliver;
}

/// `f` as a job that runs once, in its own savepoint.
pub(super) fn once<T, E, F, D>(cancel: Option<Arc<AtomicBool>>, f: F, deliver: D) -> Job
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    D: FnOnce(Result<T, E>) + Send + 'static,
    T: Send + 'static,
    E: From<DieselError> + From<WriteError> + Send + 'static,
{
    Job::Once(Box::new(move |conn: Option<&mut AnyConnection>| {
        delivering(in_savepoint(conn, &cancel, f), deliver)
    }))
}

/// `f` as a replayable job: it must have no effect outside the connection, since it may run
/// twice (the first run's writes rolled back).
pub(super) fn replayable<T, E, F, D>(cancel: Option<Arc<AtomicBool>>, f: F, deliver: D) -> Job
where
    F: FnMut(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    D: FnOnce(Result<T, E>) + Send + 'static,
    T: Send + 'static,
    E: From<DieselError> + From<WriteError> + DbCause + Send + 'static,
{
    Job::Replayable(Box::new(Replaying {
        f,
        deliver,
        cancel,
        outcome: None,
    }))
}

/// Run `f` in a savepoint of the group's transaction, unless its caller has given up (then, or
/// without a connection, it does not run). Raised while it runs, the cancel flag rolls it back.
fn in_savepoint<T, E, F>(
    conn: Option<&mut AnyConnection>,
    cancel: &Option<Arc<AtomicBool>>,
    f: F,
) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<DieselError> + From<WriteError>,
{
    match conn {
        Some(conn) if !is_cancelled(cancel) => conn.transaction(|c| {
            let out = f(c)?;
            if is_cancelled(cancel) {
                return Err(E::from(WriteError::Cancelled));
            }
            Ok(out)
        }),
        // Cancelled, or not run (the group's error replaces this in `delivering`).
        _ => Err(E::from(WriteError::Cancelled)),
    }
}

/// How `deliver` hears `outcome`: as it is once the group has committed; as the commit's error
/// if the group failed (whatever the job did was rolled back with it).
fn delivering<T, E, D>(outcome: Result<T, E>, deliver: D) -> Deliver
where
    D: FnOnce(Result<T, E>) + Send + 'static,
    T: Send + 'static,
    E: From<WriteError> + Send + 'static,
{
    Box::new(move |committed: Result<(), String>| {
        deliver(match committed {
            Ok(()) => outcome,
            Err(e) => Err(E::from(WriteError::Commit(e))),
        });
    })
}

/// A replayable job and, after its bare run, the outcome it kept.
struct Replaying<T, E, F, D> {
    f: F,
    deliver: D,
    cancel: Option<Arc<AtomicBool>>,
    outcome: Option<Result<T, E>>,
}

impl<T, E, F, D> Replayable for Replaying<T, E, F, D>
where
    F: FnMut(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    D: FnOnce(Result<T, E>) + Send + 'static,
    T: Send + 'static,
    E: From<DieselError> + From<WriteError> + DbCause + Send + 'static,
{
    fn bare(&mut self, conn: &mut AnyConnection) -> Bare {
        if is_cancelled(&self.cancel) {
            self.outcome = Some(Err(E::from(WriteError::Cancelled)));
            return Bare::Kept;
        }
        let Ok(before) = changes_so_far(conn) else {
            return Bare::Undo;
        };
        match (self.f)(conn) {
            Ok(out) if !is_cancelled(&self.cancel) => {
                self.outcome = Some(Ok(out));
                Bare::Kept
            }
            // Its caller gave up while it ran: what it wrote must not be committed.
            Ok(_) => Bare::Undo,
            // A refusal (the job's own, or a constraint the statement broke) that changed no
            // row. Any other database error (a full disk, an I/O error) may have made SQLite
            // roll back the whole transaction, the pass's earlier jobs with it: undone, and
            // the group runs again in savepoints.
            Err(e) if e.db_cause().is_none_or(is_constraint) => match changes_so_far(conn) {
                Ok(after) if after == before => {
                    self.outcome = Some(Err(e));
                    Bare::Kept
                }
                _ => Bare::Undo,
            },
            Err(_) => Bare::Undo,
        }
    }

    fn kept(self: Box<Self>) -> Deliver {
        let outcome = self
            .outcome
            .unwrap_or_else(|| Err(E::from(WriteError::Cancelled)));
        delivering(outcome, self.deliver)
    }

    fn in_savepoint(self: Box<Self>, conn: Option<&mut AnyConnection>) -> Deliver {
        let Replaying {
            mut f,
            deliver,
            cancel,
            ..
        } = *self;
        delivering(in_savepoint(conn, &cancel, &mut f), deliver)
    }
}

/// Whether a database error is a broken constraint: SQLite refuses that statement alone, checking
/// before it writes (or undoing its own changes), and the transaction goes on.
fn is_constraint(e: &DieselError) -> bool {
    use diesel::result::DatabaseErrorKind as K;
    matches!(
        e,
        DieselError::DatabaseError(
            K::UniqueViolation | K::ForeignKeyViolation | K::NotNullViolation | K::CheckViolation,
            _
        )
    )
}

diesel::define_sql_function! {
    /// SQLite's count of the rows the connection has inserted, updated or deleted since it
    /// opened. A statement refused by a constraint changes nothing (SQLite undoes it alone), so
    /// a job refused that way, or by its own checks, that leaves this count as it found it has
    /// written nothing. The schema has no triggers and no cascading foreign keys, whose changes
    /// the count would leave out, and the writes have no `OR IGNORE`, `OR REPLACE` or upsert.
    fn total_changes() -> diesel::sql_types::BigInt;
}

/// [`total_changes`] of `conn`. The writer is SQLite's alone: on PostgreSQL it is an error,
/// which makes a failed job undo the pass.
fn changes_so_far(conn: &mut AnyConnection) -> Result<i64, DieselError> {
    match conn {
        AnyConnection::Sqlite(c) => diesel::select(total_changes()).get_result(c),
        AnyConnection::Postgresql(_) => Err(DieselError::NotInTransaction),
    }
}

/// Whether a group runs its replayable jobs in a bare pass: not for the [`BareGate::SKIP`]
/// groups (with replayable jobs) after a pass that had to be undone.
#[derive(Debug, Default)]
pub(super) struct BareGate {
    skip: u32,
}

impl BareGate {
    pub(super) const SKIP: u32 = 8;

    /// Whether this group (which has replayable jobs) tries a bare pass.
    pub(super) fn open(&mut self) -> bool {
        if self.skip == 0 {
            return true;
        }
        self.skip -= 1;
        false
    }

    /// The bare pass had to be undone.
    pub(super) fn undone(&mut self) {
        self.skip = Self::SKIP;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_an_undone_pass_the_next_eight_groups_run_in_savepoints() {
        let mut gate = BareGate::default();
        assert!(gate.open());
        gate.undone();
        let shut = (0..BareGate::SKIP).filter(|_| !gate.open()).count();
        assert_eq!(shut, 8);
        assert!(gate.open(), "then bare passes again");
        assert!(gate.open());
    }
}
