//! The storage contract as an executable model (see `core/src/storage.rs` for its text).
//!
//! The contract leaves a store some freedom: after a failure or a crash it may keep none, some or
//! all of the batches written since the last good sync (whole: a batch a crash tore is dropped,
//! never read back). The model therefore tracks a set of candidate states, each one a way the store may be,
//! and checks every answer against them: an `Ok` read must match some candidate (which narrows the
//! set to the ones it matches), and an error must be one the contract allows at that point.

use crate::steps::{KEYS_MAX, ValueId, key_bytes, table_name};
use pangea_core::StorageError;
use pangea_core::storage::Pairs;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Most candidate states the model keeps; beyond it, it keeps the first ones in order and notes
/// that it did (a disagreement found after that may be a false one, and says so).
pub const CANDIDATES_MAX: usize = 4096;

/// Which contract the model checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contract {
    /// The contract of `core/src/storage.rs`: a failure poisons the store until it is reopened.
    Poisoning,
    /// The contract the simulator followed before: a full disk or an I/O error refuses that one
    /// operation, changes nothing, and the store keeps working; reopening is not needed.
    RefusesOneOperation,
}

/// What kind of disagreement the model found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisagreementKind {
    /// `Full` or `Io` although no fault fired during the operation.
    SpuriousFailure,
    /// `Poisoned` although no failure poisoned the store.
    UnexpectedPoisoned,
    /// A poisoned store answered something other than `Poisoned` (with the right cause).
    NotRefusedWhilePoisoned,
    /// An error the contract does not allow for this operation.
    UnexpectedError,
    /// A read's answer matches no state the store may be in.
    NoCandidateMatches,
    /// `Storage::failure` does not name the failure that poisoned the store.
    WrongFailure,
}

/// An answer that breaks the contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// What broke.
    pub kind: DisagreementKind,
    /// The operation, the answer and what the contract allowed.
    pub detail: String,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.detail)
    }
}

fn disagree(kind: DisagreementKind, detail: String) -> Disagreement {
    Disagreement { kind, detail }
}

/// A (table number, key number) pair.
pub type Slot = (u8, u8);

/// A stored value. A crash never tears one: the contract drops a torn batch whole, so every read
/// answers a whole value or nothing, and `Corrupt` (rot, which this harness does not inject) is
/// always a disagreement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Stored {
    value: ValueId,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Change {
    slot: Slot,
    /// `None` removes the key.
    value: Option<Stored>,
}

/// One state the store may be in.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Candidate {
    /// What survives anything: the state as of the last good sync.
    durable: BTreeMap<Slot, Stored>,
    /// Batches written since the last good sync, in order.
    unsynced: Vec<Vec<Change>>,
}

impl Candidate {
    /// What a read of `slot` sees.
    fn view(&self, slot: Slot) -> Option<Stored> {
        for batch in self.unsynced.iter().rev() {
            if let Some(change) = batch.iter().rev().find(|change| change.slot == slot) {
                return change.value;
            }
        }
        self.durable.get(&slot).copied()
    }

    /// Applies every unsynced batch to the durable state.
    fn make_durable(&mut self) {
        for change in std::mem::take(&mut self.unsynced).into_iter().flatten() {
            match change.value {
                Some(stored) => {
                    self.durable.insert(change.slot, stored);
                }
                None => {
                    self.durable.remove(&change.slot);
                }
            }
        }
    }

    /// The candidates that keep a prefix (whole batches) of the unsynced batches.
    fn prefixes(&self) -> impl Iterator<Item = Candidate> + '_ {
        (0..=self.unsynced.len())
            .map(move |kept| Candidate { durable: self.durable.clone(), unsynced: self.unsynced[..kept].to_vec() })
    }

    /// The pairs of a range read, in key order, with what may be read for each.
    fn range(&self, table: u8, start: u8, end: Option<u8>, limit: usize) -> Vec<(u8, Stored)> {
        (start..KEYS_MAX)
            .take_while(|key| end.is_none_or(|end| *key < end))
            .filter_map(|key| self.view((table, key)).map(|stored| (key, stored)))
            .take(limit)
            .collect()
    }
}

