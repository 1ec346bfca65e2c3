//! The output of a run: `vax-alloc-plan/1` decisions, plus a per-town explanation that is
//! kept out of the plan JSON (a page shows it to say why a town got what it got).

use std::collections::BTreeMap;

use serde::Serialize;

/// The `schema` value of a plan document.
pub const PLAN_SCHEMA: &str = "vax-alloc-plan/1";

/// A plan: how many doses each town is shipped and how it should use them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Always [`PLAN_SCHEMA`].
    pub schema: String,
    /// The instance's id.
    pub instance_id: String,
    /// The policy that made the plan (`lex-v1`).
    pub policy: String,
    /// Doses of the shipment that stay central.
    pub central_hold: u64,
    /// One entry per town, sorted by id.
    pub towns: Vec<TownPlan>,
    /// Totals of each level.
    pub levels: Levels,
    /// Why each town got what it got, in the order of `towns`; not part of the plan JSON.
    #[serde(skip)]
    pub explanations: Vec<TownExplanation>,
}

/// One town's decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TownPlan {
    /// Town id.
    pub id: String,
    /// Doses shipped to the town (whole packs).
    pub ship_doses: u64,
    /// First doses to give over the horizon.
    pub first_doses: u64,
    /// Second doses to give, per cohort id; cohorts getting none are left out.
    pub second_doses: BTreeMap<String, u64>,
}

/// Level totals of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Levels {
    /// Level a: urgent and overdue second doses given in their windows.
    pub urgent_second: u64,
    /// Level a2: reserve protected (kept as stock or given to late cohorts).
    pub reserve: u64,
    /// Level b: first doses.
    pub first: u64,
    /// Level d: other due second doses (including those given to late cohorts).
    pub other_second: u64,
    /// Level c: the continuous water level of first-dose coverage, to 6 decimals.
    pub water_level: f64,
}

/// What capped a town's first doses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FirstDoseCap {
    /// Seats left after urgent second doses ran out.
    Capacity,
    /// Everybody waiting gets a first dose.
    WaitingList,
    /// The town's own stock lifted it above the water level; the shipment went elsewhere.
    Stock,
    /// The shipment ran out (the town is at the water level or the higher levels took it).
    ShipmentExhausted,
    /// Nobody is waiting for a first dose.
    None,
}

/// Why a town got what it got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TownExplanation {
    /// Town id.
    pub id: String,
    /// Doses shipped.
    pub ship_doses: u64,
    /// Level a: urgent and overdue second doses.
    pub urgent_second: u64,
    /// Level a2: reserve protected (kept, or given to late cohorts).
    pub reserve: u64,
    /// Level b: first doses.
    pub first: u64,
    /// Level d: other due second doses.
    pub other_second: u64,
    /// Doses still in the town after the plan (the kept reserve and rounding leftovers).
    pub stock_left: u64,
    /// Reserve target `rho` of the town.
    pub reserve_target: u64,
    /// What stopped more first doses.
    pub first_dose_cap: FirstDoseCap,
    /// First-dose coverage before the plan, `first_dosed / eligible` (0 when nobody is eligible).
    pub coverage_before: f64,
    /// First-dose coverage after the plan.
    pub coverage_after: f64,
}
