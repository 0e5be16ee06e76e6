//! A replicated register: Attiya, Bar-Noy and Dolev's majority-quorum algorithm (ABD), with many
//! writers. Every node keeps one tagged value on disk; any node coordinates a client's request.
//!
//! - **write v**: ask every node for its tag (a query), wait for a majority, then store v under a
//!   tag above the highest seen at a majority; answer once a majority stored it.
//! - **read**: query a majority for its highest tagged value, store it back at a majority (so no
//!   later read can return something older), then answer it.
//!
//! A node stores only a tag higher than its own, syncs it to disk before it acknowledges, and after
//! a restart reads it back before it answers anyone. Messages can be lost, so the coordinator sends
//! its round again to the nodes that have not answered, every [`RESEND_EVERY`], and gives up on a
//! request after [`REQUEST_TIMEOUT`] (refused, if it had no effect yet; else unanswered).

use pangea_core::storage::WriteBatch;
use pangea_core::{Context, Duration, Instant, Node, NodeId, RequestId, TraceEvent};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The largest value a client may write.
pub const VALUE_BYTES_MAX: usize = 16 * 1024;
/// Requests a node coordinates at once; more are refused as busy.
pub const REQUESTS_MAX: usize = 256;
/// A coordinator sends its round again to the nodes that have not answered this often.
pub const RESEND_EVERY: Duration = Duration::from_millis(100);
/// A coordinator gives up on a request after this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);
/// The storage table and key of the stored value.
const TABLE: &str = "register";
const KEY: &[u8] = b"stored";

/// Orders writes: a counter, then the write's name, so that no two writes pick the same tag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Tag {
    /// Higher is newer.
    pub counter: u64,
    /// The node that coordinated the write, and its round: two writes with one counter are told
    /// apart even when one node coordinates both (the register's first sweep found two concurrent
    /// writes through one node that picked the same tag, and reads that flipped between them).
    pub writer: Option<(NodeId, u64)>,
}

/// A value with its tag, as a node stores it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tagged {
    /// The value's tag.
    pub tag: Tag,
    /// The value (none before the first write).
    #[serde(with = "serde_bytes")]
    pub value: Option<Vec<u8>>,
}

/// What nodes say to each other. `round` names the coordinator's round, so late answers to an
/// earlier round are told apart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegisterMessage {
    /// What do you hold?
    Query {
        /// The round asking.
        round: u64,
    },
    /// What I hold.
    Holding {
        /// The round answered.
        round: u64,
        /// What the sender holds.
        stored: Tagged,
    },
    /// Store this (if newer than what you hold).
    Store {
        /// The round asking.
        round: u64,
        /// What to store.
        stored: Tagged,
    },
    /// Stored (or I hold something newer).
    Stored {
        /// The round answered.
        round: u64,
    },
}
pangea_core::serde_codec!(RegisterMessage, family = pangea_core::family::USER_FIRST, version = 1);

/// What clients ask.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegisterRequest {
    /// The current value.
    Read,
    /// Replace the value.
    Write(#[serde(with = "serde_bytes")] Vec<u8>),
}
pangea_core::serde_codec!(RegisterRequest, family = pangea_core::family::USER_FIRST + 1, version = 1);

/// What a node answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegisterResponse {
    /// The value read.
    Value(#[serde(with = "serde_bytes")] Option<Vec<u8>>),
    /// The write took effect.
    Written,
    /// Refused without effect: too many requests, a value over [`VALUE_BYTES_MAX`], or the node
    /// has not read its disk back yet.
    Refused,
}
pangea_core::serde_codec!(RegisterResponse, family = pangea_core::family::USER_FIRST + 2, version = 1);

/// The node's one timer.
#[derive(Clone, Copy, Debug)]
pub struct Tick;

/// Bugs that can be planted (see [`RegisterNode::plant`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterBug {
    /// A write is answered once the coordinator stored it, without waiting for a majority.
    WriteOneCopy,
    /// Rounds are resent in a `HashMap`'s order, which differs from run to run: a determinism leak.
    ResendInHashOrder,
}

/// The planted bugs by their command-line names.
pub const BUGS: [(RegisterBug, &str); 2] =
    [(RegisterBug::WriteOneCopy, "write-one-copy"), (RegisterBug::ResendInHashOrder, "resend-in-hash-order")];

