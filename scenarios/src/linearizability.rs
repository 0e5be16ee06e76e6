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
//! Wing & Gong search: pick an operation that may go next (invoked before the earliest completion
//! among the operations not yet placed), apply it to the register, recurse, backtrack when stuck. The
//! search keeps operations in a doubly linked list of invocation and completion events so that the
//! candidates are the invocations before the first completion (Lowe's just-in-time linearization),
//! and it remembers every configuration it has reached — the set of placed operations together with
//! the register's value — so that no configuration is explored twice (Lowe; Horn & Kroening). The
//! search is an explicit stack, not recursion, so long histories do not exhaust the thread's stack.
//!
//! Unknown operations need care, as each one doubles the configurations. The checker never places an
//! unknown operation where it would change nothing (a compare-and-set that would fail, a write of the
//! value already there: both are the same as leaving it out), and it leaves out altogether an unknown
//! write whose value no completed operation could need (see [`inert`]); the rest are placed or left
//! out as the search likes. A timed-out read constrains nothing and is ignored, as is every failed
//! operation.
//!
//! The search is bounded: [`CheckConfig::states_max`] configurations per key. A key whose search
//! reaches the bound is reported [`Verdict::Unknown`], never guessed.
//!
//! When a key is not linearizable, the checker explains why with an [`Evidence`]: it finds the
//! shortest prefix of the key's history (cut at a completion; operations still pending at the cut
//! count as unknown) that is already not linearizable — the operation completing at the cut is the
//! culprit — and then shrinks the completed operations of that prefix to a small set that cannot be
//! ordered, even if every other operation of the key that may have taken effect is allowed to take
//! effect at any time after its invocation, or never. Every step of that shrinking is checked, so the
//! set is a real proof of the violation; when the budget runs out before the set is as small as it
//! can be, the evidence says so ([`Evidence::minimal`]).
//!
//! Times are nanoseconds of virtual time. Two events at the same instant are taken as concurrent: an
//! operation invoked at the very instant another completed may be ordered before it. That errs
//! towards accepting a history, never towards a false violation.
//!
//! Everything is deterministic: ordered maps only, ties broken by position in the history.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The default for [`CheckConfig::states_max`]: about a second of search for one key at worst.
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
    /// violation may explore as many again.
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
    /// Position in the history of the culprit, one of `ops`: the history of the key up to the
    /// culprit's completion is not linearizable. When `minimal`, it was linearizable up to just
    /// before that completion.
    pub culprit: usize,
    /// Whether the search finished shrinking: the prefix ending at the culprit is the shortest that
    /// is not linearizable, and no operation of `ops` can be dropped. When false, the budget ran out
    /// first: the evidence still holds, it may just not be the smallest.
    pub minimal: bool,
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
            if self.minimal { "stops being linearizable when" } else { "is not linearizable by the time" },
            self.culprit,
            self.prefix_entries,
        )?;
        if !self.minimal {
            f.write_str("; the search budget ran out while shrinking, so this may not be the smallest evidence")?;
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
        match search(&key_history.ops, config.states_max).0 {
            Found::Linearizable => {}
            Found::NotLinearizable => bad.push(*key),
            Found::Exhausted => unknown.push(key.to_vec()),
        }
    }
    let Some((first, rest)) = bad.split_first() else {
        return Ok(if unknown.is_empty() { Verdict::Linearizable } else { Verdict::Unknown { keys: unknown } });
    };
    let evidence = explain(history, &keys[first], config.states_max);
    Ok(Verdict::NotLinearizable {
        key: first.to_vec(),
        evidence: Box::new(evidence),
        more_keys: rest.iter().map(|key| key.to_vec()).collect(),
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
        let (found, states) = search(&key_history.ops, config.states_max);
        let verdict = match found {
            Found::Linearizable => KeyVerdict::Linearizable,
            Found::NotLinearizable => {
                KeyVerdict::NotLinearizable(Box::new(explain(history, key_history, config.states_max)))
            }
            Found::Exhausted => KeyVerdict::Unknown,
        };
        reports.insert(key.to_vec(), KeyReport { verdict, entries: key_history.entries.len(), states });
    }
    Ok(reports)
}

