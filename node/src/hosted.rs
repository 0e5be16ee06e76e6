//! `PangeaNode` in the real runtime: where its peers listen (its replicated directory, and what its
//! DHT learned from peers), the gauges it reports, and which of its requests count as commands.

use crate::runtime::Hosted;
use pangea_core::health::Health;
use pangea_core::log::LogRequest;
use pangea_core::pangea::{PangeaRequest, StorageStatus};
use pangea_core::{NodeId, PangeaNode};
use std::collections::BTreeMap;

impl Hosted for PangeaNode {
    fn peer_addresses(&self) -> &BTreeMap<NodeId, String> {
        self.metadata().directory().addresses()
    }

    fn learned_addresses(&self) -> &BTreeMap<NodeId, String> {
        self.dht().addresses()
    }

    fn gauges(&self) -> Vec<(&'static str, &'static str, u64)> {
        let log = self.log();
        let members = log.members();
        let membership = self.membership();
        let stats = membership.stats();
        let [alive_peers, suspect_peers, dead_peers] = membership.counts();
        let health_of = |node: &NodeId| membership.health_of(node);
        // Members other than this node: the node itself is not tracked, so it has no health.
        let others: Vec<&NodeId> = members.nodes.iter().filter(|node| health_of(node).is_some()).collect();
        let alive = others.iter().filter(|node| health_of(node) == Some(Health::Alive)).count() as u64;
        vec![
            ("pangea_applied_index", "The last applied log slot.", log.applied_index()),
            ("pangea_leader", "1 while this node leads.", u64::from(log.is_leader())),
            ("pangea_members", "Members of the configuration in force.", members.nodes.len() as u64),
            ("pangea_members_alive", "Other members the health subsystem judges alive.", alive),
            (
                "pangea_members_unreachable",
                "Other members the health subsystem judges suspect or dead.",
                others.len() as u64 - alive,
            ),
            ("pangea_sessions", "Client sessions open in the log.", log.sessions() as u64),
            ("pangea_dht_contacts", "Contacts in the DHT's routing table.", self.dht().table().len() as u64),
            ("pangea_peers_alive", "Tracked peers SWIM judges alive.", alive_peers as u64),
            ("pangea_peers_suspect", "Tracked peers SWIM suspects.", suspect_peers as u64),
            ("pangea_peers_dead", "Tracked peers SWIM declared dead.", dead_peers as u64),
            (
                "pangea_swim_incarnation",
                "This node's SWIM incarnation (raised to refute suspicions).",
                membership.incarnation(),
            ),
            (
                "pangea_swim_local_health",
                "Lifeguard's local health score: probes are stretched 1 + this many times.",
                u64::from(membership.awareness()),
            ),
            ("pangea_swim_probes", "Direct probes sent since the node started.", stats.probes),
            (
                "pangea_swim_indirect_probes",
                "Indirect probe requests sent since the node started.",
                stats.indirect_probes,
            ),
            ("pangea_swim_suspicions", "Suspicions begun since the node started.", stats.suspicions),
            ("pangea_swim_refutations", "Suspicions of this node refuted since it started.", stats.refutations),
            ("pangea_swim_deaths_declared", "Peers this node declared dead since it started.", stats.deaths_declared),
            (
                "pangea_storage_failing",
                "1 while the node's storage has failed and writes are refused.",
                u64::from(*self.storage_status() != StorageStatus::Healthy),
            ),
        ]
    }

    fn take_stage_samples(&mut self) -> Vec<pangea_core::log::StageSample> {
        PangeaNode::take_stage_samples(self)
    }

    fn is_command(request: &PangeaRequest) -> bool {
        matches!(request, PangeaRequest::Log(LogRequest::Command { .. } | LogRequest::Read(_)))
    }
}
