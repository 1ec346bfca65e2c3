//! Typed ids, generated in Rust before insert (no RETURNING, no last-insert-id). They are 63
//! random bits, so several processes can create rows at once without coordinating: the chance of
//! any collision among a billion rows is below 3 in 100,000, and the primary key refuses one.

use std::fmt;
use std::str::FromStr;

use rand::Rng;

/// A new id for any table.
pub fn new_id() -> i64 {
    rand::rng().random_range(1..i64::MAX)
}

macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.trim().parse().map($name)
            }
        }

        impl serde::Serialize for $name {
            /// Ids are strings in JSON, so JavaScript clients keep all 64 bits.
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(serde::Deserialize)]
                #[serde(untagged)]
                enum Raw { S(String), N(i64) }
                match Raw::deserialize(d)? {
                    Raw::N(n) => Ok($name(n)),
                    Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
                }
            }
        }
    )*};
}

typed_id!(
    /// A town.
    TownId,
    /// A vaccination site.
    SiteId,
    /// A vaccine product.
    ProductId,
    /// A timed slot at a site.
    SlotId,
    /// A resident.
    ResidentId,
    /// An appointment.
    AppointmentId,
    /// A staff or bureau user.
    UserId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_positive_and_serialise_as_strings() {
        let a = new_id();
        let b = new_id();
        assert!(a > 0 && b > 0 && a != b);
        assert_eq!(serde_json::to_string(&SlotId(42)).unwrap(), "\"42\"");
        assert_eq!(
            serde_json::from_str::<SlotId>("\"42\"").unwrap(),
            SlotId(42)
        );
        assert_eq!(serde_json::from_str::<SlotId>("42").unwrap(), SlotId(42));
        assert!(serde_json::from_str::<SlotId>("\"x\"").is_err());
    }
}
