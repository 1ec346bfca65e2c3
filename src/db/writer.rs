//! The SQLite writer: one thread owns the only write connection and commits queued write
//! transactions in groups. Each job's outcome is the one it would have in a savepoint of its
//! own, so a refused booking rolls back alone (a booking's write runs without one unless it has
//! to be undone: see [`super::job`]); the group commits once, and every caller hears its result
//! only after that commit (a booking shown as confirmed is on disk in the WAL).
//!
//! Why: SQLite has one writer anyway. Handing the connection between threads through a pool costs
//! a context switch and a lock hand-off per transaction, and each commit appends its own WAL
//! frames; under load the group commit writes a hot page (a site's stock row) once per group.
//! BENCHMARKS.md has the before and after.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::result::Error as DieselError;
use diesel::Connection;

use prometheus::{Histogram, IntGauge};

use super::job::{self, Bare, BareGate, Deliver, Job, OnceJob, Replayable};
use super::{is_outage_message, AnyConnection, DbStats, Manager, BUSY_TIMEOUT_MS};

/// The most jobs committed together.
const MAX_GROUP: usize = 128;

/// A handle to the writer thread.
#[derive(Clone)]
pub struct Writer {
    jobs: SyncSender<Job>,
    /// Jobs sent and not yet taken by the writer thread.
    queue: IntGauge,
}

/// Why a write could not be run.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The group's commit failed; the job's own work was rolled back with it.
    #[error("commit failed: {0}")]
    Commit(String),
    /// The writer thread is gone (it could not reopen its connection).
    #[error("the database writer has stopped")]
    Stopped,
    /// The caller gave up waiting before the commit; nothing was written.
    #[error("the request gave up waiting for the database")]
    Cancelled,
}

impl WriteError {
    /// True when the write failed because the database is unavailable, not because of the
    /// request (see `db::is_outage`).
    pub fn is_outage(&self) -> bool {
        match self {
            WriteError::Commit(m) => is_outage_message(m),
            WriteError::Stopped | WriteError::Cancelled => true,
        }
    }
}

