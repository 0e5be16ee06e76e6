//! What `graph-swarm`'s clients do: mutations, traversals and reads of a shared graph, as a user's
//! application would — entities in a few collections with properties of every type (now and then
//! as large as the limit takes), edges of a few labels between recent entities, property updates,
//! removals, reinforcing traversals and evaporation — and, between them, reads of every kind.

use crate::log::{ClientOp, OpSource, Operation};
use pangea_core::graph::{
    Direction, EdgeId, EntityId, GraphOp, GraphQuery, GraphResult, Properties, Scalar, TraverseSpec, Value,
};
use pangea_core::metadata::{MetadataAnswer, MetadataCommand, MetadataOutput, MetadataQuery};
use pangea_core::random::below;
use pangea_sim::SimRng;

/// The collections entities go in.
pub const COLLECTIONS: [&str; 3] = ["users", "items", "tags"];
/// The labels edges carry.
pub const LABELS: [&str; 3] = ["follows", "likes", "tagged"];
/// How many recent operations a client looks back through for ids to use.
const RECENT_OPS: usize = 96;

impl ClientOp for GraphOp {
    type Result = GraphResult;

    fn command(&self) -> MetadataCommand {
        MetadataCommand::Graph(self.clone())
    }

    fn read(&self) -> Option<MetadataQuery> {
        match self {
            GraphOp::Read(query) => Some(MetadataQuery::Graph(query.clone())),
            _ => None,
        }
    }

    fn output(&self, output: MetadataOutput) -> Option<GraphResult> {
        match output {
            MetadataOutput::Graph(result) => Some(result),
            _ => None,
        }
    }

    fn answer(&self, answer: MetadataAnswer) -> Option<GraphResult> {
        match answer {
            MetadataAnswer::Graph(answer) => Some(GraphResult::Read(answer)),
            _ => None,
        }
    }
}

/// Draws the graph clients' operations.
#[derive(Clone, Debug)]
pub struct GraphSource {
    /// The largest properties the graph takes, encoded: some entities reach it.
    pub properties_bytes_max: usize,
    /// The most results a read may ask for.
    pub results_max: u32,
    /// The deepest traversal.
    pub depth_max: u32,
}

impl GraphSource {
    fn properties(&self, rng: &mut SimRng) -> Properties {
        let mut properties = Properties::new();
        for _ in 0..below(rng, 4) {
            let name = ["name", "age", "score", "active", "blob", "tags"][below(rng, 6) as usize];
            let value = match below(rng, 6) {
                0 => Value::str(format!("s{}", below(rng, 1000))),
                1 => Value::int(below(rng, 200) as i64 - 100),
                2 => Value::float(below(rng, 1000) as f64 / 8.0),
                3 => Value::bool(below(rng, 2) == 0),
                4 => Value::List((0..below(rng, 4)).map(|n| Scalar::Int(n as i64)).collect()),
                _ => {
                    // Mostly small; one in eight fills what is left of the limit.
                    let size = if below(rng, 8) == 0 {
                        self.properties_bytes_max.saturating_sub(64)
                    } else {
                        below(rng, 256) as usize
                    };
                    Value::bytes(vec![b'x'; size])
                }
            };
            properties.insert(name.to_owned(), value);
        }
        properties
    }

    fn direction(rng: &mut SimRng) -> Direction {
        [Direction::Out, Direction::In, Direction::Both][below(rng, 3) as usize]
    }

    fn label(rng: &mut SimRng) -> String {
        LABELS[below(rng, LABELS.len() as u64) as usize].to_owned()
    }

    fn traversal(&self, rng: &mut SimRng, start: EntityId) -> TraverseSpec {
        let labels = (0..below(rng, 2)).map(|_| GraphSource::label(rng)).collect();
        TraverseSpec {
            start,
            depth: 1 + below(rng, u64::from(self.depth_max.min(3))) as u32,
            direction: GraphSource::direction(rng),
            labels,
            limit: 1 + below(rng, u64::from(self.results_max.min(64))) as u32,
        }
    }
}

