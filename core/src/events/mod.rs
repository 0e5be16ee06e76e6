//! The event store: NOOB's events keyed by (node, signal, epoch), with ids handed out in log order.
//! One part of the node's replicated metadata ([`crate::metadata`]); also usable in process.
//!
//! - **Ids** rise across the whole store (one counter, part of the replicated state and of every
//!   snapshot), so they rise within every key, across leader changes and restarts.
//! - **Retention:** a key keeps at most `events_per_key_max` events; an append to a full key drops
//!   that key's oldest event and says so in its answer (`retired`). Past the store's limits on
//!   events, payload bytes or keys, an append is refused ([`EventsError`]): nothing is dropped
//!   silently. `Trim` drops a key's events below an id.
//! - **Reads** are local ([`EventsQuery`]) or linearizable ([`EventsOp::Read`]); a range answer is
//!   cut at its limit or its byte budget and says where to resume.

pub mod model;
pub mod ops;
#[cfg(test)]
mod tests;

pub use ops::{
    Event, EventId, EventKey, EventRange, EventsAnswer, EventsError, EventsOp, EventsQuery, EventsResult, EventsStats,
};

use crate::codec::{CodecError, decode_serde, encode_serde};
use crate::log::{Bound, InvalidCommand, Part, StateMachine};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// The most events a key keeps by default.
pub const EVENTS_PER_KEY_MAX: u32 = 10_000;
/// The most events the store holds by default.
pub const EVENTS_MAX: u64 = 10_000_000;
/// The most payload bytes the store holds by default.
pub const EVENT_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// The most keys by default.
pub const KEYS_MAX: u64 = 1_000_000;
/// The largest payload by default.
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;
/// The longest node or signal name by default.
pub const NAME_BYTES_MAX: usize = 256;
/// The most events one read returns by default.
pub const RESULTS_MAX: u32 = 10_000;
/// The most payload bytes one read returns (a page is cut past it, after at least one event).
pub const ANSWER_BYTES_MAX: usize = 1024 * 1024;

/// The event store's settings; every replica of a cluster uses the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventsConfig {
    /// The most events a key keeps (older ones are retired).
    pub events_per_key_max: u32,
    /// The most events held.
    pub events_max: u64,
    /// The most payload bytes held.
    pub bytes_max: u64,
    /// The most keys.
    pub keys_max: u64,
    /// The largest payload.
    pub payload_bytes_max: usize,
    /// The longest node or signal name.
    pub name_bytes_max: usize,
    /// The most events one read returns.
    pub results_max: u32,
    /// A deliberately planted bug (builds with the `planted-bugs` feature only).
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<EventsPlantedBug>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            events_per_key_max: EVENTS_PER_KEY_MAX,
            events_max: EVENTS_MAX,
            bytes_max: EVENT_BYTES_MAX,
            keys_max: KEYS_MAX,
            payload_bytes_max: PAYLOAD_BYTES_MAX,
            name_bytes_max: NAME_BYTES_MAX,
            results_max: RESULTS_MAX,
            #[cfg(feature = "planted-bugs")]
            planted_bug: None,
        }
    }
}

impl EventsConfig {
    /// Whether `bug` is planted (always false without the `planted-bugs` feature).
    #[must_use]
    pub fn planted(&self, bug: EventsPlantedBug) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            self.planted_bug == Some(bug)
        }
        #[cfg(not(feature = "planted-bugs"))]
        {
            let _ = bug;
            false
        }
    }

    /// Whether every limit is positive.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.events_per_key_max > 0
            && self.events_max > 0
            && self.bytes_max > 0
            && self.keys_max > 0
            && self.name_bytes_max > 0
            && self.results_max > 0
    }
}

/// Bugs that can be planted in the event store. They take effect only in builds with the
/// `planted-bugs` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventsPlantedBug {
    /// A snapshot leaves out the next id; a replica restored from one hands out ids from 1 again.
    SnapshotForgetsNextId,
    /// A full key drops its newest event instead of its oldest (an acknowledged event is lost).
    RetireNewest,
}

impl EventsPlantedBug {
    /// Every planted bug with its name on the command line, for `--plant`.
    pub const ALL: [(EventsPlantedBug, &'static str); 2] = [
        (EventsPlantedBug::SnapshotForgetsNextId, "snapshot-forgets-next-id"),
        (EventsPlantedBug::RetireNewest, "retire-newest"),
    ];
}

/// One key's events, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct KeyLog {
    events: VecDeque<(u64, Box<[u8]>)>,
}

/// A key's events in a snapshot.
#[derive(Serialize, Deserialize)]
struct KeyImage {
    key: EventKey,
    events: Vec<(u64, serde_bytes::ByteBuf)>,
}

