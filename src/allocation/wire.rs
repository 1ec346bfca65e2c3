//! The fast path of [`parse_instance`](super::parse_instance): a `vax-alloc-instance/1`
//! document deserialised straight into typed structs, without a `serde_json::Value` tree
//! or any field path being built.
//!
//! It only accepts what the `Value`-based parser accepts, and builds the same header and
//! towns from it; anything else (a wrong type, a missing field, a duplicate key, a bad
//! date...) makes it give up with `None`, and the caller runs the `Value`-based parser,
//! which names the offending field. So it never decides an error message itself.
//!
//! Three places where serde is more lenient than the `Value`-based parser are closed here:
//! structs are read from JSON objects only ([`Obj`]; serde would also take arrays),
//! `capacity_per_day` is an integer or an array of them ([`capacity`]), and dates take
//! the exact route of the `Value` parser ([`date`]).

use std::fmt;
use std::marker::PhantomData;

use chrono::NaiveDate;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde::Deserialize as DeriveDeserialize;

use super::instance::{
    fingerprint, Capacity, Cohort, InstanceHeader, NextShipment, Policy, PolicyName, Product,
    Shipment, Town, INSTANCE_SCHEMA, SHORT_QUEUE,
};

/// Header and towns of `json`, exactly as the `Value`-based parser would build them, or
/// `None` if that parser might not accept the document (it then names the error).
///
/// The flag says whether every town's cohort ids were seen to be distinct while they were
/// read (a duplicate, or a queue too long to check in passing, leaves it `false`).
pub(crate) fn parse_fast(json: &str) -> Option<(InstanceHeader, Vec<Town>, bool)> {
    let Obj(doc) = serde_json::from_str::<Obj<Doc<'_>>>(json).ok()?;
    let (Obj(product), Obj(shipment), Obj(next), Obj(policy)) =
        (doc.product, doc.shipment, doc.next_shipment, doc.policy);
    if doc.schema != INSTANCE_SCHEMA || policy.name != PolicyName::LexV1.as_str() {
        return None;
    }
    let header = InstanceHeader {
        instance_id: doc.instance_id,
        run_date: doc.run_date,
        product: Product {
            id: product.id,
            min_interval_days: u32::try_from(product.min_interval_days).ok()?,
            max_interval_days: u32::try_from(product.max_interval_days).ok()?,
            pack_size: product.pack_size,
        },
        shipment: Shipment {
            doses: shipment.doses,
            received_date: shipment.received_date,
        },
        next_shipment: NextShipment {
            expected_date: next.expected_date,
            latest_date: next.latest_date,
        },
        policy: Policy {
            name: PolicyName::LexV1,
            reserve_safety_factor: policy.reserve_safety_factor,
        },
    };
    Some((header, doc.towns.towns, doc.towns.cohort_ids_distinct))
}

#[derive(DeriveDeserialize)]
struct Doc<'a> {
    #[serde(borrow)]
    schema: &'a str,
    instance_id: String,
    #[serde(deserialize_with = "date")]
    run_date: NaiveDate,
    product: Obj<WireProduct>,
    shipment: Obj<WireShipment>,
    next_shipment: Obj<WireNextShipment>,
    #[serde(borrow)]
    policy: Obj<WirePolicy<'a>>,
    #[serde(deserialize_with = "towns")]
    towns: WireTowns,
}

#[derive(DeriveDeserialize)]
struct WireProduct {
    id: String,
    min_interval_days: u64,
    max_interval_days: u64,
    pack_size: u64,
}

#[derive(DeriveDeserialize)]
struct WireShipment {
    doses: u64,
    #[serde(deserialize_with = "date")]
    received_date: NaiveDate,
}

#[derive(DeriveDeserialize)]
struct WireNextShipment {
    #[serde(deserialize_with = "date")]
    expected_date: NaiveDate,
    #[serde(deserialize_with = "date")]
    latest_date: NaiveDate,
}

#[derive(DeriveDeserialize)]
struct WirePolicy<'a> {
    /// Borrowed: a name with JSON escapes falls back to the `Value` parser, which is fine.
    #[serde(borrow)]
    name: &'a str,
    reserve_safety_factor: f64,
}

#[derive(DeriveDeserialize)]
struct WireTown {
    id: String,
    name: String,
    population: u64,
    eligible: u64,
    first_dosed: u64,
    first_dose_waiting: u64,
    stock_on_hand: u64,
    #[serde(deserialize_with = "capacity")]
    capacity_per_day: Capacity,
    #[serde(deserialize_with = "queue")]
    second_dose_queue: WireQueue,
}

