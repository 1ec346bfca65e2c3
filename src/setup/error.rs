//! Why a set-up action was refused, and the one way field errors are collected.

use crate::db::{storage_error_from, unique_violation_on, StorageError};
use crate::domain::FieldError;
use crate::i18n::Keyed;

/// Why a set-up action was refused. `Field` names the form field and a catalogue key.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    #[error("refused: {0}")]
    Refused(&'static str),
    #[error("not found")]
    NotFound,
    #[error("import refused: {0:?}")]
    Import(Vec<(usize, String)>),
    #[error("password hashing: {0}")]
    Hash(anyhow::Error),
    #[error(transparent)]
    Storage(StorageError),
}

storage_error_from!(SetupError);

impl Keyed for SetupError {
    /// The catalogue key of the message: a refusal's own, the first field's, or the generic one.
    fn key(&self) -> &'static str {
        match self {
            SetupError::Invalid(fields) => fields.first().map_or("err.internal", |f| f.key),
            SetupError::Refused(key) => key,
            SetupError::NotFound => "err.not_found",
            SetupError::Import(_) => "err.bad_request",
            SetupError::Hash(_) | SetupError::Storage(_) => "err.internal",
        }
    }
}

impl SetupError {
    /// Whether this is the system's fault rather than the request's.
    pub fn is_internal(&self) -> bool {
        matches!(self, SetupError::Storage(_) | SetupError::Hash(_))
    }
}

/// One field refused: `field` with the message `key`.
pub fn invalid(field: &'static str, key: &'static str) -> SetupError {
    SetupError::Invalid(vec![FieldError::new(field, key)])
}

/// Collects field errors while a form is parsed; `done` turns them into
/// [`SetupError::Invalid`].
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Note that `field` was refused with the message `key`.
    pub fn add(&mut self, field: &'static str, key: &'static str) {
        self.0.push(FieldError::new(field, key));
    }

    /// The value, or its error noted against `field`.
    pub fn read<T>(&mut self, field: &'static str, r: Result<T, &'static str>) -> Option<T> {
        r.map_err(|key| self.add(field, key)).ok()
    }

    /// Whether nothing was refused so far.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value when nothing was refused, else every refusal. `value` is built from the
    /// fields read, each `Some` when nothing was refused.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, SetupError> {
        match value() {
            Some(v) if self.0.is_empty() => Ok(v),
            _ => Err(SetupError::Invalid(self.0)),
        }
    }
}

/// A unique violation on a code (two admins at once) as the field error it is.
pub(crate) fn code_taken(e: SetupError) -> SetupError {
    match e {
        SetupError::Storage(StorageError::Db(d)) if unique_violation_on(&d, "code") => {
            invalid("code", "err.setup.code_taken")
        }
        SetupError::Storage(StorageError::Db(d)) if unique_violation_on(&d, "username") => {
            invalid("username", "err.setup.username_taken")
        }
        other => other,
    }
}
