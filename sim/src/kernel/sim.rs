//! [`Sim`]: the run's state, its construction (every node booted at time zero, the plan's faults
//! scheduled), its getters, and the driving API scenarios use: run until a deadline, step, apply a
//! fault, send a client request.

use super::node::{IdIndex, VirtualNode};
use super::queue::{Event, EventSlab, Scheduled};
use super::{CLIENT, NodeStatus, Reply, SimConfig, SimError, SimStats, SimViolation};
use crate::coverage::{Buggify, Coverage};
use crate::disk::SimDisk;
use crate::network::{Cut, DropReason, Network};
use crate::plan::{Fault, FaultPlan, Latency};
use crate::rng::{SeedStreams, SimRng};
use crate::trace::{Trace, TraceHash, TraceKind};
use pangea_core::effects::{Effects, TimerTable};
use pangea_core::{Codec, Duration, Instant, Node, NodeId, RequestId};
use std::collections::BinaryHeap;
use std::rc::Rc;

/// A deterministic simulation of `nodes` nodes of type `N`.
pub struct Sim<N: Node> {
    pub(super) streams: SeedStreams,
    pub(super) now: Instant,
    pub(super) seq: u64,
    pub(super) queue: BinaryHeap<Scheduled>,
    pub(super) waiting: EventSlab,
    pub(super) nodes: Vec<VirtualNode<N>>,
    pub(super) index_of: IdIndex,
    pub(super) network: Network,
    pub(super) factory: Box<dyn FnMut(u32) -> N>,
    pub(super) trace: Trace,
    pub(super) coverage: Coverage,
    pub(super) buggify: Buggify,
    pub(super) stats: SimStats,
    pub(super) replies: Vec<Reply<N::Response>>,
    pub(super) next_request: u64,
    /// Every partition since the start: from when, and which (`None`: healed). With each node's
    /// spans of being down, this says since when any node has been unable to hear any other
    /// ([`Sim::cut_since`]) without a table of every pair.
    pub(super) partitions: Vec<(Instant, Option<Rc<Cut>>)>,
    pub(super) plan: FaultPlan,
    /// Draws of the crash-after-sync fault (its own stream, so it reshuffles nothing else).
    pub(super) crash_rng: SimRng,
    /// The clients' link, if they are on the network.
    pub(super) client_link: Option<Latency>,
    /// Draws of the clients' link (its own stream).
    pub(super) client_rng: SimRng,
    pub(super) events_max: u64,
    pub(super) message_bytes_max: Option<usize>,
    pub(super) violations: Vec<SimViolation>,
}

impl<N: Node> Sim<N> {
    /// Builds the run and boots every node at time zero. `factory` makes a node's fresh state, at
    /// first boot and at every restart (whatever survives a crash comes back through storage).
    ///
    /// # Panics
    /// If `config.nodes` is zero.
    pub fn new(config: SimConfig, factory: impl FnMut(u32) -> N + 'static) -> Sim<N> {
        let streams = SeedStreams::new(config.seed);
        Sim::with_streams(config, streams, factory)
    }

