//! Clients of a system that a [`SequentialModel`] describes: each draws operations, sends them to
//! a node of its choice, waits for the answer up to a timeout, and records every attempt in a
//! history that [`crate::check_model`] can check.
//!
//! A [`ClientSpec`] says how: what operation to draw next, how an operation becomes the node's
//! request, and what an answer means. An attempt is never resent: one that times out ends
//! [`Ended::Unknown`] (it may have taken effect), one the node refuses ends [`Ended::Failed`] (it
//! did not), and the client moves on to a new operation.

use crate::model::{Ended, ModelOp, SequentialModel};
use pangea_core::random::{below, duration_between, present};
use pangea_core::{Duration, Instant, Node, RequestId, Rng};
use pangea_sim::{SeedStreams, Sim, SimRng};

use std::collections::BTreeMap;

/// What a node's answer means to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer<Output> {
    /// The operation took effect with this output.
    Done(Output),
    /// The node refused it without effect (not its role, overloaded): the attempt failed.
    Refused,
}

/// The most clients a [`ClientSpec`]'s workload runs.
pub const CLIENTS_MAX: u32 = 1024;
/// The most operations a [`ClientSpec`]'s workload issues in one run.
pub const OPERATIONS_MAX: u64 = 1_000_000;

/// How clients use a system described by the model `M`, running on nodes `N`: a plain value, so
/// that it can be a `static` beside its scenario.
pub struct ClientSpec<N: Node, M: SequentialModel> {
    /// The model the history is checked against.
    pub model: M,
    /// Concurrent clients, unless `--clients` says otherwise.
    pub clients: u32,
    /// Operations issued in all, unless `--operations` says otherwise.
    pub operations: u64,
    /// How long a client waits for an answer before the attempt ends unknown.
    pub attempt_timeout: Duration,
    /// A client pauses up to this long between two operations.
    pub think_max: Duration,
    /// The next operation of `client` (drawn from `rng`, the run's client stream).
    pub generate: fn(rng: &mut dyn Rng, client: u32) -> M::Op,
    /// The request that asks for `op`.
    pub request: fn(op: &M::Op) -> N::Request,
    /// What `response` to `op` means.
    pub answer: fn(op: &M::Op, response: &N::Response) -> Answer<M::Output>,
    /// Operations issued once the clients settle (e.g. a read of every key), each retried until it
    /// completes: what they return shows lost writes. None if empty.
    pub final_ops: fn() -> Vec<M::Op>,
}

/// What a client is doing.
#[derive(Clone, Copy, Debug)]
enum Doing {
    /// Will issue its next operation at `at`.
    Thinking { at: Instant },
    /// Waits for operation `index`'s answer until `deadline`.
    Waiting { index: usize, deadline: Instant },
}

/// The clients of one run and the history they made.
pub struct ModelClients<N: Node + 'static, M: SequentialModel + 'static> {
    spec: &'static ClientSpec<N, M>,
    streams: SeedStreams,
    /// Each client's own stream (`"kit.clients/N"`), so that dropping a client keeps the others'
    /// choices.
    rngs: Vec<SimRng>,
    /// The stream of operations drawn for no client (`"kit.clients/extra"`).
    extra_rng: SimRng,
    nodes: u32,
    /// Only these clients issue operations, if set (the others stay idle).
    only: Option<Vec<u32>>,
    operations_max: u64,
    stop_issuing_at: Instant,
    issued: u64,
    doing: Vec<Doing>,
    /// Which client waits for which request.
    waiting: BTreeMap<RequestId, usize>,
    /// Every attempt, in invocation order.
    pub history: Vec<ModelOp<M::Op, M::Output>>,
    /// The operations that must complete (the probe after the heal, the final operations): for
    /// each, the client that carries it, the operation, and the index of its completed attempt.
    owed: Vec<(usize, M::Op, Option<usize>)>,
}

impl<N: Node + 'static, M: SequentialModel + 'static> ModelClients<N, M> {
    /// `clients` clients of `nodes` nodes, each drawing from its own `"kit.clients/N"` stream of
    /// `streams`, issuing at most `operations_max` operations and none from `stop_issuing_at` on
    /// (the heal). With `only`, only those clients issue operations.
    #[must_use]
    pub fn new(
        spec: &'static ClientSpec<N, M>,
        streams: &SeedStreams,
        nodes: u32,
        (clients, operations_max, only): (u32, u64, Option<Vec<u32>>),
        stop_issuing_at: Instant,
    ) -> Self {
        ModelClients {
            spec,
            streams: streams.clone(),
            rngs: (0..clients).map(|client| client_stream(streams, client as usize)).collect(),
            extra_rng: streams.stream("kit.clients/extra"),
            nodes,
            only,
            operations_max,
            stop_issuing_at,
            issued: 0,
            doing: vec![Doing::Thinking { at: Instant::ZERO }; clients as usize],
            waiting: BTreeMap::new(),
            history: Vec::new(),
            owed: Vec::new(),
        }
    }

