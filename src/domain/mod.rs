//! Validated input types (parse, don't validate) and the pure rules around them. No I/O here.

mod booking_code;
pub mod clinic;
mod contact;
pub mod days;
mod id_number;

pub use booking_code::BookingCode;
pub use contact::{Email, PersonName, Phone};
pub use id_number::IdNumber;

/// Why one form field was refused: the field's name and the catalogue key of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    /// The form or JSON field, e.g. `id_number`.
    pub field: &'static str,
    /// The i18n catalogue key of the message shown next to the field.
    pub key: &'static str,
}

impl FieldError {
    /// A refusal of `field` with the message `key`.
    pub const fn new(field: &'static str, key: &'static str) -> FieldError {
        FieldError { field, key }
    }
}

/// A dose number within a product's series (1-based).
pub fn parse_dose_number(raw: &str) -> Result<i32, FieldError> {
    match raw.trim().parse::<i32>() {
        Ok(n) if (1..=10).contains(&n) => Ok(n),
        _ => Err(FieldError::new("dose_number", "err.dose_number")),
    }
}

/// Whole years between `birth` and `on`.
pub fn age_on(birth: chrono::NaiveDate, on: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    let mut age = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn age_counts_whole_years() {
        let b = NaiveDate::from_ymd_opt(2000, 6, 15).unwrap();
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2018, 6, 14).unwrap()), 17);
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2018, 6, 15).unwrap()), 18);
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(1999, 1, 1).unwrap()), -2);
    }

    #[test]
    fn dose_numbers_are_small_positive_integers() {
        assert_eq!(parse_dose_number("2"), Ok(2));
        assert!(parse_dose_number("0").is_err());
        assert!(parse_dose_number("x").is_err());
        assert!(parse_dose_number("99").is_err());
    }
}