    /// As [`Sim::new`], drawing from `streams` (which may replay and record tapes, and which
    /// the scenario's own clients may share) instead of plain streams of `config.seed`.
    ///
    /// # Panics
    /// If `config.nodes` is zero, or `streams` are of another seed than `config.seed`.
    pub fn with_streams(config: SimConfig, streams: SeedStreams, factory: impl FnMut(u32) -> N + 'static) -> Sim<N> {
        assert!(config.nodes > 0, "a simulation needs at least one node");
        assert_eq!(streams.seed(), config.seed, "the streams are the run's seed's");
        let nodes = config.nodes;
        let virtual_nodes = (0..nodes)
            .map(|index| VirtualNode {
                id: NodeId::for_index(index),
                state: None,
                status: NodeStatus::Crashed,
                starts: 0,
                disk: SimDisk::new(config.plan.disk.clone(), streams.stream(&format!("disk/{index}")))
                    .with_rot_tables(config.rot_tables),
                rng: streams.stream(&format!("node/{index}")),
                timers: TimerTable::new(),
                effects: Effects::new(),
                busy_until: Instant::ZERO,
                handler_extra: Duration::ZERO,
                skew_nanos: i128::from(config.plan.clock_skew_ms.get(index as usize).copied().unwrap_or(0)) * 1_000_000,
                deferred: Vec::new(),
                up_since: None,
                down: Vec::new(),
            })
            .collect::<Vec<_>>();
        let index_of = IdIndex::new(virtual_nodes.iter().map(|node| node.id).collect());
        let mut sim = Sim {
            streams: streams.clone(),
            now: Instant::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            waiting: EventSlab::default(),
            nodes: virtual_nodes,
            index_of,
            network: Network::new(nodes, config.plan.network.clone(), streams.stream("net")),
            factory: Box::new(factory),
            trace: Trace::new(config.keep_trace),
            coverage: Coverage::default(),
            buggify: Buggify::new(config.plan.buggify, &streams),
            stats: SimStats::default(),
            replies: Vec::new(),
            next_request: 0,
            partitions: Vec::new(),
            events_max: config.events_max,
            crash_rng: streams.stream("crash-after-sync"),
            client_link: config.client_link,
            client_rng: streams.stream("client-net"),
            plan: config.plan,
            message_bytes_max: config.message_bytes_max,
            violations: Vec::new(),
        };
        for timed in sim.plan.events.clone() {
            sim.schedule(
                Instant::from_nanos(timed.at_ms.saturating_mul(1_000_000)),
                Event::Fault(Box::new(timed.fault)),
            );
        }
        let heal_at = Instant::from_nanos(sim.plan.heal_at_ms.saturating_mul(1_000_000));
        sim.schedule(heal_at, Event::Fault(Box::new(Fault::HealAll)));
        for index in 0..nodes {
            sim.start_node(index);
        }
        sim
    }

