//! The database layer: `AnyConnection` (SQLite or PostgreSQL, chosen by the URL scheme), the
//! connection pools, embedded migrations, and the only place where SQL differs per backend.

pub mod schema;
mod writer;

pub use writer::{WriteError, Writer};

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// One connection to either backend; everything outside `db/` is written once against it.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL, for city-scale deployments with several server processes.
    Postgresql(diesel::PgConnection),
    /// SQLite, the embedded default.
    Sqlite(diesel::SqliteConnection),
}

/// Expand the same diesel code for each concrete backend, for the few calls (multi-row insert)
/// that `MultiConnection` cannot express.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite($c) => $body,
            $crate::db::AnyConnection::Postgresql($c) => $body,
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

/// An r2d2 manager that picks the backend from the URL scheme, so a connection error keeps its
/// real cause (diesel's derived `establish` tries each backend and drops the errors).
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
    backend: Backend,
}

impl Manager {
    /// A manager for `url`, which must have a supported scheme.
    pub fn new(url: &str) -> anyhow::Result<Manager> {
        Ok(Manager {
            url: url.to_string(),
            backend: Backend::from_url(url)?,
        })
    }

    /// Open one connection outside any pool (migrations, tools).
    pub fn open(&self) -> Result<AnyConnection, ConnectionError> {
        match self.backend {
            Backend::Postgres => {
                diesel::PgConnection::establish(&self.url).map(AnyConnection::Postgresql)
            }
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(sqlite_path(&self.url))?;
                // Per-connection settings; journal_mode=WAL is persistent and set once in
                // `prepare`, since it cannot run inside a transaction.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<AnyConnection, ConnectionError> {
        self.open()
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), ConnectionError> {
        conn.batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)
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
}

impl Db {
    /// Create the database if needed, run migrations on a plain connection, then build pools.
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Db> {
        let manager = Manager::new(url)?;
        prepare(&manager)?;
        let build = |size: u32| {
            r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                .connection_timeout(Duration::from_secs(10))
                .build(manager.clone())
                .with_context(|| format!("cannot open a pool on {}", redact(url)))
        };
        let read = build(pool_size)?;
        let (write, writer) = match manager.backend {
            Backend::Sqlite => (
                build(1)?,
                Some(Writer::start(manager.clone()).context("cannot start the SQLite writer")?),
            ),
            Backend::Postgres => (read.clone(), None),
        };
        Ok(Db {
            backend: manager.backend,
            read,
            write,
            writer,
            generation: Default::default(),
        })
    }

    /// How many write transactions this process has committed (read it before a read that
    /// is to be cached).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Run `f` as one write transaction and return once it is committed (or rolled back).
    pub fn transaction<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DieselError> + From<WriteError> + From<r2d2::Error> + Send + 'static,
    {
        let result = match &self.writer {
            Some(w) => w.run(f),
            None => {
                let mut conn = self.write.get()?;
                let conn: &mut AnyConnection = &mut conn;
                conn.transaction(f)
            }
        };
        if result.is_ok() {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        result
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

/// Claim up to `limit` outbox messages that are due (or whose lease ran out) under `token`.
/// PostgreSQL skips rows another process is claiming at the same moment (`FOR UPDATE SKIP
/// LOCKED`); SQLite has one writer, so its UPDATE is already exclusive.
pub fn claim_outbox(
    conn: &mut AnyConnection,
    token: &str,
    now: chrono::NaiveDateTime,
    lease_until: chrono::NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    const DUE: &str = "(status = 'pending' AND next_attempt_at <= {now}) OR (status = 'sending' AND lease_until < {now})";
    match conn {
        AnyConnection::Postgresql(c) => diesel::sql_query(format!(
            "UPDATE outbox SET status = 'sending', claim_token = $1, lease_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE {} ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)",
            DUE.replace("{now}", "$3")
        ))
        .bind::<Text, _>(token)
        .bind::<Timestamp, _>(lease_until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .execute(c),
        AnyConnection::Sqlite(c) => diesel::sql_query(format!(
            "UPDATE outbox SET status = 'sending', claim_token = ?1, lease_until = ?2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM outbox WHERE {} ORDER BY next_attempt_at LIMIT ?4)",
            DUE.replace("{now}", "?3")
        ))
        .bind::<Text, _>(token)
        .bind::<Timestamp, _>(lease_until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .execute(c),
    }
}

/// True when the error is a unique-constraint violation (either backend).
pub fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// True when a unique violation is on a constraint whose name or message mentions `needle`
/// (PostgreSQL names the index; SQLite names the columns).
pub fn unique_violation_on(e: &DieselError, needle: &str) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            info.constraint_name().is_some_and(|c| c.contains(needle))
                || info.message().contains(needle)
        }
        _ => false,
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
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://u:secret@h/db"),
            "postgres://u:***@h/db".to_string()
        );
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
