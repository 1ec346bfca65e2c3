//! Splitting one town's share across its vaccination sites with the same engine.
//!
//! Within a town the policy is the same, one level down: each site is a "town" of a
//! derived instance whose shipment is what the town was shipped, with the parent's dates,
//! product and policy. Sites get whole packs too (a pack is not split between sites).
//!
//! A town's share is delivered whole: what the sites cannot use before the next shipment
//! (an adjusted share larger than the town's need, or rounding) is not held back as the
//! engine's `central_hold` would be, since the town was promised it and told so. It goes to
//! the sites as stock, pack by pack to the site with the fewest doses per seat over the
//! horizon ([`place_whole_share`]), so the split always adds up to the share.

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
/// its `sites`; the sites' shipments add up to the town's.
pub fn plan_split_sites(
    parent: &Instance,
    town: &TownPlan,
    sites: Vec<Town>,
) -> Result<Plan, AllocError> {
    split_whole_share(&derived_site_instance(
        parent,
        &town.id,
        town.ship_doses,
        sites,
    )?)
}

/// Plans a derived site instance (each "town" a site, the shipment the town's share) and
/// places the whole share at the sites: the plan's `central_hold` is 0 and its shipments add
/// up to the instance's shipment. An error when there is a share but no site to take it.
pub fn split_whole_share(sites: &Instance) -> Result<Plan, AllocError> {
    let mut split = plan(sites);
    place_whole_share(sites, &mut split)?;
    Ok(split)
}

/// Give the doses `split` holds back (its shipment less what it ships) to the sites, in whole
/// packs where they are whole, each next pack to the site whose stock after the plan is the
/// fewest doses per seat over the horizon (sites without seats only when no site has any; ties
/// to the first site by id). A site's first and second doses do not change: the extra doses are
/// stock. Errors only when there is something to place and no site.
pub fn place_whole_share(sites: &Instance, split: &mut Plan) -> Result<(), AllocError> {
    let share = sites.header().shipment.doses;
    let shipped: u64 = split.towns.iter().map(|t| t.ship_doses).sum();
    let mut left = share.saturating_sub(shipped);
    if left == 0 {
        split.central_hold = 0;
        return Ok(());
    }
    if split.towns.is_empty() {
        return Err(AllocError::new(
            "towns",
            format!("no site to receive the {share} doses of the share"),
        ));
    }
    let pack = sites.header().product.pack_size.max(1);
    let days = sites.horizon_days() as usize;
    // (index into split.towns, seats over the horizon, doses held after the plan)
    let mut fill: Vec<(usize, u64, u64)> = split
        .towns
        .iter()
        .enumerate()
        .map(|(i, tp)| {
            let site = sites.towns().iter().find(|t| t.id == tp.id);
            let seats = site.map_or(0, |s| s.capacity_per_day.per_day(days).iter().sum());
            let stock = site.map_or(0, |s| s.stock_on_hand);
            (i, seats, stock.saturating_add(tp.ship_doses))
        })
        .collect();
    if fill.iter().any(|f| f.1 > 0) {
        fill.retain(|f| f.1 > 0);
    } else {
        // No seats anywhere: even out the stock.
        fill.iter_mut().for_each(|f| f.1 = 1);
    }
    // Most of it at once: whole packs up to a common level of doses per seat, found in floating
    // point and kept below what is left; the exact pack-by-pack filling below finishes it.
    if left / pack > fill.len() as u64 {
        let level = fill_level(&fill, left as f64);
        let mut bulk: Vec<u64> = fill
            .iter()
            .map(|&(_, seats, held)| {
                let want = (level * seats as f64 - held as f64).max(0.0);
                (want / pack as f64).floor() as u64 * pack
            })
            .collect();
        if bulk.iter().sum::<u64>() > left {
            bulk.iter_mut().for_each(|b| *b = 0);
        }
        for (f, b) in fill.iter_mut().zip(bulk) {
            f.2 += b;
            split.towns[f.0].ship_doses += b;
            left -= b;
        }
    }
    while left > 0 {
        let n = left.min(pack);
        let Some(f) = fill.iter_mut().reduce(|best, f| {
            // f.held / f.seats < best.held / best.seats, exactly.
            if u128::from(f.2) * u128::from(best.1) < u128::from(best.2) * u128::from(f.1) {
                f
            } else {
                best
            }
        }) else {
            break;
        };
        f.2 += n;
        split.towns[f.0].ship_doses += n;
        left -= n;
    }
    for (tp, ex) in split.towns.iter().zip(split.explanations.iter_mut()) {
        ex.ship_doses = tp.ship_doses;
    }
    split.central_hold = 0;
    Ok(())
}

