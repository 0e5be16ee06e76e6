//! A topological scheduler: runs a directed acyclic graph of tasks, handing out each task once
//! every task it depends on has completed.
//!
//! - [`Dag`] is the validated graph, from names ([`DagBuilder`]) or from numbered edges
//!   ([`Dag::from_edges`]). Building refuses a dependency on no node, a duplicate name, and a cycle
//!   (naming the nodes of one cycle in order), and puts a limit on everything ([`NODES_MAX`],
//!   [`DEPENDENCIES_MAX`], [`NAME_BYTES_MAX`]) with a typed [`DagError`], never a panic.
//! - [`Scheduler`] is one run over it: take the ready nodes, mark them completed, until
//!   [`Scheduler::is_complete`]. A completion that does not fit the run (a node never handed out,
//!   or completed twice) is refused with a typed [`SchedError`] and changes nothing.
//!
//! **Promises.** Building is O(V + E) (plus O(E log V) to resolve names), and a whole run is
//! O(V + E) total work: each node is handed out once and each edge looked at once. The graph is
//! stored as flat arrays over dense `u32` indices (dependents in compressed sparse row form), so a
//! run allocates nothing once its scheduler exists, and [`Scheduler::reset`] starts again in O(V)
//! on the same memory. Like the rest of this crate, it is deterministic: nodes are handed out in
//! the order they became ready, so a run depends only on the graph and the completions.
//!
//! ```
//! use pangea_core::sched::{DagBuilder, Scheduler};
//!
//! let mut builder = DagBuilder::new();
//! builder.add("fetch", [] as [&str; 0])?;
//! builder.add("compile", ["fetch"])?;
//! builder.add("test", ["compile", "fetch"])?;
//! let mut scheduler = Scheduler::new(builder.build()?);
//! let mut order = Vec::new();
//! while !scheduler.is_complete() {
//!     for node in scheduler.take_ready() {
//!         order.push(scheduler.dag().name(node).unwrap_or_default().to_string());
//!         scheduler.mark_completed(node)?;
//!     }
//! }
//! assert_eq!(order, ["fetch", "compile", "test"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Dag`]: crate::sched::Dag
//! [`Dag::from_edges`]: crate::sched::Dag::from_edges
//! [`DagBuilder`]: crate::sched::DagBuilder
//! [`DagError`]: crate::sched::DagError
//! [`NODES_MAX`]: crate::sched::NODES_MAX
//! [`DEPENDENCIES_MAX`]: crate::sched::DEPENDENCIES_MAX
//! [`NAME_BYTES_MAX`]: crate::sched::NAME_BYTES_MAX
//! [`Scheduler`]: crate::sched::Scheduler
//! [`Scheduler::is_complete`]: crate::sched::Scheduler::is_complete
//! [`Scheduler::reset`]: crate::sched::Scheduler::reset
//! [`SchedError`]: crate::sched::SchedError

mod builder;
mod dag;
mod errors;
mod scheduler;
#[cfg(test)]
mod tests;

pub use builder::DagBuilder;
pub use dag::{DEPENDENCIES_MAX, Dag, NAME_BYTES_MAX, NODES_MAX};
pub use errors::{DagError, SchedError};
pub use scheduler::Scheduler;