impl WireTown {
    fn into_town(self) -> Town {
        Town {
            id: self.id,
            name: self.name,
            population: self.population,
            eligible: self.eligible,
            first_dosed: self.first_dosed,
            first_dose_waiting: self.first_dose_waiting,
            stock_on_hand: self.stock_on_hand,
            capacity_per_day: self.capacity_per_day,
            second_dose_queue: self.second_dose_queue.cohorts,
        }
    }
}

/// The towns, and whether each town's cohort ids were seen to be distinct.
struct WireTowns {
    towns: Vec<Town>,
    cohort_ids_distinct: bool,
}

/// `towns`: an array of town objects, turned into [`Town`]s as they are read.
fn towns<'de, D: Deserializer<'de>>(d: D) -> Result<WireTowns, D::Error> {
    let out = WireTowns {
        towns: Vec::new(),
        cohort_ids_distinct: true,
    };
    fold_objects(d, "an array of towns", out, |out, town: WireTown| {
        out.cohort_ids_distinct &= town.second_dose_queue.distinct;
        out.towns.push(town.into_town());
    })
}

/// An array of JSON objects (each read as [`Obj`]), folded into `init` by `step` one object at
/// a time as they are read, without a `Vec` of them in between. `what` names the array in
/// serde's errors.
fn fold_objects<'de, D, T, S>(
    d: D,
    what: &'static str,
    init: S,
    step: impl FnMut(&mut S, T),
) -> Result<S, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Fold<T, S, F> {
        what: &'static str,
        init: S,
        step: F,
        item: PhantomData<T>,
    }
    impl<'de, T: Deserialize<'de>, S, F: FnMut(&mut S, T)> Visitor<'de> for Fold<T, S, F> {
        type Value = S;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.what)
        }
        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<S, A::Error> {
            while let Some(Obj(item)) = seq.next_element::<Obj<T>>()? {
                (self.step)(&mut self.init, item);
            }
            Ok(self.init)
        }
    }
    d.deserialize_seq(Fold {
        what,
        init,
        step,
        item: PhantomData,
    })
}

/// A town's cohorts, and whether their ids were seen to be distinct.
struct WireQueue {
    cohorts: Vec<Cohort>,
    distinct: bool,
}

/// `second_dose_queue`: an array of cohort objects. Their ids are checked for repeats
/// while they are still in cache; validation can then skip that check.
fn queue<'de, D: Deserializer<'de>>(d: D) -> Result<WireQueue, D::Error> {
    let mut prints = [0u64; SHORT_QUEUE];
    let out = WireQueue {
        cohorts: Vec::new(),
        distinct: true,
    };
    fold_objects(d, "an array of cohorts", out, |out, c: WireCohort| {
        let j = out.cohorts.len();
        if j < SHORT_QUEUE {
            let print = fingerprint(&c.cohort_id);
            prints[j] = print;
            out.distinct &= !prints[..j]
                .iter()
                .zip(&out.cohorts)
                .any(|(&p, o)| p == print && o.cohort_id == c.cohort_id);
        } else {
            out.distinct = false;
        }
        out.cohorts.push(Cohort {
            cohort_id: c.cohort_id,
            first_dose_date: c.first_dose_date,
            count: c.count,
        });
    })
}

#[derive(DeriveDeserialize)]
struct WireCohort {
    cohort_id: String,
    #[serde(deserialize_with = "date")]
    first_dose_date: NaiveDate,
    count: u64,
}

/// A struct read from a JSON object only (derived struct impls also take JSON arrays).
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(ObjVisitor(PhantomData)).map(Obj)
    }
}

/// `capacity_per_day`: one non-negative integer, or an array of them.
fn capacity<'de, D: Deserializer<'de>>(d: D) -> Result<Capacity, D::Error> {
    struct CapacityVisitor;
    impl<'de> Visitor<'de> for CapacityVisitor {
        type Value = Capacity;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer or an array of them")
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Capacity, E> {
            Ok(Capacity::Uniform(v))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Capacity, A::Error> {
            let mut days = Vec::with_capacity(seq.size_hint().unwrap_or(8));
            while let Some(c) = seq.next_element::<u64>()? {
                days.push(c);
            }
            Ok(Capacity::Daily(days))
        }
    }
    d.deserialize_any(CapacityVisitor)
}

/// A date string, read as the `Value` parser reads it (`%Y-%m-%d`), with the common
/// `YYYY-MM-DD` form decoded directly.
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    struct DateVisitor;
    impl Visitor<'_> for DateVisitor {
        type Value = NaiveDate;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an ISO date string (YYYY-MM-DD)")
        }
        fn visit_str<E: Error>(self, s: &str) -> Result<NaiveDate, E> {
            parse_date(s).ok_or_else(|| E::custom("not an ISO date"))
        }
    }
    d.deserialize_str(DateVisitor)
}

