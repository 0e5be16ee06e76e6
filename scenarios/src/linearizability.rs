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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The default for [`CheckConfig::states_max`]: a few seconds of search for one key at worst.
pub const STATES_MAX_DEFAULT: u64 = 1_000_000;

/// A value stored under a key.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Value(pub Vec<u8>);

impl From<Vec<u8>> for Value {
    fn from(bytes: Vec<u8>) -> Value {
        Value(bytes)
    }
}

impl From<&[u8]> for Value {
    fn from(bytes: &[u8]) -> Value {
        Value(bytes.to_vec())
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value(text.as_bytes().to_vec())
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bytes(&self.0, f)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bytes(&self.0, f)
    }
}

/// An operation on one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Store `value` under the key.
    Put {
        /// The value to store.
        value: Value,
    },
    /// Read the key.
    Get,
    /// Delete the key (it becomes absent).
    Remove,
    /// Atomically: if the key holds `expected`, make it hold `new`; otherwise change nothing.
    CompareAndSet {
        /// The value the key must hold for the swap to happen; `None`: the key must be absent.
        expected: Option<Value>,
        /// The value to store; `None`: delete the key.
        new: Option<Value>,
    },
}

impl Op {
    /// A put of `value`.
    #[must_use]
    pub fn put(value: impl Into<Value>) -> Op {
        Op::Put { value: value.into() }
    }

    /// A compare-and-set from `expected` to `new` (`None`: absent).
    #[must_use]
    pub fn compare_and_set(expected: Option<Value>, new: Option<Value>) -> Op {
        Op::CompareAndSet { expected, new }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put { value } => write!(f, "put {value}"),
            Op::Get => f.write_str("get"),
            Op::Remove => f.write_str("remove"),
            Op::CompareAndSet { expected, new } => {
                write!(f, "compare-and-set {} to {}", shown(expected.as_ref()), shown(new.as_ref()))
            }
        }
    }
}

/// What a completed operation returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A [`Op::Get`] read this value; `None`: the key was absent.
    Read(Option<Value>),
    /// A [`Op::Put`] or [`Op::Remove`] was acknowledged.
    Ok,
    /// What a [`Op::CompareAndSet`] did.
    CompareAndSet {
        /// Whether the key held the expected value, so the new one was stored.
        succeeded: bool,
        /// What the store says the key held when the operation took effect, if it says:
        /// `None` when it does not report it, `Some(None)` when the key was absent.
        found: Option<Option<Value>>,
    },
}

impl Outcome {
    /// A read of `value` (`None`: absent).
    #[must_use]
    pub fn read(value: Option<Value>) -> Outcome {
        Outcome::Read(value)
    }

    /// A compare-and-set that succeeded or not, not saying what it found.
    #[must_use]
    pub fn compare_and_set(succeeded: bool) -> Outcome {
        Outcome::CompareAndSet { succeeded, found: None }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Read(value) => write!(f, "{}", shown(value.as_ref())),
            Outcome::Ok => f.write_str("ok"),
            Outcome::CompareAndSet { succeeded, found } => {
                f.write_str(if *succeeded { "swapped" } else { "not swapped" })?;
                match found {
                    Some(found) => write!(f, " (found {})", shown(found.as_ref())),
                    None => Ok(()),
                }
            }
        }
    }
}

/// How an operation ended, as far as its client knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// The client got an answer.
    Completed {
        /// When the answer arrived, in nanoseconds; not before the invocation.
        at: u64,
        /// The answer.
        outcome: Outcome,
    },
    /// No answer (a timeout, a lost connection): the operation may have taken effect at any point
    /// after its invocation, or never.
    Unknown,
    /// The operation definitely did not take effect (it was rejected before anything was done).
    Failed,
}

/// One operation of a client history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The client that issued it.
    pub client: u64,
    /// The key it is on.
    pub key: Vec<u8>,
    /// What it asked for.
    pub op: Op,
    /// When it was invoked, in nanoseconds.
    pub invoked_at: u64,
    /// How it ended.
    pub completion: Completion,
}

impl Entry {
    /// An operation that completed at `at` with `outcome`.
    #[must_use]
    pub fn completed(
        client: u64,
        key: impl Into<Vec<u8>>,
        op: Op,
        invoked_at: u64,
        at: u64,
        outcome: Outcome,
    ) -> Entry {
        Entry { client, key: key.into(), op, invoked_at, completion: Completion::Completed { at, outcome } }
    }

    /// An operation whose client never learnt how it ended.
    #[must_use]
    pub fn unknown(client: u64, key: impl Into<Vec<u8>>, op: Op, invoked_at: u64) -> Entry {
        Entry { client, key: key.into(), op, invoked_at, completion: Completion::Unknown }
    }

    /// An operation that definitely did not take effect.
    #[must_use]
    pub fn failed(client: u64, key: impl Into<Vec<u8>>, op: Op, invoked_at: u64) -> Entry {
        Entry { client, key: key.into(), op, invoked_at, completion: Completion::Failed }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {}: {}", self.client, self.op)?;
        match &self.completion {
            Completion::Completed { at, outcome } => {
                write!(f, " -> {outcome}  [invoked {} ns, completed {at} ns]", self.invoked_at)
            }
            Completion::Unknown => write!(f, " -> unknown (no answer)  [invoked {} ns]", self.invoked_at),
            Completion::Failed => write!(f, " -> failed  [invoked {} ns]", self.invoked_at),
        }
    }
}

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
        op: Op,
        /// The outcome recorded for it.
        outcome: Outcome,
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

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable => f.write_str("linearizable"),
            Verdict::NotLinearizable { key, evidence, more_keys } => {
                write!(f, "key {} is not linearizable: {evidence}", KeyName(key))?;
                if !more_keys.is_empty() {
                    f.write_str("\nother keys not linearizable:")?;
                    for key in more_keys {
                        write!(f, " {}", KeyName(key))?;
                    }
                }
                Ok(())
            }
            Verdict::Unknown { keys } => {
                f.write_str("unknown: the search budget ran out on key")?;
                if keys.len() > 1 {
                    f.write_str("s")?;
                }
                for key in keys {
                    write!(f, " {}", KeyName(key))?;
                }
                Ok(())
            }
        }
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

/// An entry of the history, with its position there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceOp {
    /// Position of the entry in the history given to the checker.
    pub index: usize,
    /// The entry.
    pub entry: Entry,
}

impl fmt::Display for EvidenceOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}", self.index, self.entry)
    }
}

/// Why a key's history is not linearizable.
///
/// `ops` cannot be put in any order consistent with their outcomes and with real time, even if every
/// other operation of the key that may have taken effect (that is, every one but the failed ones)
/// took effect at any time after its invocation, or never.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The operations that cannot be ordered, by invocation time; all completed.
    pub ops: Vec<EvidenceOp>,
    /// Position in the history of the culprit, the one of `ops` that completed last: the history of
    /// the key up to the culprit's completion is not linearizable.
    pub culprit: usize,
    /// Whether no operation of `ops` can be spared. False if the search budget ran out first: the
    /// evidence still holds, it may just not be the smallest.
    pub minimal: bool,
    /// Whether the key's history was linearizable up to just before the culprit's completion, so the
    /// culprit is where it first went wrong. False if the search budget ran out before that was
    /// known.
    pub earliest: bool,
    /// Failed operations on the key that wrote a value some operation of `ops` saw or expected: the
    /// value cannot have come from them.
    pub failed: Vec<EvidenceOp>,
    /// How many entries of the history are on the key.
    pub key_entries: usize,
    /// How many of them were invoked by the culprit's completion.
    pub prefix_entries: usize,
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.ops.len();
        let (subject, outcomes) = if count == 1 {
            ("this operation".to_string(), "its outcome")
        } else {
            (format!("these {count} operations"), "their outcomes")
        };
        write!(
            f,
            "{subject} cannot be ordered consistently with {outcomes} and real time, even if every other \
             operation on the key that may have taken effect did so at any time after its invocation, or never:"
        )?;
        for op in &self.ops {
            write!(f, "\n  {op}")?;
            if op.index == self.culprit {
                f.write_str("  <- culprit")?;
            }
        }
        if !self.failed.is_empty() {
            f.write_str("\nthese operations failed, so none of the values above came from them:")?;
            for op in &self.failed {
                write!(f, "\n  {op}")?;
            }
        }
        write!(
            f,
            "\nthe key's history ({} entries) {} #{} completes ({} entries invoked by then)",
            self.key_entries,
            if self.earliest { "stops being linearizable when" } else { "is not linearizable by the time" },
            self.culprit,
            self.prefix_entries,
        )?;
        if !self.earliest {
            f.write_str("; the search budget ran out before it was known whether it went wrong earlier")?;
        }
        if !self.minimal {
            f.write_str("; the search budget ran out while shrinking, so some of these operations may not be needed")?;
        }
        Ok(())
    }
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
/// use pangea_scenarios::linearizability::{check, CheckConfig, Entry, Op, Outcome, Verdict};
///
/// // A read that returns the old value after a newer write completed.
/// let history = vec![
///     Entry::completed(1, "k", Op::put("a"), 0, 10, Outcome::Ok),
///     Entry::completed(2, "k", Op::put("b"), 20, 30, Outcome::Ok),
///     Entry::completed(3, "k", Op::Get, 40, 50, Outcome::read(Some("a".into()))),
/// ];
/// let verdict = check(&history, &CheckConfig::default()).unwrap();
/// assert!(matches!(verdict, Verdict::NotLinearizable { .. }));
/// ```
pub fn check(history: &[Entry], config: &CheckConfig) -> Result<Verdict, HistoryError> {
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
pub fn check_by_key(history: &[Entry], config: &CheckConfig) -> Result<BTreeMap<Vec<u8>, KeyReport>, HistoryError> {
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

// ---------------------------------------------------------------------------------------------
// One key's history, ready for the search.

/// The register's value in the search: `ABSENT`, or a value numbered from 1 per key.
type ValueId = u32;

/// The register's value when the key is absent.
const ABSENT: ValueId = 0;

/// The register's value in a search that does not tell apart the values no operation compares
/// with (see [`Prepared`]); never the number of a real value.
const OTHER: ValueId = ValueId::MAX;

/// What an operation does in the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    /// A put (of the value) or a remove (`ABSENT`): sets the register.
    Write(ValueId),
    /// A completed get that read the value.
    Read(ValueId),
    /// A compare-and-set; `result` is `None` when unknown.
    CompareAndSet { expected: ValueId, new: ValueId, result: Option<CasResult> },
}

/// What a completed compare-and-set returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct CasResult {
    succeeded: bool,
    found: Option<ValueId>,
}

/// An operation of one key, as the search sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SearchOp {
    invoked_at: u64,
    /// `None`: unknown — may take effect at any time after the invocation, or never.
    completed_at: Option<u64>,
    action: Action,
}

impl SearchOp {
    fn is_completed(&self) -> bool {
        self.completed_at.is_some()
    }

    /// The same operation with its completion forgotten, or `None` for a read (an unknown read
    /// constrains nothing).
    fn weakened(&self) -> Option<SearchOp> {
        let action = match self.action {
            Action::Read(_) => return None,
            Action::Write(value) => Action::Write(value),
            Action::CompareAndSet { expected, new, .. } => Action::CompareAndSet { expected, new, result: None },
        };
        Some(SearchOp { invoked_at: self.invoked_at, completed_at: None, action })
    }
}

/// The part of a history on one key.
struct KeyHistory {
    /// The operations that can matter (no failed ones, no unknown reads), by invocation time, then
    /// position in the history.
    ops: Vec<SearchOp>,
    /// For each of `ops`, its position in the history.
    indices: Vec<usize>,
    /// Positions in the history of all the key's entries, in history order.
    entries: Vec<usize>,
}

/// Numbers the values of one key.
#[derive(Default)]
struct Interner<'a> {
    ids: BTreeMap<&'a Value, ValueId>,
}

