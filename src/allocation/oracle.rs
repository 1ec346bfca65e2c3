//! Independent checks of the engine, for tests only: windows recomputed from the raw
//! dates, schedules checked by Hall's condition over every interval of days, each
//! town's best use found by enumerating every choice, the lex-v1 objective evaluated
//! directly, a brute force over all allocations, and random small instances.
//!
//! Nothing here calls engine code; it reads only the validated input and the plan.

// Day arithmetic is written as in ALLOCATION.md (`c <= H-1`), not simplified.
#![allow(clippy::int_plus_one)]

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;

use super::instance::{
    Capacity, Cohort, Instance, InstanceHeader, NextShipment, Policy, PolicyName, Product,
    Shipment, Town,
};
use super::plan::Plan;

/// A cohort as the oracle sees it.
#[derive(Debug, Clone)]
struct OCohort {
    id: String,
    /// Days on which its second doses may be given now, if any.
    window: Option<(usize, usize)>,
    urgent: bool,
    late: bool,
    close: i64,
    count: u64,
}

/// A town as the oracle sees it.
#[derive(Debug, Clone)]
struct OTown {
    id: String,
    eligible: u64,
    first_dosed: u64,
    waiting: u64,
    stock: u64,
    cap: Vec<u64>,
    cohorts: Vec<OCohort>,
    rho: u64,
    ucap: u64,
    /// Window-close days of its schedulable due cohorts, with their people.
    due_groups: BTreeMap<i64, u64>,
}

/// The best use of some doses in one town.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Use {
    a: u64,
    r: u64,
    f: u64,
    /// Due doses per entry of `due_groups`.
    d: Vec<u64>,
}

fn towns_of(inst: &Instance) -> Vec<OTown> {
    let h = inst.header();
    let horizon = (h.next_shipment.expected_date - h.run_date).num_days();
    let late = (h.next_shipment.latest_date - h.next_shipment.expected_date).num_days();
    let min = i64::from(h.product.min_interval_days);
    let max = i64::from(h.product.max_interval_days);
    inst.towns()
        .iter()
        .map(|t| {
            let cap = match &t.capacity_per_day {
                Capacity::Uniform(c) => vec![*c; horizon as usize],
                Capacity::Daily(v) => v.clone(),
            };
            let mut late_people = 0u64;
            let cohorts: Vec<OCohort> = t
                .second_dose_queue
                .iter()
                .map(|c| {
                    let age = (c.first_dose_date - h.run_date).num_days();
                    let open = age + min;
                    let close = age + max;
                    let is_late = horizon <= close && close <= horizon + late - 1;
                    if is_late {
                        late_people += c.count;
                    }
                    let window = if horizon == 0 {
                        None
                    } else if close < 0 {
                        Some((0, horizon - 1))
                    } else if close <= horizon - 1 {
                        Some((open.max(0), close))
                    } else if open <= horizon - 1 {
                        Some((open.max(0), horizon - 1))
                    } else {
                        None
                    };
                    OCohort {
                        id: c.cohort_id.clone(),
                        window: window.map(|(a, b)| (a as usize, b as usize)),
                        urgent: close <= horizon - 1,
                        late: is_late,
                        close,
                        count: c.count,
                    }
                })
                .collect();
            let rho = (h.policy.reserve_safety_factor * late_people as f64).ceil() as u64;
            let mut due_groups = BTreeMap::new();
            for c in cohorts.iter().filter(|c| !c.urgent && c.window.is_some()) {
                *due_groups.entry(c.close).or_insert(0) += c.count;
            }
            let mut town = OTown {
                id: t.id.clone(),
                eligible: t.eligible,
                first_dosed: t.first_dosed,
                waiting: t.first_dose_waiting,
                stock: t.stock_on_hand,
                cap,
                cohorts,
                rho,
                ucap: 0,
                due_groups,
            };
            town.ucap = best_use(&town, u64::MAX / 4).a;
            town
        })
        .collect()
}

/// Hall's condition: for every interval of days, the doses whose window lies inside it
/// fit in its seats. Doses for a cohort with no window make it fail.
fn schedulable(cap: &[u64], jobs: &[(Option<(usize, usize)>, u64)]) -> bool {
    if jobs.iter().any(|(w, n)| w.is_none() && *n > 0) {
        return false;
    }
    for x in 0..cap.len() {
        for y in x..cap.len() {
            let seats: u64 = cap[x..=y].iter().sum();
            let inside: u64 = jobs
                .iter()
                .filter_map(|(w, n)| w.map(|(a, b)| (a, b, *n)))
                .filter(|&(a, b, _)| x <= a && b <= y)
                .map(|(_, _, n)| n)
                .sum();
            if inside > seats {
                return false;
            }
        }
    }
    true
}

