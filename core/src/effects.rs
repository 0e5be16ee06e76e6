//! What a handler asked for, as values — one buffer type for every runtime.
//!
//! A node never does I/O: its [`Context`](crate::Context) records each send, timer, cancellation,
//! reply and trace event as an [`Effect`] in an [`Effects`] buffer, stamped with the time the
//! handler saw when it asked (in the simulator that time includes the disk time the handler spent
//! so far). The runtime carries the effects out after the handler returns, in order: the simulator
//! through its network model, the real node through QUIC and tokio timers, the unit-test harness
//! through its in-memory cluster. This is stateright's `Out`, shared by all three.
//!
//! [`TimerTable`] is the other half of timers, shared likewise: the timers a node has set and not
//! yet seen fire, ordered by deadline.

use crate::id::NodeId;
use crate::node::{Node, RequestId, TimerId, TraceEvent};
use crate::time::{Duration, Instant};
use std::collections::BTreeMap;

/// One thing a handler asked its runtime to do.
pub enum Effect<N: Node> {
    /// Send `message` to `to` (never delivered to the sender itself).
    Send {
        /// The peer.
        to: NodeId,
        /// The message.
        message: N::Message,
    },
    /// Fire `timer` after `after` (counted from the effect's time).
    SetTimer {
        /// The id the context handed back.
        id: TimerId,
        /// The delay.
        after: Duration,
        /// What comes back to [`Node::on_timer`].
        timer: N::Timer,
    },
    /// Forget the timer `id` (nothing if it fired or was cancelled already).
    CancelTimer {
        /// The timer.
        id: TimerId,
    },
    /// Forget every timer the node has set (it is rebuilding its volatile state).
    CancelAllTimers,
    /// Answer the client request `request`.
    Reply {
        /// The request.
        request: RequestId,
        /// The answer.
        response: N::Response,
    },
    /// Record `event` in the run's trace (or the real node's log).
    Trace {
        /// The event.
        event: TraceEvent,
    },
}

impl<N: Node> std::fmt::Debug for Effect<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Effect::Send { to, message } => write!(f, "Send({to}, {message:?})"),
            Effect::SetTimer { id, after, timer } => write!(f, "SetTimer({id:?}, {after:?}, {timer:?})"),
            Effect::CancelTimer { id } => write!(f, "CancelTimer({id:?})"),
            Effect::CancelAllTimers => write!(f, "CancelAllTimers"),
            Effect::Reply { request, response } => write!(f, "Reply({request:?}, {response:?})"),
            Effect::Trace { event } => write!(f, "Trace({}: {})", event.kind, event.detail),
        }
    }
}

/// An effect and the handler's time when it asked for it.
#[derive(Debug)]
pub struct Emitted<N: Node> {
    /// The handler's [`Context::now`](crate::Context::now) at the request.
    pub at: Instant,
    /// What it asked for.
    pub effect: Effect<N>,
}

/// The effects of one node, in the order asked, and the node's timer-id counter.
///
/// One buffer lives as long as the node's runtime slot: ids of timers keep counting across inputs
/// and restarts, so an id from before a crash never names a timer set after it.
pub struct Effects<N: Node> {
    emitted: Vec<Emitted<N>>,
    timers_set: u64,
}

impl<N: Node> Default for Effects<N> {
    fn default() -> Self {
        Effects { emitted: Vec::new(), timers_set: 0 }
    }
}

impl<N: Node> Effects<N> {
    /// An empty buffer.
    #[must_use]
    pub fn new() -> Effects<N> {
        Effects::default()
    }

    /// Records `effect`, asked for at `at`.
    pub fn push(&mut self, at: Instant, effect: Effect<N>) {
        self.emitted.push(Emitted { at, effect });
    }

    /// A fresh timer id.
    pub fn next_timer_id(&mut self) -> TimerId {
        self.timers_set += 1;
        TimerId(self.timers_set)
    }

