//! Who can reach whom in a simulated run, as SWIM sees it: nodes that are up form components of
//! two-way links, and a member is cut off from an observer when it is down or in another
//! component. SWIM's indirect probes and gossip route around a link that is cut while a path
//! remains, so only cut-off members are owed a dead judgement.

use pangea_core::Instant;
use pangea_sim::{NodeStatus, Partition, Sim};

/// The flag of a [`Connectivity::since`] cell for a pair that is cut off; the other bits hold
/// milliseconds since the run began.
const CUT: u32 = 1 << 31;

/// What components are computed from: the partition, and each node's status and `up_since`.
type Fingerprint = (Option<Partition>, Vec<(NodeStatus, Option<Instant>)>);

/// The components of the up nodes, and since when each pair has been cut off.
pub struct Connectivity {
    nodes: u32,
    /// The component of each up node (`None` when not up).
    component: Vec<Option<u32>>,
    /// Nodes in each component.
    sizes: Vec<u32>,
    /// `since[observer * nodes + member]`: whether the pair is cut off ([`CUT`]) and since when
    /// it has been so, or connected.
    since: Vec<u32>,
    /// Per node: since when it has been up and linked both ways, directly, to a majority of all
    /// nodes (itself included), if it is.
    majority_reach_since: Vec<Option<Instant>>,
    /// Per node: since when it has been down (crashed or paused), if it is.
    down_since: Vec<Option<Instant>>,
    /// Per node: since when it has been in a large component (see [`Connectivity::in_large_component`]).
    large_since: Vec<Option<Instant>>,
    /// True while the partition is a ring: every node reaches only its two neighbours, so news
    /// crosses the component in O(n) hops, not SWIM's O(log n), and no component counts as large.
    ring: bool,
    /// What the components were computed from.
    fingerprint: Option<Fingerprint>,
}

impl Connectivity {
    /// Nothing computed yet, for `nodes` nodes.
    pub fn new(nodes: u32) -> Connectivity {
        let cells = nodes as usize * nodes as usize;
        Connectivity {
            nodes,
            component: vec![None; nodes as usize],
            sizes: Vec::new(),
            since: vec![0; cells],
            majority_reach_since: vec![Some(Instant::ZERO); nodes as usize],
            large_since: vec![Some(Instant::ZERO); nodes as usize],
            down_since: vec![None; nodes as usize],
            ring: false,
            fingerprint: None,
        }
    }

    /// Recomputes the components if the partition or a node's status changed since last time.
    pub fn update<N: pangea_core::Node>(&mut self, sim: &Sim<N>) {
        // A node that came up (restarted or resumed) since the last look, even if it is down again,
        // was reachable in between: its `up_since` changed.
        let states: Vec<(NodeStatus, Option<Instant>)> =
            (0..self.nodes).map(|node| (sim.status(node), sim.up_since(node))).collect();
        let fingerprint = (sim.network().partition().cloned(), states);
        if self.fingerprint.as_ref() == Some(&fingerprint) {
            return;
        }
        let came_up: Vec<bool> = (0..self.nodes as usize)
            .map(|node| {
                let before = self.fingerprint.as_ref().and_then(|(_, states)| states[node].1);
                let after = fingerprint.1[node].1;
                after.is_some() && after != before
            })
            .collect();
        let statuses: &Vec<NodeStatus> = &fingerprint.1.iter().map(|(status, _)| *status).collect();
        self.compute_components(sim, statuses);
        let now_ms = u32::try_from(sim.now().as_nanos() / 1_000_000).unwrap_or(CUT - 1).min(CUT - 1);
        for observer in 0..self.nodes {
            for member in 0..self.nodes {
                let cut = self.is_cut(observer, member);
                let cell = &mut self.since[(observer * self.nodes + member) as usize];
                if cut != (*cell & CUT != 0) || (cut && came_up[member as usize]) {
                    *cell = now_ms | if cut { CUT } else { 0 };
                }
            }
        }
        let network = sim.network();
        self.ring = matches!(network.partition(), Some(Partition::Ring { .. }));
        for member in 0..self.nodes {
            let reach = if statuses[member as usize] == NodeStatus::Up {
                1 + (0..self.nodes)
                    .filter(|&other| {
                        other != member
                            && statuses[other as usize] == NodeStatus::Up
                            && !network.is_blocked(member, other)
                            && !network.is_blocked(other, member)
                    })
                    .count() as u32
            } else {
                0
            };
            let cell = &mut self.majority_reach_since[member as usize];
            match (reach * 2 > self.nodes, cell.is_some()) {
                (true, false) => *cell = Some(sim.now()),
                (false, true) => *cell = None,
                _ => {}
            }
        }
        for node in 0..self.nodes {
            let down = statuses[node as usize] != NodeStatus::Up;
            let cell = &mut self.down_since[node as usize];
            if !down {
                *cell = None;
            } else if cell.is_none() || came_up[node as usize] {
                *cell = Some(sim.now());
            }
            let large = self.in_large_component(node);
            let cell = &mut self.large_since[node as usize];
            match (large, cell.is_some()) {
                (true, false) => *cell = Some(sim.now()),
                (false, true) => *cell = None,
                _ => {}
            }
        }
        self.fingerprint = Some(fingerprint);
    }

