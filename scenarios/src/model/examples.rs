//! Two sequential models written as a user would write one: a register and a FIFO queue.

use super::SequentialModel;

/// A single register holding a number, absent at first.
#[derive(Clone, Copy, Debug, Default)]
pub struct Register;

/// An operation on a [`Register`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    /// Returns the value.
    Read,
    /// Sets the value.
    Write(u64),
    /// Sets the value to `new` if it is `expected`; returns whether it did.
    CompareAndSet {
        /// The value it must hold.
        expected: Option<u64>,
        /// The value to set.
        new: u64,
    },
}

/// What a [`RegisterOp`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOutput {
    /// A read's value.
    Value(Option<u64>),
    /// A write is done.
    Done,
    /// Whether a compare-and-set swapped.
    Swapped(bool),
}

impl SequentialModel for Register {
    type State = Option<u64>;
    type Op = RegisterOp;
    type Output = RegisterOutput;

    fn initial(&self) -> Option<u64> {
        None
    }

    fn is_read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read)
    }

    fn apply(&self, state: &Option<u64>, op: &RegisterOp) -> (Option<u64>, RegisterOutput) {
        match *op {
            RegisterOp::Read => (*state, RegisterOutput::Value(*state)),
            RegisterOp::Write(value) => (Some(value), RegisterOutput::Done),
            RegisterOp::CompareAndSet { expected, new } if *state == expected => {
                (Some(new), RegisterOutput::Swapped(true))
            }
            RegisterOp::CompareAndSet { .. } => (*state, RegisterOutput::Swapped(false)),
        }
    }
}

/// A first-in first-out queue of numbers, empty at first.
#[derive(Clone, Copy, Debug, Default)]
pub struct Queue;

/// An operation on a [`Queue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueOp {
    /// Appends the number.
    Enqueue(u64),
    /// Takes the oldest number, if any.
    Dequeue,
}

/// What a [`QueueOp`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueOutput {
    /// An enqueue is done.
    Done,
    /// What a dequeue took (`None`: the queue was empty).
    Took(Option<u64>),
}

impl SequentialModel for Queue {
    type State = std::collections::VecDeque<u64>;
    type Op = QueueOp;
    type Output = QueueOutput;

    fn initial(&self) -> Self::State {
        std::collections::VecDeque::new()
    }

    fn apply(&self, state: &Self::State, op: &QueueOp) -> (Self::State, QueueOutput) {
        let mut next = state.clone();
        match *op {
            QueueOp::Enqueue(value) => {
                next.push_back(value);
                (next, QueueOutput::Done)
            }
            QueueOp::Dequeue => {
                let took = next.pop_front();
                (next, QueueOutput::Took(took))
            }
        }
    }
}
