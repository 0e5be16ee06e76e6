//! Settings of the membership and health subsystem (SWIM with Lifeguard).

use crate::id::NodeId;
use crate::time::Duration;
use thiserror::Error;

/// How a node probes its peers, how long it suspects one before declaring it dead, and how far
/// news travels.
///
/// Every `probe_interval` (stretched by the node's local health, see [`HealthConfig::lifeguard`])
/// a node pings one tracked peer, round-robin in a shuffled order. A peer that has not answered
/// within `probe_timeout` is pinged through `indirect_probes` other peers; one that has not answered
/// either way by the end of the period is suspected. A suspicion lasts between
/// [`HealthConfig::suspicion_min`] and [`HealthConfig::suspicion_max`] (shorter as other nodes
/// independently confirm it) unless the peer refutes it, then the peer is declared dead. Every
/// judgement travels piggybacked on probes and acks, each sent [`HealthConfig::retransmits`] times.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HealthConfig {
    /// Time between probes (one peer per period).
    pub probe_interval: Duration,
    /// How long a direct probe waits for its ack before asking others to probe indirectly.
    pub probe_timeout: Duration,
    /// How many peers are asked to probe a peer that did not answer directly (SWIM's k).
    pub indirect_probes: usize,
    /// The shortest suspicion, in probe intervals per decade of members: the suspicion timeout is
    /// `suspicion_mult × max(1, log10 n) × probe_interval` once enough peers confirm it.
    pub suspicion_mult: u32,
    /// The longest suspicion, as a multiple of the shortest (an unconfirmed suspicion lasts this long).
    pub suspicion_max_mult: u32,
    /// Each judgement is piggybacked `retransmit_mult × ⌈log10(n + 1)⌉` times (SWIM's λ log n).
    pub retransmit_mult: u32,
    /// Most judgements piggybacked on one message.
    pub piggyback_max: usize,
    /// Time between gossip rounds. Besides piggybacking judgements on probes and acks, a node
    /// sends its waiting judgements to `gossip_fanout` random peers in a round, every
    /// `gossip_interval` at most, when a round is owed: each judgement the node makes itself (a
    /// suspicion or death from its own probes, a refutation) owes one, and a relayed judgement owes
    /// one with chance `4 / n`, so that each judgement earns a few rounds cluster-wide whatever n.
    /// (memberlist gossips whenever news waits; under a swarm of faults on a large cluster news
    /// always waits, and that made the load grow with n: 3.4, 4.9 and 6.3 messages per node per
    /// period at 5, 64 and 1,000 nodes.)
    pub gossip_interval: Duration,
    /// Peers each gossip round goes to.
    pub gossip_fanout: usize,
    /// Most judgements waiting to be piggybacked; the most-sent are dropped beyond this.
    pub updates_max: usize,
    /// Time between full-state exchanges with one random peer (anti-entropy: a joining node learns
    /// the members this way, and two sides of a healed partition find each other).
    pub sync_interval: Duration,
    /// Most members listed in one full-state exchange.
    pub sync_entries_max: usize,
    /// Most indirect probes a node runs for others at once; requests beyond this are ignored.
    pub relays_max: usize,
    /// Lifeguard: stretch this node's own probe interval and timeout while it misses acks and nacks
    /// (local health awareness), start suspicions long and shorten them with each independent
    /// confirmation, and have indirect probers answer with nacks. Off, the node runs plain SWIM
    /// with fixed suspicion timeouts of `suspicion_min`.
    pub lifeguard: bool,
    /// Highest local health score: probes are stretched at most `1 + awareness_max` times. The
    /// default is 2, not memberlist's 8: a healthy node on one side of a partition misses the nacks
    /// of helpers on the other side too, and at 8 its stretched probes broke `health`'s detection
    /// bound in 10 of 3,000 seeds at 5 nodes. At 2 the Lifeguard benchmark measures 546 false
    /// suspicions per node-hour against 796 without Lifeguard (398 at 8), no false deaths either way.
    pub awareness_max: u32,
    /// Most peers a node tracks. Peers that other parts of the node ask for (the log's members)
    /// are tracked first; ids learned by gossip beyond this are ignored.
    pub peers_max: usize,
    /// Peers known from configuration, before any gossip.
    pub bootstrap: Vec<NodeId>,
    /// A deliberately planted bug, to prove the simulator catches it. Exists only in builds with
    /// the `planted-bugs` feature.
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<MembershipPlantedBug>,
}

