//! One town seen by the engine: its cohorts' windows, urgent capacity `Ucap`, reserve
//! target `rho`, first-dose ceiling `hi`, and the best use of a given number of doses.
//!
//! Given the doses a town holds, its best use is fixed level by level and needs nothing
//! from other towns: urgent second doses, then the reserve, then first doses, then due
//! second doses by window close. The engine only decides how many packs each town gets.

use chrono::NaiveDate;

use super::instance::{Instance, Town};
use super::schedule::{edf, Job, TailSeats};

/// A cohort whose window closes inside the horizon (or has closed: overdue).
#[derive(Debug, Clone)]
struct UrgentCohort {
    cohort: usize,
    close: i64,
    job: Job,
}

/// A cohort whose window is open during the horizon and closes after it.
#[derive(Debug, Clone)]
struct DueCohort {
    cohort: usize,
    release: usize,
    count: u64,
    late: bool,
}

/// Due cohorts of one town sharing a window close day (level d serves them together).
#[derive(Debug, Clone)]
pub(crate) struct DueGroup {
    /// Window close, in days from the run date.
    pub close: i64,
    /// People in the group.
    pub demand: u64,
    start: usize,
    end: usize,
}

/// Static facts about one town.
#[derive(Debug, Clone)]
pub(crate) struct TownModel {
    /// Index of the town in the instance.
    pub input: usize,
    /// `s`: doses on hand.
    pub stock: u64,
    /// `W`: people waiting for a first dose.
    pub waiting: u64,
    /// `E`: eligible people.
    pub eligible: u64,
    /// `V`: people already first-dosed.
    pub first_dosed: u64,
    /// `Ucap`: urgent and overdue second doses that fit in their windows.
    pub ucap: u64,
    /// `rho`: reserve target.
    pub rho: u64,
    /// `hi`: most first doses the town can give (`min(W, C - Ucap)`).
    pub hi: u64,
    /// Due cohorts grouped by window close, earliest first.
    pub groups: Vec<DueGroup>,
    capacity: Vec<u64>,
    urgent: Vec<UrgentCohort>,
    urgent_sched: Vec<u64>,
    due: Vec<DueCohort>,
    cohorts: usize,
}

/// The best use of a number of doses inside one town.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Urgent and overdue second doses (level a).
    pub a: u64,
    /// Reserve protected: kept in stock or given to late cohorts, at most `rho` (level a2).
    pub r: u64,
    /// First doses (level b).
    pub f: u64,
    /// Due second doses per group of [`TownModel::groups`] (level d).
    pub group_counts: Vec<u64>,
    /// Second doses per cohort, in input order.
    pub cohort_doses: Vec<u64>,
    /// Doses left in the town after the plan.
    pub left: u64,
}

impl Outcome {
    /// All due second doses (level d).
    pub fn due_total(&self) -> u64 {
        self.group_counts.iter().sum()
    }
}

/// Policy-wide facts a town model needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Calendar {
    /// Day 0.
    pub run_date: NaiveDate,
    /// Product minimum interval, days.
    pub min_interval: i64,
    /// Product maximum interval, days.
    pub max_interval: i64,
    /// H.
    pub horizon: usize,
    /// Lt.
    pub late_days: i64,
    /// sigma.
    pub reserve_safety_factor: f64,
}

impl Calendar {
    /// The calendar of an instance: its run date, the product's interval, horizon, lateness and
    /// reserve safety factor.
    pub fn of(instance: &Instance) -> Calendar {
        let h = instance.header();
        Calendar {
            run_date: h.run_date,
            min_interval: i64::from(h.product.min_interval_days),
            max_interval: i64::from(h.product.max_interval_days),
            horizon: instance.horizon_days() as usize,
            late_days: i64::from(instance.late_days()),
            reserve_safety_factor: h.policy.reserve_safety_factor,
        }
    }
}

/// `ceil(sigma * people)`, forgiving the last bits of floating-point noise so that
/// for example 0.1 * 30 counts as 3, not 4.
pub(crate) fn reserve_target(sigma: f64, people: u64) -> u64 {
    let x = sigma * people as f64;
    let nearest = x.round();
    let r = if (x - nearest).abs() <= 1e-9 * nearest.max(1.0) {
        nearest
    } else {
        x.ceil()
    };
    // Saturating float-to-int conversion; validated inputs keep `r` far below u64::MAX.
    (r.max(0.0) as u64).min(people)
}

