//! The one error type of the allocation engine: an input field that is missing or wrong.

use thiserror::Error;

/// Why an instance was rejected; `Display` gives one line, `path: message`.
///
/// `path` names the offending field the way a person would write it in the
/// JSON document, for example `towns[1].second_dose_queue[0].count`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{path}: {message}")]
pub struct AllocError {
    path: String,
    message: String,
}

impl AllocError {
    /// An error about the field at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The field path, e.g. `towns[0].capacity_per_day`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong with the field, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_path_colon_message_on_one_line() {
        let e = AllocError::new("towns[1].stock_on_hand", "must be a non-negative integer");
        assert_eq!(
            e.to_string(),
            "towns[1].stock_on_hand: must be a non-negative integer"
        );
        assert!(!e.to_string().contains('\n'));
    }
}
