//! The 18-character resident ID number (GB 11643): region, birth date, sequence, check digit.

use std::fmt;

use chrono::NaiveDate;

use super::{FieldError, PlainText};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// A resident ID number whose format, birth date and ISO 7064 MOD 11-2 check digit are valid.
/// Its `Debug` and `Display` show only the masked form, so it cannot leak into a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

impl IdNumber {
    /// Parse user input: spaces are ignored and a lower-case `x` is accepted.
    pub fn parse(raw: &str) -> Result<IdNumber, FieldError> {
        let s = PlainText::token(raw, "id_number", 40, "err.id.length", &[])?;
        if s.chars().count() != 18 {
            return Err(FieldError::new("id_number", "err.id.length"));
        }
        let bytes = s.as_bytes();
        if !bytes[..17].iter().all(u8::is_ascii_digit)
            || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
        {
            return Err(FieldError::new("id_number", "err.id.format"));
        }
        let birth = NaiveDate::parse_from_str(&s[6..14], "%Y%m%d")
            .ok()
            .filter(|d| d >= &NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default());
        if birth.is_none() {
            return Err(FieldError::new("id_number", "err.id.birth_date"));
        }
        if check_char(&bytes[..17]) != bytes[17] {
            return Err(FieldError::new("id_number", "err.id.check_digit"));
        }
        Ok(IdNumber(s))
    }

    /// Build a valid ID number from its first 17 digits (demo data and tests).
    pub fn with_check_digit(first17: &str) -> Option<IdNumber> {
        if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let check = check_char(first17.as_bytes()) as char;
        IdNumber::parse(&format!("{first17}{check}")).ok()
    }

    /// The birth date encoded in the number.
    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").unwrap_or_default()
    }

    /// The last four characters, which staff use to confirm identity.
    pub fn last4(&self) -> &str {
        &self.0[14..]
    }

    /// All but the last four characters masked.
    pub fn masked(&self) -> String {
        Self::mask_stored(self.last4())
    }

    /// The display form of a stored number, from its last four characters.
    pub fn mask_stored(last4: &str) -> String {
        format!("{}{}", "*".repeat(14), last4)
    }

    /// The full number, only for keyed hashing. Never display or log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK_CHARS[(sum % 11) as usize]
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // A published specimen number with a valid check digit.
    const VALID: &str = "11010519491231002X";

    #[test]
    fn a_valid_number_parses_with_its_birth_date() {
        let id = IdNumber::parse(VALID).unwrap();
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.last4(), "002X");
        assert_eq!(id.masked(), "**************002X");
        assert_eq!(format!("{id:?}"), "IdNumber(**************002X)");
        assert_eq!(IdNumber::parse("11010519491231002x").unwrap(), id);
        assert_eq!(IdNumber::parse(" 110105 19491231 002X ").unwrap(), id);
    }

    #[test]
    fn each_kind_of_mistake_has_its_own_message() {
        let key = |s: &str| IdNumber::parse(s).unwrap_err().key;
        assert_eq!(key("1101051949123100"), "err.id.length");
        assert_eq!(key("11010519491231002XX"), "err.id.length");
        assert_eq!(key("11010519491231002Y"), "err.id.format");
        assert_eq!(key("1101051949123100X2"), "err.id.format");
        assert_eq!(key("110105194913310021"), "err.id.birth_date");
        assert_eq!(key("110105189912310021"), "err.id.birth_date");
        assert_eq!(key("110105194912310021"), "err.id.check_digit");
        assert_eq!(key("一二三四五六七八九十一二三四五六七八"), "err.id.format");
        assert_eq!(key("11010519491231002X\0"), "err.text.chars");
        assert_eq!(key("\u{202E}11010519491231002X"), "err.text.chars");
        assert_eq!(key(&"1".repeat(100)), "err.id.length");
    }

    proptest! {
        #[test]
        fn every_generated_number_round_trips(region in 110000u32..660000, days in 0i64..40000, seq in 0u32..1000) {
            let birth = NaiveDate::from_ymd_opt(1920, 1, 1).unwrap() + chrono::Duration::days(days);
            let first17 = format!("{region:06}{}{seq:03}", birth.format("%Y%m%d"));
            let id = IdNumber::with_check_digit(&first17).unwrap();
            prop_assert_eq!(id.birth_date(), birth);
            prop_assert_eq!(IdNumber::parse(id.expose()).unwrap(), id.clone());
        }

        #[test]
        fn changing_one_digit_breaks_the_check(pos in 0usize..17, bump in 1u8..10) {
            let mut b = VALID.as_bytes().to_vec();
            b[pos] = b'0' + (b[pos] - b'0' + bump) % 10;
            let s = String::from_utf8(b).unwrap();
            prop_assert!(IdNumber::parse(&s).is_err());
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,40}") {
            let _ = IdNumber::parse(&s);
        }
    }
}
