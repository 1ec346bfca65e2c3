//! The database layer: `AnyConnection` (SQLite or PostgreSQL, chosen by the URL scheme), the
//! connection pools, embedded migrations, and the only place where SQL differs per backend.
//!
//! Outages: every wait for the database is bounded. The pools wait at most
//! [`DbOptions::timeout`] for a connection; PostgreSQL connections carry a connect timeout,
//! TCP keepalives and a TCP user timeout (a black-holed network breaks them instead of hanging
//! them) and a `statement_timeout`. Each connection reports to [`Health`] when the database
//! answers, so the web layer can tell a slow request from a database that has stopped answering
//! (`web::state::blocking`), and [`is_outage`] tells which errors mean "try again later".

mod error;
mod job;
pub mod prepared;
pub mod schema;
mod statements;
mod stats;
mod writer;

pub(crate) use error::storage_error_from;
pub use error::{
    is_outage, is_outage_cause, is_outage_message, is_unique_violation, primary_key_violation,
    unique_violation_on, DbCause, StorageError,
};
pub use statements::{claim_outbox, lock_names, mark_outbox_sent};
pub use stats::DbStats;
pub use writer::{WriteError, Writer};

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// One connection to either backend; everything outside `db/` is written once against it.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL, for city-scale deployments with several server processes.
    Postgresql(diesel::PgConnection),
    /// SQLite, the embedded default.
    Sqlite(diesel::SqliteConnection),
}

/// Expand the same diesel code for each concrete backend: for the few calls (multi-row insert)
/// that `MultiConnection` cannot express, and for hot queries that should not pay for it
/// (`MultiConnection` writes a statement's text again in each of diesel's passes over it, even
/// when the statement is found in the cache by its type). With `|c, DB|`, `DB` names the
/// backend's type in the body (for boxed expressions).
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite($c) => $body,
            $crate::db::AnyConnection::Postgresql($c) => $body,
        }
    };
    ($conn:expr, |$c:ident, $db:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite($c) => {
                type $db = diesel::sqlite::Sqlite;
                $body
            }
            $crate::db::AnyConnection::Postgresql($c) => {
                type $db = diesel::pg::Pg;
                $body
            }
        }
    };
}

/// Migrations for each backend; both trees carry the same folder names (tests check it).
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// See [`SQLITE_MIGRATIONS`].
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path` (or `sqlite:path`).
    Sqlite,
    /// `postgres://...` or `postgresql://...`.
    Postgres,
}

impl Backend {
    /// Pick the backend from the URL scheme; anything else is a clear start-up error.
    pub fn from_url(url: &str) -> anyhow::Result<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            bail!(
                "DATABASE_URL has the unsupported scheme {scheme:?}: use sqlite://PATH or postgres://USER@HOST/DB"
            )
        }
    }
}

/// The SQLite file path inside a `sqlite:` URL.
fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// How long the application waits for the database, and how large its pools are.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Connections for reads (and, on PostgreSQL, for writes).
    pub pool_size: u32,
    /// The longest wait for a pooled connection, and for a database that stopped answering,
    /// before a request is answered 503 (`DOSEWISE_DB_TIMEOUT_MS`). Also PostgreSQL's connect
    /// timeout (at least 2 s, libpq's minimum).
    pub timeout: Duration,
    /// PostgreSQL's `statement_timeout` on pooled connections (`DOSEWISE_STATEMENT_TIMEOUT_MS`).
    pub statement_timeout: Duration,
    /// SQLite: the WAL's length in frames past which the writer starts it again from its
    /// beginning (see `db::writer`). Not a setting: tests lower it.
    pub wal_restart_frames: i32,
}

impl DbOptions {
    /// The documented defaults with `pool_size` connections.
    pub fn with_pool_size(pool_size: u32) -> DbOptions {
        DbOptions {
            pool_size,
            timeout: Duration::from_millis(2000),
            statement_timeout: Duration::from_millis(10_000),
            wal_restart_frames: writer::WAL_RESTART_FRAMES,
        }
    }
}

/// When the database last answered, shared by every connection of one [`Db`]: a request that
/// waits long while nothing answers is facing an outage, not a slow query.
#[derive(Debug)]
pub struct Health {
    epoch: Instant,
    /// Milliseconds after `epoch` of the last answer, plus one (0: never).
    last_answer: AtomicU64,
}

impl Health {
    fn new() -> Health {
        Health {
            epoch: Instant::now(),
            last_answer: AtomicU64::new(0),
        }
    }

    fn answered(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last_answer.fetch_max(ms + 1, Ordering::Relaxed);
    }

