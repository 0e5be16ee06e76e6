//! Pangea's own time types: monotonic [`Instant`]s and wall-clock [`WallTime`]s, both plain
//! nanosecond counts handed in by the runtime, never read from the operating system here.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

pub use std::time::Duration;

/// A point on a node's monotonic clock, in nanoseconds since the runtime's origin.
///
/// In the simulator the origin is the start of the run and all nodes share it; in the real node it
/// is the process start, so an `Instant` means nothing to another process or after a restart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Instant(u64);

impl Instant {
    /// The runtime's origin.
    pub const ZERO: Instant = Instant(0);

    /// An instant `nanos` nanoseconds after the origin.
    #[must_use]
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant(nanos)
    }

    /// Nanoseconds since the origin.
    #[must_use]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since `earlier`, or zero if `earlier` is later than `self`.
    #[must_use]
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + duration`, or `None` on overflow (after roughly 584 years).
    #[must_use]
    pub fn checked_add(self, duration: Duration) -> Option<Instant> {
        u64::try_from(duration.as_nanos()).ok().and_then(|nanos| self.0.checked_add(nanos)).map(Instant)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the far end of time rather than wrapping.
    fn add(self, rhs: Duration) -> Instant {
        self.checked_add(rhs).unwrap_or(Instant(u64::MAX))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero: monotonic time never goes back, so a negative span is a caller's mistake
    /// that must not turn into a huge duration.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Display for Instant {
    /// Seconds with millisecond precision, e.g. `12.345s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0 / 1_000_000;
        write!(f, "{}.{:03}s", millis / 1000, millis % 1000)
    }
}

/// A wall-clock reading in nanoseconds since the Unix epoch. It may be skewed, and may jump
/// backwards or forwards; never use it to measure a duration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WallTime(i128);

impl WallTime {
    /// A reading `nanos` nanoseconds after (or, if negative, before) the Unix epoch.
    #[must_use]
    pub const fn from_unix_nanos(nanos: i128) -> WallTime {
        WallTime(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    #[must_use]
    pub const fn as_unix_nanos(self) -> i128 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates_instead_of_wrapping() {
        let early = Instant::from_nanos(5);
        let late = Instant::from_nanos(9);
        assert_eq!(late - early, Duration::from_nanos(4));
        assert_eq!(early - late, Duration::ZERO);
        assert_eq!(Instant::from_nanos(u64::MAX - 1) + Duration::from_secs(1), Instant::from_nanos(u64::MAX));
        assert_eq!(Instant::from_nanos(1_234_567_890).to_string(), "1.234s");
    }
}
