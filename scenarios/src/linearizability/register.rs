//! One key's operations as the search sees them: values numbered per key, what each operation does
//! to the register, and the register's sequential specification.

/// The register's value in the search: `ABSENT`, or a value numbered from 1 per key.
pub(super) type ValueId = u32;

/// The register's value when the key is absent.
pub(super) const ABSENT: ValueId = 0;

/// The register's value in a search that does not tell apart the values no operation compares
/// with (see [`Prepared`](super::prepare::Prepared)); never the number of a real value.
pub(super) const OTHER: ValueId = ValueId::MAX;

/// What an operation does in the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Action {
    /// A put (of the value) or a remove (`ABSENT`): sets the register.
    Write(ValueId),
    /// A completed get that read the value.
    Read(ValueId),
    /// A compare-and-set; `result` is `None` when unknown.
    CompareAndSet { expected: ValueId, new: ValueId, result: Option<CasResult> },
}

/// What a completed compare-and-set returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct CasResult {
    pub(super) succeeded: bool,
    pub(super) found: Option<ValueId>,
}

/// An operation of one key, as the search sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SearchOp {
    pub(super) invoked_at: u64,
    /// `None`: unknown — may take effect at any time after the invocation, or never.
    pub(super) completed_at: Option<u64>,
    pub(super) action: Action,
}

impl SearchOp {
    pub(super) fn is_completed(&self) -> bool {
        self.completed_at.is_some()
    }

    /// The same operation with its completion forgotten, or `None` for a read (an unknown read
    /// constrains nothing).
    pub(super) fn weakened(&self) -> Option<SearchOp> {
        let action = match self.action {
            Action::Read(_) => return None,
            Action::Write(value) => Action::Write(value),
            Action::CompareAndSet { expected, new, .. } => Action::CompareAndSet { expected, new, result: None },
        };
        Some(SearchOp { invoked_at: self.invoked_at, completed_at: None, action })
    }
}

/// The register's sequential specification: the value after `op` runs on `state`, or `None` if `op`
/// cannot run there with its recorded outcome — or, for an unknown operation, if running it would
/// change nothing (the same as leaving it out, which is always allowed).
pub(super) fn register_after(state: ValueId, op: &SearchOp) -> Option<ValueId> {
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
