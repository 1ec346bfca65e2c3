//! The `lex-v1` engine: hands out the shipment's packs level by level (urgent second
//! doses, reserve, first doses with leximin fairness, due second doses by window close)
//! and turns each town's doses into its plan.
//!
//! Every town's best use of its doses is its own affair (see `town`), so the engine only
//! chooses pack counts. When a level runs short, its packs are all used there and the
//! levels below can only use local stock; that is why ties left by a level can be settled
//! town by town by looking at the levels below (`config_cmp`).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::ser::{SerializeSeq, SerializeStruct, Serializer};
use serde::Serialize;

use super::instance::Instance;
use super::plan::{FirstDoseCap, Levels, Plan, TownExplanation, TownPlan, PLAN_SCHEMA};
use super::rounding::{allocate_level, leximin_cmp, water_level, Candidate, LevelItem, Ratio};
use super::town::{Calendar, Outcome, TownModel};

/// Plans the shipment of a validated instance. Pure and deterministic.
pub fn plan(instance: &Instance) -> Plan {
    Solved::new(instance).into_plan()
}

/// `serde_json::to_string_pretty(&plan(instance))`, byte for byte, written straight from
/// the solution: no town or cohort id is cloned and no explanation is built.
pub(crate) fn plan_json_pretty(instance: &Instance) -> serde_json::Result<Vec<u8>> {
    let solved = Solved::new(instance);
    let cohorts: usize = solved.outcomes.iter().map(|o| o.cohort_doses.len()).sum();
    // About what a town with a few second doses takes, so the buffer rarely grows.
    let mut out = Vec::with_capacity(512 + 128 * solved.models.len() + 16 * cohorts);
    serde_json::to_writer_pretty(&mut out, &PlanJson(&solved))?;
    Ok(out)
}

/// The pack counts of a plan and what each town does with its doses.
struct Solved<'a> {
    instance: &'a Instance,
    /// Town models, sorted by town id.
    models: Vec<TownModel>,
    /// Best use of each town's doses, in the order of `models`.
    outcomes: Vec<Outcome>,
    /// Packs shipped to each town.
    packs: Vec<u64>,
    /// Packs shipped to each town at the first-dose level.
    first_packs: Vec<u64>,
    /// Pack size.
    n: u64,
}

impl<'a> Solved<'a> {
    /// Runs the levels of the policy.
    fn new(instance: &'a Instance) -> Self {
        let h = instance.header();
        let cal = Calendar::of(instance);
        let towns = instance.towns();
        let mut order: Vec<usize> = (0..towns.len()).collect();
        order.sort_by(|&x, &y| towns[x].id.cmp(&towns[y].id));
        let models: Vec<TownModel> = order
            .iter()
            .map(|&i| TownModel::new(i, &towns[i], &cal))
            .collect();
        let n = h.product.pack_size.max(1);
        let mut state = State {
            models: &models,
            n,
            packs_left: h.shipment.doses / n,
            total: models.iter().map(|m| m.stock).collect(),
            packs: vec![0; models.len()],
        };

        state.level(|m, t| {
            (t < m.urgent_full()).then(|| (i128::from(t), i128::from(m.ucap), m.ucap - t))
        });
        state.level(|m, t| {
            (t < m.reserve_full()).then(|| {
                let r = t.saturating_sub(m.ucap);
                (i128::from(r), i128::from(m.rho), m.reserve_full() - t)
            })
        });
        let before_first = state.packs.clone();
        state.level(|m, t| {
            (t < m.first_full()).then(|| {
                let f = t.saturating_sub(m.reserve_full());
                (
                    i128::from(m.first_dosed + f),
                    i128::from(m.eligible),
                    m.first_full() - t,
                )
            })
        });
        let first_packs: Vec<u64> = state
            .packs
            .iter()
            .zip(&before_first)
            .map(|(a, b)| a - b)
            .collect();
        state.due_levels();

        let outcomes: Vec<Outcome> = models
            .iter()
            .zip(&state.total)
            .map(|(m, &t)| m.outcome(t))
            .collect();
        let packs = state.packs;
        Self {
            instance,
            models,
            outcomes,
            packs,
            first_packs,
            n,
        }
    }
}