impl Writer {
    /// Start the writer thread on its own connection.
    /// Past `wal_restart_frames` frames in the WAL, it starts the WAL again (see
    /// [`start_checkpointer`]).
    pub fn start(
        manager: Manager,
        stats: &DbStats,
        wal_restart_frames: i32,
    ) -> Result<Writer, diesel::ConnectionError> {
        let conn = open(&manager)?;
        let checkpoints = start_checkpointer(&manager, wal_restart_frames)?;
        let (jobs, rx) = sync_channel::<Job>(4096);
        let queue = stats.writer_queue.clone();
        let gauges = Gauges {
            queue: queue.clone(),
            group: stats.writer_group.clone(),
        };
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(manager, conn, rx, gauges, checkpoints))
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
        Ok(Writer { jobs, queue })
    }

    /// Run `f` in a write transaction (a savepoint within the group) and wait for the commit.
    /// Once `cancel` is raised the job is skipped, or its savepoint rolled back if it is running.
    pub fn run<T, E, F>(&self, cancel: Option<Arc<AtomicBool>>, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DieselError> + From<WriteError> + Send + 'static,
    {
        self.wait(|deliver| job::once(cancel, f, deliver))
    }

    /// Queue the job `job` makes of a deliver that hands its outcome back here, and wait for
    /// the outcome (once its group has committed, or failed to).
    pub(super) fn wait<T, E>(
        &self,
        job: impl FnOnce(Box<dyn FnOnce(Result<T, E>) + Send>) -> Job,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<WriteError> + Send + 'static,
    {
        let (tx, rx) = sync_channel::<Result<T, E>>(1);
        self.send(job(Box::new(move |out| {
            let _ = tx.send(out);
        })))?;
        rx.recv().map_err(|_| E::from(WriteError::Stopped))?
    }

    /// Queue `job` without waiting: its deliver is called on the writer thread with the job's
    /// outcome once its group has committed (or failed to), and dropped uncalled if the group
    /// panicked. An error here means the writer has stopped.
    pub(super) fn send<E: From<WriteError>>(&self, job: Job) -> Result<(), E> {
        self.queue.inc();
        if self.jobs.send(job).is_err() {
            self.queue.dec();
            return Err(E::from(WriteError::Stopped));
        }
        Ok(())
    }
}

/// The writer's connection. A job run in a savepoint (any job but a booking's write in its bare
/// pass) makes SQLite keep the original of every page it changes in a sub-journal, so that the
/// savepoint alone can be rolled back: a booking changes about 24 pages (the rows and index
/// entries of its resident, appointment, outbox message and audit entry, its slot and stock
/// row). With the default `temp_store` the sub-journal spills past 64 KiB into a temporary file
/// in /var/tmp, created, written page by page and deleted for every group (measured under
/// `benches/ceiling tx`, when every booking ran in a savepoint: three quarters of the writer's
/// `pwrite` calls, and `pwrite` took a third of its time). In memory a page costs a copy, freed
/// when the group's transaction ends (a group of 20 bookings replayed in savepoints holds about
/// 2 MB).
/// The writer never checkpoints on its own: [`start_checkpointer`] does, and asks the writer to
/// start the WAL again ([`restart_wal`]) when it has grown long.
fn open(manager: &Manager) -> Result<AnyConnection, diesel::ConnectionError> {
    let mut conn = manager.open()?;
    conn.batch_execute("PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 0;")
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// How long the checkpointer lets commits gather before it checkpoints them.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(50);

/// The WAL's length, in frames (pages), past which the writer restarts it from its beginning:
/// 16,384 frames, 64 MiB at SQLite's 4 KiB pages (`DbOptions::wal_restart_frames`).
pub(crate) const WAL_RESTART_FRAMES: i32 = 16_384;

/// How long the writer's restarting checkpoint waits for the readers of the WAL's old frames to
/// finish (SQLite's busy timeout, set for that statement only): the longest it keeps the next
/// group waiting beyond its own copying and syncing. One that cannot restart within it gives
/// up, and the writer tries again later ([`RestartBackoff`]).
const RESTART_WAIT_MS: u32 = 20;

/// What `PRAGMA wal_checkpoint` answers.
#[derive(diesel::QueryableByName)]
struct Checkpointed {
    /// 1 when a restarting checkpoint could not get its locks in time.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
    /// Frames in the WAL.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    log: i32,
}

/// The writer's side of the checkpointer: wake it after a commit; whether it asks the writer to
/// start the WAL again.
struct Checkpoints {
    wake: SyncSender<()>,
    restart: Arc<AtomicBool>,
}

/// Copies the WAL back into the database file on a thread of its own, woken after the writer's
/// commits. With SQLite's automatic checkpoint (every 1,000 WAL pages, run by the connection
/// that commits) the writer itself stopped every few dozen groups to read the WAL, write the
/// pages into the database file and fsync both, while every caller in the next group waited
/// (perf of `benches/ceiling tx`: fsync, the checkpoint's reads and the database file's writes
/// were about a tenth of the writer's time, and its waits for the disk came on top). A passive
/// checkpoint runs beside the writer's commits and the readers and never blocks them. Commits
/// are as durable as before (`synchronous = NORMAL`: a commit is in the WAL when answered).
///
/// A passive checkpoint never starts the WAL again from its beginning: only a writer that finds
/// no reader on the WAL's frames does, and under a steady load some read is always running, so
/// the WAL grew without end (1.2-1.7 GB in 8 s of `benches/ceiling tx`, every frame added to
/// the file's end, every read searching more of the WAL's index). Past `restart_frames`
/// the checkpointer asks the writer to restart it ([`restart_wal`]): only the writer can, since
/// it takes the write lock again a few microseconds after each commit, and a checkpointer
/// waiting for that lock never got it.
fn start_checkpointer(
    manager: &Manager,
    restart_frames: i32,
) -> Result<Checkpoints, diesel::ConnectionError> {
    let mut conn = manager.open()?;
    let (wake, woken) = sync_channel::<()>(1);
    let restart = Arc::new(AtomicBool::new(false));
    let ask = restart.clone();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            // Ends with the writer thread, which holds the only sender.
            while woken.recv().is_ok() {
                std::thread::sleep(CHECKPOINT_PAUSE);
                let _ = woken.try_recv();
                match checkpoint(&mut conn, "PASSIVE") {
                    Ok(c) if c.log > restart_frames => ask.store(true, Ordering::Relaxed),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "the WAL checkpoint failed"),
                }
            }
        })
        .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    Ok(Checkpoints { wake, restart })
}

