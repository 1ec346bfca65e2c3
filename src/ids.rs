//! Typed ids, generated in Rust before insert (no RETURNING, no last-insert-id), so several
//! processes can create rows at once without coordinating.
//!
//! An id is the milliseconds since 2020 (41 bits, until 2089) followed by 22 bits that start at
//! a random value in each millisecond and count up within the process, so one process never
//! makes the same id twice, and a table's new rows (and the indexes led by their ids) land next
//! to each other, at the end of the B-tree. Purely random ids spread each booking's rows over
//! the whole table: a group commit of SQLite's writer then wrote a page for nearly every row of
//! every table it touched, and the booking transaction without HTTP ran at 81 % of the rate it
//! has with these ids (`benches/ceiling tx`, BENCHMARKS.md). Two processes can meet only in the
//! same millisecond on the same random start (about one chance in two million for two
//! processes each making one row of one table in that millisecond); the primary key refuses
//! such a row, and a booking runs again as on any other collision
//! (`booking::retrying_collisions`).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};

use rand::Rng;

/// Milliseconds from the Unix epoch to 2020-01-01T00:00:00Z, where ids start.
const EPOCH_MS: i64 = 1_577_836_800_000;
/// Bits below the milliseconds.
const LOW_BITS: u32 = 22;

/// A new id for any table: see the module's comment.
pub fn new_id() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let ms = chrono::Utc::now().timestamp_millis() - EPOCH_MS;
    // The random start leaves half the millisecond's range to count up into.
    let fresh = (ms << LOW_BITS) | rand::rng().random_range(0..(1i64 << (LOW_BITS - 1)));
    let before = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(fresh.max(last + 1))
        })
        .unwrap_or_else(|last| last);
    fresh.max(before + 1)
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

    #[test]
    fn ids_from_many_threads_at_once_are_unique_and_ordered_by_time() {
        let before = (chrono::Utc::now().timestamp_millis() - EPOCH_MS) << LOW_BITS;
        let threads: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..20_000).map(|_| new_id()).collect::<Vec<_>>()))
            .collect();
        let mut all = Vec::new();
        for t in threads {
            let ids = t.join().unwrap();
            // Each thread sees its own ids rise.
            assert!(ids.windows(2).all(|w| w[0] < w[1]));
            all.extend(ids);
        }
        let after = (chrono::Utc::now().timestamp_millis() + 1 - EPOCH_MS) << LOW_BITS;
        assert!(all
            .iter()
            .all(|&id| id >= before && id < after + (1 << LOW_BITS)));
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "an id was made twice");
    }
}