/// Packs handed out so far.
struct State<'a> {
    models: &'a [TownModel],
    n: u64,
    packs_left: u64,
    /// Doses each town holds: stock plus packs shipped.
    total: Vec<u64>,
    /// Packs shipped to each town.
    packs: Vec<u64>,
}

impl State<'_> {
    /// Runs one level; `stake` gives a town's `(num, den, need)` if the level is not
    /// yet complete for it.
    fn level(&mut self, stake: impl Fn(&TownModel, u64) -> Option<(i128, i128, u64)>) {
        if self.packs_left == 0 {
            return;
        }
        let items: Vec<LevelItem> = self
            .models
            .iter()
            .zip(&self.total)
            .enumerate()
            .filter_map(|(i, (m, &t))| {
                stake(m, t).map(|(num, den, need)| LevelItem {
                    town: i,
                    num,
                    den,
                    need,
                })
            })
            .filter(|it| it.need > 0 && it.den > 0)
            .collect();
        self.apply(&items);
    }

    /// Level d: due cohorts across all towns, one window-close day at a time.
    fn due_levels(&mut self) {
        if self.packs_left == 0 {
            return;
        }
        let saturation: Vec<Vec<(u64, u64)>> = self
            .models
            .iter()
            .map(|m| {
                if m.groups.is_empty() {
                    Vec::new()
                } else {
                    m.group_saturation()
                }
            })
            .collect();
        let mut entries: Vec<(i64, usize, usize)> = self
            .models
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                m.groups
                    .iter()
                    .enumerate()
                    .map(move |(g, gr)| (gr.close, i, g))
            })
            .collect();
        entries.sort_unstable();
        let mut start = 0;
        while start < entries.len() && self.packs_left > 0 {
            let close = entries[start].0;
            let mut end = start;
            while end < entries.len() && entries[end].0 == close {
                end += 1;
            }
            let items: Vec<LevelItem> = entries[start..end]
                .iter()
                .filter_map(|&(_, i, g)| {
                    let (most, threshold) = saturation[i][g];
                    let t = self.total[i];
                    (threshold > t).then(|| {
                        let need = threshold - t;
                        LevelItem {
                            town: i,
                            num: i128::from(most.saturating_sub(need)),
                            den: i128::from(self.models[i].groups[g].demand),
                            need,
                        }
                    })
                })
                .collect();
            self.apply(&items);
            start = end;
        }
    }

    /// Allocates the packs left to `items` and records them.
    fn apply(&mut self, items: &[LevelItem]) {
        if items.is_empty() || self.packs_left == 0 {
            return;
        }
        let (models, total, n) = (self.models, &self.total, self.n);
        let mut refine = |cands: &mut [Candidate]| refine_by_lower_levels(models, total, n, cands);
        let given = allocate_level(items, self.packs_left, n, &mut refine);
        for (it, p) in items.iter().zip(given) {
            self.packs[it.town] += p;
            self.total[it.town] += p * n;
            self.packs_left -= p;
        }
    }
}

/// Orders candidates that a level cannot tell apart (best first) by the whole
/// objective: the pack goes where the levels below gain most. Valid because such ties
/// only arise when the level uses up every pack left, so lower levels are town-local.
fn refine_by_lower_levels(models: &[TownModel], total: &[u64], n: u64, cands: &mut [Candidate]) {
    let scored: Vec<(Candidate, Outcome, Outcome)> = cands
        .iter()
        .map(|c| {
            let m = &models[c.town];
            let t = total[c.town] + c.base_packs * n;
            (*c, m.outcome(t + n), m.outcome(t))
        })
        .collect();
    let mut idx: Vec<usize> = (0..scored.len()).collect();
    idx.sort_by(|&x, &y| {
        let (cx, x1, x0) = &scored[x];
        let (cy, y1, y0) = &scored[y];
        config_cmp(&models[cx.town], x1, x0, &models[cy.town], y1, y0)
            .reverse()
            .then(cx.town.cmp(&cy.town))
    });
    for (slot, i) in cands.iter_mut().zip(idx) {
        *slot = scored[i].0;
    }
}