impl<'a> Interner<'a> {
    fn id(&mut self, value: Option<&'a Value>) -> Option<ValueId> {
        let Some(value) = value else { return Some(ABSENT) };
        if let Some(&id) = self.ids.get(value) {
            return Some(id);
        }
        let id = ValueId::try_from(self.ids.len() + 1).ok().filter(|&id| id != OTHER)?;
        self.ids.insert(value, id);
        Some(id)
    }
}

/// Splits the history by key, validating each entry.
fn partition(history: &[Entry]) -> Result<BTreeMap<&[u8], KeyHistory>, HistoryError> {
    let mut keys: BTreeMap<&[u8], (KeyHistory, Interner<'_>)> = BTreeMap::new();
    for (index, entry) in history.iter().enumerate() {
        let (key_history, interner) = keys.entry(entry.key.as_slice()).or_insert_with(|| {
            (KeyHistory { ops: Vec::new(), indices: Vec::new(), entries: Vec::new() }, Interner::default())
        });
        key_history.entries.push(index);
        let too_large = || HistoryError::TooLarge { key: entry.key.clone() };
        let (completed_at, outcome) = match &entry.completion {
            Completion::Failed => continue,
            Completion::Unknown => (None, None),
            Completion::Completed { at, outcome } => {
                if *at < entry.invoked_at {
                    return Err(HistoryError::CompletedBeforeInvoked {
                        index,
                        invoked_at: entry.invoked_at,
                        completed_at: *at,
                    });
                }
                (Some(*at), Some(outcome))
            }
        };
        let action = match (&entry.op, outcome) {
            (Op::Get, None) => continue,
            (Op::Get, Some(Outcome::Read(value))) => Action::Read(interner.id(value.as_ref()).ok_or_else(too_large)?),
            (Op::Put { value }, None | Some(Outcome::Ok)) => {
                Action::Write(interner.id(Some(value)).ok_or_else(too_large)?)
            }
            (Op::Remove, None | Some(Outcome::Ok)) => Action::Write(ABSENT),
            (Op::CompareAndSet { expected, new }, None | Some(Outcome::CompareAndSet { .. })) => {
                let result = match outcome {
                    Some(Outcome::CompareAndSet { succeeded, found }) => {
                        let found = match found {
                            Some(found) => {
                                if (found == expected) != *succeeded {
                                    return Err(HistoryError::InconsistentCompareAndSet {
                                        index,
                                        succeeded: *succeeded,
                                    });
                                }
                                Some(interner.id(found.as_ref()).ok_or_else(too_large)?)
                            }
                            None => None,
                        };
                        Some(CasResult { succeeded: *succeeded, found })
                    }
                    _ => None,
                };
                Action::CompareAndSet {
                    expected: interner.id(expected.as_ref()).ok_or_else(too_large)?,
                    new: interner.id(new.as_ref()).ok_or_else(too_large)?,
                    result,
                }
            }
            (op, Some(outcome)) => {
                return Err(HistoryError::OutcomeMismatch { index, op: op.clone(), outcome: outcome.clone() });
            }
        };
        key_history.ops.push(SearchOp { invoked_at: entry.invoked_at, completed_at, action });
        key_history.indices.push(index);
    }
    let mut partitioned = BTreeMap::new();
    for (key, (mut key_history, _)) in keys {
        if u32::try_from(key_history.ops.len()).is_err() {
            return Err(HistoryError::TooLarge { key: key.to_vec() });
        }
        let mut order: Vec<usize> = (0..key_history.ops.len()).collect();
        order.sort_by_key(|&position| (key_history.ops[position].invoked_at, key_history.indices[position]));
        key_history.ops = order.iter().map(|&position| key_history.ops[position]).collect();
        key_history.indices = order.iter().map(|&position| key_history.indices[position]).collect();
        partitioned.insert(key, key_history);
    }
    Ok(partitioned)
}

// ---------------------------------------------------------------------------------------------
// The search.

/// What a search found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    Linearizable,
    NotLinearizable,
    /// The budget ran out first.
    Exhausted,
}

/// The register's sequential specification: the value after `op` runs on `state`, or `None` if `op`
/// cannot run there with its recorded outcome — or, for an unknown operation, if running it would
/// change nothing (the same as leaving it out, which is always allowed).
fn step(state: ValueId, op: &SearchOp) -> Option<ValueId> {
    match op.action {
        Action::Write(value) => (op.is_completed() || value != state).then_some(value),
        Action::Read(value) => (value == state).then_some(state),
        Action::CompareAndSet { expected, new, result: None } => (state == expected && new != state).then_some(new),
        Action::CompareAndSet { expected, new, result: Some(CasResult { succeeded, found }) } => {
            if found.is_some_and(|found| found != state) {
                None
            } else if succeeded {
                (state == expected).then_some(new)
            } else {
                (state != expected).then_some(state)
            }
        }
    }
}

/// The operations a search places, simplified without changing the answer.
///
/// 1. Values are told apart only where some operation compares with them: a value is *needed* if a
///    completed read returned it, a compare-and-set expects it, or a compare-and-set reports finding
///    it. Every other value (absent too, if nothing needs it) becomes [`OTHER`]: the register's
///    specification only ever compares the register with needed values, so a search over the
///    collapsed values reaches the same answer, and leaves out more no-op writes.
/// 2. Unknown reads constrain nothing and are dropped.
/// 3. An unknown write of [`OTHER`] is dropped unless some completed compare-and-set that failed
///    without saying what it found completes at or after the write's invocation. In any order that
///    places the write, the operations right after it see [`OTHER`], so they are no read and no
///    compare-and-set that needs a value — only such blind failures (which accept any value but
///    their expected one, itself needed) and then a write, which overwrites [`OTHER`] whatever was
///    there before. Without a blind failure that can come after the write, dropping it changes no
///    outcome.
/// 4. An unknown compare-and-set expecting a value nothing writes (and that is not the initial
///    absence) can never swap, so it is dropped: failing, it would change nothing. A completed read
///    of such a value, a swap from it, or a report of finding it can never be placed: the search
///    stops at once (`impossible`).
/// 5. Unknown operations with the same action are *twins*, placed only in invocation order: if an
///    order places a later twin and not an earlier one, the earlier one can take its place (it may
///    take effect at any time after an invocation no later than the other's). So the search never
///    tries the 2^k subsets of k interchangeable timed-out writes.
///
/// And the search places unknown operations only where something needs them. Right after an unknown
/// operation `u` (which took the register from `s0` to `s1`) it places only an operation `x` that
/// could not have gone at `s0`. If `x` could, then either `x` is a put or a remove, which makes `u`
/// pointless (the same order without `u` works, and keeps `u` for later); or `x` is a failed
/// compare-and-set, which leaves the register alone, so `u` can go right after `x` instead; or `x`
/// is a read, a compare-and-set that swaps, or an unknown one, none of which can go at both `s0` and
/// `s1`. Likewise, the completed operation that ends a run of unknown ones must not be one that could
/// have gone at the value before the run: the run would be pointless (a write follows), a loop back
/// to that value, or movable past the operation (a failed compare-and-set).
struct Prepared {
    ops: Vec<SearchOp>,
    /// For each of `ops` that is unknown, its class of twins (numbered from 0).
    class: Vec<Option<usize>>,
    /// How many classes of twins there are.
    classes: usize,
    /// The register's value at the start.
    initial: ValueId,
    /// Whether a completed operation needs a value nothing writes, so no order can work.
    impossible: bool,
}

impl Prepared {
    fn new(ops: &[SearchOp]) -> Prepared {
        let mut needed: BTreeSet<ValueId> = BTreeSet::new();
        // The latest completion of a compare-and-set that failed without saying what it found.
        let mut blind_failure_at: Option<u64> = None;
        for op in ops {
            match op.action {
                Action::Read(value) if op.is_completed() => {
                    needed.insert(value);
                }
                Action::Read(_) | Action::Write(_) => {}
                Action::CompareAndSet { expected, result, .. } => {
                    needed.insert(expected);
                    match result {
                        Some(CasResult { found: Some(found), .. }) => {
                            needed.insert(found);
                        }
                        Some(CasResult { succeeded: false, found: None }) => {
                            blind_failure_at = blind_failure_at.max(op.completed_at);
                        }
                        Some(CasResult { succeeded: true, found: None }) | None => {}
                    }
                }
            }
        }
        let writable = writable(ops);
        let collapse = |value: ValueId| if needed.contains(&value) { value } else { OTHER };
        let mut prepared = Prepared {
            ops: Vec::with_capacity(ops.len()),
            class: Vec::new(),
            classes: 0,
            initial: collapse(ABSENT),
            impossible: false,
        };
        // The class of each action of unknown operations.
        let mut classes: BTreeMap<Action, usize> = BTreeMap::new();
        for op in ops {
            prepared.impossible |= needs_unwritable(op, &writable);
            let action = match op.action {
                Action::Read(_) if !op.is_completed() => continue,
                Action::CompareAndSet { expected, result: None, .. } if !writable.contains(&expected) => continue,
                Action::Read(value) => Action::Read(value),
                Action::Write(value) => Action::Write(collapse(value)),
                Action::CompareAndSet { expected, new, result } => {
                    Action::CompareAndSet { expected, new: collapse(new), result }
                }
            };
            if !op.is_completed() {
                let (Action::Write(written) | Action::CompareAndSet { new: written, .. } | Action::Read(written)) =
                    action;
                if written == OTHER && blind_failure_at.is_none_or(|at| at < op.invoked_at) {
                    continue;
                }
                let next_class = classes.len();
                prepared.class.push(Some(*classes.entry(action).or_insert(next_class)));
            } else {
                prepared.class.push(None);
            }
            prepared.ops.push(SearchOp { action, ..*op });
        }
        prepared.classes = classes.len();
        prepared
    }
}

/// The values some operation of `ops` may write, and the initial absence.
fn writable(ops: &[SearchOp]) -> BTreeSet<ValueId> {
    let mut writable = BTreeSet::from([ABSENT]);
    for op in ops {
        if let Action::Write(value) | Action::CompareAndSet { new: value, .. } = op.action {
            writable.insert(value);
        }
    }
    writable
}

/// Whether a completed operation needs the register to hold a value nothing writes, so it can never
/// be placed.
fn needs_unwritable(op: &SearchOp, writable: &BTreeSet<ValueId>) -> bool {
    match op.action {
        Action::Read(value) => op.is_completed() && !writable.contains(&value),
        Action::CompareAndSet { expected, result: Some(CasResult { succeeded, found }), .. } => {
            (succeeded && !writable.contains(&expected)) || found.is_some_and(|found| !writable.contains(&found))
        }
        Action::Write(_) | Action::CompareAndSet { result: None, .. } => false,
    }
}

/// Node of the event list before the first event.
const HEAD: usize = 0;

/// The doubly linked list of invocation and completion events the search walks, in time order.
struct Events {
    next: Vec<usize>,
    previous: Vec<usize>,
    /// For each node, the operation whose event it is.
    op: Vec<usize>,
    /// For each node, whether it is a completion (else an invocation).
    is_completion: Vec<bool>,
    /// For each completion node, how many completions come before it.
    completion_rank: Vec<usize>,
    /// For each operation, its invocation's node.
    invocation: Vec<usize>,
    /// For each operation, its completion's node, if it completed.
    completion: Vec<Option<usize>>,
    /// The node after the last event.
    tail: usize,
}

