//! Strategies for the graph's and the event store's commands, reads and answers (the codec tests'
//! wiring is in `codec.rs`).

use super::{blob, text};
use pangea_core::events::{
    Event, EventId, EventKey, EventRange, EventsAnswer, EventsError, EventsOp, EventsQuery, EventsResult, EventsStats,
};
use pangea_core::graph::{
    Direction, EdgeId, EdgeView, EntityId, EntityView, Float, GraphAnswer, GraphError, GraphOp, GraphQuery,
    GraphResult, GraphStats, Neighbor, Properties, Scalar, Traversal, TraverseSpec, Value,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

fn scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        text().prop_map(Scalar::Str),
        any::<i64>().prop_map(Scalar::Int),
        any::<f64>().prop_map(|number| Scalar::Float(Float(number))),
        any::<bool>().prop_map(Scalar::Bool),
        blob().prop_map(Scalar::Bytes),
    ]
}

/// Any property map.
pub fn properties() -> impl Strategy<Value = Properties> {
    let value = prop_oneof![scalar().prop_map(Value::Scalar), vec(scalar(), 0..4).prop_map(Value::List)];
    btree_map(text(), value, 0..4)
}

fn entity() -> impl Strategy<Value = EntityId> {
    any::<u64>().prop_map(EntityId)
}

fn edge() -> impl Strategy<Value = EdgeId> {
    any::<u64>().prop_map(EdgeId)
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Direction::Out), Just(Direction::In), Just(Direction::Both)]
}

fn traverse_spec() -> impl Strategy<Value = TraverseSpec> {
    (entity(), any::<u32>(), direction(), vec(text(), 0..3), any::<u32>())
        .prop_map(|(start, depth, direction, labels, limit)| TraverseSpec { start, depth, direction, labels, limit })
}

/// Any graph read.
pub fn graph_query() -> impl Strategy<Value = GraphQuery> {
    prop_oneof![
        entity().prop_map(GraphQuery::Entity),
        edge().prop_map(GraphQuery::Edge),
        (entity(), direction(), proptest::option::of(text()), proptest::option::of(edge()), any::<u32>()).prop_map(
            |(entity, direction, label, after, limit)| GraphQuery::Neighbors { entity, direction, label, after, limit }
        ),
        (text(), proptest::option::of(entity()), any::<u32>())
            .prop_map(|(collection, after, limit)| GraphQuery::Scan { collection, after, limit }),
        traverse_spec().prop_map(GraphQuery::Traverse),
        Just(GraphQuery::Stats),
        Just(GraphQuery::Digest),
    ]
}

/// Any graph command.
pub fn graph_op() -> impl Strategy<Value = GraphOp> {
    prop_oneof![
        (text(), properties()).prop_map(|(collection, properties)| GraphOp::AddEntity { collection, properties }),
        (entity(), properties(), vec(text(), 0..3)).prop_map(|(entity, set, remove)| GraphOp::SetProperties {
            entity,
            set,
            remove
        }),
        entity().prop_map(|entity| GraphOp::RemoveEntity { entity }),
        (entity(), entity(), text(), properties()).prop_map(|(from, to, label, properties)| GraphOp::AddEdge {
            from,
            to,
            label,
            properties
        }),
        edge().prop_map(|edge| GraphOp::RemoveEdge { edge }),
        traverse_spec().prop_map(GraphOp::Reinforce),
        any::<u32>().prop_map(|steps| GraphOp::Evaporate { steps }),
        graph_query().prop_map(GraphOp::Read),
    ]
}

fn graph_error() -> impl Strategy<Value = GraphError> {
    prop_oneof![
        entity().prop_map(GraphError::NoSuchEntity),
        edge().prop_map(GraphError::NoSuchEdge),
        any::<u64>().prop_map(GraphError::EntitiesFull),
        any::<u64>().prop_map(GraphError::EdgesFull),
        Just(GraphError::IdsExhausted),
        any::<u32>().prop_map(GraphError::NamesFull),
        any::<(u64, u64)>().prop_map(|(bytes, limit)| GraphError::PropertiesTooLarge { bytes, limit }),
    ]
}

fn traversal() -> impl Strategy<Value = Traversal> {
    (vec((entity(), any::<u32>()), 0..6), any::<bool>()).prop_map(|(reached, cut)| Traversal { reached, cut })
}

