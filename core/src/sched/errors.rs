//! Why a [`Dag`](super::Dag) could not be built, and why a [`Scheduler`](super::Scheduler) refused
//! a completion. Every error names the nodes it is about.

use super::dag::{DEPENDENCIES_MAX, NAME_BYTES_MAX, NODES_MAX};
use thiserror::Error;

/// Why a [`Dag`](super::Dag) was not built (or a node not added to a
/// [`DagBuilder`](super::DagBuilder)).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DagError {
    /// A node of this name was added already.
    #[error("node {node:?} is added twice")]
    DuplicateNode {
        /// The name added twice.
        node: String,
    },
    /// A node depends on a name that no node has.
    #[error("node {node:?} depends on {missing:?}, which is not a node")]
    MissingDependency {
        /// The node whose dependency is missing.
        node: String,
        /// The name it depends on.
        missing: String,
    },
    /// A numbered edge names a node at or past the node count.
    #[error("edge {dependency} -> {dependent} names a node outside 0..{nodes}")]
    EdgeOutOfRange {
        /// The node that must complete first.
        dependency: u32,
        /// The node that waits for it.
        dependent: u32,
        /// The number of nodes of the DAG.
        nodes: u32,
    },
    /// The named nodes depend on each other in a cycle: each node of `cycle` depends on the next,
    /// and the last on the first.
    #[error("dependency cycle: {} (each depends on the next)", cycle_text(cycle.iter().map(|name| format!("{name:?}"))))]
    Cycle {
        /// The names of one cycle, in order; each depends on the next, the last on the first.
        cycle: Vec<String>,
    },
    /// The numbered nodes depend on each other in a cycle, as [`DagError::Cycle`] for a DAG built
    /// from edges.
    #[error("dependency cycle: {} (each depends on the next)", cycle_text(cycle.iter().map(u32::to_string)))]
    NumberedCycle {
        /// The indices of one cycle, in order; each depends on the next, the last on the first.
        cycle: Vec<u32>,
    },
    /// More nodes than [`NODES_MAX`].
    #[error("{nodes} nodes: a DAG holds at most {NODES_MAX}")]
    TooManyNodes {
        /// The number of nodes asked for.
        nodes: u64,
    },
    /// More dependencies (edges), over all nodes, than [`DEPENDENCIES_MAX`].
    #[error("{dependencies} dependencies: a DAG holds at most {DEPENDENCIES_MAX}")]
    TooManyDependencies {
        /// The number of dependencies asked for.
        dependencies: u64,
    },
    /// A node or dependency name is longer than [`NAME_BYTES_MAX`].
    #[error("name {prefix:?}… is {bytes} bytes long: a name holds at most {NAME_BYTES_MAX}")]
    NameTooLong {
        /// The start of the name (at most 32 bytes of it).
        prefix: String,
        /// Its length in bytes.
        bytes: usize,
    },
}

/// Why a [`Scheduler`](super::Scheduler) refused to mark a node completed. `name` is the node's
/// name when the DAG has names.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SchedError {
    /// No node has this index.
    #[error("node {node} is not in the DAG of {nodes} nodes")]
    UnknownNode {
        /// The index given.
        node: u32,
        /// The number of nodes of the DAG.
        nodes: u32,
    },
    /// Some of the node's dependencies are not completed yet, so it was never handed out.
    #[error("{} was not handed out: some of its dependencies are not completed", node_text(*node, name.as_deref()))]
    NotReady {
        /// The node's index.
        node: u32,
        /// The node's name, when the DAG has names.
        name: Option<String>,
    },
    /// The node is ready but was not handed out yet.
    #[error("{} is ready but was not handed out", node_text(*node, name.as_deref()))]
    NotHandedOut {
        /// The node's index.
        node: u32,
        /// The node's name, when the DAG has names.
        name: Option<String>,
    },
    /// The node was marked completed already.
    #[error("{} is completed already", node_text(*node, name.as_deref()))]
    CompletedTwice {
        /// The node's index.
        node: u32,
        /// The node's name, when the DAG has names.
        name: Option<String>,
    },
}

/// `a -> b -> c -> a`: the nodes of a cycle, closed by its first node again.
fn cycle_text(nodes: impl Iterator<Item = String>) -> String {
    let nodes: Vec<String> = nodes.collect();
    let mut text = nodes.join(" -> ");
    if let Some(first) = nodes.first() {
        text.push_str(" -> ");
        text.push_str(first);
    }
    text
}

/// `node 3 ("fetch")`, or `node 3` when the DAG has no names.
fn node_text(node: u32, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("node {node} ({name:?})"),
        None => format!("node {node}"),
    }
}

/// The first `NAME_PREFIX_BYTES` bytes of `name`, cut at a character boundary: enough to recognize a
/// name in an error without copying a huge one.
pub(super) fn name_prefix(name: &str) -> String {
    let mut end = name.len().min(NAME_PREFIX_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

/// How much of an over-long name an error keeps.
const NAME_PREFIX_BYTES: usize = 32;
