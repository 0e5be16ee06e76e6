//! `events-swarm`: concurrent clients append to and read from the replicated event store of
//! `PangeaNode`s under every fault, on a dozen (node, signal, epoch) keys, with payloads up to the
//! store's limit and a per-key retention small enough that every run retires events.
//!
//! Checked:
//! - **event ids rise**: no id is handed out twice; within a key, an append acknowledged before
//!   another was invoked has the lower id; every key's final read is in increasing id order;
//! - **no acknowledged event lost**: every key's final read holds every acknowledged event of that
//!   key that retention allows (all of them while the key holds fewer than its retention limit;
//!   otherwise every one newer than the oldest still held);
//! - **linearizability** of the whole history against the brute-force store
//!   ([`pangea_core::events::model::ModelEvents`]), the final reads included;
//! - agreement, convergence and liveness as in every log scenario.
//!
//! Planted bugs: `snapshot-forgets-next-id`, `retire-newest`.

use crate::error::ScenarioError;
use crate::graph::{issuing, part_node_config, part_parts, workload_config};
use crate::kit::{FaultSource, Kit, Parts, RunSetup};
use crate::log::{ClientOp, Completion, OpSource, Operation, PHASES, PartChecks, PartHarness, Workload};
use crate::model::SequentialModel;
use crate::registry::{WorkloadKnobs, bug_names, planted_bug};
use crate::report::{FailureKind, Involved, Violation};
use pangea_core::events::model::ModelEvents;
use pangea_core::events::{
    EventId, EventKey, EventRange, EventsAnswer, EventsConfig, EventsOp, EventsPlantedBug, EventsQuery, EventsResult,
};
use pangea_core::metadata::{MetadataAnswer, MetadataCommand, MetadataOutput, MetadataQuery};
use pangea_core::random::below;
use pangea_core::{Instant, PangeaConfig, PangeaNode};
use pangea_sim::{SimRng, SwarmProfile};
use std::collections::BTreeMap;

/// Node names of the keys.
const NODES: [&str; 3] = ["camera", "detector", "tracker"];
/// Signal names of the keys.
const SIGNALS: [&str; 2] = ["frame", "alert"];
/// Epochs of the keys.
const EPOCHS: u64 = 2;
/// The events a key keeps in the simulator: small, so that every run retires some.
const EVENTS_PER_KEY_MAX: u32 = 16;
/// The largest payload in the simulator.
const PAYLOAD_BYTES_MAX: usize = 8 * 1024;

impl ClientOp for EventsOp {
    type Result = EventsResult;

    fn command(&self) -> MetadataCommand {
        MetadataCommand::Events(self.clone())
    }

    fn read(&self) -> Option<MetadataQuery> {
        match self {
            EventsOp::Read(query) => Some(MetadataQuery::Events(query.clone())),
            _ => None,
        }
    }

    fn output(&self, output: MetadataOutput) -> Option<EventsResult> {
        match output {
            MetadataOutput::Events(result) => Some(result),
            _ => None,
        }
    }

    fn answer(&self, answer: MetadataAnswer) -> Option<EventsResult> {
        match answer {
            MetadataAnswer::Events(answer) => Some(EventsResult::Read(answer)),
            _ => None,
        }
    }
}

/// Every key the clients use, in order.
fn keys() -> Vec<EventKey> {
    let mut keys = Vec::new();
    for node in NODES {
        for signal in SIGNALS {
            for epoch in 0..EPOCHS {
                keys.push(EventKey { node: node.to_owned(), signal: signal.to_owned(), epoch });
            }
        }
    }
    keys.sort();
    keys
}

/// A read of all of one key's events (within its retention, one page holds them all).
fn whole_key(key: &EventKey) -> EventsOp {
    EventsOp::Read(EventsQuery::Range(EventRange {
        from: key.clone(),
        to: key.clone(),
        after: None,
        until: None,
        resume: None,
        limit: EVENTS_PER_KEY_MAX,
    }))
}