fn describe(stored: Option<Stored>) -> String {
    match stored {
        None => "absent".to_owned(),
        Some(Stored { value }) => format!("the {} B value of step {} change {}", value.len, value.step, value.change),
    }
}

/// Most characters of an `Ok` answer a transcript shows.
const ANSWER_CHARS_MAX: usize = 120;

/// What a store answered, briefly (values by length, not bytes).
pub fn describe_answer<T: fmt::Debug>(answer: &Result<T, StorageError>) -> String {
    match answer {
        Ok(value) => {
            let text = format!("{value:?}");
            let short: String = text.chars().take(ANSWER_CHARS_MAX).collect();
            if short.len() < text.len() { format!("Ok({short}…)") } else { format!("Ok({text})") }
        }
        Err(error) => format!("Err({error:?})"),
    }
}

fn describe_bytes(bytes: &Option<Vec<u8>>) -> String {
    match bytes {
        None => "Ok(None)".to_owned(),
        Some(bytes) => format!("Ok(Some({} B))", bytes.len()),
    }
}

/// The key number of `key`, if it is one the steps use.
fn key_number(key: &[u8]) -> Option<u8> {
    (0..KEYS_MAX).find(|number| key_bytes(*number) == key)
}

/// The contract as a set of candidate states; see the module doc.
#[derive(Clone, Debug)]
pub struct ContractModel {
    contract: Contract,
    candidates: Vec<Candidate>,
    /// The failure that poisoned the store, while it is poisoned.
    poisoned: Option<StorageError>,
    capped: bool,
}

/// How an answer's error was handled before its value is checked.
enum Flow {
    /// The error was allowed (or the answer needs no more checking).
    Done,
    /// The answer is `Ok` (or `Corrupt`, which no candidate matches): check it against the candidates.
    Check,
}

impl ContractModel {
    /// An empty store under `contract`.
    #[must_use]
    pub fn new(contract: Contract) -> ContractModel {
        ContractModel { contract, candidates: vec![Candidate::default()], poisoned: None, capped: false }
    }

    /// How many states the store may be in.
    #[must_use]
    pub fn candidates(&self) -> usize {
        self.candidates.len()
    }

    /// Whether the model dropped candidates at its cap.
    #[must_use]
    pub fn capped(&self) -> bool {
        self.capped
    }

    /// Checks the error of an operation `what` against poisoning and injected faults; a failure the
    /// contract allows poisons the model (under [`Contract::Poisoning`]).
    fn admit(&mut self, what: &str, error: Option<&StorageError>, fault_fired: bool) -> Result<Flow, Disagreement> {
        if self.contract == Contract::Poisoning
            && let Some(cause) = &self.poisoned
        {
            return match error {
                Some(StorageError::Poisoned { cause: answered }) if **answered == *cause => Ok(Flow::Done),
                Some(other) => Err(disagree(
                    DisagreementKind::NotRefusedWhilePoisoned,
                    format!("{what} answered {other:?}, but the store is poisoned by {cause:?}"),
                )),
                None => Err(disagree(
                    DisagreementKind::NotRefusedWhilePoisoned,
                    format!("{what} succeeded, but the store is poisoned by {cause:?}"),
                )),
            };
        }
        match error {
            None => Ok(Flow::Check),
            Some(error @ StorageError::Poisoned { .. }) => Err(disagree(
                DisagreementKind::UnexpectedPoisoned,
                format!("{what} answered {error:?}, but no failure poisoned the store"),
            )),
            Some(error @ (StorageError::Full(_) | StorageError::Io(_))) => {
                if !fault_fired {
                    return Err(disagree(
                        DisagreementKind::SpuriousFailure,
                        format!("{what} failed with {error:?}, but no fault fired during it"),
                    ));
                }
                if self.contract == Contract::Poisoning {
                    self.poisoned = Some(error.clone());
                }
                Ok(Flow::Done)
            }
            Some(StorageError::Corrupt { .. }) => Ok(Flow::Check),
        }
    }

