//! Concurrent clients of the replicated log, for any part of the metadata ([`ClientOp`]): by
//! default puts, gets, removes and compare-and-sets on a few keys, with values whose sizes reach
//! the records' limit ([`KvSource`]); the graph and event scenarios bring their own operations.
//! Per-attempt timeouts, retries that keep their sequence number (so a command applies at most
//! once), and leader hints followed. Each client opens a session through the log before its first
//! command, and again if its session expires. Every operation is recorded for the checkers.

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
use std::fmt::Debug;

/// An operation of a part of the metadata, as the clients send it and read its answer.
pub trait ClientOp: Clone + Debug {
    /// What the operation returns.
    type Result: Clone + Debug + PartialEq;

    /// The command that performs it through the log.
    fn command(&self) -> MetadataCommand;

    /// For a read, the query that performs it as a linearizable read at the leader (read index),
    /// which three reads in four use instead of the command.
    fn read(&self) -> Option<MetadataQuery>;

    /// Its result in a command's output, if the output is of its part.
    fn output(&self, output: MetadataOutput) -> Option<Self::Result>;

    /// Its result in a read's answer, if the answer is of its part.
    fn answer(&self, answer: MetadataAnswer) -> Option<Self::Result>;
}

impl ClientOp for KvOp {
    type Result = KvResult;

    fn command(&self) -> MetadataCommand {
        MetadataCommand::Records(self.clone())
    }

    fn read(&self) -> Option<MetadataQuery> {
        match self {
            KvOp::Get { key } => Some(MetadataQuery::Record(key.clone())),
            _ => None,
        }
    }

    fn output(&self, output: MetadataOutput) -> Option<KvResult> {
        match output {
            MetadataOutput::Records(result) => Some(result),
            _ => None,
        }
    }

    fn answer(&self, answer: MetadataAnswer) -> Option<KvResult> {
        match answer {
            MetadataAnswer::Record(value) => Some(KvResult::Value(value)),
            _ => None,
        }
    }
}

/// Where a workload's operations come from: drawn on a client's own stream, knowing the history
/// so far.
pub trait OpSource<O: ClientOp> {
    /// The next operation of a client.
    fn draw(&mut self, rng: &mut SimRng, history: &[Operation<O>]) -> O;
}

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
pub enum Completion<R = KvResult> {
    /// Answered.
    Done {
        /// When the answer left the replica.
        at: Instant,
        /// The result.
        result: R,
    },
    /// The client gave up, or the run ended first, or its session expired: it may or may not have
    /// taken effect.
    Unknown,
    /// The node refused the command before the log (over a limit): it took no effect.
    Refused,
}

/// One operation of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<O: ClientOp = KvOp> {
    /// The client (its session id once it has one; 0 before).
    pub client: u64,
    /// The workload's client that issued it (from 0, as `--clients` counts them; the clients
    /// made after the heal come after those).
    pub issuer: usize,
    /// Its sequence number in that session.
    pub sequence: u64,
    /// What it asked.
    pub op: O,
    /// A read sent as a linearizable read at the leader (read index), not as a command through the
    /// log (three reads in four are).
    pub read_index: bool,
    /// When the client first sent it (or asked for the session it needed).
    pub invoked_at: Instant,
    /// How it ended.
    pub completion: Completion<O::Result>,
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

/// The key/value workload's operations: puts, gets, removes and compare-and-sets on a few keys.
#[derive(Clone, Debug)]
pub struct KvSource {
    keys: u32,
    value_bytes_max: usize,
    value_counter: u64,
}

impl KvSource {
    /// Operations on `keys` keys with values up to `value_bytes_max`.
    #[must_use]
    pub fn new(keys: u32, value_bytes_max: usize) -> KvSource {
        KvSource { keys, value_bytes_max, value_counter: 0 }
    }

