//! `pangea graph`: the cluster's replicated property graph from the command line — entities in
//! collections and labelled edges with typed properties, neighbours, scans, traversals, and the
//! pheromone on edges. Part of the `pangea` binary (declared in `main.rs`), not of the library;
//! the calls are [`pangea_node::api::graph`]'s.

use crate::properties::{self, PROPERTY_HELP, parse_property, properties_json, value_text};
use crate::reading::{JsonList, Reader, Reading, Writing, say, say_json, say_lines, unexpected};
use crate::{Usage, complain};
use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use pangea_core::graph::config::{DEPTH_MAX, RESULTS_MAX};
use pangea_core::graph::pheromone::{EVAPORATE_STEPS_MAX, as_f64};
use pangea_core::graph::{
    Direction, EdgeId, EdgeView, EntityId, EntityView, GraphAnswer, GraphOp, GraphQuery, GraphResult, Neighbor,
    Properties, Traversal, TraverseSpec, Value,
};
use std::process::ExitCode;

/// The help after `pangea graph --help`: [`ABOUT_GRAPH`], then how properties are written.
pub fn help() -> String {
    format!("{ABOUT_GRAPH}\n\n{PROPERTY_HELP}")
}

/// What every graph command shares.
const ABOUT_GRAPH: &str = "\
The graph is part of the cluster's replicated metadata: every command goes through the log (in the \
client's session, so a retried command is applied once) and every node applies it. Reads are \
linearizable at the leader; --stale reads what the first --node has applied instead (fast, possibly \
behind). Ids (ENTITY, EDGE) are the numbers `add-entity` and `add-edge` print: handed out from 1, \
never reused. Listings (neighbors, scan) page through everything unless --limit is given; then \
--json says \"more\" and \"next_after\", and the text output says on standard error how to page on.

Pheromone: `traverse --reinforce` deposits 1.0 on every edge the traversal reached an entity \
through (up to 1000.0); `evaporate` takes 10% of every edge's level per step. Levels print as \
numbers (1, 0.899993896484375): fixed point in units of 1/65536, exact in --json's \
pheromone_fixed.

Exit codes: 0 success, 1 the operation failed (cluster unreachable, no such entity or edge, a full \
graph), 2 bad usage (a malformed argument or property, a name, depth or limit over the graph's \
limits).";

/// `--direction`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DirectionArg {
    /// Edges from the entity.
    Out,
    /// Edges to the entity.
    In,
    /// Edges from it and to it (an edge to itself once).
    Both,
}

impl From<DirectionArg> for Direction {
    fn from(direction: DirectionArg) -> Direction {
        match direction {
            DirectionArg::Out => Direction::Out,
            DirectionArg::In => Direction::In,
            DirectionArg::Both => Direction::Both,
        }
    }
}

