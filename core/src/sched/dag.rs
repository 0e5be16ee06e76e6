//! A directed acyclic graph of numbered nodes, stored for scheduling: each node's dependents in a
//! compressed sparse row layout, and each node's count of dependencies.
//!
//! Nodes are dense indices `0..node_count`. An edge `(dependency, dependent)` says that `dependent`
//! waits for `dependency`; the same edge given twice counts twice (the dependent waits for both, and
//! both are released by the one completion), so multigraphs schedule correctly. A DAG built from
//! names ([`DagBuilder`](super::DagBuilder)) also keeps each node's name and finds a node by name in
//! O(log V).
//!
//! Building is O(V + E): a counting pass, a prefix sum and a filling pass lay the edges out, then
//! Kahn's algorithm checks that every node can be ordered. When some cannot, they all wait on
//! another unordered node, so walking back from one of them along unordered dependencies must
//! repeat a node within V steps: that closes one cycle, reported in order.

use super::errors::DagError;

/// The most nodes a DAG holds (2^24): every index fits a `u32` with room to spare, and the
/// scheduler's per-node arrays stay under 200 MB.
pub const NODES_MAX: u32 = 16_777_216;

/// The most dependencies (edges) a DAG holds over all its nodes (2^28), so that edge offsets fit a
/// `u32` and the edge array stays under 1 GiB.
pub const DEPENDENCIES_MAX: u32 = 268_435_456;

/// The longest node name, in bytes.
pub const NAME_BYTES_MAX: usize = 1024;

/// A validated DAG: every edge names a node, and there is no cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dag {
    /// `dependents[offsets[v]..offsets[v + 1]]` are the nodes that wait for `v`, in the order their
    /// edges were given; `node_count + 1` entries.
    offsets: Vec<u32>,
    /// The targets of every edge, grouped by dependency.
    dependents: Vec<u32>,
    /// How many dependencies each node waits for (with repeats).
    dependency_counts: Vec<u32>,
    /// The nodes with no dependency, ascending: the first nodes a run hands out.
    roots: Vec<u32>,
    /// Each node's name; empty when the DAG was built from edges.
    names: Vec<String>,
    /// The node indices sorted by name, for lookups; empty when the DAG was built from edges.
    by_name: Vec<u32>,
}

impl Dag {
    /// Builds a DAG of `nodes` numbered nodes from `edges`, each `(dependency, dependent)`:
    /// `dependent` waits for `dependency`. O(V + E).
    ///
    /// Errors: [`DagError::TooManyNodes`], [`DagError::TooManyDependencies`],
    /// [`DagError::EdgeOutOfRange`] for the first edge naming a node `>= nodes`, and
    /// [`DagError::NumberedCycle`] naming the nodes of one cycle.
    pub fn from_edges(nodes: u32, edges: &[(u32, u32)]) -> Result<Dag, DagError> {
        check_counts(u64::from(nodes), edges.len() as u64)?;
        if let Some(&(dependency, dependent)) =
            edges.iter().find(|&&(dependency, dependent)| dependency >= nodes || dependent >= nodes)
        {
            return Err(DagError::EdgeOutOfRange { dependency, dependent, nodes });
        }
        Dag::assemble(nodes, edges).map_err(|cycle| DagError::NumberedCycle { cycle })
    }

    /// Lays out `edges` (all in range, within the limits) and checks them for cycles; on a cycle,
    /// returns its nodes, each depending on the next.
    pub(super) fn assemble(nodes: u32, edges: &[(u32, u32)]) -> Result<Dag, Vec<u32>> {
        debug_assert!(nodes <= NODES_MAX && edges.len() <= DEPENDENCIES_MAX as usize);
        let node_count = nodes as usize;
        // Count each node's dependents (shifted by one, for the prefix sum) and dependencies.
        let mut offsets = vec![0_u32; node_count + 1];
        let mut dependency_counts = vec![0_u32; node_count];
        for &(dependency, dependent) in edges {
            offsets[dependency as usize + 1] += 1;
            dependency_counts[dependent as usize] += 1;
        }
        for index in 1..offsets.len() {
            offsets[index] += offsets[index - 1];
        }
        debug_assert_eq!(offsets[node_count] as usize, edges.len());
        // Fill each node's row in edge order, a cursor per row.
        let mut cursors = offsets[..node_count].to_vec();
        let mut dependents = vec![0_u32; edges.len()];
        for &(dependency, dependent) in edges {
            let cursor = &mut cursors[dependency as usize];
            dependents[*cursor as usize] = dependent;
            *cursor += 1;
        }
        drop(cursors);
        let roots: Vec<u32> = (0..nodes).filter(|&node| dependency_counts[node as usize] == 0).collect();
        let dag = Dag { offsets, dependents, dependency_counts, roots, names: Vec::new(), by_name: Vec::new() };
        match dag.unordered_waits() {
            None => Ok(dag),
            Some(waiting) => Err(find_cycle(edges, &waiting)),
        }
    }