/// Any answer to a graph read.
pub fn graph_answer() -> impl Strategy<Value = GraphAnswer> {
    let entity_view = (entity(), text(), properties()).prop_map(|(id, collection, properties)| EntityView {
        id,
        collection,
        properties,
    });
    let edge_view = (edge(), entity(), entity(), text(), any::<u32>(), properties()).prop_map(
        |(id, from, to, label, pheromone, properties)| EdgeView { id, from, to, label, pheromone, properties },
    );
    let neighbor = (edge(), entity(), text(), any::<u32>()).prop_map(|(edge, entity, label, pheromone)| Neighbor {
        edge,
        entity,
        label,
        pheromone,
    });
    let stats = (any::<(u64, u64, u64)>(), vec((text(), any::<u64>()), 0..3), vec((text(), any::<u64>()), 0..3))
        .prop_map(|((entities, edges, evaporations), collections, labels)| GraphStats {
            entities,
            edges,
            collections,
            labels,
            evaporations,
        });
    prop_oneof![
        proptest::option::of(entity_view).prop_map(GraphAnswer::Entity),
        proptest::option::of(edge_view).prop_map(GraphAnswer::Edge),
        (vec(neighbor, 0..5), any::<bool>()).prop_map(|(neighbors, more)| GraphAnswer::Neighbors { neighbors, more }),
        (vec(entity(), 0..6), any::<bool>()).prop_map(|(entities, more)| GraphAnswer::Scan { entities, more }),
        traversal().prop_map(GraphAnswer::Traversal),
        stats.prop_map(GraphAnswer::Stats),
        any::<u64>().prop_map(GraphAnswer::Digest),
        graph_error().prop_map(GraphAnswer::Error),
    ]
}

/// Any graph command's result.
pub fn graph_result() -> impl Strategy<Value = GraphResult> {
    prop_oneof![
        entity().prop_map(GraphResult::Entity),
        edge().prop_map(GraphResult::Edge),
        Just(GraphResult::Done),
        traversal().prop_map(GraphResult::Traversal),
        graph_answer().prop_map(GraphResult::Read),
        graph_error().prop_map(GraphResult::Error),
    ]
}

fn event_key() -> impl Strategy<Value = EventKey> {
    (text(), text(), any::<u64>()).prop_map(|(node, signal, epoch)| EventKey { node, signal, epoch })
}

fn event_id() -> impl Strategy<Value = EventId> {
    any::<u64>().prop_map(EventId)
}

/// Any event read.
pub fn events_query() -> impl Strategy<Value = EventsQuery> {
    let range = (
        event_key(),
        event_key(),
        proptest::option::of(event_id()),
        proptest::option::of(event_id()),
        proptest::option::of((event_key(), event_id())),
        any::<u32>(),
    )
        .prop_map(|(from, to, after, until, resume, limit)| EventRange { from, to, after, until, resume, limit });
    prop_oneof![range.prop_map(EventsQuery::Range), Just(EventsQuery::Stats)]
}

/// Any event command.
pub fn events_op() -> impl Strategy<Value = EventsOp> {
    prop_oneof![
        (event_key(), blob()).prop_map(|(key, payload)| EventsOp::Append { key, payload }),
        (event_key(), event_id()).prop_map(|(key, before)| EventsOp::Trim { key, before }),
        events_query().prop_map(EventsOp::Read),
    ]
}

/// Any answer to an event read.
pub fn events_answer() -> impl Strategy<Value = EventsAnswer> {
    let event = (event_id(), event_key(), blob()).prop_map(|(id, key, payload)| Event { id, key, payload });
    let stats = any::<(u64, u64, u64, u64, u64)>().prop_map(|(keys, events, bytes, next_id, retired)| EventsStats {
        keys,
        events,
        bytes,
        next_id,
        retired,
    });
    prop_oneof![
        (vec(event, 0..4), proptest::option::of((event_key(), event_id())))
            .prop_map(|(events, resume)| EventsAnswer::Range { events, resume }),
        stats.prop_map(EventsAnswer::Stats),
    ]
}

/// Any event command's result.
pub fn events_result() -> impl Strategy<Value = EventsResult> {
    let error = prop_oneof![
        any::<(u64, u64)>().prop_map(|(events, bytes)| EventsError::Full { events, bytes }),
        any::<u64>().prop_map(EventsError::KeysFull),
    ];
    prop_oneof![
        (event_id(), any::<u32>()).prop_map(|(id, retired)| EventsResult::Appended { id, retired }),
        any::<u64>().prop_map(EventsResult::Trimmed),
        events_answer().prop_map(EventsResult::Read),
        error.prop_map(EventsResult::Error),
    ]
}
