//! A brute-force reference of the graph: plain ordered maps, every question answered by walking
//! them. It is the sequential specification the graph is tested against (property tests here, the
//! linearizability checker of the `graph-swarm` scenario), written apart from the compact layout so
//! that the two can disagree. Only the pheromone arithmetic ([`decay`]) is shared.

use super::config::{EDGE_IDS_MAX, ENTITY_IDS_MAX, GraphConfig, NAMES_MAX};
use super::digest::Digest;
use super::ops::{
    Direction, EdgeId, EdgeView, EntityId, EntityView, GraphAnswer, GraphError, GraphOp, GraphQuery, GraphResult,
    GraphStats, Neighbor, Traversal, TraverseSpec,
};
use super::pheromone::decay;
use super::value::{Properties, encode, encoded_bytes, merged};
use std::collections::{BTreeMap, BTreeSet};

/// An edge of the model.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelEdge {
    /// Where it starts.
    pub from: u64,
    /// Where it ends.
    pub to: u64,
    /// Its type.
    pub label: String,
    /// Its level when last set, and the evaporation step then.
    pub level: (u32, u64),
    /// Its properties.
    pub properties: Properties,
}

/// The graph as plain maps.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelGraph {
    /// Live entities by id: collection and properties.
    pub entities: BTreeMap<u64, (String, Properties)>,
    /// Live edges by id.
    pub edges: BTreeMap<u64, ModelEdge>,
    /// Ids handed out so far.
    pub entity_ids: u64,
    /// Edge ids handed out so far.
    pub edge_ids: u64,
    /// Every collection name and label ever used.
    pub names: (BTreeSet<String>, BTreeSet<String>),
    /// Evaporation steps and mutations so far.
    pub counters: (u64, u64),
}

impl ModelGraph {
    /// Applies `op` as the graph would under `config`.
    pub fn apply(&mut self, config: &GraphConfig, op: &GraphOp) -> GraphResult {
        let result = self.mutate(config, op);
        if !matches!(op, GraphOp::Read(_) | GraphOp::Evaporate { .. }) {
            self.counters.1 += 1;
            let every = config.pheromone.evaporate_every_mutations;
            if every > 0 && self.counters.1.is_multiple_of(every) {
                self.counters.0 += 1;
            }
        }
        result
    }