    // ----- getters -----

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.streams.seed()
    }

    /// The run's random streams (for clients that draw beside the nodes, so that their draws are
    /// taped with the run's).
    #[must_use]
    pub fn streams(&self) -> &SeedStreams {
        &self.streams
    }

    /// Virtual time now.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// How many nodes.
    #[must_use]
    pub fn nodes(&self) -> u32 {
        self.nodes.len() as u32
    }

    /// The plan the run follows.
    #[must_use]
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Node `index`'s identity.
    #[must_use]
    pub fn id_of(&self, index: u32) -> NodeId {
        self.nodes[index as usize].id
    }

    /// The index of the node with identity `id`.
    #[must_use]
    pub fn index_of(&self, id: &NodeId) -> Option<u32> {
        self.index_of.get(id)
    }

    /// Node `index`'s state, unless it is crashed.
    #[must_use]
    pub fn node(&self, index: u32) -> Option<&N> {
        self.nodes[index as usize].state.as_ref()
    }

    /// Whether node `index` runs.
    #[must_use]
    pub fn status(&self, index: u32) -> NodeStatus {
        self.nodes[index as usize].status
    }

    /// How many times node `index` has started.
    #[must_use]
    pub fn starts(&self, index: u32) -> u64 {
        self.nodes[index as usize].starts
    }

    /// Since when node `index` has been up without interruption (crash or pause), if it is up.
    #[must_use]
    pub fn up_since(&self, index: u32) -> Option<Instant> {
        self.nodes[index as usize].up_since
    }

    /// Since when `observer` has continuously been unable to hear from `target`: `target` is not up
    /// (crashed or paused), or the link from `target` to `observer` is cut. `None` if messages from
    /// `target` can reach `observer` now. (A link cut only from `observer` to `target` does not count:
    /// `target` can still speak.)
    #[must_use]
    pub fn cut_since(&self, observer: u32, target: u32) -> Option<Instant> {
        if !self.cut_at(observer, target, self.now) {
            return None;
        }
        // The state only changes at these instants: walk back over them while it stays cut.
        let mut since = self.now;
        for at in self.changes_of(target).into_iter().rev() {
            // The state on [at, since) is the state at `at`.
            if !self.cut_at(observer, target, at) {
                break;
            }
            since = at;
        }
        Some(since)
    }

    /// True when `observer` could hear from `target` at every moment from `since` until now:
    /// `target` up, and the link from it to `observer` not cut, throughout.
    #[must_use]
    pub fn heard_throughout(&self, observer: u32, target: u32, since: Instant) -> bool {
        let since = since.min(self.now);
        !self.cut_at(observer, target, since)
            && self.changes_of(target).into_iter().filter(|at| *at > since).all(|at| !self.cut_at(observer, target, at))
    }

    /// Whether `observer` could not hear from `target` at `at` (not after now).
    fn cut_at(&self, observer: u32, target: u32, at: Instant) -> bool {
        let down = &self.nodes[target as usize].down;
        let target_down = down.iter().any(|(from, until)| *from <= at && until.is_none_or(|until| at < until));
        let partition = self.partitions.iter().rev().find(|(from, _)| *from <= at);
        target_down || partition.is_some_and(|(_, cut)| cut.as_ref().is_some_and(|cut| cut.blocks(target, observer)))
    }

    /// The instants, up to now and in order, at which whether anyone can hear `target` may have
    /// changed: partitions began or ended, or it went down or came up.
    fn changes_of(&self, target: u32) -> Vec<Instant> {
        let mut changes: Vec<Instant> = self.partitions.iter().map(|(from, _)| *from).collect();
        for (from, until) in &self.nodes[target as usize].down {
            changes.push(*from);
            changes.extend(*until);
        }
        changes.retain(|at| *at <= self.now);
        changes.sort_unstable();
        changes.dedup();
        changes
    }

    /// Node `index`'s disk.
    #[must_use]
    pub fn disk(&self, index: u32) -> &SimDisk {
        &self.nodes[index as usize].disk
    }

    /// The network.
    #[must_use]
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Node `index`'s wall-clock skew in nanoseconds.
    #[must_use]
    pub fn clock_skew_nanos(&self, index: u32) -> i128 {
        self.nodes[index as usize].skew_nanos
    }

    /// The trace so far.
    #[must_use]
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The run's fingerprint so far.
    #[must_use]
    pub fn trace_hash(&self) -> TraceHash {
        self.trace.hash()
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// What the run covered.
    #[must_use]
    pub fn coverage(&self) -> &Coverage {
        &self.coverage
    }

    /// What the kernel itself saw nodes do wrong (oversized messages, broken invariants), in order.
    #[must_use]
    pub fn violations(&self) -> &[SimViolation] {
        &self.violations
    }

    /// Takes the replies collected so far.
    pub fn take_replies(&mut self) -> Vec<Reply<N::Response>> {
        std::mem::take(&mut self.replies)
    }

    // ----- driving -----

    /// Processes every event up to and including `deadline`, then sets the clock to `deadline`.
    pub fn run_until(&mut self, deadline: Instant) -> Result<(), SimError> {
        while self.queue.peek().is_some_and(|next| next.at <= deadline) {
            self.step()?;
        }
        self.now = self.now.max(deadline);
        Ok(())
    }

    /// Processes `duration` more of virtual time.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), SimError> {
        self.run_until(self.now + duration)
    }

    /// Processes the next event, if any. False when the queue is empty.
    pub fn step(&mut self) -> Result<bool, SimError> {
        let Some(Scheduled { at, arrived, entry, .. }) = self.queue.pop() else {
            return Ok(false);
        };
        let event = self.waiting.take(entry);
        if self.stats.events >= self.events_max {
            return Err(SimError::EventBudgetExhausted { events_max: self.events_max, at });
        }
        assert!(at >= self.now, "event queue went back in time");
        self.now = at;
        self.stats.events += 1;
        self.dispatch(event, arrived);
        Ok(true)
    }

    /// Applies `fault` now (tests and scenarios use this; plans schedule theirs).
    pub fn apply(&mut self, fault: Fault) {
        self.apply_fault(fault);
    }

    /// Sends `body` from a client to node `index`, arriving now. The answer appears in
    /// [`Sim::take_replies`].
    ///
    /// # Panics
    /// If `body` cannot be encoded: the scenario built a request over the frame limit.
    pub fn client_request(&mut self, index: u32, body: &N::Request) -> RequestId {
        self.next_request += 1;
        let request = RequestId(self.next_request);
        let bytes = match body.encode() {
            Ok(bytes) => bytes,
            Err(error) => panic!("a scenario's client request cannot be encoded: {error}"),
        };
        match self.client_crossing() {
            Some(delay) => self.schedule(self.now + delay, Event::Client { node: index, request, bytes }),
            None => {
                self.stats.dropped_loss += 1;
                let reason = DropReason::Loss.name();
                self.trace.record(self.now, Some(index), TraceKind::Drop { from: CLIENT, to: index, reason });
            }
        }
        request
    }
}
