//! Splitting one town's share across its vaccination sites with the same engine.
//!
//! Within a town the policy is the same, one level down: each site is a "town" of a
//! derived instance whose shipment is what the town was shipped, with the parent's dates,
//! product and policy. Sites get whole packs too (a pack is not split between sites).

use super::engine::plan;
use super::error::AllocError;
use super::instance::{Instance, InstanceHeader, Shipment, Town};
use super::plan::{Plan, TownPlan};

/// The instance that splits `ship_doses` of town `town_id` across `sites`.
///
/// Each site is described as a [`Town`] (its own stock, seats, waiting list, eligible
/// people and cohorts). Site errors name paths as `towns[i]...` of the derived instance.
pub fn derived_site_instance(
    parent: &Instance,
    town_id: &str,
    ship_doses: u64,
    sites: Vec<Town>,
) -> Result<Instance, AllocError> {
    if !parent.towns().iter().any(|t| t.id == town_id) {
        return Err(AllocError::new(
            "town_id",
            format!(
                "no town \"{town_id}\" in instance \"{}\"",
                parent.header().instance_id
            ),
        ));
    }
    let h = parent.header();
    let header = InstanceHeader {
        instance_id: format!("{}/{town_id}", h.instance_id),
        run_date: h.run_date,
        product: h.product.clone(),
        shipment: Shipment {
            doses: ship_doses,
            received_date: h.shipment.received_date,
        },
        next_shipment: h.next_shipment.clone(),
        policy: h.policy.clone(),
    };
    Instance::new(header, sites)
}

/// Plans how a town's shipment (from `town`, a line of the parent plan) is split across
/// its `sites`.
pub fn plan_split_sites(
    parent: &Instance,
    town: &TownPlan,
    sites: Vec<Town>,
) -> Result<Plan, AllocError> {
    Ok(plan(&derived_site_instance(
        parent,
        &town.id,
        town.ship_doses,
        sites,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocation::instance::{parse_instance, tests::TINY_3, Capacity};

    fn site(id: &str, waiting: u64, stock: u64, seats: u64) -> Town {
        Town {
            id: id.to_owned(),
            name: id.to_owned(),
            population: 10_000,
            eligible: 8_000,
            first_dosed: 1_000,
            first_dose_waiting: waiting,
            stock_on_hand: stock,
            capacity_per_day: Capacity::Uniform(seats),
            second_dose_queue: Vec::new(),
        }
    }

    #[test]
    fn a_towns_share_is_split_across_its_sites_in_whole_packs() {
        let parent = parse_instance(TINY_3).expect("valid");
        let p = crate::allocation::plan(&parent);
        let b = p
            .towns
            .iter()
            .find(|t| t.id == "B")
            .expect("B planned")
            .clone();
        let split = plan_split_sites(
            &parent,
            &b,
            vec![site("B-north", 1500, 0, 100), site("B-south", 1000, 0, 50)],
        )
        .expect("valid sites");
        assert_eq!(split.instance_id, "tiny-3/B");
        let shipped: u64 = split.towns.iter().map(|t| t.ship_doses).sum();
        assert!(shipped + split.central_hold == b.ship_doses);
        assert!(split.towns.iter().all(|t| t.ship_doses % 6 == 0));
        assert_eq!(split.levels.first, b.ship_doses);
    }

    #[test]
    fn unknown_town_is_an_error() {
        let parent = parse_instance(TINY_3).expect("valid");
        let e = derived_site_instance(&parent, "Z", 6, vec![]).expect_err("no such town");
        assert_eq!(e.path(), "town_id");
    }

    #[test]
    fn invalid_sites_are_named_like_towns() {
        let parent = parse_instance(TINY_3).expect("valid");
        let e = derived_site_instance(
            &parent,
            "A",
            6,
            vec![site("s", 1, 0, 1), site("s", 1, 0, 1)],
        )
        .expect_err("duplicate");
        assert_eq!(e.to_string(), "towns[1].id: duplicate town id \"s\"");
    }
}
