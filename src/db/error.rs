//! `StorageError`: the database failed (a query, the pool, the SQLite writer). Every service
//! error (`BookingError`, `ClinicError`, `BureauError`) carries it as its one `Storage` variant;
//! it is never the request's fault, and `db::is_outage_cause` tells an outage (503) in its causes.

use diesel::result::Error as DieselError;

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
/// so `?` works on queries, pooled connections and `Db::transaction` alike.
macro_rules! storage_error_from {
    ($service:ty) => {
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
