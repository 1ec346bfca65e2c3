//! Day-by-day scheduling of unit jobs (doses) with windows and daily capacities.
//!
//! Doses are unit jobs: a group of `count` identical jobs may be given on any day of its
//! window `release..=deadline`. Earliest-deadline-first, filling every day as far as it
//! goes, schedules the most jobs on time (Glover's rule for convex bipartite matching) and
//! leaves the latest seats free, which is what the due cohorts of level d need.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A group of identical unit jobs with an inclusive window of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Job {
    /// First day the jobs may run.
    pub release: usize,
    /// Last day the jobs may run.
    pub deadline: usize,
    /// Number of jobs.
    pub count: u64,
}

/// Result of an earliest-deadline-first pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EdfResult {
    /// Jobs scheduled per input job group.
    pub scheduled: Vec<u64>,
    /// Seats left free per day.
    pub free: Vec<u64>,
}

/// Schedules as many jobs as possible, each day taking released jobs by earliest
/// deadline (ties by input order) and dropping jobs whose deadline has passed.
pub(crate) fn edf(capacity: &[u64], jobs: &[Job]) -> EdfResult {
    let days = capacity.len();
    let mut by_release: Vec<usize> = (0..jobs.len()).collect();
    by_release.sort_by_key(|&j| (jobs[j].release, j));
    let mut remaining: Vec<u64> = jobs.iter().map(|j| j.count).collect();
    let mut scheduled = vec![0u64; jobs.len()];
    let mut free = capacity.to_vec();
    let mut heap: BinaryHeap<Reverse<(usize, usize)>> = BinaryHeap::new();
    let mut next = 0;
    for (day, seats) in free.iter_mut().enumerate().take(days) {
        while next < by_release.len() && jobs[by_release[next]].release <= day {
            let j = by_release[next];
            if remaining[j] > 0 && jobs[j].deadline >= jobs[j].release {
                heap.push(Reverse((jobs[j].deadline, j)));
            }
            next += 1;
        }
        while *seats > 0 {
            let Some(&Reverse((deadline, j))) = heap.peek() else {
                break;
            };
            if deadline < day {
                heap.pop();
                continue;
            }
            let take = remaining[j].min(*seats);
            remaining[j] -= take;
            scheduled[j] += take;
            *seats -= take;
            if remaining[j] == 0 {
                heap.pop();
            }
        }
    }
    EdfResult { scheduled, free }
}

/// Free seats left for jobs whose windows all end on the last day, tracked by Hall's
/// condition: jobs released on day `r` or later never exceed the free seats from `r` on.
#[derive(Debug, Clone)]
pub(crate) struct TailSeats {
    /// `suffix[t]` = free seats on days `t..H`.
    suffix: Vec<u64>,
    /// `used[t]` = jobs placed so far whose release is `t` or later.
    used: Vec<u64>,
}

impl TailSeats {
    /// Tracks the given free seats per day.
    pub fn new(free: &[u64]) -> Self {
        let mut suffix = vec![0u64; free.len()];
        let mut acc = 0u64;
        for (d, f) in free.iter().enumerate().rev() {
            acc += f;
            suffix[d] = acc;
        }
        Self {
            used: vec![0; free.len()],
            suffix,
        }
    }

    /// How many more jobs released on `release` (deadline the last day) still fit.
    pub fn room(&self, release: usize) -> u64 {
        let Some(last) = self.suffix.len().checked_sub(1) else {
            return 0;
        };
        (0..=release.min(last))
            .map(|t| self.suffix[t].saturating_sub(self.used[t]))
            .min()
            .unwrap_or(0)
    }

    /// Places `n` jobs released on `release`; callers keep `n <= room(release)`.
    pub fn place(&mut self, release: usize, n: u64) {
        let Some(last) = self.used.len().checked_sub(1) else {
            return;
        };
        for used in &mut self.used[..=release.min(last)] {
            *used += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edf_serves_earliest_deadline_first_and_drops_expired() {
        // Two seats on day 0, one on day 1; jobs: 2 due by day 0, 2 due by day 1.
        let r = edf(
            &[2, 1],
            &[
                Job {
                    release: 0,
                    deadline: 1,
                    count: 2,
                },
                Job {
                    release: 0,
                    deadline: 0,
                    count: 2,
                },
            ],
        );
        assert_eq!(r.scheduled, vec![1, 2]);
        assert_eq!(r.free, vec![0, 0]);
    }

    #[test]
    fn edf_respects_release_days() {
        let r = edf(
            &[3, 3, 3],
            &[Job {
                release: 2,
                deadline: 2,
                count: 5,
            }],
        );
        assert_eq!(r.scheduled, vec![3]);
        assert_eq!(r.free, vec![3, 3, 0]);
    }

    #[test]
    fn tail_seats_apply_hall_condition() {
        let mut s = TailSeats::new(&[5, 1, 1]);
        assert_eq!(s.room(2), 1);
        assert_eq!(s.room(0), 7);
        s.place(1, 2);
        assert_eq!(s.room(2), 0);
        assert_eq!(s.room(0), 5);
    }
}
