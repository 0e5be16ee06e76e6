//! What clients ask of the event store and what it answers.

use serde::{Deserialize, Serialize};

/// Where events go: NOOB's (node, signal, epoch). Keys order by node, then signal, then epoch.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventKey {
    /// The emitting node's name (a name in the user's pipeline, not a Pangea node id).
    pub node: String,
    /// The signal's name.
    pub signal: String,
    /// The epoch.
    pub epoch: u64,
}

/// An event's id: handed out by the store in log order, from 1, never reused — so ids rise within
/// every key, across leader changes and restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(pub u64);

/// One stored event.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Event {
    /// Its id.
    pub id: EventId,
    /// Its key.
    pub key: EventKey,
    /// What it carries.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

/// Events by key and id: keys from `from` to `to` (both included), ids after `after` and up to
/// `until`, in key order then id order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventRange {
    /// The first key.
    pub from: EventKey,
    /// The last key.
    pub to: EventKey,
    /// Only ids above this.
    pub after: Option<EventId>,
    /// Only ids up to this.
    pub until: Option<EventId>,
    /// Go on from just past this place (the `resume` of the previous page).
    pub resume: Option<(EventKey, EventId)>,
    /// The most events returned.
    pub limit: u32,
}

/// A command on the event store, through the log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventsOp {
    /// Appends an event under `key`; answers its id.
    Append {
        /// The key.
        key: EventKey,
        /// The payload.
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// Drops the events of `key` with ids below `before`.
    Trim {
        /// The key.
        key: EventKey,
        /// The first id kept.
        before: EventId,
    },
    /// A read, linearizable because it is ordered with the commands.
    Read(EventsQuery),
}

/// A read of the event store.
#[allow(clippy::large_enum_variant, reason = "a query is built once per request; boxing buys nothing")]
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventsQuery {
    /// Events in a range.
    Range(EventRange),
    /// Counts.
    Stats,
}

/// Counts of an event store.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventsStats {
    /// Keys holding at least one event.
    pub keys: u64,
    /// Events held.
    pub events: u64,
    /// Payload bytes held.
    pub bytes: u64,
    /// The id the next event gets.
    pub next_id: u64,
    /// Events dropped by the per-key retention limit so far.
    pub retired: u64,
}

/// What a read answers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventsAnswer {
    /// A page of a range.
    Range {
        /// The events.
        events: Vec<Event>,
        /// Where the next page starts, when the page was cut by its limit or byte budget.
        resume: Option<(EventKey, EventId)>,
    },
    /// Counts.
    Stats(EventsStats),
}

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventsResult {
    /// The event appended, and how many older events of its key retention dropped to make room.
    Appended {
        /// Its id.
        id: EventId,
        /// Events of the same key dropped (0 or 1).
        retired: u32,
    },
    /// Events trimmed.
    Trimmed(u64),
    /// A read's answer.
    Read(EventsAnswer),
    /// The command did nothing, for this reason.
    Error(EventsError),
}

/// Why an event command did nothing. Deterministic: every replica finds the same.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, thiserror::Error)]
pub enum EventsError {
    /// The store holds its most events or payload bytes: trim, or raise the limit.
    #[error("the event store is full ({events} events, {bytes} bytes held)")]
    Full {
        /// Events held.
        events: u64,
        /// Payload bytes held.
        bytes: u64,
    },
    /// The store holds its most keys.
    #[error("the event store holds its most keys ({0})")]
    KeysFull(u64),
}
