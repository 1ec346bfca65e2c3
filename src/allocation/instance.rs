//! The input of a run: `vax-alloc-instance/1` documents, parsed into validated types.
//!
//! [`parse_instance`] checks JSON shapes (types, required fields, known schema and policy)
//! and [`Instance::new`] checks meaning (dates in order, capacity arrays of the right
//! length, unique ids). Both report the offending field by its path.

use std::collections::HashSet;
use std::fmt;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::error::AllocError;
use super::wire::parse_fast;

/// The `schema` value an instance document must carry.
pub const INSTANCE_SCHEMA: &str = "vax-alloc-instance/1";
/// Largest count accepted anywhere (keeps all exact arithmetic well inside `i128`).
pub const MAX_COUNT: u64 = 1_000_000_000_000;
/// Longest horizon (run date to expected next shipment) and longest lateness, in days.
pub const MAX_WINDOW_DAYS: i64 = 366;
/// Largest accepted product interval, in days.
pub const MAX_INTERVAL_DAYS: u64 = 3660;

/// The vaccine product of the shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Product code.
    pub id: String,
    /// Earliest day after a first dose that the second dose may be given.
    pub min_interval_days: u32,
    /// Latest day after a first dose that the second dose may be given.
    pub max_interval_days: u32,
    /// Doses per pack; shipments are whole packs when this is more than 1.
    pub pack_size: u64,
}

/// The shipment being allocated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    /// Doses received.
    pub doses: u64,
    /// Day the shipment arrived.
    pub received_date: NaiveDate,
}

/// When the next shipment is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextShipment {
    /// Announced arrival; fixes the horizon.
    pub expected_date: NaiveDate,
    /// Latest plausible arrival; fixes which cohorts the reserve protects.
    pub latest_date: NaiveDate,
}

/// Allocation policies this engine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyName {
    /// The lexicographic policy of `ALLOCATION.md`.
    LexV1,
}

impl PolicyName {
    /// The name as written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyName::LexV1 => "lex-v1",
        }
    }
}

/// Policy and its parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Which policy.
    pub name: PolicyName,
    /// Share (0..=1) of the people whose window closes while a late shipment is awaited
    /// that the reserve protects.
    pub reserve_safety_factor: f64,
}

/// A town's daily vaccination capacity over the horizon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capacity {
    /// The same number of seats every day.
    Uniform(u64),
    /// One number per day of the horizon.
    Daily(Vec<u64>),
}

impl Capacity {
    /// Seats per day for a horizon of `days` days.
    pub fn per_day(&self, days: usize) -> Vec<u64> {
        match self {
            Capacity::Uniform(c) => vec![*c; days],
            Capacity::Daily(v) => v.clone(),
        }
    }
}

/// People of one town first-dosed on one date, waiting for their second dose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cohort {
    /// Identifier, unique within its town.
    pub cohort_id: String,
    /// Date of their first dose.
    pub first_dose_date: NaiveDate,
    /// People in the cohort.
    pub count: u64,
}

/// One town (or, for a site split, one site).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Town {
    /// Identifier, unique in the instance; the plan lists towns sorted by it.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Residents.
    pub population: u64,
    /// Residents eligible for vaccination (the coverage denominator).
    pub eligible: u64,
    /// Eligible residents who already had a first dose.
    pub first_dosed: u64,
    /// People waiting for a first dose.
    pub first_dose_waiting: u64,
    /// Doses already in the town.
    pub stock_on_hand: u64,
    /// Seats per day.
    pub capacity_per_day: Capacity,
    /// Cohorts waiting for a second dose.
    pub second_dose_queue: Vec<Cohort>,
}

/// Everything in an instance except its towns.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceHeader {
    /// Identifier echoed into the plan.
    pub instance_id: String,
    /// Day 0 of the plan.
    pub run_date: NaiveDate,
    /// The product.
    pub product: Product,
    /// The shipment to allocate.
    pub shipment: Shipment,
    /// The next shipment.
    pub next_shipment: NextShipment,
    /// The policy.
    pub policy: Policy,
}

