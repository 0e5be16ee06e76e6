//! Seed ranges as users write them: `7`, `0..100` (end excluded), `0..=99` (end included).

use std::fmt;
use std::str::FromStr;

/// A non-empty, half-open range of seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    /// First seed.
    pub start: u64,
    /// One past the last seed.
    pub end: u64,
}

impl SeedRange {
    /// How many seeds.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Never true: ranges are non-empty by construction.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The seeds.
    pub fn iter(&self) -> std::ops::Range<u64> {
        self.start..self.end
    }

    /// The `index`-th of `count` interleaved shards (seeds `start + index`, `start + index + count`,
    /// ...), so that shards get similar mixes of seeds.
    pub fn shard(&self, index: u64, count: u64) -> impl Iterator<Item = u64> + use<> {
        let start = self.start;
        (self.start..self.end).filter(move |seed| (seed - start) % count == index)
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("'{part}' is not a seed (a whole number from 0 to {})", u64::MAX))
        };
        let (start, end) = if let Some((start, end)) = text.split_once("..=") {
            let end = number(end)?;
            (number(start)?, end.checked_add(1).ok_or_else(|| format!("range end {end} is too large"))?)
        } else if let Some((start, end)) = text.split_once("..") {
            (number(start)?, number(end)?)
        } else {
            let seed = number(text)?;
            (seed, seed.checked_add(1).ok_or_else(|| format!("seed {seed} is too large for a range"))?)
        };
        if end <= start {
            return Err(format!("seed range '{text}' is empty (write A..B with A < B, or A..=B)"));
        }
        Ok(SeedRange { start, end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms_and_refuses_nonsense() {
        assert_eq!("5".parse(), Ok(SeedRange { start: 5, end: 6 }));
        assert_eq!("0..100".parse(), Ok(SeedRange { start: 0, end: 100 }));
        assert_eq!("0..=99".parse(), Ok(SeedRange { start: 0, end: 100 }));
        for bad in ["", "a..b", "5..5", "9..3", "-1..4", "1...4", "..4"] {
            assert!(bad.parse::<SeedRange>().is_err(), "accepted {bad:?}");
        }
        let range: SeedRange = "10..20".parse().unwrap();
        let shards: Vec<Vec<u64>> = (0..3).map(|index| range.shard(index, 3).collect()).collect();
        assert_eq!(shards[0], vec![10, 13, 16, 19]);
        assert_eq!(shards.iter().map(Vec::len).sum::<usize>(), 10);
    }
}