/// One component of the objective restricted to a few towns.
#[derive(Debug, PartialEq, Eq)]
enum Component {
    Sum(u64),
    Leximin(Vec<Ratio>),
}

impl Component {
    fn cmp_to(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Component::Sum(a), Component::Sum(b)) => a.cmp(b),
            (Component::Leximin(a), Component::Leximin(b)) => leximin_cmp(a, b),
            _ => Ordering::Equal,
        }
    }
}

/// The objective's components for a set of towns, highest level first: urgent doses and
/// their fairness, reserve and its fairness, first doses and coverage leximin, then per
/// window-close day the due doses and their fairness.
fn components(towns: &[(&TownModel, &Outcome)]) -> Vec<Component> {
    let sum = |f: &dyn Fn(&Outcome) -> u64| Component::Sum(towns.iter().map(|(_, o)| f(o)).sum());
    let lex = |f: &dyn Fn(&TownModel, &Outcome) -> Option<Ratio>| {
        Component::Leximin(towns.iter().filter_map(|(m, o)| f(m, o)).collect())
    };
    let mut out = vec![
        sum(&|o| o.a),
        lex(&|m, o| (m.ucap > 0).then(|| Ratio::new(o.a.into(), m.ucap.into()))),
        sum(&|o| o.r),
        lex(&|m, o| (m.rho > 0).then(|| Ratio::new(o.r.into(), m.rho.into()))),
        sum(&|o| o.f),
        lex(&|m, o| {
            (m.eligible > 0).then(|| Ratio::new((m.first_dosed + o.f).into(), m.eligible.into()))
        }),
    ];
    let mut closes: Vec<i64> = towns
        .iter()
        .flat_map(|(m, _)| m.groups.iter().map(|g| g.close))
        .collect();
    closes.sort_unstable();
    closes.dedup();
    for c in closes {
        let mut total = 0u64;
        let mut fracs = Vec::new();
        for (m, o) in towns {
            if let Some(g) = m.groups.iter().position(|g| g.close == c) {
                total += o.group_counts[g];
                fracs.push(Ratio::new(
                    o.group_counts[g].into(),
                    m.groups[g].demand.into(),
                ));
            }
        }
        out.push(Component::Sum(total));
        out.push(Component::Leximin(fracs));
    }
    out
}

