//! The list of invocation and completion events the depth-first search walks (Lowe's just-in-time
//! linearization): a placed operation's events are lifted out, so the candidates to place next are
//! the invocations before the first completion left.

use super::register::SearchOp;

/// Node of the event list before the first event.
pub(super) const HEAD: usize = 0;

/// The doubly linked list of invocation and completion events the search walks, in time order.
pub(super) struct Events {
    pub(super) next: Vec<usize>,
    previous: Vec<usize>,
    /// For each node, the operation whose event it is.
    pub(super) op: Vec<usize>,
    /// For each node, whether it is a completion (else an invocation).
    pub(super) is_completion: Vec<bool>,
    /// For each completion node, how many completions come before it.
    pub(super) completion_rank: Vec<usize>,
    /// For each operation, its invocation's node.
    pub(super) invocation: Vec<usize>,
    /// For each operation, its completion's node, if it completed.
    completion: Vec<Option<usize>>,
    /// The node after the last event.
    pub(super) tail: usize,
}

impl Events {
    pub(super) fn new(ops: &[SearchOp]) -> Events {
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
    pub(super) fn lift(&mut self, op: usize) {
        self.unlink(self.invocation[op]);
        if let Some(node) = self.completion[op] {
            self.unlink(node);
        }
    }

    /// Undoes the latest [`Events::lift`]; lifts must be undone last first.
    pub(super) fn unlift(&mut self, op: usize) {
        if let Some(node) = self.completion[op] {
            self.relink(node);
        }
        self.relink(self.invocation[op]);
    }
}
