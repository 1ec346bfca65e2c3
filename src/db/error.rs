//! What a database error means. `StorageError`: the database failed (a query, the pool, the
//! SQLite writer); every service error (`BookingError`, `ClinicError`, `HouseholdError`,
//! `BureauError`, `SetupError`) carries it as its one `Storage` variant; it is never the
//! request's fault. [`is_outage`] and [`is_outage_cause`] tell an outage (503, "try again") in
//! an error or its causes; [`unique_violation_on`] and [`primary_key_violation`] tell which
//! unique index a write collided with (`booking::Collision` reads them).

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::WriteError;

/// A failure of the database, whatever part of it.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database: {0}")]
    Db(#[from] DieselError),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database writer: {0}")]
    Write(#[from] WriteError),
}

impl StorageError {
    /// The query error, if that is what it is (unique violations are told apart by their index).
    pub fn query(&self) -> Option<&DieselError> {
        match self {
            StorageError::Db(e) => Some(e),
            _ => None,
        }
    }
}

/// An error that may stand for a database error: what `booking::retrying_collisions` looks
/// into, and what tells the writer a failed job's kind of failure (`db::job`).
pub trait DbCause {
    /// The database error behind it, if that is what it is.
    fn db_cause(&self) -> Option<&DieselError>;
}

/// `From` the three database errors for a service error with a `Storage(StorageError)` variant,
/// so `?` works on queries, pooled connections and `Db::transaction` alike; and its
/// [`DbCause`], the query error inside that variant.
macro_rules! storage_error_from {
    ($service:ty) => {
        impl $crate::db::DbCause for $service {
            fn db_cause(&self) -> Option<&diesel::result::Error> {
                match self {
                    Self::Storage(e) => e.query(),
                    _ => None,
                }
            }
        }
        impl From<diesel::result::Error> for $service {
            fn from(e: diesel::result::Error) -> Self {
                Self::Storage(e.into())
            }
        }
        impl From<r2d2::Error> for $service {
            fn from(e: r2d2::Error) -> Self {
                Self::Storage(e.into())
            }
        }
        impl From<$crate::db::WriteError> for $service {
            fn from(e: $crate::db::WriteError) -> Self {
                Self::Storage(e.into())
            }
        }
    };
}
pub(crate) use storage_error_from;

/// True when a database error means the database is out of reach or refuses writes for now
/// (a broken or timed-out connection, a cancelled statement, a read-only or full database, a
/// lock that was not released in time): the request should be answered 503, "try again".
pub fn is_outage(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::ReadOnlyTransaction,
            _,
        ) => true,
        DieselError::DatabaseError(_, info) => is_outage_message(info.message()),
        _ => false,
    }
}

/// True when an error message (PostgreSQL or SQLite) names an outage rather than a refusal.
pub fn is_outage_message(message: &str) -> bool {
    const NEEDLES: [&str; 17] = [
        "statement timeout",
        // PostgreSQL ended one of two transactions that waited on each other: trying again
        // succeeds.
        "deadlock detected",
        "canceling statement",
        "terminating connection",
        "server closed the connection",
        "could not receive data",
        "could not send data",
        "no connection to the server",
        "connection refused",
        "connection timed out",
        "the database system is",
        "database is locked",
        "database table is locked",
        "disk is full",
        "readonly database",
        "read-only transaction",
        "disk i/o error",
    ];
    let m = message.to_ascii_lowercase();
    NEEDLES.iter().any(|n| m.contains(n))
}

/// True when some error in a chain of causes is an outage: a pool that found no connection in
/// time, a database error of [`is_outage`], or a write the writer could not run.
pub fn is_outage_cause(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.downcast_ref::<r2d2::Error>().is_some() {
            return true;
        }
        if let Some(d) = err.downcast_ref::<DieselError>() {
            if is_outage(d) {
                return true;
            }
        }
        if let Some(w) = err.downcast_ref::<WriteError>() {
            if w.is_outage() {
                return true;
            }
        }
        cur = err.source();
    }
    false
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

/// True when `e` is a unique violation on a row's id (`ids::new_id` made an id another process
/// made in the same second), or on what is made from it (an outbox row's `message_id`).
/// PostgreSQL details `Key (id)=(…) already exists` (or names `outbox_message_id_key`); SQLite
/// says `UNIQUE constraint failed: table.id` (or `outbox.message_id`).
pub fn primary_key_violation(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            info.details().is_some_and(|d| d.starts_with("Key (id)="))
                || info.message().ends_with(".id")
                || unique_violation_on(e, "message_id")
        }
        _ => false,
    }
}