    /// Runs Kahn's algorithm; `None` when every node is ordered, otherwise each node's count of
    /// dependencies never completed (nonzero exactly for the unordered nodes).
    fn unordered_waits(&self) -> Option<Vec<u32>> {
        let mut waiting = self.dependency_counts.clone();
        let mut queue = Vec::with_capacity(self.dependency_counts.len());
        queue.extend_from_slice(&self.roots);
        let mut head = 0;
        while let Some(&node) = queue.get(head) {
            head += 1;
            for &dependent in self.dependents(node) {
                let count = &mut waiting[dependent as usize];
                *count -= 1;
                if *count == 0 {
                    queue.push(dependent);
                }
            }
        }
        (queue.len() != self.dependency_counts.len()).then_some(waiting)
    }

    /// Gives the nodes the names `names` (one per node, unique), for [`Dag::name`] and
    /// [`Dag::index`]; `by_name` lists the indices sorted by name.
    pub(super) fn with_names(mut self, names: Vec<String>, by_name: Vec<u32>) -> Dag {
        debug_assert_eq!(names.len(), self.dependency_counts.len());
        debug_assert_eq!(by_name.len(), names.len());
        self.names = names;
        self.by_name = by_name;
        self
    }

    /// How many nodes the DAG has.
    #[must_use]
    pub fn node_count(&self) -> u32 {
        self.dependency_counts.len() as u32
    }

    /// How many dependencies (edges) the DAG has over all nodes, repeats included.
    #[must_use]
    pub fn edge_count(&self) -> u32 {
        self.dependents.len() as u32
    }

    /// The nodes that wait for `node`, in the order their edges were given (empty for a node out
    /// of range).
    #[must_use]
    pub fn dependents(&self, node: u32) -> &[u32] {
        let index = node as usize;
        match (self.offsets.get(index), self.offsets.get(index + 1)) {
            (Some(&start), Some(&end)) => &self.dependents[start as usize..end as usize],
            _ => &[],
        }
    }

    /// How many dependencies `node` waits for, repeats included (`None` out of range).
    #[must_use]
    pub fn dependency_count(&self, node: u32) -> Option<u32> {
        self.dependency_counts.get(node as usize).copied()
    }

    /// The nodes with no dependency, ascending.
    #[must_use]
    pub fn roots(&self) -> &[u32] {
        &self.roots
    }

    /// Each node's count of dependencies, by index.
    pub(super) fn dependency_counts(&self) -> &[u32] {
        &self.dependency_counts
    }

    /// The name of `node`: `None` out of range or when the DAG was built from edges.
    #[must_use]
    pub fn name(&self, node: u32) -> Option<&str> {
        self.names.get(node as usize).map(String::as_str)
    }

    /// The index of the node named `name`, in O(log V): `None` when no node has it (always, when
    /// the DAG was built from edges).
    #[must_use]
    pub fn index(&self, name: &str) -> Option<u32> {
        let position = self.by_name.binary_search_by(|&node| self.names[node as usize].as_str().cmp(name)).ok()?;
        Some(self.by_name[position])
    }
}

/// Refuses more than [`NODES_MAX`] nodes or [`DEPENDENCIES_MAX`] dependencies.
pub(super) fn check_counts(nodes: u64, dependencies: u64) -> Result<(), DagError> {
    if nodes > u64::from(NODES_MAX) {
        return Err(DagError::TooManyNodes { nodes });
    }
    if dependencies > u64::from(DEPENDENCIES_MAX) {
        return Err(DagError::TooManyDependencies { dependencies });
    }
    Ok(())
}

/// One cycle among the unordered nodes (those with `waiting[v] > 0`), each depending on the next.
/// O(V + E): one pass over the edges picks, for every unordered node, one unordered dependency
/// (one exists: the node still waits on something, and only unordered nodes never completed);
/// walking those picks from any unordered node repeats a node within V steps.
fn find_cycle(edges: &[(u32, u32)], waiting: &[u32]) -> Vec<u32> {
    const NONE: u32 = u32::MAX;
    let unordered = |node: u32| waiting[node as usize] > 0;
    let mut picked = vec![NONE; waiting.len()];
    for &(dependency, dependent) in edges {
        if unordered(dependent) && unordered(dependency) && picked[dependent as usize] == NONE {
            picked[dependent as usize] = dependency;
        }
    }
    let Some(start) = (0..waiting.len() as u32).find(|&node| unordered(node)) else {
        debug_assert!(false, "find_cycle called with every node ordered");
        return Vec::new();
    };
    // Where on the walk each node was first met.
    let mut step_of = vec![NONE; waiting.len()];
    let mut walk = Vec::new();
    let mut node = start;
    while step_of[node as usize] == NONE {
        step_of[node as usize] = walk.len() as u32;
        walk.push(node);
        node = picked[node as usize];
        if node == NONE {
            debug_assert!(false, "an unordered node waits on no unordered node");
            return walk;
        }
    }
    walk.split_off(step_of[node as usize] as usize)
}
