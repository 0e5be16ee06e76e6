use super::model::ModelGraph;
use super::pheromone::{LEVEL_ONE, PheromoneConfig};
use super::*;
use proptest::prelude::*;

/// Small limits, so that random commands reach every one of them.
#[cfg_attr(
    not(feature = "planted-bugs"),
    allow(clippy::needless_update, reason = "the planted bug is a field only with the feature")
)]
fn small_config(evaporate_every_mutations: u64) -> GraphConfig {
    GraphConfig {
        limits: GraphLimits {
            name_bytes_max: 8,
            properties_bytes_max: 40,
            depth_max: 3,
            results_max: 5,
            traverse_edges_max: 12,
            entities_max: 7,
            edges_max: 12,
        },
        pheromone: PheromoneConfig {
            deposit: LEVEL_ONE,
            level_max: 3 * LEVEL_ONE,
            evaporation_ppm: 250_000,
            evaporate_every_mutations,
        },
        ..GraphConfig::default()
    }
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![Just("a".to_owned()), Just("b".to_owned()), Just("c".to_owned())]
}

fn scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        "[a-z]{0,6}".prop_map(Scalar::Str),
        any::<i64>().prop_map(Scalar::Int),
        any::<f64>().prop_map(|number| Scalar::Float(Float(number))),
        any::<bool>().prop_map(Scalar::Bool),
        proptest::collection::vec(any::<u8>(), 0..6).prop_map(Scalar::Bytes),
    ]
}

fn properties() -> impl Strategy<Value = Properties> {
    let value =
        prop_oneof![scalar().prop_map(Value::Scalar), proptest::collection::vec(scalar(), 0..3).prop_map(Value::List)];
    proptest::collection::btree_map(name(), value, 0..3)
}

fn entity() -> impl Strategy<Value = EntityId> {
    (0u64..9).prop_map(EntityId)
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Direction::Out), Just(Direction::In), Just(Direction::Both)]
}

fn traverse_spec() -> impl Strategy<Value = TraverseSpec> {
    (entity(), 0u32..4, direction(), proptest::collection::vec(name(), 0..2), 0u32..7)
        .prop_map(|(start, depth, direction, labels, limit)| TraverseSpec { start, depth, direction, labels, limit })
}

fn query() -> impl Strategy<Value = GraphQuery> {
    prop_oneof![
        entity().prop_map(GraphQuery::Entity),
        (0u64..14).prop_map(|id| GraphQuery::Edge(EdgeId(id))),
        (entity(), direction(), proptest::option::of(name()), proptest::option::of(0u64..14), 0u32..7).prop_map(
            |(entity, direction, label, after, limit)| GraphQuery::Neighbors {
                entity,
                direction,
                label,
                after: after.map(EdgeId),
                limit
            }
        ),
        (name(), proptest::option::of(0u64..9), 0u32..7).prop_map(|(collection, after, limit)| GraphQuery::Scan {
            collection,
            after: after.map(EntityId),
            limit
        }),
        traverse_spec().prop_map(GraphQuery::Traverse),
        Just(GraphQuery::Stats),
        Just(GraphQuery::Digest),
    ]
}

fn op() -> impl Strategy<Value = GraphOp> {
    prop_oneof![
        3 => (name(), properties()).prop_map(|(collection, properties)| GraphOp::AddEntity { collection, properties }),
        1 => (entity(), properties(), proptest::collection::vec(name(), 0..2))
            .prop_map(|(entity, set, remove)| GraphOp::SetProperties { entity, set, remove }),
        1 => entity().prop_map(|entity| GraphOp::RemoveEntity { entity }),
        4 => (entity(), entity(), name(), properties())
            .prop_map(|(from, to, label, properties)| GraphOp::AddEdge { from, to, label, properties }),
        1 => (0u64..14).prop_map(|id| GraphOp::RemoveEdge { edge: EdgeId(id) }),
        2 => traverse_spec().prop_map(GraphOp::Reinforce),
        1 => (0u32..3).prop_map(|steps| GraphOp::Evaporate { steps }),
        3 => query().prop_map(GraphOp::Read),
    ]
}