impl Events {
    fn new(ops: &[SearchOp]) -> Events {
        let mut events = Vec::with_capacity(2 * ops.len());
        for (index, op) in ops.iter().enumerate() {
            // At the same instant, invocations come first: events at one instant are concurrent.
            events.push((op.invoked_at, false, index));
            if let Some(at) = op.completed_at {
                events.push((at, true, index));
            }
        }
        events.sort_unstable();
        let tail = events.len() + 1;
        let mut list = Events {
            next: (1..=tail + 1).collect(),
            previous: (0..=tail).map(|node| node.saturating_sub(1)).collect(),
            op: vec![usize::MAX; tail + 1],
            is_completion: vec![false; tail + 1],
            completion_rank: vec![usize::MAX; tail + 1],
            invocation: vec![usize::MAX; ops.len()],
            completion: vec![None; ops.len()],
            tail,
        };
        let mut completions = 0;
        for (position, &(_, is_completion, op)) in events.iter().enumerate() {
            let node = position + 1;
            list.op[node] = op;
            list.is_completion[node] = is_completion;
            if is_completion {
                list.completion_rank[node] = completions;
                completions += 1;
                list.completion[op] = Some(node);
            } else {
                list.invocation[op] = node;
            }
        }
        list
    }

    fn unlink(&mut self, node: usize) {
        let (previous, next) = (self.previous[node], self.next[node]);
        self.next[previous] = next;
        self.previous[next] = previous;
    }

    fn relink(&mut self, node: usize) {
        let (previous, next) = (self.previous[node], self.next[node]);
        self.next[previous] = node;
        self.previous[next] = node;
    }

    /// Takes an operation's events out of the list (it has been placed).
    fn lift(&mut self, op: usize) {
        self.unlink(self.invocation[op]);
        if let Some(node) = self.completion[op] {
            self.unlink(node);
        }
    }

    /// Undoes the latest [`Events::lift`]; lifts must be undone last first.
    fn unlift(&mut self, op: usize) {
        if let Some(node) = self.completion[op] {
            self.relink(node);
        }
        self.relink(self.invocation[op]);
    }
}

/// Writes the memo key of a configuration into `key`: the register's value; if the latest placement
/// is of an unknown operation, the values before it and before the run of unknown operations it ends
/// (which restrict what may follow); one past the highest placed completed operation; then the
/// completed operations below it not placed. Operations are in invocation order, so the placed ones
/// are mostly a prefix and the key stays short. (Which unknown operations are placed is compared
/// apart, by dominance.)
fn memo_key(
    placed: &[u64],
    completed: &[u64],
    state: ValueId,
    unknown_run: Option<(ValueId, ValueId)>,
    key: &mut Vec<u32>,
) {
    key.clear();
    key.push(state);
    key.extend_from_slice(&match unknown_run {
        Some((before, run)) => [1, before, run],
        None => [0, 0, 0],
    });
    let Some(top) = placed.iter().rposition(|&word| word != 0) else {
        key.push(0);
        return;
    };
    let top_bits = 64 - placed[top].leading_zeros() as usize;
    let upper = top * 64 + top_bits;
    // `partition` checked that operation numbers fit in a u32.
    key.push(upper as u32);
    for (word_index, (&word, &completed)) in placed[..=top].iter().zip(completed).enumerate() {
        let mut holes = !word & completed;
        if word_index == top && top_bits < 64 {
            holes &= (1u64 << top_bits) - 1;
        }
        while holes != 0 {
            key.push((word_index * 64 + holes.trailing_zeros() as usize) as u32);
            holes &= holes - 1;
        }
    }
}

/// Whether counts `a` are at most counts `b` in every class; both are sorted (class, count) pairs,
/// classes not listed counting zero.
fn at_most(a: &[u32], b: &[u32]) -> bool {
    let mut b = b.chunks_exact(2);
    a.chunks_exact(2).all(|pair| {
        b.by_ref().find(|other| other[0] >= pair[0]).is_some_and(|other| other[0] == pair[0] && pair[1] <= other[1])
    })
}

/// What a search found, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Searched {
    found: Found,
    /// Configurations explored.
    explored: u64,
    /// The most completions, in completion order, that some configuration placed all of: the
    /// history cut at the last of them is linearizable (the operations placed up to it are a
    /// linearization of that prefix, operations pending there counting as unknown).
    frontier: usize,
}

/// Where a configuration's key keeps what.
const KEY_STATE: usize = 0;
/// 1 if the latest placement is of an unknown operation, else 0.
const KEY_IN_RUN: usize = 1;
/// The register's value before the latest placement, if it is of an unknown operation.
const KEY_BEFORE: usize = 2;
/// The register's value before the run of unknown operations the latest placement ends, if any.
const KEY_RUN: usize = 3;
/// One past the highest placed completed operation.
const KEY_UPPER: usize = 4;
/// From here: the completed operations below the upper one not placed, in order.
const KEY_HOLES: usize = 5;

/// A configuration: its key, and how many unknown operations of each class of twins it placed (see
/// [`Layer`]).
type Configuration = (Box<[u32]>, Box<[u32]>);

/// The configurations of one layer: those that placed the same number of completed operations.
///
/// A configuration is a key — the register's value, what the latest placements restrict, and which
/// completed operations are placed — and the counts of unknown operations placed per class of twins
/// (always the earliest of each class), as sorted (class, count) pairs. A configuration *dominates*
/// another with the same key if it placed no more of each class: it can do everything the other can
/// (using earlier twins instead of later ones), as fast. A layer keeps, per key, the counts of the
/// configurations met that no other dominates, and expands them in order of how many unknown
/// operations they placed, so that a configuration is always met before any it dominates: nothing is
/// explored twice.
#[derive(Default)]
struct Layer {
    fronts: BTreeMap<Box<[u32]>, Vec<Box<[u32]>>>,
    /// Configurations to expand, by how many unknown operations they placed.
    queue: BTreeMap<u32, Vec<Configuration>>,
}

impl Layer {
    fn offer(&mut self, key: &[u32], counts: &[u32]) {
        match self.fronts.get_mut(key) {
            Some(front) => {
                if front.iter().any(|seen| at_most(seen, counts)) {
                    return;
                }
                front.retain(|seen| !at_most(counts, seen));
                front.push(counts.into());
            }
            None => {
                self.fronts.insert(key.into(), vec![counts.into()]);
            }
        }
        let unknown: u32 = counts.chunks_exact(2).map(|pair| pair[1]).sum();
        self.queue.entry(unknown).or_default().push((key.into(), counts.into()));
    }

    /// The next configuration to expand, skipping those dominated since they were offered.
    fn next(&mut self) -> Option<Configuration> {
        loop {
            let mut entry = self.queue.first_entry()?;
            let configuration = entry.get_mut().pop();
            if entry.get().is_empty() {
                entry.remove();
            }
            let Some((key, counts)) = configuration else { continue };
            if self.fronts.get(&key).is_some_and(|front| front.contains(&counts)) {
                return Some((key, counts));
            }
        }
    }
}

/// Searches for a linearization of `ops` (in invocation order), exploring at most `states_max`
/// configurations: depth first for a while (see [`search_depth_first`]), which finds a linearization
/// quickly when there is one, then layer by layer (see [`search_layered`]), which explores no
/// configuration twice, so proves quickest that there is none.
///
/// In both, an operation may go next if it is invoked before the completion of the
/// earliest-completing operation not yet placed (at the same instant, the invocation counts as
/// before): then every operation that completed before its invocation is placed.
fn search(ops: &[SearchOp], states_max: u64) -> Searched {
    let prepared = Prepared::new(ops);
    let total = prepared.ops.iter().filter(|op| op.is_completed()).count();
    if total == 0 {
        return Searched { found: Found::Linearizable, explored: 0, frontier: 0 };
    }
    if prepared.impossible {
        return Searched { found: Found::NotLinearizable, explored: 0, frontier: 0 };
    }
    let depth_first_max =
        states_max.min(DEPTH_FIRST_STATES_PER_OP * prepared.ops.len() as u64 + DEPTH_FIRST_STATES_MIN);
    let depth_first = search_depth_first(&prepared, depth_first_max);
    if depth_first.found != Found::Exhausted {
        return depth_first;
    }
    let layered = search_layered(&prepared, states_max - depth_first.explored);
    Searched {
        found: layered.found,
        explored: depth_first.explored + layered.explored,
        frontier: depth_first.frontier.max(layered.frontier),
    }
}

/// How many configurations per operation the depth-first search may explore before the layered one
/// takes over: a linearizable history needs a few.
const DEPTH_FIRST_STATES_PER_OP: u64 = 16;
/// And how many more.
const DEPTH_FIRST_STATES_MIN: u64 = 1_000;

/// Searches depth first, exploring at most `states_max` configurations: quick to find a linearization
/// when there is one, but it may meet a configuration before one that dominates it, and then explore
/// again what follows.
fn search_depth_first(prepared: &Prepared, states_max: u64) -> Searched {
    let Prepared { ops: live, class, classes, initial, .. } = prepared;
    let (live, classes, initial) = (live.as_slice(), *classes, *initial);
    let mut remaining = live.iter().filter(|op| op.is_completed()).count();
    let completed = remaining;
    // For each unknown operation, the twin before it, which must be placed first.
    let mut twin = vec![None; live.len()];
    let mut latest: BTreeMap<usize, usize> = BTreeMap::new();
    for (position, class) in class.iter().enumerate() {
        if let Some(class) = class {
            twin[position] = latest.insert(*class, position);
        }
    }
    let mut events = Events::new(live);
    let mut frontier = 0;
    let words = live.len().div_ceil(64);
    let mut placed = vec![0u64; words];
    // The completed operations placed, and all the completed operations.
    let mut placed_completed = vec![0u64; words];
    let mut completed_ops = vec![0u64; words];
    for (op, _) in live.iter().enumerate().filter(|(_, op)| op.is_completed()) {
        completed_ops[op / 64] |= 1u64 << (op % 64);
    }
    // How many unknown operations of each class of twins are placed (always the earliest ones).
    let mut placed_in_class = vec![0u32; classes];
    // The configurations explored. The key says everything but which unknown operations are placed;
    // for those, the value holds the counts per class (as sorted class, count pairs) of the
    // configurations explored with that key, none of which dominates another. A configuration
    // dominates another if it has the same key and placed no more of each class: it can do all the
    // other can (using earlier twins instead of later ones), so if the other could lead to a
    // linearization, so could it, as fast. The search skips dominated configurations.
    let mut memo: BTreeMap<Box<[u32]>, Vec<Box<[u32]>>> = BTreeMap::new();
    let mut key = Vec::new();
    let mut counts = Vec::new();
    // The placed operations, latest last, each with the register's value before it and, if it ends a
    // run of unknown operations, the value before the run.
    let mut stack: Vec<(usize, ValueId, Option<ValueId>)> = Vec::new();
    let mut state = initial;
    let mut explored = 0u64;
    let mut node = events.next[HEAD];
    // Each configuration tries the completed operations that may go next first, then the unknown
    // ones: orders with fewer unknown operations come first, so the configurations that dominate are
    // mostly met before those they dominate, which are then never explored.
    let mut unknown_pass = false;
    loop {
        if remaining == 0 {
            return Searched { found: Found::Linearizable, explored, frontier: completed };
        }
        if node == events.tail || events.is_completion[node] {
            if !unknown_pass {
                unknown_pass = true;
                node = events.next[HEAD];
                continue;
            }
            // Every operation that may go next has been tried here. The first completion in the list
            // is that of the earliest-completing operation not placed: all before it are.
            frontier = frontier.max(events.completion_rank[node]);
            // Undo the latest placement.
            let Some((op, before, _)) = stack.pop() else {
                return Searched { found: Found::NotLinearizable, explored, frontier };
            };
            state = before;
            placed[op / 64] &= !(1u64 << (op % 64));
            match class[op] {
                Some(class) => placed_in_class[class] -= 1,
                None => {
                    placed_completed[op / 64] &= !(1u64 << (op % 64));
                    remaining += 1;
                }
            }
            events.unlift(op);
            unknown_pass = class[op].is_some();
            node = events.next[events.invocation[op]];
            continue;
        }
        let op = events.op[node];
        if class[op].is_some() != unknown_pass {
            node = events.next[node];
            continue;
        }
        let twin_placed = twin[op].is_none_or(|twin| placed[twin / 64] & (1u64 << (twin % 64)) != 0);
        // After unknown operations, only one that needs them (see `Prepared`).
        let (needs_run, run) = match stack.last() {
            Some(&(_, before, Some(run))) => {
                let needs =
                    step(before, &live[op]).is_none() && (!live[op].is_completed() || step(run, &live[op]).is_none());
                (needs, (!live[op].is_completed()).then_some(run))
            }
            _ => (true, (!live[op].is_completed()).then_some(state)),
        };
        if let Some(after) = step(state, &live[op]).filter(|_| twin_placed && needs_run) {
            match class[op] {
                Some(class) => placed_in_class[class] += 1,
                None => placed_completed[op / 64] |= 1u64 << (op % 64),
            }
            memo_key(&placed_completed, &completed_ops, after, run.map(|run| (state, run)), &mut key);
            counts.clear();
            for (class, &count) in placed_in_class.iter().enumerate().filter(|(_, count)| **count > 0) {
                counts.extend([class as u32, count]);
            }
            let front = memo.get_mut(key.as_slice());
            if front.as_ref().is_none_or(|front| !front.iter().any(|seen| at_most(seen, &counts))) {
                if explored == states_max {
                    return Searched { found: Found::Exhausted, explored, frontier };
                }
                explored += 1;
                match front {
                    Some(front) => {
                        front.retain(|seen| !at_most(&counts, seen));
                        front.push(counts.as_slice().into());
                    }
                    None => {
                        memo.insert(key.as_slice().into(), vec![counts.as_slice().into()]);
                    }
                }
                placed[op / 64] |= 1u64 << (op % 64);
                stack.push((op, state, run));
                state = after;
                events.lift(op);
                if live[op].is_completed() {
                    remaining -= 1;
                }
                unknown_pass = false;
                node = events.next[HEAD];
                continue;
            }
            match class[op] {
                Some(class) => placed_in_class[class] -= 1,
                None => placed_completed[op / 64] &= !(1u64 << (op % 64)),
            }
        }
        node = events.next[node];
    }
}

