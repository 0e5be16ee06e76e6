//! Concurrent clients of the replicated log: puts, gets, removes and compare-and-sets on a few
//! keys, with per-attempt timeouts, retries that keep their sequence number (so a command applies
//! at most once), and leader hints followed. Every operation is recorded for the checkers.

use pangea_core::log::{KvOp, KvRequest, KvResponse, KvResult, Replica};
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
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            clients: 6,
            keys: 5,
            operations_max: 2_000,
            attempt_timeout: Duration::from_millis(400),
            give_up_after: Duration::from_secs(4),
            think_max: Duration::from_millis(40),
            backoff: Duration::from_millis(20),
        }
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
    /// The client gave up, or the run ended first: it may or may not have taken effect.
    Unknown,
}

/// One operation of the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The client.
    pub client: u64,
    /// Its sequence number.
    pub sequence: u64,
    /// What it asked.
    pub op: KvOp,
    /// When the client first sent it.
    pub invoked_at: Instant,
    /// How it ended.
    pub completion: Completion,
}

#[derive(Clone, Debug)]
enum State {
    /// Will issue its next operation at `at`.
    Thinking { at: Instant },
    /// Waiting for `request`'s answer until `deadline`.
    Waiting { operation: usize, request: RequestId, deadline: Instant },
    /// Will resend `operation` at `at`.
    BackingOff { operation: usize, at: Instant },
    /// Issues nothing more.
    Done,
}

#[derive(Clone, Debug)]
struct Client {
    id: u64,
    sequence: u64,
    target: u32,
    state: State,
}

