//! A virtual node as the kernel keeps it — its state, status, disk, RNG, timers, pending effects and
//! waiting inputs — the inputs its handlers take, and the index from node ids to nodes.

use super::queue::Event;
use crate::disk::SimDisk;
use crate::rng::SimRng;
use pangea_core::effects::{Effects, TimerTable};
use pangea_core::{Duration, Instant, Node, NodeId, RequestId};

/// Whether a virtual node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Running.
    Up,
    /// Stopped the world; inputs wait.
    Paused,
    /// Crashed; inputs are lost until it restarts.
    Crashed,
}

/// Finds a node's index from its id on every send: a sorted table of the ids' first eight bytes
/// (one integer compare per probe instead of a 32-byte comparison), confirmed against the full id.
pub(super) struct IdIndex {
    /// (first eight bytes of the id, index), sorted.
    prefixes: Vec<(u64, u32)>,
    ids: Vec<NodeId>,
}

impl IdIndex {
    pub(super) fn new(ids: Vec<NodeId>) -> IdIndex {
        let mut prefixes: Vec<(u64, u32)> =
            ids.iter().enumerate().map(|(index, id)| (Self::prefix(id), index as u32)).collect();
        prefixes.sort_unstable();
        assert!(
            prefixes.windows(2).all(|pair| pair[0].0 != pair[1].0),
            "two simulated node ids share their first eight bytes"
        );
        IdIndex { prefixes, ids }
    }

    fn prefix(id: &NodeId) -> u64 {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&id.0[..8]);
        u64::from_be_bytes(bytes)
    }

    pub(super) fn get(&self, id: &NodeId) -> Option<u32> {
        let prefix = Self::prefix(id);
        let position = self.prefixes.binary_search_by_key(&prefix, |(key, _)| *key).ok()?;
        let index = self.prefixes[position].1;
        (self.ids[index as usize] == *id).then_some(index)
    }
}

/// One virtual node as the kernel keeps it: its state (none while crashed) and all around it.
pub(super) struct VirtualNode<N: Node> {
    pub(super) id: NodeId,
    pub(super) state: Option<N>,
    pub(super) status: NodeStatus,
    pub(super) starts: u64,
    pub(super) disk: SimDisk,
    pub(super) rng: SimRng,
    pub(super) timers: TimerTable<N::Timer>,
    /// What the node's handlers asked for; lives as long as the virtual node, so timer ids keep counting.
    pub(super) effects: Effects<N>,
    pub(super) busy_until: Instant,
    pub(super) handler_extra: Duration,
    pub(super) skew_nanos: i128,
    /// Inputs that arrived while paused, with their arrival times.
    pub(super) deferred: Vec<(Instant, Event)>,
    pub(super) up_since: Option<Instant>,
    /// Spans of time it was not up (crashed or paused), the last open while it still is not.
    pub(super) down: Vec<(Instant, Option<Instant>)>,
}

impl<N: Node> VirtualNode<N> {
    /// It stops being up (a crash or a pause) at `now`.
    pub(super) fn went_down(&mut self, now: Instant) {
        if self.down.last().is_none_or(|(_, until)| until.is_some()) {
            self.down.push((now, None));
        }
    }

    /// It is up again at `now`.
    pub(super) fn came_up(&mut self, now: Instant) {
        if let Some((_, until @ None)) = self.down.last_mut() {
            *until = Some(now);
        }
    }
}

/// What a node's handler is called with.
pub(super) enum Input<N: Node> {
    Start,
    Message(NodeId, N::Message),
    Timer(N::Timer),
    Client(RequestId, N::Request),
}
