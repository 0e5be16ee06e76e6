//! The property graph: entities in collections with typed properties, typed edges with properties
//! and pheromone levels, neighbours, collection scans, bounded traversals, reinforcement and
//! evaporation. One part of the node's replicated metadata ([`crate::metadata`]); also usable on
//! its own, in process, as a library ([`Graph`] is a plain value).
//!
//! - **Replicated:** mutations are log commands ([`GraphOp`]); every replica applies them in the
//!   log's order and reaches the same graph, bit for bit. Reads are local ([`GraphQuery`], possibly
//!   stale) or linearizable ([`GraphOp::Read`], ordered with the commands).
//! - **Pheromone** ([`pheromone`]): a traversal that reinforces ([`GraphOp::Reinforce`]) deposits
//!   on every edge it reached an entity through; evaporation advances by steps that are log
//!   commands ([`GraphOp::Evaporate`]) or that follow every so many mutations — a function of the
//!   log's position, never of a replica's clock.
//! - **Compact** ([`store`]): 48 bytes per entity slot plus its encoded properties, 40 bytes per
//!   edge slot plus a 12-byte entry in each end's list; snapshots ([`snapshot`]) are columnar postcard.
//! - **Bounded:** every name, property map, traversal and answer is within [`GraphLimits`];
//!   commands past them are refused before the log ([`StateMachine::validate`]), reads are cut to
//!   them.

pub mod config;
pub mod digest;
pub mod interner;
pub mod model;
pub mod ops;
pub mod pheromone;
mod slab;
pub mod snapshot;
pub mod store;
mod traverse;
pub mod value;

#[cfg(test)]
mod tests;

pub use config::{GraphConfig, GraphConfigError, GraphLimits, GraphPlantedBug};
pub use ops::{
    Direction, EdgeId, EdgeView, EntityId, EntityView, GraphAnswer, GraphError, GraphOp, GraphQuery, GraphResult,
    GraphStats, Neighbor, Traversal, TraverseSpec,
};
pub use value::{Float, Properties, Scalar, Value};

use crate::codec::CodecError;
use crate::log::{Bound, InvalidCommand, Part, StateMachine};
use interner::NameIndex;
use pheromone::{EVAPORATE_STEPS_MAX, decay};
use snapshot::Counters;
use store::{Store, edge_id, entity_id};
use traverse::{Bounds, traverse};

/// The most labels one traversal may follow.
pub const TRAVERSE_LABELS_MAX: usize = 64;

/// A property graph (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Graph {
    config: GraphConfig,
    store: Store,
    counters: Counters,
}

impl Graph {
    /// An empty graph with `config` (checked by [`GraphConfig::validate`] beforehand).
    #[must_use]
    pub fn new(config: GraphConfig) -> Graph {
        Graph { config, store: Store::default(), counters: Counters::default() }
    }

    /// Its settings.
    #[must_use]
    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    /// The layout, for memory reports and checks.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Evaporation steps so far.
    #[must_use]
    pub fn evaporations(&self) -> u64 {
        self.counters.evaporations
    }

    /// The level of an edge now (its stored level decayed by the steps since it was set).
    fn level_now(&self, level: u32, at: u64) -> u32 {
        decay(
            level,
            self.counters.evaporations - at.min(self.counters.evaporations),
            self.config.pheromone.evaporation_ppm,
        )
    }

    /// The label numbers `labels` name (`None`: no filter); unknown labels match nothing.
    fn label_filter(&self, labels: &[String]) -> Option<Vec<NameIndex>> {
        (!labels.is_empty()).then(|| labels.iter().filter_map(|label| self.store.labels.find(label)).collect())
    }

    /// A read's limit, within the graph's.
    fn limit(&self, limit: u32) -> u32 {
        limit.min(self.config.limits.results_max)
    }

    fn check_name(&self, name: &str) -> Result<(), InvalidCommand> {
        let limit = self.config.limits.name_bytes_max;
        if name.len() > limit {
            return Err(InvalidCommand::TooLarge { part: Part::Name, bytes: name.len() as u64, limit: limit as u64 });
        }
        Ok(())
    }

    fn check_properties(&self, properties: &Properties) -> Result<(), InvalidCommand> {
        let limit = self.config.limits.properties_bytes_max;
        let bytes = value::encoded_bytes(properties);
        if bytes > limit {
            return Err(InvalidCommand::TooLarge { part: Part::Properties, bytes: bytes as u64, limit: limit as u64 });
        }
        properties.keys().try_for_each(|name| self.check_name(name))
    }

