//! The graph's settings: its limits, how pheromone behaves, and the bugs that can be planted in it.
//! Every replica of a cluster must use the same settings (they decide what commands do).

use super::pheromone::PheromoneConfig;
use thiserror::Error;

/// The longest collection name, edge label or property name by default, in bytes.
pub const NAME_BYTES_MAX: usize = 256;
/// The most bytes an entity's or an edge's properties take encoded, by default.
pub const PROPERTIES_BYTES_MAX: usize = 64 * 1024;
/// The deepest traversal by default.
pub const DEPTH_MAX: u32 = 16;
/// The most results one read returns by default (entities of a page, neighbours, a traversal's
/// entities).
pub const RESULTS_MAX: u32 = 10_000;
/// The most edges one traversal examines by default; past it the traversal stops, marked cut.
pub const TRAVERSE_EDGES_MAX: u64 = 1_000_000;
/// The most live entities, by default.
pub const ENTITIES_MAX: u64 = 100_000_000;
/// The most live edges, by default.
pub const EDGES_MAX: u64 = 1_000_000_000;
/// The most distinct collection names and the most distinct edge labels, each.
pub const NAMES_MAX: u32 = 65_536;
/// The most entity ids a graph hands out in its life (ids are never reused; an entity's slot is
/// a `u32`).
pub const ENTITY_IDS_MAX: u64 = u32::MAX as u64 - 1;
/// The most edge ids a graph hands out in its life.
pub const EDGE_IDS_MAX: u64 = u32::MAX as u64 - 1;

/// How large a graph and what is asked of it may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GraphLimits {
    /// The longest collection name, edge label or property name, in bytes.
    pub name_bytes_max: usize,
    /// The most bytes one entity's or edge's properties take encoded.
    pub properties_bytes_max: usize,
    /// The deepest traversal.
    pub depth_max: u32,
    /// The most results one read returns.
    pub results_max: u32,
    /// The most edges one traversal examines.
    pub traverse_edges_max: u64,
    /// The most live entities.
    pub entities_max: u64,
    /// The most live edges.
    pub edges_max: u64,
}

impl Default for GraphLimits {
    fn default() -> Self {
        GraphLimits {
            name_bytes_max: NAME_BYTES_MAX,
            properties_bytes_max: PROPERTIES_BYTES_MAX,
            depth_max: DEPTH_MAX,
            results_max: RESULTS_MAX,
            traverse_edges_max: TRAVERSE_EDGES_MAX,
            entities_max: ENTITIES_MAX,
            edges_max: EDGES_MAX,
        }
    }
}

/// A graph's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GraphConfig {
    /// Its limits.
    pub limits: GraphLimits,
    /// How pheromone is deposited and evaporates.
    pub pheromone: PheromoneConfig,
    /// A deliberately planted bug (builds with the `planted-bugs` feature only).
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<GraphPlantedBug>,
}

impl GraphConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// A limit of zero, a limit past what the graph's layout holds, or pheromone settings that do
    /// not make sense.
    pub fn validate(&self) -> Result<(), GraphConfigError> {
        let limits = &self.limits;
        for (name, value) in [
            ("name_bytes_max", limits.name_bytes_max as u64),
            ("properties_bytes_max", limits.properties_bytes_max as u64),
            ("depth_max", u64::from(limits.depth_max)),
            ("results_max", u64::from(limits.results_max)),
            ("traverse_edges_max", limits.traverse_edges_max),
            ("entities_max", limits.entities_max),
            ("edges_max", limits.edges_max),
        ] {
            if value == 0 {
                return Err(GraphConfigError::Zero(name));
            }
        }
        if limits.entities_max > ENTITY_IDS_MAX || limits.edges_max > EDGE_IDS_MAX {
            return Err(GraphConfigError::OverLayout);
        }
        if !self.pheromone.is_valid() {
            return Err(GraphConfigError::Pheromone);
        }
        Ok(())
    }

    /// Whether `bug` is planted (always false without the `planted-bugs` feature).
    #[must_use]
    pub fn planted(&self, bug: GraphPlantedBug) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            self.planted_bug == Some(bug)
        }
        #[cfg(not(feature = "planted-bugs"))]
        {
            let _ = bug;
            false
        }
    }
}

/// A [`GraphConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum GraphConfigError {
    /// A limit that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// More entities or edges than ids a graph can hand out.
    #[error("entities_max and edges_max must be below {ENTITY_IDS_MAX}")]
    OverLayout,
    /// An evaporation rate over one million parts per million, or a deposit over the highest level.
    #[error("evaporation_ppm must be at most 1,000,000 and deposit at most level_max")]
    Pheromone,
}

/// Bugs that can be planted in the graph, each a classic mistake. They take effect only in builds
/// with the `planted-bugs` feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GraphPlantedBug {
    /// Removing an entity leaves its edges behind, pointing at nothing.
    RemoveKeepsEdges,
    /// A snapshot leaves out the pheromone levels, so a replica restored from one disagrees with
    /// the replicas that applied the log.
    SnapshotDropsPheromone,
}

impl GraphPlantedBug {
    /// Every planted bug with its name on the command line, for `--plant`.
    pub const ALL: [(GraphPlantedBug, &'static str); 2] = [
        (GraphPlantedBug::RemoveKeepsEdges, "remove-keeps-edges"),
        (GraphPlantedBug::SnapshotDropsPheromone, "snapshot-drops-pheromone"),
    ];
}