/// Draws the clients' appends and reads.
struct EventsSource {
    keys: Vec<EventKey>,
}

impl OpSource<EventsOp> for EventsSource {
    fn draw(&mut self, rng: &mut SimRng, _history: &[Operation<EventsOp>]) -> EventsOp {
        let key = self.keys[below(rng, self.keys.len() as u64) as usize].clone();
        match below(rng, 100) {
            0..=59 => {
                // Mostly small; one in ten as large as the store takes.
                let size = if below(rng, 10) == 0 { PAYLOAD_BYTES_MAX } else { below(rng, 512) as usize };
                EventsOp::Append { key, payload: vec![b'e'; size] }
            }
            60..=79 => whole_key(&key),
            80..=94 => {
                let to = self.keys[below(rng, self.keys.len() as u64) as usize].clone().max(key.clone());
                EventsOp::Read(EventsQuery::Range(EventRange {
                    from: key,
                    to,
                    after: (below(rng, 2) == 0).then(|| EventId(below(rng, 400))),
                    until: None,
                    resume: None,
                    limit: 1 + below(rng, 64) as u32,
                }))
            }
            _ => EventsOp::Read(EventsQuery::Stats),
        }
    }
}

/// The event store as a [`SequentialModel`].
#[derive(Clone, Debug)]
pub struct EventsModel(pub EventsConfig);

impl SequentialModel for EventsModel {
    type State = ModelEvents;
    type Op = EventsOp;
    type Output = EventsResult;

    fn initial(&self) -> ModelEvents {
        ModelEvents::default()
    }

    fn apply(&self, state: &ModelEvents, op: &EventsOp) -> (ModelEvents, EventsResult) {
        let mut next = state.clone();
        let output = next.apply(&self.0, op);
        (next, output)
    }

    fn is_read_only(&self, op: &EventsOp) -> bool {
        matches!(op, EventsOp::Read(_))
    }
}

/// An `events-swarm` run's clients and checkers.
pub type EventsHarness = PartHarness<EventsOp, EventsModel>;

static EVENTS_CHECKS: PartChecks<EventsOp> = PartChecks {
    probe: || EventsOp::Append {
        key: EventKey { node: "probe".into(), signal: "liveness".into(), epoch: 0 },
        payload: b"after the heal".to_vec(),
    },
    final_reads: |_| keys().iter().map(whole_key).collect(),
    checks: |history| {
        let mut violations = ids_rise(history);
        violations.extend(acknowledged_kept(history));
        violations
    },
};

fn violation(checker: &'static str, at: Instant, message: String) -> Violation {
    Violation { involved: Involved::default(), checker, kind: FailureKind::Correctness, at, node: None, message }
}

/// The acknowledged appends: (key, id, invoked, answered).
fn appends(history: &[Operation<EventsOp>]) -> Vec<(&EventKey, EventId, Instant, Instant)> {
    history
        .iter()
        .filter_map(|operation| match (&operation.op, &operation.completion) {
            (EventsOp::Append { key, .. }, Completion::Done { at, result: EventsResult::Appended { id, .. } }) => {
                Some((key, *id, operation.invoked_at, *at))
            }
            _ => None,
        })
        .collect()
}