/// Bugs that can be planted in the membership subsystem. They take effect only in builds with the
/// `planted-bugs` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MembershipPlantedBug {
    /// A suspected peer is never declared dead: it stays suspect forever.
    NeverMarkDead,
    /// A peer that misses a direct probe is suspected at once, without asking others to probe it.
    NoIndirectProbes,
    /// A node does not refute suspicions of itself (its incarnation never rises).
    IgnoreRefutation,
    /// Judgements are piggybacked once, by the node that made them, and never passed on: news
    /// stops after one hop instead of spreading to all in O(log n) periods.
    DisseminationStopsEarly,
}

impl MembershipPlantedBug {
    /// Every bug with its command-line name, in one table.
    pub const ALL: [(MembershipPlantedBug, &'static str); 4] = [
        (MembershipPlantedBug::NeverMarkDead, "never-dead"),
        (MembershipPlantedBug::NoIndirectProbes, "no-indirect-probes"),
        (MembershipPlantedBug::IgnoreRefutation, "ignore-refutation"),
        (MembershipPlantedBug::DisseminationStopsEarly, "dissemination-stops-early"),
    ];
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(400),
            indirect_probes: 3,
            suspicion_mult: 3,
            suspicion_max_mult: 3,
            retransmit_mult: 4,
            piggyback_max: 16,
            gossip_interval: Duration::from_millis(500),
            gossip_fanout: 2,
            updates_max: 1024,
            sync_interval: Duration::from_secs(15),
            sync_entries_max: 1024,
            relays_max: 64,
            lifeguard: true,
            awareness_max: 2,
            peers_max: 1024,
            bootstrap: Vec::new(),
            #[cfg(feature = "planted-bugs")]
            planted_bug: None,
        }
    }
}

/// A [`HealthConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HealthConfigError {
    /// The probe interval is zero.
    #[error("probe_interval must be positive")]
    ZeroProbeInterval,
    /// The direct probe would time out after the period ends.
    #[error("probe_timeout ({probe_timeout:?}) must be positive and shorter than probe_interval ({probe_interval:?})")]
    ProbeTimeout {
        /// The configured probe timeout.
        probe_timeout: Duration,
        /// The configured probe interval.
        probe_interval: Duration,
    },
    /// The sync or gossip interval is zero.
    #[error("sync_interval and gossip_interval must be positive")]
    ZeroInterval,
    /// A limit or multiplier is zero.
    #[error("{0} must be at least 1")]
    ZeroLimit(&'static str),
    /// A multiplier is so large that timeouts would overflow.
    #[error("{name} is {value}, over its limit of {limit}")]
    TooLarge {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: u64,
        /// The largest accepted.
        limit: u64,
    },
}

/// Most bytes one judgement takes encoded: a 32-byte id, a varint incarnation, a tag and the
/// judge's 32-byte id.
pub const UPDATE_BYTES_MAX: usize = 32 + 10 + 1 + 32;
/// Most bytes of a membership message besides its judgements: the frame, the sender's
/// incarnation, the kind and its fields, and the lists' lengths.
pub const MESSAGE_OVERHEAD_BYTES_MAX: usize = 128;

/// Largest accepted multiplier (suspicion, retransmit, awareness): beyond this timeouts and
/// queues stop making sense.
pub const MULTIPLIER_MAX: u32 = 64;