/// `NaiveDate::parse_from_str(s, "%Y-%m-%d")`, with a shortcut for exactly ten bytes
/// `DDDD-DD-DD` that form a valid date (for those chrono yields the same date).
fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *b {
        let digits = [y0, y1, y2, y3, m0, m1, d0, d1];
        if digits.iter().all(u8::is_ascii_digit) {
            let v = |x: &[u8]| {
                x.iter()
                    .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0'))
            };
            let year = i32::try_from(v(&digits[..4])).ok()?;
            if let Some(date) = NaiveDate::from_ymd_opt(year, v(&digits[4..6]), v(&digits[6..])) {
                return Some(date);
            }
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocation::instance::tests::TINY_3;
    use crate::allocation::parse_instance;

    #[test]
    fn the_fast_path_builds_what_the_value_parser_builds() {
        let (header, towns, distinct) = parse_fast(TINY_3).expect("fast path takes the example");
        assert!(distinct);
        let inst = parse_instance(TINY_3).expect("valid");
        assert_eq!(&header, inst.header());
        assert_eq!(towns.as_slice(), inst.towns());
    }

    #[test]
    fn the_fast_path_leaves_doubtful_documents_to_the_value_parser() {
        let base: serde_json::Value = serde_json::from_str(TINY_3).expect("JSON");
        let edits: Vec<fn(&mut serde_json::Value)> = vec![
            // Structs given as arrays: serde would take them, the Value parser does not.
            |v| v["product"] = serde_json::json!(["MRNA-A", 21, 56, 6]),
            |v| {
                v["towns"][0]["second_dose_queue"][0] =
                    serde_json::json!(["A@01-06", "2021-01-06", 70])
            },
            |v| v["towns"][0]["capacity_per_day"] = serde_json::json!(null),
            |v| v["towns"][0]["capacity_per_day"] = serde_json::json!(-1),
            |v| v["towns"][0]["capacity_per_day"][1] = serde_json::json!(1.5),
            |v| v["towns"][1]["stock_on_hand"] = serde_json::json!(2.0),
            |v| v["product"]["min_interval_days"] = serde_json::json!(5_000_000_000u64),
            |v| v["schema"] = "vax-alloc-instance/2".into(),
            |v| v["policy"]["name"] = "pro-rata".into(),
            |v| v["run_date"] = "2021-02-30".into(),
            |v| {
                if let Some(m) = v["towns"][2].as_object_mut() {
                    m.remove("name");
                }
            },
        ];
        for edit in edits {
            let mut v = base.clone();
            edit(&mut v);
            assert!(parse_fast(&v.to_string()).is_none(), "{v}");
        }
        let dup = TINY_3.replacen("\"pack_size\": 6", "\"pack_size\": 6, \"pack_size\": 7", 1);
        assert!(parse_fast(&dup).is_none());
        assert!(parse_fast("[]").is_none());
    }

    #[test]
    fn dates_read_like_chrono_reads_them() {
        for s in [
            "2021-03-01",
            "2020-02-29",
            "0000-01-01",
            "2021-3-1",
            "+2021-03-01",
            "2021-02-29",
            "2021-13-01",
            "2021-00-10",
            "2021-03-01x",
            "20210301",
            "",
        ] {
            assert_eq!(
                parse_date(s),
                NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
                "{s}"
            );
        }
    }

    #[test]
    fn escaped_strings_and_unknown_fields_are_fine() {
        let doc = TINY_3.replacen("\"Alpha\"", "\"Al\\u0070ha\"", 1).replacen(
            "\"pack_size\": 6",
            "\"pack_size\": 6, \"extra\": [{\"x\": 1}]",
            1,
        );
        let (_, towns, _) = parse_fast(&doc).expect("fast path");
        assert_eq!(towns[0].name, "Alpha");
    }

    #[test]
    fn repeated_or_unchecked_cohort_ids_are_not_vouched_for() {
        let dup = TINY_3.replacen("\"A@01-12\"", "\"A@01-06\"", 1);
        let (_, towns, distinct) = parse_fast(&dup).expect("well-formed");
        assert!(!distinct);
        assert_eq!(towns[0].second_dose_queue[1].cohort_id, "A@01-06");
        let mut v: serde_json::Value = serde_json::from_str(TINY_3).expect("JSON");
        v["towns"][2]["second_dose_queue"] = (0..=SHORT_QUEUE)
            .map(|j| {
                serde_json::json!({"cohort_id": format!("q{j}"),
                "first_dose_date": "2021-02-01", "count": 1})
            })
            .collect();
        let (_, _, distinct) = parse_fast(&v.to_string()).expect("well-formed");
        assert!(!distinct);
    }
}