    /// Keeps the candidates `narrow` maps to some state (deduplicated), or disagrees when none,
    /// naming what the states expected (`expectation` describes one state's).
    fn narrow(
        &mut self,
        what: &str,
        answer: &str,
        narrow: impl Fn(&Candidate) -> Option<Candidate>,
        expectation: impl Fn(&Candidate) -> String,
    ) -> Result<(), Disagreement> {
        let kept: BTreeSet<Candidate> = self.candidates.iter().filter_map(&narrow).collect();
        if kept.is_empty() {
            let expected: BTreeSet<String> = self.candidates.iter().map(expectation).collect();
            let capped = if self.capped { " (the model had dropped candidates at its cap)" } else { "" };
            return Err(disagree(
                DisagreementKind::NoCandidateMatches,
                format!(
                    "{what} answered {answer}, which none of the {} states allowed{capped}; they expected one of \
                     {expected:?}",
                    self.candidates.len()
                ),
            ));
        }
        self.candidates = kept.into_iter().collect();
        Ok(())
    }

    fn replace_candidates(&mut self, candidates: impl Iterator<Item = Candidate>) {
        let mut unique: Vec<Candidate> = candidates.collect::<BTreeSet<_>>().into_iter().collect();
        if unique.len() > CANDIDATES_MAX {
            unique.truncate(CANDIDATES_MAX);
            self.capped = true;
        }
        self.candidates = unique;
    }

    /// Checks the answer of `get(table, key)` of `slot`.
    pub fn get(
        &mut self,
        slot: Slot,
        answer: &Result<Option<Vec<u8>>, StorageError>,
        fault_fired: bool,
    ) -> Result<(), Disagreement> {
        let what = format!("get {}/k{}", table_name(slot.0), slot.1);
        if let Flow::Done = self.admit(&what, answer.as_ref().err(), fault_fired)? {
            return Ok(());
        }
        let described = match answer {
            Ok(bytes) => describe_bytes(bytes),
            Err(error) => format!("Err({error:?})"),
        };
        let expectation = |candidate: &Candidate| describe(candidate.view(slot));
        let narrow = |candidate: &Candidate| match (answer, candidate.view(slot)) {
            (Ok(None), None) => Some(candidate.clone()),
            (Ok(Some(bytes)), Some(stored)) if stored.value.matches(bytes) => Some(candidate.clone()),
            _ => None,
        };
        self.narrow(&what, &described, narrow, expectation)
    }

    /// Checks the answer of a range read of `table` over key numbers `start..end`, at most `limit`.
    pub fn range(
        &mut self,
        table: u8,
        start: u8,
        end: Option<u8>,
        limit: usize,
        answer: &Result<Pairs, StorageError>,
        fault_fired: bool,
    ) -> Result<(), Disagreement> {
        let what = format!("range {}/k{start}..{end:?} limit {limit}", table_name(table));
        if let Flow::Done = self.admit(&what, answer.as_ref().err(), fault_fired)? {
            return Ok(());
        }
        let described = match answer {
            Ok(pairs) => {
                let parts: Vec<String> = pairs
                    .iter()
                    .map(|(key, value)| format!("{}={} B", String::from_utf8_lossy(key), value.len()))
                    .collect();
                format!("Ok([{}])", parts.join(", "))
            }
            Err(error) => format!("Err({error:?})"),
        };
        let expectation = |candidate: &Candidate| {
            let pairs: Vec<String> = candidate
                .range(table, start, end, limit)
                .into_iter()
                .map(|(key, stored)| format!("k{key}: {}", describe(Some(stored))))
                .collect();
            format!("[{}]", pairs.join("; "))
        };
        let narrow = |candidate: &Candidate| {
            let expected = candidate.range(table, start, end, limit);
            let Ok(pairs) = answer else { return None };
            let matches = pairs.len() == expected.len()
                && pairs.iter().zip(&expected).all(|((key, value), (number, stored))| {
                    key_number(key) == Some(*number) && stored.value.matches(value)
                });
            matches.then(|| candidate.clone())
        };
        self.narrow(&what, &described, narrow, expectation)
    }

    /// Checks the answer of writing the batch `changes` (slot, value or removal).
    pub fn write(
        &mut self,
        changes: &[(Slot, Option<ValueId>)],
        answer: &Result<(), StorageError>,
        fault_fired: bool,
    ) -> Result<(), Disagreement> {
        self.mutation("write", answer, fault_fired)?;
        if answer.is_ok() && !changes.is_empty() {
            let batch: Vec<Change> = changes
                .iter()
                .map(|(slot, value)| Change { slot: *slot, value: value.map(|value| Stored { value }) })
                .collect();
            for candidate in &mut self.candidates {
                candidate.unsynced.push(batch.clone());
            }
        }
        Ok(())
    }