    fn mutate(&mut self, config: &GraphConfig, op: &GraphOp) -> GraphResult {
        let limits = &config.limits;
        match op {
            GraphOp::AddEntity { collection, properties } => {
                if self.entities.len() as u64 >= limits.entities_max {
                    return GraphResult::Error(GraphError::EntitiesFull(limits.entities_max));
                }
                if self.entity_ids >= ENTITY_IDS_MAX {
                    return GraphResult::Error(GraphError::IdsExhausted);
                }
                if !self.names.0.contains(collection) && self.names.0.len() >= NAMES_MAX as usize {
                    return GraphResult::Error(GraphError::NamesFull(NAMES_MAX));
                }
                self.names.0.insert(collection.clone());
                self.entity_ids += 1;
                self.entities.insert(self.entity_ids, (collection.clone(), properties.clone()));
                GraphResult::Entity(EntityId(self.entity_ids))
            }
            GraphOp::SetProperties { entity, set, remove } => {
                let Some((_, properties)) = self.entities.get_mut(&entity.0) else {
                    return GraphResult::Error(GraphError::NoSuchEntity(*entity));
                };
                let updated = merged(properties.clone(), set, remove);
                let bytes = encoded_bytes(&updated);
                if bytes > limits.properties_bytes_max {
                    let limit = limits.properties_bytes_max as u64;
                    return GraphResult::Error(GraphError::PropertiesTooLarge { bytes: bytes as u64, limit });
                }
                *properties = updated;
                GraphResult::Done
            }
            GraphOp::RemoveEntity { entity } => {
                if self.entities.remove(&entity.0).is_none() {
                    return GraphResult::Error(GraphError::NoSuchEntity(*entity));
                }
                self.edges.retain(|_, edge| edge.from != entity.0 && edge.to != entity.0);
                GraphResult::Done
            }
            GraphOp::AddEdge { from, to, label, properties } => {
                for end in [from, to] {
                    if !self.entities.contains_key(&end.0) {
                        return GraphResult::Error(GraphError::NoSuchEntity(*end));
                    }
                }
                if self.edges.len() as u64 >= limits.edges_max {
                    return GraphResult::Error(GraphError::EdgesFull(limits.edges_max));
                }
                if self.edge_ids >= EDGE_IDS_MAX {
                    return GraphResult::Error(GraphError::IdsExhausted);
                }
                if !self.names.1.contains(label) && self.names.1.len() >= NAMES_MAX as usize {
                    return GraphResult::Error(GraphError::NamesFull(NAMES_MAX));
                }
                self.names.1.insert(label.clone());
                self.edge_ids += 1;
                let edge = ModelEdge {
                    from: from.0,
                    to: to.0,
                    label: label.clone(),
                    level: (0, self.counters.0),
                    properties: properties.clone(),
                };
                self.edges.insert(self.edge_ids, edge);
                GraphResult::Edge(EdgeId(self.edge_ids))
            }
            GraphOp::RemoveEdge { edge } => match self.edges.remove(&edge.0) {
                Some(_) => GraphResult::Done,
                None => GraphResult::Error(GraphError::NoSuchEdge(*edge)),
            },
            GraphOp::Reinforce(spec) => match self.traverse(config, spec) {
                Ok((traversal, tree_edges)) => {
                    let now = self.counters.0;
                    let pheromone = config.pheromone;
                    for edge in tree_edges {
                        if let Some(edge) = self.edges.get_mut(&edge) {
                            let level = decay(edge.level.0, now - edge.level.1, pheromone.evaporation_ppm);
                            edge.level = (level.saturating_add(pheromone.deposit).min(pheromone.level_max), now);
                        }
                    }
                    GraphResult::Traversal(traversal)
                }
                Err(error) => GraphResult::Error(error),
            },
            GraphOp::Evaporate { steps } => {
                self.counters.0 += u64::from(*steps);
                GraphResult::Done
            }
            GraphOp::Read(query) => GraphResult::Read(self.read(config, query)),
        }
    }

    /// Answers a read as the graph would under `config`.
    #[must_use]
    pub fn read(&self, config: &GraphConfig, query: &GraphQuery) -> GraphAnswer {
        let results_max = config.limits.results_max;
        match query {
            GraphQuery::Entity(id) => GraphAnswer::Entity(self.entities.get(&id.0).map(|(collection, properties)| {
                EntityView { id: *id, collection: collection.clone(), properties: properties.clone() }
            })),
            GraphQuery::Edge(id) => GraphAnswer::Edge(self.edges.get(&id.0).map(|edge| EdgeView {
                id: *id,
                from: EntityId(edge.from),
                to: EntityId(edge.to),
                label: edge.label.clone(),
                pheromone: self.level_now(config, edge),
                properties: edge.properties.clone(),
            })),
            GraphQuery::Neighbors { entity, direction, label, after, limit } => {
                if !self.entities.contains_key(&entity.0) {
                    return GraphAnswer::Error(GraphError::NoSuchEntity(*entity));
                }
                let matching: Vec<Neighbor> = self
                    .edges_of(entity.0, *direction)
                    .filter(|(id, edge)| {
                        label.as_ref().is_none_or(|label| edge.label == *label) && Some(**id) > after.map(|a| a.0)
                    })
                    .map(|(id, edge)| Neighbor {
                        edge: EdgeId(*id),
                        entity: EntityId(if edge.from == entity.0 { edge.to } else { edge.from }),
                        label: edge.label.clone(),
                        pheromone: self.level_now(config, edge),
                    })
                    .collect();
                let limit = (*limit).min(results_max) as usize;
                GraphAnswer::Neighbors {
                    more: matching.len() > limit,
                    neighbors: matching.into_iter().take(limit).collect(),
                }
            }
            GraphQuery::Scan { collection, after, limit } => {
                let members: Vec<EntityId> = self
                    .entities
                    .iter()
                    .filter(|(id, (of, _))| of == collection && Some(**id) > after.map(|a| a.0))
                    .map(|(id, _)| EntityId(*id))
                    .collect();
                let limit = (*limit).min(results_max) as usize;
                GraphAnswer::Scan { more: members.len() > limit, entities: members.into_iter().take(limit).collect() }
            }
            GraphQuery::Traverse(spec) => match self.traverse(config, spec) {
                Ok((traversal, _)) => GraphAnswer::Traversal(traversal),
                Err(error) => GraphAnswer::Error(error),
            },
            GraphQuery::Stats => GraphAnswer::Stats(self.stats()),
            GraphQuery::Digest => GraphAnswer::Digest(self.digest(config)),
        }
    }