/// Run a checkpoint of `mode` (`PASSIVE` or `RESTART`).
fn checkpoint(conn: &mut AnyConnection, mode: &str) -> Result<Checkpointed, DieselError> {
    use diesel::RunQueryDsl;
    let c: Checkpointed =
        diesel::sql_query(format!("PRAGMA wal_checkpoint({mode})")).get_result(conn)?;
    tracing::trace!(mode, busy = c.busy, frames = c.log, "WAL checkpoint");
    Ok(c)
}

/// Start the WAL again from its beginning, between two groups: a restarting checkpoint copies
/// what the passive ones left (little: one ran just before it asked; then the WAL and the
/// database file are synced, as every checkpoint does) and waits up to [`RESTART_WAIT_MS`] for
/// the reads of old frames to end; the next group's frames then overwrite the file's first
/// blocks. Whether it restarted: a read that outlasts the wait (`busy`), or an error, and it did
/// not. `Err` only when the connection could not be given its own busy timeout back: the caller
/// replaces it.
fn restart_wal(conn: &mut AnyConnection) -> Result<bool, DieselError> {
    let restarted = conn
        .batch_execute(&format!("PRAGMA busy_timeout = {RESTART_WAIT_MS};"))
        .and_then(|()| checkpoint(conn, "RESTART"));
    // Back to the connection's own timeout, for the groups' BEGIN IMMEDIATE.
    conn.batch_execute(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"))?;
    match restarted {
        Ok(c) if c.busy == 0 => Ok(true),
        Ok(c) => {
            tracing::debug!(frames = c.log, "a read outlasted the WAL restart's wait");
            Ok(false)
        }
        Err(e) => {
            tracing::warn!(error = %e, "the WAL restart failed");
            Ok(false)
        }
    }
}

/// When the writer may try to restart the WAL again. A read that holds an old snapshot (a long
/// report, `dosewise check` beside the server) makes every restart wait its 20 ms and give up
/// for as long as it lasts, while the checkpointer keeps asking every 50 ms: after each failure
/// the writer waits twice as long before it tries again (from 100 ms up to 5 s), and after a
/// success it tries whenever asked.
struct RestartBackoff {
    next_try: std::time::Instant,
    wait: Duration,
}

impl RestartBackoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MOST: Duration = Duration::from_secs(5);

    fn new() -> RestartBackoff {
        RestartBackoff {
            next_try: std::time::Instant::now(),
            wait: Self::FIRST,
        }
    }

    fn may_try(&self) -> bool {
        std::time::Instant::now() >= self.next_try
    }

    fn tried(&mut self, restarted: bool) {
        if restarted {
            self.wait = Self::FIRST;
            self.next_try = std::time::Instant::now();
        } else {
            self.next_try = std::time::Instant::now() + self.wait;
            self.wait = (self.wait * 2).min(Self::MOST);
        }
    }
}

/// What the writer thread reports: its queue and its group sizes.
struct Gauges {
    queue: IntGauge,
    group: Histogram,
}