    /// Checks the answer of a sync.
    pub fn sync(&mut self, answer: &Result<(), StorageError>, fault_fired: bool) -> Result<(), Disagreement> {
        self.mutation("sync", answer, fault_fired)?;
        if answer.is_ok() {
            self.make_all_durable();
        }
        Ok(())
    }

    /// Every candidate with its unsynced batches made durable (a good sync, a clean close).
    fn make_all_durable(&mut self) {
        let durable: Vec<Candidate> = self
            .candidates
            .iter()
            .map(|candidate| {
                let mut candidate = candidate.clone();
                candidate.make_durable();
                candidate
            })
            .collect();
        self.replace_candidates(durable.into_iter());
    }

    /// A write or a sync: only a failure the contract allows, or success.
    fn mutation(
        &mut self,
        what: &str,
        answer: &Result<(), StorageError>,
        fault_fired: bool,
    ) -> Result<(), Disagreement> {
        match self.admit(what, answer.as_ref().err(), fault_fired)? {
            Flow::Done => Ok(()),
            Flow::Check => match answer {
                Ok(()) => Ok(()),
                Err(error) => Err(disagree(DisagreementKind::UnexpectedError, format!("{what} failed with {error:?}"))),
            },
        }
    }

    /// Checks the answer of a reopen (a process restart without a crash).
    pub fn reopen(&mut self, answer: &Result<(), StorageError>, fault_fired: bool) -> Result<(), Disagreement> {
        let was_poisoned = self.poisoned.is_some();
        self.restart("reopen", answer, fault_fired)?;
        if answer.is_ok() {
            if was_poisoned {
                // What had reached the disk: the synced state plus a prefix of the later batches.
                let expanded: Vec<Candidate> = self.candidates.iter().flat_map(Candidate::prefixes).collect();
                self.replace_candidates(expanded.into_iter());
            } else {
                // A clean close makes every write durable.
                self.make_all_durable();
            }
        }
        Ok(())
    }

    /// Checks the answer of opening the store after a crash.
    pub fn crash(&mut self, answer: &Result<(), StorageError>, fault_fired: bool) -> Result<(), Disagreement> {
        // The crash happened whatever the open answers: keep a prefix of whole batches (a torn one
        // is dropped whole).
        let expanded: Vec<Candidate> = self.candidates.iter().flat_map(Candidate::prefixes).collect();
        self.replace_candidates(expanded.into_iter());
        // A crash ends the process and its poisoning with it; the open decides anew.
        self.poisoned = None;
        self.restart("open after a crash", answer, fault_fired)
    }

    /// A reopen or an open after a crash: success clears the poisoning; a failure must be a `Full`
    /// or `Io` that an injected fault explains, and poisons the store.
    fn restart(
        &mut self,
        what: &str,
        answer: &Result<(), StorageError>,
        fault_fired: bool,
    ) -> Result<(), Disagreement> {
        match answer {
            Ok(()) => {
                self.poisoned = None;
                Ok(())
            }
            Err(error @ (StorageError::Full(_) | StorageError::Io(_))) if fault_fired => {
                if self.contract == Contract::Poisoning {
                    self.poisoned = Some(error.clone());
                }
                Ok(())
            }
            Err(error @ (StorageError::Full(_) | StorageError::Io(_))) => Err(disagree(
                DisagreementKind::SpuriousFailure,
                format!("{what} failed with {error:?}, but no fault fired during it"),
            )),
            Err(error) => Err(disagree(DisagreementKind::UnexpectedError, format!("{what} failed with {error:?}"))),
        }
    }

    /// Checks what [`pangea_core::Storage::failure`] names against the model's poisoning.
    pub fn failure(&self, named: Option<&StorageError>) -> Result<(), Disagreement> {
        if self.contract == Contract::Poisoning && named != self.poisoned.as_ref() {
            return Err(disagree(
                DisagreementKind::WrongFailure,
                format!("failure() names {named:?}, but the store is poisoned by {:?}", self.poisoned),
            ));
        }
        Ok(())
    }
}