/// The level L of doses per seat with `sum(max(0, L * seats - held)) = doses`.
fn fill_level(fill: &[(usize, u64, u64)], doses: f64) -> f64 {
    let mut by_level: Vec<(f64, f64)> = fill
        .iter()
        .map(|&(_, seats, held)| (held as f64 / seats as f64, seats as f64))
        .collect();
    by_level.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Raise the level site by site: with the first k sites below it, L = (doses + their held)
    // / their seats, valid while it does not pass the next site's own level.
    let (mut held, mut seats) = (0.0, 0.0);
    let mut level = 0.0;
    for (k, &(own, s)) in by_level.iter().enumerate() {
        held += own * s;
        seats += s;
        level = (doses + held) / seats;
        if by_level.get(k + 1).is_none_or(|next| level <= next.0) {
            break;
        }
    }
    level
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
    fn a_share_larger_than_the_need_reaches_the_sites_whole_by_seats() {
        let parent = parse_instance(TINY_3).expect("valid");
        // 600 doses for a town whose sites need far fewer: the rest is stock, by seats.
        let sites = vec![
            site("s1", 10, 0, 100),
            site("s2", 10, 0, 50),
            site("s3", 10, 0, 0),
        ];
        let inst = derived_site_instance(&parent, "B", 600, sites).expect("valid");
        let need = crate::allocation::plan(&inst);
        assert!(need.central_hold > 0, "the engine alone holds some back");
        let split = split_whole_share(&inst).expect("placed");
        assert_eq!(split.central_hold, 0);
        let ship: Vec<u64> = split.towns.iter().map(|t| t.ship_doses).collect();
        assert_eq!(ship.iter().sum::<u64>(), 600, "{ship:?}");
        assert!(ship.iter().all(|s| s % 6 == 0), "{ship:?}");
        assert_eq!(ship[2], 0, "no seats, no stock: {ship:?}");
        // Two to one, like their seats, within a pack.
        assert!(
            (ship[0] as i64 - 2 * ship[1] as i64).abs() <= 12,
            "{ship:?}"
        );
        for (t, n) in split.towns.iter().zip(&need.towns) {
            assert_eq!(
                t.first_doses, n.first_doses,
                "the doses given do not change"
            );
        }
    }

    #[test]
    fn a_share_is_placed_exactly_however_large() {
        let parent = parse_instance(TINY_3).expect("valid");
        for (share, seats) in [(6, [0, 0]), (600_000_000, [3, 7]), (1_200, [0, 5])] {
            let sites = vec![site("a", 0, 13, seats[0]), site("b", 0, 0, seats[1])];
            let inst = derived_site_instance(&parent, "B", share, sites).expect("valid");
            let split = split_whole_share(&inst).expect("placed");
            let ship: Vec<u64> = split.towns.iter().map(|t| t.ship_doses).collect();
            assert_eq!(ship.iter().sum::<u64>(), share, "{share}: {ship:?}");
            if seats == [0, 5] {
                assert_eq!(ship[0], 0, "only the site with seats: {ship:?}");
            }
        }
        let inst = derived_site_instance(&parent, "B", 6, vec![]).expect("valid");
        assert!(split_whole_share(&inst).is_err(), "no site to take it");
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