    /// True when some query finished (with an answer from the database) at or after `since`.
    pub fn answered_since(&self, since: Instant) -> bool {
        let at = since.saturating_duration_since(self.epoch).as_millis();
        u128::from(self.last_answer.load(Ordering::Relaxed)) > at
    }
}

thread_local! {
    /// Set while a request's blocking work runs: raised when the request gave up waiting.
    static CANCEL: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Run `f` on this thread with `flag` as its "the caller has given up" signal: a write
/// transaction started inside `f` rolls back instead of committing once the flag is raised, so a
/// request answered 503 leaves nothing behind (unless its commit was already under way).
pub fn with_cancel<T>(flag: Arc<AtomicBool>, f: impl FnOnce() -> T) -> T {
    /// Puts the previous flag back even if `f` panics (the thread serves other requests).
    struct Restore(Option<Arc<AtomicBool>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CANCEL.with(|c| *c.borrow_mut() = previous);
        }
    }
    let _restore = Restore(CANCEL.with(|c| c.replace(Some(flag))));
    f()
}

/// This thread's cancel flag, if its caller set one.
fn current_cancel() -> Option<Arc<AtomicBool>> {
    CANCEL.with(|c| c.borrow().clone())
}

/// Whether a cancel flag has been raised.
fn is_cancelled(flag: &Option<Arc<AtomicBool>>) -> bool {
    flag.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// An r2d2 manager that picks the backend from the URL scheme, so a connection error keeps its
/// real cause (diesel's derived `establish` tries each backend and drops the errors).
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
    backend: Backend,
    health: Arc<Health>,
    /// Statements run on each new pooled connection (PostgreSQL's `statement_timeout`,
    /// SQLite's page cache size).
    session_sql: Option<String>,
}

impl Manager {
    /// A manager for `url`, which must have a supported scheme.
    pub fn new(url: &str) -> anyhow::Result<Manager> {
        Ok(Manager {
            url: url.to_string(),
            backend: Backend::from_url(url)?,
            health: Arc::new(Health::new()),
            session_sql: None,
        })
    }

    /// A manager whose PostgreSQL connections are bounded as `options` say, and whose pooled
    /// SQLite connections keep a small page cache (see [`SQLITE_POOLED_CACHE_KIB`]).
    pub fn with_options(url: &str, options: &DbOptions) -> anyhow::Result<Manager> {
        let mut m = Manager::new(url)?;
        match m.backend {
            Backend::Postgres => {
                m.url = pg_url_with_timeouts(url, options.timeout);
                m.session_sql = Some(format!(
                    "SET statement_timeout = {}",
                    options.statement_timeout.as_millis()
                ));
            }
            Backend::Sqlite => {
                m.session_sql = Some(format!("PRAGMA cache_size = -{SQLITE_POOLED_CACHE_KIB}"));
            }
        }
        Ok(m)
    }

    /// Open one connection outside any pool (migrations, tools).
    pub fn open(&self) -> Result<AnyConnection, ConnectionError> {
        let mut conn = match self.backend {
            Backend::Postgres => {
                diesel::PgConnection::establish(&self.url).map(AnyConnection::Postgresql)?
            }
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(sqlite_path(&self.url))?;
                // Per-connection settings; journal_mode=WAL is persistent and set once in
                // `prepare`, since it cannot run inside a transaction.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                AnyConnection::Sqlite(conn)
            }
        };
        conn.set_instrumentation(HealthReport(self.health.clone()));
        Ok(conn)
    }
}

/// How long a SQLite connection waits for another's lock (`PRAGMA busy_timeout`), in ms.
pub(crate) const BUSY_TIMEOUT_MS: u32 = 10_000;

/// The page cache of each pooled SQLite connection, in KiB (SQLite's default is 2,000 KiB per
/// connection). Each connection fills its own cache up to that size and keeps it: with the read
/// pool, the write pool and the writer that was 20 MB of the server's memory once the tables
/// outgrew the caches (the rush's draw: 20,000 entries looked up by code, BENCHMARKS.md). Pages
/// missing from the cache are read from the operating system's file cache. The writer opens
/// its connection with `open`, so it keeps the default size for the pages its groups change.
pub const SQLITE_POOLED_CACHE_KIB: u32 = 512;

/// Tells [`Health`] whenever the database answered a query.
struct HealthReport(Arc<Health>);

impl Instrumentation for HealthReport {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery { error, .. } = event {
            if error.is_none_or(|e| !is_outage(e)) {
                self.0.answered();
            }
        }
    }
}

