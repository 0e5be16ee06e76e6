//! How an event reaches its node and what the node's handler makes of it: the queue's scheduling,
//! delivery (or loss: partitions, crashed nodes, corruption the codec catches), waiting for a busy or
//! paused node, running the handler against a [`SimHost`], and carrying out its effects — sends
//! through the simulated network, timers, replies to clients, trace events.

use super::host::SimHost;
use super::node::{Input, VirtualNode};
use super::queue::{Event, Scheduled};
use super::{CLIENT, NodeStatus, Reply, Sim, SimViolation, SimViolationKind, VIOLATIONS_MAX};
use crate::network::DropReason;
use crate::trace::{TraceKind, digest};
use pangea_core::effects::{Effect, Emitted};
use pangea_core::random::chance;
use pangea_core::{Codec, Duration, HandlerContext, Instant, Node, RequestId};

impl<N: Node> Sim<N> {
    /// How long a client's message takes on its link, or `None` if it is lost. Clients without a
    /// link (the default) get their messages across at once, always.
    pub(super) fn client_crossing(&mut self) -> Option<Duration> {
        let Some(link) = self.client_link else { return Some(Duration::ZERO) };
        let drop_ppm = self.network.faults().drop_ppm;
        if drop_ppm > 0 && chance(&mut self.client_rng, u64::from(drop_ppm), u64::from(crate::plan::PPM)) {
            return None;
        }
        Some(link.sample(&mut self.client_rng))
    }

    pub(super) fn deliver_reply(&mut self, at: Instant, node: u32, request: RequestId, bytes: &[u8]) {
        if let Ok(body) = N::Response::decode(bytes) {
            self.replies.push(Reply { at, node, request, body });
        }
    }

    pub(super) fn schedule(&mut self, at: Instant, event: Event) {
        self.schedule_arrived(at, at, event);
    }

    /// Schedules an input that reached its node at `arrived` but must wait until `at`.
    pub(super) fn schedule_arrived(&mut self, at: Instant, arrived: Instant, event: Event) {
        self.seq += 1;
        let entry = self.waiting.insert(event);
        self.queue.push(Scheduled { at, arrived, seq: self.seq, entry });
    }

    pub(super) fn dispatch(&mut self, event: Event, arrived: Instant) {
        let now = self.now;
        let event = match event {
            Event::Fault(fault) => {
                self.apply_fault(*fault);
                return;
            }
            Event::ClientReply { node, request, bytes } => {
                // The client is not a node: its answer arrives whatever the node does now.
                self.deliver_reply(now, node, request, &bytes);
                return;
            }
            other => other,
        };
        let node = event.node().unwrap_or(0);
        let vnode = &mut self.nodes[node as usize];
        // Inputs for a crashed node are lost; timers of an earlier incarnation are void.
        if let Event::Timer { incarnation, .. } = event
            && (vnode.status == NodeStatus::Crashed || incarnation != vnode.starts)
        {
            return;
        }
        let event = match event {
            Event::Deliver { from, to, bytes, digest, arrived: false } => {
                if self.network.is_blocked(from, to) {
                    self.stats.dropped_partition += 1;
                    self.trace.record(
                        now,
                        Some(to),
                        TraceKind::Drop { from, to, reason: DropReason::Partition.name() },
                    );
                    return;
                }
                Event::Deliver { from, to, bytes, digest, arrived: true }
            }
            other => other,
        };
        match vnode.status {
            NodeStatus::Crashed => {
                let sender = match event {
                    Event::Deliver { from, .. } => Some(from),
                    Event::Client { .. } => Some(CLIENT),
                    _ => None,
                };
                if let Some(from) = sender {
                    self.stats.dropped_node_down += 1;
                    self.trace.record(
                        now,
                        Some(node),
                        TraceKind::Drop { from, to: node, reason: DropReason::NodeDown.name() },
                    );
                }
                return;
            }
            NodeStatus::Paused => {
                vnode.deferred.push((arrived, event));
                return;
            }
            NodeStatus::Up => {}
        }
        if vnode.busy_until > now {
            let busy_until = vnode.busy_until;
            self.schedule_arrived(busy_until, arrived, event);
            return;
        }
        match event {
            Event::Deliver { from, to, bytes, digest, .. } => match N::Message::decode(&bytes) {
                Ok(message) => {
                    self.stats.delivered += 1;
                    self.trace.record(now, Some(to), TraceKind::Deliver { from, digest });
                    let sender = self.nodes[from as usize].id;
                    self.invoke(to, Input::Message(sender, message));
                }
                Err(_) => {
                    self.stats.rejected += 1;
                    self.trace.record(now, Some(to), TraceKind::Drop { from, to, reason: DropReason::Rejected.name() });
                }
            },
            Event::Timer { node, id, .. } => {
                if let Some(timer) = self.nodes[node as usize].timers.take(id) {
                    self.stats.timers += 1;
                    self.trace.record(now, Some(node), TraceKind::Timer { id: id.0 });
                    self.invoke(node, Input::Timer(timer));
                }
            }
            Event::Client { node, request, bytes } => match N::Request::decode(&bytes) {
                Ok(body) => {
                    self.stats.client_requests += 1;
                    self.trace.record(
                        now,
                        Some(node),
                        TraceKind::Client { request: request.0, digest: digest(&bytes) },
                    );
                    self.invoke(node, Input::Client(request, body));
                }
                Err(_) => {
                    self.stats.rejected += 1;
                }
            },
            Event::Fault(_) | Event::ClientReply { .. } => unreachable!("dispatched above"),
        }
    }

