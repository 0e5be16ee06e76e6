//! Checkers of the replicated log that look at the replicas themselves (the client history is
//! checked for linearizability separately).
//!
//! - **agreement**: no two replicas ever know different entries as chosen for the same slot — the
//!   safety property of Paxos itself;
//! - **state-machine safety**: two replicas that applied the same number of slots hold the same
//!   records;
//! - **convergence**: after the heal, every replica reaches the same applied state.

use crate::report::{FailureKind, Violation};
use pangea_core::log::{EntryId, Replica};
use pangea_sim::Sim;
use std::collections::BTreeMap;

/// Watches what each replica knows as chosen.
#[derive(Debug, Default)]
pub struct Agreement {
    /// The first chosen entry seen for each slot, and the replica it was seen at.
    chosen: BTreeMap<u64, (EntryId, u32)>,
    /// Per replica, the slots below which everything was already compared.
    checked_up_to: BTreeMap<u32, u64>,
    /// Problems found.
    pub violations: Vec<Violation>,
}

impl Agreement {
    /// Compares every newly known chosen slot of every live replica with what others chose.
    pub fn check(&mut self, sim: &Sim<Replica>) {
        for index in 0..sim.nodes() {
            let Some(replica) = sim.node(index) else { continue };
            let from = self.checked_up_to.get(&index).copied().unwrap_or(0) + 1;
            // A restarted replica may know less than before: compare from where it is.
            let from = from.min(replica.snapshot_index() + 1);
            for slot in from..=replica.commit_index() {
                let Some(entry) = replica.chosen_entry(slot) else { continue };
                match self.chosen.get(&slot) {
                    None => {
                        self.chosen.insert(slot, (entry.id, index));
                    }
                    Some((id, first)) if *id != entry.id => {
                        if self.violations.len() < 10 {
                            self.violations.push(Violation {
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
            self.checked_up_to.insert(index, replica.commit_index());
        }
        self.check_state_machines(sim);
    }

    /// Replicas at the same applied index must hold the same records.
    fn check_state_machines(&mut self, sim: &Sim<Replica>) {
        let mut by_index: BTreeMap<u64, u32> = BTreeMap::new();
        for index in 0..sim.nodes() {
            let Some(replica) = sim.node(index) else { continue };
            match by_index.get(&replica.applied_index()) {
                None => {
                    by_index.insert(replica.applied_index(), index);
                }
                Some(&other) => {
                    let theirs = sim.node(other).map(Replica::store);
                    if theirs != Some(replica.store()) && self.violations.len() < 10 {
                        self.violations.push(Violation {
                            checker: "state-machine",
                            kind: FailureKind::Correctness,
                            at: sim.now(),
                            node: Some(index),
                            message: format!(
                                "n{index} and n{other} both applied {} slots but hold different records",
                                replica.applied_index()
                            ),
                        });
                    }
                }
            }
        }
    }
}

/// After the heal: all replicas up, at the same applied index, with the same records.
pub fn converged(sim: &Sim<Replica>) -> Result<(), String> {
    let Some(first) = sim.node(0) else { return Err("n0 is down".to_owned()) };
    for index in 1..sim.nodes() {
        let Some(replica) = sim.node(index) else { return Err(format!("n{index} is down")) };
        if replica.applied_index() != first.applied_index() {
            return Err(format!(
                "n0 applied {} slots, n{index} applied {}",
                first.applied_index(),
                replica.applied_index()
            ));
        }
        if replica.store() != first.store() {
            return Err(format!("n0 and n{index} applied {} slots but hold different records", first.applied_index()));
        }
    }
    Ok(())
}
