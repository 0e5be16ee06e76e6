//! The operation sequences the harness runs: steps, their generator, and the values they write.
//!
//! Keys come from a small set so that writes collide and reads find something; values are
//! deterministic from where they were written (step, change, length), so any read can be checked
//! against the model, and some are tens or hundreds of kilobytes so that redb allocates pages and
//! grows its file.

use pangea_core::storage::{WriteBatch, WriteOp};
use proptest::collection::vec;
use proptest::prelude::*;
use std::fmt;

/// The tables the steps touch.
pub const TABLES: [&str; 2] = ["log", "meta"];

/// How many distinct keys each table may hold: few, so that writes collide and a scan of a table
/// tells the model's candidate states apart.
pub const KEYS_MAX: u8 = 5;

/// A range limit that takes in a whole table.
pub const SCAN_LIMIT: u8 = 8;

/// Most changes in one `Batch` step.
pub const BATCH_CHANGES_MAX: usize = 4;

/// Most steps in one generated sequence.
pub const STEPS_MAX: usize = 60;

/// The name of table number `table`.
#[must_use]
pub fn table_name(table: u8) -> &'static str {
    TABLES[usize::from(table) % TABLES.len()]
}

/// The bytes of key number `key`.
#[must_use]
pub fn key_bytes(key: u8) -> Vec<u8> {
    vec![b'k', b'0' + key]
}

/// Where a value was written; its bytes follow from it (see [`ValueId::bytes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValueId {
    /// Index of the step that wrote it.
    pub step: u32,
    /// Index of the change within the step's batch.
    pub change: u32,
    /// Length in bytes.
    pub len: u32,
}

impl ValueId {
    /// The value's bytes: a pattern seeded by the step and change, `len` long.
    #[must_use]
    pub fn bytes(&self) -> Vec<u8> {
        let mut state = (u64::from(self.step) << 32 | u64::from(self.change)) ^ 0x9e37_79b9_7f4a_7c15;
        (0..self.len)
            .map(|_| {
                // xorshift64*: cheap and deterministic; only has to differ between values.
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }

    /// True when `bytes` is this value.
    #[must_use]
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() == self.len as usize && bytes == self.bytes().as_slice()
    }
}

/// One change of a batch step: set a key to a value of `value_len` bytes, or remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeSpec {
    /// Table number (see [`table_name`]).
    pub table: u8,
    /// Key number (see [`key_bytes`]).
    pub key: u8,
    /// `Some(length)` to put a value that long, `None` to remove the key.
    pub value_len: Option<u32>,
}

/// One step of a sequence: an operation on the store or a fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Writes one value.
    Put {
        /// Table number.
        table: u8,
        /// Key number.
        key: u8,
        /// Length of the value.
        value_len: u32,
    },
    /// Removes one key.
    Remove {
        /// Table number.
        table: u8,
        /// Key number.
        key: u8,
    },
    /// Writes several changes as one atomic batch.
    Batch(Vec<ChangeSpec>),
    /// Reads one key.
    Get {
        /// Table number.
        table: u8,
        /// Key number.
        key: u8,
    },
    /// Reads the keys `start <= key < end` (to the end when `end` is `None`), at most `limit`.
    Range {
        /// Table number.
        table: u8,
        /// First key number.
        start: u8,
        /// Key number past the last, if any.
        end: Option<u8>,
        /// Most pairs to return.
        limit: u8,
    },
    /// Makes every earlier write durable.
    Sync,
    /// The next write to the device fails.
    ArmWriteError,
    /// The next read from the device fails.
    ArmReadError,
    /// The next sync of the device fails.
    ArmSyncError,
    /// The disk fills up.
    DiskFull,
    /// The disk has room again.
    DiskFreed,
    /// The process closes the store and opens it again.
    Reopen,
    /// The machine crashes and the process opens the store again.
    Crash,
}

impl Step {
    /// True for the steps that inject a fault rather than operate on the store.
    #[must_use]
    pub fn is_fault(&self) -> bool {
        matches!(self, Step::ArmWriteError | Step::ArmReadError | Step::ArmSyncError | Step::DiskFull | Step::DiskFreed)
    }

    /// The changes this step writes, if it is a write, as (table, key, value) with values named by
    /// where they were written: step `index`.
    #[must_use]
    pub fn changes(&self, index: usize) -> Option<Vec<(u8, u8, Option<ValueId>)>> {
        let step = u32::try_from(index).unwrap_or(u32::MAX);
        let specs = match self {
            Step::Put { table, key, value_len } => {
                vec![ChangeSpec { table: *table, key: *key, value_len: Some(*value_len) }]
            }
            Step::Remove { table, key } => vec![ChangeSpec { table: *table, key: *key, value_len: None }],
            Step::Batch(specs) => specs.clone(),
            _ => return None,
        };
        let changes = specs
            .iter()
            .enumerate()
            .map(|(change, spec)| {
                let change = u32::try_from(change).unwrap_or(u32::MAX);
                (spec.table, spec.key, spec.value_len.map(|len| ValueId { step, change, len }))
            })
            .collect();
        Some(changes)
    }
}

