//! Runs a [`Case`] against a [`World`], checking every answer with a [`ContractModel`], and keeps
//! a transcript of what the store answered for the failure report.

use crate::model::{Contract, ContractModel, Disagreement, describe_answer};
use crate::steps::{Case, Step, key_bytes, table_name, write_batch};
use crate::worlds::{Answered, Fault, World};
use pangea_core::StorageError;
use std::fmt;

/// One step as it ran: what the store answered.
#[derive(Clone, Debug)]
pub struct Record {
    /// The step.
    pub step: Step,
    /// The store's error, if the step was an operation that failed.
    pub error: Option<StorageError>,
    /// The answer, briefly.
    pub answer: String,
    /// Whether an injected fault fired during it.
    pub fault_fired: bool,
}

/// Counts over the cases run, for the report of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Cases run.
    pub cases: u64,
    /// Steps run.
    pub steps: u64,
    /// Operations that failed with `Full` or `Io`.
    pub failures: u64,
    /// Of those, the ones that failed with `Full`.
    pub full_failures: u64,
    /// Operations refused with `Poisoned`.
    pub poisoned_refusals: u64,
    /// Reads that answered `Corrupt`.
    pub corrupt_reads: u64,
    /// Reopens and opens after a crash that failed.
    pub failed_opens: u64,
    /// Operations during which an injected fault fired and that succeeded all the same.
    pub faults_absorbed: u64,
    /// Crashes.
    pub crashes: u64,
    /// Writes crashes tore.
    pub torn_writes: u64,
    /// The most candidate states the model held at once.
    pub candidates_max: usize,
    /// Cases in which the model dropped candidates at its cap.
    pub capped_cases: u64,
}

impl Tally {
    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &Tally) {
        self.cases += other.cases;
        self.steps += other.steps;
        self.failures += other.failures;
        self.full_failures += other.full_failures;
        self.poisoned_refusals += other.poisoned_refusals;
        self.corrupt_reads += other.corrupt_reads;
        self.failed_opens += other.failed_opens;
        self.faults_absorbed += other.faults_absorbed;
        self.crashes += other.crashes;
        self.torn_writes += other.torn_writes;
        self.candidates_max = self.candidates_max.max(other.candidates_max);
        self.capped_cases += other.capped_cases;
    }

    fn count(&mut self, step: &Step, error: Option<&StorageError>) {
        match error {
            Some(error @ (StorageError::Full(_) | StorageError::Io(_))) => {
                self.failures += 1;
                if matches!(error, StorageError::Full(_)) {
                    self.full_failures += 1;
                }
                if matches!(step, Step::Reopen | Step::Crash) {
                    self.failed_opens += 1;
                }
            }
            Some(StorageError::Poisoned { .. }) => self.poisoned_refusals += 1,
            Some(StorageError::Corrupt { .. }) => self.corrupt_reads += 1,
            None => {}
        }
        if matches!(step, Step::Crash) {
            self.crashes += 1;
        }
    }
}

/// A disagreement, with the case and the transcript that led to it.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The store's name.
    pub store: &'static str,
    /// The case.
    pub case: Case,
    /// Index of the step whose answer disagreed.
    pub step: usize,
    /// What disagreed.
    pub disagreement: Disagreement,
    /// Every step run, up to and including the one that disagreed.
    pub transcript: Vec<Record>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} disagrees with the storage contract at step {}: {}", self.store, self.step, self.disagreement)?;
        write!(f, "The case: {}", self.case)?;
        writeln!(f, "What {} answered:", self.store)?;
        for (index, record) in self.transcript.iter().enumerate() {
            let fired = if record.fault_fired { " [a fault fired]" } else { "" };
            writeln!(f, "  {index:>2}: {} -> {}{fired}", record.step, record.answer)?;
        }
        Ok(())
    }
}