fn run(
    manager: Manager,
    mut conn: AnyConnection,
    rx: Receiver<Job>,
    gauges: Gauges,
    checkpoints: Checkpoints,
) {
    let mut backoff = RestartBackoff::new();
    let mut gate = BareGate::default();
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let taken = group.len();
        gauges.queue.sub(i64::try_from(taken).unwrap_or(i64::MAX));
        gauges.group.observe(taken as f64);
        let mut delivers: Vec<Deliver> = Vec::with_capacity(group.len());
        let result = catch_unwind(AssertUnwindSafe(|| {
            group_transaction(&mut conn, group, &mut gate, &mut delivers)
        }));
        // Whether the connection must be replaced before the next group.
        let replace = match result {
            Ok(committed) => {
                // A failed group whose rollback failed too leaves a transaction open.
                let broken = committed.is_err() && in_transaction(&mut conn);
                // The checkpointer is woken (if it is not already) to copy this commit back.
                let _ = checkpoints.wake.try_send(());
                let committed = committed.map_err(|e| e.to_string());
                for d in delivers {
                    d(committed.clone());
                }
                if broken {
                    tracing::error!("a failed group left its transaction open");
                    true
                // After the callers have heard: the restart holds up the next group only.
                } else if checkpoints.restart.swap(false, Ordering::Relaxed) && backoff.may_try() {
                    match restart_wal(&mut conn) {
                        Ok(restarted) => {
                            backoff.tried(restarted);
                            false
                        }
                        Err(e) => {
                            // Its busy timeout is unknown: a fresh connection has its own.
                            tracing::error!(error = %e, "the writer's busy timeout could not be set back");
                            true
                        }
                    }
                } else {
                    false
                }
            }
            Err(_) => {
                // A job panicked: nothing of this group was committed. Its callers hear an
                // error (their delivery closures are dropped), and the connection, whose
                // transaction state is unknown, is replaced.
                drop(delivers);
                tracing::error!("a write job panicked; the group was rolled back");
                true
            }
        };
        if replace {
            match open(&manager) {
                Ok(c) => conn = c,
                Err(e) => {
                    tracing::error!(error = %e, "the writer cannot reopen its connection");
                    return;
                }
            }
        }
    }
}

/// Run the group's jobs in one transaction, begun with `BEGIN IMMEDIATE`: the write lock is
/// taken first, waiting out another process's write under `busy_timeout`. A deferred `BEGIN`
/// whose first statement reads (a booking's per-contact count) holds a read snapshot; if another
/// process commits before the group's first write, SQLite refuses that write at once
/// (`SQLITE_BUSY_SNAPSHOT`, no wait), and every job of the group would fail as an outage. If the
/// transaction cannot begin (the lock still held after `busy_timeout`), no job runs and each
/// hears the error.
///
/// The replayable jobs run first, without savepoints unless `gate` is shut (see `db::job`); if
/// one of them fails after writing, the transaction is rolled back, begun again, and they all
/// run again, each in its savepoint. Then the other jobs, each in its savepoint. Jobs of one
/// group are callers waiting at the same time, none yet answered, so their order within it is
/// the writer's to choose. Between the rollback and the new `BEGIN IMMEDIATE` another process
/// may take the write lock: the group then waits for it as any group waits to begin.
fn group_transaction(
    conn: &mut AnyConnection,
    group: Vec<Job>,
    gate: &mut BareGate,
    delivers: &mut Vec<Deliver>,
) -> Result<(), DieselError> {
    use diesel::connection::TransactionManager;
    type Tm = <AnyConnection as Connection>::TransactionManager;
    let mut replayable: Vec<Box<dyn Replayable>> = Vec::new();
    let mut once = Vec::new();
    for job in group {
        match job {
            Job::Replayable(r) => replayable.push(r),
            Job::Once(o) => once.push(o),
        }
    }
    if let Err(e) = begin(conn) {
        tracing::warn!(error = %e, jobs = replayable.len() + once.len(), "the writer could not begin a transaction");
        // The group's error is every job's: none of them runs.
        delivers.extend(in_savepoints(replayable, once).map(|job| job(None)));
        return Err(e);
    }
    if !replayable.is_empty() && gate.open() {
        if replayable.iter_mut().all(|r| r.bare(conn) == Bare::Kept) {
            delivers.extend(replayable.drain(..).map(|r| r.kept()));
        } else {
            gate.undone();
            // A transaction SQLite has already rolled back (after an I/O error) leaves the
            // ROLLBACK refused, and diesel's count of transactions at none: begin again.
            let rolled_back = Tm::rollback_transaction(conn);
            let again = match rolled_back {
                Err(e) if in_transaction(conn) => Err(e),
                _ => begin(conn),
            };
            if let Err(e) = again {
                tracing::warn!(error = %e, "the writer could not undo a pass without savepoints");
                delivers.extend(in_savepoints(replayable, once).map(|job| job(None)));
                return Err(e);
            }
        }
    }
    // Each job left in its savepoint. One whose error made SQLite roll the whole transaction
    // back (a disk I/O error, a full disk, no memory) leaves none open, and diesel, finding its
    // savepoint gone, counts none: a job after it would begin and commit one of its own, so
    // none runs, and the group fails.
    let mut rest = in_savepoints(replayable, once);
    while let Some(job) = rest.next() {
        delivers.push(job(Some(&mut *conn)));
        if !in_transaction(conn) {
            delivers.extend(rest.map(|job| job(None)));
            tracing::error!("a write job's error ended the group's transaction");
            return Err(DieselError::DatabaseError(
                diesel::result::DatabaseErrorKind::Unknown,
                Box::new(ENDED_EARLY.to_string()),
            ));
        }
    }
    Tm::commit_transaction(conn)
}

