//! Small helpers over the context's RNG, so that node code draws numbers the same way everywhere
//! (integer ratios, no floating point, no modulo bias worth caring about at these ranges).

use crate::Duration;
use rand_core::Rng;

/// A uniformly drawn integer in `0..bound`; `0` when `bound` is zero.
pub fn below(rng: &mut dyn Rng, bound: u64) -> u64 {
    if bound == 0 {
        return 0;
    }
    // Lemire's multiply-shift: unbiased enough for simulation ranges, and branch-free.
    ((u128::from(rng.next_u64()) * u128::from(bound)) >> 64) as u64
}

/// True with probability `numerator / denominator` (false when the denominator is zero).
pub fn chance(rng: &mut dyn Rng, numerator: u64, denominator: u64) -> bool {
    denominator != 0 && below(rng, denominator) < numerator
}

/// A duration drawn uniformly from `[low, high]` at nanosecond resolution.
pub fn duration_between(rng: &mut dyn Rng, low: Duration, high: Duration) -> Duration {
    let low_nanos = u64::try_from(low.as_nanos()).unwrap_or(u64::MAX);
    let high_nanos = u64::try_from(high.as_nanos()).unwrap_or(u64::MAX);
    if high_nanos <= low_nanos {
        return low;
    }
    Duration::from_nanos(low_nanos + below(rng, high_nanos - low_nanos + 1))
}