/// The graph commands.
#[derive(Subcommand)]
pub enum GraphCommand {
    /// Add an entity to COLLECTION; print its id.
    #[command(after_long_help = PROPERTY_HELP)]
    AddEntity {
        #[command(flatten)]
        writing: Writing,
        /// The collection (any name up to 256 bytes; made on first use).
        collection: String,
        /// A property, NAME=VALUE (repeatable): VALUE typed by a prefix (str:, int:, float:, bool:,
        /// bytes:HEX, list:A,B) or inferred (integer, float, true/false, else text).
        #[arg(long = "prop", value_name = "NAME=VALUE", value_parser = parse_property)]
        props: Vec<(String, Value)>,
    },
    /// Add an edge labelled LABEL from entity FROM to entity TO; print its id.
    #[command(after_long_help = PROPERTY_HELP)]
    AddEdge {
        #[command(flatten)]
        writing: Writing,
        /// The entity it starts at.
        from: u64,
        /// The entity it ends at.
        to: u64,
        /// Its label (its type: any name up to 256 bytes).
        label: String,
        /// A property, NAME=VALUE (repeatable): VALUE typed by a prefix (str:, int:, float:, bool:,
        /// bytes:HEX, list:A,B) or inferred (integer, float, true/false, else text).
        #[arg(long = "prop", value_name = "NAME=VALUE", value_parser = parse_property)]
        props: Vec<(String, Value)>,
    },
    /// Print an entity (its collection, then a NAME=VALUE line per property), or with --edge an
    /// edge (its ends, label and pheromone, then its properties); exit 1 if there is none.
    Get {
        #[command(flatten)]
        reading: Reading,
        /// The entity.
        #[arg(required_unless_present = "edge")]
        entity: Option<u64>,
        /// Print this edge instead.
        #[arg(long, value_name = "EDGE", conflicts_with = "entity")]
        edge: Option<u64>,
    },
    /// Write properties of an entity (others are kept) and remove the ones named by --remove.
    #[command(after_long_help = PROPERTY_HELP)]
    Set {
        #[command(flatten)]
        writing: Writing,
        /// The entity.
        entity: u64,
        /// A property to write, NAME=VALUE (repeatable): VALUE typed by a prefix (str:, int:,
        /// float:, bool:, bytes:HEX, list:A,B) or inferred (integer, float, true/false, else text).
        #[arg(long = "prop", value_name = "NAME=VALUE", value_parser = parse_property,
            required_unless_present = "remove")]
        props: Vec<(String, Value)>,
        /// A property to remove (repeatable).
        #[arg(long, value_name = "NAME")]
        remove: Vec<String>,
    },
    /// Remove an entity and every edge from or to it, or with --edge one edge.
    Remove {
        #[command(flatten)]
        writing: Writing,
        /// The entity.
        #[arg(required_unless_present = "edge")]
        entity: Option<u64>,
        /// Remove this edge instead.
        #[arg(long, value_name = "EDGE", conflicts_with = "entity")]
        edge: Option<u64>,
    },
    /// List an entity's edges in edge id order, one line each: the edge, the entity at its other
    /// end, its pheromone level and its label.
    Neighbors {
        #[command(flatten)]
        reading: Reading,
        /// The entity.
        entity: u64,
        /// Which edges: out of it, into it, or both.
        #[arg(long, value_enum, default_value = "out")]
        direction: DirectionArg,
        /// Only edges with this label.
        #[arg(long)]
        label: Option<String>,
        /// Only edges with a larger id (to page on from the last one seen).
        #[arg(long, value_name = "EDGE")]
        after: Option<u64>,
        /// At most this many edges, in one page (default: all of them, page after page).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(..=i64::from(RESULTS_MAX)))]
        limit: Option<u32>,
    },
    /// List the entities of COLLECTION in id order, one id a line.
    Scan {
        #[command(flatten)]
        reading: Reading,
        /// The collection.
        collection: String,
        /// Only entities with a larger id (to page on from the last one seen).
        #[arg(long, value_name = "ENTITY")]
        after: Option<u64>,
        /// At most this many entities, in one page (default: all of them, page after page).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(..=i64::from(RESULTS_MAX)))]
        limit: Option<u32>,
    },
    /// Walk breadth first from START, up to --depth edges away; print each entity reached once,
    /// nearest first, with its distance in edges. With --reinforce the walk is a command through
    /// the log that deposits pheromone on every edge it reached an entity through.
    Traverse {
        #[command(flatten)]
        reading: Reading,
        /// Where it starts (not itself a result).
        start: u64,
        /// How many edges away it goes, at most (1: the neighbours).
        #[arg(long, value_name = "D", value_parser = clap::value_parser!(u32).range(..=i64::from(DEPTH_MAX)))]
        depth: u32,
        /// Which edges it follows.
        #[arg(long, value_enum, default_value = "out")]
        direction: DirectionArg,
        /// Only edges with this label (repeatable: any of them; default: every label).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        /// At most this many entities.
        #[arg(long, value_name = "N", default_value_t = RESULTS_MAX,
            value_parser = clap::value_parser!(u32).range(..=i64::from(RESULTS_MAX)))]
        limit: u32,
        /// Reinforce the edges walked (a command through the log; not with --stale).
        #[arg(long, conflicts_with = "stale")]
        reinforce: bool,
    },
    /// Print the graph's counts: entities, edges, evaporation steps so far, and entities per
    /// collection and edges per label.
    Stats {
        #[command(flatten)]
        reading: Reading,
    },
    /// Evaporate pheromone by STEPS steps (each takes 10% of every edge's level).
    Evaporate {
        #[command(flatten)]
        writing: Writing,
        /// How many steps.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(..=i64::from(EVAPORATE_STEPS_MAX)))]
        steps: u32,
    },
}

