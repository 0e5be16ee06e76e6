//! Concurrent clients of the replicated log: puts, gets, removes and compare-and-sets on a few
//! keys, with values whose sizes reach the records' limit, per-attempt timeouts, retries that keep
//! their sequence number (so a command applies at most once), and leader hints followed. Each
//! client opens a session through the log before its first command, and again if its session
//! expires. Every operation is recorded for the checkers.

use crate::kit::model_clients::{begin_operation, left_out_pause};
use crate::linearizability::Value;
use pangea_core::PangeaNode;
use pangea_core::log::{LogRequest, LogResponse};
use pangea_core::metadata::records::{KvOp, KvResult};
use pangea_core::metadata::{MetadataAnswer, MetadataCommand, MetadataOutput, MetadataQuery};
use pangea_core::pangea::{MetadataResponse, PangeaRequest, PangeaResponse};
use pangea_core::random::{below, duration_between};
use pangea_core::{Duration, Instant, RequestId};
use pangea_sim::{Reply, SeedStreams, Sim, SimRng};
use std::collections::BTreeMap;

/// How the clients behave.
#[derive(Clone, Debug)]
pub struct WorkloadConfig {
    /// Concurrent clients.
    pub clients: u32,
    /// Distinct keys they touch.
    pub keys: u32,
    /// Most operations issued in all (the shrinker lowers it).
    pub operations_max: u64,
    /// How long one attempt waits for an answer before retrying elsewhere.
    pub attempt_timeout: Duration,
    /// How long an operation is retried before its client gives up (its outcome stays unknown).
    pub give_up_after: Duration,
    /// Pause between a client's operations, drawn up to this.
    pub think_max: Duration,
    /// Pause before retrying after a refusal.
    pub backoff: Duration,
    /// The largest value a put or compare-and-set writes: the records' limit, which values reach.
    pub value_bytes_max: usize,
}

impl WorkloadConfig {
    /// The log scenarios' clients unless `--clients` and `--operations` say otherwise.
    pub const DEFAULT: WorkloadConfig = WorkloadConfig {
        clients: 6,
        keys: 5,
        operations_max: 2_000,
        attempt_timeout: Duration::from_millis(400),
        give_up_after: Duration::from_secs(4),
        think_max: Duration::from_millis(40),
        backoff: Duration::from_millis(20),
        value_bytes_max: 16 * 1024,
    };
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig::DEFAULT
    }
}

/// How an operation ended, as its client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Answered.
    Done {
        /// When the answer left the replica.
        at: Instant,
        /// The result.
        result: KvResult,
    },
    /// The client gave up, or the run ended first, or its session expired: it may or may not have
    /// taken effect.
    Unknown,
}

/// One operation of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The client (its session id once it has one; 0 before).
    pub client: u64,
    /// The workload's client that issued it (from 0, as `--clients` counts them; the clients
    /// made after the heal come after those).
    pub issuer: usize,
    /// Its sequence number in that session.
    pub sequence: u64,
    /// What it asked.
    pub op: KvOp,
    /// A get sent as a linearizable read at the leader (read index), not as a command through the
    /// log (three gets in four are).
    pub read_index: bool,
    /// When the client first sent it (or asked for the session it needed).
    pub invoked_at: Instant,
    /// How it ended.
    pub completion: Completion,
}

#[derive(Clone, Debug)]
enum State {
    /// Will issue its next operation at `at`.
    Thinking { at: Instant },
    /// Waiting for `request`'s answer until `deadline`: a session being opened for `operation`
    /// when `opening`, else the operation itself.
    Waiting { operation: usize, request: RequestId, deadline: Instant, opening: bool },
    /// Will resend `operation` at `at`.
    BackingOff { operation: usize, at: Instant },
    /// Issues nothing more.
    Done,
}

#[derive(Clone, Debug)]
struct Client {
    /// Its session, once opened.
    session: Option<u64>,
    sequence: u64,
    target: u32,
    /// Made after the heal: issues one operation, then stops.
    extra: bool,
    state: State,
    /// The client's own stream (`"workload/client/N"`): a client's choices do not depend on how
    /// many other clients there are, so that the shrinker can drop clients and keep the others'.
    rng: SimRng,
}

impl Client {
    /// Client `index` of a `nodes`-replica log; an `extra` one issues one operation and stops.
    fn new(streams: &SeedStreams, index: usize, nodes: u32, extra: bool) -> Client {
        let mut rng = streams.stream(&format!("workload/client/{index}"));
        let target = below(&mut rng, u64::from(nodes)) as u32;
        let state =
            if extra { State::Done } else { State::Thinking { at: Instant::ZERO + Duration::from_millis(500) } };
        Client { session: None, sequence: 0, target, extra, state, rng }
    }
}

/// The clients and the history they made.
pub struct Workload {
    config: WorkloadConfig,
    streams: SeedStreams,
    clients: Vec<Client>,
    /// Which client waits for which request.
    waiting: BTreeMap<RequestId, usize>,
    /// Every operation issued, in invocation order.
    pub history: Vec<Operation>,
    stop_issuing_at: Instant,
    issued: u64,
    value_counter: u64,
}

