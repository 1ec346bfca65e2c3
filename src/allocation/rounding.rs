//! Exact fractions, water-filling and the pack-rounding rules that share one level's
//! packs between towns.
//!
//! A level hands out whole packs (single doses are packs of 1). With each town's extra
//! need `g_i` and `P` packs left: if `P` covers every `ceil(g_i/N)` each town gets that;
//! if `P <= sum floor(g_i/N)` only fully used packs are given, by leximin progressive
//! filling on the level's coverage; otherwise every town gets its full packs and the
//! leftover packs go to the largest remainders. Whatever is still tied after the level's
//! own total and fairness is handed to a caller-supplied `refine`, which looks at the
//! levels below.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A non-negative fraction compared exactly by cross-multiplication in `i128`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ratio {
    /// Numerator.
    pub num: i128,
    /// Denominator, always positive.
    pub den: i128,
}

impl Ratio {
    /// `num / den`; `den` must be positive.
    pub fn new(num: i128, den: i128) -> Self {
        debug_assert!(den > 0);
        Self { num, den }
    }

    /// Nearest `f64`, for display only.
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl PartialEq for Ratio {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ratio {}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.num * other.den).cmp(&(other.num * self.den))
    }
}

/// Leximin comparison of two multisets of the same size: sort ascending and compare
/// lexicographically; `Greater` means `x` is the fairer one.
pub(crate) fn leximin_cmp(x: &[Ratio], y: &[Ratio]) -> Ordering {
    let mut xs = x.to_vec();
    let mut ys = y.to_vec();
    xs.sort();
    ys.sort();
    xs.cmp(&ys)
}

/// One town's stake in a level: its current level value `num/den` and the doses `need`
/// that would complete the level for it. Each dose adds 1 to `num`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LevelItem {
    /// Engine index of the town.
    pub town: usize,
    /// Numerator of the town's current value at this level.
    pub num: i128,
    /// Denominator (positive).
    pub den: i128,
    /// Doses still needed to complete the level.
    pub need: u64,
}

/// A town that could receive one more pack when packs are short.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    /// Index into the level's items.
    pub item: usize,
    /// Engine index of the town.
    pub town: usize,
    /// Packs the town gets at this level without this one.
    pub base_packs: u64,
    /// Doses this pack adds to the level's total.
    pub gain: u64,
    /// The town's level value without the pack.
    pub before: Ratio,
    /// The town's level value with the pack.
    pub after: Ratio,
}

/// `Greater` when giving the pack to `x` rather than `y` is better for this level:
/// more doses at the level, then the fairer (leximin) pair of values.
fn level_cmp(x: &Candidate, y: &Candidate) -> Ordering {
    x.gain
        .cmp(&y.gain)
        .then_with(|| leximin_cmp(&[x.after, y.before], &[x.before, y.after]))
}

/// Picks the `k` best candidates; `refine` orders (best first) any run of candidates
/// that the level itself cannot tell apart and that straddles the cut.
pub(crate) fn choose(
    mut cands: Vec<Candidate>,
    k: usize,
    refine: &mut dyn FnMut(&mut [Candidate]),
) -> Vec<Candidate> {
    cands.sort_by(|x, y| level_cmp(y, x).then(x.town.cmp(&y.town)));
    if k >= cands.len() {
        return cands;
    }
    if k == 0 {
        return Vec::new();
    }
    if level_cmp(&cands[k - 1], &cands[k]) == Ordering::Equal {
        let mut lo = k - 1;
        while lo > 0 && level_cmp(&cands[lo - 1], &cands[k - 1]) == Ordering::Equal {
            lo -= 1;
        }
        let mut hi = k;
        while hi + 1 < cands.len() && level_cmp(&cands[hi + 1], &cands[k - 1]) == Ordering::Equal {
            hi += 1;
        }
        refine(&mut cands[lo..=hi]);
    }
    cands.truncate(k);
    cands
}

