//! Allocation of a vaccine shipment between towns under policy `lex-v1`
//! (see `ALLOCATION.md`): parse an instance, plan it, print the plan.
//!
//! Errors: every input problem is an [`AllocError`] naming the field; planning itself
//! cannot fail. Submodules refer to each other through `super::`, so this folder can be
//! dropped into another crate as `src/allocation/` unchanged.

mod engine;
mod error;
mod instance;
mod plan;
mod rounding;
mod schedule;
mod sites;
mod town;
mod wire;

#[cfg(test)]
mod oracle;

pub use engine::plan;
pub use error::AllocError;
pub use instance::{
    parse_instance, Capacity, Cohort, Instance, InstanceHeader, NextShipment, Policy, PolicyName,
    Product, Shipment, Town, INSTANCE_SCHEMA, MAX_COUNT, MAX_INTERVAL_DAYS, MAX_WINDOW_DAYS,
};
pub use plan::{FirstDoseCap, Levels, Plan, TownExplanation, TownPlan, PLAN_SCHEMA};
pub use sites::{derived_site_instance, place_whole_share, plan_split_sites, split_whole_share};

/// Parses an instance document, plans it and returns the plan as pretty JSON.
pub fn run_cli(input: &str) -> Result<String, AllocError> {
    let instance = parse_instance(input)?;
    // Same bytes as `serde_json::to_string_pretty(&plan(&instance))`, without the copies.
    let json = engine::plan_json_pretty(&instance)
        .map_err(|e| AllocError::new("(plan)", format!("cannot serialize the plan: {e}")))?;
    String::from_utf8(json)
        .map_err(|e| AllocError::new("(plan)", format!("cannot serialize the plan: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_cli_prints_the_plan_or_the_first_error() {
        let out = run_cli(instance::tests::TINY_3).expect("valid");
        assert!(out.contains("\"schema\": \"vax-alloc-plan/1\""));
        assert!(out.contains("\"water_level\": 0.262917"));
        assert!(!out.contains("explanations"));
        let e = run_cli("{}").expect_err("empty");
        assert_eq!(e.to_string(), "schema: is required");
    }

    #[test]
    fn an_instance_without_towns_keeps_everything_central() {
        let mut v: serde_json::Value =
            serde_json::from_str(instance::tests::TINY_3).expect("example is JSON");
        v["towns"] = serde_json::json!([]);
        let out = run_cli(&v.to_string()).expect("valid");
        let plan: serde_json::Value = serde_json::from_str(&out).expect("plan is JSON");
        assert_eq!(plan["central_hold"], 1200);
        assert_eq!(plan["towns"], serde_json::json!([]));
        assert_eq!(plan["levels"]["water_level"], 0.0);
    }
}