    fn check_count(bound: Bound, value: u64, limit: u64) -> Result<(), InvalidCommand> {
        if value > limit {
            return Err(InvalidCommand::OverLimit { bound, value, limit });
        }
        Ok(())
    }

    fn check_traverse(&self, spec: &TraverseSpec) -> Result<(), InvalidCommand> {
        let limits = &self.config.limits;
        Self::check_count(Bound::Depth, u64::from(spec.depth), u64::from(limits.depth_max))?;
        Self::check_count(Bound::Results, u64::from(spec.limit), u64::from(limits.results_max))?;
        Self::check_count(Bound::Labels, spec.labels.len() as u64, TRAVERSE_LABELS_MAX as u64)?;
        spec.labels.iter().try_for_each(|label| self.check_name(label))
    }

    fn check_query(&self, query: &GraphQuery) -> Result<(), InvalidCommand> {
        let results_max = u64::from(self.config.limits.results_max);
        match query {
            GraphQuery::Entity(_) | GraphQuery::Edge(_) | GraphQuery::Stats | GraphQuery::Digest => Ok(()),
            GraphQuery::Neighbors { label, limit, .. } => {
                label.as_deref().map_or(Ok(()), |label| self.check_name(label))?;
                Self::check_count(Bound::Results, u64::from(*limit), results_max)
            }
            GraphQuery::Scan { collection, limit, .. } => {
                self.check_name(collection)?;
                Self::check_count(Bound::Results, u64::from(*limit), results_max)
            }
            GraphQuery::Traverse(spec) => self.check_traverse(spec),
        }
    }

    /// Answers a read from the graph as it is here.
    #[must_use]
    pub fn read(&self, query: &GraphQuery) -> GraphAnswer {
        match query {
            GraphQuery::Entity(id) => GraphAnswer::Entity(self.entity(*id)),
            GraphQuery::Edge(id) => GraphAnswer::Edge(self.edge(*id)),
            GraphQuery::Neighbors { entity, direction, label, after, limit } => {
                let Some((slot, _)) = self.store.entity_by_id(*entity) else {
                    return GraphAnswer::Error(GraphError::NoSuchEntity(*entity));
                };
                let labels = label.as_ref().map(|label| self.store.labels.find(label).into_iter().collect::<Vec<_>>());
                let after = after.map_or(0, |after| after.0);
                let mut matching = self
                    .store
                    .edges_of(slot, *direction, labels.as_deref())
                    .filter(|(edge_slot, _)| edge_id(*edge_slot).0 > after);
                let neighbors: Vec<Neighbor> = matching
                    .by_ref()
                    .take(self.limit(*limit) as usize)
                    .map(|(edge_slot, edge)| Neighbor {
                        edge: edge_id(edge_slot),
                        entity: entity_id(edge.other_end(slot)),
                        label: self.store.labels.name(edge.label).to_owned(),
                        pheromone: self.level_now(edge.level, edge.at),
                    })
                    .collect();
                GraphAnswer::Neighbors { neighbors, more: matching.next().is_some() }
            }
            GraphQuery::Scan { collection, after, limit } => {
                let members = self.store.collections.find(collection).map_or(&[][..], |c| self.store.members(c));
                let after = after.and_then(|after| after.0.checked_sub(1)).map_or(0, |slot| {
                    u32::try_from(slot).map_or(members.len(), |slot| members.partition_point(|&member| member <= slot))
                });
                let rest = members.get(after..).unwrap_or(&[]);
                let limit = self.limit(*limit) as usize;
                let entities = rest.iter().take(limit).map(|&slot| entity_id(slot)).collect();
                GraphAnswer::Scan { entities, more: rest.len() > limit }
            }
            GraphQuery::Traverse(spec) => match self.run_traversal(spec) {
                Ok(reached) => GraphAnswer::Traversal(reached.traversal),
                Err(error) => GraphAnswer::Error(error),
            },
            GraphQuery::Stats => GraphAnswer::Stats(self.stats()),
            GraphQuery::Digest => GraphAnswer::Digest(self.digest()),
        }
    }