impl TownModel {
    /// Classifies the town's cohorts and computes `Ucap`, `rho` and `hi`.
    pub fn new(input: usize, town: &Town, cal: &Calendar) -> Self {
        let h = cal.horizon as i64;
        let capacity = town.capacity_per_day.per_day(cal.horizon);
        let total_capacity: u64 = capacity.iter().sum();
        let mut urgent = Vec::new();
        let mut due = Vec::new();
        let mut late_people = 0u64;
        for (j, c) in town.second_dose_queue.iter().enumerate() {
            let offset = (c.first_dose_date - cal.run_date).num_days();
            let open = offset + cal.min_interval;
            let close = offset + cal.max_interval;
            let late = close >= h && close < h + cal.late_days;
            if late {
                late_people += c.count;
            }
            if c.count == 0 || h == 0 {
                continue;
            }
            let release = usize::try_from(open.max(0)).unwrap_or(usize::MAX);
            if close < 0 {
                urgent.push(UrgentCohort {
                    cohort: j,
                    close,
                    job: Job {
                        release: 0,
                        deadline: cal.horizon - 1,
                        count: c.count,
                    },
                });
            } else if close < h {
                urgent.push(UrgentCohort {
                    cohort: j,
                    close,
                    job: Job {
                        release,
                        deadline: usize::try_from(close).unwrap_or(0),
                        count: c.count,
                    },
                });
            } else if open < h {
                due.push((
                    close,
                    DueCohort {
                        cohort: j,
                        release,
                        count: c.count,
                        late,
                    },
                ));
            }
        }
        urgent.sort_by_key(|u| (u.close, u.cohort));
        let jobs: Vec<Job> = urgent.iter().map(|u| u.job).collect();
        let urgent_sched = edf(&capacity, &jobs).scheduled;
        let ucap: u64 = urgent_sched.iter().sum();
        due.sort_by_key(|(close, d)| (*close, d.release, d.cohort));
        let mut groups: Vec<DueGroup> = Vec::new();
        for (i, (close, d)) in due.iter().enumerate() {
            match groups.last_mut() {
                Some(g) if g.close == *close => {
                    g.demand += d.count;
                    g.end = i + 1;
                }
                _ => groups.push(DueGroup {
                    close: *close,
                    demand: d.count,
                    start: i,
                    end: i + 1,
                }),
            }
        }
        let rho = reserve_target(cal.reserve_safety_factor, late_people);
        let hi = town.first_dose_waiting.min(total_capacity - ucap);
        Self {
            input,
            stock: town.stock_on_hand,
            waiting: town.first_dose_waiting,
            eligible: town.eligible,
            first_dosed: town.first_dosed,
            ucap,
            rho,
            hi,
            groups,
            capacity,
            urgent,
            urgent_sched,
            due: due.into_iter().map(|(_, d)| d).collect(),
            cohorts: town.second_dose_queue.len(),
        }
    }

    /// `lo`: first doses the town's own stock pays for once urgent doses and the reserve
    /// are covered (`min(hi, max(0, s - Ucap - rho))`).
    pub fn lo(&self) -> u64 {
        self.hi.min(
            self.stock
                .saturating_sub(self.ucap.saturating_add(self.rho)),
        )
    }

    /// Doses at which the urgent level is met.
    pub fn urgent_full(&self) -> u64 {
        self.ucap
    }

    /// Doses at which the urgent level and the reserve are met.
    pub fn reserve_full(&self) -> u64 {
        self.ucap + self.rho
    }

    /// Doses at which levels a, a2 and b are all met.
    pub fn first_full(&self) -> u64 {
        self.ucap + self.rho + self.hi
    }

    /// Seats left free once the urgent doses and `f` first doses are placed as early as
    /// their windows allow.
    fn free_seats(&self, f: u64) -> Vec<u64> {
        let mut jobs: Vec<Job> = self
            .urgent
            .iter()
            .zip(&self.urgent_sched)
            .map(|(u, &n)| Job { count: n, ..u.job })
            .collect();
        if let Some(last) = self.capacity.len().checked_sub(1) {
            jobs.push(Job {
                release: 0,
                deadline: last,
                count: f,
            });
        }
        edf(&self.capacity, &jobs).free
    }