/// A validated instance; only [`parse_instance`] and [`Instance::new`] make one.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    header: InstanceHeader,
    towns: Vec<Town>,
}

impl Instance {
    /// Validates a header and towns; errors name fields as the JSON document would.
    pub fn new(header: InstanceHeader, towns: Vec<Town>) -> Result<Self, AllocError> {
        Self::validated(header, towns, false)
    }

    /// [`Instance::new`], told whether every town's cohort ids are already known to be
    /// distinct (then that check is skipped; the result is the same).
    pub(crate) fn validated(
        header: InstanceHeader,
        towns: Vec<Town>,
        cohort_ids_distinct: bool,
    ) -> Result<Self, AllocError> {
        validate_header(&header)?;
        let horizon = (header.next_shipment.expected_date - header.run_date).num_days();
        let mut ids = HashSet::with_capacity(towns.len());
        for (i, town) in towns.iter().enumerate() {
            validate_town(i, town, &header, horizon, cohort_ids_distinct)?;
            if !ids.insert(town.id.as_str()) {
                return Err(AllocError::new(
                    format!("towns[{i}].id"),
                    format!("duplicate town id \"{}\"", town.id),
                ));
            }
        }
        Ok(Self { header, towns })
    }

    /// Everything but the towns.
    pub fn header(&self) -> &InstanceHeader {
        &self.header
    }

    /// The towns, in input order.
    pub fn towns(&self) -> &[Town] {
        &self.towns
    }

    /// H: days from the run date to the expected next shipment (days 0..H-1 are planned).
    pub fn horizon_days(&self) -> u32 {
        day_count(
            self.header.run_date,
            self.header.next_shipment.expected_date,
        )
    }

    /// Lt: how many days late the next shipment may be.
    pub fn late_days(&self) -> u32 {
        day_count(
            self.header.next_shipment.expected_date,
            self.header.next_shipment.latest_date,
        )
    }
}

/// Whole days from `from` to `to`; validation guarantees `0..=MAX_WINDOW_DAYS`.
fn day_count(from: NaiveDate, to: NaiveDate) -> u32 {
    u32::try_from((to - from).num_days().clamp(0, MAX_WINDOW_DAYS)).unwrap_or(0)
}

fn validate_header(h: &InstanceHeader) -> Result<(), AllocError> {
    if h.instance_id.is_empty() {
        return Err(AllocError::new("instance_id", "must not be empty"));
    }
    let p = &h.product;
    if p.pack_size == 0 {
        return Err(AllocError::new("product.pack_size", "must be at least 1"));
    }
    check_max("product.pack_size", p.pack_size)?;
    for (path, v) in [
        ("product.min_interval_days", p.min_interval_days),
        ("product.max_interval_days", p.max_interval_days),
    ] {
        if u64::from(v) > MAX_INTERVAL_DAYS {
            return Err(AllocError::new(
                path,
                format!("must be at most {MAX_INTERVAL_DAYS}"),
            ));
        }
    }
    if p.min_interval_days > p.max_interval_days {
        return Err(AllocError::new(
            "product.max_interval_days",
            "must not be less than min_interval_days",
        ));
    }
    check_max("shipment.doses", h.shipment.doses)?;
    check_window(
        "next_shipment.expected_date",
        h.run_date,
        h.next_shipment.expected_date,
        "run_date",
    )?;
    check_window(
        "next_shipment.latest_date",
        h.next_shipment.expected_date,
        h.next_shipment.latest_date,
        "expected_date",
    )?;
    let sigma = h.policy.reserve_safety_factor;
    if !sigma.is_finite() || !(0.0..=1.0).contains(&sigma) {
        return Err(AllocError::new(
            "policy.reserve_safety_factor",
            "must be a number from 0 to 1",
        ));
    }
    Ok(())
}

