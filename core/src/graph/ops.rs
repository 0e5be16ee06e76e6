//! What clients ask of the graph and what it answers: commands that go through the log
//! ([`GraphOp`]), reads a replica answers ([`GraphQuery`], locally or through the log), and their
//! results. Every list an answer carries is bounded by a `limit` the request gives (at most the
//! graph's `results_max`).

use super::value::Properties;
use serde::{Deserialize, Serialize};

/// An entity's id: handed out by the graph in order, from 1, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityId(pub u64);

/// An edge's id: handed out by the graph in order, from 1, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EdgeId(pub u64);

/// Which edges of an entity count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// Edges from it.
    Out,
    /// Edges to it.
    In,
    /// Both (an edge from it to itself counts once).
    Both,
}

/// A bounded breadth-first traversal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TraverseSpec {
    /// Where it starts (not itself a result).
    pub start: EntityId,
    /// How many edges away it goes, at most (1 is the neighbours).
    pub depth: u32,
    /// Which edges it follows.
    pub direction: Direction,
    /// Only edges with one of these labels (empty: every label).
    pub labels: Vec<String>,
    /// The most entities it returns.
    pub limit: u32,
}

/// A command on the graph, through the log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GraphOp {
    /// Adds an entity to `collection`; answers its id.
    AddEntity {
        /// Its collection.
        collection: String,
        /// Its properties.
        properties: Properties,
    },
    /// Writes `set` over an entity's properties and removes the names in `remove`.
    SetProperties {
        /// The entity.
        entity: EntityId,
        /// Properties to write.
        set: Properties,
        /// Property names to remove.
        remove: Vec<String>,
    },
    /// Removes an entity and every edge from or to it.
    RemoveEntity {
        /// The entity.
        entity: EntityId,
    },
    /// Adds an edge labelled `label` from `from` to `to`; answers its id.
    AddEdge {
        /// Where it starts.
        from: EntityId,
        /// Where it ends.
        to: EntityId,
        /// Its type.
        label: String,
        /// Its properties.
        properties: Properties,
    },
    /// Removes an edge.
    RemoveEdge {
        /// The edge.
        edge: EdgeId,
    },
    /// A traversal that reinforces the pheromone of every edge it reached an entity through.
    Reinforce(TraverseSpec),
    /// Evaporates pheromone by `steps` steps.
    Evaporate {
        /// How many steps (at most [`super::pheromone::EVAPORATE_STEPS_MAX`]).
        steps: u32,
    },
    /// A read, linearizable because it is ordered with the commands.
    Read(GraphQuery),
}

/// A read of the graph.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GraphQuery {
    /// One entity.
    Entity(EntityId),
    /// One edge.
    Edge(EdgeId),
    /// An entity's edges and the entities at their other ends, in edge id order.
    Neighbors {
        /// The entity.
        entity: EntityId,
        /// Which edges.
        direction: Direction,
        /// Only edges with this label.
        label: Option<String>,
        /// Only edges with a larger id (to page on from the last one seen).
        after: Option<EdgeId>,
        /// The most edges returned.
        limit: u32,
    },
    /// A collection's entities, in id order.
    Scan {
        /// The collection.
        collection: String,
        /// Only entities with a larger id (the cursor of the previous page).
        after: Option<EntityId>,
        /// The most entities returned.
        limit: u32,
    },
    /// A breadth-first traversal that changes nothing.
    Traverse(TraverseSpec),
    /// Counts.
    Stats,
    /// A fingerprint of the whole graph's contents (see [`super::digest`]): O(size of the graph).
    Digest,
}

/// An entity, as a read returns it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityView {
    /// Its id.
    pub id: EntityId,
    /// Its collection.
    pub collection: String,
    /// Its properties.
    pub properties: Properties,
}

/// An edge, as a read returns it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EdgeView {
    /// Its id.
    pub id: EdgeId,
    /// Where it starts.
    pub from: EntityId,
    /// Where it ends.
    pub to: EntityId,
    /// Its type.
    pub label: String,
    /// Its pheromone level now (see [`super::pheromone`]).
    pub pheromone: u32,
    /// Its properties.
    pub properties: Properties,
}

/// One neighbour of an entity: the edge, and the entity at its other end.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Neighbor {
    /// The edge.
    pub edge: EdgeId,
    /// The entity at its other end (the entity itself for an edge to itself).
    pub entity: EntityId,
    /// The edge's type.
    pub label: String,
    /// The edge's pheromone level now.
    pub pheromone: u32,
}

/// What a traversal reached.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Traversal {
    /// The entities reached, each once, in breadth-first order, with their distance in edges.
    pub reached: Vec<(EntityId, u32)>,
    /// Whether the traversal stopped early: at its limit of entities, or of edges examined.
    pub cut: bool,
}

/// Counts of a graph.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GraphStats {
    /// Live entities.
    pub entities: u64,
    /// Live edges.
    pub edges: u64,
    /// Collections with at least one entity, with their counts, in name order.
    pub collections: Vec<(String, u64)>,
    /// Edge labels with at least one edge, with their counts, in name order.
    pub labels: Vec<(String, u64)>,
    /// Evaporation steps so far.
    pub evaporations: u64,
}

/// What a read answers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GraphAnswer {
    /// An entity, if it exists.
    Entity(Option<EntityView>),
    /// An edge, if it exists.
    Edge(Option<EdgeView>),
    /// Neighbours, and whether more follow the last.
    Neighbors {
        /// The neighbours.
        neighbors: Vec<Neighbor>,
        /// Whether more edges follow (page on with `after` = the last edge).
        more: bool,
    },
    /// A page of a collection, and whether more follow the last.
    Scan {
        /// The entities' ids.
        entities: Vec<EntityId>,
        /// Whether more entities follow (page on with `after` = the last id).
        more: bool,
    },
    /// A traversal's result.
    Traversal(Traversal),
    /// Counts.
    Stats(GraphStats),
    /// The fingerprint of the graph's contents.
    Digest(u64),
    /// The read could not be answered.
    Error(GraphError),
}

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GraphResult {
    /// The entity added.
    Entity(EntityId),
    /// The edge added.
    Edge(EdgeId),
    /// The command took effect.
    Done,
    /// A reinforcing traversal's result.
    Traversal(Traversal),
    /// A read's answer.
    Read(GraphAnswer),
    /// The command did nothing, for this reason.
    Error(GraphError),
}

/// Why a graph command or read did nothing. Deterministic: every replica finds the same.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, thiserror::Error)]
pub enum GraphError {
    /// No live entity has this id.
    #[error("no entity {}", .0.0)]
    NoSuchEntity(EntityId),
    /// No live edge has this id.
    #[error("no edge {}", .0.0)]
    NoSuchEdge(EdgeId),
    /// The graph holds its most live entities.
    #[error("the graph holds its most entities ({0})")]
    EntitiesFull(u64),
    /// The graph holds its most live edges.
    #[error("the graph holds its most edges ({0})")]
    EdgesFull(u64),
    /// The graph has handed out every id it can.
    #[error("the graph has handed out every id it can")]
    IdsExhausted,
    /// The graph knows its most distinct collection names or edge labels.
    #[error("the graph knows its most distinct names ({0})")]
    NamesFull(u32),
    /// The properties after an update would be over the limit.
    #[error("properties would take {bytes} bytes, over the limit of {limit}")]
    PropertiesTooLarge {
        /// Their encoded size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
}