impl Workload {
    /// Clients of a `nodes`-replica log, each drawing from its own stream of the seed, issuing new
    /// operations until `stop_issuing_at`.
    #[must_use]
    /// With `only`, only those clients issue operations; the others stay idle.
    pub fn new(
        config: WorkloadConfig,
        streams: &SeedStreams,
        nodes: u32,
        stop_issuing_at: Instant,
        only: Option<&[u32]>,
    ) -> Workload {
        let clients = (0..config.clients as usize)
            .map(|index| {
                let mut client = Client::new(streams, index, nodes, false);
                if only.is_some_and(|only| !only.contains(&(index as u32))) {
                    client.state = State::Done;
                }
                client
            })
            .collect();
        Workload {
            config,
            streams: streams.clone(),
            clients,
            waiting: BTreeMap::new(),
            history: Vec::new(),
            stop_issuing_at,
            issued: 0,
            value_counter: 0,
        }
    }

    /// Issues one more operation from a fresh client at the current time (used after the heal to
    /// probe liveness and to read every key back). Returns its index in the history.
    pub fn issue_extra(&mut self, sim: &mut Sim<PangeaNode>, op: KvOp) -> usize {
        let index = self.clients.len();
        self.clients.push(Client::new(&self.streams, index, sim.nodes(), true));
        self.start(sim, index, op)
    }

    /// True when `operation` has an answer.
    #[must_use]
    pub fn is_done(&self, operation: usize) -> bool {
        matches!(self.history[operation].completion, Completion::Done { .. })
    }

    /// Handles answers and timers up to the simulator's current time; returns the replies meant
    /// for someone else.
    pub fn act(&mut self, sim: &mut Sim<PangeaNode>) -> Vec<Reply<PangeaResponse>> {
        let mut others = Vec::new();
        for reply in sim.take_replies() {
            let Some(client) = self.waiting.remove(&reply.request) else {
                others.push(reply);
                continue;
            };
            match reply.body {
                PangeaResponse::Log(body) => self.on_reply(sim, client, reply.at, body),
                _ => self.retry(sim, client, true),
            }
        }
        let now = sim.now();
        for index in 0..self.clients.len() {
            match self.clients[index].state.clone() {
                State::Thinking { at } if now >= at => {
                    if now >= self.stop_issuing_at || self.issued >= self.config.operations_max {
                        self.clients[index].state = State::Done;
                    } else {
                        if begin_operation(&mut self.clients[index].rng, now) {
                            let op = self.draw_op(index);
                            self.start(sim, index, op);
                        } else {
                            let at = now + left_out_pause(self.config.think_max);
                            self.clients[index].state = State::Thinking { at };
                        }
                    }
                }
                State::Waiting { request, deadline, .. } if now >= deadline => {
                    self.waiting.remove(&request);
                    self.retry(sim, index, true);
                }
                State::BackingOff { operation, at } if now >= at => self.send(sim, index, operation),
                _ => {}
            }
        }
        others
    }

    /// Operations still waiting for an answer.
    #[must_use]
    pub fn outstanding(&self) -> usize {
        self.clients
            .iter()
            .filter(|client| matches!(client.state, State::Waiting { .. } | State::BackingOff { .. }))
            .count()
    }

    /// A value of a size drawn to reach the limit: mostly a few bytes, some kilobytes, and now and
    /// then the largest the records take.
    fn draw_value(&mut self, index: usize) -> Vec<u8> {
        let rng = &mut self.clients[index].rng;
        self.value_counter += 1;
        let tag = format!("v{}", self.value_counter).into_bytes();
        let limit = self.config.value_bytes_max.max(tag.len());
        let size = match below(rng, 20) {
            0..=11 => tag.len(),
            12..=16 => tag.len() + below(rng, 1024) as usize,
            17..=18 => tag.len() + below(rng, limit as u64) as usize,
            _ => limit,
        }
        .min(limit);
        let mut value = tag;
        // The tag keeps every value distinct; the filler makes it the size drawn.
        value.resize(size, b'.');
        value
    }

    /// A recent value again, for a compare-and-set to expect.
    fn recent_value(&mut self, index: usize) -> Option<Vec<u8>> {
        let candidates: Vec<&Vec<u8>> = self
            .history
            .iter()
            .rev()
            .filter_map(|operation| match &operation.op {
                KvOp::Put { value, .. } => Some(value),
                KvOp::CompareAndSet { new: Some(value), .. } => Some(value),
                _ => None,
            })
            .take(8)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let pick = below(&mut self.clients[index].rng, candidates.len() as u64) as usize;
        Some(candidates[pick].clone())
    }