impl HealthConfig {
    /// Is `bug` planted? Always false without the `planted-bugs` feature.
    #[must_use]
    #[allow(unused_variables)]
    pub fn planted(&self, bug: MembershipPlantedBug) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            self.planted_bug == Some(bug)
        }
        #[cfg(not(feature = "planted-bugs"))]
        false
    }

    /// The shortest suspicion in a group of `members` nodes (this one included):
    /// `suspicion_mult × max(1, log10 members) × probe_interval`.
    #[must_use]
    pub fn suspicion_min(&self, members: usize) -> Duration {
        let milli = milli_log10(members as u64).max(1000);
        scaled(self.probe_interval, u64::from(self.suspicion_mult) * milli, 1000)
    }

    /// The longest suspicion (one nobody confirms) in a group of `members` nodes: with Lifeguard,
    /// `suspicion_max_mult ×` [`HealthConfig::suspicion_min`]; without, the shortest.
    #[must_use]
    pub fn suspicion_max(&self, members: usize) -> Duration {
        if self.lifeguard { self.suspicion_min(members) * self.suspicion_max_mult } else { self.suspicion_min(members) }
    }

    /// How many times each judgement is piggybacked in a group of `members` nodes:
    /// `retransmit_mult × ⌈log10(members + 1)⌉`.
    #[must_use]
    pub fn retransmits(&self, members: usize) -> u32 {
        if self.planted(MembershipPlantedBug::DisseminationStopsEarly) {
            return 1;
        }
        let milli = milli_log10(members as u64 + 1);
        self.retransmit_mult * u32::try_from(milli.div_ceil(1000)).unwrap_or(u32::MAX).max(1)
    }

    /// The byte budget of one membership message as encoded (frame included): a full-state
    /// exchange of `sync_entries_max` judgements plus `piggyback_max` piggybacked ones, at
    /// [`UPDATE_BYTES_MAX`] each, and a fixed allowance for the frame and the rest.
    #[must_use]
    pub fn message_bytes_max(&self) -> usize {
        MESSAGE_OVERHEAD_BYTES_MAX + (self.sync_entries_max + self.piggyback_max) * UPDATE_BYTES_MAX
    }

    /// Checks that the timeouts are ordered and the limits positive.
    pub fn validate(&self) -> Result<(), HealthConfigError> {
        if self.probe_interval.is_zero() {
            return Err(HealthConfigError::ZeroProbeInterval);
        }
        if self.probe_timeout.is_zero() || self.probe_timeout >= self.probe_interval {
            return Err(HealthConfigError::ProbeTimeout {
                probe_timeout: self.probe_timeout,
                probe_interval: self.probe_interval,
            });
        }
        if self.sync_interval.is_zero() || self.gossip_interval.is_zero() {
            return Err(HealthConfigError::ZeroInterval);
        }
        let limits = [
            ("piggyback_max", self.piggyback_max),
            ("gossip_fanout", self.gossip_fanout),
            ("updates_max", self.updates_max),
            ("sync_entries_max", self.sync_entries_max),
            ("relays_max", self.relays_max),
            ("peers_max", self.peers_max),
            ("suspicion_mult", self.suspicion_mult as usize),
            ("suspicion_max_mult", self.suspicion_max_mult as usize),
            ("retransmit_mult", self.retransmit_mult as usize),
        ];
        if let Some((name, _)) = limits.iter().find(|(_, value)| *value == 0) {
            return Err(HealthConfigError::ZeroLimit(name));
        }
        let multipliers = [
            ("suspicion_mult", self.suspicion_mult),
            ("suspicion_max_mult", self.suspicion_max_mult),
            ("retransmit_mult", self.retransmit_mult),
            ("awareness_max", self.awareness_max),
        ];
        if let Some((name, value)) = multipliers.iter().find(|(_, value)| *value > MULTIPLIER_MAX) {
            return Err(HealthConfigError::TooLarge {
                name,
                value: u64::from(*value),
                limit: u64::from(MULTIPLIER_MAX),
            });
        }
        Ok(())
    }
}

