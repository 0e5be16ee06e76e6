//! The history model: what clients saw, entry by entry — the operation, its key and client, when it
//! was invoked, and how it ended.

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

/// An operation on one key, as its client asked for it; what it returned is an [`OpOutcome`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryOp {
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

impl HistoryOp {
    /// A put of `value`.
    #[must_use]
    pub fn put(value: impl Into<Value>) -> HistoryOp {
        HistoryOp::Put { value: value.into() }
    }

    /// A compare-and-set from `expected` to `new` (`None`: absent).
    #[must_use]
    pub fn compare_and_set(expected: Option<Value>, new: Option<Value>) -> HistoryOp {
        HistoryOp::CompareAndSet { expected, new }
    }
}

/// What a completed operation returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpOutcome {
    /// A [`HistoryOp::Get`] read this value; `None`: the key was absent.
    Read(Option<Value>),
    /// A [`HistoryOp::Put`] or [`HistoryOp::Remove`] was acknowledged.
    Ok,
    /// What a [`HistoryOp::CompareAndSet`] did.
    CompareAndSet {
        /// Whether the key held the expected value, so the new one was stored.
        succeeded: bool,
        /// What the store says the key held when the operation took effect, if it says:
        /// `None` when it does not report it, `Some(None)` when the key was absent.
        found: Option<Option<Value>>,
    },
}

impl OpOutcome {
    /// A read of `value` (`None`: absent).
    #[must_use]
    pub fn read(value: Option<Value>) -> OpOutcome {
        OpOutcome::Read(value)
    }

    /// A compare-and-set that succeeded or not, not saying what it found.
    #[must_use]
    pub fn compare_and_set(succeeded: bool) -> OpOutcome {
        OpOutcome::CompareAndSet { succeeded, found: None }
    }
}

/// How an operation ended, as far as its client knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpCompletion {
    /// The client got an answer.
    Completed {
        /// When the answer arrived, in nanoseconds; not before the invocation.
        at: u64,
        /// The answer.
        outcome: OpOutcome,
    },
    /// No answer (a timeout, a lost connection): the operation may have taken effect at any point
    /// after its invocation, or never.
    Unknown,
    /// The operation definitely did not take effect (it was rejected before anything was done).
    Failed,
}

/// One operation of a client history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The client that issued it.
    pub client: u64,
    /// The key it is on.
    pub key: Vec<u8>,
    /// What it asked for.
    pub op: HistoryOp,
    /// When it was invoked, in nanoseconds.
    pub invoked_at: u64,
    /// How it ended.
    pub completion: OpCompletion,
}

impl HistoryEntry {
    /// An operation that completed at `at` with `outcome`.
    #[must_use]
    pub fn completed(
        client: u64,
        key: impl Into<Vec<u8>>,
        op: HistoryOp,
        invoked_at: u64,
        at: u64,
        outcome: OpOutcome,
    ) -> HistoryEntry {
        HistoryEntry { client, key: key.into(), op, invoked_at, completion: OpCompletion::Completed { at, outcome } }
    }

    /// An operation whose client never learnt how it ended.
    #[must_use]
    pub fn unknown(client: u64, key: impl Into<Vec<u8>>, op: HistoryOp, invoked_at: u64) -> HistoryEntry {
        HistoryEntry { client, key: key.into(), op, invoked_at, completion: OpCompletion::Unknown }
    }

    /// An operation that definitely did not take effect.
    #[must_use]
    pub fn failed(client: u64, key: impl Into<Vec<u8>>, op: HistoryOp, invoked_at: u64) -> HistoryEntry {
        HistoryEntry { client, key: key.into(), op, invoked_at, completion: OpCompletion::Failed }
    }
}