    /// The fingerprint of the graph's contents ([`digest`]).
    #[must_use]
    pub fn digest(&self) -> u64 {
        let mut digest = digest::Digest::default();
        let store = &self.store;
        let counters = &self.counters;
        let slots = (u64::from(store.entity_slots()), u64::from(store.edge_slots()));
        digest.counters(slots.0, slots.1, counters.evaporations, counters.mutations);
        for (slot, entity) in store.live_entity_slots() {
            digest.entity(entity_id(slot).0, store.collections.name(entity.collection), &entity.properties);
        }
        for (slot, edge) in store.live_edge_slots() {
            let ends = (entity_id(edge.from).0, entity_id(edge.to).0);
            let label = store.labels.name(edge.label);
            digest.edge(edge_id(slot).0, ends, label, self.level_now(edge.level, edge.at), &edge.properties);
        }
        digest.finish()
    }

    /// An entity as a read returns it.
    #[must_use]
    pub fn entity(&self, id: EntityId) -> Option<EntityView> {
        let (_, entity) = self.store.entity_by_id(id)?;
        Some(EntityView {
            id,
            collection: self.store.collections.name(entity.collection).to_owned(),
            // The graph encoded these bytes itself (or checked them when reading a snapshot).
            properties: value::decode(&entity.properties).unwrap_or_default(),
        })
    }

    /// An edge as a read returns it.
    #[must_use]
    pub fn edge(&self, id: EdgeId) -> Option<EdgeView> {
        let (_, edge) = self.store.edge_by_id(id)?;
        Some(EdgeView {
            id,
            from: entity_id(edge.from),
            to: entity_id(edge.to),
            label: self.store.labels.name(edge.label).to_owned(),
            pheromone: self.level_now(edge.level, edge.at),
            properties: value::decode(&edge.properties).unwrap_or_default(),
        })
    }

    /// The graph's counts.
    #[must_use]
    pub fn stats(&self) -> GraphStats {
        GraphStats {
            entities: self.store.live_entities(),
            edges: self.store.live_edges(),
            collections: self.store.collections.counted(),
            labels: self.store.labels.counted(),
            evaporations: self.counters.evaporations,
        }
    }

    fn run_traversal(&self, spec: &TraverseSpec) -> Result<traverse::Reached, GraphError> {
        let (start, _) = self.store.entity_by_id(spec.start).ok_or(GraphError::NoSuchEntity(spec.start))?;
        let labels = self.label_filter(&spec.labels);
        let bounds = Bounds {
            depth: spec.depth.min(self.config.limits.depth_max),
            limit: self.limit(spec.limit),
            edges_max: self.config.limits.traverse_edges_max,
        };
        Ok(traverse(&self.store, start, spec.direction, labels.as_deref(), bounds))
    }

    fn mutate(&mut self, op: &GraphOp) -> GraphResult {
        let limits = self.config.limits;
        match op {
            GraphOp::AddEntity { collection, properties } => {
                if self.store.live_entities() >= limits.entities_max {
                    return GraphResult::Error(GraphError::EntitiesFull(limits.entities_max));
                }
                match self.store.add_entity(collection, value::encode(properties)) {
                    Ok(slot) => GraphResult::Entity(entity_id(slot)),
                    Err(error) => GraphResult::Error(error),
                }
            }
            GraphOp::SetProperties { entity, set, remove } => {
                let Some((slot, current)) = self.store.entity_by_id(*entity) else {
                    return GraphResult::Error(GraphError::NoSuchEntity(*entity));
                };
                let properties = value::merged(value::decode(&current.properties).unwrap_or_default(), set, remove);
                let bytes = value::encoded_bytes(&properties);
                if bytes > limits.properties_bytes_max {
                    let limit = limits.properties_bytes_max as u64;
                    return GraphResult::Error(GraphError::PropertiesTooLarge { bytes: bytes as u64, limit });
                }
                self.store.set_properties(slot, value::encode(&properties));
                GraphResult::Done
            }
            GraphOp::RemoveEntity { entity } => {
                let Some((slot, _)) = self.store.entity_by_id(*entity) else {
                    return GraphResult::Error(GraphError::NoSuchEntity(*entity));
                };
                self.store.remove_entity(slot, self.config.planted(GraphPlantedBug::RemoveKeepsEdges));
                GraphResult::Done
            }
            GraphOp::AddEdge { from, to, label, properties } => {
                let Some((from_slot, _)) = self.store.entity_by_id(*from) else {
                    return GraphResult::Error(GraphError::NoSuchEntity(*from));
                };
                let Some((to_slot, _)) = self.store.entity_by_id(*to) else {
                    return GraphResult::Error(GraphError::NoSuchEntity(*to));
                };
                if self.store.live_edges() >= limits.edges_max {
                    return GraphResult::Error(GraphError::EdgesFull(limits.edges_max));
                }
                let level = (0, self.counters.evaporations);
                match self.store.add_edge((from_slot, to_slot), label, level, value::encode(properties)) {
                    Ok(slot) => GraphResult::Edge(edge_id(slot)),
                    Err(error) => GraphResult::Error(error),
                }
            }
            GraphOp::RemoveEdge { edge } => {
                let Some((slot, _)) = self.store.edge_by_id(*edge) else {
                    return GraphResult::Error(GraphError::NoSuchEdge(*edge));
                };
                self.store.remove_edge(slot);
                GraphResult::Done
            }
            GraphOp::Reinforce(spec) => match self.run_traversal(spec) {
                Ok(reached) => {
                    self.reinforce(&reached.tree_edges);
                    GraphResult::Traversal(reached.traversal)
                }
                Err(error) => GraphResult::Error(error),
            },
            GraphOp::Evaporate { steps } => {
                self.counters.evaporations += u64::from(*steps);
                GraphResult::Done
            }
            GraphOp::Read(query) => GraphResult::Read(self.read(query)),
        }
    }