/// Searches layer by layer, exploring at most `states_max` configurations.
///
/// The configurations form layers by how many completed operations they placed (see [`Layer`]); the
/// search expands one layer at a time, and explores no configuration twice.
fn search_layered(prepared: &Prepared, states_max: u64) -> Searched {
    let Prepared { ops: live, class, classes, initial, .. } = prepared;
    let (live, classes, initial) = (live.as_slice(), *classes, *initial);
    let total = live.iter().filter(|op| op.is_completed()).count();
    if total == 0 {
        return Searched { found: Found::Linearizable, explored: 0, frontier: 0 };
    }
    let count = live.len();
    // Each class's operations, in invocation order; they are placed in that order.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (position, class) in class.iter().enumerate() {
        if let Some(class) = class {
            members[*class].push(position);
        }
    }
    // The completed operations in completion order, each one's rank in it, and for each position the
    // lowest rank at or after it.
    let mut by_completion: Vec<usize> = (0..count).filter(|&position| live[position].is_completed()).collect();
    by_completion.sort_by_key(|&position| (live[position].completed_at, position));
    let mut rank = vec![usize::MAX; count];
    for (order, &position) in by_completion.iter().enumerate() {
        rank[position] = order;
    }
    let mut lowest_rank_from = vec![usize::MAX; count + 1];
    for position in (0..count).rev() {
        lowest_rank_from[position] = lowest_rank_from[position + 1].min(rank[position]);
    }

    let mut frontier = 0;
    let mut explored = 0u64;
    let mut layer = Layer::default();
    layer.offer(&[initial, 0, 0, 0, 0], &[]);
    let mut next_layer = Layer::default();
    let mut key = Vec::new();
    let mut counts = Vec::new();
    for placed_completed in 0..total {
        while let Some((current, current_counts)) = layer.next() {
            if explored == states_max {
                return Searched { found: Found::Exhausted, explored, frontier };
            }
            explored += 1;
            let upper = current[KEY_UPPER] as usize;
            let holes = &current[KEY_HOLES..];
            let first =
                holes.iter().map(|&hole| rank[hole as usize]).min().unwrap_or(usize::MAX).min(lowest_rank_from[upper]);
            frontier = frontier.max(first);
            let deadline = live[by_completion[first]].completed_at.unwrap_or(u64::MAX);
            let state = current[KEY_STATE];
            let placed_in = |class: usize| {
                current_counts.chunks_exact(2).find(|pair| pair[0] as usize == class).map_or(0, |pair| pair[1] as usize)
            };
            let candidates = holes
                .iter()
                .map(|&hole| hole as usize)
                .chain((upper..count).take_while(|&position| live[position].invoked_at <= deadline))
                .filter(|&position| class[position].is_none())
                .chain((0..classes).filter_map(|class| members[class].get(placed_in(class)).copied()))
                .filter(|&position| live[position].invoked_at <= deadline);
            for position in candidates {
                let op = &live[position];
                // After unknown operations, only one that needs them (see `Prepared`).
                let needs_run = current[KEY_IN_RUN] == 0
                    || (step(current[KEY_BEFORE], op).is_none()
                        && (!op.is_completed() || step(current[KEY_RUN], op).is_none()));
                let Some(after) = step(state, op).filter(|_| needs_run) else { continue };
                key.clear();
                key.push(after);
                match class[position] {
                    Some(placed_class) => {
                        let run = if current[KEY_IN_RUN] == 0 { state } else { current[KEY_RUN] };
                        key.extend_from_slice(&[1, state, run]);
                        key.extend_from_slice(&current[KEY_UPPER..]);
                        counts.clear();
                        counts.extend_from_slice(&current_counts);
                        match counts.chunks_exact(2).position(|pair| pair[0] as usize >= placed_class) {
                            Some(at) if counts[2 * at] as usize == placed_class => counts[2 * at + 1] += 1,
                            Some(at) => {
                                counts.insert(2 * at, placed_class as u32);
                                counts.insert(2 * at + 1, 1);
                            }
                            None => counts.extend_from_slice(&[placed_class as u32, 1]),
                        }
                        layer.offer(&key, &counts);
                    }
                    None => {
                        if placed_completed + 1 == total {
                            return Searched { found: Found::Linearizable, explored, frontier: total };
                        }
                        key.extend_from_slice(&[0, 0, 0]);
                        if position < upper {
                            key.push(upper as u32);
                            key.extend(holes.iter().copied().filter(|&hole| hole as usize != position));
                        } else {
                            // `partition` checked that operation numbers fit in a u32.
                            key.push(position as u32 + 1);
                            key.extend_from_slice(holes);
                            key.extend(
                                (upper..position)
                                    .filter(|&skipped| live[skipped].is_completed())
                                    .map(|skipped| skipped as u32),
                            );
                        }
                        next_layer.offer(&key, &current_counts);
                    }
                }
            }
        }
        layer = std::mem::take(&mut next_layer);
    }
    Searched { found: Found::NotLinearizable, explored, frontier }
}

// ---------------------------------------------------------------------------------------------
// Explaining a violation.

/// The operations of `ops` (in invocation order) invoked by `cut`, those marked in `strong` as they
/// are, the others weakened (their completion forgotten; reads dropped).
fn view(ops: &[SearchOp], cut: u64, strong: &[bool]) -> Vec<SearchOp> {
    ops.iter()
        .zip(strong)
        .take_while(|(op, _)| op.invoked_at <= cut)
        .filter_map(|(op, &strong)| if strong { Some(*op) } else { op.weakened() })
        .collect()
}

/// A search budget spent by several checks.
struct Budget {
    states: u64,
    /// Most states one check may use, so that one hard check does not starve the others.
    check_states_max: u64,
}

impl Budget {
    fn check(&mut self, ops: &[SearchOp]) -> Found {
        if self.states == 0 {
            return Found::Exhausted;
        }
        let searched = search(ops, self.check_states_max.min(self.states));
        self.states -= searched.explored;
        searched.found
    }
}

