//! The log's client sessions: what makes a command that its client retries apply exactly once.
//!
//! A client opens a session through the log ([`super::Command::OpenSession`]); the session's id is
//! the slot that opened it, so every replica allocates the same ids. Each command carries the
//! session id and the client's sequence number, and a retry keeps the number: the session remembers
//! the last number applied and that command's outcome, and answers a retry from it instead of
//! applying it again.
//!
//! Sessions expire deterministically, by log position: one idle for `session_idle_slots_max` slots
//! is dropped, and when more than `sessions_max` are open the least recently used goes. Expiry is
//! safe because ids are never reused: a command of an expired session is refused as
//! [`Verdict::Expired`] (its outcome unknown to its client), never applied twice.

use crate::log::members::Members;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a command did, as a session remembers it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome<O> {
    /// The state machine's output.
    Output(O),
    /// A membership change's result: whether it took effect, and the configuration after it.
    Members {
        /// False when another change got in first.
        changed: bool,
        /// The configuration after it.
        members: Members,
    },
}

/// One client's session.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Session<O> {
    /// The last sequence number applied.
    pub sequence: u64,
    /// Its outcome; `None` for a read, which a retry executes again.
    pub outcome: Option<Outcome<O>>,
    /// The slot that last used the session.
    pub last_slot: u64,
}

/// How a session judges a command of its client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict<O> {
    /// A new command: apply it.
    Fresh,
    /// The last command again: answer with this outcome (`None`: a read, execute it again).
    Duplicate(Option<Outcome<O>>),
    /// Older than the last command: the client has moved on; nothing is applied.
    Stale,
    /// No such session (never opened, or expired): nothing is applied.
    Expired,
}

/// Every open session, by client id, with a least-recently-used index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sessions<O> {
    by_client: BTreeMap<u64, Session<O>>,
    /// Client by the slot that last used it: each slot touches at most one session.
    by_last_slot: BTreeMap<u64, u64>,
}

impl<O> Default for Sessions<O> {
    fn default() -> Self {
        Sessions { by_client: BTreeMap::new(), by_last_slot: BTreeMap::new() }
    }
}

impl<O: Clone> Sessions<O> {
    /// Open sessions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    /// True when none is open.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    /// The session of `client`.
    #[must_use]
    pub fn get(&self, client: u64) -> Option<&Session<O>> {
        self.by_client.get(&client)
    }

    /// Opens the session `slot` (its id), making room under `sessions_max` by dropping the least
    /// recently used ones. Returns the id and how many sessions were dropped.
    pub fn open(&mut self, slot: u64, sessions_max: usize) -> (u64, usize) {
        let mut dropped = 0;
        while self.by_client.len() >= sessions_max.max(1) {
            let Some((_, client)) = self.by_last_slot.pop_first() else { break };
            self.by_client.remove(&client);
            dropped += 1;
        }
        self.by_client.insert(slot, Session { sequence: 0, outcome: None, last_slot: slot });
        self.by_last_slot.insert(slot, slot);
        (slot, dropped)
    }

    /// The verdict on `client`'s command number `sequence`.
    #[must_use]
    pub fn verdict(&self, client: u64, sequence: u64) -> Verdict<O> {
        match self.by_client.get(&client) {
            None => Verdict::Expired,
            Some(session) if sequence == session.sequence && sequence > 0 => {
                Verdict::Duplicate(session.outcome.clone())
            }
            Some(session) if sequence <= session.sequence => Verdict::Stale,
            Some(_) => Verdict::Fresh,
        }
    }

    /// Records that `slot` applied `client`'s command `sequence` with `outcome` (`None` for a read).
    /// A session that does not exist is left alone.
    pub fn record(&mut self, client: u64, sequence: u64, outcome: Option<Outcome<O>>, slot: u64) {
        let Some(session) = self.by_client.get_mut(&client) else { return };
        self.by_last_slot.remove(&session.last_slot);
        session.sequence = sequence;
        session.outcome = outcome;
        session.last_slot = slot;
        self.by_last_slot.insert(slot, client);
    }

    /// Marks the session of `client` used by `slot` without changing what it remembers.
    pub fn touch(&mut self, client: u64, slot: u64) {
        let Some(session) = self.by_client.get_mut(&client) else { return };
        self.by_last_slot.remove(&session.last_slot);
        session.last_slot = slot;
        self.by_last_slot.insert(slot, client);
    }

    /// Drops the sessions idle for more than `idle_slots_max` slots before `slot`. Returns how many.
    pub fn expire_idle(&mut self, slot: u64, idle_slots_max: u64) -> usize {
        let mut dropped = 0;
        while let Some(entry) = self.by_last_slot.first_entry() {
            if entry.key().saturating_add(idle_slots_max) >= slot {
                break;
            }
            let client = entry.remove();
            self.by_client.remove(&client);
            dropped += 1;
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_dedupes_retries_and_expires_by_position() {
        let mut sessions: Sessions<u32> = Sessions::default();
        let (client, dropped) = sessions.open(5, 10);
        assert_eq!((client, dropped), (5, 0));
        assert_eq!(sessions.verdict(client, 1), Verdict::Fresh);
        sessions.record(client, 1, Some(Outcome::Output(7)), 6);
        assert_eq!(sessions.verdict(client, 1), Verdict::Duplicate(Some(Outcome::Output(7))));
        assert_eq!(sessions.verdict(client, 0), Verdict::Stale);
        assert_eq!(sessions.verdict(client, 2), Verdict::Fresh);
        assert_eq!(sessions.verdict(99, 1), Verdict::Expired);
        assert_eq!(sessions.expire_idle(16, 10), 0);
        assert_eq!(sessions.expire_idle(17, 10), 1);
        assert_eq!(sessions.verdict(client, 2), Verdict::Expired, "an expired session refuses, never re-applies");
    }

    #[test]
    fn the_least_recently_used_session_makes_room() {
        let mut sessions: Sessions<u32> = Sessions::default();
        sessions.open(1, 2);
        sessions.open(2, 2);
        sessions.touch(1, 3);
        let (_, dropped) = sessions.open(4, 2);
        assert_eq!(dropped, 1);
        assert!(sessions.get(2).is_none() && sessions.get(1).is_some() && sessions.get(4).is_some());
    }
}
