//! [`DagBuilder`]: a [`Dag`] from named nodes and the names they depend on, in any order.

use super::dag::{Dag, NAME_BYTES_MAX, check_counts};
use super::errors::{DagError, name_prefix};
use std::collections::BTreeMap;

/// Collects named nodes and their dependencies; [`DagBuilder::build`] resolves the names to dense
/// indices (in the order the nodes were added) and checks the whole graph.
///
/// A dependency may name a node added later; it must name some node by the time of `build`.
#[derive(Clone, Debug, Default)]
pub struct DagBuilder {
    /// Each node's name, by index.
    names: Vec<String>,
    /// Each name's index, for duplicates now and dependencies at build.
    indices: BTreeMap<String, u32>,
    /// Every node's dependency names, one node after the other.
    dependency_names: Vec<String>,
    /// Where each node's dependency names end in `dependency_names`.
    dependency_ends: Vec<u32>,
}

impl DagBuilder {
    /// An empty builder.
    #[must_use]
    pub fn new() -> DagBuilder {
        DagBuilder::default()
    }

    /// Adds the node `name`, which waits for every node named in `dependencies` (a name given twice
    /// counts twice; a node naming itself is a cycle). A node without dependencies takes an empty
    /// list, e.g. `[] as [&str; 0]`.
    ///
    /// Errors, leaving the builder as it was: [`DagError::DuplicateNode`],
    /// [`DagError::NameTooLong`] (for the name or a dependency), [`DagError::TooManyNodes`],
    /// [`DagError::TooManyDependencies`].
    pub fn add(
        &mut self,
        name: impl Into<String>,
        dependencies: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<(), DagError> {
        let name = name.into();
        check_name(&name)?;
        if self.indices.contains_key(&name) {
            return Err(DagError::DuplicateNode { node: name });
        }
        check_counts(self.names.len() as u64 + 1, 0)?;
        let start = self.dependency_names.len();
        for dependency in dependencies {
            let dependency = dependency.into();
            let checked =
                check_counts(0, self.dependency_names.len() as u64 + 1).and_then(|()| check_name(&dependency));
            if let Err(error) = checked {
                self.dependency_names.truncate(start);
                return Err(error);
            }
            self.dependency_names.push(dependency);
        }
        let index = self.names.len() as u32;
        self.indices.insert(name.clone(), index);
        self.names.push(name);
        self.dependency_ends.push(self.dependency_names.len() as u32);
        Ok(())
    }

    /// How many nodes were added.
    #[must_use]
    pub fn node_count(&self) -> u32 {
        self.names.len() as u32
    }

    /// Resolves every dependency to its node and builds the [`Dag`] (node `i` is the `i`-th added).
    /// O(V + E) after the name lookups, O(E log V).
    ///
    /// Errors: [`DagError::MissingDependency`] for the first dependency, in the order added, that
    /// names no node; [`DagError::Cycle`] naming the nodes of one cycle.
    pub fn build(self) -> Result<Dag, DagError> {
        let DagBuilder { names, indices, dependency_names, dependency_ends } = self;
        let mut edges = Vec::with_capacity(dependency_names.len());
        let mut start = 0;
        for (dependent, &end) in dependency_ends.iter().enumerate() {
            for dependency_name in &dependency_names[start..end as usize] {
                let Some(&dependency) = indices.get(dependency_name) else {
                    return Err(DagError::MissingDependency {
                        node: names[dependent].clone(),
                        missing: dependency_name.clone(),
                    });
                };
                edges.push((dependency, dependent as u32));
            }
            start = end as usize;
        }
        drop(dependency_names);
        match Dag::assemble(names.len() as u32, &edges) {
            Ok(dag) => Ok(dag.with_names(names, indices.into_values().collect())),
            Err(cycle) => {
                Err(DagError::Cycle { cycle: cycle.iter().map(|&node| names[node as usize].clone()).collect() })
            }
        }
    }
}

/// Refuses a name longer than [`NAME_BYTES_MAX`].
fn check_name(name: &str) -> Result<(), DagError> {
    if name.len() > NAME_BYTES_MAX {
        return Err(DagError::NameTooLong { prefix: name_prefix(name), bytes: name.len() });
    }
    Ok(())
}