/// Compares giving a pack to town x (`x1`, `y0`) with giving it to town y (`x0`, `y1`);
/// `Greater` means x is better. Comparing only the two towns is exact: sums and leximin
/// both ignore what the configurations have in common.
fn config_cmp(
    mx: &TownModel,
    x1: &Outcome,
    x0: &Outcome,
    my: &TownModel,
    y1: &Outcome,
    y0: &Outcome,
) -> Ordering {
    let cx = components(&[(mx, x1), (my, y0)]);
    let cy = components(&[(mx, x0), (my, y1)]);
    cx.iter()
        .zip(&cy)
        .map(|(a, b)| a.cmp_to(b))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The continuous water level of the spec's first-dose box for the plan's first-dose total.
fn continuous_water_level(models: &[TownModel], first_total: u64) -> Option<Ratio> {
    let lo_sum: u64 = models.iter().map(TownModel::lo).sum();
    let target = i128::from(first_total) - i128::from(lo_sum);
    if target <= 0 {
        return None;
    }
    let items: Vec<(i128, i128, i128)> = models
        .iter()
        .filter(|m| m.eligible > 0)
        .map(|m| {
            let lo = m.lo();
            (
                i128::from(m.first_dosed + lo),
                i128::from(m.eligible),
                i128::from(m.hi - lo),
            )
        })
        .collect();
    Some(water_level(&items, target))
}

impl Solved<'_> {
    /// Level totals and the continuous water level (`None` when no first dose is bought
    /// beyond what the towns' own stock pays for).
    fn levels(&self) -> (Levels, Option<Ratio>) {
        let outcomes = &self.outcomes;
        let first_total: u64 = outcomes.iter().map(|o| o.f).sum();
        let level = continuous_water_level(&self.models, first_total);
        let levels = Levels {
            urgent_second: outcomes.iter().map(|o| o.a).sum(),
            reserve: outcomes.iter().map(|o| o.r).sum(),
            first: first_total,
            other_second: outcomes.iter().map(Outcome::due_total).sum(),
            water_level: level.map_or(0.0, |l| (l.to_f64() * 1e6).round() / 1e6),
        };
        (levels, level)
    }

    /// Doses of the shipment that stay central.
    fn central_hold(&self) -> u64 {
        let shipped: u64 = self.packs.iter().map(|p| p * self.n).sum();
        self.instance.header().shipment.doses - shipped
    }

    /// Town `k` (in id order) and its second doses per cohort, in input order, cohorts
    /// getting none left out.
    fn second_doses(&self, k: usize) -> impl Iterator<Item = (&str, u64)> {
        self.instance.towns()[self.models[k].input]
            .second_dose_queue
            .iter()
            .zip(&self.outcomes[k].cohort_doses)
            .filter(|(_, &d)| d > 0)
            .map(|(c, &d)| (c.cohort_id.as_str(), d))
    }

    fn into_plan(self) -> Plan {
        let h = self.instance.header();
        let towns = self.instance.towns();
        let n = self.n;
        let (levels, level) = self.levels();
        let mut plans = Vec::with_capacity(self.models.len());
        let mut explanations = Vec::with_capacity(self.models.len());
        for (k, ((m, o), (&p, &fp))) in self
            .models
            .iter()
            .zip(&self.outcomes)
            .zip(self.packs.iter().zip(&self.first_packs))
            .enumerate()
        {
            let town = &towns[m.input];
            let second_doses: BTreeMap<String, u64> = self
                .second_doses(k)
                .map(|(id, d)| (id.to_owned(), d))
                .collect();
            let coverage = |f: u64| {
                if m.eligible == 0 {
                    0.0
                } else {
                    (m.first_dosed + f) as f64 / m.eligible as f64
                }
            };
            let above_water = level.is_some_and(|l| {
                m.eligible > 0 && Ratio::new((m.first_dosed + o.f).into(), m.eligible.into()) > l
            });
            // Within one pack of its ceiling after getting packs: the ceiling is what binds.
            let at_ceiling = o.f == m.hi || (fp > 0 && m.hi - o.f < n);
            let cap = if m.waiting == 0 {
                FirstDoseCap::None
            } else if at_ceiling && m.hi == m.waiting {
                FirstDoseCap::WaitingList
            } else if at_ceiling {
                FirstDoseCap::Capacity
            } else if fp == 0 && above_water {
                FirstDoseCap::Stock
            } else {
                FirstDoseCap::ShipmentExhausted
            };
            plans.push(TownPlan {
                id: town.id.clone(),
                ship_doses: p * n,
                first_doses: o.f,
                second_doses,
            });
            explanations.push(TownExplanation {
                id: town.id.clone(),
                ship_doses: p * n,
                urgent_second: o.a,
                reserve: o.r,
                first: o.f,
                other_second: o.due_total(),
                stock_left: o.left,
                reserve_target: m.rho,
                first_dose_cap: cap,
                coverage_before: coverage(0),
                coverage_after: coverage(o.f),
            });
        }
        Plan {
            schema: PLAN_SCHEMA.to_owned(),
            instance_id: h.instance_id.clone(),
            policy: h.policy.name.as_str().to_owned(),
            central_hold: self.central_hold(),
            towns: plans,
            levels,
            explanations,
        }
    }
}

/// Serialises a solution exactly as [`Plan`] serialises (same fields in the same order,
/// `second_doses` as a map sorted by cohort id), borrowing every string.
struct PlanJson<'s>(&'s Solved<'s>);

impl Serialize for PlanJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let solved = self.0;
        let h = solved.instance.header();
        let mut plan = serializer.serialize_struct("Plan", 6)?;
        plan.serialize_field("schema", PLAN_SCHEMA)?;
        plan.serialize_field("instance_id", &h.instance_id)?;
        plan.serialize_field("policy", h.policy.name.as_str())?;
        plan.serialize_field("central_hold", &solved.central_hold())?;
        plan.serialize_field("towns", &TownsJson(solved))?;
        plan.serialize_field("levels", &solved.levels().0)?;
        plan.end()
    }
}

