//! The token bucket, in integers, exactly as `hw/bpf/firewall.bpf.c` computes it in the kernel.
//!
//! A bucket holds up to `burst` tokens, counted in billionths ([`NANOS_PER_TOKEN`] per token), and
//! gains `per_second` tokens a second: one billionth per nanosecond per packet-per-second. A new
//! source starts full. Each packet refills the bucket for the time since the last one (at most
//! [`ELAPSED_NANOS_MAX`], so that nothing overflows), then takes a token if there is one.

use super::config::RateLimit;

/// Billionths of a token in one token.
pub const NANOS_PER_TOKEN: u64 = 1_000_000_000;
/// The longest gap between packets a refill counts (about 550 s; with the largest rate a bucket is
/// full long before).
pub const ELAPSED_NANOS_MAX: u64 = 1 << 39;

/// One source's bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bucket {
    /// Tokens, in billionths.
    pub tokens_nano: u64,
    /// When the bucket was last refilled, in nanoseconds.
    pub last_nanos: u64,
}

impl Bucket {
    /// A new source's bucket: full.
    #[must_use]
    pub fn full(now_nanos: u64, rate: RateLimit) -> Bucket {
        Bucket { tokens_nano: u64::from(rate.burst) * NANOS_PER_TOKEN, last_nanos: now_nanos }
    }

    /// The bucket refilled up to `now_nanos` (a clock that went back refills nothing).
    #[must_use]
    pub fn refilled(self, now_nanos: u64, rate: RateLimit) -> Bucket {
        let elapsed = now_nanos.saturating_sub(self.last_nanos).min(ELAPSED_NANOS_MAX);
        let capacity = u64::from(rate.burst) * NANOS_PER_TOKEN;
        let tokens_nano = self.tokens_nano.saturating_add(elapsed * u64::from(rate.per_second)).min(capacity);
        Bucket { tokens_nano, last_nanos: now_nanos }
    }

    /// Takes a token if there is one: the bucket after, and whether the packet passes.
    #[must_use]
    pub fn take(self) -> (Bucket, bool) {
        if self.tokens_nano >= NANOS_PER_TOKEN {
            (Bucket { tokens_nano: self.tokens_nano - NANOS_PER_TOKEN, ..self }, true)
        } else {
            (self, false)
        }
    }
}