/// Ids are never handed out twice, and rise within a key in real time and in every read.
fn ids_rise(history: &[Operation<EventsOp>]) -> Vec<Violation> {
    let mut violations = Vec::new();
    let appends = appends(history);
    let mut owners: BTreeMap<EventId, &EventKey> = BTreeMap::new();
    for (key, id, _, at) in &appends {
        if let Some(other) = owners.insert(*id, key) {
            let message = format!("id {} handed out twice: to an event of {other:?} and one of {key:?}", id.0);
            violations.push(violation("event-ids", *at, message));
        }
    }
    for (key, id, _, answered) in &appends {
        let later =
            appends.iter().find(|(other, other_id, invoked, _)| other == key && invoked > answered && other_id <= id);
        if let Some((_, later_id, invoked, _)) = later {
            let message = format!(
                "in {key:?}, event {} was acknowledged at {answered} but an append invoked later, at {invoked}, got the lower id {}",
                id.0, later_id.0
            );
            violations.push(violation("event-ids", *invoked, message));
        }
    }
    for operation in history {
        if let Completion::Done { at, result: EventsResult::Read(EventsAnswer::Range { events, .. }) } =
            &operation.completion
            && let Some(pair) = events.windows(2).find(|pair| pair[0].key == pair[1].key && pair[0].id >= pair[1].id)
        {
            let message =
                format!("a read of {:?} returned id {} before id {}", pair[0].key, pair[0].id.0, pair[1].id.0);
            violations.push(violation("event-ids", *at, message));
        }
    }
    violations.truncate(10);
    violations
}

/// Every key's final read holds the acknowledged events retention allows.
fn acknowledged_kept(history: &[Operation<EventsOp>]) -> Vec<Violation> {
    let final_reads = keys().len();
    let mut violations = Vec::new();
    let start = history.len().saturating_sub(final_reads);
    for operation in &history[start..] {
        let (EventsOp::Read(EventsQuery::Range(range)), Completion::Done { at, result }) =
            (&operation.op, &operation.completion)
        else {
            continue;
        };
        let EventsResult::Read(EventsAnswer::Range { events, .. }) = result else { continue };
        let held: Vec<EventId> = events.iter().map(|event| event.id).collect();
        let oldest = held.first().copied();
        let full = held.len() >= EVENTS_PER_KEY_MAX as usize;
        // Appends acknowledged before the read was sent: the read must reflect them.
        for (key, id, _, answered) in appends(history) {
            let allowed_gone = full && oldest.is_some_and(|oldest| id < oldest);
            if *key == range.from && answered <= operation.invoked_at && !held.contains(&id) && !allowed_gone {
                let message = format!(
                    "event {} of {key:?} was acknowledged but the final read holds {} events without it (oldest {:?})",
                    id.0,
                    held.len(),
                    oldest.map(|id| id.0)
                );
                violations.push(violation("acknowledged-events-kept", *at, message));
            }
        }
    }
    violations.truncate(10);
    violations
}

/// `events-swarm`.
pub static EVENTS_SWARM: Kit<PangeaNode, EventsHarness> = Kit::new("events-swarm", setup)
    .description("replicated event store: appends and range reads under every fault, with retention")
    .faults(
        FaultSource::Swarm(SwarmProfile { disk_rot: false, ..SwarmProfile::ALL }),
        "swarm of every fault (no bit rot)",
    )
    .phases(PHASES)
    .knobs(WorkloadKnobs { clients: Some(5), operations: Some(600) })
    .planted_bugs(events_bugs);

fn events_bugs() -> Vec<&'static str> {
    bug_names(&EventsPlantedBug::ALL)
}

fn setup(setup: &RunSetup<'_>) -> Result<Parts<PangeaNode, EventsHarness>, ScenarioError> {
    let planted = setup.options.planted.as_deref().map(|name| planted_bug(setup.name, name, &EventsPlantedBug::ALL));
    let _planted = planted.transpose()?;
    let events = EventsConfig {
        events_per_key_max: EVENTS_PER_KEY_MAX,
        payload_bytes_max: PAYLOAD_BYTES_MAX,
        #[cfg(feature = "planted-bugs")]
        planted_bug: _planted,
        ..EventsConfig::default()
    };
    let config = PangeaConfig { events, ..part_node_config(setup.nodes) };
    config.validate().map_err(|error| ScenarioError::Config(error.to_string()))?;
    let source = EventsSource { keys: keys() };
    let workload =
        Workload::with_source(workload_config(setup)?, Box::new(source), setup.streams, setup.nodes, issuing(setup));
    Ok(part_parts(config, PartHarness::new(workload, EventsModel(events), &EVENTS_CHECKS), setup))
}