/// The `towns` array of [`PlanJson`].
struct TownsJson<'s>(&'s Solved<'s>);

impl Serialize for TownsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let solved = self.0;
        let towns = solved.instance.towns();
        let mut seq = serializer.serialize_seq(Some(solved.models.len()))?;
        // One buffer for every town's second doses.
        let mut second: Vec<(&str, u64)> = Vec::new();
        for (k, m) in solved.models.iter().enumerate() {
            second.clear();
            second.extend(solved.second_doses(k));
            // What collecting into a `BTreeMap` does: sort by key, the last value of a
            // repeated key wins (cohort ids are unique in a town, so none repeats).
            second.sort_by(|x, y| x.0.cmp(y.0));
            second.dedup_by(|later, earlier| {
                let same = later.0 == earlier.0;
                if same {
                    earlier.1 = later.1;
                }
                same
            });
            seq.serialize_element(&TownJson {
                id: &towns[m.input].id,
                ship_doses: solved.packs[k] * solved.n,
                first_doses: solved.outcomes[k].f,
                second_doses: SecondDosesJson(&second),
            })?;
        }
        seq.end()
    }
}

/// One element of [`TownsJson`]: the fields of [`TownPlan`], in its order.
#[derive(Serialize)]
struct TownJson<'a> {
    id: &'a str,
    ship_doses: u64,
    first_doses: u64,
    second_doses: SecondDosesJson<'a>,
}

/// Second doses per cohort id, sorted by id: serialises like `BTreeMap<String, u64>`.
struct SecondDosesJson<'a>(&'a [(&'a str, u64)]);

impl Serialize for SecondDosesJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(id, d)| (id, d)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocation::instance::{parse_instance, tests::TINY_3};

    #[test]
    fn worked_example_matches_the_spec_levels_and_split() {
        let p = plan(&parse_instance(TINY_3).expect("valid"));
        assert_eq!(p.levels.urgent_second, 190);
        assert_eq!(p.levels.reserve, 40);
        assert_eq!(p.levels.first, 1280);
        assert_eq!(p.levels.other_second, 4);
        assert!((p.levels.water_level - 0.262917).abs() < 5e-7);
        assert_eq!(p.central_hold, 0);
        let ships: Vec<(&str, u64, u64)> = p
            .towns
            .iter()
            .map(|t| (t.id.as_str(), t.ship_doses, t.first_doses))
            .collect();
        assert_eq!(
            ships,
            vec![("A", 426, 376), ("B", 744, 624), ("C", 30, 280)]
        );
        assert_eq!(p.towns[0].second_doses.get("A@01-06"), Some(&70));
        assert_eq!(p.towns[0].second_doses.get("A@01-12"), Some(&4));
        assert_eq!(p.towns[1].second_doses.get("B@01-08"), Some(&120));
        assert!(p.towns[2].second_doses.is_empty());
    }

    #[test]
    fn worked_example_serializes_to_the_spec_plan() {
        let p = plan(&parse_instance(TINY_3).expect("valid"));
        let got: serde_json::Value = serde_json::to_value(&p).expect("serializable");
        let want: serde_json::Value = serde_json::from_str(
            r#"{"schema": "vax-alloc-plan/1", "instance_id": "tiny-3", "policy": "lex-v1", "central_hold": 0,
 "towns": [
  {"id": "A", "ship_doses": 426, "first_doses": 376, "second_doses": {"A@01-06": 70, "A@01-12": 4}},
  {"id": "B", "ship_doses": 744, "first_doses": 624, "second_doses": {"B@01-08": 120}},
  {"id": "C", "ship_doses": 30, "first_doses": 280, "second_doses": {}}],
 "levels": {"urgent_second": 190, "reserve": 40, "first": 1280, "other_second": 4,
            "water_level": 0.262917}}"#,
        )
        .expect("spec plan is JSON");
        assert_eq!(got, want);
    }

    #[test]
    fn worked_example_explains_each_town() {
        let p = plan(&parse_instance(TINY_3).expect("valid"));
        let caps: Vec<FirstDoseCap> = p.explanations.iter().map(|e| e.first_dose_cap).collect();
        assert_eq!(
            caps,
            vec![
                FirstDoseCap::Capacity,
                FirstDoseCap::ShipmentExhausted,
                FirstDoseCap::Capacity
            ]
        );
        let a = &p.explanations[0];
        assert_eq!(
            (
                a.urgent_second,
                a.reserve,
                a.first,
                a.other_second,
                a.stock_left
            ),
            (70, 40, 376, 4, 36)
        );
        assert!((p.explanations[1].coverage_after - 12624.0 / 48000.0).abs() < 1e-12);
        assert!((p.explanations[2].coverage_before - 400.0 / 6500.0).abs() < 1e-12);
    }
}