fn validate_town(
    i: usize,
    t: &Town,
    h: &InstanceHeader,
    horizon: i64,
    cohort_ids_distinct: bool,
) -> Result<(), AllocError> {
    // Paths are only formatted for the error that is returned.
    let path = |rest: fmt::Arguments<'_>| format!("towns[{i}].{rest}");
    if t.id.is_empty() {
        return Err(AllocError::new(
            path(format_args!("id")),
            "must not be empty",
        ));
    }
    for (name, v) in [
        ("population", t.population),
        ("eligible", t.eligible),
        ("first_dosed", t.first_dosed),
        ("first_dose_waiting", t.first_dose_waiting),
        ("stock_on_hand", t.stock_on_hand),
    ] {
        if v > MAX_COUNT {
            return Err(too_large(path(format_args!("{name}"))));
        }
    }
    if t.eligible == 0 && t.first_dose_waiting > 0 {
        return Err(AllocError::new(
            path(format_args!("eligible")),
            "must be positive when first_dose_waiting is positive",
        ));
    }
    match &t.capacity_per_day {
        Capacity::Uniform(c) => {
            if *c > MAX_COUNT {
                return Err(too_large(path(format_args!("capacity_per_day"))));
            }
        }
        Capacity::Daily(days) => {
            if i64::try_from(days.len()).ok() != Some(horizon) {
                return Err(AllocError::new(
                    path(format_args!("capacity_per_day")),
                    format!(
                        "must be one number or an array of exactly {horizon} numbers \
                         (one per day until the next shipment), got {}",
                        days.len()
                    ),
                ));
            }
            if let Some(d) = days.iter().position(|&c| c > MAX_COUNT) {
                return Err(too_large(path(format_args!("capacity_per_day[{d}]"))));
            }
        }
    }
    let queue = &t.second_dose_queue;
    // Short queues (the usual case) look for duplicate ids among quick fingerprints
    // instead of a `HashSet`; ids are only compared when their fingerprints match.
    let mut prints = [0u64; SHORT_QUEUE];
    let mut ids = HashSet::new();
    for (j, c) in queue.iter().enumerate() {
        let cpath = |field: &str| path(format_args!("second_dose_queue[{j}].{field}"));
        if c.cohort_id.is_empty() {
            return Err(AllocError::new(cpath("cohort_id"), "must not be empty"));
        }
        let duplicate = if cohort_ids_distinct {
            false
        } else if queue.len() <= SHORT_QUEUE {
            let print = fingerprint(&c.cohort_id);
            prints[j] = print;
            prints[..j]
                .iter()
                .zip(queue)
                .any(|(&p, o)| p == print && o.cohort_id == c.cohort_id)
        } else {
            !ids.insert(c.cohort_id.as_str())
        };
        if duplicate {
            return Err(AllocError::new(
                cpath("cohort_id"),
                format!("duplicate cohort id \"{}\" in this town", c.cohort_id),
            ));
        }
        if c.first_dose_date > h.run_date {
            return Err(AllocError::new(
                cpath("first_dose_date"),
                "must not be after run_date",
            ));
        }
        if (h.run_date - c.first_dose_date).num_days() > 100 * MAX_WINDOW_DAYS {
            return Err(AllocError::new(
                cpath("first_dose_date"),
                "is implausibly far before run_date",
            ));
        }
        if c.count > MAX_COUNT {
            return Err(too_large(cpath("count")));
        }
    }
    Ok(())
}

/// Longest cohort queue whose ids are checked for repeats by [`fingerprint`]s.
pub(crate) const SHORT_QUEUE: usize = 16;