    pub(super) fn start_node(&mut self, index: u32) {
        let state = (self.factory)(index);
        let now = self.now;
        let vnode = &mut self.nodes[index as usize];
        vnode.state = Some(state);
        vnode.status = NodeStatus::Up;
        vnode.starts += 1;
        vnode.up_since = Some(now);
        vnode.came_up(now);
        vnode.busy_until = now;
        vnode.timers.clear();
        vnode.deferred.clear();
        self.stats.starts += 1;
        let incarnation = vnode.starts;
        self.trace.record(now, Some(index), TraceKind::Start { incarnation });
        self.invoke(index, Input::Start);
    }

    pub(super) fn invoke(&mut self, index: u32, input: Input<N>) {
        let vnode = &mut self.nodes[index as usize];
        // A slow node spends its extra time before it gets anything done: its clock reading, its
        // sends and its replies all come that much later.
        let start = self.now + vnode.handler_extra;
        let syncs_before = vnode.disk.stats().syncs;
        // The node's state is borrowed in place, beside the rest of its virtual node (not moved out and
        // back: a composed node's state is large).
        let VirtualNode { id, state, rng, disk, effects, skew_nanos, .. } = vnode;
        let Some(state) = state.as_mut() else {
            return;
        };
        {
            let mut host = SimHost {
                start,
                skew_nanos: *skew_nanos,
                rng,
                disk,
                buggify: &mut self.buggify,
                coverage: &mut self.coverage,
            };
            let mut cx = HandlerContext::new(*id, &mut host, effects);
            match input {
                Input::Start => state.on_start(&mut cx),
                Input::Message(from, message) => state.on_message(&mut cx, from, message),
                Input::Timer(timer) => state.on_timer(&mut cx, timer),
                Input::Client(request, body) => state.on_client(&mut cx, request, body),
            }
        }
        vnode.busy_until = start + vnode.disk.take_charged();
        let synced = vnode.disk.stats().syncs > syncs_before;
        let busy_until = vnode.busy_until;
        let incarnation = vnode.starts;
        let emitted: Vec<Emitted<N>> = vnode.effects.take();
        for Emitted { at, effect } in emitted {
            self.carry_out(index, incarnation, at, effect);
        }
        if synced {
            self.maybe_crash_after_sync(index, busy_until);
        }
    }