    fn draw_op(&mut self, index: usize) -> KvOp {
        let keys = u64::from(self.config.keys);
        let rng = &mut self.clients[index].rng;
        let key = format!("k{}", below(rng, keys)).into_bytes();
        rng.tag_span(|| Value(key.clone()).to_string());
        match below(rng, 10) {
            0..=3 => KvOp::Get { key },
            4..=6 => KvOp::Put { key, value: self.draw_value(index) },
            7 => KvOp::Remove { key },
            _ => {
                // Compare against a recent value or absence, so that some swaps succeed.
                let expected =
                    if below(&mut self.clients[index].rng, 3) == 0 { None } else { self.recent_value(index) };
                let new = if below(&mut self.clients[index].rng, 5) == 0 { None } else { Some(self.draw_value(index)) };
                KvOp::CompareAndSet { key, expected, new }
            }
        }
    }

    fn start(&mut self, sim: &mut Sim<PangeaNode>, index: usize, op: KvOp) -> usize {
        self.issued += 1;
        let read_index = matches!(op, KvOp::Get { .. }) && below(&mut self.clients[index].rng, 4) != 0;
        self.history.push(Operation {
            client: 0,
            issuer: index,
            sequence: 0,
            op,
            read_index,
            invoked_at: sim.now(),
            completion: Completion::Unknown,
        });
        let operation = self.history.len() - 1;
        self.send(sim, index, operation);
        operation
    }

    fn send(&mut self, sim: &mut Sim<PangeaNode>, index: usize, operation: usize) {
        let record = &self.history[operation];
        if sim.now() - record.invoked_at >= self.config.give_up_after {
            self.finish(sim, index);
            return;
        }
        let client = &mut self.clients[index];
        let (body, opening) = match (&record.op, client.session) {
            (KvOp::Get { key }, _) if record.read_index => {
                (LogRequest::Read(MetadataQuery::Record(key.clone())), false)
            }
            (_, None) => (LogRequest::OpenSession, true),
            (_, Some(session)) => {
                if record.client != session {
                    // The first attempt in this session: number it.
                    client.sequence += 1;
                    let record = &mut self.history[operation];
                    record.client = session;
                    record.sequence = client.sequence;
                }
                let record = &self.history[operation];
                let command = MetadataCommand::Records(record.op.clone());
                (LogRequest::Command { client: record.client, sequence: record.sequence, command }, false)
            }
        };
        let request = sim.client_request(self.clients[index].target, &PangeaRequest::Log(body));
        self.waiting.insert(request, index);
        let deadline = sim.now() + self.config.attempt_timeout;
        self.clients[index].state = State::Waiting { operation, request, deadline, opening };
    }

    fn retry(&mut self, sim: &mut Sim<PangeaNode>, index: usize, elsewhere: bool) {
        let (State::Waiting { operation, .. } | State::BackingOff { operation, .. }) = self.clients[index].state else {
            return;
        };
        if elsewhere {
            let nodes = u64::from(sim.nodes());
            let client = &mut self.clients[index];
            client.target = below(&mut client.rng, nodes) as u32;
        }
        let at = sim.now() + self.config.backoff;
        self.clients[index].state = State::BackingOff { operation, at };
    }

    /// The client is done with its operation (answered, or given up with its outcome unknown) and
    /// moves on.
    fn finish(&mut self, sim: &Sim<PangeaNode>, index: usize) {
        let client = &mut self.clients[index];
        let delay = duration_between(&mut client.rng, Duration::ZERO, self.config.think_max);
        client.state = if client.extra { State::Done } else { State::Thinking { at: sim.now() + delay } };
    }

    fn on_reply(&mut self, sim: &mut Sim<PangeaNode>, index: usize, at: Instant, body: MetadataResponse) {
        let State::Waiting { operation, opening, .. } = self.clients[index].state.clone() else { return };
        match body {
            LogResponse::SessionOpened { client } if opening => {
                self.clients[index].session = Some(client);
                self.clients[index].sequence = 0;
                self.send(sim, index, operation);
            }
            LogResponse::Done { client, sequence, output: MetadataOutput::Records(result) } if !opening => {
                let record = &mut self.history[operation];
                if (client, sequence) == (record.client, record.sequence) {
                    record.completion = Completion::Done { at, result };
                    self.finish(sim, index);
                } else {
                    self.retry(sim, index, true);
                }
            }
            LogResponse::Answer { answer: MetadataAnswer::Record(value), .. } if !opening => {
                self.history[operation].completion = Completion::Done { at, result: KvResult::Value(value) };
                self.finish(sim, index);
            }
            LogResponse::SessionExpired { .. } => {
                // Whether an earlier attempt applied is unknown: the operation stays unknown, and
                // the next one opens a new session.
                self.clients[index].session = None;
                self.finish(sim, index);
            }
            LogResponse::NotLeader { leader } => match leader.and_then(|leader| sim.index_of(&leader)) {
                Some(leader) => {
                    self.clients[index].target = leader;
                    self.retry(sim, index, false);
                }
                None => self.retry(sim, index, true),
            },
            _ => self.retry(sim, index, true),
        }
    }
}