/// A round the node coordinates for a client.
#[derive(Clone, Debug, Hash)]
struct Round {
    request: RequestId,
    /// A write (else a read).
    writing: bool,
    /// The value to write, until the query picked its tag.
    value: Option<Vec<u8>>,
    /// False while querying, true while storing.
    storing: bool,
    /// The newest value the query saw, then the value being stored.
    best: Tagged,
    /// Who answered this phase (the coordinator counts itself at once).
    answered: BTreeSet<NodeId>,
    started: Instant,
}

/// One replica of the register.
#[derive(Clone, Debug, Hash)]
pub struct RegisterNode {
    members: Vec<NodeId>,
    planted: Option<RegisterBug>,
    /// What this node holds; `None` until it has read its disk back.
    stored: Option<Tagged>,
    rounds: BTreeMap<u64, Round>,
    /// The last round's name.
    next_round: u64,
}

impl RegisterNode {
    /// A replica of the register held by `members`.
    #[must_use]
    pub fn new(members: Vec<NodeId>) -> RegisterNode {
        RegisterNode { members, planted: None, stored: None, rounds: BTreeMap::new(), next_round: 0 }
    }

    /// The same replica with `bug` planted.
    #[must_use]
    pub fn plant(self, bug: Option<RegisterBug>) -> RegisterNode {
        RegisterNode { planted: bug, ..self }
    }

    /// What the node holds (none before it read its disk back).
    #[must_use]
    pub fn stored(&self) -> Option<&Tagged> {
        self.stored.as_ref()
    }

    fn majority(&self) -> usize {
        self.members.len() / 2 + 1
    }

    /// Reads the stored value back from disk; on failure the node stays silent and tries again.
    fn recover(&mut self, cx: &mut dyn Context<Self>) {
        let stored = match cx.storage().get(TABLE, KEY) {
            Ok(None) => Some(Tagged::default()),
            Ok(Some(bytes)) => pangea_core::codec::decode_serde(&bytes).ok(),
            Err(_) => None,
        };
        if stored.is_none() {
            cx.trace(TraceEvent::new("recovery_failed", "the stored value cannot be read; retrying"));
        }
        self.stored = stored;
    }

    /// Stores `offered` if it is newer than what the node holds, durably. False if the disk failed
    /// (the node then holds what it held and must not acknowledge).
    fn store(&mut self, cx: &mut dyn Context<Self>, offered: &Tagged) -> bool {
        let Some(stored) = &self.stored else { return false };
        if offered.tag <= stored.tag {
            return true;
        }
        let mut bytes = Vec::new();
        if pangea_core::codec::encode_serde(offered, &mut bytes).is_err() {
            return false;
        }
        let mut batch = WriteBatch::new();
        batch.put(TABLE, KEY.to_vec(), bytes);
        let written = cx.storage().write(batch).and_then(|()| cx.storage().sync());
        if written.is_ok() {
            self.stored = Some(offered.clone());
        }
        written.is_ok()
    }

    fn send_round(&mut self, cx: &mut dyn Context<Self>, id: u64) {
        let Some(round) = self.rounds.get(&id) else { return };
        let message = if round.storing {
            RegisterMessage::Store { round: id, stored: round.best.clone() }
        } else {
            RegisterMessage::Query { round: id }
        };
        let missing: Vec<NodeId> =
            self.members.iter().copied().filter(|member| !round.answered.contains(member)).collect();
        if self.planted == Some(RegisterBug::ResendInHashOrder) {
            #[allow(clippy::disallowed_types)] // The planted leak itself.
            let shuffled: std::collections::HashSet<NodeId> = missing.into_iter().collect();
            for member in shuffled {
                cx.send(member, message.clone());
            }
            return;
        }
        for member in missing {
            cx.send(member, message.clone());
        }
    }