/// Shrinks the operations marked in `strong` (completed ones of `ops`, all but `pinned`) to a
/// minimal set that is still not linearizable when every other operation invoked by `cut` is
/// weakened. Weakens chunks of them, halving the chunks down to single operations, and keeps each
/// weakening that leaves the history not linearizable; weakening only adds freedom, so an operation
/// that could not be weakened never can be later, and the result is minimal — unless the budget runs
/// out, which the returned flag says.
fn shrink(ops: &[SearchOp], cut: u64, strong: &mut [bool], pinned: usize, budget: &mut Budget) -> bool {
    // Reads are tried first, writes last: an explanation in terms of the writes that produced the
    // values reads well.
    let mut candidates: Vec<usize> =
        (0..ops.len()).filter(|&position| strong[position] && position != pinned).collect();
    candidates.sort_by_key(|&position| match ops[position].action {
        Action::Read(_) => 0,
        Action::CompareAndSet { .. } => 1,
        Action::Write(_) => 2,
    });
    let mut minimal = true;
    let mut chunk = candidates.len();
    while chunk > 0 && !candidates.is_empty() {
        let mut start = 0;
        while start < candidates.len() {
            let end = (start + chunk).min(candidates.len());
            for &position in &candidates[start..end] {
                strong[position] = false;
            }
            let found = budget.check(&view(ops, cut, strong));
            if found == Found::NotLinearizable {
                candidates.drain(start..end);
            } else {
                for &position in &candidates[start..end] {
                    strong[position] = true;
                }
                minimal &= found == Found::Linearizable;
                start = end;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2);
    }
    minimal
}

/// Looks for a small set of the operations marked in `candidates` that, with `culprit` and every other
/// operation invoked by `cut` weakened, is not linearizable: the culprit and the first k operations
/// in order of likely relevance, for k = 1, 2, 4, … Cores are usually small, and a check with few
/// strong operations is cheap, where shrinking from the whole prefix would start with expensive ones.
/// Likely relevant: first the writes of the values the culprit saw or expected, then the others,
/// latest completion first. `None` if the budget runs out before such a set is found.
fn grow(ops: &[SearchOp], cut: u64, candidates: &[bool], culprit: usize, budget: &mut Budget) -> Option<Vec<bool>> {
    let seen: Vec<ValueId> = match ops[culprit].action {
        Action::Read(value) => vec![value],
        Action::CompareAndSet { expected, result, .. } => {
            let mut seen = vec![expected];
            seen.extend(result.and_then(|result| result.found));
            seen
        }
        Action::Write(_) => Vec::new(),
    };
    let mut order: Vec<usize> =
        (0..ops.len()).filter(|&position| candidates[position] && position != culprit).collect();
    order.sort_by_key(|&position| {
        let writes_seen = match ops[position].action {
            Action::Write(value) | Action::CompareAndSet { new: value, .. } => seen.contains(&value),
            Action::Read(_) => false,
        };
        (!writes_seen, std::cmp::Reverse((ops[position].completed_at, position)))
    });
    let mut count = 0;
    loop {
        let mut strong = vec![false; ops.len()];
        strong[culprit] = true;
        for &position in &order[..count] {
            strong[position] = true;
        }
        match budget.check(&view(ops, cut, &strong)) {
            Found::NotLinearizable => return Some(strong),
            Found::Exhausted => return None,
            Found::Linearizable if count == order.len() => return None,
            Found::Linearizable => count = (count * 2).clamp(1, order.len()),
        }
    }
}

/// Explains why a key's history, known not to be linearizable, is not; the search that found it so
/// proved the first `frontier` completions linearizable.
///
/// First finds the shortest prefix that is not linearizable (prefixes of a linearizable history are
/// linearizable, so the answer is monotonic): it is at least one completion past `frontier`, and
/// usually exactly that, so the search gallops forward from there, then bisects. The operation
/// completing at its end is the culprit. Then it grows a set of operations around the culprit that
/// is not linearizable (see [`grow`]), and shrinks that set to a minimal one.
fn explain(history: &[Entry], key_history: &KeyHistory, frontier: usize, states_max: u64) -> Evidence {
    let ops = &key_history.ops;
    let mut completions: Vec<usize> = (0..ops.len()).filter(|&position| ops[position].is_completed()).collect();
    completions.sort_by_key(|&position| (ops[position].completed_at, ops[position].invoked_at, position));
    assert!(frontier < completions.len(), "a history not linearizable has a completion past the frontier");
    let mut rank = vec![usize::MAX; ops.len()];
    for (order, &position) in completions.iter().enumerate() {
        rank[position] = order;
    }
    let completed_at = |position: usize| ops[position].completed_at.unwrap_or(u64::MAX);
    let mut prefix_budget = Budget { states: states_max, check_states_max: states_max };
    let mut shrink_budget = Budget { states: states_max, check_states_max: (states_max / 8).max(1) };

    // The first `linearizable` completions are linearizable, the first `not_linearizable` are not.
    let (mut linearizable, mut not_linearizable) = (frontier, completions.len());
    let mut earliest = true;
    let mut step = 1;
    // An operation that needs a value nothing writes cannot be placed; the search stopped at it at
    // once, without telling how far it got. Most likely the history went wrong there.
    let writable = writable(ops);
    if let Some(impossible) = completions.iter().position(|&position| needs_unwritable(&ops[position], &writable)) {
        not_linearizable = impossible + 1;
        if not_linearizable - linearizable > 1 {
            let count = not_linearizable - 1;
            let prefix: Vec<bool> = rank.iter().map(|&order| order < count).collect();
            match prefix_budget.check(&view(ops, completed_at(completions[count - 1]), &prefix)) {
                Found::Linearizable => linearizable = count,
                Found::NotLinearizable => not_linearizable = count,
                Found::Exhausted => earliest = false,
            }
        }
    }
    while earliest && not_linearizable - linearizable > 1 {
        let count = linearizable + step.min((not_linearizable - linearizable) / 2);
        let prefix: Vec<bool> = rank.iter().map(|&order| order < count).collect();
        match prefix_budget.check(&view(ops, completed_at(completions[count - 1]), &prefix)) {
            Found::Linearizable => {
                linearizable = count;
                step = step.saturating_mul(2);
            }
            Found::NotLinearizable => {
                not_linearizable = count;
                // Past the galloping: bisect.
                step = usize::MAX / 2;
            }
            Found::Exhausted => {
                earliest = false;
                break;
            }
        }
    }
    let culprit = completions[not_linearizable - 1];
    let cut = completed_at(culprit);
    let in_prefix: Vec<bool> = rank.iter().map(|&order| order < not_linearizable).collect();
    let mut strong = grow(ops, cut, &in_prefix, culprit, &mut shrink_budget).unwrap_or(in_prefix);
    let minimal = shrink(ops, cut, &mut strong, culprit, &mut shrink_budget);

    let cite = |index: usize| EvidenceOp { index, entry: history[index].clone() };
    let core: Vec<EvidenceOp> = (0..ops.len())
        .filter(|&position| strong[position])
        .map(|position| cite(key_history.indices[position]))
        .collect();
    // Failed writes of values the core saw or expected.
    let mut seen: BTreeSet<&Value> = BTreeSet::new();
    for op in &core {
        if let Op::CompareAndSet { expected: Some(expected), .. } = &op.entry.op {
            seen.insert(expected);
        }
        match &op.entry.completion {
            Completion::Completed { outcome: Outcome::Read(Some(value)), .. }
            | Completion::Completed { outcome: Outcome::CompareAndSet { found: Some(Some(value)), .. }, .. } => {
                seen.insert(value);
            }
            _ => {}
        }
    }
    let failed = key_history
        .entries
        .iter()
        .filter(|&&index| {
            let entry = &history[index];
            let written = match &entry.op {
                Op::Put { value } | Op::CompareAndSet { new: Some(value), .. } => Some(value),
                _ => None,
            };
            entry.completion == Completion::Failed
                && entry.invoked_at <= cut
                && written.is_some_and(|value| seen.contains(value))
        })
        .map(|&index| cite(index))
        .collect();
    let prefix_entries = key_history.entries.iter().filter(|&&index| history[index].invoked_at <= cut).count();
    Evidence {
        ops: core,
        culprit: key_history.indices[culprit],
        minimal,
        earliest,
        failed,
        key_entries: key_history.entries.len(),
        prefix_entries,
    }
}

// ---------------------------------------------------------------------------------------------
// Printing.

/// Writes bytes as a quoted string if they are printable UTF-8, else as hex.
fn write_bytes(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(char::is_control) => write!(f, "{text:?}"),
        _ => {
            f.write_str("0x")?;
            for byte in bytes {
                write!(f, "{byte:02x}")?;
            }
            Ok(())
        }
    }
}

/// A key, printed as [`write_bytes`] does.
struct KeyName<'a>(&'a [u8]);

impl fmt::Display for KeyName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_bytes(self.0, f)
    }
}

/// A value or its absence, printed.
struct Shown<'a>(Option<&'a Value>);

