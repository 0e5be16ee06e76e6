//! Small helpers over the context's RNG, so that node code draws numbers the same way everywhere
//! (integer ratios, no floating point, no modulo bias worth caring about at these ranges).
//!
//! A draw of zero is the simplest choice of every helper: the lowest value, the first option, the
//! shortest duration, and "no" for a chance. The simulator's shrinker relies on this when it zeroes
//! recorded draws (see `pangea_sim::rng`).

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

/// True with probability `numerator / denominator` (false when the denominator is zero). The
/// draws at the top of the range say yes, so that a zero draw says no.
pub fn chance(rng: &mut dyn Rng, numerator: u64, denominator: u64) -> bool {
    denominator != 0 && below(rng, denominator) >= denominator.saturating_sub(numerator)
}

/// True unless the draw is zero: the draw a generator makes before each value it may leave out
/// (a client's next operation), so that a zero draw, the simplest choice, leaves the value out. On
/// a generator's draws it is false once in 2^64.
pub fn present(rng: &mut dyn Rng) -> bool {
    rng.next_u64() != 0
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::{Infallible, TryRng};

    /// Draws one fixed value forever.
    struct Always(u64);

    impl TryRng for Always {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(self.0 as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            Ok(self.0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            dst.fill(0);
            Ok(())
        }
    }

    #[test]
    fn a_zero_draw_is_the_simplest_choice() {
        let mut zero = Always(0);
        assert_eq!(below(&mut zero, 10), 0);
        assert!(!chance(&mut zero, 999_999, 1_000_000));
        let low = Duration::from_millis(5);
        assert_eq!(duration_between(&mut zero, low, Duration::from_millis(9)), low);
        let mut top = Always(u64::MAX);
        assert_eq!(below(&mut top, 10), 9);
        assert!(chance(&mut top, 1, 1_000_000));
    }

    #[test]
    fn present_is_false_only_on_a_zero_draw() {
        assert!(!present(&mut Always(0)));
        assert!(present(&mut Always(1)) && present(&mut Always(u64::MAX)));
    }

    #[test]
    fn chance_has_its_probability_and_its_edges() {
        let mut never = Always(u64::MAX);
        assert!(!chance(&mut never, 0, 10), "zero in ten never happens");
        assert!(!chance(&mut never, 1, 0), "a zero denominator never happens");
        assert!(chance(&mut Always(0), 10, 10), "ten in ten always happens");
        // Over evenly spread draws, 3 in 10 say yes.
        let yes = (0..1000u64).filter(|step| chance(&mut Always(step * (u64::MAX / 1000)), 3, 10)).count();
        assert!((299..=301).contains(&yes), "{yes} of 1000");
    }
}