/// A quick 64-bit fingerprint of a string: equal strings have equal fingerprints.
pub(crate) fn fingerprint(s: &str) -> u64 {
    let mix = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    let mut chunks = s.as_bytes().chunks_exact(8);
    let mut h = s.len() as u64;
    for chunk in &mut chunks {
        h = mix(h, u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    mix(h, tail)
}

fn too_large(path: String) -> AllocError {
    AllocError::new(path, format!("must be at most {MAX_COUNT}"))
}

/// The date at `path`, `to`, falls 0 to [`MAX_WINDOW_DAYS`] days after `from` (the field
/// `from_name`).
fn check_window(
    path: &str,
    from: NaiveDate,
    to: NaiveDate,
    from_name: &str,
) -> Result<(), AllocError> {
    let days = (to - from).num_days();
    if days < 0 {
        return Err(AllocError::new(
            path,
            format!("must not be before {from_name}"),
        ));
    }
    if days > MAX_WINDOW_DAYS {
        return Err(AllocError::new(
            path,
            format!("must be at most {MAX_WINDOW_DAYS} days after {from_name}"),
        ));
    }
    Ok(())
}

fn check_max(path: &str, v: u64) -> Result<(), AllocError> {
    if v > MAX_COUNT {
        Err(AllocError::new(
            path,
            format!("must be at most {MAX_COUNT}"),
        ))
    } else {
        Ok(())
    }
}

/// Parses and validates a `vax-alloc-instance/1` document.
///
/// Unknown fields are ignored; missing or mistyped ones are errors naming their path.
///
/// Well-formed documents take a typed fast path (see `wire`); only when that gives up is
/// the document parsed again as a `serde_json::Value` tree, which names the bad field.
pub fn parse_instance(json: &str) -> Result<Instance, AllocError> {
    match parse_fast(json) {
        Some((header, towns, cohort_ids_distinct)) => {
            Instance::validated(header, towns, cohort_ids_distinct)
        }
        None => parse_instance_value(json),
    }
}

/// The reference parser: checks shapes on a `Value` tree, naming each field by its path.
fn parse_instance_value(json: &str) -> Result<Instance, AllocError> {
    let value: Value = serde_json::from_str(json)
        .map_err(|e| AllocError::new("(document)", format!("invalid JSON: {e}")))?;
    let root = Obj::root(&value)?;
    let schema = root.string("schema")?;
    if schema != INSTANCE_SCHEMA {
        return Err(AllocError::new(
            "schema",
            format!("unknown schema \"{schema}\", expected \"{INSTANCE_SCHEMA}\""),
        ));
    }
    let product = root.object("product")?;
    let shipment = root.object("shipment")?;
    let next = root.object("next_shipment")?;
    let policy = root.object("policy")?;
    let policy_name = policy.string("name")?;
    let name = match policy_name.as_str() {
        "lex-v1" => PolicyName::LexV1,
        other => {
            return Err(AllocError::new(
                policy.path_of("name"),
                format!("unknown policy \"{other}\", expected \"lex-v1\""),
            ))
        }
    };
    let header = InstanceHeader {
        instance_id: root.string("instance_id")?,
        run_date: root.date("run_date")?,
        product: Product {
            id: product.string("id")?,
            min_interval_days: product.days("min_interval_days")?,
            max_interval_days: product.days("max_interval_days")?,
            pack_size: product.count("pack_size")?,
        },
        shipment: Shipment {
            doses: shipment.count("doses")?,
            received_date: shipment.date("received_date")?,
        },
        next_shipment: NextShipment {
            expected_date: next.date("expected_date")?,
            latest_date: next.date("latest_date")?,
        },
        policy: Policy {
            name,
            reserve_safety_factor: policy.number("reserve_safety_factor")?,
        },
    };
    let (towns_json, towns_path) = root.array("towns")?;
    let mut towns = Vec::with_capacity(towns_json.len());
    for (i, tv) in towns_json.iter().enumerate() {
        let t = Obj::at(tv, format!("{towns_path}[{i}]"))?;
        towns.push(parse_town(&t)?);
    }
    Instance::new(header, towns)
}

fn parse_town(t: &Obj<'_>) -> Result<Town, AllocError> {
    let cap_path = t.path_of("capacity_per_day");
    let capacity_per_day = match t.field("capacity_per_day")? {
        Value::Array(items) => Capacity::Daily(
            items
                .iter()
                .enumerate()
                .map(|(d, v)| as_count(v, &format!("{cap_path}[{d}]")))
                .collect::<Result<_, _>>()?,
        ),
        v @ Value::Number(_) => Capacity::Uniform(as_count(v, &cap_path)?),
        _ => {
            return Err(AllocError::new(
                cap_path,
                "must be a non-negative integer or an array of them",
            ))
        }
    };
    let (queue_json, queue_path) = t.array("second_dose_queue")?;
    let mut second_dose_queue = Vec::with_capacity(queue_json.len());
    for (j, cv) in queue_json.iter().enumerate() {
        let c = Obj::at(cv, format!("{queue_path}[{j}]"))?;
        second_dose_queue.push(Cohort {
            cohort_id: c.string("cohort_id")?,
            first_dose_date: c.date("first_dose_date")?,
            count: c.count("count")?,
        });
    }
    Ok(Town {
        id: t.string("id")?,
        name: t.string("name")?,
        population: t.count("population")?,
        eligible: t.count("eligible")?,
        first_dosed: t.count("first_dosed")?,
        first_dose_waiting: t.count("first_dose_waiting")?,
        stock_on_hand: t.count("stock_on_hand")?,
        capacity_per_day,
        second_dose_queue,
    })
}

fn as_count(v: &Value, path: &str) -> Result<u64, AllocError> {
    v.as_u64()
        .ok_or_else(|| AllocError::new(path, "must be a non-negative integer"))
}

/// A JSON object together with its path, for error messages.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn root(v: &'a Value) -> Result<Self, AllocError> {
        match v {
            Value::Object(map) => Ok(Self {
                map,
                path: String::new(),
            }),
            _ => Err(AllocError::new("(document)", "must be a JSON object")),
        }
    }

    fn at(v: &'a Value, path: String) -> Result<Self, AllocError> {
        match v {
            Value::Object(map) => Ok(Self { map, path }),
            _ => Err(AllocError::new(path, "must be an object")),
        }
    }

    fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    fn field(&self, name: &str) -> Result<&'a Value, AllocError> {
        self.map
            .get(name)
            .ok_or_else(|| AllocError::new(self.path_of(name), "is required"))
    }

    fn object(&self, name: &str) -> Result<Obj<'a>, AllocError> {
        Obj::at(self.field(name)?, self.path_of(name))
    }

    fn array(&self, name: &str) -> Result<(&'a Vec<Value>, String), AllocError> {
        match self.field(name)? {
            Value::Array(items) => Ok((items, self.path_of(name))),
            _ => Err(AllocError::new(self.path_of(name), "must be an array")),
        }
    }

    fn string(&self, name: &str) -> Result<String, AllocError> {
        self.field(name)?
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| AllocError::new(self.path_of(name), "must be a string"))
    }

    fn count(&self, name: &str) -> Result<u64, AllocError> {
        as_count(self.field(name)?, &self.path_of(name))
    }

    fn days(&self, name: &str) -> Result<u32, AllocError> {
        let v = self.count(name)?;
        u32::try_from(v).map_err(|_| {
            AllocError::new(
                self.path_of(name),
                format!("must be at most {MAX_INTERVAL_DAYS}"),
            )
        })
    }

    fn number(&self, name: &str) -> Result<f64, AllocError> {
        self.field(name)?
            .as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| AllocError::new(self.path_of(name), "must be a finite number"))
    }

    fn date(&self, name: &str) -> Result<NaiveDate, AllocError> {
        let s = self.field(name)?.as_str().ok_or_else(|| {
            AllocError::new(
                self.path_of(name),
                "must be an ISO date string (YYYY-MM-DD)",
            )
        })?;
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            AllocError::new(
                self.path_of(name),
                format!("must be an ISO date (YYYY-MM-DD), got \"{s}\""),
            )
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The worked example of `ALLOCATION.md`.
    pub(crate) const TINY_3: &str = r#"{"schema": "vax-alloc-instance/1", "instance_id": "tiny-3", "run_date": "2021-03-01",
 "product": {"id": "MRNA-A", "min_interval_days": 21, "max_interval_days": 56, "pack_size": 6},
 "shipment": {"doses": 1200, "received_date": "2021-03-01"},
 "next_shipment": {"expected_date": "2021-03-08", "latest_date": "2021-03-11"},
 "policy": {"name": "lex-v1", "reserve_safety_factor": 1.0},
 "towns": [
  {"id": "A", "name": "Alpha", "population": 20000, "eligible": 16000, "first_dosed": 2000,
   "first_dose_waiting": 900, "stock_on_hand": 60, "capacity_per_day": [80,80,80,80,80,50,0],
   "second_dose_queue": [
     {"cohort_id": "A@01-06", "first_dose_date": "2021-01-06", "count": 70},
     {"cohort_id": "A@01-12", "first_dose_date": "2021-01-12", "count": 40},
     {"cohort_id": "A@02-01", "first_dose_date": "2021-02-01", "count": 150}]},
  {"id": "B", "name": "Beta", "population": 60000, "eligible": 48000, "first_dosed": 12000,
   "first_dose_waiting": 2500, "stock_on_hand": 0, "capacity_per_day": 150,
   "second_dose_queue": [
     {"cohort_id": "B@01-08", "first_dose_date": "2021-01-08", "count": 120},
     {"cohort_id": "B@02-05", "first_dose_date": "2021-02-05", "count": 300}]},
  {"id": "C", "name": "Gamma", "population": 8000, "eligible": 6500, "first_dosed": 400,
   "first_dose_waiting": 300, "stock_on_hand": 250, "capacity_per_day": 40,
   "second_dose_queue": []}]}"#;

    /// Applies `edit` to the parsed example and returns the resulting error message.
    fn error_after(edit: impl FnOnce(&mut Value)) -> String {
        let mut v: Value = serde_json::from_str(TINY_3).expect("example is JSON");
        edit(&mut v);
        match parse_instance(&v.to_string()) {
            Ok(_) => panic!("edit should make the instance invalid"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_worked_example_parses() {
        let inst = parse_instance(TINY_3).expect("valid");
        assert_eq!(inst.horizon_days(), 7);
        assert_eq!(inst.late_days(), 3);
        assert_eq!(inst.towns().len(), 3);
        assert_eq!(inst.towns()[1].capacity_per_day, Capacity::Uniform(150));
        assert_eq!(inst.header().product.pack_size, 6);
    }

    #[test]
    fn bad_json_is_rejected_with_a_document_path() {
        let e = parse_instance("{\"schema\": ").expect_err("bad JSON");
        assert_eq!(e.path(), "(document)");
        assert!(e.to_string().starts_with("(document): invalid JSON"));
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn negative_cohort_count_names_its_field() {
        let msg = error_after(|v| v["towns"][1]["second_dose_queue"][0]["count"] = (-3).into());
        assert_eq!(
            msg,
            "towns[1].second_dose_queue[0].count: must be a non-negative integer"
        );
    }

    #[test]
    fn fractional_stock_names_its_field() {
        let msg = error_after(|v| v["towns"][2]["stock_on_hand"] = 2.5.into());
        assert_eq!(
            msg,
            "towns[2].stock_on_hand: must be a non-negative integer"
        );
    }

    #[test]
    fn capacity_array_of_wrong_length_names_its_field() {
        let msg = error_after(|v| v["towns"][0]["capacity_per_day"] = serde_json::json!([1, 2]));
        assert!(
            msg.starts_with(
                "towns[0].capacity_per_day: must be one number or an array of exactly 7"
            ),
            "{msg}"
        );
    }

    #[test]
    fn negative_capacity_entry_names_its_index() {
        let msg = error_after(|v| v["towns"][0]["capacity_per_day"][3] = (-1).into());
        assert_eq!(
            msg,
            "towns[0].capacity_per_day[3]: must be a non-negative integer"
        );
    }

    #[test]
    fn unknown_schema_names_schema() {
        let msg = error_after(|v| v["schema"] = "vax-alloc-instance/2".into());
        assert!(msg.starts_with("schema: unknown schema"), "{msg}");
    }

    #[test]
    fn expected_date_before_run_date_names_it() {
        let msg = error_after(|v| v["next_shipment"]["expected_date"] = "2021-02-28".into());
        assert_eq!(
            msg,
            "next_shipment.expected_date: must not be before run_date"
        );
    }

    #[test]
    fn latest_date_before_expected_date_names_it() {
        let msg = error_after(|v| v["next_shipment"]["latest_date"] = "2021-03-07".into());
        assert_eq!(
            msg,
            "next_shipment.latest_date: must not be before expected_date"
        );
    }

    #[test]
    fn min_interval_above_max_interval_names_max() {
        let msg = error_after(|v| v["product"]["min_interval_days"] = 60.into());
        assert_eq!(
            msg,
            "product.max_interval_days: must not be less than min_interval_days"
        );
    }

    #[test]
    fn duplicate_town_id_names_the_second_one() {
        let msg = error_after(|v| v["towns"][2]["id"] = "A".into());
        assert_eq!(msg, "towns[2].id: duplicate town id \"A\"");
    }

    #[test]
    fn duplicate_cohort_id_names_it() {
        let msg =
            error_after(|v| v["towns"][0]["second_dose_queue"][2]["cohort_id"] = "A@01-06".into());
        assert_eq!(
            msg,
            "towns[0].second_dose_queue[2].cohort_id: duplicate cohort id \"A@01-06\" in this town"
        );
    }

    #[test]
    fn duplicate_cohort_id_in_a_long_queue_names_it() {
        for len in [16, 17, 40] {
            let msg = error_after(|v| {
                let queue: Vec<Value> = (0..len)
                    .map(|j| {
                        let id = if j == len - 1 { 3 } else { j };
                        serde_json::json!({"cohort_id": format!("q{id}"),
                            "first_dose_date": "2021-02-01", "count": 1})
                    })
                    .collect();
                v["towns"][2]["second_dose_queue"] = Value::Array(queue);
            });
            assert_eq!(
                msg,
                format!(
                    "towns[2].second_dose_queue[{}].cohort_id: duplicate cohort id \"q3\" in this town",
                    len - 1
                )
            );
        }
    }

    #[test]
    fn zero_pack_size_names_it() {
        let msg = error_after(|v| v["product"]["pack_size"] = 0.into());
        assert_eq!(msg, "product.pack_size: must be at least 1");
    }

    #[test]
    fn unknown_policy_names_it() {
        let msg = error_after(|v| v["policy"]["name"] = "pro-rata".into());
        assert_eq!(
            msg,
            "policy.name: unknown policy \"pro-rata\", expected \"lex-v1\""
        );
    }

    #[test]
    fn reserve_factor_outside_unit_interval_names_it() {
        for bad in [1.5, -0.1] {
            let msg = error_after(|v| v["policy"]["reserve_safety_factor"] = bad.into());
            assert_eq!(
                msg,
                "policy.reserve_safety_factor: must be a number from 0 to 1"
            );
        }
        let msg = error_after(|v| v["policy"]["reserve_safety_factor"] = "1".into());
        assert_eq!(msg, "policy.reserve_safety_factor: must be a finite number");
    }

    #[test]
    fn bad_dates_name_their_field() {
        let msg = error_after(|v| v["run_date"] = "03/01/2021".into());
        assert!(msg.starts_with("run_date: must be an ISO date"), "{msg}");
        let msg = error_after(|v| {
            v["towns"][0]["second_dose_queue"][1]["first_dose_date"] = "2021-03-05".into()
        });
        assert_eq!(
            msg,
            "towns[0].second_dose_queue[1].first_dose_date: must not be after run_date"
        );
    }

    #[test]
    fn missing_field_is_required() {
        let msg = error_after(|v| {
            if let Some(m) = v["towns"][1].as_object_mut() {
                m.remove("eligible");
            }
        });
        assert_eq!(msg, "towns[1].eligible: is required");
    }

    #[test]
    fn waiting_people_need_eligible_people() {
        let msg = error_after(|v| v["towns"][2]["eligible"] = 0.into());
        assert_eq!(
            msg,
            "towns[2].eligible: must be positive when first_dose_waiting is positive"
        );
    }

    /// Every node of the example replaced by each of a few values, and every field
    /// removed: the parser (fast path or not) answers exactly as the `Value` parser does.
    #[test]
    fn the_fast_path_never_changes_an_answer() {
        fn nodes(v: &Value, at: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
            out.push(at.clone());
            let children: Vec<(Value, &Value)> = match v {
                Value::Object(m) => m
                    .iter()
                    .map(|(k, c)| (Value::from(k.as_str()), c))
                    .collect(),
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (Value::from(i), c))
                    .collect(),
                _ => Vec::new(),
            };
            for (key, child) in children {
                at.push(key);
                nodes(child, at, out);
                at.pop();
            }
        }
        fn node<'v>(v: &'v mut Value, path: &[Value]) -> &'v mut Value {
            path.iter().fold(v, |v, k| match k {
                Value::String(s) => &mut v[s.as_str()],
                _ => &mut v[k.as_u64().unwrap_or(0) as usize],
            })
        }
        let base: Value = serde_json::from_str(TINY_3).expect("example is JSON");
        let mut paths = Vec::new();
        nodes(&base, &mut Vec::new(), &mut paths);
        let replacements = [
            serde_json::json!(null),
            serde_json::json!(true),
            serde_json::json!(0),
            serde_json::json!(7),
            serde_json::json!(-1),
            serde_json::json!(2.5),
            serde_json::json!(1.0),
            serde_json::json!(10_000_000_000_000u64),
            serde_json::json!(5_000_000_000u64),
            serde_json::json!(""),
            serde_json::json!("A@01-06"),
            serde_json::json!("2021-03-01"),
            serde_json::json!("2021-3-1"),
            serde_json::json!("lex-v1"),
            serde_json::json!([]),
            serde_json::json!([1, 2, 3, 4, 5, 6, 7]),
            serde_json::json!({}),
            serde_json::json!(["MRNA-A", 21, 56, 6]),
        ];
        let mut docs = vec![TINY_3.to_owned()];
        for path in &paths {
            for r in &replacements {
                let mut v = base.clone();
                *node(&mut v, path) = r.clone();
                docs.push(v.to_string());
            }
            if let Some((Value::String(last), parent)) = path.split_last() {
                let mut v = base.clone();
                if let Some(m) = node(&mut v, parent).as_object_mut() {
                    m.remove(last.as_str());
                }
                docs.push(v.to_string());
            }
        }
        docs.push(TINY_3.replacen("\"pack_size\": 6", "\"pack_size\": 6, \"pack_size\": 7", 1));
        docs.push(TINY_3.replacen("\"tiny-3\"", "\"tiny-\\u0033\"", 1));
        docs.push(TINY_3.replacen("\"lex-v1\"", "\"lex\\u002dv1\"", 1));
        for (from, to) in [
            ("\"stock_on_hand\": 0", "\"stock_on_hand\": -0"),
            ("\"stock_on_hand\": 0", "\"stock_on_hand\": 1e2"),
            ("50,0]", "50,-0]"),
            ("\"capacity_per_day\": 150", "\"capacity_per_day\": 150.0"),
            (
                "\"reserve_safety_factor\": 1.0",
                "\"reserve_safety_factor\": 1",
            ),
            (
                "\"reserve_safety_factor\": 1.0",
                "\"reserve_safety_factor\": 1e-400",
            ),
            (
                "\"reserve_safety_factor\": 1.0",
                "\"reserve_safety_factor\": 1e400",
            ),
            ("\"count\": 70", "\"count\": 18446744073709551616"),
        ] {
            assert!(TINY_3.contains(from), "{from}");
            docs.push(TINY_3.replacen(from, to, 1));
        }
        docs.push(format!("{TINY_3} x"));
        docs.push("[]".to_owned());
        assert!(docs.len() > 1000, "{}", docs.len());
        for doc in &docs {
            assert_eq!(parse_instance(doc), parse_instance_value(doc), "{doc}");
        }
    }

    #[test]
    fn absurd_counts_are_rejected() {
        let msg = error_after(|v| v["shipment"]["doses"] = 10_000_000_000_000u64.into());
        assert_eq!(msg, "shipment.doses: must be at most 1000000000000");
    }
}
