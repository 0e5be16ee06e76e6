//! Checkers of the replicated log that look at the replicas themselves (the client history is
//! checked for linearizability separately).
//!
//! - **agreement**: no two replicas ever know different entries as chosen for the same slot — the
//!   safety property of Paxos itself;
//! - **state-machine safety**: two replicas that applied the same number of slots hold the same
//!   metadata;
//! - **convergence**: after the heal, every member of the final configuration reaches the same
//!   applied state (metadata, configuration and client sessions).

use crate::report::{FailureKind, Violation};
use pangea_core::PangeaNode;
use pangea_core::log::{EntryId, Replica};
use pangea_core::metadata::Metadata;
use pangea_sim::Sim;
use std::collections::BTreeMap;

/// Watches what each replica knows as chosen.
#[derive(Debug, Default)]
pub struct Agreement {
    /// The first chosen entry seen for each slot, and the replica it was seen at.
    chosen: BTreeMap<u64, (EntryId, u32)>,
    /// Per replica: the incarnation and the slot up to which its chosen entries were compared.
    checked_up_to: BTreeMap<u32, (u64, u64)>,
    /// Per replica: the incarnation and applied index at which its state was last compared.
    state_checked_at: BTreeMap<u32, (u64, u64)>,
    /// Problems found.
    pub violations: Vec<Violation>,
}

impl Agreement {
    /// Compares every newly known chosen slot of every live replica with what others chose.
    pub fn check(&mut self, sim: &Sim<PangeaNode>) {
        for index in 0..sim.nodes() {
            let Some(replica) = sim.node(index).map(PangeaNode::log) else { continue };
            let incarnation = sim.starts(index);
            let from = match self.checked_up_to.get(&index) {
                Some((checked_incarnation, up_to)) if *checked_incarnation == incarnation => up_to + 1,
                // A restarted replica may know less than before, and learn it again: compare from
                // where it is.
                _ => replica.snapshot_index() + 1,
            };
            for slot in from..=replica.commit_index() {
                let Some(entry) = replica.chosen_entry(slot) else { continue };
                match self.chosen.get(&slot) {
                    None => {
                        self.chosen.insert(slot, (entry.id, index));
                    }
                    Some((id, first)) if *id != entry.id => {
                        if self.violations.len() < 10 {
                            self.violations.push(Violation {
                                involved: crate::report::Involved::default(),
                                checker: "agreement",
                                kind: FailureKind::Correctness,
                                at: sim.now(),
                                node: Some(index),
                                message: format!(
                                    "slot {slot}: n{index} knows entry {} as chosen, but n{first} chose {id}",
                                    entry.id
                                ),
                            });
                        }
                    }
                    Some(_) => {}
                }
            }
            self.checked_up_to.insert(index, (incarnation, replica.commit_index()));
        }
        self.check_state_machines(sim);
    }

    /// Replicas at the same applied index must hold the same state. A pair is compared again only
    /// when one of the two moved since the last look (comparing large states is not free).
    fn check_state_machines(&mut self, sim: &Sim<PangeaNode>) {
        let mut by_index: BTreeMap<u64, u32> = BTreeMap::new();
        let mut moved = BTreeMap::new();
        for index in 0..sim.nodes() {
            let Some(replica) = sim.node(index).map(PangeaNode::log) else { continue };
            let position = (sim.starts(index), replica.applied_index());
            moved.insert(index, self.state_checked_at.insert(index, position) != Some(position));
        }
        for index in 0..sim.nodes() {
            let Some(replica) = sim.node(index).map(PangeaNode::log) else { continue };
            match by_index.get(&replica.applied_index()) {
                None => {
                    by_index.insert(replica.applied_index(), index);
                }
                Some(&other) => {
                    if !moved[&index] && !moved[&other] {
                        continue;
                    }
                    let theirs = sim.node(other).map(|node| node.log().state());
                    if theirs != Some(replica.state()) && self.violations.len() < 10 {
                        self.violations.push(Violation {
                            involved: crate::report::Involved::default(),
                            checker: "state-machine",
                            kind: FailureKind::Correctness,
                            at: sim.now(),
                            node: Some(index),
                            message: format!(
                                "n{index} and n{other} both applied {} slots but hold different metadata",
                                replica.applied_index()
                            ),
                        });
                    }
                }
            }
        }
    }
}

/// Ok once every member of the final configuration (that of the replica that applied the most) is
/// up and holds the same applied index, records and configuration; replicas outside it are not
/// looked at (a removed replica may never learn it was removed).
pub fn converged(sim: &Sim<PangeaNode>) -> Result<(), String> {
    let up: Vec<(u32, &Replica<Metadata>)> =
        (0..sim.nodes()).filter_map(|index| sim.node(index).map(|node| (index, node.log()))).collect();
    let Some((first_index, first)) =
        up.iter().copied().max_by_key(|(index, replica)| (replica.applied_index(), std::cmp::Reverse(*index)))
    else {
        return Err("every replica is down".to_owned());
    };
    for member in &first.members().nodes {
        let Some(index) = sim.index_of(member) else {
            return Err(format!("member {} is not in the run", member.short()));
        };
        let Some(replica) = sim.node(index).map(PangeaNode::log) else {
            return Err(format!("member n{index} is down"));
        };
        if replica.applied_index() != first.applied_index() {
            return Err(format!(
                "n{first_index} applied {} slots, member n{index} applied {}",
                first.applied_index(),
                replica.applied_index()
            ));
        }
        if replica.state() != first.state()
            || replica.members() != first.members()
            || replica.sessions() != first.sessions()
        {
            return Err(format!(
                "n{first_index} and member n{index} applied {} slots but hold different state",
                first.applied_index()
            ));
        }
    }
    Ok(())
}
