//! [`Scheduler`]: one run over a [`Dag`], handing out each node once its dependencies completed.
//!
//! A node moves through four states: waiting (some dependency not completed), ready (in the ready
//! list), handed out (taken from the ready list, being worked on), completed. Each completion
//! walks the node's row of dependents once and decrements their wait counts, so a whole run costs
//! O(V + E), with no allocation after the first run beyond the caller's own buffers.

use super::dag::Dag;
use super::errors::SchedError;

/// Where a node is in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeState {
    /// Some dependency is not completed.
    Waiting,
    /// Every dependency completed; in the ready list, not handed out.
    Ready,
    /// Taken from the ready list, not completed.
    HandedOut,
    /// Completed.
    Completed,
}

/// A run over a [`Dag`]: hands out ready nodes ([`Scheduler::take_ready_into`],
/// [`Scheduler::take_ready`], [`Scheduler::pop_ready`]) and takes their completions
/// ([`Scheduler::mark_completed`]) until [`Scheduler::is_complete`].
///
/// Nodes are handed out in the order they became ready (the roots first, ascending), so a run is
/// a function of the DAG and of the order of completions.
#[derive(Clone, Debug)]
pub struct Scheduler {
    /// The graph being run.
    dag: Dag,
    /// How many dependencies of each node are not completed yet.
    waiting: Vec<u32>,
    /// Each node's state.
    states: Vec<NodeState>,
    /// Ready nodes, in the order they became ready; those before `ready_head` were handed out.
    ready: Vec<u32>,
    /// The first node of `ready` not handed out.
    ready_head: usize,
    /// How many nodes completed.
    completed: u32,
    /// How many nodes are handed out and not completed.
    in_flight: u32,
}

impl Scheduler {
    /// A run over `dag`, at its start: the roots are ready. O(V).
    #[must_use]
    pub fn new(dag: Dag) -> Scheduler {
        let node_count = dag.node_count() as usize;
        let mut scheduler = Scheduler {
            dag,
            waiting: Vec::with_capacity(node_count),
            states: Vec::with_capacity(node_count),
            ready: Vec::with_capacity(node_count),
            ready_head: 0,
            completed: 0,
            in_flight: 0,
        };
        scheduler.reset();
        scheduler
    }

    // Getters.

    /// The graph being run.
    #[must_use]
    pub fn dag(&self) -> &Dag {
        &self.dag
    }

    /// Gives the graph back.
    #[must_use]
    pub fn into_dag(self) -> Dag {
        self.dag
    }

    /// The nodes ready and not handed out yet, in the order they became ready.
    #[must_use]
    pub fn ready(&self) -> &[u32] {
        &self.ready[self.ready_head..]
    }

    /// How many nodes the DAG has.
    #[must_use]
    pub fn node_count(&self) -> u32 {
        self.dag.node_count()
    }

    /// How many nodes completed.
    #[must_use]
    pub fn completed_count(&self) -> u32 {
        self.completed
    }

    /// How many nodes are handed out and not completed.
    #[must_use]
    pub fn in_flight_count(&self) -> u32 {
        self.in_flight
    }

    /// Whether every node completed (at once, for an empty DAG).
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.completed == self.dag.node_count()
    }

    // Outputs.

    /// Hands out every ready node: appends them to `out` (which it does not clear), in the order
    /// they became ready. The way to run without allocating: reuse `out`.
    pub fn take_ready_into(&mut self, out: &mut Vec<u32>) {
        let taken = &self.ready[self.ready_head..];
        out.extend_from_slice(taken);
        for &node in taken {
            self.states[node as usize] = NodeState::HandedOut;
        }
        self.in_flight += taken.len() as u32;
        self.ready.clear();
        self.ready_head = 0;
    }

    /// Hands out every ready node, as a new vector.
    #[must_use]
    pub fn take_ready(&mut self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.ready().len());
        self.take_ready_into(&mut out);
        out
    }

    /// Hands out the node that became ready first, if any: for a caller with one free worker.
    #[must_use]
    pub fn pop_ready(&mut self) -> Option<u32> {
        let node = *self.ready.get(self.ready_head)?;
        self.ready_head += 1;
        if self.ready_head == self.ready.len() {
            self.ready.clear();
            self.ready_head = 0;
        }
        self.states[node as usize] = NodeState::HandedOut;
        self.in_flight += 1;
        Some(node)
    }

    // Inputs.

    /// Records that the handed-out `node` completed; the dependents it was the last wait of become
    /// ready. O(1 + the node's dependents).
    ///
    /// Errors, changing nothing: [`SchedError::UnknownNode`], [`SchedError::NotReady`] and
    /// [`SchedError::NotHandedOut`] for a node not handed out, [`SchedError::CompletedTwice`].
    pub fn mark_completed(&mut self, node: u32) -> Result<(), SchedError> {
        let Some(&state) = self.states.get(node as usize) else {
            return Err(SchedError::UnknownNode { node, nodes: self.dag.node_count() });
        };
        let name = || self.dag.name(node).map(str::to_string);
        match state {
            NodeState::HandedOut => {}
            NodeState::Waiting => return Err(SchedError::NotReady { node, name: name() }),
            NodeState::Ready => return Err(SchedError::NotHandedOut { node, name: name() }),
            NodeState::Completed => return Err(SchedError::CompletedTwice { node, name: name() }),
        }
        self.states[node as usize] = NodeState::Completed;
        self.completed += 1;
        self.in_flight -= 1;
        for &dependent in self.dag.dependents(node) {
            let waiting = &mut self.waiting[dependent as usize];
            debug_assert!(*waiting > 0, "node {dependent} released more often than it has dependencies");
            *waiting -= 1;
            if *waiting == 0 {
                debug_assert_eq!(self.states[dependent as usize], NodeState::Waiting);
                self.states[dependent as usize] = NodeState::Ready;
                self.ready.push(dependent);
            }
        }
        Ok(())
    }

    // Mutators.

    /// Back to the start of a run: nothing completed or handed out, the roots ready. O(V), reusing
    /// the run's memory.
    pub fn reset(&mut self) {
        self.waiting.clear();
        self.waiting.extend_from_slice(self.dag.dependency_counts());
        self.states.clear();
        self.states.resize(self.waiting.len(), NodeState::Waiting);
        self.ready.clear();
        self.ready_head = 0;
        for &root in self.dag.roots() {
            self.states[root as usize] = NodeState::Ready;
            self.ready.push(root);
        }
        self.completed = 0;
        self.in_flight = 0;
    }
}
