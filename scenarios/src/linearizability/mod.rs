//! `linearizability`: a checker for the client histories of a key/value store.
//!
//! A history is what clients saw: for every operation, who issued it, on which key, when it was
//! invoked, and how it ended — completed (at a time, with an outcome), unknown (the client timed out:
//! the operation may have taken effect at any point after its invocation, or never), or failed (it
//! definitely did not take effect). The history is linearizable if every completed operation, and
//! any subset of the unknown ones, can be put in one order that respects real time (an operation
//! that completed before another was invoked comes first) and in which every outcome is the one a
//! single register per key, starting absent, would give.
//!
//! Keys are independent registers, and linearizability is compositional, so the checker splits the
//! history by key and searches each key alone (Herlihy & Wing's locality). Each key gets a
//! Wing & Gong search: pick an operation that may go next (one invoked before the earliest completion
//! among the operations not yet placed), apply it to the register, go on, back up when stuck. A
//! *configuration* — the register's value and which operations are placed — is explored once (Lowe;
//! Horn & Kroening): the search remembers those it has seen.
//!
//! Unknown operations need care, as each one could double the configurations. The checker never
//! places an unknown operation where it would change nothing (a compare-and-set that would fail, a
//! write of the value already there: both are the same as leaving it out), nor where nothing right
//! after it needs it. It tells values apart only where some operation compares with them, so writes
//! of values nobody reads look alike, and leaves out unknown writes that nothing can need. Unknown
//! operations with the same action are interchangeable *twins*, placed in invocation order only; and
//! of two configurations that differ only in how many twins they placed, the one that placed no more
//! of each kind *dominates*: it can do all the other can, so the other is skipped. A timed-out read
//! constrains nothing and is ignored, as is every failed operation.
//!
//! The search runs depth first, with an explicit stack and a linked list of events that yields the
//! candidates quickly (Lowe's just-in-time linearization): that finds a linearization fast when there
//! is one. If it has not decided within a budget proportional to the history, a layered search takes
//! over: it expands the configurations by how many completed operations they placed, and within that
//! those with fewer unknown operations first, so a configuration is never met after one it dominates
//! and nothing is explored twice — the quickest way to prove that there is no linearization.
//!
//! The search is bounded: [`CheckConfig::states_max`] configurations per key. A key whose search
//! reaches the bound is reported [`Verdict::Unknown`], never guessed.
//!
//! When a key is not linearizable, the checker explains why with an [`Evidence`]: a small set of
//! completed operations that cannot be ordered, even if every other operation of the key that may
//! have taken effect (every one but the failed ones) is allowed to take effect at any time after its
//! invocation, or never; and the culprit, the operation whose completion made the key's history
//! non-linearizable — the shortest prefix of the history (cut at a completion, operations pending at
//! the cut counting as unknown) that is not linearizable ends with it. The checker gets the set by
//! weakening operations (forgetting their completion) in ever smaller chunks, keeping every weakening
//! after which the history is still not linearizable, so each step is checked and the set is a real
//! proof of the violation. When the budget runs out first, the evidence says so ([`Evidence::minimal`],
//! [`Evidence::earliest`]).
//!
//! Times are nanoseconds of virtual time. Two events at the same instant are taken as concurrent: an
//! operation invoked at the very instant another completed may be ordered before it. That errs
//! towards accepting a history, never towards a false violation.
//!
//! Everything is deterministic: ordered maps only, ties broken by position in the history.
//!
//! The files, in the order a check uses them: `history` (what clients saw: entries, operations,
//! outcomes, values), `partition` (the history split by key and numbered for the search),
//! `register` (an operation as the search sees it, and the register's sequential specification),
//! `prepare` (one key's operations simplified for the search), `search` (the effort bound and the
//! choice of engine), `events` (Lowe's event list), `depth_first` and `layered` (the two engines),
//! `memo` (configuration keys and dominance), `evidence` (explaining a violation with a minimal set
//! of operations), `display` (how all of it prints), and `tests`.

mod depth_first;
mod display;
mod events;
mod evidence;
mod history;
mod layered;
mod memo;
mod partition;
mod prepare;
mod register;
mod search;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use display::KeyName;
use evidence::explain;
use partition::partition;
use search::{Found, search};

pub use evidence::{CitedEntry, Evidence};
pub use history::{HistoryEntry, HistoryOp, OpCompletion, OpOutcome, Value};

/// The default for [`CheckConfig::states_max`]: a few seconds of search for one key at worst.
pub const STATES_MAX_DEFAULT: u64 = 1_000_000;

/// Settings of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckConfig {
    /// Most configurations (a set of placed operations together with the register's value) the
    /// search explores for one key before it gives up and reports the key unknown. Explaining a
    /// violation may explore up to twice as many again.
    pub states_max: u64,
}

impl Default for CheckConfig {
    fn default() -> CheckConfig {
        CheckConfig { states_max: STATES_MAX_DEFAULT }
    }
}

