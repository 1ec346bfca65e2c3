//! Typed ids, generated in Rust before insert (no RETURNING, no last-insert-id), so several
//! processes can create rows at once without coordinating.
//!
//! An id is the seconds since 2020 (31 bits, until 2088) followed by 32 bits: in each second a
//! process starts at a random value below 2^31 and counts up from it. So one process never
//! makes the same id twice, and a table's new rows (and the indexes led by their ids) land next
//! to each other at the end of its B-tree. Purely random ids spread each booking's rows over
//! the whole table, and a group commit of SQLite's writer wrote a page for nearly every row of
//! every table it touched: the booking transaction without HTTP ran about a fifth faster with
//! ordered ids (`benches/ceiling tx`, BENCHMARKS.md).
//!
//! Two processes can make the same id only when, in the same second, the runs they count up
//! from their random starts overlap: for runs of `a` and `b` ids, a chance of about
//! `(a + b) / 2^31` (two processes making 500 rows of one table each in a second: one in two
//! million). The primary key refuses the second row, and a booking runs again as on any other
//! collision (`booking::retrying_collisions`).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};

use rand::Rng;

/// Seconds from the Unix epoch to 2020-01-01T00:00:00Z, where ids start.
const EPOCH_SECS: i64 = 1_577_836_800;
/// Bits below the seconds.
const LOW_BITS: u32 = 32;

/// A new id for any table: see the module's comment.
pub fn new_id() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let second = (chrono::Utc::now().timestamp() - EPOCH_SECS) << LOW_BITS;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = if last >= second {
            // This second's run (or a later one's, if the clock went back): count up.
            last + 1
        } else {
            // A new second: a random start, with half the second's range to count into.
            second | rand::rng().random_range(0..(1i64 << (LOW_BITS - 1)))
        };
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(now) => last = now,
        }
    }
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
    fn ids_from_many_threads_at_once_are_unique_and_rise_with_time() {
        let before = (chrono::Utc::now().timestamp() - EPOCH_SECS) << LOW_BITS;
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
        let after = (chrono::Utc::now().timestamp() + 1 - EPOCH_SECS) << LOW_BITS;
        assert!(all.iter().all(|&id| id >= before && id < after));
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "an id was made twice");
    }
}