// ---------------------------------------------------------------------------------------------
// One key's history, ready for the search.

/// The register's value in the search: `ABSENT`, or a value numbered from 1 per key.
type ValueId = u32;

/// The register's value when the key is absent.
const ABSENT: ValueId = 0;

/// What an operation does in the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// A put (of the value) or a remove (`ABSENT`): sets the register.
    Write(ValueId),
    /// A completed get that read the value.
    Read(ValueId),
    /// A compare-and-set; `result` is `None` when unknown.
    CompareAndSet { expected: ValueId, new: ValueId, result: Option<CasResult> },
}

/// What a completed compare-and-set returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
        let id = ValueId::try_from(self.ids.len() + 1).ok()?;
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
        let mismatch = || HistoryError::OutcomeMismatch {
            index,
            op: entry.op.clone(),
            outcome: outcome.cloned().unwrap_or(Outcome::Ok),
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
            (_, Some(_)) => return Err(mismatch()),
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

/// Which unknown operations the search can leave out without looking: unknown reads, and unknown
/// writes whose value (the put's value, absent for a remove, the new value of a compare-and-set)
/// nothing needs.
///
/// A value `v` is needed if a completed read returned it, a compare-and-set expects it, or a
/// compare-and-set reports finding it. If no completed compare-and-set failed without saying what it
/// found, an unknown write of an unneeded `v` can always be left out: in any order that places it,
/// the operation right after it sees `v`, so it is neither a read nor a compare-and-set (they would
/// need `v`) but a write, which overwrites `v` whatever was there before; so dropping the unknown
/// write changes no outcome. A compare-and-set that failed without saying what it found only needs
/// the register to hold anything but its expected value, which any write may provide, so then
/// nothing is left out.
fn inert(ops: &[SearchOp]) -> Vec<bool> {
    let values = ops
        .iter()
        .map(|op| match op.action {
            Action::Write(value) | Action::Read(value) => value,
            Action::CompareAndSet { expected, new, result } => {
                expected.max(new).max(result.and_then(|result| result.found).unwrap_or(ABSENT))
            }
        })
        .max()
        .map_or(0, |max| max as usize + 1);
    let mut needed = vec![false; values];
    let mut blind_failure = false;
    for op in ops {
        match op.action {
            Action::Read(value) if op.is_completed() => needed[value as usize] = true,
            Action::Read(_) | Action::Write(_) => {}
            Action::CompareAndSet { expected, result, .. } => {
                needed[expected as usize] = true;
                match result {
                    Some(CasResult { found: Some(found), .. }) => needed[found as usize] = true,
                    Some(CasResult { succeeded: false, found: None }) => blind_failure = true,
                    Some(CasResult { succeeded: true, found: None }) | None => {}
                }
            }
        }
    }
    ops.iter()
        .map(|op| {
            !op.is_completed()
                && match op.action {
                    Action::Read(_) => true,
                    Action::Write(value) | Action::CompareAndSet { new: value, .. } => {
                        !blind_failure && !needed[value as usize]
                    }
                }
        })
        .collect()
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
            invocation: vec![usize::MAX; ops.len()],
            completion: vec![None; ops.len()],
            tail,
        };
        for (position, &(_, is_completion, op)) in events.iter().enumerate() {
            let node = position + 1;
            list.op[node] = op;
            list.is_completion[node] = is_completion;
            if is_completion {
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

/// Writes the memo key of a configuration into `key`: the register's value, one past the highest
/// placed operation, then the operations below it not placed. Operations are in invocation order,
/// so the placed ones are mostly a prefix and the key stays short.
fn memo_key(placed: &[u64], state: ValueId, key: &mut Vec<u32>) {
    key.clear();
    key.push(state);
    let Some(top) = placed.iter().rposition(|&word| word != 0) else {
        key.push(0);
        return;
    };
    let top_bits = 64 - placed[top].leading_zeros() as usize;
    let upper = top * 64 + top_bits;
    // `partition` checked that operation numbers fit in a u32.
    key.push(upper as u32);
    for (word_index, &word) in placed[..=top].iter().enumerate() {
        let mut holes = !word;
        if word_index == top && top_bits < 64 {
            holes &= (1u64 << top_bits) - 1;
        }
        while holes != 0 {
            key.push((word_index * 64 + holes.trailing_zeros() as usize) as u32);
            holes &= holes - 1;
        }
    }
}

/// Searches for a linearization of `ops` (in invocation order), exploring at most `states_max`
/// configurations. Returns what it found and how many configurations it explored.
fn search(ops: &[SearchOp], states_max: u64) -> (Found, u64) {
    let inert = inert(ops);
    let live: Vec<SearchOp> = ops.iter().zip(&inert).filter(|(_, inert)| !**inert).map(|(op, _)| *op).collect();
    let mut remaining = live.iter().filter(|op| op.is_completed()).count();
    if remaining == 0 {
        return (Found::Linearizable, 0);
    }
    let mut events = Events::new(&live);
    let mut placed = vec![0u64; live.len().div_ceil(64)];
    let mut memo: BTreeSet<Box<[u32]>> = BTreeSet::new();
    let mut key = Vec::new();
    // The placed operations, latest last, each with the register's value before it.
    let mut stack: Vec<(usize, ValueId)> = Vec::new();
    let mut state = ABSENT;
    let mut explored = 0u64;
    let mut node = events.next[HEAD];
    loop {
        if remaining == 0 {
            return (Found::Linearizable, explored);
        }
        if node == events.tail || events.is_completion[node] {
            // Every operation that may go next has been tried here: undo the latest placement.
            let Some((op, before)) = stack.pop() else {
                return (Found::NotLinearizable, explored);
            };
            state = before;
            placed[op / 64] &= !(1u64 << (op % 64));
            if live[op].is_completed() {
                remaining += 1;
            }
            events.unlift(op);
            node = events.next[events.invocation[op]];
            continue;
        }
        let op = events.op[node];
        if let Some(after) = step(state, &live[op]) {
            placed[op / 64] |= 1u64 << (op % 64);
            memo_key(&placed, after, &mut key);
            if !memo.contains(key.as_slice()) {
                if explored == states_max {
                    return (Found::Exhausted, explored);
                }
                explored += 1;
                memo.insert(key.as_slice().into());
                stack.push((op, state));
                state = after;
                events.lift(op);
                if live[op].is_completed() {
                    remaining -= 1;
                }
                node = events.next[HEAD];
                continue;
            }
            placed[op / 64] &= !(1u64 << (op % 64));
        }
        node = events.next[node];
    }
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

/// Explains why a key's history, known not to be linearizable, is not.
fn explain(history: &[Entry], key_history: &KeyHistory, states_max: u64) -> Evidence {
    let ops = &key_history.ops;
    let mut completions: Vec<usize> = (0..ops.len()).filter(|&position| ops[position].is_completed()).collect();
    completions.sort_by_key(|&position| (ops[position].completed_at, ops[position].invoked_at, position));
    assert!(!completions.is_empty(), "a history with no completed operation is linearizable");
    let mut rank = vec![usize::MAX; ops.len()];
    for (order, &position) in completions.iter().enumerate() {
        rank[position] = order;
    }
    let completed_at = |position: usize| ops[position].completed_at.unwrap_or(u64::MAX);
    let mut budget = states_max;
    // Each check gets a slice of the budget, so one hard check does not starve the others.
    let check_states_max = (states_max / 8).max(1);
    let run = |candidate: &[SearchOp], budget: &mut u64| {
        let (found, explored) = search(candidate, check_states_max.min(*budget));
        *budget -= explored;
        found
    };
    let mut minimal = true;

    // The shortest non-linearizable prefix: the first `count` completions, cut at the last of them.
    // Prefixes of a linearizable history are linearizable, so a binary search finds it.
    let (mut linearizable, mut not_linearizable) = (0, completions.len());
    while not_linearizable - linearizable > 1 {
        let count = linearizable + (not_linearizable - linearizable) / 2;
        let strong: Vec<bool> = rank.iter().map(|&order| order < count).collect();
        match run(&view(ops, completed_at(completions[count - 1]), &strong), &mut budget) {
            Found::Linearizable => linearizable = count,
            Found::NotLinearizable => not_linearizable = count,
            Found::Exhausted => {
                minimal = false;
                break;
            }
        }
    }
    let culprit = completions[not_linearizable - 1];
    let cut = completed_at(culprit);
    let mut strong: Vec<bool> = rank.iter().map(|&order| order < not_linearizable).collect();

    // Shrink: weaken chunks of the completed operations (halving the chunks down to single ones) and
    // keep each weakening that leaves the prefix not linearizable. Weakening only adds freedom, so an
    // operation that could not be weakened never can be later: the result is minimal.
    let mut candidates: Vec<usize> =
        (0..ops.len()).filter(|&position| strong[position] && position != culprit).collect();
    let mut chunk = candidates.len();
    while chunk > 0 && !candidates.is_empty() {
        let mut start = 0;
        while start < candidates.len() {
            let end = (start + chunk).min(candidates.len());
            for &position in &candidates[start..end] {
                strong[position] = false;
            }
            let found = if budget == 0 { Found::Exhausted } else { run(&view(ops, cut, &strong), &mut budget) };
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
        assert!(evidence.minimal);
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
        assert_eq!(cited(&evidence), [0, 1, 2]);
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
        assert_eq!(cited(&evidence), [0, 1, 2, 3]);
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
        assert_eq!(cited(&evidence), [0, 1, 2]);
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
        let mut outcomes = BTreeSet::new();
        for states_max in 0..40 {
            let result = check(&good, &CheckConfig { states_max }).unwrap();
            assert!(matches!(result, Verdict::Linearizable | Verdict::Unknown { .. }), "{result}");
            outcomes.insert(result.is_linearizable());
        }
        assert_eq!(outcomes.len(), 2, "small bounds give unknown, larger ones the answer");
    }

    #[test]
    fn tiny_explanation_budget_still_gives_true_evidence() {
        let bad = hard_history(5);
        let reports = check_by_key(&bad, &CheckConfig::default()).unwrap();
        let states = reports[b"k".as_slice()].states;
        // Enough to decide, too little to shrink the evidence fully.
        let result = check(&bad, &CheckConfig { states_max: states }).unwrap();
        let Verdict::NotLinearizable { evidence, .. } = result else { panic!("{result}") };
        assert!(evidence.ops.iter().any(|op| op.index == evidence.culprit));
        let full = evidence_of(&bad);
        assert!(full.minimal);
        assert!(evidence.ops.len() >= full.ops.len());
    }

    fn evidence_of(history: &[Entry]) -> Evidence {
        match verdict(history) {
            Verdict::NotLinearizable { evidence, .. } => *evidence,
            other => panic!("{other}"),
        }
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

    #[test]
    fn two_thousand_operations_on_twenty_keys_by_five_clients() {
        let mut history = concurrent_history(7, 2_000, 20, 5);
        let started = std::time::Instant::now();
        let reports = check_by_key(&history, &CheckConfig::default()).unwrap();
        let elapsed = started.elapsed();
        assert_eq!(reports.len(), 20);
        assert!(reports.values().all(|report| report.verdict == KeyVerdict::Linearizable));
        let states: u64 = reports.values().map(|report| report.states).sum();
        println!("2000 linearizable operations: {elapsed:?}, {states} states");
        let read = corrupt_a_read(&mut history, 1_234).unwrap();
        let started = std::time::Instant::now();
        let result = verdict(&history);
        let elapsed = started.elapsed();
        println!("2000 operations with a bad read, explained: {elapsed:?}");
        let Verdict::NotLinearizable { evidence, .. } = result else { panic!("{result}") };
        assert_eq!(cited(&evidence), [read]);
    }

    fn plan() -> impl Strategy<Value = Plan> {
        (0u8..3, 0u8..4, 0u8..8, 0u8..12).prop_map(|(key, kind, value, fate)| Plan { key, kind, value, fate })
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
