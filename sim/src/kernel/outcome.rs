//! What a run reports besides its trace: counters, clients' replies, what the kernel saw nodes do
//! wrong, and why a run stopped early.

use pangea_core::{Instant, RequestId};
use thiserror::Error;

/// Something a node did that no fault excuses, seen by the kernel itself: a message over its byte
/// budget or the frame limit, or an invariant the node reported broken. Scenarios turn these into
/// correctness failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimViolation {
    /// When.
    pub at: Instant,
    /// Which node.
    pub node: u32,
    /// What.
    pub kind: SimViolationKind,
}

/// What a [`SimViolation`] saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimViolationKind {
    /// A message larger than [`SimConfig::message_bytes_max`](super::SimConfig::message_bytes_max).
    MessageOverBudget {
        /// The message's family.
        family: u8,
        /// Its size, frame included.
        bytes: usize,
        /// The budget.
        limit: usize,
    },
    /// A message or reply the codec refused to encode (over the frame limit).
    Unencodable {
        /// The codec's error.
        error: String,
    },
    /// The node reported a broken invariant (see `pangea_core::node::invariant`).
    Invariant {
        /// What it said.
        detail: String,
    },
}

impl std::fmt::Display for SimViolationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimViolationKind::MessageOverBudget { family, bytes, limit } => {
                let name = pangea_core::family::name_of(*family).unwrap_or("message");
                write!(f, "sent a {name} (family {family}) of {bytes} bytes, over its budget of {limit}")
            }
            SimViolationKind::Unencodable { error } => write!(f, "could not encode what it sent: {error}"),
            SimViolationKind::Invariant { detail } => write!(f, "broke an invariant: {detail}"),
        }
    }
}

/// Most kernel-seen violations a run keeps (the first ones are what matter).
pub const VIOLATIONS_MAX: usize = 20;

/// Why a run stopped early.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SimError {
    /// The run processed more events than its budget allows: a livelock or a message storm.
    #[error("event budget of {events_max} exhausted at {at}")]
    EventBudgetExhausted {
        /// The budget.
        events_max: u64,
        /// Virtual time when it ran out.
        at: Instant,
    },
}

/// What happened in a run, in numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Events processed.
    pub events: u64,
    /// Messages sent by nodes.
    pub sent: u64,
    /// Messages delivered to nodes.
    pub delivered: u64,
    /// Messages lost to partitions.
    pub dropped_partition: u64,
    /// Messages lost at random.
    pub dropped_loss: u64,
    /// Messages and client requests that reached a crashed node.
    pub dropped_node_down: u64,
    /// Messages the codec refused (corruption caught).
    pub rejected: u64,
    /// Messages delivered twice.
    pub duplicated: u64,
    /// Messages held back to be overtaken.
    pub reordered: u64,
    /// Messages with a flipped bit.
    pub corrupted: u64,
    /// Timers fired.
    pub timers: u64,
    /// Client requests delivered.
    pub client_requests: u64,
    /// Replies sent.
    pub replies: u64,
    /// Crashes.
    pub crashes: u64,
    /// Starts, first boots included.
    pub starts: u64,
    /// Pauses.
    pub pauses: u64,
}

/// A node's answer to a client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply<R> {
    /// When it was sent.
    pub at: Instant,
    /// Which node answered.
    pub node: u32,
    /// The request it answers.
    pub request: RequestId,
    /// The answer, after a trip through the codec.
    pub body: R,
}