    /// The spec the clients follow.
    #[must_use]
    pub fn spec(&self) -> &'static ClientSpec<N, M> {
        self.spec
    }

    /// A stream for operations drawn for no client (the probe after the heal).
    pub fn rng(&mut self) -> &mut dyn Rng {
        &mut self.extra_rng
    }

    /// Reads the answers that arrived, ends the attempts that timed out, and issues new operations.
    pub fn act(&mut self, sim: &mut Sim<N>) {
        for reply in sim.take_replies() {
            let Some(client) = self.waiting.remove(&reply.request) else { continue };
            let Doing::Waiting { index, .. } = self.doing[client] else { continue };
            let ended = match (self.spec.answer)(&self.history[index].op, &reply.body) {
                Answer::Done(output) => Ended::Completed { at: reply.at.as_nanos(), output },
                Answer::Refused => Ended::Failed,
            };
            self.end(client, index, ended, sim.now());
        }
        for client in 0..self.doing.len() {
            match self.doing[client] {
                Doing::Waiting { index, deadline } if sim.now() >= deadline => {
                    self.waiting.retain(|_, waiter| *waiter != client);
                    self.end(client, index, Ended::Unknown, sim.now());
                }
                Doing::Thinking { at } if sim.now() >= at => {
                    if let Some(op) = self.next_op(client, sim.now()) {
                        self.send(sim, client, op);
                    }
                }
                Doing::Waiting { .. } | Doing::Thinking { .. } => {}
            }
        }
    }

    /// Owes `op` to the history: a new client carries it, and resends it until it completes.
    /// Returns its place among the owed operations.
    pub fn owe(&mut self, sim: &mut Sim<N>, op: M::Op) -> usize {
        let client = self.doing.len();
        self.doing.push(Doing::Thinking { at: sim.now() });
        self.rngs.push(client_stream(&self.streams, client));
        self.owed.push((client, op.clone(), None));
        self.send(sim, client, op);
        self.owed.len() - 1
    }

    /// The completed attempt of owed operation `owed`, if it has completed.
    #[must_use]
    pub fn owed_done(&self, owed: usize) -> Option<&ModelOp<M::Op, M::Output>> {
        self.owed.get(owed).and_then(|(_, _, done)| done.map(|index| &self.history[index]))
    }

    /// Owed operations not completed yet.
    pub fn owed_pending(&self) -> impl Iterator<Item = &M::Op> {
        self.owed.iter().filter(|(_, _, done)| done.is_none()).map(|(_, op, _)| op)
    }

    /// Clients waiting for an answer.
    #[must_use]
    pub fn outstanding(&self) -> usize {
        self.waiting.len()
    }

    /// The next operation `client` issues, if any: its owed operation again until it completes,
    /// else a new one while the workload may issue.
    fn next_op(&mut self, client: usize, now: Instant) -> Option<M::Op> {
        if let Some((_, op, done)) = self.owed.iter().find(|(carrier, _, _)| *carrier == client) {
            return done.is_none().then(|| op.clone());
        }
        let idle = self.only.as_ref().is_some_and(|only| !only.contains(&(client as u32)));
        if idle || now >= self.stop_issuing_at || self.issued >= self.operations_max {
            return None;
        }
        if !begin_operation(&mut self.rngs[client], now) {
            self.doing[client] = Doing::Thinking { at: now + left_out_pause(self.spec.think_max) };
            return None;
        }
        self.issued += 1;
        Some((self.spec.generate)(&mut self.rngs[client], client as u32))
    }

    fn send(&mut self, sim: &mut Sim<N>, client: usize, op: M::Op) {
        let node = below(&mut self.rngs[client], u64::from(self.nodes)) as u32;
        let request = sim.client_request(node, &(self.spec.request)(&op));
        let index = self.history.len();
        self.history.push(ModelOp {
            client: client as u64,
            invoked_at: sim.now().as_nanos(),
            op,
            ended: Ended::Unknown,
        });
        self.waiting.insert(request, client);
        self.doing[client] = Doing::Waiting { index, deadline: sim.now() + self.spec.attempt_timeout };
    }

    fn end(&mut self, client: usize, index: usize, ended: Ended<M::Output>, now: Instant) {
        let completed = matches!(ended, Ended::Completed { .. });
        self.history[index].ended = ended;
        if completed && let Some(owed) = self.owed.iter_mut().find(|(carrier, _, _)| *carrier == client) {
            owed.2 = Some(index);
        }
        let think = duration_between(&mut self.rngs[client], Duration::ZERO, self.spec.think_max);
        self.doing[client] = Doing::Thinking { at: now + think };
    }
}

/// Marks the start of a client's next operation on its stream `rng` (a span labelled with `now`,
/// which runs to the pause after the operation) and draws whether it is issued: false only when
/// the shrinker cut the span to one zero draw, leaving the operation out (see
/// `crate::shrink::operations`).
pub(crate) fn begin_operation(rng: &mut SimRng, now: Instant) -> bool {
    rng.begin_span(now.as_nanos());
    present(rng)
}

/// How long a client pauses in place of an operation the shrinker left out: as long as its
/// longest pause after one (`think_max`), and never zero, so that a client whose operations are
/// all left out still lets time pass.
pub(crate) fn left_out_pause(think_max: Duration) -> Duration {
    think_max.max(Duration::from_millis(1))
}

/// Client `client`'s own stream.
fn client_stream(streams: &SeedStreams, client: usize) -> SimRng {
    streams.stream(&format!("kit.clients/{client}"))
}
