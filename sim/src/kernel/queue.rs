//! The event queue: what can happen ([`Event`]), and the queue's entries ([`Scheduled`]) ordered by
//! (virtual time, arrival time, sequence number), with the events themselves waiting out of line in
//! an [`EventSlab`].

use crate::plan::Fault;
use pangea_core::{Instant, RequestId, TimerId};
use std::cmp::Ordering;

/// Something that happens at a moment of virtual time.
pub(super) enum Event {
    Deliver {
        from: u32,
        to: u32,
        bytes: Vec<u8>,
        digest: u64,
        arrived: bool,
    },
    Timer {
        node: u32,
        id: TimerId,
        incarnation: u64,
    },
    Client {
        node: u32,
        request: RequestId,
        bytes: Vec<u8>,
    },
    /// A node's answer reaching its client (only with a client link).
    ClientReply {
        node: u32,
        request: RequestId,
        bytes: Vec<u8>,
    },
    /// Boxed: faults are rare, and a small `Event` keeps the queue's entries small.
    Fault(Box<Fault>),
}

impl Event {
    pub(super) fn node(&self) -> Option<u32> {
        match self {
            Event::Deliver { to, .. } => Some(*to),
            Event::Timer { node, .. } | Event::Client { node, .. } => Some(*node),
            Event::ClientReply { .. } | Event::Fault(_) => None,
        }
    }
}

/// A queue entry: the ordering key, and where the event waits in the [`EventSlab`]. Kept small (32
/// bytes) because the heap moves entries on every push and pop.
pub(super) struct Scheduled {
    pub(super) at: Instant,
    /// When the event first reached its node: `at`, unless it waited for a busy or paused node.
    pub(super) arrived: Instant,
    pub(super) seq: u64,
    pub(super) entry: u32,
}

/// Events waiting in the queue, stored out of line; freed places are reused.
#[derive(Default)]
pub(super) struct EventSlab {
    events: Vec<Option<Event>>,
    free: Vec<u32>,
}

impl EventSlab {
    pub(super) fn insert(&mut self, event: Event) -> u32 {
        match self.free.pop() {
            Some(entry) => {
                self.events[entry as usize] = Some(event);
                entry
            }
            None => {
                self.events.push(Some(event));
                u32::try_from(self.events.len() - 1).expect("fewer than 2^32 events queued at once")
            }
        }
    }

    pub(super) fn take(&mut self, entry: u32) -> Event {
        self.free.push(entry);
        self.events[entry as usize].take().expect("a queued event is taken once")
    }
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.arrived, self.seq) == (other.at, other.arrived, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed, so that the max-heap pops the earliest (time, arrival, sequence) first: inputs that
    /// waited for a busy node run before those that arrive at the instant it becomes free.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.arrived, other.seq).cmp(&(self.at, self.arrived, self.seq))
    }
}