    /// The fingerprint of the contents, as the graph computes it.
    #[must_use]
    pub fn digest(&self, config: &GraphConfig) -> u64 {
        let mut digest = Digest::default();
        digest.counters(self.entity_ids, self.edge_ids, self.counters.0, self.counters.1);
        for (id, (collection, properties)) in &self.entities {
            digest.entity(*id, collection, &encode(properties));
        }
        for (id, edge) in &self.edges {
            let level = self.level_now(config, edge);
            digest.edge(*id, (edge.from, edge.to), &edge.label, level, &encode(&edge.properties));
        }
        digest.finish()
    }

    /// The counts.
    #[must_use]
    pub fn stats(&self) -> GraphStats {
        let mut collections: BTreeMap<String, u64> = BTreeMap::new();
        for (collection, _) in self.entities.values() {
            *collections.entry(collection.clone()).or_default() += 1;
        }
        let mut labels: BTreeMap<String, u64> = BTreeMap::new();
        for edge in self.edges.values() {
            *labels.entry(edge.label.clone()).or_default() += 1;
        }
        GraphStats {
            entities: self.entities.len() as u64,
            edges: self.edges.len() as u64,
            collections: collections.into_iter().collect(),
            labels: labels.into_iter().collect(),
            evaporations: self.counters.0,
        }
    }

    fn level_now(&self, config: &GraphConfig, edge: &ModelEdge) -> u32 {
        decay(edge.level.0, self.counters.0 - edge.level.1, config.pheromone.evaporation_ppm)
    }

    /// The edges of `entity` that count in `direction`, in id order.
    fn edges_of(&self, entity: u64, direction: Direction) -> impl Iterator<Item = (&u64, &ModelEdge)> {
        self.edges.iter().filter(move |(_, edge)| match direction {
            Direction::Out => edge.from == entity,
            Direction::In => edge.to == entity,
            Direction::Both => edge.from == entity || edge.to == entity,
        })
    }

    /// Breadth-first, as the graph documents it; the edges each entity was first reached by.
    fn traverse(&self, config: &GraphConfig, spec: &TraverseSpec) -> Result<(Traversal, Vec<u64>), GraphError> {
        if !self.entities.contains_key(&spec.start.0) {
            return Err(GraphError::NoSuchEntity(spec.start));
        }
        let depth = spec.depth.min(config.limits.depth_max);
        let limit = spec.limit.min(config.limits.results_max) as usize;
        let mut traversal = Traversal { reached: Vec::new(), cut: false };
        let mut tree_edges = Vec::new();
        if limit == 0 || depth == 0 {
            traversal.cut = limit == 0 && depth > 0;
            return Ok((traversal, tree_edges));
        }
        let mut seen = BTreeSet::from([spec.start.0]);
        let mut frontier = vec![spec.start.0];
        let mut examined = 0u64;
        for level in 1..=depth {
            let mut next = Vec::new();
            for &entity in &frontier {
                let edges = self.edges_of(entity, spec.direction);
                for (id, edge) in edges.filter(|(_, edge)| spec.labels.is_empty() || spec.labels.contains(&edge.label))
                {
                    examined += 1;
                    if examined > config.limits.traverse_edges_max {
                        traversal.cut = true;
                        return Ok((traversal, tree_edges));
                    }
                    let other = if edge.from == entity { edge.to } else { edge.from };
                    if !seen.insert(other) {
                        continue;
                    }
                    traversal.reached.push((EntityId(other), level));
                    tree_edges.push(*id);
                    next.push(other);
                    if traversal.reached.len() >= limit {
                        traversal.cut = true;
                        return Ok((traversal, tree_edges));
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        Ok((traversal, tree_edges))
    }
}