/// Per-town value of a complete choice: urgent, reserve, first, due per group.
fn use_of(t: &OTown, total: u64, doses: &[u64], first: u64) -> Use {
    let used: u64 = doses.iter().sum::<u64>() + first;
    let a = t
        .cohorts
        .iter()
        .zip(doses)
        .filter(|(c, _)| c.urgent)
        .map(|(_, n)| n)
        .sum();
    let late_given: u64 = t
        .cohorts
        .iter()
        .zip(doses)
        .filter(|(c, _)| !c.urgent && c.late)
        .map(|(_, n)| n)
        .sum();
    let d = t
        .due_groups
        .keys()
        .map(|close| {
            t.cohorts
                .iter()
                .zip(doses)
                .filter(|(c, _)| !c.urgent && c.close == *close)
                .map(|(_, n)| n)
                .sum()
        })
        .collect();
    Use {
        a,
        r: t.rho.min(total - used + late_given),
        f: first,
        d,
    }
}

/// The lexicographically best use of `total` doses in town `t`, by enumeration.
fn best_use(t: &OTown, total: u64) -> Use {
    let k = t.cohorts.len();
    let mut doses = vec![0u64; k];
    let mut best: Option<Use> = None;
    loop {
        let second: u64 = doses.iter().sum();
        if second <= total {
            let jobs: Vec<(Option<(usize, usize)>, u64)> = t
                .cohorts
                .iter()
                .zip(&doses)
                .map(|(c, &n)| (c.window, n))
                .collect();
            for first in 0..=t.waiting.min(total - second) {
                let mut all = jobs.clone();
                if !t.cap.is_empty() {
                    all.push((Some((0, t.cap.len() - 1)), first));
                } else if first > 0 {
                    break;
                }
                if !schedulable(&t.cap, &all) {
                    break;
                }
                let u = use_of(t, total, &doses, first);
                let better = match &best {
                    None => true,
                    Some(b) => (u.a, u.r, u.f, &u.d) > (b.a, b.r, b.f, &b.d),
                };
                if better {
                    best = Some(u);
                }
            }
        }
        // Next combination of per-cohort doses (odometer).
        let mut i = 0;
        loop {
            if i == k {
                return best.unwrap_or(Use {
                    a: 0,
                    r: t.rho.min(total),
                    f: 0,
                    d: vec![0; t.due_groups.len()],
                });
            }
            if doses[i] < t.cohorts[i].count && t.cohorts[i].window.is_some() {
                doses[i] += 1;
                break;
            }
            doses[i] = 0;
            i += 1;
        }
    }
}

/// An exact fraction for the oracle.
#[derive(Debug, Clone, Copy)]
struct Frac(u128, u128);

impl Frac {
    fn cmp(self, o: Frac) -> Ordering {
        (self.0 * o.1).cmp(&(o.0 * self.1))
    }
}

/// One component of the objective.
#[derive(Debug, Clone)]
enum Key {
    Int(i128),
    Lex(Vec<Frac>),
}

fn key_cmp(x: &Key, y: &Key) -> Ordering {
    match (x, y) {
        (Key::Int(a), Key::Int(b)) => a.cmp(b),
        (Key::Lex(a), Key::Lex(b)) => {
            let mut a = a.clone();
            let mut b = b.clone();
            a.sort_by(|p, q| p.cmp(*q));
            b.sort_by(|p, q| p.cmp(*q));
            for (p, q) in a.iter().zip(&b) {
                let o = p.cmp(*q);
                if o.is_ne() {
                    return o;
                }
            }
            a.len().cmp(&b.len())
        }
        _ => panic!("objective shapes differ"),
    }
}

