//! What the firewall is told: the attach mode, and the limits of its maps; the allow-list's
//! prefixes are [`crate::prefix::AllowPrefix`], the rate limit core's.

use std::fmt;

/// Most prefixes the allow-list holds (the `allow` LPM trie's `max_entries`).
pub const ALLOW_PREFIXES_MAX: u32 = 4096;
/// Most source addresses whose token buckets are remembered at once (the `buckets` LRU hash's
/// `max_entries`); beyond it the least recently seen source is forgotten and starts over with a
/// full bucket.
pub const SOURCES_MAX: u32 = 65_536;
/// The rate limit is core's ([`pangea_core::firewall::RateLimit`]): the BPF program computes the
/// same token bucket as core's userspace firewall, within the same bounds.
pub use pangea_core::firewall::{BURST_MAX, RATE_PER_SECOND_MAX, RateLimit};

/// How the XDP program is attached to the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XdpMode {
    /// In the driver, before the kernel allocates a socket buffer (`XDP_FLAGS_DRV_MODE`).
    Native,
    /// In the kernel's generic receive path, after the socket buffer exists
    /// (`XDP_FLAGS_SKB_MODE`): works on every interface, saves less.
    Generic,
}

impl fmt::Display for XdpMode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Native => "native",
            Self::Generic => "generic",
        })
    }
}

/// Which attach mode the caller asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum XdpModeWanted {
    /// Native first; generic if the driver refuses native.
    #[default]
    Auto,
    /// Native only: fail if the driver refuses.
    Native,
    /// Generic only.
    Generic,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_display_as_documented() {
        assert_eq!(XdpMode::Native.to_string(), "native");
        assert_eq!(XdpMode::Generic.to_string(), "generic");
    }
}