/// An id some recent operation added, or one drawn near them (which may not exist).
fn known_entity(rng: &mut SimRng, history: &[Operation<GraphOp>]) -> EntityId {
    let recent: Vec<EntityId> = history
        .iter()
        .rev()
        .take(RECENT_OPS)
        .filter_map(|operation| match &operation.completion {
            crate::log::Completion::Done { result: GraphResult::Entity(id), .. } => Some(*id),
            _ => None,
        })
        .collect();
    match recent.len() {
        0 => EntityId(1 + below(rng, 8)),
        count if below(rng, 8) != 0 => recent[below(rng, count as u64) as usize],
        _ => EntityId(1 + below(rng, recent[0].0 + 2)),
    }
}

/// An edge id some recent operation added, or one drawn near them.
fn known_edge(rng: &mut SimRng, history: &[Operation<GraphOp>]) -> EdgeId {
    let recent: Vec<EdgeId> = history
        .iter()
        .rev()
        .take(RECENT_OPS)
        .filter_map(|operation| match &operation.completion {
            crate::log::Completion::Done { result: GraphResult::Edge(id), .. } => Some(*id),
            _ => None,
        })
        .collect();
    match recent.len() {
        0 => EdgeId(1 + below(rng, 8)),
        count if below(rng, 8) != 0 => recent[below(rng, count as u64) as usize],
        _ => EdgeId(1 + below(rng, recent[0].0 + 2)),
    }
}

impl OpSource<GraphOp> for GraphSource {
    fn draw(&mut self, rng: &mut SimRng, history: &[Operation<GraphOp>]) -> GraphOp {
        match below(rng, 100) {
            0..=17 => {
                let collection = COLLECTIONS[below(rng, COLLECTIONS.len() as u64) as usize].to_owned();
                GraphOp::AddEntity { collection, properties: self.properties(rng) }
            }
            18..=37 => GraphOp::AddEdge {
                from: known_entity(rng, history),
                to: known_entity(rng, history),
                label: GraphSource::label(rng),
                properties: if below(rng, 4) == 0 { self.properties(rng) } else { Properties::new() },
            },
            38..=44 => {
                let remove = if below(rng, 3) == 0 { vec!["name".to_owned(), "blob".to_owned()] } else { Vec::new() };
                GraphOp::SetProperties { entity: known_entity(rng, history), set: self.properties(rng), remove }
            }
            45..=47 => GraphOp::RemoveEntity { entity: known_entity(rng, history) },
            48..=51 => GraphOp::RemoveEdge { edge: known_edge(rng, history) },
            52..=57 => {
                let start = known_entity(rng, history);
                GraphOp::Reinforce(self.traversal(rng, start))
            }
            58..=60 => GraphOp::Evaporate { steps: 1 + below(rng, 3) as u32 },
            roll => GraphOp::Read(match roll {
                61..=68 => GraphQuery::Entity(known_entity(rng, history)),
                69..=72 => GraphQuery::Edge(known_edge(rng, history)),
                73..=82 => GraphQuery::Neighbors {
                    entity: known_entity(rng, history),
                    direction: GraphSource::direction(rng),
                    label: (below(rng, 2) == 0).then(|| GraphSource::label(rng)),
                    after: None,
                    limit: 1 + below(rng, u64::from(self.results_max.min(32))) as u32,
                },
                83..=88 => GraphQuery::Scan {
                    collection: COLLECTIONS[below(rng, COLLECTIONS.len() as u64) as usize].to_owned(),
                    after: (below(rng, 2) == 0).then(|| known_entity(rng, history)),
                    limit: 1 + below(rng, u64::from(self.results_max.min(32))) as u32,
                },
                89..=96 => {
                    let start = known_entity(rng, history);
                    GraphQuery::Traverse(self.traversal(rng, start))
                }
                _ => GraphQuery::Stats,
            }),
        }
    }
}