/// Every read of every id, to compare a graph with the model in full.
fn every_read() -> Vec<GraphQuery> {
    let mut reads = vec![GraphQuery::Stats, GraphQuery::Digest];
    for id in 0..9 {
        reads.push(GraphQuery::Entity(EntityId(id)));
        for direction in [Direction::Out, Direction::In, Direction::Both] {
            reads.push(GraphQuery::Neighbors { entity: EntityId(id), direction, label: None, after: None, limit: 5 });
        }
    }
    reads.extend((0..14).map(|id| GraphQuery::Edge(EdgeId(id))));
    reads
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any commands give the model's results; a snapshot taken at any point reads back to an
    /// equal graph that goes on exactly as the original.
    #[test]
    fn the_graph_follows_the_brute_force_model(
        ops in proptest::collection::vec(op(), 0..80),
        evaporate_every in prop_oneof![Just(0u64), 1u64..5],
        snapshot_at in 0usize..80,
    ) {
        let config = small_config(evaporate_every);
        let mut graph = Graph::new(config);
        let mut model = ModelGraph::default();
        let mut restored = None;
        for (index, op) in ops.iter().enumerate() {
            if graph.validate(op).is_err() {
                continue;
            }
            let expected = model.apply(&config, op);
            prop_assert_eq!(graph.apply(op), expected.clone(), "op {} {:?}", index, op);
            if index == snapshot_at {
                let mut copy = Graph::new(config);
                copy.restore(&graph.snapshot()).unwrap();
                prop_assert_eq!(&copy, &graph);
                restored = Some(copy);
            } else if let Some(copy) = restored.as_mut() {
                prop_assert_eq!(copy.apply(op), expected);
            }
        }
        for read in every_read() {
            prop_assert_eq!(graph.read(&read), model.read(&config, &read), "{:?}", read);
        }
        if let Some(copy) = restored {
            prop_assert_eq!(copy, graph);
        }
    }

    /// Reading back damaged images never panics: it refuses them or builds a graph whose
    /// invariants hold (every edge between live entities, in both ends' lists).
    #[test]
    fn damaged_snapshots_are_refused_or_consistent(
        ops in proptest::collection::vec(op(), 0..40),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let config = small_config(0);
        let mut graph = Graph::new(config);
        for op in &ops {
            if graph.validate(op).is_ok() {
                graph.apply(op);
            }
        }
        let bytes = graph.snapshot();
        let mut damaged = bytes.clone();
        for (at, byte) in flips {
            let at = at.index(damaged.len());
            damaged[at] ^= byte;
        }
        for candidate in [damaged, bytes[..cut.index(bytes.len())].to_vec()] {
            let mut copy = Graph::new(config);
            if copy.restore(&candidate).is_ok() {
                check_invariants(&copy);
            }
        }
    }
}