/// Lexicographic comparison of two objective vectors.
fn objective_cmp(x: &[Key], y: &[Key]) -> Ordering {
    x.iter()
        .zip(y)
        .map(|(a, b)| key_cmp(a, b))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Evaluates allocations of one instance, caching each town's best use.
struct Oracle {
    towns: Vec<OTown>,
    doses: u64,
    pack: u64,
    cache: HashMap<(usize, u64), Use>,
}

impl Oracle {
    fn new(inst: &Instance) -> Self {
        Self {
            towns: towns_of(inst),
            doses: inst.header().shipment.doses,
            pack: inst.header().product.pack_size,
            cache: HashMap::new(),
        }
    }

    fn use_at(&mut self, i: usize, ship: u64) -> Use {
        let total = self.towns[i].stock + ship;
        if let Some(u) = self.cache.get(&(i, total)) {
            return u.clone();
        }
        let u = best_use(&self.towns[i], total);
        self.cache.insert((i, total), u.clone());
        u
    }

    /// The lex-v1 objective of shipping `ship[i]` doses to town `i` (instance order).
    fn objective(&mut self, ship: &[u64]) -> Vec<Key> {
        let uses: Vec<Use> = (0..ship.len()).map(|i| self.use_at(i, ship[i])).collect();
        let t = &self.towns;
        let sum = |f: &dyn Fn(&Use) -> u64| Key::Int(uses.iter().map(|u| i128::from(f(u))).sum());
        // Each town's share `part / whole`, towns whose `whole` is zero left out.
        let shares = |whole: &dyn Fn(&OTown) -> u64, part: &dyn Fn(&OTown, &Use) -> u64| {
            Key::Lex(
                t.iter()
                    .zip(&uses)
                    .filter(|(t, _)| whole(t) > 0)
                    .map(|(t, u)| Frac(part(t, u).into(), whole(t).into()))
                    .collect(),
            )
        };
        let mut keys = vec![
            sum(&|u| u.a),
            shares(&|t| t.ucap, &|_, u| u.a),
            sum(&|u| u.r),
            shares(&|t| t.rho, &|_, u| u.r),
            sum(&|u| u.f),
            shares(&|t| t.eligible, &|t, u| t.first_dosed + u.f),
        ];
        let closes: BTreeSet<i64> = t
            .iter()
            .flat_map(|t| t.due_groups.keys().copied())
            .collect();
        for close in closes {
            let mut total = 0i128;
            let mut fracs = Vec::new();
            for (town, u) in t.iter().zip(&uses) {
                if let Some(g) = town.due_groups.keys().position(|c| *c == close) {
                    total += i128::from(u.d[g]);
                    fracs.push(Frac(u.d[g].into(), town.due_groups[&close].into()));
                }
            }
            keys.push(Key::Int(total));
            keys.push(Key::Lex(fracs));
        }
        keys.push(Key::Int(-ship.iter().map(|&s| i128::from(s)).sum::<i128>()));
        keys
    }

    /// The plan's shipments in instance order.
    fn ships_of(&self, plan: &Plan) -> Vec<u64> {
        self.towns
            .iter()
            .map(|t| {
                plan.towns
                    .iter()
                    .find(|p| p.id == t.id)
                    .map_or(0, |p| p.ship_doses)
            })
            .collect()
    }

    /// Every way to ship whole packs, at most the shipment in all.
    fn all_allocations(&self) -> Vec<Vec<u64>> {
        let packs = self.doses / self.pack;
        let mut out = Vec::new();
        let mut cur = vec![0u64; self.towns.len()];
        fn rec(i: usize, left: u64, pack: u64, cur: &mut Vec<u64>, out: &mut Vec<Vec<u64>>) {
            if i == cur.len() {
                out.push(cur.clone());
                return;
            }
            for p in 0..=left {
                cur[i] = p * pack;
                rec(i + 1, left - p, pack, cur, out);
            }
            cur[i] = 0;
        }
        rec(0, packs, self.pack, &mut cur, &mut out);
        out
    }
}

/// Checks that a plan is feasible and that every town uses its doses as well as it can;
/// returns the first problem found.
fn check_plan(inst: &Instance, plan: &Plan) -> Result<(), String> {
    let mut oracle = Oracle::new(inst);
    let h = inst.header();
    let n = h.product.pack_size;
    let ships = oracle.ships_of(plan);
    let shipped: u64 = ships.iter().sum();
    if shipped + plan.central_hold != h.shipment.doses {
        return Err(format!(
            "shipped {shipped} + hold {} != shipment",
            plan.central_hold
        ));
    }
    let ids: Vec<&str> = plan.towns.iter().map(|t| t.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    if ids != sorted || ids.len() != inst.towns().len() {
        return Err("plan towns are not the instance's towns sorted by id".into());
    }
    let (mut urgent, mut reserve, mut first, mut other) = (0u64, 0u64, 0u64, 0u64);
    for (i, t) in oracle.towns.clone().iter().enumerate() {
        let p = plan
            .towns
            .iter()
            .find(|p| p.id == t.id)
            .ok_or("town missing")?;
        if p.ship_doses % n != 0 {
            return Err(format!("{}: {} is not whole packs", t.id, p.ship_doses));
        }
        if p.first_doses > t.waiting {
            return Err(format!("{}: more first doses than people waiting", t.id));
        }
        let mut doses = vec![0u64; t.cohorts.len()];
        for (cid, &d) in &p.second_doses {
            let j = t
                .cohorts
                .iter()
                .position(|c| &c.id == cid)
                .ok_or(format!("{}: unknown cohort {cid}", t.id))?;
            if d > t.cohorts[j].count {
                return Err(format!("{}: {cid} gets more doses than people", t.id));
            }
            doses[j] = d;
        }
        let total = t.stock + p.ship_doses;
        let used = doses.iter().sum::<u64>() + p.first_doses;
        if used > total {
            return Err(format!("{}: uses {used} doses of {total}", t.id));
        }
        let mut jobs: Vec<(Option<(usize, usize)>, u64)> = t
            .cohorts
            .iter()
            .zip(&doses)
            .map(|(c, &d)| (c.window, d))
            .collect();
        jobs.push((
            t.cap.len().checked_sub(1).map(|last| (0, last)),
            p.first_doses,
        ));
        if !schedulable(&t.cap, &jobs) {
            return Err(format!("{}: no day-by-day schedule exists", t.id));
        }
        let got = use_of(t, total, &doses, p.first_doses);
        let best = oracle.use_at(i, p.ship_doses);
        if got != best {
            return Err(format!(
                "{}: uses its doses as {got:?}, best is {best:?}",
                t.id
            ));
        }
        urgent += got.a;
        reserve += got.r;
        first += got.f;
        other += got.d.iter().sum::<u64>();
    }
    let l = &plan.levels;
    if (l.urgent_second, l.reserve, l.first, l.other_second) != (urgent, reserve, first, other) {
        return Err(format!("levels {l:?} disagree with the towns' doses"));
    }
    Ok(())
}

/// Checks that no single-pack move improves the objective: between two towns, from
/// the central hold to a town, or from a town back to the hold.
fn check_local_optimality(inst: &Instance, plan: &Plan) -> Result<(), String> {
    let mut oracle = Oracle::new(inst);
    let n = inst.header().product.pack_size;
    let ships = oracle.ships_of(plan);
    let base = oracle.objective(&ships);
    let k = ships.len();
    let mut moves: Vec<Vec<u64>> = Vec::new();
    for j in 0..k {
        if ships[j] >= n {
            let mut s = ships.clone();
            s[j] -= n;
            moves.push(s.clone());
            for t in 0..k {
                if t != j {
                    let mut s2 = s.clone();
                    s2[t] += n;
                    moves.push(s2);
                }
            }
        }
        if plan.central_hold >= n {
            let mut s = ships.clone();
            s[j] += n;
            moves.push(s);
        }
    }
    for m in moves {
        let obj = oracle.objective(&m);
        if objective_cmp(&obj, &base) == Ordering::Greater {
            return Err(format!("shipping {m:?} beats the plan's {ships:?}"));
        }
    }
    Ok(())
}

/// Builds a small random instance from generated parts.
#[allow(clippy::type_complexity)]
fn build_instance(
    (horizon, late, min, spread, pack, doses, sigma): (u32, u32, u32, u32, u64, u64, usize),
    towns: Vec<(
        u64,
        u64,
        u64,
        u64,
        Option<Vec<u64>>,
        u64,
        Vec<(u32, u64)>,
        u8,
    )>,
) -> Instance {
    let run = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap_or_default();
    let max = min + spread;
    let header = InstanceHeader {
        instance_id: "prop".into(),
        run_date: run,
        product: Product {
            id: "P".into(),
            min_interval_days: min,
            max_interval_days: max,
            pack_size: pack,
        },
        shipment: Shipment {
            doses,
            received_date: run,
        },
        next_shipment: NextShipment {
            expected_date: run + Duration::days(i64::from(horizon)),
            latest_date: run + Duration::days(i64::from(horizon + late)),
        },
        policy: Policy {
            name: PolicyName::LexV1,
            reserve_safety_factor: [0.0, 0.5, 1.0][sigma % 3],
        },
    };
    let towns = towns
        .into_iter()
        .enumerate()
        .map(
            |(i, (eligible, first_dosed, waiting, stock, daily, uniform, cohorts, tag))| {
                let capacity_per_day = match daily {
                    Some(mut v) => {
                        v.resize(horizon as usize, 1);
                        Capacity::Daily(v)
                    }
                    None => Capacity::Uniform(uniform),
                };
                Town {
                    id: format!("{}{i}", ['q', 'b', 'x', 'a'][usize::from(tag % 4)]),
                    name: String::new(),
                    population: eligible,
                    eligible,
                    first_dosed: first_dosed.min(eligible),
                    first_dose_waiting: waiting,
                    stock_on_hand: stock,
                    capacity_per_day,
                    second_dose_queue: cohorts
                        .into_iter()
                        .enumerate()
                        .map(|(j, (age, count))| Cohort {
                            cohort_id: format!("c{j}"),
                            first_dose_date: run - Duration::days(i64::from(age % (max + 3))),
                            count,
                        })
                        .collect(),
                }
            },
        )
        .collect();
    Instance::new(header, towns).unwrap_or_else(|e| panic!("generated instance invalid: {e}"))
}

/// Random small instances: `towns` towns, pack sizes from `packs`, up to `doses` doses.
fn arb_instance(
    towns: std::ops::RangeInclusive<usize>,
    packs: Vec<u64>,
    doses: u64,
) -> impl Strategy<Value = Instance> {
    let header = (
        0u32..=4,
        0u32..=3,
        1u32..=5,
        0u32..=4,
        proptest::sample::select(packs),
        0..=doses,
        0usize..3,
    );
    let town = (
        1u64..=30,
        0u64..=10,
        0u64..=5,
        0u64..=6,
        proptest::option::of(proptest::collection::vec(0u64..=3, 4)),
        0u64..=3,
        proptest::collection::vec((0u32..=12, 1u64..=3), 0..=3),
        any::<u8>(),
    );
    (header, proptest::collection::vec(town, towns)).prop_map(|(h, t)| build_instance(h, t))
}

/// Checks that no allocation of whole packs has a better objective than the plan's.
fn compare_with_brute_force(inst: &Instance) -> Result<(), String> {
    let plan = crate::allocation::plan(inst);
    let mut oracle = Oracle::new(inst);
    let ours_ship = oracle.ships_of(&plan);
    let ours = oracle.objective(&ours_ship);
    for ship in oracle.all_allocations() {
        if objective_cmp(&oracle.objective(&ship), &ours) == Ordering::Greater {
            return Err(format!(
                "engine ships {ours_ship:?}, brute force finds better {ship:?}"
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn plans_are_feasible_and_towns_use_doses_best(
        inst in arb_instance(1..=4, vec![1, 2, 3, 6], 30)
    ) {
        let plan = crate::allocation::plan(&inst);
        prop_assert_eq!(check_plan(&inst, &plan), Ok(()));
    }

    #[test]
    fn plans_are_deterministic_and_ignore_town_order(
        inst in arb_instance(1..=4, vec![1, 3], 30)
    ) {
        let once = serde_json::to_string(&crate::allocation::plan(&inst)).unwrap_or_default();
        let twice = serde_json::to_string(&crate::allocation::plan(&inst)).unwrap_or_default();
        prop_assert_eq!(&once, &twice);
        let mut towns = inst.towns().to_vec();
        towns.reverse();
        let reversed = Instance::new(inst.header().clone(), towns)
            .unwrap_or_else(|e| panic!("{e}"));
        let again = serde_json::to_string(&crate::allocation::plan(&reversed)).unwrap_or_default();
        prop_assert_eq!(&once, &again);
    }

    #[test]
    fn no_single_pack_move_improves_the_plan(
        inst in arb_instance(2..=4, vec![1, 2, 3, 6], 30)
    ) {
        let plan = crate::allocation::plan(&inst);
        prop_assert_eq!(check_local_optimality(&inst, &plan), Ok(()));
    }

    #[test]
    fn single_dose_plans_match_brute_force(
        inst in arb_instance(2..=3, vec![1], 8)
    ) {
        prop_assert_eq!(compare_with_brute_force(&inst), Ok(()));
    }

    #[test]
    fn pack_plans_match_brute_force(
        inst in arb_instance(2..=3, vec![2, 3], 14)
    ) {
        prop_assert_eq!(compare_with_brute_force(&inst), Ok(()));
    }
}

#[test]
fn brute_force_agrees_on_the_shipment_of_a_hand_made_case() {
    // Town x: 1 eligible; town y: 100 eligible; 2 doses, nobody else.
    let inst = build_instance(
        (2, 0, 1, 0, 1, 2, 0),
        vec![
            (1, 0, 1, 0, None, 5, vec![], 0),
            (100, 0, 5, 0, None, 5, vec![], 1),
        ],
    );
    let plan = crate::allocation::plan(&inst);
    assert_eq!(check_plan(&inst, &plan), Ok(()));
    let ships: Vec<u64> = plan.towns.iter().map(|t| t.ship_doses).collect();
    // Leximin: the small town first (coverage 1), then the big one (1/100).
    assert_eq!(ships, vec![1, 1]);
    assert_eq!(check_local_optimality(&inst, &plan), Ok(()));
}