/// Runs a graph command.
pub async fn run(command: GraphCommand) -> Result<ExitCode> {
    match command {
        GraphCommand::AddEntity { writing, collection, props } => {
            let op = GraphOp::AddEntity { collection, properties: properties::collect(props)? };
            match writing.client.client()?.graph_command(op).await? {
                GraphResult::Entity(id) if writing.json => say_json(&serde_json::json!({ "entity": id.0 })),
                GraphResult::Entity(id) => say(&id.0.to_string()),
                other => return Err(unexpected(&other)),
            }
        }
        GraphCommand::AddEdge { writing, from, to, label, props } => {
            let op = GraphOp::AddEdge {
                from: EntityId(from),
                to: EntityId(to),
                label,
                properties: properties::collect(props)?,
            };
            match writing.client.client()?.graph_command(op).await? {
                GraphResult::Edge(id) if writing.json => say_json(&serde_json::json!({ "edge": id.0 })),
                GraphResult::Edge(id) => say(&id.0.to_string()),
                other => return Err(unexpected(&other)),
            }
        }
        GraphCommand::Get { reading, entity, edge } => {
            let mut reader = Reader::new(&reading)?;
            match (entity, edge) {
                (_, Some(edge)) => match reader.graph(GraphQuery::Edge(EdgeId(edge))).await? {
                    GraphAnswer::Edge(Some(view)) => print_edge(&view, reading.json),
                    GraphAnswer::Edge(None) => return not_found(format_args!("no edge {edge}")),
                    other => return Err(unexpected(&other)),
                },
                (Some(entity), None) => match reader.graph(GraphQuery::Entity(EntityId(entity))).await? {
                    GraphAnswer::Entity(Some(view)) => print_entity(&view, reading.json),
                    GraphAnswer::Entity(None) => return not_found(format_args!("no entity {entity}")),
                    other => return Err(unexpected(&other)),
                },
                // clap requires one of the two.
                (None, None) => return Err(Usage("give an ENTITY or --edge EDGE".to_owned()).into()),
            }
        }
        GraphCommand::Set { writing, entity, props, remove } => {
            let op = GraphOp::SetProperties { entity: EntityId(entity), set: properties::collect(props)?, remove };
            done(writing, op).await?;
        }
        GraphCommand::Remove { writing, entity, edge } => {
            let op = match (entity, edge) {
                (_, Some(edge)) => GraphOp::RemoveEdge { edge: EdgeId(edge) },
                (Some(entity), None) => GraphOp::RemoveEntity { entity: EntityId(entity) },
                // clap requires one of the two.
                (None, None) => return Err(Usage("give an ENTITY or --edge EDGE".to_owned()).into()),
            };
            done(writing, op).await?;
        }
        GraphCommand::Neighbors { reading, entity, direction, label, after, limit } => {
            let mut reader = Reader::new(&reading)?;
            // Started once the first page is in, so that a failed read prints no half object.
            let mut list = None;
            let mut after = after.map(EdgeId);
            let more = loop {
                let query = GraphQuery::Neighbors {
                    entity: EntityId(entity),
                    direction: direction.into(),
                    label: label.clone(),
                    after,
                    limit: limit.unwrap_or(RESULTS_MAX),
                };
                let (neighbors, more) = match reader.graph(query).await? {
                    GraphAnswer::Neighbors { neighbors, more } => (neighbors, more),
                    other => return Err(unexpected(&other)),
                };
                if reading.json {
                    let head = serde_json::json!({ "entity": entity });
                    let list = list.get_or_insert_with(|| JsonList::start(&head, "neighbors"));
                    list.page(&neighbors.iter().map(neighbor_json).collect::<Vec<_>>());
                } else {
                    say_lines(neighbors.iter().map(neighbor_line));
                }
                let last = neighbors.last().map(|neighbor| neighbor.edge);
                if !more || limit.is_some() {
                    break more.then_some(last.or(after).map(|edge| edge.0));
                }
                after = Some(progress(after, last)?);
            };
            finish_page(list, more, "edge");
        }
        GraphCommand::Scan { reading, collection, after, limit } => {
            let mut reader = Reader::new(&reading)?;
            // Started once the first page is in, so that a failed read prints no half object.
            let mut list = None;
            let mut after = after.map(EntityId);
            let more = loop {
                let query =
                    GraphQuery::Scan { collection: collection.clone(), after, limit: limit.unwrap_or(RESULTS_MAX) };
                let (entities, more) = match reader.graph(query).await? {
                    GraphAnswer::Scan { entities, more } => (entities, more),
                    other => return Err(unexpected(&other)),
                };
                if reading.json {
                    let head = serde_json::json!({ "collection": collection });
                    let list = list.get_or_insert_with(|| JsonList::start(&head, "entities"));
                    list.page(&entities.iter().map(|id| serde_json::json!(id.0)).collect::<Vec<_>>());
                } else {
                    say_lines(entities.iter().map(|id| id.0.to_string()));
                }
                let last = entities.last().copied();
                if !more || limit.is_some() {
                    break more.then_some(last.or(after).map(|entity| entity.0));
                }
                after = Some(progress(after, last)?);
            };
            finish_page(list, more, "entity");
        }
        GraphCommand::Traverse { reading, start, depth, direction, labels, limit, reinforce } => {
            let spec = TraverseSpec { start: EntityId(start), depth, direction: direction.into(), labels, limit };
            let traversal = if reinforce {
                match reading.client.client()?.graph_command(GraphOp::Reinforce(spec)).await? {
                    GraphResult::Traversal(traversal) => traversal,
                    other => return Err(unexpected(&other)),
                }
            } else {
                match Reader::new(&reading)?.graph(GraphQuery::Traverse(spec)).await? {
                    GraphAnswer::Traversal(traversal) => traversal,
                    other => return Err(unexpected(&other)),
                }
            };
            print_traversal(start, &traversal, reinforce, reading.json);
        }
        GraphCommand::Stats { reading } => match Reader::new(&reading)?.graph(GraphQuery::Stats).await? {
            GraphAnswer::Stats(stats) if reading.json => {
                let named = |counts: &[(String, u64)]| -> serde_json::Map<String, serde_json::Value> {
                    counts.iter().map(|(name, count)| (name.clone(), serde_json::json!(count))).collect()
                };
                say_json(&serde_json::json!({
                    "entities": stats.entities,
                    "edges": stats.edges,
                    "evaporations": stats.evaporations,
                    "collections": named(&stats.collections),
                    "labels": named(&stats.labels),
                }));
            }
            GraphAnswer::Stats(stats) => {
                say(&format!("entities:     {}", stats.entities));
                say(&format!("edges:        {}", stats.edges));
                say(&format!("evaporations: {}", stats.evaporations));
                say_lines(stats.collections.iter().map(|(name, count)| format!("collection {name}: {count}")));
                say_lines(stats.labels.iter().map(|(name, count)| format!("label {name}: {count}")));
            }
            other => return Err(unexpected(&other)),
        },
        GraphCommand::Evaporate { writing, steps } => done(writing, GraphOp::Evaporate { steps }).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends a command that answers only that it took effect; prints nothing, or `{"done":true}`.
async fn done(writing: Writing, op: GraphOp) -> Result<()> {
    match writing.client.client()?.graph_command(op).await? {
        GraphResult::Done if writing.json => say_json(&serde_json::json!({ "done": true })),
        GraphResult::Done => {}
        other => return Err(unexpected(&other)),
    }
    Ok(())
}

/// A read found nothing: says so on standard error, exit 1.
fn not_found(what: std::fmt::Arguments<'_>) -> Result<ExitCode> {
    complain(format_args!("error: {what}"));
    Ok(ExitCode::from(1))
}

/// The cursor after a page that said more follow: its last id, which must be past the previous
/// cursor, or the loop would not end.
fn progress<Id: Ord + Copy + std::fmt::Debug>(before: Option<Id>, last: Option<Id>) -> Result<Id> {
    match last {
        Some(last) if before.is_none_or(|before| last > before) => Ok(last),
        _ => Err(unexpected(&format_args!("a page that says more follow after {last:?} (the cursor was {before:?})"))),
    }
}

/// Ends a paged listing. `more` is `None` when nothing more follows, else where to page on from
/// (`Some(None)`: from the start, after a `--limit 0`): the JSON's `more` and `next_after`, or a
/// note on standard error.
fn finish_page(list: Option<JsonList>, more: Option<Option<u64>>, what: &str) {
    let next_after = more.flatten();
    match (list, more) {
        (Some(list), _) => list.finish(&serde_json::json!({ "more": more.is_some(), "next_after": next_after })),
        (None, Some(Some(last))) => {
            complain(format_args!("more follow: page on with --after {last} (the last {what} listed)"));
        }
        (None, Some(None)) => complain(format_args!("more follow: give a larger --limit")),
        (None, None) => {}
    }
}

fn print_entity(view: &EntityView, json: bool) {
    if json {
        say_json(&serde_json::json!({
            "id": view.id.0,
            "collection": view.collection,
            "properties": properties_json(&view.properties),
        }));
        return;
    }
    say(&format!("entity {} in {}", view.id.0, view.collection));
    say_lines(property_lines(&view.properties));
}

fn print_edge(view: &EdgeView, json: bool) {
    if json {
        say_json(&serde_json::json!({
            "id": view.id.0,
            "from": view.from.0,
            "to": view.to.0,
            "label": view.label,
            "pheromone": as_f64(view.pheromone),
            "pheromone_fixed": view.pheromone,
            "properties": properties_json(&view.properties),
        }));
        return;
    }
    say(&format!(
        "edge {} from {} to {} labelled {}, pheromone {}",
        view.id.0,
        view.from.0,
        view.to.0,
        view.label,
        as_f64(view.pheromone)
    ));
    say_lines(property_lines(&view.properties));
}

/// `  NAME=VALUE` lines, as `--prop` reads them.
fn property_lines(properties: &Properties) -> impl Iterator<Item = String> + '_ {
    properties.iter().map(|(name, value)| format!("  {name}={}", value_text(value)))
}

fn neighbor_line(neighbor: &Neighbor) -> String {
    format!("{} {} {} {}", neighbor.edge.0, neighbor.entity.0, as_f64(neighbor.pheromone), neighbor.label)
}

fn neighbor_json(neighbor: &Neighbor) -> serde_json::Value {
    serde_json::json!({
        "edge": neighbor.edge.0,
        "entity": neighbor.entity.0,
        "label": neighbor.label,
        "pheromone": as_f64(neighbor.pheromone),
        "pheromone_fixed": neighbor.pheromone,
    })
}

fn print_traversal(start: u64, traversal: &Traversal, reinforced: bool, json: bool) {
    if json {
        let reached: Vec<serde_json::Value> = traversal
            .reached
            .iter()
            .map(|(entity, depth)| serde_json::json!({ "entity": entity.0, "depth": depth }))
            .collect();
        say_json(&serde_json::json!({
            "start": start,
            "reached": reached,
            "cut": traversal.cut,
            "reinforced": reinforced,
        }));
        return;
    }
    say_lines(traversal.reached.iter().map(|(entity, depth)| format!("{} {depth}", entity.0)));
    if traversal.cut {
        complain(format_args!(
            "the traversal stopped early: at --limit entities, or at the graph's bound on edges examined"
        ));
    }
}