/// The store in a snapshot.
#[derive(Serialize, Deserialize)]
struct Image {
    next_id: u64,
    retired: u64,
    keys: Vec<KeyImage>,
}

/// The event store (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Events {
    config: EventsConfig,
    keys: BTreeMap<EventKey, KeyLog>,
    next_id: u64,
    events: u64,
    bytes: u64,
    retired: u64,
}

impl Default for Events {
    fn default() -> Self {
        Events::new(EventsConfig::default())
    }
}

impl Events {
    /// An empty store with `config`.
    #[must_use]
    pub fn new(config: EventsConfig) -> Events {
        Events { config, keys: BTreeMap::new(), next_id: 1, events: 0, bytes: 0, retired: 0 }
    }

    /// Its settings.
    #[must_use]
    pub fn config(&self) -> &EventsConfig {
        &self.config
    }

    /// Its counts.
    #[must_use]
    pub fn stats(&self) -> EventsStats {
        EventsStats {
            keys: self.keys.len() as u64,
            events: self.events,
            bytes: self.bytes,
            next_id: self.next_id,
            retired: self.retired,
        }
    }

    /// Answers a read from the store as it is here.
    #[must_use]
    pub fn read(&self, query: &EventsQuery) -> EventsAnswer {
        match query {
            EventsQuery::Stats => EventsAnswer::Stats(self.stats()),
            EventsQuery::Range(range) => self.range(range),
        }
    }

    fn range(&self, range: &EventRange) -> EventsAnswer {
        let limit = range.limit.min(self.config.results_max) as usize;
        let mut events = Vec::new();
        let mut bytes = 0usize;
        if range.from > range.to {
            return EventsAnswer::Range { events, resume: None };
        }
        let start = match &range.resume {
            Some((key, _)) if *key > range.from => key.clone(),
            _ => range.from.clone(),
        };
        if start > range.to {
            return EventsAnswer::Range { events, resume: None };
        }
        let after = range.after.map_or(0, |id| id.0);
        let until = range.until.map_or(u64::MAX, |id| id.0);
        for (key, log) in self.keys.range(start..=range.to.clone()) {
            let mut floor = after;
            if let Some((resume_key, resume_id)) = &range.resume
                && resume_key == key
            {
                floor = floor.max(resume_id.0);
            }
            let first = log.events.partition_point(|(id, _)| *id <= floor);
            for (id, payload) in log.events.range(first..).take_while(|(id, _)| *id <= until) {
                if events.len() >= limit || (!events.is_empty() && bytes + payload.len() > ANSWER_BYTES_MAX) {
                    let resume = events.last().map(|event: &Event| (event.key.clone(), event.id));
                    return EventsAnswer::Range { events, resume };
                }
                bytes += payload.len();
                events.push(Event { id: EventId(*id), key: key.clone(), payload: payload.to_vec() });
            }
        }
        EventsAnswer::Range { events, resume: None }
    }

    fn append(&mut self, key: &EventKey, payload: &[u8]) -> EventsResult {
        let config = self.config;
        let log = self.keys.get(key);
        if log.is_none() && self.keys.len() as u64 >= config.keys_max {
            return EventsResult::Error(EventsError::KeysFull(config.keys_max));
        }
        let retires = log.is_some_and(|log| log.events.len() >= config.events_per_key_max as usize);
        let freed = if retires {
            let log = &self.keys[key].events;
            let victim = if config.planted(EventsPlantedBug::RetireNewest) { log.back() } else { log.front() };
            victim.map_or(0, |(_, payload)| payload.len() as u64)
        } else {
            0
        };
        let events_after = self.events + u64::from(!retires);
        let bytes_after = self.bytes - freed + payload.len() as u64;
        if events_after > config.events_max || bytes_after > config.bytes_max {
            return EventsResult::Error(EventsError::Full { events: self.events, bytes: self.bytes });
        }
        let id = self.next_id;
        self.next_id += 1;
        let log = self.keys.entry(key.clone()).or_default();
        if retires {
            if config.planted(EventsPlantedBug::RetireNewest) {
                log.events.pop_back();
            } else {
                log.events.pop_front();
            }
            self.retired += 1;
        }
        log.events.push_back((id, payload.into()));
        self.events = events_after;
        self.bytes = bytes_after;
        EventsResult::Appended { id: EventId(id), retired: u32::from(retires) }
    }

