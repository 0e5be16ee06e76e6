//! How one run is set up: seed, node count, fault plan, and the run's limits.

use crate::plan::{FaultPlan, Latency};

/// Most events one run may process before it is stopped as runaway.
pub const EVENTS_MAX_DEFAULT: u64 = 50_000_000;

/// How one run is set up.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed every random choice derives from.
    pub seed: u64,
    /// How many nodes.
    pub nodes: u32,
    /// What the simulator does to the run.
    pub plan: FaultPlan,
    /// Keep trace records in memory (the hash is always computed).
    pub keep_trace: bool,
    /// Stop with [`SimError::EventBudgetExhausted`](super::SimError::EventBudgetExhausted) after
    /// this many events.
    pub events_max: u64,
    /// Put clients on the simulated network: each request and each reply crosses a link with this
    /// latency and is lost at the network's current loss rate (so a client may time out on a
    /// command that took effect). `None`: requests arrive at once and replies are never lost.
    pub client_link: Option<Latency>,
    /// The byte budget of a peer message: a node that sends a larger one has broken its own limits,
    /// and the run records a [`SimViolation`](super::SimViolation) (the message is dropped, as the
    /// real runtime would drop it). `None`: only the codec's frame limit.
    pub message_bytes_max: Option<usize>,
    /// The tables bit rot may reach (the plan's `read_corrupt_ppm`); `None`: every table. For a
    /// system with state that exists in one copy only and is not meant to survive rot (a log's
    /// promises) beside state that is (an object store's shards).
    pub rot_tables: Option<&'static [&'static str]>,
}

impl SimConfig {
    /// `nodes` nodes under `plan`, trace records not kept, the default event budget.
    #[must_use]
    pub fn new(seed: u64, nodes: u32, plan: FaultPlan) -> SimConfig {
        SimConfig {
            seed,
            nodes,
            plan,
            keep_trace: false,
            events_max: EVENTS_MAX_DEFAULT,
            client_link: None,
            message_bytes_max: None,
            rot_tables: None,
        }
    }
}