/// The clients and the history they made.
pub struct Workload {
    config: WorkloadConfig,
    rng: SimRng,
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
    /// Clients of a `nodes`-replica log, drawing from the seed's `"workload"` stream, issuing new
    /// operations until `stop_issuing_at`.
    #[must_use]
    pub fn new(config: WorkloadConfig, seed: u64, nodes: u32, stop_issuing_at: Instant) -> Workload {
        let mut rng = SeedStreams::new(seed).stream("workload");
        let clients = (0..config.clients)
            .map(|index| Client {
                id: u64::from(index) + 1,
                sequence: 0,
                target: below(&mut rng, u64::from(nodes)) as u32,
                state: State::Thinking { at: Instant::ZERO + Duration::from_millis(500) },
            })
            .collect();
        Workload {
            config,
            rng,
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
    pub fn issue_extra(&mut self, sim: &mut Sim<Replica>, op: KvOp) -> usize {
        let id = 1_000 + self.clients.len() as u64;
        let target = below(&mut self.rng, u64::from(sim.nodes())) as u32;
        self.clients.push(Client { id, sequence: 0, target, state: State::Done });
        let index = self.clients.len() - 1;
        self.start(sim, index, op)
    }

    /// True when `operation` has an answer.
    #[must_use]
    pub fn is_done(&self, operation: usize) -> bool {
        matches!(self.history[operation].completion, Completion::Done { .. })
    }

    /// Handles answers and timers up to the simulator's current time.
    pub fn step(&mut self, sim: &mut Sim<Replica>) -> Vec<Reply<KvResponse>> {
        let mut others = Vec::new();
        for reply in sim.take_replies() {
            let Some(client) = self.waiting.remove(&reply.request) else {
                others.push(reply);
                continue;
            };
            self.on_reply(sim, client, reply.at, reply.body);
        }
        let now = sim.now();
        for index in 0..self.clients.len() {
            match self.clients[index].state.clone() {
                State::Thinking { at } if now >= at => {
                    if now >= self.stop_issuing_at || self.issued >= self.config.operations_max {
                        self.clients[index].state = State::Done;
                    } else {
                        let op = self.draw_op();
                        self.start(sim, index, op);
                    }
                }
                State::Waiting { operation, request, deadline } if now >= deadline => {
                    self.waiting.remove(&request);
                    self.retry(sim, index, operation, true);
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

    fn draw_op(&mut self) -> KvOp {
        let key = format!("k{}", below(&mut self.rng, u64::from(self.config.keys))).into_bytes();
        self.value_counter += 1;
        let value = format!("v{}", self.value_counter).into_bytes();
        match below(&mut self.rng, 10) {
            0..=3 => KvOp::Get { key },
            4..=6 => KvOp::Put { key, value },
            7 => KvOp::Remove { key },
            _ => {
                // Compare against a recent value or absence, so that some swaps succeed.
                let expected = if below(&mut self.rng, 3) == 0 || self.value_counter < 2 {
                    None
                } else {
                    let back = 1 + below(&mut self.rng, self.value_counter.min(8) - 1);
                    Some(format!("v{}", self.value_counter - back).into_bytes())
                };
                let new = if below(&mut self.rng, 5) == 0 { None } else { Some(value) };
                KvOp::CompareAndSet { key, expected, new }
            }
        }
    }

    fn start(&mut self, sim: &mut Sim<Replica>, index: usize, op: KvOp) -> usize {
        self.issued += 1;
        let client = &mut self.clients[index];
        client.sequence += 1;
        self.history.push(Operation {
            client: client.id,
            sequence: client.sequence,
            op,
            invoked_at: sim.now(),
            completion: Completion::Unknown,
        });
        let operation = self.history.len() - 1;
        self.send(sim, index, operation);
        operation
    }

    fn send(&mut self, sim: &mut Sim<Replica>, index: usize, operation: usize) {
        let record = &self.history[operation];
        if sim.now() - record.invoked_at >= self.config.give_up_after {
            self.finish_unknown(sim, index);
            return;
        }
        let body = KvRequest::Command { client: record.client, sequence: record.sequence, op: record.op.clone() };
        let client = &mut self.clients[index];
        let request = sim.client_request(client.target, &body);
        self.waiting.insert(request, index);
        client.state = State::Waiting { operation, request, deadline: sim.now() + self.config.attempt_timeout };
    }

    fn retry(&mut self, sim: &mut Sim<Replica>, index: usize, operation: usize, elsewhere: bool) {
        if elsewhere {
            let nodes = u64::from(sim.nodes());
            self.clients[index].target = below(&mut self.rng, nodes) as u32;
        }
        let at = sim.now() + self.config.backoff;
        self.clients[index].state = State::BackingOff { operation, at };
    }

    /// The client gives up on its operation (whose outcome stays unknown) and moves on.
    fn finish_unknown(&mut self, sim: &Sim<Replica>, index: usize) {
        let delay = duration_between(&mut self.rng, Duration::ZERO, self.config.think_max);
        let client = &mut self.clients[index];
        client.state = if client.id >= 1_000 { State::Done } else { State::Thinking { at: sim.now() + delay } };
    }

    fn on_reply(&mut self, sim: &mut Sim<Replica>, index: usize, at: Instant, body: KvResponse) {
        let State::Waiting { operation, .. } = self.clients[index].state.clone() else { return };
        match body {
            KvResponse::Done { client, sequence, result } => {
                let record = &mut self.history[operation];
                assert_eq!((client, sequence), (record.client, record.sequence), "an answer for another command");
                record.completion = Completion::Done { at, result };
                let delay = duration_between(&mut self.rng, Duration::ZERO, self.config.think_max);
                let client = &mut self.clients[index];
                client.state = if client.id >= 1_000 { State::Done } else { State::Thinking { at: sim.now() + delay } };
            }
            KvResponse::NotLeader { leader } => match leader.and_then(|leader| sim.index_of(&leader)) {
                Some(leader) => {
                    self.clients[index].target = leader;
                    self.retry(sim, index, operation, false);
                }
                None => self.retry(sim, index, operation, true),
            },
            KvResponse::Unknown { .. }
            | KvResponse::Busy
            | KvResponse::Stale { .. }
            | KvResponse::ChangeRefused { .. }
            | KvResponse::Status(_) => self.retry(sim, index, operation, true),
        }
    }
}
