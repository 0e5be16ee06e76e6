//! How faults apply to a run: partitions and heals, crashes and restarts, pauses and resumes, slow
//! nodes, clock jumps, full disks, the end of the safety phase, the crash-after-sync fault, and the
//! tracking of which node has been unable to hear which since when.

use super::queue::Event;
use super::{NodeStatus, Sim};
use crate::network::Cut;
use crate::plan::Fault;
use crate::trace::TraceKind;
use pangea_core::random::{below, chance};
use pangea_core::{Duration, Instant, Node};
use std::rc::Rc;

impl<N: Node> Sim<N> {
    pub(super) fn apply_fault(&mut self, fault: Fault) {
        let now = self.now;
        let nodes = self.nodes();
        if let Some(node) = fault.node()
            && node >= nodes
        {
            self.trace.record(now, None, TraceKind::Fault { description: format!("ignored (no such node): {fault}") });
            return;
        }
        *self.coverage.faults.entry(fault.kind_name().to_owned()).or_default() += 1;
        self.trace.record(now, fault.node(), TraceKind::Fault { description: fault.to_string() });
        match fault {
            Fault::Partition { partition } => self.network.partition_with(partition),
            Fault::Heal => self.network.heal(),
            Fault::Crash { node } => self.crash(node),
            Fault::Restart { node } => {
                if self.status(node) == NodeStatus::Crashed {
                    self.start_node(node);
                }
            }
            Fault::Pause { node } => {
                let vnode = &mut self.nodes[node as usize];
                if vnode.status == NodeStatus::Up {
                    vnode.status = NodeStatus::Paused;
                    vnode.up_since = None;
                    vnode.went_down(now);
                    self.stats.pauses += 1;
                    self.trace.record(now, Some(node), TraceKind::Pause);
                }
            }
            Fault::Resume { node } => self.resume(node),
            Fault::Slow { node, handler_extra_us } => {
                self.nodes[node as usize].handler_extra = Duration::from_micros(handler_extra_us);
            }
            Fault::ClockJump { node, by_ms } => {
                self.nodes[node as usize].skew_nanos += i128::from(by_ms) * 1_000_000;
            }
            Fault::DiskFull { node } => self.nodes[node as usize].disk.set_full(true),
            Fault::DiskFreed { node } => self.nodes[node as usize].disk.set_full(false),
            Fault::HealAll => {
                self.network.heal();
                self.network.calm();
                for node in 0..nodes {
                    match self.status(node) {
                        NodeStatus::Crashed => self.start_node(node),
                        NodeStatus::Paused => self.resume(node),
                        NodeStatus::Up => {}
                    }
                    let vnode = &mut self.nodes[node as usize];
                    vnode.handler_extra = Duration::ZERO;
                    vnode.disk.set_full(false);
                    vnode.disk.calm();
                }
            }
        }
        // Who can hear whom changes with links (and with nodes' status, which they record).
        let cut = self.network.cut();
        if self.partitions.last().is_none_or(|(_, last)| !same_cut(last.as_ref(), cut.as_ref())) {
            self.partitions.push((now, cut));
        }
    }

    /// The crash-after-sync fault: crash the node the moment its synced input is done, and restart
    /// it a little later. Never in the liveness phase.
    pub(super) fn maybe_crash_after_sync(&mut self, index: u32, at: Instant) {
        let ppm = self.plan.crash_after_sync_ppm;
        let heal_at = Instant::from_nanos(self.plan.heal_at_ms.saturating_mul(1_000_000));
        if ppm == 0 || at >= heal_at || !chance(&mut self.crash_rng, u64::from(ppm), u64::from(crate::plan::PPM)) {
            return;
        }
        let down_for = Duration::from_millis(1 + below(&mut self.crash_rng, 500));
        self.schedule(at, Event::Fault(Box::new(Fault::Crash { node: index })));
        self.schedule((at + down_for).min(heal_at), Event::Fault(Box::new(Fault::Restart { node: index })));
    }

    pub(super) fn crash(&mut self, node: u32) {
        let now = self.now;
        let vnode = &mut self.nodes[node as usize];
        if vnode.status == NodeStatus::Crashed {
            return;
        }
        vnode.state = None;
        vnode.status = NodeStatus::Crashed;
        vnode.timers.clear();
        vnode.deferred.clear();
        vnode.disk.crash();
        vnode.busy_until = now;
        vnode.up_since = None;
        vnode.went_down(now);
        self.stats.crashes += 1;
        self.trace.record(now, Some(node), TraceKind::Crash);
    }

    pub(super) fn resume(&mut self, node: u32) {
        let now = self.now;
        let vnode = &mut self.nodes[node as usize];
        if vnode.status != NodeStatus::Paused {
            return;
        }
        vnode.status = NodeStatus::Up;
        vnode.up_since = Some(now);
        vnode.came_up(now);
        let deferred = std::mem::take(&mut vnode.deferred);
        self.trace.record(now, Some(node), TraceKind::Resume);
        for (arrived, event) in deferred {
            self.schedule_arrived(now, arrived, event);
        }
    }
}

/// True when both are the same partition (or both none).
fn same_cut(a: Option<&Rc<Cut>>, b: Option<&Rc<Cut>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Rc::ptr_eq(a, b),
        _ => false,
    }
}