/// The batch that `changes` describe.
#[must_use]
pub fn write_batch(changes: &[(u8, u8, Option<ValueId>)]) -> WriteBatch {
    let ops = changes
        .iter()
        .map(|(table, key, value)| WriteOp {
            table: table_name(*table).to_owned(),
            key: key_bytes(*key),
            value: value.map(|value| value.bytes()),
        })
        .collect();
    WriteBatch { ops }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = |table: &u8, key: &u8| format!("{}/k{key}", table_name(*table));
        match self {
            Step::Put { table, key: number, value_len } => write!(f, "put {} ({value_len} B)", key(table, number)),
            Step::Remove { table, key: number } => write!(f, "remove {}", key(table, number)),
            Step::Batch(specs) => {
                let parts: Vec<String> = specs
                    .iter()
                    .map(|spec| match spec.value_len {
                        Some(len) => format!("put {} ({len} B)", key(&spec.table, &spec.key)),
                        None => format!("remove {}", key(&spec.table, &spec.key)),
                    })
                    .collect();
                write!(f, "batch [{}]", parts.join(", "))
            }
            Step::Get { table, key: number } => write!(f, "get {}", key(table, number)),
            Step::Range { table, start, end, limit } => match end {
                Some(end) => write!(f, "range {}/k{start}..k{end} limit {limit}", table_name(*table)),
                None => write!(f, "range {}/k{start}.. limit {limit}", table_name(*table)),
            },
            Step::Sync => write!(f, "sync"),
            Step::ArmWriteError => write!(f, "arm write error"),
            Step::ArmReadError => write!(f, "arm read error"),
            Step::ArmSyncError => write!(f, "arm sync error"),
            Step::DiskFull => write!(f, "disk full"),
            Step::DiskFreed => write!(f, "disk freed"),
            Step::Reopen => write!(f, "reopen"),
            Step::Crash => write!(f, "crash"),
        }
    }
}

/// A generated case: the seed of the stores' own draws (which prefix a crash keeps, where it tears)
/// and the steps.
#[derive(Clone, Debug)]
pub struct Case {
    /// Seeds the disk's and the crash's random draws.
    pub seed: u64,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed {} and {} steps:", self.seed, self.steps.len())?;
        for (index, step) in self.steps.iter().enumerate() {
            writeln!(f, "  {index:>2}: {step}")?;
        }
        Ok(())
    }
}

/// Value lengths: mostly small, some of a few pages, a few of tens of kilobytes, and a few of
/// hundreds: redb's file starts at about a megabyte and reuses the pages of overwritten values, so
/// only those make it grow (and meet a full disk) with the few keys the steps use.
fn value_len() -> impl Strategy<Value = u32> {
    prop_oneof![
        12 => 0..64u32,
        6 => 64..6_000u32,
        2 => 8_000..40_000u32,
        1 => 120_000..320_000u32,
    ]
}

fn table() -> impl Strategy<Value = u8> {
    0..TABLES.len() as u8
}

fn key() -> impl Strategy<Value = u8> {
    0..KEYS_MAX
}

fn change_spec() -> impl Strategy<Value = ChangeSpec> {
    (table(), key(), prop::option::weighted(0.8, value_len())).prop_map(|(table, key, value_len)| ChangeSpec {
        table,
        key,
        value_len,
    })
}

/// One step, weighted toward writes and reads, with faults, reopens and crashes among them.
pub fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (table(), key(), value_len()).prop_map(|(table, key, value_len)| Step::Put { table, key, value_len }),
        2 => (table(), key()).prop_map(|(table, key)| Step::Remove { table, key }),
        3 => vec(change_spec(), 1..=BATCH_CHANGES_MAX).prop_map(Step::Batch),
        5 => (table(), key()).prop_map(|(table, key)| Step::Get { table, key }),
        2 => (table(), key(), prop::option::of(key()), 1..SCAN_LIMIT)
            .prop_map(|(table, start, end, limit)| Step::Range { table, start, end, limit }),
        3 => table().prop_map(scan),
        4 => Just(Step::Sync),
        1 => Just(Step::ArmWriteError),
        1 => Just(Step::ArmReadError),
        1 => Just(Step::ArmSyncError),
        1 => Just(Step::DiskFull),
        1 => Just(Step::DiskFreed),
        2 => Just(Step::Reopen),
        2 => Just(Step::Crash),
    ]
}

/// A range read of all of `table`.
#[must_use]
pub fn scan(table: u8) -> Step {
    Step::Range { table, start: 0, end: None, limit: SCAN_LIMIT }
}

/// A case of 1 to [`STEPS_MAX`] generated steps, then a scan of every table (which checks the
/// final state; shrinking keeps it).
pub fn case() -> impl Strategy<Value = Case> {
    (any::<u64>(), vec(step(), 1..=STEPS_MAX)).prop_map(|(seed, mut steps)| {
        steps.extend((0..TABLES.len() as u8).map(scan));
        Case { seed, steps }
    })
}
