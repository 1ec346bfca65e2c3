//! Booking codes: 8 characters of Crockford base32, which has no I, L, O or U to misread.

use std::fmt;

use rand::Rng;

use super::{FieldError, PlainText};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A booking code as residents read it out at the desk.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BookingCode(String);

impl BookingCode {
    /// A stored code as people read it (`7K3Q-9MZD`); as stored if it is not one.
    pub fn shown(stored: &str) -> String {
        BookingCode::parse(stored).map_or_else(|_| stored.to_string(), |c| c.to_string())
    }

    /// A fresh random code (40 bits; uniqueness is enforced by the database).
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> BookingCode {
        BookingCode(
            (0..8)
                .map(|_| ALPHABET[rng.random_range(0..32)] as char)
                .collect(),
        )
    }

    /// Parse a typed code: case, hyphens and spaces are ignored, and the letters people confuse
    /// with digits (`O`, `I`, `L`) read as `0` and `1`.
    pub fn parse(raw: &str) -> Result<BookingCode, FieldError> {
        let s: String = PlainText::token(raw, "code", 40, "err.code.format", &['-'])?
            .chars()
            .map(|c| match c {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            })
            .collect();
        if s.is_empty() {
            return Err(FieldError::new("code", "err.code.empty"));
        }
        if s.len() != 8 || !s.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(FieldError::new("code", "err.code.format"));
        }
        Ok(BookingCode(s))
    }

    /// The 8 characters, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BookingCode {
    /// Shown in two groups of four, e.g. `7K3Q-9MZD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", &self.0[..4], &self.0[4..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typed_codes_are_forgiving() {
        let code = BookingCode::parse("7k3q-9mzd").unwrap();
        assert_eq!(code.as_str(), "7K3Q9MZD");
        assert_eq!(code.to_string(), "7K3Q-9MZD");
        assert_eq!(BookingCode::parse("OIL00000").unwrap().as_str(), "01100000");
        for (typed, key) in [
            ("", "err.code.empty"),
            ("UUUUUUUU", "err.code.format"),
            ("ABC", "err.code.format"),
            ("7K3Q\u{202E}9MZD", "err.text.chars"),
        ] {
            assert_eq!(BookingCode::parse(typed).unwrap_err().key, key, "{typed:?}");
        }
    }

    proptest! {
        #[test]
        fn generated_codes_parse_back(seed in any::<u64>()) {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let code = BookingCode::generate(&mut rng);
            prop_assert_eq!(BookingCode::parse(&code.to_string()).unwrap(), code);
        }
    }
}