/// Runs `case` against `world` under `contract`.
///
/// # Errors
/// The first disagreement, with the transcript.
pub fn run_case(world: &mut dyn World, contract: Contract, case: &Case) -> Result<(Tally, Vec<Record>), Failure> {
    let mut model = ContractModel::new(contract);
    let mut tally = Tally { cases: 1, ..Tally::default() };
    let mut transcript = Vec::with_capacity(case.steps.len());
    for (index, step) in case.steps.iter().enumerate() {
        let (record, checked) = run_step(world, &mut model, index, step);
        tally.steps += 1;
        tally.count(step, record.error.as_ref());
        tally.faults_absorbed += u64::from(record.fault_fired && record.error.is_none());
        tally.candidates_max = tally.candidates_max.max(model.candidates());
        transcript.push(record);
        let checked = checked.and_then(|()| model.failure(world.failure().as_ref()));
        if let Err(disagreement) = checked {
            return Err(Failure { store: world.name(), case: case.clone(), step: index, disagreement, transcript });
        }
    }
    if model.capped() {
        tally.capped_cases = 1;
    }
    tally.torn_writes = world.torn_writes();
    Ok((tally, transcript))
}

fn record<T: fmt::Debug>(step: &Step, answered: &Answered<T>) -> Record {
    Record {
        step: step.clone(),
        error: answered.answer.as_ref().err().cloned(),
        answer: describe_answer(&answered.answer),
        fault_fired: answered.fault_fired,
    }
}

fn injected(step: &Step) -> Record {
    Record { step: step.clone(), error: None, answer: "injected".to_owned(), fault_fired: false }
}

/// Runs step `index` on `world` and checks its answer with `model`.
fn run_step(
    world: &mut dyn World,
    model: &mut ContractModel,
    index: usize,
    step: &Step,
) -> (Record, Result<(), Disagreement>) {
    if let Some(changes) = step.changes(index) {
        let answered = world.write(write_batch(&changes));
        let slots: Vec<_> = changes.iter().map(|(table, key, value)| ((*table, *key), *value)).collect();
        return (record(step, &answered), model.write(&slots, &answered.answer, answered.fault_fired));
    }
    match step {
        Step::Get { table, key } => {
            let answered = world.get(table_name(*table), &key_bytes(*key));
            let mut record = record(step, &answered);
            if let Ok(Some(value)) = &answered.answer {
                record.answer = format!("Ok(Some({} B))", value.len());
            }
            (record, model.get((*table, *key), &answered.answer, answered.fault_fired))
        }
        Step::Range { table, start, end, limit } => {
            let end_bytes = end.map(key_bytes);
            let answered =
                world.range(table_name(*table), &key_bytes(*start), end_bytes.as_deref(), usize::from(*limit));
            let mut record = record(step, &answered);
            if let Ok(pairs) = &answered.answer {
                let parts: Vec<String> = pairs
                    .iter()
                    .map(|(key, value)| format!("{}={} B", String::from_utf8_lossy(key), value.len()))
                    .collect();
                record.answer = format!("Ok([{}])", parts.join(", "));
            }
            let checked =
                model.range(*table, *start, *end, usize::from(*limit), &answered.answer, answered.fault_fired);
            (record, checked)
        }
        Step::Sync => {
            let answered = world.sync();
            (record(step, &answered), model.sync(&answered.answer, answered.fault_fired))
        }
        Step::Reopen => {
            let answered = world.reopen();
            (record(step, &answered), model.reopen(&answered.answer, answered.fault_fired))
        }
        Step::Crash => {
            let answered = world.crash();
            (record(step, &answered), model.crash(&answered.answer, answered.fault_fired))
        }
        Step::ArmWriteError => inject(world, step, Fault::Write),
        Step::ArmReadError => inject(world, step, Fault::Read),
        Step::ArmSyncError => inject(world, step, Fault::Sync),
        Step::DiskFull => inject(world, step, Fault::Full),
        Step::DiskFreed => inject(world, step, Fault::Freed),
        Step::Put { .. } | Step::Remove { .. } | Step::Batch(_) => {
            // Writes are handled above; `changes` names each of them.
            (injected(step), Ok(()))
        }
    }
}

fn inject(world: &mut dyn World, step: &Step, fault: Fault) -> (Record, Result<(), Disagreement>) {
    world.inject(fault);
    (injected(step), Ok(()))
}