/// `duration × numerator / denominator`, saturating (`denominator` must be positive).
#[must_use]
pub fn scaled(duration: Duration, numerator: u64, denominator: u64) -> Duration {
    let nanos = duration.as_nanos() * u128::from(numerator) / u128::from(denominator.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// `1000 × log2(value)` for `value ≥ 1`, to within a few thousandths, in integers only (so that
/// every platform computes the same timeouts). 0 for 0 and 1.
#[must_use]
pub fn milli_log2(value: u64) -> u64 {
    if value <= 1 {
        return 0;
    }
    let whole = u64::from(value.ilog2());
    // The fraction bit by bit: square the mantissa (kept as a 2^32-scaled fixed-point number).
    let mut mantissa = u128::from(value) << 32 >> whole;
    let mut fraction = 0_u64;
    let mut bit = 500_u64 * 1024;
    while bit > 0 {
        mantissa = (mantissa * mantissa) >> 32;
        if mantissa >= 2 << 32 {
            mantissa >>= 1;
            fraction += bit;
        }
        bit /= 2;
    }
    whole * 1000 + fraction / 1024
}

/// `1000 × log10(value)`, from [`milli_log2`].
#[must_use]
pub fn milli_log10(value: u64) -> u64 {
    // log10(x) = log2(x) × log10(2); log10(2) ≈ 0.30103.
    milli_log2(value) * 30_103 / 100_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_logarithms_match_the_real_ones() {
        for (value, log2) in [(2_u64, 1000), (8, 3000), (10, 3321), (64, 6000), (1000, 9965), (10_000, 13_287)] {
            assert!(milli_log2(value).abs_diff(log2) <= 2, "log2({value}) = {}", milli_log2(value));
        }
        for (value, log10) in [(10_u64, 1000), (100, 2000), (1000, 3000), (64, 1806), (5, 699)] {
            assert!(milli_log10(value).abs_diff(log10) <= 2, "log10({value}) = {}", milli_log10(value));
        }
        assert_eq!(milli_log2(1), 0);
        assert_eq!(milli_log2(0), 0);
        assert!(milli_log2(u64::MAX) >= 63_990);
    }

    #[test]
    fn suspicion_and_retransmits_grow_with_log_n() {
        let config = HealthConfig::default();
        assert_eq!(config.suspicion_min(5), Duration::from_secs(3));
        assert_eq!(config.suspicion_max(5), Duration::from_secs(9));
        assert!(config.suspicion_min(1000).abs_diff(Duration::from_secs(9)) < Duration::from_millis(10));
        assert_eq!(config.retransmits(5), 4);
        assert_eq!(config.retransmits(64), 8);
        assert_eq!(config.retransmits(1000), 12, "log10(1001) is 3.0004; the integer logarithm rounds it to 3");
        let plain = HealthConfig { lifeguard: false, ..HealthConfig::default() };
        assert_eq!(plain.suspicion_max(5), plain.suspicion_min(5));
    }

    #[test]
    fn validate_rejects_unworkable_settings() {
        assert_eq!(HealthConfig::default().validate(), Ok(()));
        let zero = HealthConfig { probe_interval: Duration::ZERO, ..HealthConfig::default() };
        assert_eq!(zero.validate(), Err(HealthConfigError::ZeroProbeInterval));
        let late = HealthConfig { probe_timeout: Duration::from_secs(1), ..HealthConfig::default() };
        assert!(matches!(late.validate(), Err(HealthConfigError::ProbeTimeout { .. })));
        let no_room = HealthConfig { peers_max: 0, ..HealthConfig::default() };
        assert_eq!(no_room.validate(), Err(HealthConfigError::ZeroLimit("peers_max")));
        let huge = HealthConfig { suspicion_mult: 1000, ..HealthConfig::default() };
        assert!(matches!(huge.validate(), Err(HealthConfigError::TooLarge { name: "suspicion_mult", .. })));
    }
}
