//! Timing two ways of doing one thing side by side: batches of each alternate, so that whatever
//! else the machine does falls on both alike. Each round (a batch of each) gives a ratio; the
//! median of those ratios is the comparison, and the medians of the batches its times.

use std::time::{Duration, Instant};

/// The median time of one operation, of the baseline and of the candidate, and how they compare.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    /// The baseline's median time per operation.
    pub baseline: Duration,
    /// The candidate's median time per operation.
    pub candidate: Duration,
    /// The median, over the rounds, of the candidate's time over the baseline's in that round:
    /// a slow spell of the machine falls on both sides of a round, and cancels out.
    paired_ratio: f64,
}

impl Pair {
    /// A pair measured elsewhere: each side's time per operation, and the median ratio of the
    /// rounds.
    pub fn from_parts(baseline: Duration, candidate: Duration, paired_ratio: f64) -> Self {
        Self {
            baseline,
            candidate,
            paired_ratio,
        }
    }

    /// How many times the baseline's time the candidate takes.
    pub fn ratio(&self) -> f64 {
        self.paired_ratio
    }
}

/// How long each side's batches run, in all, per comparison.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(1500);

/// Times `baseline` and `candidate` in alternating batches for about `budget` in all.
pub fn compare(budget: Duration, mut baseline: impl FnMut(), mut candidate: impl FnMut()) -> Pair {
    // Warm both, then size batches to about 2 ms of the slower side.
    let per_op = |f: &mut dyn FnMut(), n: u32| {
        let started = Instant::now();
        for _ in 0..n {
            f();
        }
        started.elapsed() / n
    };
    per_op(&mut baseline, 3);
    per_op(&mut candidate, 3);
    let slower = per_op(&mut baseline, 10).max(per_op(&mut candidate, 10));
    let batch =
        (Duration::from_millis(2).as_nanos() / slower.as_nanos().max(1)).clamp(1, 100_000) as u32;
    let rounds =
        (budget.as_nanos() / (2 * slower.as_nanos().max(1) * u128::from(batch))).clamp(5, 200);
    let mut baselines = Vec::new();
    let mut candidates = Vec::new();
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let (base, cand) = (per_op(&mut baseline, batch), per_op(&mut candidate, batch));
        baselines.push(base);
        candidates.push(cand);
        ratios.push(cand.as_secs_f64() / base.as_secs_f64().max(f64::MIN_POSITIVE));
    }
    ratios.sort_by(f64::total_cmp);
    Pair {
        baseline: median(&mut baselines),
        candidate: median(&mut candidates),
        paired_ratio: ratios[ratios.len() / 2],
    }
}

/// Times one operation alone, as [`compare`] would.
pub fn time(budget: Duration, mut op: impl FnMut()) -> Duration {
    compare(budget / 2, &mut op, || {}).baseline
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Operations per second of `op` run by `threads` threads at once for `window`.
pub fn throughput(threads: usize, window: Duration, op: impl Fn() + Sync) -> f64 {
    let done = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut n = 0;
                while started.elapsed() < window {
                    op();
                    n += 1;
                }
                done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            });
        }
    });
    done.into_inner() as f64 / started.elapsed().as_secs_f64()
}

/// The resident memory of this process, in bytes (Linux; `None` elsewhere).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Formats a duration for the table: ns, µs or ms with three significant digits.
pub fn show(duration: Duration) -> String {
    let nanos = duration.as_secs_f64() * 1e9;
    if nanos < 1e3 {
        format!("{nanos:.0} ns")
    } else if nanos < 1e6 {
        format!("{:.1} µs", nanos / 1e3)
    } else {
        format!("{:.2} ms", nanos / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slower_candidate_shows_a_larger_ratio() {
        let pair = compare(
            Duration::from_millis(100),
            || {
                std::hint::black_box((0..100u64).sum::<u64>());
            },
            || {
                std::thread::sleep(Duration::from_micros(200));
            },
        );
        assert!(pair.ratio() > 2.0, "{pair:?}");
    }
}