    pub(super) fn violation(&mut self, at: Instant, node: u32, kind: SimViolationKind) {
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations.push(SimViolation { at, node, kind });
        }
    }

    /// Carries out what node `index` asked for at `at` (its handler's time when it asked).
    pub(super) fn carry_out(&mut self, index: u32, incarnation: u64, at: Instant, effect: Effect<N>) {
        match effect {
            Effect::Send { to, message } => {
                let depart = at;
                let Some(to) = self.index_of.get(&to) else {
                    self.trace.record(
                        depart,
                        Some(index),
                        TraceKind::Node { event: "send_unknown_peer".into(), detail: to.short() },
                    );
                    return;
                };
                if to == index {
                    return; // the contract: never delivered to the sender itself
                }
                let bytes = match message.encode() {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        self.violation(depart, index, SimViolationKind::Unencodable { error: error.to_string() });
                        return;
                    }
                };
                if let Some(limit) = self.message_bytes_max
                    && bytes.len() > limit
                {
                    let family = bytes.get(3).copied().unwrap_or(0);
                    let kind = SimViolationKind::MessageOverBudget { family, bytes: bytes.len(), limit };
                    self.violation(depart, index, kind);
                    return;
                }
                self.stats.sent += 1;
                let message_digest = digest(&bytes);
                let size = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
                self.trace.record(depart, Some(index), TraceKind::Send { to, digest: message_digest, bytes: size });
                match self.network.route(index, to, depart, bytes) {
                    Err(reason) => {
                        match reason {
                            DropReason::Partition => self.stats.dropped_partition += 1,
                            _ => self.stats.dropped_loss += 1,
                        }
                        self.trace.record(
                            depart,
                            Some(index),
                            TraceKind::Drop { from: index, to, reason: reason.name() },
                        );
                    }
                    Ok(copies) => {
                        for copy in copies {
                            self.stats.duplicated += u64::from(copy.duplicate);
                            self.stats.reordered += u64::from(copy.reordered);
                            self.stats.corrupted += u64::from(copy.corrupted);
                            let event = Event::Deliver {
                                from: index,
                                to,
                                bytes: copy.bytes,
                                digest: message_digest,
                                arrived: false,
                            };
                            self.schedule(copy.arrival, event);
                        }
                    }
                }
            }
            Effect::SetTimer { id, after, timer } => {
                let deadline = at + after;
                self.nodes[index as usize].timers.set(id, deadline, timer);
                self.schedule(deadline, Event::Timer { node: index, id, incarnation });
            }
            Effect::CancelTimer { id } => {
                self.nodes[index as usize].timers.cancel(id);
            }
            Effect::CancelAllTimers => self.nodes[index as usize].timers.clear(),
            Effect::Reply { request, response } => {
                let bytes = match response.encode() {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        self.violation(at, index, SimViolationKind::Unencodable { error: error.to_string() });
                        return;
                    }
                };
                self.stats.replies += 1;
                self.trace.record(at, Some(index), TraceKind::Reply { request: request.0, digest: digest(&bytes) });
                // Replies cross the boundary as bytes too, and the client's link if it has one.
                match self.client_crossing() {
                    Some(delay) if delay.is_zero() => self.deliver_reply(at, index, request, &bytes),
                    Some(delay) => self.schedule(at + delay, Event::ClientReply { node: index, request, bytes }),
                    None => {
                        self.stats.dropped_loss += 1;
                        let reason = DropReason::Loss.name();
                        self.trace.record(at, Some(index), TraceKind::Drop { from: index, to: CLIENT, reason });
                    }
                }
            }
            Effect::Trace { event } => {
                if event.is_invariant_violation() {
                    self.violation(at, index, SimViolationKind::Invariant { detail: event.detail.clone() });
                }
                self.trace.record(at, Some(index), TraceKind::Node { event: event.kind, detail: event.detail });
            }
        }
    }
}