/// Images the `metadata_images` fuzz target found: each claims billions of entity or edge slots in
/// a dozen bytes. Reading one back once allocated every claimed slot (the process aborted out of
/// memory); the slab now counts them without materialising them.
#[test]
fn images_claiming_billions_of_slots_cost_no_memory_for_them() {
    let images: [&[u8]; 3] = [
        &[0x01, 0xfb, 0xfb, 0xfd, 0xfb, 0x08, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x01, 0xfb, 0xf8, 0xff, 0x7f, 0xfe, 0x00, 0xfb, 0xfb, 0xf8, 0xff, 0x7f, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00],
        &[0x01, 0xfb, 0xfb, 0xfb, 0x08, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
    ];
    for image in images {
        let mut graph = Graph::new(small_config(0));
        if graph.restore(image).is_ok() {
            check_invariants(&graph);
            let bytes = graph.store().heap_bytes();
            assert!(bytes < 1 << 20, "{bytes} heap bytes");
        }
    }
}

fn check_invariants(graph: &Graph) {
    let store = graph.store();
    let mut edges = 0;
    for (slot, edge) in store.live_edge_slots() {
        edges += 1;
        for end in [edge.from, edge.to] {
            let entity = store.entity(end).expect("an edge's ends are live");
            assert!(entity.edges.binary_search(&slot).is_ok(), "edge {slot} in the list of entity {end}");
        }
    }
    assert_eq!(edges, store.live_edges());
    assert_eq!(store.live_entity_slots().count() as u64, store.live_entities());
    for (_, entity) in store.live_entity_slots() {
        assert!(entity.edges.windows(2).all(|pair| pair[0] < pair[1]));
    }
}

#[test]
fn oversized_names_properties_and_counts_are_refused_before_the_log() {
    let graph = Graph::new(small_config(0));
    let long = "n".repeat(9);
    let refused = |op: GraphOp| graph.validate(&op).unwrap_err().to_string();
    assert_eq!(
        refused(GraphOp::AddEntity { collection: long.clone(), properties: Properties::new() }),
        "name too large: 9 bytes, limit 8"
    );
    let big = Properties::from([("a".to_owned(), Value::bytes(vec![0; 64]))]);
    assert_eq!(
        refused(GraphOp::AddEntity { collection: "a".into(), properties: big }),
        "properties too large: 70 bytes, limit 40"
    );
    let spec = TraverseSpec { start: EntityId(1), depth: 4, direction: Direction::Out, labels: vec![], limit: 1 };
    assert_eq!(refused(GraphOp::Reinforce(spec.clone())), "depth too large: 4, limit 3");
    let spec = TraverseSpec { depth: 1, limit: 6, ..spec };
    assert_eq!(refused(GraphOp::Read(GraphQuery::Traverse(spec))), "results too large: 6, limit 5");
    assert_eq!(refused(GraphOp::Evaporate { steps: 2_000_000 }), "steps too large: 2000000, limit 1000000");
}

#[test]
fn reinforcement_deposits_on_the_edges_used_and_evaporation_takes_its_share() {
    let mut graph = Graph::new(GraphConfig::default());
    let add = |graph: &mut Graph| match graph
        .apply(&GraphOp::AddEntity { collection: "c".into(), properties: Properties::new() })
    {
        GraphResult::Entity(id) => id,
        other => panic!("{other:?}"),
    };
    let (a, b, c) = (add(&mut graph), add(&mut graph), add(&mut graph));
    let edge = |graph: &mut Graph, from, to| match graph.apply(&GraphOp::AddEdge {
        from,
        to,
        label: "x".into(),
        properties: Properties::new(),
    }) {
        GraphResult::Edge(id) => id,
        other => panic!("{other:?}"),
    };
    let (ab, bc) = (edge(&mut graph, a, b), edge(&mut graph, b, c));
    let spec = TraverseSpec { start: a, depth: 2, direction: Direction::Out, labels: vec![], limit: 10 };
    let GraphResult::Traversal(traversal) = graph.apply(&GraphOp::Reinforce(spec)) else { panic!() };
    assert_eq!(traversal.reached, vec![(b, 1), (c, 2)]);
    let level = |graph: &Graph, id| graph.edge(id).unwrap().pheromone;
    assert_eq!((level(&graph, ab), level(&graph, bc)), (LEVEL_ONE, LEVEL_ONE));
    graph.apply(&GraphOp::Evaporate { steps: 1 });
    assert!((58_982..=58_983).contains(&level(&graph, ab)));
    graph.apply(&GraphOp::Evaporate { steps: 1_000 });
    assert_eq!(level(&graph, bc), 0);
    assert_eq!(graph.stats().evaporations, 1_001);
}

#[test]
fn removing_an_entity_removes_its_edges_and_scans_page_by_id() {
    let mut graph = Graph::new(GraphConfig::default());
    for _ in 0..5 {
        graph.apply(&GraphOp::AddEntity { collection: "users".into(), properties: Properties::new() });
    }
    graph.apply(&GraphOp::AddEdge {
        from: EntityId(1),
        to: EntityId(2),
        label: "knows".into(),
        properties: Properties::new(),
    });
    graph.apply(&GraphOp::AddEdge {
        from: EntityId(2),
        to: EntityId(2),
        label: "self".into(),
        properties: Properties::new(),
    });
    assert_eq!(graph.apply(&GraphOp::RemoveEntity { entity: EntityId(2) }), GraphResult::Done);
    assert_eq!(graph.stats().edges, 0);
    assert_eq!(
        graph.apply(&GraphOp::RemoveEntity { entity: EntityId(2) }),
        GraphResult::Error(GraphError::NoSuchEntity(EntityId(2)))
    );
    let page = |after| graph.read(&GraphQuery::Scan { collection: "users".into(), after, limit: 2 });
    assert_eq!(page(None), GraphAnswer::Scan { entities: vec![EntityId(1), EntityId(3)], more: true });
    assert_eq!(page(Some(EntityId(3))), GraphAnswer::Scan { entities: vec![EntityId(4), EntityId(5)], more: false });
    assert_eq!(page(Some(EntityId(u64::MAX))), GraphAnswer::Scan { entities: vec![], more: false });
}

#[test]
fn the_graph_refuses_more_distinct_names_than_it_can_number() {
    let mut graph = Graph::new(GraphConfig::default());
    for n in 0..config::NAMES_MAX {
        let added = graph.apply(&GraphOp::AddEntity { collection: format!("c{n}"), properties: Properties::new() });
        assert!(matches!(added, GraphResult::Entity(_)), "{added:?}");
    }
    let refused = graph.apply(&GraphOp::AddEntity { collection: "one more".into(), properties: Properties::new() });
    assert_eq!(refused, GraphResult::Error(GraphError::NamesFull(config::NAMES_MAX)));
    // A known name still works, and the refusal handed out no id.
    assert_eq!(
        graph.apply(&GraphOp::AddEntity { collection: "c0".into(), properties: Properties::new() }),
        GraphResult::Entity(EntityId(u64::from(config::NAMES_MAX) + 1))
    );
    let mut model = super::model::ModelGraph::default();
    for n in 0..config::NAMES_MAX {
        model.apply(graph.config(), &GraphOp::AddEntity { collection: format!("c{n}"), properties: Properties::new() });
    }
    let op = GraphOp::AddEntity { collection: "one more".into(), properties: Properties::new() };
    assert_eq!(model.apply(graph.config(), &op), refused);
}