/// The group's jobs as they run in savepoints (or, without a connection, do not run): the
/// replayable ones first, then the others.
fn in_savepoints(
    replayable: Vec<Box<dyn Replayable>>,
    once: Vec<OnceJob>,
) -> impl Iterator<Item = OnceJob> {
    let replayed = replayable
        .into_iter()
        .map(|r| -> OnceJob { Box::new(move |c: Option<&mut AnyConnection>| r.in_savepoint(c)) });
    replayed.chain(once)
}

/// What the callers of a group hear when one job's error ended its transaction: SQLite does
/// that on a disk I/O error, a full disk or no memory, so it reads as an outage (503).
const ENDED_EARLY: &str =
    "the transaction was rolled back by SQLite after a disk I/O error, a full disk or no memory";

/// Whether diesel counts a transaction open on `conn` (or has lost track of it): inside a
/// group, that it is still running; after a failed group, that its rollback failed too (the
/// writer then replaces the connection).
fn in_transaction(conn: &mut AnyConnection) -> bool {
    use diesel::r2d2::R2D2Connection;
    match conn {
        AnyConnection::Sqlite(c) => c.is_broken(),
        AnyConnection::Postgresql(c) => c.is_broken(),
    }
}

/// Begin the group's transaction (`BEGIN IMMEDIATE` on SQLite; see [`group_transaction`]).
fn begin(conn: &mut AnyConnection) -> Result<(), DieselError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Tm = <AnyConnection as Connection>::TransactionManager;
    match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        AnyConnection::Postgresql(_) => Tm::begin_transaction(conn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_that_gave_up_waits_twice_as_long_each_time_up_to_five_seconds() {
        let mut b = RestartBackoff::new();
        assert!(b.may_try(), "the first restart is tried when asked");
        let before = std::time::Instant::now();
        b.tried(false);
        assert!(!b.may_try());
        assert!(b.next_try >= before + Duration::from_millis(100));
        assert_eq!(b.wait, Duration::from_millis(200));
        for _ in 0..10 {
            b.tried(false);
        }
        assert_eq!(b.wait, RestartBackoff::MOST);
        assert!(b.next_try <= std::time::Instant::now() + RestartBackoff::MOST);
        b.tried(true);
        assert!(
            b.may_try(),
            "after a restart, the next one is tried whenever asked"
        );
        assert_eq!(b.wait, RestartBackoff::FIRST);
    }
}