    /// True when nothing is waiting.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.emitted.is_empty()
    }

    /// How many effects are waiting.
    #[must_use]
    pub fn len(&self) -> usize {
        self.emitted.len()
    }

    /// The waiting effects, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Emitted<N>> {
        self.emitted.iter()
    }

    /// Takes the waiting effects, in order, leaving the buffer empty (its allocation kept).
    pub fn drain(&mut self) -> std::vec::Drain<'_, Emitted<N>> {
        self.emitted.drain(..)
    }

    /// Takes the waiting effects, in order, with their allocation: for a runtime of many nodes
    /// that carries out effects right away, so that no node keeps a buffer sized for its busiest
    /// handler.
    pub fn take(&mut self) -> Vec<Emitted<N>> {
        std::mem::take(&mut self.emitted)
    }

    /// Forgets the waiting effects (a crash).
    pub fn clear(&mut self) {
        self.emitted.clear();
    }
}

/// The timers a node has set and not yet seen fire or cancelled, by deadline. Runtimes that keep
/// their own event queue (the simulator) use it as the store of timer payloads by id; runtimes that
/// poll (the real node) also ask it for the next deadline and the timers due.
#[derive(Clone, Debug)]
pub struct TimerTable<T> {
    by_deadline: BTreeMap<(Instant, TimerId), T>,
    deadline_of: BTreeMap<TimerId, Instant>,
}

impl<T> Default for TimerTable<T> {
    fn default() -> Self {
        TimerTable { by_deadline: BTreeMap::new(), deadline_of: BTreeMap::new() }
    }
}

impl<T> TimerTable<T> {
    /// An empty table.
    #[must_use]
    pub fn new() -> TimerTable<T> {
        TimerTable::default()
    }

    /// Arms `timer` under `id` to fire at `deadline`.
    pub fn set(&mut self, id: TimerId, deadline: Instant, timer: T) {
        if let Some(previous) = self.deadline_of.insert(id, deadline) {
            self.by_deadline.remove(&(previous, id));
        }
        self.by_deadline.insert((deadline, id), timer);
    }

    /// Disarms `id`; false if it was not armed.
    pub fn cancel(&mut self, id: TimerId) -> bool {
        self.take(id).is_some()
    }

    /// Disarms `id` and returns its payload, if it was armed.
    pub fn take(&mut self, id: TimerId) -> Option<T> {
        let deadline = self.deadline_of.remove(&id)?;
        self.by_deadline.remove(&(deadline, id))
    }

    /// The earliest deadline armed.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.keys().next().map(|(deadline, _)| *deadline)
    }

    /// Disarms and returns the earliest timer whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(TimerId, T)> {
        let entry = self.by_deadline.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        let ((_, id), timer) = entry.remove_entry();
        self.deadline_of.remove(&id);
        Some((id, timer))
    }

    /// Disarms everything (a crash).
    pub fn clear(&mut self) {
        self.by_deadline.clear();
        self.deadline_of.clear();
    }

    /// How many timers are armed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.deadline_of.len()
    }

    /// True when none is armed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.deadline_of.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_in_deadline_order_and_cancelled_ones_never() {
        let mut table = TimerTable::new();
        table.set(TimerId(1), Instant::from_nanos(30), "c");
        table.set(TimerId(2), Instant::from_nanos(10), "a");
        table.set(TimerId(3), Instant::from_nanos(10), "b");
        table.set(TimerId(4), Instant::from_nanos(20), "cancelled");
        assert!(table.cancel(TimerId(4)));
        assert!(!table.cancel(TimerId(4)));
        assert_eq!(table.next_deadline(), Some(Instant::from_nanos(10)));
        assert_eq!(table.pop_due(Instant::from_nanos(9)), None);
        assert_eq!(table.pop_due(Instant::from_nanos(25)), Some((TimerId(2), "a")));
        assert_eq!(table.pop_due(Instant::from_nanos(25)), Some((TimerId(3), "b")));
        assert_eq!(table.pop_due(Instant::from_nanos(25)), None);
        assert_eq!(table.take(TimerId(1)), Some("c"));
        assert!(table.is_empty());
    }
}