/// Packs per item for one level, by the three rounding cases.
pub(crate) fn allocate_level(
    items: &[LevelItem],
    packs: u64,
    pack_size: u64,
    refine: &mut dyn FnMut(&mut [Candidate]),
) -> Vec<u64> {
    let n = pack_size;
    let ceil_sum: u64 = items.iter().map(|it| it.need.div_ceil(n)).sum();
    if packs >= ceil_sum {
        return items.iter().map(|it| it.need.div_ceil(n)).collect();
    }
    let floors: Vec<u64> = items.iter().map(|it| it.need / n).collect();
    let floor_sum: u64 = floors.iter().sum();
    if packs <= floor_sum {
        return leximin_fill(items, &floors, packs, n, refine);
    }
    let mut out = floors;
    let k = usize::try_from(packs - floor_sum).unwrap_or(usize::MAX);
    let cands: Vec<Candidate> = items
        .iter()
        .enumerate()
        .filter(|(_, it)| it.need % n > 0)
        .map(|(i, it)| {
            let base = i128::from(out[i]) * i128::from(n);
            let rem = it.need % n;
            Candidate {
                item: i,
                town: it.town,
                base_packs: out[i],
                gain: rem,
                before: Ratio::new(it.num + base, it.den),
                after: Ratio::new(it.num + base + i128::from(rem), it.den),
            }
        })
        .collect();
    for c in choose(cands, k, refine) {
        out[c.item] += 1;
    }
    out
}

/// The smallest `L` with `sum_i clamp(L * den_i - num_i, 0, cap_i) >= target`, for
/// `0 < target <= sum cap_i`, found by sweeping the sorted breakpoints.
pub(crate) fn water_level(items: &[(i128, i128, i128)], target: i128) -> Ratio {
    #[derive(Clone, Copy)]
    struct Event {
        at: Ratio,
        start: bool,
        num: i128,
        den: i128,
        cap: i128,
    }
    let mut events: Vec<Event> = Vec::with_capacity(items.len() * 2);
    for &(num, den, cap) in items.iter().filter(|it| it.2 > 0) {
        events.push(Event {
            at: Ratio::new(num, den),
            start: true,
            num,
            den,
            cap,
        });
        events.push(Event {
            at: Ratio::new(num + cap, den),
            start: false,
            num,
            den,
            cap,
        });
    }
    events.sort_by_key(|e| e.at);
    let (mut full, mut sum_num, mut sum_den) = (0i128, 0i128, 0i128);
    let mut last = Ratio::new(0, 1);
    for e in &events {
        // Value of the sum at e.at with the towns active just before it.
        let reached = full * e.at.den + e.at.num * sum_den - e.at.den * sum_num;
        if sum_den > 0 && reached >= target * e.at.den {
            return Ratio::new(target - full + sum_num, sum_den);
        }
        if e.start {
            sum_num += e.num;
            sum_den += e.den;
        } else {
            sum_num -= e.num;
            sum_den -= e.den;
            full += e.cap;
        }
        last = e.at;
    }
    last
}