    /// A value of a size drawn to reach the limit: mostly a few bytes, some kilobytes, and now and
    /// then the largest the records take.
    fn draw_value(&mut self, rng: &mut SimRng) -> Vec<u8> {
        self.value_counter += 1;
        let tag = format!("v{}", self.value_counter).into_bytes();
        let limit = self.value_bytes_max.max(tag.len());
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
    fn recent_value(rng: &mut SimRng, history: &[Operation]) -> Option<Vec<u8>> {
        let candidates: Vec<&Vec<u8>> = history
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
        let pick = below(rng, candidates.len() as u64) as usize;
        Some(candidates[pick].clone())
    }
}

impl OpSource<KvOp> for KvSource {
    fn draw(&mut self, rng: &mut SimRng, history: &[Operation]) -> KvOp {
        let key = format!("k{}", below(rng, u64::from(self.keys))).into_bytes();
        rng.tag_span(|| Value(key.clone()).to_string());
        match below(rng, 10) {
            0..=3 => KvOp::Get { key },
            4..=6 => KvOp::Put { key, value: self.draw_value(rng) },
            7 => KvOp::Remove { key },
            _ => {
                // Compare against a recent value or absence, so that some swaps succeed.
                let expected = if below(rng, 3) == 0 { None } else { KvSource::recent_value(rng, history) };
                let new = if below(rng, 5) == 0 { None } else { Some(self.draw_value(rng)) };
                KvOp::CompareAndSet { key, expected, new }
            }
        }
    }
}

/// The clients and the history they made.
pub struct Workload<O: ClientOp = KvOp> {
    config: WorkloadConfig,
    streams: SeedStreams,
    clients: Vec<Client>,
    /// Which client waits for which request.
    waiting: BTreeMap<RequestId, usize>,
    /// Every operation issued, in invocation order.
    pub history: Vec<Operation<O>>,
    stop_issuing_at: Instant,
    issued: u64,
    source: Box<dyn OpSource<O>>,
}

impl Workload {
    /// The key/value workload: clients of a `nodes`-replica log, each drawing from its own stream
    /// of the seed, issuing new operations on `config.keys` keys until `stop_issuing_at`. With
    /// `only`, only those clients issue operations; the others stay idle.
    #[must_use]
    pub fn new(
        config: WorkloadConfig,
        streams: &SeedStreams,
        nodes: u32,
        stop_issuing_at: Instant,
        only: Option<&[u32]>,
    ) -> Workload {
        let source = KvSource::new(config.keys, config.value_bytes_max);
        Workload::with_source(config, Box::new(source), streams, nodes, (stop_issuing_at, only))
    }
}

impl<O: ClientOp> Workload<O> {
    /// Clients of a `nodes`-replica log whose operations come from `source`, each drawing from its
    /// own stream of the seed, issuing new operations until `stop_issuing_at`. With `only`, only
    /// those clients issue operations; the others stay idle.
    #[must_use]
    pub fn with_source(
        config: WorkloadConfig,
        source: Box<dyn OpSource<O>>,
        streams: &SeedStreams,
        nodes: u32,
        (stop_issuing_at, only): (Instant, Option<&[u32]>),
    ) -> Workload<O> {
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
            source,
        }
    }

    /// Issues one more operation from a fresh client at the current time (used after the heal to
    /// probe liveness and to read every key back). Returns its index in the history.
    pub fn issue_extra(&mut self, sim: &mut Sim<PangeaNode>, op: O) -> usize {
        let index = self.clients.len();
        self.clients.push(Client::new(&self.streams, index, sim.nodes(), true));
        self.start(sim, index, op)
    }

    /// True when `operation` has an answer.
    #[must_use]
    pub fn is_done(&self, operation: usize) -> bool {
        matches!(self.history[operation].completion, Completion::Done { .. })
    }

    /// Whether every operation of `reads` has an answer and no client waits for one.
    #[must_use]
    pub fn settled(&self, reads: &[usize]) -> bool {
        reads.iter().all(|read| self.is_done(*read)) && self.outstanding() == 0
    }

    /// The liveness violation of the first operation of `reads` left unanswered after the heal.
    #[must_use]
    pub fn unanswered(&self, sim: &Sim<PangeaNode>, reads: &[usize]) -> Vec<crate::report::Violation> {
        let unanswered = reads.iter().find(|read| !self.is_done(**read));
        unanswered
            .map(|read| crate::report::Violation {
                involved: crate::report::Involved::default(),
                checker: "liveness",
                kind: crate::report::FailureKind::Liveness,
                at: sim.now(),
                node: None,
                message: format!("the final read {:?} was not answered after the heal", self.history[*read].op),
            })
            .into_iter()
            .collect()
    }

    /// A line for the run's notes: operations by outcome, and the slots the log committed.
    #[must_use]
    pub fn summary(&self, sim: &Sim<PangeaNode>) -> String {
        let history = &self.history;
        let done = history.iter().filter(|operation| matches!(operation.completion, Completion::Done { .. })).count();
        let refused = history.iter().filter(|operation| matches!(operation.completion, Completion::Refused)).count();
        let applied = (0..sim.nodes()).filter_map(|index| sim.node(index)).map(|node| node.log().applied_index()).max();
        format!(
            "{} operations, {done} answered, {refused} refused, {} unknown; {} slots committed",
            history.len(),
            history.len() - done - refused,
            applied.unwrap_or(0)
        )
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
                            let op = self.source.draw(&mut self.clients[index].rng, &self.history);
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

    fn start(&mut self, sim: &mut Sim<PangeaNode>, index: usize, op: O) -> usize {
        self.issued += 1;
        let read_index = op.read().is_some() && below(&mut self.clients[index].rng, 4) != 0;
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
        let (body, opening) = match (record.op.read(), client.session) {
            (Some(query), _) if record.read_index => (LogRequest::Read(query), false),
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
                let command = record.op.command();
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
            LogResponse::Done { client, sequence, output } if !opening => {
                let record = &mut self.history[operation];
                match record.op.output(output) {
                    Some(result) if (client, sequence) == (record.client, record.sequence) => {
                        record.completion = Completion::Done { at, result };
                        self.finish(sim, index);
                    }
                    _ => self.retry(sim, index, true),
                }
            }
            LogResponse::Answer { answer, .. } if !opening => match self.history[operation].op.answer(answer) {
                Some(result) => {
                    self.history[operation].completion = Completion::Done { at, result };
                    self.finish(sim, index);
                }
                None => self.retry(sim, index, true),
            },
            LogResponse::Invalid(_) if !opening => {
                self.history[operation].completion = Completion::Refused;
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