    fn trim(&mut self, key: &EventKey, before: EventId) -> EventsResult {
        let Some(log) = self.keys.get_mut(key) else { return EventsResult::Trimmed(0) };
        let cut = log.events.partition_point(|(id, _)| *id < before.0);
        let freed: u64 = log.events.drain(..cut).map(|(_, payload)| payload.len() as u64).sum();
        if log.events.is_empty() {
            self.keys.remove(key);
        }
        self.events -= cut as u64;
        self.bytes -= freed;
        EventsResult::Trimmed(cut as u64)
    }

    fn check_key(&self, key: &EventKey) -> Result<(), InvalidCommand> {
        let limit = self.config.name_bytes_max;
        match [&key.node, &key.signal].into_iter().find(|name| name.len() > limit) {
            Some(name) => {
                Err(InvalidCommand::TooLarge { part: Part::Name, bytes: name.len() as u64, limit: limit as u64 })
            }
            None => Ok(()),
        }
    }
}

impl StateMachine for Events {
    type Command = EventsOp;
    type Output = EventsResult;
    type Query = EventsQuery;
    type Answer = EventsAnswer;

    fn validate(&self, command: &EventsOp) -> Result<(), InvalidCommand> {
        match command {
            EventsOp::Append { key, payload } => {
                self.check_key(key)?;
                let limit = self.config.payload_bytes_max;
                if payload.len() > limit {
                    return Err(InvalidCommand::TooLarge {
                        part: Part::Value,
                        bytes: payload.len() as u64,
                        limit: limit as u64,
                    });
                }
                Ok(())
            }
            EventsOp::Trim { key, .. } => self.check_key(key),
            EventsOp::Read(EventsQuery::Stats) => Ok(()),
            EventsOp::Read(EventsQuery::Range(range)) => {
                self.check_key(&range.from)?;
                self.check_key(&range.to)?;
                if let Some((key, _)) = &range.resume {
                    self.check_key(key)?;
                }
                let (value, limit) = (u64::from(range.limit), u64::from(self.config.results_max));
                if value > limit {
                    return Err(InvalidCommand::OverLimit { bound: Bound::Results, value, limit });
                }
                Ok(())
            }
        }
    }

    fn is_read_only(command: &EventsOp) -> bool {
        matches!(command, EventsOp::Read(_))
    }

    fn apply(&mut self, command: &EventsOp) -> EventsResult {
        match command {
            EventsOp::Append { key, payload } => self.append(key, payload),
            EventsOp::Trim { key, before } => self.trim(key, *before),
            EventsOp::Read(query) => EventsResult::Read(self.read(query)),
        }
    }

    fn query(&self, query: &EventsQuery) -> EventsAnswer {
        self.read(query)
    }

    fn snapshot(&self) -> Vec<u8> {
        let next_id = if self.config.planted(EventsPlantedBug::SnapshotForgetsNextId) { 1 } else { self.next_id };
        let keys = self
            .keys
            .iter()
            .map(|(key, log)| KeyImage {
                key: key.clone(),
                events: log
                    .events
                    .iter()
                    .map(|(id, payload)| (*id, serde_bytes::ByteBuf::from(payload.to_vec())))
                    .collect(),
            })
            .collect();
        let mut out = Vec::new();
        // Numbers, strings and byte strings always encode.
        let _ = encode_serde(&Image { next_id, retired: self.retired, keys }, &mut out);
        out
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        let image: Image = decode_serde(bytes)?;
        let malformed = |what: &str| CodecError::Malformed(format!("event store image: {what}"));
        let forgets = self.config.planted(EventsPlantedBug::SnapshotForgetsNextId);
        let mut restored = Events::new(self.config);
        restored.retired = image.retired;
        let mut previous_key: Option<EventKey> = None;
        let mut highest = 0;
        for KeyImage { key, events } in image.keys {
            if previous_key.as_ref().is_some_and(|previous| key <= *previous) || events.is_empty() {
                return Err(malformed("keys out of order, or a key without events"));
            }
            if events.len() > self.config.events_per_key_max as usize {
                return Err(malformed("a key over its retention limit"));
            }
            let mut log = KeyLog::default();
            for (id, payload) in events {
                if log.events.back().is_some_and(|(last, _)| id <= *last) || (id >= image.next_id && !forgets) {
                    return Err(malformed("event ids out of order"));
                }
                highest = highest.max(id);
                restored.events += 1;
                restored.bytes += payload.len() as u64;
                log.events.push_back((id, payload.into_vec().into_boxed_slice()));
            }
            restored.keys.insert(key.clone(), log);
            previous_key = Some(key);
        }
        restored.next_id = image.next_id.max(1);
        if restored.next_id > u64::MAX / 2 || (highest >= restored.next_id && !forgets) {
            return Err(malformed("a next id out of range"));
        }
        *self = restored;
        Ok(())
    }
}