/// A history the checker cannot read: a bug in whoever recorded it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// An entry completed before it was invoked.
    #[error("history entry {index}: completed at {completed_at} ns, before its invocation at {invoked_at} ns")]
    CompletedBeforeInvoked {
        /// Position of the entry in the history.
        index: usize,
        /// Its invocation time.
        invoked_at: u64,
        /// Its completion time.
        completed_at: u64,
    },
    /// An entry's outcome is of the wrong kind for its operation (a put that read a value).
    #[error("history entry {index}: {op} cannot have the outcome {outcome}")]
    OutcomeMismatch {
        /// Position of the entry in the history.
        index: usize,
        /// The operation.
        op: HistoryOp,
        /// The outcome recorded for it.
        outcome: OpOutcome,
    },
    /// A compare-and-set says it succeeded but found another value than the expected one, or failed
    /// but found the expected one.
    #[error(
        "history entry {index}: a compare-and-set reports {} but also finding {} the expected value",
        if *succeeded { "success" } else { "failure" },
        if *succeeded { "other than" } else { "exactly" }
    )]
    InconsistentCompareAndSet {
        /// Position of the entry in the history.
        index: usize,
        /// Whether it reports success.
        succeeded: bool,
    },
    /// One key has more operations or distinct values than the checker can number (2^32).
    #[error("key {}: more than 2^32 operations or values", KeyName(key))]
    TooLarge {
        /// The key.
        key: Vec<u8>,
    },
}

/// The answer of [`check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every key's history is linearizable.
    Linearizable,
    /// A key's history is not linearizable.
    NotLinearizable {
        /// The first such key, in key order.
        key: Vec<u8>,
        /// Why that key's history is not linearizable.
        evidence: Box<Evidence>,
        /// The other keys found not linearizable, in key order (see [`check_by_key`] for their
        /// evidence).
        more_keys: Vec<Vec<u8>>,
    },
    /// No key is known to be not linearizable, but the search budget ran out on these keys (in key
    /// order), so the checker cannot tell.
    Unknown {
        /// The keys whose search reached [`CheckConfig::states_max`].
        keys: Vec<Vec<u8>>,
    },
}

impl Verdict {
    /// Whether the history is known to be linearizable.
    #[must_use]
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

/// The answer for one key, from [`check_by_key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyVerdict {
    /// The key's history is linearizable.
    Linearizable,
    /// The key's history is not linearizable, and why.
    NotLinearizable(Box<Evidence>),
    /// The search budget ran out.
    Unknown,
}

/// One key's result, from [`check_by_key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyReport {
    /// The verdict.
    pub verdict: KeyVerdict,
    /// How many entries of the history are on the key.
    pub entries: usize,
    /// How many configurations the search explored to decide (not counting the explanation).
    pub states: u64,
}

/// Checks a history: linearizable, not (with evidence for the first bad key), or unknown.
///
/// # Errors
///
/// A history the checker cannot read (see [`HistoryError`]).
///
/// # Examples
///
/// ```
/// use pangea_scenarios::linearizability::{check, CheckConfig, HistoryEntry, HistoryOp, OpOutcome, Verdict};
///
/// // A read that returns the old value after a newer write completed.
/// let history = vec![
///     HistoryEntry::completed(1, "k", HistoryOp::put("a"), 0, 10, OpOutcome::Ok),
///     HistoryEntry::completed(2, "k", HistoryOp::put("b"), 20, 30, OpOutcome::Ok),
///     HistoryEntry::completed(3, "k", HistoryOp::Get, 40, 50, OpOutcome::read(Some("a".into()))),
/// ];
/// let verdict = check(&history, &CheckConfig::default()).unwrap();
/// assert!(matches!(verdict, Verdict::NotLinearizable { .. }));
/// ```
pub fn check(history: &[HistoryEntry], config: &CheckConfig) -> Result<Verdict, HistoryError> {
    let keys = partition(history)?;
    let mut bad = Vec::new();
    let mut unknown = Vec::new();
    for (key, key_history) in &keys {
        let searched = search(&key_history.ops, config.states_max);
        match searched.found {
            Found::Linearizable => {}
            Found::NotLinearizable => bad.push((*key, searched.frontier)),
            Found::Exhausted => unknown.push(key.to_vec()),
        }
    }
    let Some((&(first, frontier), rest)) = bad.split_first() else {
        return Ok(if unknown.is_empty() { Verdict::Linearizable } else { Verdict::Unknown { keys: unknown } });
    };
    let evidence = explain(history, &keys[first], frontier, config.states_max);
    Ok(Verdict::NotLinearizable {
        key: first.to_vec(),
        evidence: Box::new(evidence),
        more_keys: rest.iter().map(|(key, _)| key.to_vec()).collect(),
    })
}

/// Checks a history key by key, with evidence for every key that is not linearizable.
///
/// # Errors
///
/// A history the checker cannot read (see [`HistoryError`]).
pub fn check_by_key(
    history: &[HistoryEntry],
    config: &CheckConfig,
) -> Result<BTreeMap<Vec<u8>, KeyReport>, HistoryError> {
    let keys = partition(history)?;
    let mut reports = BTreeMap::new();
    for (key, key_history) in &keys {
        let searched = search(&key_history.ops, config.states_max);
        let verdict = match searched.found {
            Found::Linearizable => KeyVerdict::Linearizable,
            Found::NotLinearizable => KeyVerdict::NotLinearizable(Box::new(explain(
                history,
                key_history,
                searched.frontier,
                config.states_max,
            ))),
            Found::Exhausted => KeyVerdict::Unknown,
        };
        let entries = key_history.entries.len();
        reports.insert(key.to_vec(), KeyReport { verdict, entries, states: searched.explored });
    }
    Ok(reports)
}