    /// Since when `member` has been in `observer`'s component, if it is (both up).
    pub fn connected_since(&self, observer: u32, member: u32) -> Option<Instant> {
        let cell = self.since[(observer * self.nodes + member) as usize];
        (cell & CUT == 0).then(|| Instant::from_nanos(u64::from(cell) * 1_000_000))
    }

    /// Since when `node` has been down, if it is.
    pub fn down_since(&self, node: u32) -> Option<Instant> {
        self.down_since[node as usize]
    }

    /// Since when `node` has been in a large component, if it is.
    pub fn large_since(&self, node: u32) -> Option<Instant> {
        self.large_since[node as usize]
    }

    /// Since when `member` has been up and linked both ways, directly, to a majority of all nodes.
    pub fn majority_reach_since(&self, member: u32) -> Option<Instant> {
        self.majority_reach_since[member as usize]
    }

    fn compute_components<N: pangea_core::Node>(&mut self, sim: &Sim<N>, statuses: &[NodeStatus]) {
        let network = sim.network();
        self.component = vec![None; self.nodes as usize];
        self.sizes.clear();
        for start in 0..self.nodes {
            if statuses[start as usize] != NodeStatus::Up || self.component[start as usize].is_some() {
                continue;
            }
            let label = self.sizes.len() as u32;
            self.component[start as usize] = Some(label);
            let mut size = 1;
            let mut stack = vec![start];
            while let Some(node) = stack.pop() {
                for other in 0..self.nodes {
                    if self.component[other as usize].is_none()
                        && statuses[other as usize] == NodeStatus::Up
                        && !network.is_blocked(node, other)
                        && !network.is_blocked(other, node)
                    {
                        self.component[other as usize] = Some(label);
                        size += 1;
                        stack.push(other);
                    }
                }
            }
            self.sizes.push(size);
        }
    }

    /// True when `member` is down or outside `observer`'s component.
    pub fn is_cut(&self, observer: u32, member: u32) -> bool {
        let observer_component = self.component[observer as usize];
        observer_component.is_none() || self.component[member as usize] != observer_component
    }

    /// Since when `member` has been cut off from `observer`, if it is.
    pub fn cut_since(&self, observer: u32, member: u32) -> Option<Instant> {
        let cell = self.since[(observer * self.nodes + member) as usize];
        (cell & CUT != 0).then(|| Instant::from_nanos(u64::from(cell & !CUT) * 1_000_000))
    }

    /// True when `node` is up and its component holds at least half of the up nodes: the nodes
    /// whose judgements SWIM makes timely (a node alone, or in a small minority, probes each member
    /// only once per round of all members). None is while the partition is a ring.
    pub fn in_large_component(&self, node: u32) -> bool {
        if self.ring {
            return false;
        }
        let up: u32 = self.sizes.iter().sum();
        self.component[node as usize].is_some_and(|label| self.sizes[label as usize] * 2 >= up)
    }

    /// True when `node` is up and in a component holding more than half of all nodes.
    pub fn in_majority(&self, node: u32) -> bool {
        self.component[node as usize].is_some_and(|label| self.sizes[label as usize] * 2 > self.nodes)
    }

    /// The members cut off from `observer` now.
    pub fn cut_members(&self, observer: u32) -> impl Iterator<Item = u32> + '_ {
        (0..self.nodes).filter(move |&member| member != observer && self.is_cut(observer, member))
    }
}
