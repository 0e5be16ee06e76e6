//! The byte layout shared with `bpf/firewall.bpf.c`: map names, the config value, counter
//! indices. Values are plain byte arrays so that no `unsafe impl Pod` is needed.

use super::RateLimit;

/// The XDP program's function name in the object.
pub(crate) const PROGRAM: &str = "firewall";
/// The 1-entry config array.
pub(crate) const CONFIG_MAP: &str = "config";
/// The allow-list LPM trie.
pub(crate) const ALLOW_MAP: &str = "allow";
/// The per-source token buckets (LRU hash).
pub(crate) const BUCKETS_MAP: &str = "buckets";
/// The per-CPU counters.
pub(crate) const COUNTERS_MAP: &str = "counters";

/// The config array's only index.
pub(crate) const CONFIG_INDEX: u32 = 0;
/// Counter of datagrams to the port that passed both stages.
pub(crate) const COUNTER_PASSED: u32 = 0;
/// Counter of datagrams to the port from sources outside the allow-list.
pub(crate) const COUNTER_DROPPED_DENIED: u32 = 1;
/// Counter of datagrams to the port dropped by the source's token bucket.
pub(crate) const COUNTER_DROPPED_RATE: u32 = 2;
/// Counter of packets that are not UDP to the port (or are later IPv4 fragments).
pub(crate) const COUNTER_IGNORED: u32 = 3;

/// Bytes of `struct firewall_config`.
pub(crate) const CONFIG_BYTES: usize = 12;
/// The value stored in the allow-list for each prefix (the program only tests presence).
pub(crate) const ALLOW_VALUE: u8 = 1;

/// What the config map holds, before encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FirewallConfig {
    /// UDP destination port to filter, host byte order.
    pub(crate) port: u16,
    /// Whether sources must match the allow-list.
    pub(crate) enforce_allow: bool,
    /// The per-source token bucket.
    pub(crate) rate: RateLimit,
}

impl FirewallConfig {
    /// `struct firewall_config { u16 port; u8 enforce_allow; u8 reserved; u32 rate_per_second;
    /// u32 burst; }` in this machine's byte order (the BPF program runs on the same CPU).
    pub(crate) fn encode(&self) -> [u8; CONFIG_BYTES] {
        let mut bytes = [0_u8; CONFIG_BYTES];
        bytes[0..2].copy_from_slice(&self.port.to_ne_bytes());
        bytes[2] = u8::from(self.enforce_allow);
        bytes[4..8].copy_from_slice(&self.rate.per_second.to_ne_bytes());
        bytes[8..12].copy_from_slice(&self.rate.burst.to_ne_bytes());
        bytes
    }
}

/// The firewall's counters, summed over CPUs, since it was attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct XdpCounters {
    /// Datagrams to the port that passed.
    pub passed: u64,
    /// Datagrams to the port dropped because the source is not on the allow-list.
    pub dropped_denied: u64,
    /// Datagrams to the port dropped by the source's token bucket.
    pub dropped_rate: u64,
    /// Packets that were not UDP to the port (also ARP, ICMP, later IPv4 fragments), passed.
    pub ignored: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_layout_matches_the_c_struct() {
        let config = FirewallConfig {
            port: 0x1234,
            enforce_allow: true,
            rate: RateLimit { per_second: 0x0102_0304, burst: 0x0506_0708 },
        };
        let bytes = config.encode();
        assert_eq!(u16::from_ne_bytes([bytes[0], bytes[1]]), 0x1234);
        assert_eq!(bytes[2..4], [1, 0]);
        assert_eq!(u32::from_ne_bytes(bytes[4..8].try_into().unwrap()), 0x0102_0304);
        assert_eq!(u32::from_ne_bytes(bytes[8..12].try_into().unwrap()), 0x0506_0708);
    }
}