    /// Moves round `id` on after an answer from `from`: to the store phase once a majority
    /// answered the query, to the client once a majority stored.
    fn answered(&mut self, cx: &mut dyn Context<Self>, id: u64, from: NodeId) {
        let majority = self.majority();
        let Some(round) = self.rounds.get_mut(&id) else { return };
        round.answered.insert(from);
        let enough = if round.storing && round.writing && self.planted == Some(RegisterBug::WriteOneCopy) {
            1
        } else {
            majority
        };
        if round.answered.len() < enough {
            return;
        }
        if round.storing {
            let Some(round) = self.rounds.remove(&id) else { return };
            let response =
                if round.writing { RegisterResponse::Written } else { RegisterResponse::Value(round.best.value) };
            cx.reply(round.request, response);
            return;
        }
        round.storing = true;
        round.answered.clear();
        if let Some(value) = round.value.take() {
            let tag = Tag { counter: round.best.tag.counter + 1, writer: Some((cx.id(), id)) };
            round.best = Tagged { tag, value: Some(value) };
        }
        let offered = round.best.clone();
        if self.store(cx, &offered) {
            let me = cx.id();
            self.answered(cx, id, me);
        }
        self.send_round(cx, id);
    }
}

impl Node for RegisterNode {
    type Message = RegisterMessage;
    type Timer = Tick;
    type Request = RegisterRequest;
    type Response = RegisterResponse;

    fn on_start(&mut self, cx: &mut dyn Context<Self>) {
        self.rounds.clear();
        // Rounds of an earlier life must not be mistaken for new ones: answers to them may still
        // arrive. A random start makes a clash as unlikely as guessing 63 bits.
        self.next_round = cx.rng().next_u64() >> 1;
        self.recover(cx);
        cx.set_timer(RESEND_EVERY, Tick);
    }

    fn on_message(&mut self, cx: &mut dyn Context<Self>, from: NodeId, message: RegisterMessage) {
        if self.stored.is_none() || !self.members.contains(&from) {
            return;
        }
        match message {
            RegisterMessage::Query { round } => {
                let stored = self.stored.clone().unwrap_or_default();
                cx.send(from, RegisterMessage::Holding { round, stored });
            }
            RegisterMessage::Store { round, stored } => {
                if self.store(cx, &stored) {
                    cx.send(from, RegisterMessage::Stored { round });
                }
            }
            RegisterMessage::Holding { round, stored } => {
                if let Some(pending) = self.rounds.get_mut(&round).filter(|pending| !pending.storing) {
                    if stored.tag > pending.best.tag {
                        pending.best = stored;
                    }
                    self.answered(cx, round, from);
                }
            }
            RegisterMessage::Stored { round } => {
                if self.rounds.get(&round).is_some_and(|pending| pending.storing) {
                    self.answered(cx, round, from);
                }
            }
        }
    }

    fn on_timer(&mut self, cx: &mut dyn Context<Self>, _timer: Tick) {
        cx.set_timer(RESEND_EVERY, Tick);
        // A failed disk refuses every write until reopened (the register's first sweep found nodes
        // that never stored again after one failed sync); then what it holds is read back.
        if cx.storage().failure().is_some() {
            if cx.storage().reopen().is_err() {
                return;
            }
            self.stored = None;
        }
        if self.stored.is_none() {
            self.recover(cx);
            return;
        }
        // A round given up before it stored anything, or a read's (whose store changes nothing a
        // client can see), had no effect: the client hears so. A write given up while storing may
        // have taken effect, and the client is told nothing.
        let now = cx.now();
        let expired: Vec<u64> = self
            .rounds
            .iter()
            .filter(|(_, round)| now.saturating_duration_since(round.started) >= REQUEST_TIMEOUT)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(round) = self.rounds.remove(&id)
                && !(round.writing && round.storing)
            {
                cx.reply(round.request, RegisterResponse::Refused);
            }
        }
        let ids: Vec<u64> = self.rounds.keys().copied().collect();
        for id in ids {
            self.send_round(cx, id);
        }
    }

    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, body: RegisterRequest) {
        let Some(stored) = self.stored.clone() else {
            cx.reply(request, RegisterResponse::Refused);
            return;
        };
        let value = match body {
            RegisterRequest::Write(value) if value.len() > VALUE_BYTES_MAX => {
                cx.reply(request, RegisterResponse::Refused);
                return;
            }
            RegisterRequest::Write(value) => Some(value),
            RegisterRequest::Read => None,
        };
        if self.rounds.len() >= REQUESTS_MAX {
            cx.reply(request, RegisterResponse::Refused);
            return;
        }
        self.next_round += 1;
        let id = self.next_round;
        let me = cx.id();
        let writing = value.is_some();
        let started = cx.now();
        let round = Round { request, writing, value, storing: false, best: stored, answered: BTreeSet::new(), started };
        self.rounds.insert(id, round);
        self.answered(cx, id, me);
        self.send_round(cx, id);
    }
}