#[cfg(test)]
mod json_tests {
    use chrono::{Duration, NaiveDate};

    use super::*;
    use crate::allocation::instance::{
        parse_instance, tests::TINY_3, Capacity, Cohort, InstanceHeader, NextShipment, Policy,
        PolicyName, Product, Shipment, Town,
    };

    fn serde_pretty(inst: &Instance) -> String {
        serde_json::to_string_pretty(&plan(inst)).expect("serializable")
    }

    fn written(inst: &Instance) -> String {
        String::from_utf8(plan_json_pretty(inst).expect("serializable")).expect("UTF-8")
    }

    /// A reproducible instance with `n` towns, up to 12 cohorts each with ids whose
    /// byte order is not their input order (`c10` < `c2`), some of them non-ASCII.
    fn generated(n: usize, doses: u64, pack_size: u64, seed: u64) -> Instance {
        let mut state = seed | 1;
        let mut next = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        let run = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap_or_default();
        let towns = (0..n)
            .map(|i| {
                let eligible = next(50_000);
                let cap = next(300);
                Town {
                    id: format!("T{}", next(1_000_000) * 10_000 + i as u64),
                    name: format!("Town {i}"),
                    population: eligible,
                    eligible,
                    first_dosed: next(eligible / 2 + 1),
                    first_dose_waiting: if eligible == 0 {
                        0
                    } else {
                        next(eligible / 10)
                    },
                    stock_on_hand: next(300),
                    capacity_per_day: if i % 3 == 0 {
                        Capacity::Uniform(cap)
                    } else {
                        Capacity::Daily((0..7).map(|d| if d == 6 { 0 } else { cap }).collect())
                    },
                    second_dose_queue: (0..next(13))
                        .map(|j| Cohort {
                            cohort_id: if j % 5 == 4 {
                                format!("Kohorte-ä{j}")
                            } else {
                                format!("c{j}")
                            },
                            first_dose_date: run - Duration::days(20 + next(45) as i64),
                            count: next(200),
                        })
                        .collect(),
                }
            })
            .collect();
        let header = InstanceHeader {
            instance_id: format!("gen-\"{seed}\""),
            run_date: run,
            product: Product {
                id: "P".into(),
                min_interval_days: 21,
                max_interval_days: 56,
                pack_size,
            },
            shipment: Shipment {
                doses,
                received_date: run,
            },
            next_shipment: NextShipment {
                expected_date: run + Duration::days(7),
                latest_date: run + Duration::days(10),
            },
            policy: Policy {
                name: PolicyName::LexV1,
                reserve_safety_factor: 0.7,
            },
        };
        Instance::new(header, towns).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_worked_example_is_written_as_serde_writes_the_plan() {
        let inst = parse_instance(TINY_3).expect("valid");
        assert_eq!(written(&inst), serde_pretty(&inst));
        let empty = Instance::new(inst.header().clone(), Vec::new()).expect("valid");
        assert_eq!(written(&empty), serde_pretty(&empty));
    }

    #[test]
    fn generated_plans_are_written_as_serde_writes_them() {
        for (seed, doses, pack) in [
            (1, 0, 6),
            (2, 600, 1),
            (3, 60_000, 6),
            (4, 600_000, 10),
            (5, 10_000_000, 6),
        ] {
            let inst = generated(150, doses, pack, seed);
            assert_eq!(written(&inst), serde_pretty(&inst), "seed {seed}");
        }
    }
}