/// `url` with libpq's connect timeout, TCP keepalives and TCP user timeout added (any the URL
/// already sets are kept): a dead or black-holed server then breaks connections within seconds
/// instead of leaving them waiting for the whole outage.
fn pg_url_with_timeouts(url: &str, timeout: Duration) -> String {
    let connect = timeout.as_secs().max(2);
    let wanted = [
        ("connect_timeout", connect.to_string()),
        ("keepalives", "1".to_string()),
        ("keepalives_idle", "5".to_string()),
        ("keepalives_interval", "2".to_string()),
        ("keepalives_count", "3".to_string()),
        ("tcp_user_timeout", "10000".to_string()),
    ];
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let present = |k: &str| query.split('&').any(|kv| kv.split('=').next() == Some(k));
    let mut out = url.to_string();
    for (k, v) in wanted {
        if !present(k) {
            out.push(if out.contains('?') { '&' } else { '?' });
            out.push_str(&format!("{k}={v}"));
        }
    }
    out
}

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<AnyConnection, ConnectionError> {
        let mut conn = self.open()?;
        if let Some(sql) = &self.session_sql {
            conn.batch_execute(sql)
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
        }
        Ok(conn)
    }

    /// r2d2 asks on every check-out. A PostgreSQL connection is a socket that can have died
    /// since; a SQLite connection is a handle on a file in this process, which `SELECT 1` (it
    /// reads no file) could not find broken: it only parsed a statement on every check-out
    /// (4 % of the read threads' time under the booking load, perf, 2026-12-06).
    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), ConnectionError> {
        match conn {
            AnyConnection::Sqlite(_) => Ok(()),
            AnyConnection::Postgresql(_) => conn
                .batch_execute("SELECT 1")
                .map_err(ConnectionError::CouldntSetupConfiguration),
        }
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

/// A pool of connections to one database.
pub type Pool = r2d2::Pool<Manager>;
/// A connection checked out of a [`Pool`].
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// The connections the application uses. On SQLite the application's write transactions go to
/// one writer thread that commits them in groups (see `writer`), and reads use a pool of their
/// own. On PostgreSQL every transaction runs on a pooled connection and the database's row locks
/// order concurrent writers.
#[derive(Clone)]
pub struct Db {
    /// Which backend this is.
    pub backend: Backend,
    /// Connections for reads.
    pub read: Pool,
    /// A pool for tools and tests that write outside the application's transactions (one
    /// connection on SQLite, the read pool on PostgreSQL).
    pub write: Pool,
    writer: Option<Writer>,
    /// Counts this process's committed write transactions: read caches compare it to see
    /// their own writes at once (`web::cache`).
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
    health: Arc<Health>,
    stats: DbStats,
}

impl Db {
    /// Create the database if needed, run migrations on a plain connection, then build pools
    /// (with the default timeouts).
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Db> {
        Db::connect_with(url, &DbOptions::with_pool_size(pool_size))
    }

    /// As [`Db::connect`], with the given pool size and timeouts.
    pub fn connect_with(url: &str, options: &DbOptions) -> anyhow::Result<Db> {
        let manager = Manager::with_options(url, options)?;
        prepare(&manager)?;
        let stats = DbStats::new(manager.backend == Backend::Sqlite)?;
        let build = |size: u32, name: &'static str| {
            r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                .connection_timeout(options.timeout)
                .event_handler(stats.pool_events(name))
                .build(manager.clone())
                .with_context(|| format!("cannot open a pool on {}", redact(url)))
        };
        let read = build(options.pool_size, "read")?;
        let (write, writer) = match manager.backend {
            Backend::Sqlite => (
                build(1, "write")?,
                Some(
                    Writer::start(manager.clone(), &stats, options.wal_restart_frames)
                        .context("cannot start the SQLite writer")?,
                ),
            ),
            Backend::Postgres => (read.clone(), None),
        };
        Ok(Db {
            backend: manager.backend,
            read,
            write,
            writer,
            generation: Default::default(),
            health: manager.health.clone(),
            stats,
        })
    }

    /// What the pools and the writer measure (registered by `metrics`).
    pub fn stats(&self) -> &DbStats {
        &self.stats
    }

    /// How many write transactions this process has committed (read it before a read that
    /// is to be cached).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// When the database last answered (see [`Health`]).
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Run `f` as one write transaction and return once it is committed (or rolled back).
    /// If the caller has given up waiting (see [`with_cancel`]) before the commit, the
    /// transaction rolls back and the result is [`WriteError::Cancelled`].
    pub fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DieselError> + From<WriteError> + From<r2d2::Error> + Send + 'static,
    {
        match &self.writer {
            Some(w) => {
                let result = w.run(current_cancel(), f);
                self.committed(result)
            }
            None => {
                let mut conn = self.write.get()?;
                self.transaction_on(&mut conn, f)
            }
        }
    }

    /// Run `read` on a connection, then the write transaction it returns as
    /// [`Db::transaction`] runs it, and give both results. On PostgreSQL both run on one pooled
    /// connection (one checkout, so one `SELECT 1` of the pool's: a booking's reads and write
    /// took two); on SQLite `read` runs on the read pool and the write goes to the writer, which
    /// may run it twice (a replayable job: see `db::job`), so it must have no
    /// effect outside the connection.
    pub fn read_then_transaction<R, T, E, F>(
        &self,
        read: impl FnOnce(&mut AnyConnection) -> Result<(R, F), E>,
    ) -> Result<(R, T), E>
    where
        F: FnMut(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DieselError> + From<WriteError> + From<r2d2::Error> + DbCause + Send + 'static,
    {
        if let Some(w) = &self.writer {
            let (r, f) = {
                let mut conn = self.read.get()?;
                read(&mut conn)?
            };
            let write = w.wait(|deliver| job::replayable(current_cancel(), f, deliver));
            return Ok((r, self.committed(write)?));
        }
        let mut conn = self.write.get()?;
        let (r, f) = read(&mut conn)?;
        Ok((r, self.transaction_on(&mut conn, f)?))
    }

    /// A write transaction on `conn` (PostgreSQL's way), rolled back if the caller has given up
    /// waiting before the commit (see [`with_cancel`]).
    fn transaction_on<T, E, F>(&self, conn: &mut AnyConnection, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E>,
        E: From<DieselError> + From<WriteError>,
    {
        let cancel = current_cancel();
        if is_cancelled(&cancel) {
            return Err(E::from(WriteError::Cancelled));
        }
        let result = conn.transaction(|c| {
            let out = f(c)?;
            if is_cancelled(&cancel) {
                return Err(E::from(WriteError::Cancelled));
            }
            Ok(out)
        });
        self.committed(result)
    }

    /// Run `f`, which makes a single write statement (atomic on its own), as its own
    /// transaction: on PostgreSQL in autocommit on a pooled connection, without `BEGIN` and
    /// `COMMIT` (one round trip where a transaction takes three), the caller's cancel flag
    /// looked at only before it (a statement that ran is committed); on SQLite on the writer,
    /// as [`Db::transaction`] runs it.
    pub fn single_statement<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DieselError> + From<WriteError> + From<r2d2::Error> + Send + 'static,
    {
        if self.writer.is_some() {
            return self.transaction(f);
        }
        let cancel = current_cancel();
        if is_cancelled(&cancel) {
            return Err(E::from(WriteError::Cancelled));
        }
        let mut conn = self.write.get()?;
        self.committed(f(&mut conn))
    }

    /// `result` of a write transaction, counted as a change when it committed.
    fn committed<T, E>(&self, result: Result<T, E>) -> Result<T, E> {
        if result.is_ok() {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        result
    }

    /// Whether write transactions go to the SQLite writer (and [`Db::queue`] takes them).
    pub fn queues_writes(&self) -> bool {
        self.writer.is_some()
    }

    /// On SQLite, queue `f` on the writer as a replayable job (it may run twice, so it must
    /// have no effect outside the connection: see `db::job`), without waiting
    /// for its commit: the caller awaits [`Queued::committed`] instead of holding a thread.
    /// `None` on PostgreSQL (no writer: use [`Db::transaction`]). The caller's cancel flag
    /// ([`with_cancel`]) is the job's, as in [`Db::transaction`].
    pub fn queue<T, E, F>(&self, f: F) -> Option<Result<Queued<T, E>, E>>
    where
        F: FnMut(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DieselError> + From<WriteError> + DbCause + Send + 'static,
    {
        let writer = self.writer.as_ref()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let generation = self.generation.clone();
        // The generation moves on the writer thread, before anyone hears of the commit (and
        // even if the caller has stopped listening), as after `Db::transaction`.
        let deliver = move |out: Result<T, E>| {
            if out.is_ok() {
                generation.fetch_add(1, Ordering::AcqRel);
            }
            let _ = tx.send(out);
        };
        Some(
            writer
                .send(job::replayable(current_cancel(), f, deliver))
                .map(|()| Queued(rx)),
        )
    }
}

/// A write queued on the SQLite writer by [`Db::queue`].
pub struct Queued<T, E>(tokio::sync::oneshot::Receiver<Result<T, E>>);

impl<T, E: From<WriteError>> Queued<T, E> {
    /// The job's outcome once its group has committed (or failed to).
    pub async fn committed(self) -> Result<T, E> {
        self.0
            .await
            .unwrap_or_else(|_| Err(E::from(WriteError::Stopped)))
    }
}

/// WAL mode for SQLite, then the embedded migrations.
fn prepare(manager: &Manager) -> anyhow::Result<()> {
    let mut conn = manager
        .open()
        .with_context(|| format!("cannot connect to {}", redact(&manager.url)))?;
    if let AnyConnection::Sqlite(c) = &mut conn {
        c.batch_execute("PRAGMA journal_mode = WAL;")
            .context("cannot switch SQLite to WAL mode")?;
    }
    run_migrations(&mut conn)
}

/// Ask the database to answer a statement (`SELECT 1`): the health probes' read.
pub fn ping(conn: &mut AnyConnection) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

/// Apply pending migrations for the connection's backend.
pub fn run_migrations(conn: &mut AnyConnection) -> anyhow::Result<()> {
    match conn {
        AnyConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|_| ())
            .map_err(|e| anyhow!("migration failed: {e}")),
        AnyConnection::Postgresql(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|_| ())
            .map_err(|e| anyhow!("migration failed: {e}")),
    }
}

/// A URL with any password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_comes_from_the_scheme() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        let err = Backend::from_url("mysql://u@h/db").unwrap_err().to_string();
        assert!(err.contains("\"mysql\""), "{err}");
    }

    #[test]
    fn every_answer_is_reported_to_health() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("h.db").display());
        let db = Db::connect(&url, 1).unwrap();
        // Let the writer thread and the pool open their connections first: each one that
        // opens reports an answer, and the writer's may come after `connect` returns.
        db.transaction(|c| c.batch_execute("SELECT 1").map_err(anyhow::Error::from))
            .unwrap();
        drop(db.read.get().unwrap());
        std::thread::sleep(Duration::from_millis(20));
        let before = Instant::now();
        std::thread::sleep(Duration::from_millis(5));
        assert!(!db.health().answered_since(before));
        db.read.get().unwrap().batch_execute("SELECT 1").unwrap();
        assert!(db.health().answered_since(before));
        let later = Instant::now();
        std::thread::sleep(Duration::from_millis(5));
        db.transaction(|c| c.batch_execute("SELECT 1").map_err(anyhow::Error::from))
            .unwrap();
        assert!(db.health().answered_since(later));
    }

    #[test]
    fn cancelled_writes_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let db = Db::connect(&url, 1).unwrap();
        let flag = Arc::new(AtomicBool::new(false));
        let raise = flag.clone();
        let out: anyhow::Result<()> = with_cancel(flag, || {
            db.transaction(move |c| {
                c.batch_execute("UPDATE readiness SET checked_at = '2031-01-01 00:00:00'")?;
                raise.store(true, Ordering::SeqCst);
                Ok(())
            })
        });
        let err = out.unwrap_err();
        assert!(err
            .downcast_ref::<WriteError>()
            .is_some_and(WriteError::is_outage));
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n = diesel::sql_query(
            "SELECT COUNT(*) AS n FROM readiness WHERE checked_at = '2031-01-01 00:00:00'",
        )
        .get_result::<N>(&mut db.read.get().unwrap())
        .unwrap()
        .n;
        assert_eq!(n, 0);
    }

    #[test]
    fn pg_urls_get_timeouts_and_keep_their_own() {
        let u = pg_url_with_timeouts("postgres://u@h/db", Duration::from_millis(1500));
        assert!(
            u.starts_with("postgres://u@h/db?connect_timeout=2&keepalives=1"),
            "{u}"
        );
        assert!(u.contains("tcp_user_timeout="), "{u}");
        let u = pg_url_with_timeouts(
            "postgres://u@h/db?connect_timeout=9",
            Duration::from_secs(3),
        );
        assert!(u.contains("connect_timeout=9&keepalives=1"), "{u}");
        assert!(!u.contains("connect_timeout=3"), "{u}");
    }

    #[test]
    fn outages_are_told_from_refusals() {
        assert!(is_outage_message(
            "canceling statement due to statement timeout"
        ));
        assert!(is_outage_message("attempt to write a readonly database"));
        assert!(is_outage_message("database or disk is full"));
        assert!(is_outage_message("database is locked"));
        assert!(is_outage_message("deadlock detected"));
        assert!(!is_outage_message(
            "duplicate key value violates unique constraint \"appointments_dose\""
        ));
        assert!(!is_outage_message("CHECK constraint failed: seats"));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db".to_string()
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