/// Leximin progressive filling of `packs` full packs, at most `caps[i]` per item: the
/// result is the `packs` lowest pack values `(num + k*N)/den` over all items, found from
/// the continuous water level and a heap over the few packs that overshoot it.
fn leximin_fill(
    items: &[LevelItem],
    caps: &[u64],
    packs: u64,
    n: u64,
    refine: &mut dyn FnMut(&mut [Candidate]),
) -> Vec<u64> {
    let mut counts = vec![0u64; items.len()];
    if packs == 0 {
        return counts;
    }
    let n_i = i128::from(n);
    let cont: Vec<(i128, i128, i128)> = items
        .iter()
        .zip(caps)
        .map(|(it, &c)| (it.num, it.den, i128::from(c) * n_i))
        .collect();
    let level = water_level(&cont, i128::from(packs) * n_i);
    for (i, it) in items.iter().enumerate() {
        // Packs k whose value (num + k N)/den is below the level: k N q < p den - num q.
        let w = level.num * it.den - it.num * level.den;
        if w > 0 {
            let per = n_i * level.den;
            let k = (w + per - 1) / per;
            counts[i] = u64::try_from(k).unwrap_or(u64::MAX).min(caps[i]);
        }
    }
    let mut excess = counts.iter().sum::<u64>().saturating_sub(packs);
    let value = |i: usize, k: u64| -> Ratio {
        Ratio::new(items[i].num + i128::from(k) * n_i, items[i].den)
    };
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    struct Top(Ratio, std::cmp::Reverse<usize>);
    let mut heap: BinaryHeap<Top> = counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, &c)| Top(value(i, c - 1), std::cmp::Reverse(i)))
        .collect();
    while excess > 0 {
        let Some(Top(v, std::cmp::Reverse(first))) = heap.pop() else {
            break;
        };
        let mut tied = vec![first];
        while heap.peek().is_some_and(|t| t.0 == v) {
            if let Some(Top(_, std::cmp::Reverse(i))) = heap.pop() {
                tied.push(i);
            }
        }
        let tied_len = tied.len() as u64;
        if tied_len <= excess {
            for i in tied {
                counts[i] -= 1;
                if counts[i] > 0 {
                    heap.push(Top(value(i, counts[i] - 1), std::cmp::Reverse(i)));
                }
            }
            excess -= tied_len;
        } else {
            let keep = usize::try_from(tied_len - excess).unwrap_or(usize::MAX);
            let cands: Vec<Candidate> = tied
                .iter()
                .map(|&i| Candidate {
                    item: i,
                    town: items[i].town,
                    base_packs: counts[i] - 1,
                    gain: n,
                    before: v,
                    after: value(i, counts[i]),
                })
                .collect();
            let kept: Vec<usize> = choose(cands, keep, refine).iter().map(|c| c.item).collect();
            for i in tied {
                if !kept.contains(&i) {
                    counts[i] -= 1;
                }
            }
            excess = 0;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_refine(_: &mut [Candidate]) {}

    fn item(town: usize, num: i128, den: i128, need: u64) -> LevelItem {
        LevelItem {
            town,
            num,
            den,
            need,
        }
    }

    #[test]
    fn ratios_compare_exactly() {
        assert_eq!(Ratio::new(1, 3), Ratio::new(2, 6));
        assert!(Ratio::new(12620, 48000) > Ratio::new(2380, 16000));
    }

    #[test]
    fn water_level_of_the_worked_example() {
        // Towns A, B, C: (V + lo, E, hi - lo); 1280 - 250 first doses beyond lo.
        let l = water_level(
            &[(2000, 16000, 380), (12000, 48000, 930), (650, 6500, 30)],
            1030,
        );
        assert_eq!(l, Ratio::new(12620, 48000));
    }

    #[test]
    fn example_first_dose_packs_fill_the_lowest_coverage_first() {
        // After levels a and a2: A holds 4 spare doses, C holds 250; 171 packs of 6.
        let items = [
            item(0, 2004, 16000, 376),
            item(1, 12000, 48000, 930),
            item(2, 650, 6500, 30),
        ];
        assert_eq!(
            allocate_level(&items, 171, 6, &mut no_refine),
            vec![62, 104, 5]
        );
    }

    #[test]
    fn enough_packs_give_everyone_their_ceiling() {
        let items = [item(0, 0, 10, 10), item(1, 0, 120, 120)];
        assert_eq!(allocate_level(&items, 200, 6, &mut no_refine), vec![2, 20]);
    }

    #[test]
    fn leftover_packs_go_to_the_largest_remainders() {
        // Full packs: 1 + 1 + 1 = 3 of 5; two extra packs for remainders 5, 1, 3.
        let items = [item(0, 0, 100, 11), item(1, 0, 100, 7), item(2, 0, 100, 9)];
        assert_eq!(allocate_level(&items, 5, 6, &mut no_refine), vec![2, 1, 2]);
    }

    #[test]
    fn single_doses_follow_exact_leximin_not_floor_of_fair_share() {
        // Fair shares 2.94, 0.03, 0.03; the leximin gives each town one dose.
        let items = [item(0, 0, 100, 10), item(1, 0, 1, 10), item(2, 0, 1, 10)];
        assert_eq!(allocate_level(&items, 3, 1, &mut no_refine), vec![1, 1, 1]);
    }

    #[test]
    fn ties_prefer_the_bigger_step_then_refine_then_town_order() {
        let items = [item(0, 0, 100, 10), item(1, 0, 1, 10)];
        assert_eq!(allocate_level(&items, 1, 1, &mut no_refine), vec![0, 1]);
        let items = [item(0, 0, 5, 10), item(1, 0, 5, 10)];
        assert_eq!(allocate_level(&items, 1, 1, &mut no_refine), vec![1, 0]);
        let mut prefer_town_1 = |c: &mut [Candidate]| c.sort_by_key(|c| usize::from(c.town != 1));
        assert_eq!(allocate_level(&items, 1, 1, &mut prefer_town_1), vec![0, 1]);
    }
}
