//! Pheromone levels on edges: reinforced when a traversal uses an edge, evaporated step by step.
//!
//! Levels are fixed-point integers ([`LEVEL_ONE`] is 1.0), so every replica computes the same bits.
//! Evaporation is lazy: the graph counts evaporation steps (a replicated counter, advanced by log
//! commands, never by a replica's clock), and an edge keeps its level with the step it was last
//! set at; its level now is that level decayed by the steps since ([`decay`]). An evaporation step
//! therefore costs O(1), however many edges the graph holds.

use serde::{Deserialize, Serialize};

/// The level 1.0: levels are in units of 1/65,536.
pub const LEVEL_ONE: u32 = 1 << 16;
/// One million: evaporation rates are in parts per million.
pub const PPM: u32 = 1_000_000;
/// The most steps one [`crate::graph::GraphOp::Evaporate`] command may take.
pub const EVAPORATE_STEPS_MAX: u32 = 1_000_000;

/// How pheromone behaves in a graph: the same on every replica (part of its configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PheromoneConfig {
    /// What a reinforcement adds, in units of 1/65,536 ([`LEVEL_ONE`] is 1.0).
    pub deposit: u32,
    /// The highest level an edge reaches.
    pub level_max: u32,
    /// The share of its level an edge loses at each evaporation step, in parts per million.
    pub evaporation_ppm: u32,
    /// An evaporation step also happens every this many applied graph mutations (a function of
    /// the log's position); 0: only when a command asks for one.
    pub evaporate_every_mutations: u64,
}

impl Default for PheromoneConfig {
    /// A deposit of 1.0, levels up to 1,000.0, 10% lost per step, steps only when asked.
    fn default() -> Self {
        PheromoneConfig {
            deposit: LEVEL_ONE,
            level_max: 1000 * LEVEL_ONE,
            evaporation_ppm: 100_000,
            evaporate_every_mutations: 0,
        }
    }
}

impl PheromoneConfig {
    /// Checks the settings: a rate of at most one million parts per million.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.evaporation_ppm <= PPM && self.deposit <= self.level_max
    }
}

/// A level after `steps` evaporation steps that each keep `1 - evaporation_ppm / 10^6` of it.
///
/// The kept share is raised to the power `steps` in 32.32 fixed point by repeated squaring (each
/// product rounded down), then multiplied in; the result is the same on every machine.
#[must_use]
pub fn decay(level: u32, steps: u64, evaporation_ppm: u32) -> u32 {
    if steps == 0 || level == 0 || evaporation_ppm == 0 {
        return level;
    }
    if evaporation_ppm >= PPM {
        return 0;
    }
    const ONE: u64 = 1 << 32;
    // The share kept per step, in 32.32 fixed point (below 1.0).
    let mut base = (u64::from(PPM - evaporation_ppm) << 32) / u64::from(PPM);
    let mut factor = ONE;
    let mut remaining = steps;
    while remaining > 0 && factor > 0 {
        if remaining & 1 == 1 {
            factor = ((u128::from(factor) * u128::from(base)) >> 32) as u64;
        }
        base = ((u128::from(base) * u128::from(base)) >> 32) as u64;
        remaining >>= 1;
    }
    ((u64::from(level) * factor) >> 32) as u32
}

/// A level as a number (for people and JSON): level / 65,536.
#[must_use]
pub fn as_f64(level: u32) -> f64 {
    f64::from(level) / f64::from(LEVEL_ONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_step_or_no_rate_keeps_the_level() {
        assert_eq!(decay(12_345, 0, 100_000), 12_345);
        assert_eq!(decay(12_345, 99, 0), 12_345);
        assert_eq!(decay(12_345, 1, PPM), 0);
    }

    #[test]
    fn a_step_keeps_the_share_and_many_steps_reach_zero() {
        // 10% lost: 1.0 becomes 0.9 (rounded down, within one unit).
        let one_step = decay(LEVEL_ONE, 1, 100_000);
        assert!((58_982..=58_983).contains(&one_step), "{one_step}");
        assert_eq!(decay(u32::MAX, 1_000, 100_000), 0);
        assert_eq!(decay(u32::MAX, u64::MAX, 1), 0);
    }

    #[test]
    fn decay_falls_with_steps_and_matches_stepping_one_at_a_time_closely() {
        let mut stepped = 1000 * LEVEL_ONE;
        let mut previous = stepped;
        for steps in 1..200u64 {
            stepped = decay(stepped, 1, 50_000);
            let at_once = decay(1000 * LEVEL_ONE, steps, 50_000);
            assert!(at_once <= previous);
            previous = at_once;
            // Rounding differs between the two ways, by a few units in 65,536 per step at most.
            assert!(at_once.abs_diff(stepped) <= 4 * steps as u32, "{steps}: {at_once} vs {stepped}");
        }
    }
}
