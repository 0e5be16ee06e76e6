//! The graph and event-store workload: one client adds graph entities and one appends events, all
//! through the log, each recording what the cluster acknowledged; after the heal every
//! acknowledged entity must read back with its properties and every acknowledged event with its
//! payload (no acknowledged write lost), read linearizably.
//!
//! Events go to [`EVENT_KEYS`] keys in turn, so that a run of [`EVENTS_MAX`] appends stays under
//! the store's retention of 10,000 events a key and nothing acknowledged is retired.

use pangea_core::events::{EventId, EventKey, EventRange, EventsAnswer, EventsOp, EventsQuery, EventsResult};
use pangea_core::graph::{EntityId, GraphAnswer, GraphOp, GraphQuery, GraphResult, Properties, Scalar, Value};
use pangea_node::api::Client;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

/// Keys the events are spread over.
const EVENT_KEYS: u64 = 16;
/// Most events appended in a run (then the events client stops).
const EVENTS_MAX: u64 = EVENT_KEYS * 9_000;
/// Most entities added in a run (then the graph client stops).
const ENTITIES_MAX: u64 = 500_000;
/// Entity reads in flight at once while reading back.
const READS_IN_FLIGHT: usize = 32;
/// Most events a range read answers.
const RANGE_LIMIT: u32 = 1_000;

/// What the graph and events clients had acknowledged.
#[derive(Default)]
pub struct Acknowledged {
    /// Entities added, with the number in their `n` property.
    pub entities: Mutex<Vec<(EntityId, i64)>>,
    /// Events appended, with their key's number and payload.
    pub events: Mutex<Vec<(EventId, u64, Vec<u8>)>>,
    /// Calls that ended without an answer (they may or may not have taken effect).
    pub unknown: Mutex<u64>,
}

fn event_key(number: u64) -> EventKey {
    EventKey { node: "nemesis".into(), signal: format!("s{number}"), epoch: 0 }
}

fn entity(number: i64) -> GraphOp {
    let mut properties = Properties::new();
    properties.insert("n".into(), Value::Scalar(Scalar::Int(number)));
    properties.insert("label".into(), Value::str(format!("entity {number}")));
    GraphOp::AddEntity { collection: "nemesis".into(), properties }
}

/// Adds entities until `stop`, recording those acknowledged.
pub async fn run_graph_client(
    addresses: Vec<SocketAddr>,
    token: [u8; 32],
    deadline: Duration,
    acknowledged: Arc<Acknowledged>,
    stop: Arc<AtomicBool>,
) {
    let mut client = Client::new(addresses.clone(), token, deadline);
    for number in 0..ENTITIES_MAX as i64 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match client.graph_command(entity(number)).await {
            Ok(GraphResult::Entity(id)) => {
                if let Ok(mut entities) = acknowledged.entities.lock() {
                    entities.push((id, number));
                }
            }
            Ok(_) | Err(_) => {
                if let Ok(mut unknown) = acknowledged.unknown.lock() {
                    *unknown += 1;
                }
                client = Client::new(addresses.clone(), token, deadline);
            }
        }
    }
}

/// Appends events until `stop`, recording those acknowledged.
pub async fn run_events_client(
    addresses: Vec<SocketAddr>,
    token: [u8; 32],
    deadline: Duration,
    acknowledged: Arc<Acknowledged>,
    stop: Arc<AtomicBool>,
) {
    let mut client = Client::new(addresses.clone(), token, deadline);
    for number in 0..EVENTS_MAX {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let key = number % EVENT_KEYS;
        let payload = format!("event {number}").into_bytes();
        match client.events_command(EventsOp::Append { key: event_key(key), payload: payload.clone() }).await {
            Ok(EventsResult::Appended { id, .. }) => {
                if let Ok(mut events) = acknowledged.events.lock() {
                    events.push((id, key, payload));
                }
            }
            Ok(_) | Err(_) => {
                if let Ok(mut unknown) = acknowledged.unknown.lock() {
                    *unknown += 1;
                }
                client = Client::new(addresses.clone(), token, deadline);
            }
        }
    }
}

/// Reads back every acknowledged entity ([`READS_IN_FLIGHT`] at a time) and event, linearizably;
/// answers what is missing or wrong.
pub async fn check(addresses: &[SocketAddr], token: [u8; 32], acknowledged: &Acknowledged) -> Vec<String> {
    let entities = Arc::new(acknowledged.entities.lock().map(|list| list.clone()).unwrap_or_default());
    let mut reads = JoinSet::new();
    for stripe in 0..READS_IN_FLIGHT {
        let (entities, addresses) = (entities.clone(), addresses.to_vec());
        reads.spawn(async move {
            let mut problems = Vec::new();
            let mut client = Client::new(addresses, token, Duration::from_secs(10));
            for &(id, number) in entities.iter().skip(stripe).step_by(READS_IN_FLIGHT) {
                match client.graph_read(GraphQuery::Entity(id)).await {
                    Ok(GraphAnswer::Entity(Some(view))) => {
                        if view.properties.get("n") != Some(&Value::Scalar(Scalar::Int(number))) {
                            problems.push(format!(
                                "entity {} holds {:?}, acknowledged with n = {number}",
                                id.0, view.properties
                            ));
                        }
                    }
                    Ok(GraphAnswer::Entity(None)) => problems.push(format!("entity {} (n = {number}) is gone", id.0)),
                    Ok(other) => problems.push(format!("entity {}: unexpected answer {other:?}", id.0)),
                    Err(error) => problems.push(format!("entity {}: not read back: {error}", id.0)),
                }
            }
            problems
        });
    }
    let mut problems = Vec::new();
    while let Some(found) = reads.join_next().await {
        problems.extend(found.unwrap_or_else(|error| vec![format!("a read back failed: {error}")]));
    }
    problems.sort();
    let mut client = Client::new(addresses.to_vec(), token, Duration::from_secs(10));
    let events = acknowledged.events.lock().map(|list| list.clone()).unwrap_or_default();
    let mut found: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for key in 0..EVENT_KEYS {
        let mut resume = None;
        loop {
            let range = EventRange {
                from: event_key(key),
                to: event_key(key),
                after: None,
                until: None,
                resume: resume.take(),
                limit: RANGE_LIMIT,
            };
            match client.events_read(EventsQuery::Range(range)).await {
                Ok(EventsAnswer::Range { events, resume: next }) => {
                    found.extend(events.into_iter().map(|event| (event.id.0, event.payload)));
                    match next {
                        Some(next) => resume = Some(next),
                        None => break,
                    }
                }
                Ok(other) => {
                    problems.push(format!("events of key {key}: unexpected answer {other:?}"));
                    break;
                }
                Err(error) => {
                    problems.push(format!("events of key {key}: not read back: {error}"));
                    break;
                }
            }
        }
    }
    for (id, key, payload) in events {
        match found.get(&id.0) {
            Some(held) if *held == payload => {}
            Some(held) => problems.push(format!(
                "event {} of key {key} holds {:?}, acknowledged with {:?}",
                id.0,
                String::from_utf8_lossy(held),
                String::from_utf8_lossy(&payload)
            )),
            None => {
                problems.push(format!("event {} of key {key} ({:?}) is gone", id.0, String::from_utf8_lossy(&payload)))
            }
        }
    }
    problems
}
