//! Seed ranges as users write them: `7`, `0..100` (end excluded), `0..=99` (end included); and
//! shards, `i/n`, that split a range across machines.

use std::fmt;
use std::str::FromStr;
use thiserror::Error;

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

impl TryFrom<std::ops::Range<u64>> for SeedRange {
    type Error = String;

    fn try_from(range: std::ops::Range<u64>) -> Result<Self, Self::Error> {
        if range.end <= range.start {
            return Err(format!("seed range {}..{} is empty", range.start, range.end));
        }
        Ok(SeedRange { start: range.start, end: range.end })
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

/// One of `count` shards of a sweep, numbered from 1 as CI matrices and job arrays number them:
/// `--shard 2/4` runs the second quarter of the seeds (interleaved: seeds `start + 1`,
/// `start + 5`, ...). The `count` shards together run every seed exactly once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, from 1 to `count`.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

/// A `--shard` that is not `i/n` with `1 <= i <= n`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ShardError {
    /// Not of the form `i/n`.
    #[error("shard '{0}' is not of the form i/n (e.g. 1/4)")]
    Form(String),
    /// A part that is not a whole number.
    #[error("shard '{0}': '{1}' is not a whole number")]
    Number(String, String),
    /// Zero shards.
    #[error("shard '{0}': the number of shards must be at least 1")]
    NoShards(String),
    /// The index is 0 or past the count.
    #[error("shard '{0}': shards are numbered from 1 to {1}")]
    Index(String, u64),
}

impl Shard {
    /// The whole range as one shard.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// This shard's seeds of `range`.
    #[must_use]
    pub fn seeds(&self, range: &SeedRange) -> Vec<u64> {
        range.shard(self.index - 1, self.count).collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (index, count) = text.split_once('/').ok_or_else(|| ShardError::Form(text.to_owned()))?;
        let number =
            |part: &str| part.trim().parse::<u64>().map_err(|_| ShardError::Number(text.to_owned(), part.to_owned()));
        let (index, count) = (number(index)?, number(count)?);
        if count == 0 {
            return Err(ShardError::NoShards(text.to_owned()));
        }
        if index == 0 || index > count {
            return Err(ShardError::Index(text.to_owned(), count));
        }
        Ok(Shard { index, count })
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

    #[test]
    fn shards_cover_the_range_once_and_bad_shards_are_refused() {
        let range: SeedRange = "100..137".parse().unwrap();
        let mut all: Vec<u64> = (1..=4).flat_map(|index| Shard { index, count: 4 }.seeds(&range)).collect();
        all.sort_unstable();
        assert_eq!(all, (100..137).collect::<Vec<_>>());
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!(Shard::ALL.seeds(&range).len(), 37);
        for bad in ["0/4", "5/4", "1/0", "a/b", "3", "", "1/2/3", "-1/4"] {
            assert!(bad.parse::<Shard>().is_err(), "accepted {bad:?}");
        }
    }
}
