//! Validated input types (parse, don't validate) and the pure rules around them. No I/O here.

mod booking_code;
pub mod city;
pub mod clinic;
mod contact;
pub mod days;
pub mod eligibility;
mod id_number;
pub mod text;

pub use booking_code::BookingCode;
pub use contact::{mask_email, Email, PersonName, Phone};
pub use id_number::IdNumber;
pub use text::{PlainText, TextRule};

use chrono::NaiveDate;

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

    /// The caller's own message `key` for this refusal, except when the text had characters
    /// that may not be used ([`text::CHARS`]): that message is kept, as it says what to fix.
    pub fn or_key(self, key: &'static str) -> FieldError {
        if self.key == text::CHARS {
            self
        } else {
            FieldError { key, ..self }
        }
    }
}

/// The earliest date any form or API accepts.
pub const FIRST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};
/// The latest date any form or API accepts.
pub const LAST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2100, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

/// A date typed as `YYYY-MM-DD` in 2000-2100. Every date input goes through this, so no
/// timestamp PostgreSQL cannot store (or that overflows date arithmetic) is ever built from one.
/// Errors: `err.field_date` (not a date), `err.date.range` (outside the range).
pub fn parse_date(raw: &str, field: &'static str) -> Result<NaiveDate, FieldError> {
    let s = PlainText::parse(raw, TextRule::line(field, 10).required())
        .map_err(|e| e.or_key("err.field_date"))?;
    let d = NaiveDate::parse_from_str(s.as_str(), "%Y-%m-%d")
        .map_err(|_| FieldError::new(field, "err.field_date"))?;
    if !(FIRST_DATE..=LAST_DATE).contains(&d) {
        return Err(FieldError::new(field, "err.date.range"));
    }
    Ok(d)
}

/// A lot number: 1-40 letters, digits and `- _ . /` (as printed on the vials' box).
/// The error key is `err.lot.number`, or [`text::CHARS`].
pub fn parse_lot_number(raw: &str, field: &'static str) -> Result<String, FieldError> {
    let s = PlainText::parse(raw, TextRule::line(field, 40).required())
        .map_err(|e| e.or_key("err.lot.number"))?;
    if !s
        .as_str()
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        return Err(FieldError::new(field, "err.lot.number"));
    }
    Ok(s.into_string())
}

/// A dose number within a product's series (1-based).
pub fn parse_dose_number(raw: &str) -> Result<i32, FieldError> {
    match text::clean(raw).map(str::parse::<i32>) {
        Some(Ok(n)) if (1..=10).contains(&n) => Ok(n),
        _ => Err(FieldError::new("dose_number", "err.dose_number")),
    }
}

/// An id typed into a form or sent as JSON text: a whole number, nothing around it but spaces.
pub fn parse_id(raw: &str) -> Option<i64> {
    text::clean(raw)?.parse().ok()
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
    fn dates_are_bounded_to_2000_2100() {
        assert_eq!(
            parse_date(" 2030-03-04 ", "d"),
            Ok(NaiveDate::from_ymd_opt(2030, 3, 4).unwrap())
        );
        for (raw, key) in [
            ("-262143-01-01", "err.field_date"),
            ("+262143-12-31", "err.field_date"),
            ("1999-12-31", "err.date.range"),
            ("2101-01-01", "err.date.range"),
            ("2030-02-30", "err.field_date"),
            ("", "err.field_date"),
            ("2030-03-04\0", "err.text.chars"),
        ] {
            assert_eq!(parse_date(raw, "d").unwrap_err().key, key, "{raw:?}");
        }
    }

    #[test]
    fn lot_numbers_are_short_and_plain() {
        assert_eq!(parse_lot_number(" LOT-1/a ", "lot").unwrap(), "LOT-1/a");
        assert_eq!(
            parse_lot_number("L\u{0}1", "lot").unwrap_err().key,
            "err.text.chars"
        );
        for bad in ["", "A B", "<b>", &"x".repeat(41)] {
            assert_eq!(
                parse_lot_number(bad, "lot").unwrap_err().key,
                "err.lot.number"
            );
        }
    }

    #[test]
    fn dose_numbers_are_small_positive_integers() {
        assert_eq!(parse_dose_number("2"), Ok(2));
        assert!(parse_dose_number("0").is_err());
        assert!(parse_dose_number("x").is_err());
        assert!(parse_dose_number("99").is_err());
        assert!(parse_dose_number("1\u{c}").is_err());
        assert_eq!(parse_id(" 12 "), Some(12));
        assert_eq!(parse_id("12\u{85}"), None);
        assert_eq!(parse_id("99999999999999999999"), None);
    }
}
