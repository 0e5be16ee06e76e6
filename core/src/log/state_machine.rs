//! What the log replicates: any deterministic state machine behind a small trait.
//!
//! The log orders commands and applies each chosen one exactly once per client request (its client
//! sessions see to that); what a command means is the state machine's business. Pangea's node
//! replicates its metadata (records, and later object manifests, graph and job state) as one
//! composite state machine; a user's system can replicate its own.

use crate::codec::CodecError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::hash::Hash;
use thiserror::Error;

/// Bounds every type the log carries for a state machine: cloned, compared, hashed into the node's
/// state digest, and encoded with the codec.
pub trait Data: Clone + Debug + PartialEq + Eq + Hash + Serialize + DeserializeOwned {}
impl<T: Clone + Debug + PartialEq + Eq + Hash + Serialize + DeserializeOwned> Data for T {}

/// A deterministic state machine the log replicates.
///
/// Replicas that apply the same commands in the same order from the same state must reach the same
/// state and give the same outputs: no clock, no randomness, no iteration over randomly hashed
/// collections.
pub trait StateMachine: Clone + Debug + Hash {
    /// What clients ask it to do, through the log.
    type Command: Data;
    /// What applying a command answers.
    type Output: Data;
    /// A local read a replica answers from the state it has applied (possibly stale).
    type Query: Data;
    /// The answer to a [`StateMachine::Query`].
    type Answer: Data;

    /// Checks a client's command before it is proposed; a refused command never reaches the log.
    fn validate(&self, command: &Self::Command) -> Result<(), InvalidCommand>;

    /// True when `command` changes nothing (a read). A retried read is executed again instead of
    /// answered from the client's session — linearizable either way — so sessions never hold the
    /// results of reads.
    fn is_read_only(command: &Self::Command) -> bool;

    /// Applies a chosen command and returns its output.
    fn apply(&mut self, command: &Self::Command) -> Self::Output;

    /// Answers a local query.
    fn query(&self, query: &Self::Query) -> Self::Answer;

    /// The whole state, as bytes a [`StateMachine::restore`] of another replica reads back.
    fn snapshot(&self) -> Vec<u8>;

    /// Replaces the state by the one in `bytes` (from [`StateMachine::snapshot`]).
    ///
    /// # Errors
    /// Bytes that are not a snapshot of this state machine; the state is then unchanged.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), CodecError>;
}

/// What part of a command was too large.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Part {
    /// A record's key.
    Key,
    /// A record's value.
    Value,
    /// The command as a whole (as the log encodes it).
    Command,
    /// A name (a graph's collection, label or property name; an event's node or signal).
    Name,
    /// Properties, as encoded (a graph entity's or edge's).
    Properties,
}

impl Part {
    /// A lower-case word: `key`, `value`, `command`, `name`, `properties`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Part::Key => "key",
            Part::Value => "value",
            Part::Command => "command",
            Part::Name => "name",
            Part::Properties => "properties",
        }
    }
}

/// Why a client's command was refused before it reached the log; nothing was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Error)]
pub enum InvalidCommand {
    /// Part of the command is over its documented limit.
    #[error("{} too large: {bytes} bytes, limit {limit}", part.name())]
    TooLarge {
        /// Which part.
        part: Part,
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// A count the command asks for is over its documented limit.
    #[error("{} too large: {value}, limit {limit}", bound.name())]
    OverLimit {
        /// Which count.
        bound: Bound,
        /// The count asked.
        value: u64,
        /// The limit.
        limit: u64,
    },
}

/// A count a command may ask for, bounded by a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Bound {
    /// A traversal's depth.
    Depth,
    /// The results a read returns.
    Results,
    /// The labels a traversal follows.
    Labels,
    /// Evaporation steps.
    Steps,
}

impl Bound {
    /// A few lower-case words: `depth`, `results`, `labels`, `steps`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Bound::Depth => "depth",
            Bound::Results => "results",
            Bound::Labels => "labels",
            Bound::Steps => "steps",
        }
    }
}
