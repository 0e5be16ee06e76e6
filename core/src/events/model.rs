//! A brute-force reference of the event store: every event in one list, every question answered
//! by filtering and sorting it. The sequential specification the store is tested against
//! (property tests here, the `events-swarm` scenario's checkers).

use super::ops::{
    Event, EventId, EventKey, EventRange, EventsAnswer, EventsError, EventsOp, EventsQuery, EventsResult, EventsStats,
};
use super::{ANSWER_BYTES_MAX, EventsConfig};
use std::collections::BTreeSet;

/// The event store as one list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelEvents {
    /// Every event held, in append order.
    pub events: Vec<Event>,
    /// The next id.
    pub next_id: u64,
    /// Events retired so far.
    pub retired: u64,
}

impl Default for ModelEvents {
    fn default() -> Self {
        ModelEvents { events: Vec::new(), next_id: 1, retired: 0 }
    }
}

impl ModelEvents {
    /// Applies `op` as the store would under `config`.
    pub fn apply(&mut self, config: &EventsConfig, op: &EventsOp) -> EventsResult {
        match op {
            EventsOp::Append { key, payload } => {
                let keys: BTreeSet<&EventKey> = self.events.iter().map(|event| &event.key).collect();
                if !keys.contains(key) && keys.len() as u64 >= config.keys_max {
                    return EventsResult::Error(EventsError::KeysFull(config.keys_max));
                }
                let of_key: Vec<usize> = (0..self.events.len()).filter(|&at| self.events[at].key == *key).collect();
                let retires = of_key.len() >= config.events_per_key_max as usize;
                let held_bytes: u64 = self.events.iter().map(|event| event.payload.len() as u64).sum();
                let freed = if retires { self.events[of_key[0]].payload.len() as u64 } else { 0 };
                let events_after = self.events.len() as u64 + u64::from(!retires);
                if events_after > config.events_max || held_bytes - freed + payload.len() as u64 > config.bytes_max {
                    let full = EventsError::Full { events: self.events.len() as u64, bytes: held_bytes };
                    return EventsResult::Error(full);
                }
                if retires {
                    self.events.remove(of_key[0]);
                    self.retired += 1;
                }
                let id = EventId(self.next_id);
                self.next_id += 1;
                self.events.push(Event { id, key: key.clone(), payload: payload.clone() });
                EventsResult::Appended { id, retired: u32::from(retires) }
            }
            EventsOp::Trim { key, before } => {
                let held = self.events.len();
                self.events.retain(|event| event.key != *key || event.id >= *before);
                EventsResult::Trimmed((held - self.events.len()) as u64)
            }
            EventsOp::Read(query) => EventsResult::Read(self.read(config, query)),
        }
    }

    /// Answers a read as the store would under `config`.
    #[must_use]
    pub fn read(&self, config: &EventsConfig, query: &EventsQuery) -> EventsAnswer {
        match query {
            EventsQuery::Stats => EventsAnswer::Stats(EventsStats {
                keys: self.events.iter().map(|event| &event.key).collect::<BTreeSet<_>>().len() as u64,
                events: self.events.len() as u64,
                bytes: self.events.iter().map(|event| event.payload.len() as u64).sum(),
                next_id: self.next_id,
                retired: self.retired,
            }),
            EventsQuery::Range(range) => self.range(config, range),
        }
    }

    fn range(&self, config: &EventsConfig, range: &EventRange) -> EventsAnswer {
        let mut matching: Vec<&Event> = self
            .events
            .iter()
            .filter(|event| range.from <= event.key && event.key <= range.to)
            .filter(|event| {
                range.after.is_none_or(|after| event.id > after) && range.until.is_none_or(|until| event.id <= until)
            })
            .filter(|event| range.resume.as_ref().is_none_or(|(key, id)| (&event.key, event.id) > (key, *id)))
            .collect();
        matching.sort_by(|a, b| (&a.key, a.id).cmp(&(&b.key, b.id)));
        let limit = range.limit.min(config.results_max) as usize;
        let mut events: Vec<Event> = Vec::new();
        let mut bytes = 0;
        for event in matching {
            if events.len() >= limit || (!events.is_empty() && bytes + event.payload.len() > ANSWER_BYTES_MAX) {
                let resume = events.last().map(|last| (last.key.clone(), last.id));
                return EventsAnswer::Range { events, resume };
            }
            bytes += event.payload.len();
            events.push(event.clone());
        }
        EventsAnswer::Range { events, resume: None }
    }
}