    /// The best use of `total` doses in this town.
    pub fn outcome(&self, total: u64) -> Outcome {
        let a = self.ucap.min(total);
        let r = self.rho.min(total - a);
        let f = if a == self.ucap {
            self.hi.min(total - a - r)
        } else {
            0
        };
        let x = total - a - f;
        let mut cohort_doses = vec![0u64; self.cohorts];
        let mut left_urgent = a;
        for (u, &n) in self.urgent.iter().zip(&self.urgent_sched) {
            let take = n.min(left_urgent);
            cohort_doses[u.cohort] = take;
            left_urgent -= take;
        }
        let mut group_counts = vec![0u64; self.groups.len()];
        if x > 0 && a == self.ucap && !self.due.is_empty() {
            let mut seats = TailSeats::new(&self.free_seats(f));
            let mut late_total = 0u64;
            let mut other_total = 0u64;
            for (g, group) in self.groups.iter().enumerate() {
                for d in &self.due[group.start..group.end] {
                    let dose_room = if d.late {
                        x - late_total
                    } else {
                        x.saturating_sub(r.max(late_total))
                            .saturating_sub(other_total)
                    };
                    let take = d.count.min(seats.room(d.release)).min(dose_room);
                    seats.place(d.release, take);
                    cohort_doses[d.cohort] = take;
                    group_counts[g] += take;
                    if d.late {
                        late_total += take;
                    } else {
                        other_total += take;
                    }
                }
            }
        }
        let left = x - group_counts.iter().sum::<u64>();
        Outcome {
            a,
            r,
            f,
            group_counts,
            cohort_doses,
            left,
        }
    }

    /// Doses at which each due group is fully served, assuming levels a, a2 and b are met
    /// and earlier groups are fully served; `(most schedulable, dose threshold)` per group.
    pub fn group_saturation(&self) -> Vec<(u64, u64)> {
        let mut seats = TailSeats::new(&self.free_seats(self.hi));
        let base = self.ucap + self.hi;
        let mut most = vec![0u64; self.groups.len()];
        let mut late_total = 0u64;
        for (g, group) in self.groups.iter().enumerate() {
            for d in &self.due[group.start..group.end] {
                let take = d.count.min(seats.room(d.release));
                seats.place(d.release, take);
                most[g] += take;
                if d.late {
                    late_total += take;
                }
            }
        }
        let mut out = Vec::with_capacity(self.groups.len());
        let mut late_acc = 0u64;
        let mut other_acc = self.rho.max(late_total);
        for (g, group) in self.groups.iter().enumerate() {
            let is_late = self.due[group.start].late;
            let threshold = if is_late {
                late_acc += most[g];
                base + late_acc
            } else {
                other_acc += most[g];
                base + other_acc
            };
            out.push((most[g], threshold));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allocation::instance::{parse_instance, tests::TINY_3};

    fn models() -> Vec<TownModel> {
        let inst = parse_instance(TINY_3).expect("valid");
        let cal = Calendar::of(&inst);
        inst.towns()
            .iter()
            .enumerate()
            .map(|(i, t)| TownModel::new(i, t, &cal))
            .collect()
    }

    #[test]
    fn example_towns_have_the_boxes_worked_out_by_hand() {
        let m = models();
        assert_eq!((m[0].ucap, m[0].rho, m[0].hi, m[0].lo()), (70, 40, 380, 0));
        assert_eq!((m[1].ucap, m[1].rho, m[1].hi, m[1].lo()), (120, 0, 930, 0));
        assert_eq!((m[2].ucap, m[2].rho, m[2].hi, m[2].lo()), (0, 0, 280, 250));
    }

    #[test]
    fn reserve_doses_go_to_late_cohorts_when_seats_are_free() {
        let m = models();
        let o = m[0].outcome(486);
        assert_eq!((o.a, o.r, o.f, o.due_total(), o.left), (70, 40, 376, 4, 36));
        assert_eq!(o.cohort_doses, vec![70, 4, 0]);
    }

    #[test]
    fn reserve_target_forgives_float_noise() {
        assert_eq!(reserve_target(0.1, 30), 3);
        assert_eq!(reserve_target(0.5, 3), 2);
        assert_eq!(reserve_target(1.0, 40), 40);
        assert_eq!(reserve_target(0.0, 40), 0);
    }
}