    /// Deposits pheromone on the edges at `slots`.
    fn reinforce(&mut self, slots: &[u32]) {
        let pheromone = self.config.pheromone;
        let now = self.counters.evaporations;
        for &slot in slots {
            if let Some(edge) = self.store.edge_mut(slot) {
                let level = decay(edge.level, now - edge.at.min(now), pheromone.evaporation_ppm);
                edge.level = level.saturating_add(pheromone.deposit).min(pheromone.level_max);
                edge.at = now;
            }
        }
    }
}

impl StateMachine for Graph {
    type Command = GraphOp;
    type Output = GraphResult;
    type Query = GraphQuery;
    type Answer = GraphAnswer;

    fn validate(&self, command: &GraphOp) -> Result<(), InvalidCommand> {
        match command {
            GraphOp::AddEntity { collection, properties } => {
                self.check_name(collection)?;
                self.check_properties(properties)
            }
            GraphOp::SetProperties { set, remove, .. } => {
                self.check_properties(set)?;
                remove.iter().try_for_each(|name| self.check_name(name))?;
                let limit = self.config.limits.properties_bytes_max;
                let bytes: usize = remove.iter().map(String::len).sum();
                if bytes > limit {
                    return Err(InvalidCommand::TooLarge {
                        part: Part::Name,
                        bytes: bytes as u64,
                        limit: limit as u64,
                    });
                }
                Ok(())
            }
            GraphOp::AddEdge { label, properties, .. } => {
                self.check_name(label)?;
                self.check_properties(properties)
            }
            GraphOp::RemoveEntity { .. } | GraphOp::RemoveEdge { .. } => Ok(()),
            GraphOp::Reinforce(spec) => self.check_traverse(spec),
            GraphOp::Evaporate { steps } => {
                Self::check_count(Bound::Steps, u64::from(*steps), u64::from(EVAPORATE_STEPS_MAX))
            }
            GraphOp::Read(query) => self.check_query(query),
        }
    }

    fn is_read_only(command: &GraphOp) -> bool {
        matches!(command, GraphOp::Read(_))
    }

    fn apply(&mut self, command: &GraphOp) -> GraphResult {
        let result = self.mutate(command);
        if !matches!(command, GraphOp::Read(_) | GraphOp::Evaporate { .. }) {
            self.counters.mutations += 1;
            let every = self.config.pheromone.evaporate_every_mutations;
            if every > 0 && self.counters.mutations.is_multiple_of(every) {
                self.counters.evaporations += 1;
            }
        }
        result
    }

    fn query(&self, query: &GraphQuery) -> GraphAnswer {
        self.read(query)
    }

    fn snapshot(&self) -> Vec<u8> {
        snapshot::write(&self.store, self.counters, self.config.planted(GraphPlantedBug::SnapshotDropsPheromone))
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        let (store, counters) = snapshot::read(bytes)?;
        self.store = store;
        self.counters = counters;
        Ok(())
    }
}