fn shown(value: Option<&Value>) -> Shown<'_> {
    Shown(value)
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "{value}"),
            None => f.write_str("absent"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Builders for hand-written histories: `(client, key, ..., invoked_at, completed_at)`.

    fn value(text: &str) -> Option<Value> {
        Some(Value::from(text))
    }

    fn put(client: u64, key: &str, text: &str, invoked_at: u64, at: u64) -> Entry {
        Entry::completed(client, key, Op::put(text), invoked_at, at, Outcome::Ok)
    }

    fn get(client: u64, key: &str, read: Option<&str>, invoked_at: u64, at: u64) -> Entry {
        Entry::completed(client, key, Op::Get, invoked_at, at, Outcome::Read(read.and_then(value)))
    }

    fn remove(client: u64, key: &str, invoked_at: u64, at: u64) -> Entry {
        Entry::completed(client, key, Op::Remove, invoked_at, at, Outcome::Ok)
    }

    fn cas(
        client: u64,
        key: &str,
        from: Option<&str>,
        to: Option<&str>,
        swapped: bool,
        invoked_at: u64,
        at: u64,
    ) -> Entry {
        let op = Op::compare_and_set(from.and_then(value), to.and_then(value));
        Entry::completed(client, key, op, invoked_at, at, Outcome::compare_and_set(swapped))
    }

    /// The same operation, but its client never learnt how it ended.
    fn timed_out(entry: Entry) -> Entry {
        Entry { completion: Completion::Unknown, ..entry }
    }

    /// The same operation, but it was rejected.
    fn rejected(entry: Entry) -> Entry {
        Entry { completion: Completion::Failed, ..entry }
    }

    fn verdict(history: &[Entry]) -> Verdict {
        check(history, &CheckConfig::default()).expect("a well-formed history")
    }

    /// The evidence of a history that must not be linearizable, after checking that it names `key`.
    fn violation(history: &[Entry], key: &str) -> Evidence {
        match verdict(history) {
            Verdict::NotLinearizable { key: bad, evidence, .. } => {
                assert_eq!(bad, key.as_bytes(), "wrong key in {evidence}");
                *evidence
            }
            other => panic!("expected a violation on {key:?}, got {other}"),
        }
    }

    fn cited(evidence: &Evidence) -> Vec<usize> {
        evidence.ops.iter().map(|op| op.index).collect()
    }

    #[test]
    fn empty_history_is_linearizable() {
        assert_eq!(verdict(&[]), Verdict::Linearizable);
    }

    #[test]
    fn sequential_reads_and_writes_are_linearizable() {
        let history = [
            get(1, "k", None, 0, 10),
            put(1, "k", "a", 20, 30),
            get(2, "k", Some("a"), 40, 50),
            put(2, "k", "b", 60, 70),
            get(1, "k", Some("b"), 80, 90),
        ];
        assert_eq!(verdict(&history), Verdict::Linearizable);
    }

    #[test]
    fn stale_read_is_not_linearizable() {
        let history = [
            put(1, "k", "a", 0, 10),
            get(3, "k", Some("a"), 12, 14),
            put(2, "k", "b", 20, 30),
            get(3, "k", Some("a"), 40, 50),
        ];
        let evidence = violation(&history, "k");
        // The first read is irrelevant: the two writes and the stale read are the proof.
        assert_eq!(cited(&evidence), [0, 2, 3]);
        assert_eq!(evidence.culprit, 3);
        assert!(evidence.minimal && evidence.earliest);
        assert_eq!(evidence.key_entries, 4);
        assert_eq!(evidence.prefix_entries, 4);
    }

    #[test]
    fn lost_update_is_not_linearizable() {
        // Two clients both swap from "a": both cannot have seen "a".
        let history = [
            put(1, "k", "a", 0, 10),
            cas(2, "k", Some("a"), Some("b"), true, 20, 40),
            cas(3, "k", Some("a"), Some("c"), true, 25, 45),
        ];
        let evidence = violation(&history, "k");
        // Whether "a" was written when the put says does not matter: both swaps cannot have seen it.
        assert_eq!(cited(&evidence), [1, 2]);
        assert_eq!(evidence.culprit, 2);
        // One of them failing is fine, in either order.
        let mut fixed = history.clone();
        fixed[2] = cas(3, "k", Some("a"), Some("c"), false, 25, 45);
        assert_eq!(verdict(&fixed), Verdict::Linearizable);
        fixed[1] = cas(2, "k", Some("a"), Some("b"), false, 20, 40);
        fixed[2] = cas(3, "k", Some("a"), Some("c"), true, 25, 45);
        assert_eq!(verdict(&fixed), Verdict::Linearizable);
    }

    #[test]
    fn read_of_a_value_never_written_is_not_linearizable() {
        let history = [put(1, "k", "a", 0, 10), put(2, "k", "b", 5, 15), get(3, "k", Some("z"), 20, 30)];
        let evidence = violation(&history, "k");
        assert_eq!(cited(&evidence), [2], "the read alone is the proof");
        assert_eq!(evidence.culprit, 2);
    }

    #[test]
    fn read_of_absent_before_any_write_is_fine_but_not_after_one() {
        assert_eq!(verdict(&[get(1, "k", None, 0, 10), put(1, "k", "a", 20, 30)]), Verdict::Linearizable);
        let evidence = violation(&[put(1, "k", "a", 0, 10), get(2, "k", None, 20, 30)], "k");
        assert_eq!(cited(&evidence), [0, 1]);
    }

    #[test]
    fn concurrent_writes_fit_only_in_the_order_reads_show() {
        // Two overlapping puts; a read after both sees "a", so "b" went first.
        let history = vec![put(1, "k", "a", 0, 100), put(2, "k", "b", 10, 110), get(3, "k", Some("a"), 120, 130)];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        // A later read of "b" cannot be: nothing wrote "b" after "a".
        let mut bad = history.clone();
        bad.push(get(3, "k", Some("b"), 140, 150));
        let evidence = violation(&bad, "k");
        assert_eq!(evidence.culprit, 3);
        // Whenever "a" was written, "b" was written before the first read and never again.
        assert_eq!(cited(&evidence), [1, 2, 3]);
        // Reads overlapping the puts may see them in either order...
        let history = [
            put(1, "k", "a", 0, 100),
            put(2, "k", "b", 10, 110),
            get(3, "k", Some("b"), 20, 30),
            get(4, "k", Some("a"), 40, 50),
        ];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        // ...but not go back.
        let history = [put(1, "k", "a", 0, 100), get(3, "k", Some("a"), 20, 30), get(4, "k", None, 40, 50)];
        let evidence = violation(&history, "k");
        assert_eq!(cited(&evidence), [1, 2], "whoever wrote \"a\", the key cannot be absent again");
    }

    #[test]
    fn read_overlapping_a_write_may_see_either_value() {
        for read in [None, Some("a")] {
            let history = [put(1, "k", "a", 0, 100), get(2, "k", read, 50, 60)];
            assert_eq!(verdict(&history), Verdict::Linearizable, "read {read:?}");
        }
    }

    #[test]
    fn timed_out_write_may_be_observed_later_or_never() {
        let observed = [
            put(1, "k", "a", 0, 10),
            timed_out(put(2, "k", "b", 20, 0)),
            get(3, "k", Some("a"), 30, 40),
            get(3, "k", Some("b"), 1_000, 1_010),
            get(1, "k", Some("b"), 2_000, 2_010),
        ];
        assert_eq!(verdict(&observed), Verdict::Linearizable);
        let never = [put(1, "k", "a", 0, 10), timed_out(put(2, "k", "b", 20, 0)), get(3, "k", Some("a"), 5_000, 5_010)];
        assert_eq!(verdict(&never), Verdict::Linearizable);
    }

    #[test]
    fn timed_out_write_cannot_be_seen_before_its_invocation_or_undone() {
        let early = [get(1, "k", Some("b"), 0, 10), timed_out(put(2, "k", "b", 20, 0))];
        assert_eq!(cited(&violation(&early, "k")), [0]);
        let undone = [timed_out(put(2, "k", "b", 0, 0)), get(1, "k", Some("b"), 20, 30), get(1, "k", None, 40, 50)];
        assert_eq!(cited(&violation(&undone, "k")), [1, 2]);
    }

    #[test]
    fn timed_out_compare_and_set_may_take_effect() {
        let history = [
            put(1, "k", "a", 0, 10),
            timed_out(Entry::unknown(2, "k", Op::compare_and_set(value("a"), value("b")), 20)),
            get(3, "k", Some("b"), 100, 110),
        ];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        // It cannot swap from a value the key does not hold.
        let history = [
            put(1, "k", "a", 0, 10),
            Entry::unknown(2, "k", Op::compare_and_set(value("x"), value("b")), 20),
            get(3, "k", Some("b"), 100, 110),
        ];
        assert_eq!(cited(&violation(&history, "k")), [2]);
    }

    #[test]
    fn failed_write_must_not_be_observed() {
        let history = [put(1, "k", "a", 0, 10), rejected(put(2, "k", "b", 20, 0)), get(3, "k", Some("a"), 30, 40)];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        let history = [put(1, "k", "a", 0, 10), rejected(put(2, "k", "b", 20, 0)), get(3, "k", Some("b"), 30, 40)];
        let evidence = violation(&history, "k");
        assert_eq!(cited(&evidence), [2]);
        assert_eq!(evidence.failed.iter().map(|op| op.index).collect::<Vec<_>>(), [1]);
        assert!(evidence.to_string().contains("failed"), "{evidence}");
    }

    #[test]
    fn failed_and_timed_out_reads_constrain_nothing() {
        let history =
            [put(1, "k", "a", 0, 10), rejected(get(2, "k", Some("zzz"), 20, 30)), timed_out(get(3, "k", None, 20, 0))];
        assert_eq!(verdict(&history), Verdict::Linearizable);
    }

    #[test]
    fn removes() {
        let history = [
            put(1, "k", "a", 0, 10),
            remove(2, "k", 20, 30),
            get(3, "k", None, 40, 50),
            put(1, "k", "b", 60, 70),
            get(3, "k", Some("b"), 80, 90),
        ];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        // A read after the remove completed cannot see the old value.
        let history = [put(1, "k", "a", 0, 10), remove(2, "k", 20, 30), get(3, "k", Some("a"), 40, 50)];
        assert_eq!(cited(&violation(&history, "k")), [0, 1, 2]);
        // Concurrent with the remove, it may.
        let history = [put(1, "k", "a", 0, 10), remove(2, "k", 20, 30), get(3, "k", Some("a"), 25, 50)];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        // A timed-out remove may explain an absent read.
        let history = [put(1, "k", "a", 0, 10), timed_out(remove(2, "k", 20, 0)), get(3, "k", None, 40, 50)];
        assert_eq!(verdict(&history), Verdict::Linearizable);
    }

    #[test]
    fn compare_and_set_on_absent_and_to_absent() {
        let history = [
            cas(1, "k", None, Some("a"), true, 0, 10),
            cas(2, "k", None, Some("b"), false, 20, 30),
            cas(3, "k", Some("a"), None, true, 40, 50),
            get(1, "k", None, 60, 70),
        ];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        let history = [cas(1, "k", None, Some("a"), false, 0, 10)];
        assert_eq!(cited(&violation(&history, "k")), [0], "the key starts absent, so the swap must succeed");
    }

    #[test]
    fn compare_and_set_reporting_what_it_found() {
        let found =
            |found: Option<&str>| Outcome::CompareAndSet { succeeded: false, found: Some(found.and_then(value)) };
        let op = || Op::compare_and_set(value("x"), value("y"));
        let history = [put(1, "k", "a", 0, 10), Entry::completed(2, "k", op(), 20, 30, found(Some("a")))];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        let history = [put(1, "k", "a", 0, 10), Entry::completed(2, "k", op(), 20, 30, found(Some("b")))];
        assert_eq!(cited(&violation(&history, "k")), [1]);
    }

    #[test]
    fn unknown_write_needed_to_fail_a_compare_and_set_is_not_left_out() {
        // The swap from "a" failed without saying what it found: only the timed-out put of "b" (whose
        // value nobody reads) can explain it.
        let history = [
            put(1, "k", "a", 0, 10),
            timed_out(put(2, "k", "b", 20, 0)),
            cas(3, "k", Some("a"), Some("c"), false, 100, 110),
        ];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        let history = [put(1, "k", "a", 0, 10), cas(3, "k", Some("a"), Some("c"), false, 100, 110)];
        assert_eq!(cited(&violation(&history, "k")), [0, 1]);
        // Invoked at the very instant the swap completed, the put may still come first.
        let history = [
            put(1, "k", "a", 0, 10),
            cas(3, "k", Some("a"), Some("c"), false, 100, 110),
            timed_out(put(2, "k", "b", 110, 0)),
        ];
        assert_eq!(verdict(&history), Verdict::Linearizable);
    }

    #[test]
    fn many_unobserved_timed_out_writes_are_cheap() {
        // Each timed-out write doubles the configurations unless the checker sees it cannot matter.
        let mut history = vec![put(0, "k", "a", 0, 10)];
        for client in 1..=200u64 {
            history.push(timed_out(put(client, "k", &format!("lost {client}"), 20 + client, 0)));
        }
        history.push(get(0, "k", Some("a"), 1_000, 1_010));
        history.push(timed_out(put(500, "k", "late", 1_020, 0)));
        history.push(get(0, "k", Some("late"), 2_000, 2_010));
        let reports = check_by_key(&history, &CheckConfig::default()).unwrap();
        let report = &reports[b"k".as_slice()];
        assert_eq!(report.verdict, KeyVerdict::Linearizable);
        assert!(report.states < 10, "{} states", report.states);
    }

    #[test]
    fn only_the_bad_key_is_reported() {
        let history = [
            put(1, "x", "a", 0, 10),
            put(1, "y", "a", 0, 10),
            put(2, "y", "b", 20, 30),
            put(2, "x", "b", 20, 30),
            get(3, "x", Some("b"), 40, 50),
            get(3, "y", Some("a"), 40, 50),
            get(3, "z", None, 40, 50),
        ];
        let evidence = violation(&history, "y");
        assert_eq!(cited(&evidence), [1, 2, 5]);
        let reports = check_by_key(&history, &CheckConfig::default()).unwrap();
        let verdicts: Vec<(&[u8], bool)> =
            reports.iter().map(|(key, report)| (key.as_slice(), report.verdict == KeyVerdict::Linearizable)).collect();
        assert_eq!(verdicts, [(b"x".as_slice(), true), (b"y".as_slice(), false), (b"z".as_slice(), true)]);
        assert_eq!(reports[b"y".as_slice()].entries, 3);
    }

    #[test]
    fn every_bad_key_is_named() {
        let history = [get(1, "b", Some("?"), 0, 10), get(1, "a", Some("?"), 0, 10), get(1, "c", Some("?"), 0, 10)];
        match verdict(&history) {
            Verdict::NotLinearizable { key, more_keys, .. } => {
                assert_eq!(key, b"a");
                assert_eq!(more_keys, [b"b".to_vec(), b"c".to_vec()]);
            }
            other => panic!("{other}"),
        }
    }

    /// Five clients each write their own value and then read, all overlapping, and one read sees a
    /// value that was overwritten before it began: the search must try many orders to be sure.
    fn hard_history(clients: u64) -> Vec<Entry> {
        let mut history = Vec::new();
        for client in 0..clients {
            history.push(put(client, "k", &format!("v{client}"), client, 1_000 + client));
        }
        for client in 0..clients {
            history.push(get(client, "k", Some(&format!("v{}", client % 2)), 500 + client, 1_500 + client));
        }
        history.push(put(99, "k", "last", 2_000, 2_010));
        history.push(get(99, "k", Some("v0"), 3_000, 3_010));
        history
    }

    #[test]
    fn effort_bound_gives_unknown_never_a_wrong_verdict() {
        let bad = hard_history(5);
        assert!(matches!(verdict(&bad), Verdict::NotLinearizable { .. }));
        for states_max in [0, 1, 2, 5, 20] {
            let result = check(&bad, &CheckConfig { states_max }).unwrap();
            assert_eq!(result, Verdict::Unknown { keys: vec![b"k".to_vec()] }, "states_max {states_max}");
            assert!(result.to_string().contains("\"k\""), "{result}");
        }
        // A linearizable history: the bound may stop the search, but never turns it into a violation.
        let mut good = hard_history(5);
        good.truncate(good.len() - 1);
        assert_eq!(verdict(&good), Verdict::Linearizable);
        let needed = check_by_key(&good, &CheckConfig::default()).unwrap()[b"k".as_slice()].states;
        assert!(needed > 1);
        for states_max in 0..needed + 2 {
            let result = check(&good, &CheckConfig { states_max }).unwrap();
            if states_max < needed {
                assert_eq!(result, Verdict::Unknown { keys: vec![b"k".to_vec()] }, "states_max {states_max}");
            } else {
                assert_eq!(result, Verdict::Linearizable, "states_max {states_max}");
            }
        }
    }

    #[test]
    fn tiny_explanation_budget_still_gives_true_evidence() {
        let bad = hard_history(5);
        let full = evidence_of(&bad);
        assert!(full.minimal && full.earliest);
        assert_eq!(full.culprit, bad.len() - 1);
        // Explaining with almost no budget: whatever comes out is still a proof, and says it may not
        // be the best one.
        let keys = partition(&bad).unwrap();
        let key_history = keys.get(b"k".as_slice()).unwrap();
        for states_max in [0, 1, 3, 10, 30, 100] {
            let evidence = explain(&bad, key_history, 0, states_max);
            assert!(evidence.ops.iter().any(|op| op.index == evidence.culprit));
            assert!(evidence.ops.len() >= full.ops.len());
            let Completion::Completed { at: cut, .. } = bad[evidence.culprit].completion else { panic!() };
            assert!(!verdict(&weaken_all_but(&bad, &cited(&evidence), cut)).is_linearizable(), "{evidence}");
            if states_max == 0 {
                assert!(!evidence.minimal && !evidence.earliest);
            }
            if !evidence.minimal || !evidence.earliest {
                assert!(evidence.to_string().contains("budget ran out"), "{evidence}");
            }
        }
    }

    #[test]
    fn culprit_is_the_first_completion_that_breaks_the_history() {
        // The stale read at #3 breaks the history first; the later one at #5 does too.
        let history = [
            put(1, "k", "a", 0, 10),
            put(2, "k", "b", 20, 30),
            put(1, "k", "c", 40, 50),
            get(3, "k", Some("b"), 60, 70),
            put(2, "k", "d", 80, 90),
            get(3, "k", Some("a"), 100, 110),
        ];
        let evidence = violation(&history, "k");
        assert_eq!(evidence.culprit, 3);
        assert_eq!(cited(&evidence), [1, 2, 3]);
        assert!(evidence.earliest);
        assert_eq!(evidence.prefix_entries, 4);
    }

    fn evidence_of(history: &[Entry]) -> Evidence {
        match verdict(history) {
            Verdict::NotLinearizable { evidence, .. } => *evidence,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn counts_compare_class_by_class() {
        assert!(at_most(&[], &[]));
        assert!(at_most(&[], &[3, 1]));
        assert!(!at_most(&[3, 1], &[]));
        assert!(at_most(&[3, 1], &[3, 1]));
        assert!(at_most(&[3, 1], &[3, 2]));
        assert!(!at_most(&[3, 2], &[3, 1]));
        assert!(at_most(&[1, 1, 4, 2], &[0, 5, 1, 1, 2, 7, 4, 2]));
        assert!(!at_most(&[1, 1, 4, 2], &[1, 1, 2, 7, 4, 1]));
        assert!(!at_most(&[2, 1], &[1, 1, 3, 1]), "class 2 is absent on the right");
    }

    #[test]
    fn a_layer_expands_only_configurations_nothing_dominates() {
        let key: &[u32] = &[0, 0, 0, 0, 7];
        let other_key: &[u32] = &[0, 0, 0, 0, 8];
        // The worse one first: it is dropped when the better one comes.
        let mut layer = Layer::default();
        layer.offer(key, &[2, 2]);
        layer.offer(key, &[2, 1]);
        layer.offer(key, &[2, 2]);
        layer.offer(other_key, &[2, 3]);
        // Incomparable with [2, 1]: kept.
        layer.offer(key, &[1, 1]);
        let mut expanded = Vec::new();
        while let Some((key, counts)) = layer.next() {
            expanded.push((key[KEY_UPPER], counts.to_vec()));
        }
        expanded.sort();
        assert_eq!(expanded, [(7, vec![1, 1]), (7, vec![2, 1]), (8, vec![2, 3])]);
        // The better one first: the worse one is never queued.
        let mut layer = Layer::default();
        layer.offer(key, &[]);
        layer.offer(key, &[2, 1]);
        assert_eq!(layer.next().map(|(_, counts)| counts.to_vec()), Some(vec![]));
        assert_eq!(layer.next(), None);
    }

    #[test]
    fn events_at_the_same_instant_are_concurrent() {
        // The read is invoked at the instant the put completes; it may be ordered before it.
        let history = [put(1, "k", "a", 0, 10), get(2, "k", None, 10, 20)];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        let history = [put(1, "k", "a", 0, 10), get(2, "k", None, 11, 20)];
        assert!(!verdict(&history).is_linearizable());
    }

    #[test]
    fn malformed_histories_are_errors() {
        let config = CheckConfig::default();
        let backwards = [Entry::completed(1, "k", Op::Get, 10, 5, Outcome::Read(None))];
        assert_eq!(
            check(&backwards, &config),
            Err(HistoryError::CompletedBeforeInvoked { index: 0, invoked_at: 10, completed_at: 5 })
        );
        let mismatch = [get(1, "k", None, 0, 1), Entry::completed(1, "k", Op::put("a"), 0, 1, Outcome::Read(None))];
        assert!(matches!(check(&mismatch, &config), Err(HistoryError::OutcomeMismatch { index: 1, .. })));
        let op = Op::compare_and_set(value("a"), value("b"));
        let outcome = Outcome::CompareAndSet { succeeded: true, found: Some(value("c")) };
        let inconsistent = [Entry::completed(1, "k", op, 0, 1, outcome)];
        let error = check(&inconsistent, &config).unwrap_err();
        assert_eq!(error, HistoryError::InconsistentCompareAndSet { index: 0, succeeded: true });
        assert!(error.to_string().contains("entry 0"), "{error}");
    }

    #[test]
    fn explanation_reads_well() {
        let history = [
            put(1, "k", "a", 0, 10),
            put(2, "k", "b", 20, 30),
            get(3, "k", Some("a"), 40, 50),
            Entry::completed(4, vec![0xff, 0x00], Op::Get, 0, 1, Outcome::Read(Some(Value(vec![1, 2])))),
        ];
        let text = verdict(&history).to_string();
        let expected = "\
key \"k\" is not linearizable: these 3 operations cannot be ordered consistently with their outcomes and real \
time, even if every other operation on the key that may have taken effect did so at any time after its \
invocation, or never:
  #0 client 1: put \"a\" -> ok  [invoked 0 ns, completed 10 ns]
  #1 client 2: put \"b\" -> ok  [invoked 20 ns, completed 30 ns]
  #2 client 3: get -> \"a\"  [invoked 40 ns, completed 50 ns]  <- culprit
the key's history (3 entries) stops being linearizable when #2 completes (3 entries invoked by then)
other keys not linearizable: 0xff00";
        assert_eq!(text, expected);
    }

    // -----------------------------------------------------------------------------------------
    // Generated histories.

    /// A small deterministic generator (SplitMix64), so the big tests need no dependency.
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }
    }

    /// What one generated operation is, before the model gives it an outcome.
    #[derive(Clone, Copy, Debug)]
    struct Plan {
        key: u8,
        /// 0 get, 1 put, 2 remove, 3 compare-and-set.
        kind: u8,
        /// Which value to write, or for a compare-and-set: even, expect the current value; odd,
        /// expect this value.
        value: u8,
        /// 0: times out after taking effect; 1: times out without taking effect; 2: fails; else
        /// completes.
        fate: u8,
    }

    /// One generated operation: its plan, its client, its interval and its linearization point
    /// (which orders the model's steps).
    struct Timed {
        plan: Plan,
        client: u64,
        invoked_at: u64,
        point: u64,
        completed_at: u64,
    }

    /// Runs the operations on a model store in the order of their linearization points and records
    /// what their clients saw: a linearizable history by construction.
    fn run_model(mut timed: Vec<Timed>, unique_values: bool) -> Vec<Entry> {
        timed.sort_by_key(|op| op.point);
        let mut store: BTreeMap<Vec<u8>, Value> = BTreeMap::new();
        let mut history = Vec::new();
        for (serial, op) in timed.iter().enumerate() {
            let key = format!("key{}", op.plan.key).into_bytes();
            let current = store.get(&key).cloned();
            let written = if unique_values {
                Value::from(format!("v{}.{serial}", op.client).as_str())
            } else {
                Value::from(format!("v{}", op.plan.value % 4).as_str())
            };
            let takes_effect = op.plan.fate == 0 || op.plan.fate > 2;
            let (request, outcome, effect) = match op.plan.kind % 4 {
                0 => (Op::Get, Outcome::Read(current.clone()), None),
                1 => (Op::Put { value: written.clone() }, Outcome::Ok, Some(Some(written))),
                2 => (Op::Remove, Outcome::Ok, Some(None)),
                _ => {
                    let expected = if op.plan.value % 2 == 0 {
                        current.clone()
                    } else if op.plan.value % 4 == 1 {
                        None
                    } else {
                        Some(Value::from(format!("v{}", op.plan.value % 4).as_str()))
                    };
                    let new = (op.plan.value != 7).then_some(written);
                    let succeeded = expected == current;
                    let effect = succeeded.then(|| new.clone());
                    (Op::CompareAndSet { expected, new }, Outcome::compare_and_set(succeeded), effect)
                }
            };
            if takes_effect && let Some(effect) = effect {
                match effect {
                    Some(value) => store.insert(key.clone(), value),
                    None => store.remove(&key),
                };
            }
            let completion = match op.plan.fate {
                0 | 1 => Completion::Unknown,
                2 => Completion::Failed,
                _ => Completion::Completed { at: op.completed_at, outcome },
            };
            history.push(Entry { client: op.client, key, op: request, invoked_at: op.invoked_at, completion });
        }
        // Hand the checker the history in invocation order, as a recorder would.
        history.sort_by_key(|entry| entry.invoked_at);
        history
    }

    /// A history from plans: each operation's linearization point is 1000 ns after the previous
    /// one; its interval stretches `before` and `after` around it (sequential when both are small).
    fn history_from(plans: &[(Plan, u64, u64, u64)], unique_values: bool) -> Vec<Entry> {
        let timed = plans
            .iter()
            .enumerate()
            .map(|(serial, &(plan, client, before, after))| {
                let point = 5_000 + 1_000 * serial as u64;
                Timed { plan, client, invoked_at: point - before, point, completed_at: point + after }
            })
            .collect();
        run_model(timed, unique_values)
    }

    /// `count` operations by `clients` clients on `keys` keys: each client runs one operation at a
    /// time, with a random latency, and the operation takes effect at a random point of its interval.
    fn concurrent_history(seed: u64, count: usize, keys: u8, clients: u64) -> Vec<Entry> {
        let mut random = SplitMix(seed);
        let mut free_at = vec![0u64; clients as usize];
        let mut timed = Vec::with_capacity(count);
        for _ in 0..count {
            let client = random.below(clients);
            let invoked_at = free_at[client as usize] + random.below(50);
            let latency = 10 + random.below(1_000);
            // Points are unique: the low bits carry the client.
            let point = (invoked_at + 1 + random.below(latency - 1)) * 8 + client;
            let fate = match random.below(100) {
                0..3 => 0,
                3..5 => 1,
                5..7 => 2,
                _ => 3,
            };
            let plan = Plan {
                key: random.below(u64::from(keys)) as u8,
                kind: random.below(4) as u8,
                value: random.below(8) as u8,
                fate,
            };
            let completed_at = invoked_at + latency;
            free_at[client as usize] = if fate < 2 { invoked_at + 2_000 } else { completed_at + 1 };
            timed.push(Timed { plan, client, invoked_at: invoked_at * 8, point, completed_at: completed_at * 8 + 7 });
        }
        run_model(timed, true)
    }

    #[test]
    fn generated_concurrent_histories_are_linearizable() {
        for seed in 0..20 {
            let history = concurrent_history(seed, 300, 3, 5);
            assert_eq!(verdict(&history), Verdict::Linearizable, "seed {seed}");
        }
    }

    /// Replaces the outcome of the `which`-th completed get (counting around) with a value nothing
    /// wrote; returns its position, or `None` if there is no completed get.
    fn corrupt_a_read(history: &mut [Entry], which: usize) -> Option<usize> {
        let reads: Vec<usize> = (0..history.len())
            .filter(|&index| {
                history[index].op == Op::Get && matches!(history[index].completion, Completion::Completed { .. })
            })
            .collect();
        let index = *reads.get(which % reads.len().max(1))?;
        if let Completion::Completed { outcome, .. } = &mut history[index].completion {
            *outcome = Outcome::Read(value("never written"));
        }
        Some(index)
    }

    /// Makes the `which`-th completed get (counting around) that can be made stale return the first
    /// value put on its key, long overwritten; returns its position.
    fn make_a_read_stale(history: &mut [Entry], which: usize) -> Option<usize> {
        let reads: Vec<usize> = (0..history.len())
            .filter(|&index| {
                history[index].op == Op::Get && matches!(history[index].completion, Completion::Completed { .. })
            })
            .collect();
        for attempt in 0..reads.len() {
            let index = reads[(which + attempt) % reads.len()];
            let first_put = history.iter().find_map(|entry| match (&entry.op, &entry.completion) {
                (Op::Put { value }, Completion::Completed { at, .. })
                    if entry.key == history[index].key && at + 20_000 < history[index].invoked_at =>
                {
                    Some(value.clone())
                }
                _ => None,
            });
            let Some(first_put) = first_put else { continue };
            if let Completion::Completed { outcome: Outcome::Read(read), .. } = &mut history[index].completion
                && read.as_ref() != Some(&first_put)
            {
                *read = Some(first_put);
                return Some(index);
            }
        }
        None
    }

    #[test]
    fn two_thousand_operations_on_twenty_keys_by_five_clients() {
        let history = concurrent_history(7, 2_000, 20, 5);
        let started = std::time::Instant::now();
        let reports = check_by_key(&history, &CheckConfig::default()).unwrap();
        let elapsed = started.elapsed();
        assert_eq!(reports.len(), 20);
        assert!(reports.values().all(|report| report.verdict == KeyVerdict::Linearizable));
        let states: u64 = reports.values().map(|report| report.states).sum();
        println!("2000 linearizable operations: {elapsed:?}, {states} states");
        for (corruption, seed) in
            [("a read of a value never written", 1_234), ("a stale read", 777), ("a stale read", 1_500)]
        {
            let mut history = history.clone();
            let read = if corruption == "a stale read" {
                make_a_read_stale(&mut history, seed).unwrap()
            } else {
                corrupt_a_read(&mut history, seed).unwrap()
            };
            let started = std::time::Instant::now();
            let result = verdict(&history);
            let elapsed = started.elapsed();
            println!("2000 operations with {corruption}, explained: {elapsed:?}");
            let Verdict::NotLinearizable { evidence, .. } = result else { panic!("{result}") };
            assert_eq!(evidence.culprit, read, "{evidence}");
            assert!(evidence.minimal && evidence.earliest, "{evidence}");
            if corruption == "a stale read" {
                // The put of the value read, a later write, and the read.
                assert_eq!(evidence.ops.len(), 3, "{evidence}");
            } else {
                assert_eq!(cited(&evidence), [read]);
            }
        }
    }

    /// An independent oracle for small histories on one key: tries every order of every subset of
    /// the unknown operations, on the entries themselves.
    fn brute_force(entries: &[Entry]) -> bool {
        let ops: Vec<&Entry> = entries
            .iter()
            .filter(|entry| match entry.completion {
                Completion::Failed => false,
                Completion::Unknown => entry.op != Op::Get,
                Completion::Completed { .. } => true,
            })
            .collect();
        assert!(ops.len() <= 16);
        let completed_at = |entry: &Entry| match entry.completion {
            Completion::Completed { at, .. } => Some(at),
            _ => None,
        };
        fn apply(state: &Option<Value>, entry: &Entry) -> Option<Option<Value>> {
            match (&entry.op, &entry.completion) {
                (Op::Put { value }, _) => Some(Some(value.clone())),
                (Op::Remove, _) => Some(None),
                (Op::Get, Completion::Completed { outcome: Outcome::Read(read), .. }) => {
                    (read == state).then(|| state.clone())
                }
                (Op::CompareAndSet { expected, new }, Completion::Unknown) => {
                    Some(if expected == state { new.clone() } else { state.clone() })
                }
                (
                    Op::CompareAndSet { expected, new },
                    Completion::Completed { outcome: Outcome::CompareAndSet { succeeded, found }, .. },
                ) => {
                    if found.as_ref().is_some_and(|found| found != state) || (expected == state) != *succeeded {
                        None
                    } else {
                        Some(if *succeeded { new.clone() } else { state.clone() })
                    }
                }
                _ => unreachable!("a malformed entry: {entry}"),
            }
        }
        let mut dead_ends: BTreeSet<(u32, Option<Value>)> = BTreeSet::new();
        let mut stack = vec![(0u32, None::<Value>)];
        while let Some((placed, state)) = stack.pop() {
            let unplaced = |index: usize| placed & (1 << index) == 0;
            if (0..ops.len()).all(|index| !unplaced(index) || completed_at(ops[index]).is_none()) {
                return true;
            }
            if !dead_ends.insert((placed, state.clone())) {
                continue;
            }
            for (index, op) in ops.iter().enumerate().filter(|&(index, _)| unplaced(index)) {
                let must_wait = (0..ops.len()).any(|other| {
                    other != index && unplaced(other) && completed_at(ops[other]).is_some_and(|at| at < op.invoked_at)
                });
                if let (false, Some(after)) = (must_wait, apply(&state, op)) {
                    stack.push((placed | 1 << index, after));
                }
            }
        }
        false
    }

    /// The history with every entry of `key` but those in `keep` weakened: completed ones become
    /// unknown (reads are dropped), failed ones stay failed; and the entries invoked after `cut` are
    /// dropped.
    fn weaken_all_but(history: &[Entry], keep: &[usize], cut: u64) -> Vec<Entry> {
        history
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.invoked_at <= cut)
            .filter_map(|(index, entry)| match &entry.completion {
                Completion::Completed { .. } if !keep.contains(&index) => {
                    (entry.op != Op::Get).then(|| timed_out(entry.clone()))
                }
                _ => Some(entry.clone()),
            })
            .collect()
    }

    /// The completed entries of a history as (completion, invocation, index), in the order the checker
    /// ranks completions.
    fn completion_order(history: &[Entry]) -> Vec<(u64, u64, usize)> {
        let mut completed: Vec<(u64, u64, usize)> = history
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| match entry.completion {
                Completion::Completed { at, .. } => Some((at, entry.invoked_at, index)),
                _ => None,
            })
            .collect();
        completed.sort_unstable();
        completed
    }

    /// Whether the history cut at the `count`-th completion is linearizable, by brute force.
    fn first_completions_linearizable(history: &[Entry], completed: &[(u64, u64, usize)], count: usize) -> bool {
        if count == 0 {
            return true;
        }
        let first: Vec<usize> = completed[..count].iter().map(|&(.., index)| index).collect();
        brute_force(&weaken_all_but(history, &first, completed[count - 1].0))
    }

    fn small_entry() -> impl Strategy<Value = Entry> {
        let text = prop_oneof![Just(None), Just(value("a")), Just(value("b")), Just(value("c"))];
        ((0u64..60, 0u64..40, 0u8..4, 0u8..10), (text.clone(), text.clone(), text, any::<bool>(), any::<bool>()))
            .prop_map(|((invoked_at, latency, kind, fate), (first, second, read, succeeded, reports))| {
                let op = match kind {
                    0 => Op::Get,
                    1 => Op::Put { value: first.clone().unwrap_or_else(|| Value::from("a")) },
                    2 => Op::Remove,
                    _ => Op::CompareAndSet { expected: first.clone(), new: second },
                };
                let outcome = match &op {
                    Op::Get => Outcome::Read(read),
                    Op::Put { .. } | Op::Remove => Outcome::Ok,
                    Op::CompareAndSet { .. } => {
                        // A consistent report: a success found the expected value, a failure another.
                        let found = if succeeded { Some(first) } else { (read != first).then_some(read) };
                        Outcome::CompareAndSet { succeeded, found: found.filter(|_| reports) }
                    }
                };
                let completion = match fate {
                    0 | 1 => Completion::Unknown,
                    2 => Completion::Failed,
                    _ => Completion::Completed { at: invoked_at + latency, outcome },
                };
                Entry { client: u64::from(kind), key: b"k".to_vec(), op, invoked_at, completion }
            })
    }

    /// Entries with few values and many unknown ones, so that many are twins (unknown operations with
    /// the same action), which the searches treat specially.
    fn twin_heavy_entry() -> impl Strategy<Value = Entry> {
        let text = prop_oneof![Just(None), Just(value("a")), Just(value("b"))];
        ((0u64..40, 0u64..30, 0u8..6, 0u8..4), (text.clone(), text.clone(), text, any::<bool>())).prop_map(
            |((invoked_at, latency, kind, fate), (first, second, read, succeeded))| {
                let op = match kind {
                    0 => Op::Get,
                    1 | 2 => Op::Put { value: first.clone().unwrap_or_else(|| Value::from("b")) },
                    3 => Op::Remove,
                    _ => Op::CompareAndSet { expected: first, new: second },
                };
                let outcome = match &op {
                    Op::Get => Outcome::Read(read),
                    Op::Put { .. } | Op::Remove => Outcome::Ok,
                    Op::CompareAndSet { .. } => Outcome::compare_and_set(succeeded),
                };
                let completion = match fate {
                    0 | 1 => Completion::Unknown,
                    _ => Completion::Completed { at: invoked_at + latency, outcome },
                };
                Entry { client: u64::from(kind), key: b"k".to_vec(), op, invoked_at, completion }
            },
        )
    }

    fn plan() -> impl Strategy<Value = Plan> {
        (0u8..3, 0u8..4, 0u8..8, 0u8..12).prop_map(|(key, kind, value, fate)| Plan { key, kind, value, fate })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]
        #[test]
        fn agrees_with_brute_force_and_its_evidence_holds(history in prop::collection::vec(small_entry(), 0..9)) {
            let expected = brute_force(&history);
            let result = verdict(&history);
            prop_assert_eq!(result.is_linearizable(), expected, "{}", result);
            // Each search engine alone agrees too, and what it says of its frontier holds.
            let keys = partition(&history).unwrap();
            if let Some(key_history) = keys.get(b"k".as_slice()) {
                let prepared = Prepared::new(&key_history.ops);
                let completed = completion_order(&history);
                for (engine, searched) in [
                    ("depth first", search_depth_first(&prepared, 1_000_000)),
                    ("layered", search_layered(&prepared, 1_000_000)),
                ] {
                    prop_assert_eq!(searched.found == Found::Linearizable, expected, "{}", engine);
                    prop_assert!(first_completions_linearizable(&history, &completed, searched.frontier), "{}", engine);
                }
            }
            let Verdict::NotLinearizable { evidence, .. } = result else { return Ok(()) };
            let keep = cited(&evidence);
            prop_assert!(keep.contains(&evidence.culprit));
            let Completion::Completed { at: cut, .. } = history[evidence.culprit].completion else {
                return Err(TestCaseError::fail("the culprit did not complete"));
            };
            // The claim: the cited operations cannot be ordered, whatever the others did.
            prop_assert!(!brute_force(&weaken_all_but(&history, &keep, cut)), "{}", evidence);
            // Earliest: the key's history was linearizable until just before the culprit completed.
            prop_assert!(evidence.earliest);
            let completed = completion_order(&history);
            let rank = completed.iter().position(|&(.., index)| index == evidence.culprit).unwrap();
            prop_assert!(first_completions_linearizable(&history, &completed, rank), "{}", evidence);
            // Minimal: none of them can be spared.
            prop_assert!(evidence.minimal);
            for spared in &keep {
                let fewer: Vec<usize> = keep.iter().copied().filter(|index| index != spared).collect();
                prop_assert!(brute_force(&weaken_all_but(&history, &fewer, cut)), "#{} spared: {}", spared, evidence);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]
        #[test]
        fn agrees_with_brute_force_on_many_twins(history in prop::collection::vec(twin_heavy_entry(), 0..13)) {
            let expected = brute_force(&history);
            prop_assert_eq!(verdict(&history).is_linearizable(), expected);
            let keys = partition(&history).unwrap();
            if let Some(key_history) = keys.get(b"k".as_slice()) {
                let prepared = Prepared::new(&key_history.ops);
                prop_assert_eq!(search_depth_first(&prepared, 1_000_000).found == Found::Linearizable, expected);
                prop_assert_eq!(search_layered(&prepared, 1_000_000).found == Found::Linearizable, expected);
            }
        }
    }

    proptest! {
        #[test]
        fn sequential_histories_are_linearizable(
            plans in prop::collection::vec((plan(), 0u64..4, 0u64..5, 0u64..5), 0..40),
        ) {
            let history = history_from(&plans, false);
            prop_assert_eq!(verdict(&history), Verdict::Linearizable);
        }

        #[test]
        fn overlapping_histories_with_a_valid_order_are_linearizable(
            plans in prop::collection::vec((plan(), 0u64..5, 0u64..2_500, 0u64..2_500), 0..40),
        ) {
            let history = history_from(&plans, false);
            prop_assert_eq!(verdict(&history), Verdict::Linearizable);
        }

        #[test]
        fn a_read_of_a_value_never_written_is_never_linearizable(
            plans in prop::collection::vec((plan(), 0u64..5, 0u64..2_500, 0u64..2_500), 1..40),
            which in 0usize..40,
        ) {
            let mut history = history_from(&plans, false);
            let Some(read) = corrupt_a_read(&mut history, which) else { return Ok(()) };
            let result = verdict(&history);
            let Verdict::NotLinearizable { key, evidence, .. } = result else {
                return Err(TestCaseError::fail(format!("{result}")));
            };
            prop_assert_eq!(&key, &history[read].key);
            prop_assert_eq!(evidence.culprit, read);
            prop_assert_eq!(cited(&evidence), [read]);
            prop_assert!(evidence.minimal);
        }
    }
}
