//! The scheduler's error paths one by one, and property tests against brute-force models: a
//! graph has a cycle iff some node reaches itself (transitive closure), and a run with random
//! batches hands out exactly the nodes whose dependencies all completed, each once.

use super::dag::check_counts;
use super::*;
use proptest::prelude::*;

/// The dependencies of a node that has none.
const NONE: [&str; 0] = [];

/// A builder holding `nodes`, each `(name, dependencies)`.
fn builder(nodes: &[(&str, &[&str])]) -> DagBuilder {
    let mut builder = DagBuilder::new();
    for &(name, dependencies) in nodes {
        builder.add(name, dependencies.iter().copied()).expect("valid node");
    }
    builder
}

/// Hands out every ready node and completes it, until the run is complete; the nodes in order.
fn run_to_completion(scheduler: &mut Scheduler) -> Vec<u32> {
    let mut order = Vec::new();
    let mut batch = Vec::new();
    for _ in 0..=scheduler.node_count() {
        batch.clear();
        scheduler.take_ready_into(&mut batch);
        for &node in &batch {
            scheduler.mark_completed(node).expect("handed out");
        }
        order.extend_from_slice(&batch);
    }
    assert!(scheduler.is_complete());
    order
}

#[test]
fn a_named_dag_runs_in_dependency_order_and_maps_names_both_ways() {
    // "deploy" is added before the nodes it depends on.
    let dag = builder(&[("deploy", &["test", "build"]), ("build", &["fetch"]), ("test", &["build"]), ("fetch", &[])])
        .build()
        .expect("acyclic");
    assert_eq!((dag.node_count(), dag.edge_count()), (4, 4));
    assert_eq!(dag.index("test"), Some(2));
    assert_eq!(dag.name(2), Some("test"));
    assert_eq!((dag.index("nothing"), dag.name(4)), (None, None));
    assert_eq!(dag.roots(), &[3]);
    assert_eq!(dag.dependents(1), &[0, 2]);
    assert_eq!((dag.dependency_count(0), dag.dependency_count(9)), (Some(2), None));
    assert!(dag.dependents(9).is_empty());
    let mut scheduler = Scheduler::new(dag);
    let names: Vec<&str> =
        run_to_completion(&mut scheduler).iter().filter_map(|&node| scheduler.dag().name(node)).collect();
    // Completing "build" releases "test" (its last wait) but not "deploy" (which waits for "test").
    assert_eq!(names, ["fetch", "build", "test", "deploy"]);
}

#[test]
fn an_empty_dag_is_complete_at_once() {
    let mut scheduler = Scheduler::new(Dag::from_edges(0, &[]).expect("empty"));
    assert!(scheduler.is_complete());
    assert!(scheduler.take_ready().is_empty());
    assert_eq!(scheduler.pop_ready(), None);
    let empty_named = DagBuilder::new().build().expect("empty");
    assert_eq!(empty_named.node_count(), 0);
}

#[test]
fn a_repeated_dependency_is_released_by_one_completion() {
    let dag = builder(&[("a", &[]), ("b", &["a", "a"])]).build().expect("acyclic");
    assert_eq!(dag.dependency_count(1), Some(2));
    let mut scheduler = Scheduler::new(dag);
    assert_eq!(run_to_completion(&mut scheduler), [0, 1]);
}

#[test]
fn a_duplicate_name_is_refused_and_changes_nothing() {
    let mut builder = builder(&[("a", &[])]);
    let error = builder.add("a", ["b"]).expect_err("duplicate");
    assert_eq!(error, DagError::DuplicateNode { node: "a".into() });
    assert_eq!(error.to_string(), r#"node "a" is added twice"#);
    assert_eq!(builder.node_count(), 1);
    // The refused node's dependency ("b", no node) was not kept.
    assert_eq!(builder.build().map(|dag| dag.edge_count()), Ok(0));
}

#[test]
fn a_missing_dependency_names_the_node_and_the_name() {
    let error = builder(&[("a", &[]), ("b", &["a", "ghost"]), ("c", &["phantom"])]).build().expect_err("missing");
    assert_eq!(error, DagError::MissingDependency { node: "b".into(), missing: "ghost".into() });
    assert_eq!(error.to_string(), r#"node "b" depends on "ghost", which is not a node"#);
}

#[test]
fn a_cycle_is_reported_in_order() {
    // z is in no cycle; a -> b -> c -> a is.
    let error = builder(&[("z", &[]), ("a", &["b", "z"]), ("b", &["c"]), ("c", &["a"]), ("d", &["c"])])
        .build()
        .expect_err("cycle");
    let DagError::Cycle { cycle } = &error else { panic!("not a cycle: {error}") };
    let start = cycle.iter().position(|name| name == "a").expect("a is in it");
    let mut rotated = cycle.clone();
    rotated.rotate_left(start);
    assert_eq!(rotated, ["a", "b", "c"]);
    assert!(error.to_string().starts_with("dependency cycle: "), "{error}");
    let lone = builder(&[("self", &["self"])]).build().expect_err("self-dependency");
    assert_eq!(lone, DagError::Cycle { cycle: vec!["self".into()] });
    assert_eq!(lone.to_string(), r#"dependency cycle: "self" -> "self" (each depends on the next)"#);
}

#[test]
fn a_numbered_cycle_and_an_edge_out_of_range_are_refused() {
    assert_eq!(Dag::from_edges(2, &[(0, 1), (1, 0)]), Err(DagError::NumberedCycle { cycle: vec![0, 1] }));
    assert_eq!(
        Dag::from_edges(2, &[(0, 1), (1, 0)]).map_err(|error| error.to_string()),
        Err("dependency cycle: 0 -> 1 -> 0 (each depends on the next)".to_string())
    );
    let error = Dag::from_edges(3, &[(0, 1), (1, 3)]).expect_err("out of range");
    assert_eq!(error, DagError::EdgeOutOfRange { dependency: 1, dependent: 3, nodes: 3 });
    assert_eq!(error.to_string(), "edge 1 -> 3 names a node outside 0..3");
}

#[test]
fn limits_are_typed_errors() {
    assert_eq!(Dag::from_edges(NODES_MAX + 1, &[]), Err(DagError::TooManyNodes { nodes: u64::from(NODES_MAX) + 1 }));
    assert_eq!(check_counts(u64::from(NODES_MAX), u64::from(DEPENDENCIES_MAX)), Ok(()));
    let too_many = check_counts(0, u64::from(DEPENDENCIES_MAX) + 1);
    assert_eq!(too_many, Err(DagError::TooManyDependencies { dependencies: u64::from(DEPENDENCIES_MAX) + 1 }));
    // A name, or a dependency name, one byte too long; a refused dependency leaves nothing behind.
    let long = "é".repeat(NAME_BYTES_MAX / 2) + "x";
    let mut builder = builder(&[("a", &[])]);
    let error = builder.add(long.as_str(), NONE).expect_err("too long");
    assert_eq!(error, DagError::NameTooLong { prefix: "é".repeat(16), bytes: NAME_BYTES_MAX + 1 });
    assert!(error.to_string().contains("1025 bytes long"), "{error}");
    assert!(matches!(builder.add("b", ["a", long.as_str()]), Err(DagError::NameTooLong { .. })));
    assert_eq!(builder.node_count(), 1);
    builder.add("é".repeat(NAME_BYTES_MAX / 2), ["a"]).expect("exactly the limit");
    assert_eq!(builder.build().map(|dag| dag.edge_count()), Ok(1));
}

#[test]
fn completions_that_do_not_fit_the_run_are_refused_and_change_nothing() {
    let dag = builder(&[("a", &[]), ("b", &["a"]), ("c", &[])]).build().expect("acyclic");
    let mut scheduler = Scheduler::new(dag);
    let error = scheduler.mark_completed(7).expect_err("unknown");
    assert_eq!(error, SchedError::UnknownNode { node: 7, nodes: 3 });
    assert_eq!(error.to_string(), "node 7 is not in the DAG of 3 nodes");
    let error = scheduler.mark_completed(1).expect_err("waiting");
    assert_eq!(error, SchedError::NotReady { node: 1, name: Some("b".into()) });
    assert_eq!(error.to_string(), r#"node 1 ("b") was not handed out: some of its dependencies are not completed"#);
    let error = scheduler.mark_completed(0).expect_err("ready, not handed out");
    assert_eq!(error, SchedError::NotHandedOut { node: 0, name: Some("a".into()) });
    assert_eq!(error.to_string(), r#"node 0 ("a") is ready but was not handed out"#);
    assert_eq!(scheduler.ready(), &[0, 2]);
    assert_eq!(scheduler.pop_ready(), Some(0));
    scheduler.mark_completed(0).expect("handed out");
    let error = scheduler.mark_completed(0).expect_err("twice");
    assert_eq!(error, SchedError::CompletedTwice { node: 0, name: Some("a".into()) });
    assert_eq!(error.to_string(), r#"node 0 ("a") is completed already"#);
    assert_eq!(scheduler.ready(), &[2, 1]);
    assert_eq!((scheduler.completed_count(), scheduler.in_flight_count()), (1, 0));
    // A numbered DAG's errors name the index only.
    let mut numbered = Scheduler::new(Dag::from_edges(2, &[(0, 1)]).expect("acyclic"));
    assert_eq!(
        numbered.mark_completed(1).map_err(|error| error.to_string()),
        Err("node 1 was not handed out: some of its dependencies are not completed".into())
    );
}

#[test]
fn pop_and_take_hand_out_in_the_order_nodes_became_ready() {
    let mut scheduler = Scheduler::new(Dag::from_edges(5, &[(0, 3), (1, 4), (2, 4)]).expect("acyclic"));
    assert_eq!(scheduler.pop_ready(), Some(0));
    scheduler.mark_completed(0).expect("handed out");
    assert_eq!(scheduler.ready(), &[1, 2, 3]);
    assert_eq!(scheduler.pop_ready(), Some(1));
    assert_eq!(scheduler.take_ready(), [2, 3]);
    assert_eq!(scheduler.in_flight_count(), 3);
    for node in [3, 1, 2] {
        scheduler.mark_completed(node).expect("handed out");
    }
    assert_eq!(scheduler.take_ready(), [4]);
    scheduler.mark_completed(4).expect("handed out");
    assert!(scheduler.is_complete());
    scheduler.reset();
    assert_eq!((scheduler.completed_count(), scheduler.ready()), (0, &[0, 1, 2][..]));
    assert_eq!(run_to_completion(&mut scheduler), [0, 1, 2, 3, 4]);
}

/// splitmix64: the tests' own pinned generator for batch sizes and picks.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform draw in `0..bound` (`bound > 0`).
fn below(state: &mut u64, bound: usize) -> usize {
    (next(state) % bound as u64) as usize
}

/// Whether some node reaches itself along one or more edges (Floyd–Warshall closure).
fn has_cycle_model(nodes: u32, edges: &[(u32, u32)]) -> bool {
    let n = nodes as usize;
    let mut reaches = vec![vec![false; n]; n];
    for &(from, to) in edges {
        reaches[from as usize][to as usize] = true;
    }
    for middle in 0..n {
        // Row `middle` does not change in its own round, so a copy of it serves the whole round.
        let through = reaches[middle].clone();
        for row in reaches.iter_mut().filter(|row| row[middle]) {
            for (reach, &via) in row.iter_mut().zip(&through) {
                *reach |= via;
            }
        }
    }
    (0..n).any(|node| reaches[node][node])
}

/// Whether `cycle` is a cycle of `edges`: distinct nodes, each depending on the next, the last
/// on the first.
fn is_real_cycle(cycle: &[u32], edges: &[(u32, u32)]) -> bool {
    let mut distinct = cycle.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    !cycle.is_empty()
        && distinct.len() == cycle.len()
        && (0..cycle.len()).all(|at| edges.contains(&(cycle[(at + 1) % cycle.len()], cycle[at])))
}

/// Any graph: up to 12 nodes, up to 30 edges, self-loops and repeats allowed.
fn any_graph() -> impl Strategy<Value = (u32, Vec<(u32, u32)>)> {
    (1_u32..=12).prop_flat_map(|nodes| (Just(nodes), proptest::collection::vec((0..nodes, 0..nodes), 0..30)))
}

/// A DAG: edges of any graph turned to go from the earlier to the later node of a random order.
fn any_dag() -> impl Strategy<Value = (u32, Vec<(u32, u32)>)> {
    (0_u32..=40).prop_flat_map(|nodes| {
        let order = Just((0..nodes).collect::<Vec<u32>>()).prop_shuffle();
        let pairs = proptest::collection::vec((0..nodes.max(1), 0..nodes.max(1)), 0..(3 * nodes as usize + 1));
        (Just(nodes), order, pairs).prop_map(|(nodes, order, pairs)| {
            let rank = |node: u32| order[node as usize];
            let edges = pairs
                .into_iter()
                .filter(|&(a, b)| a != b && a < nodes && b < nodes)
                .map(|(a, b)| if rank(a) < rank(b) { (a, b) } else { (b, a) })
                .collect();
            (nodes, edges)
        })
    })
}

/// What happened in a run: `(node, true)` handed out, `(node, false)` completed.
type Trace = Vec<(u32, bool)>;

/// Runs `scheduler` to completion, handing out and completing random batches drawn from `seed`,
/// and checks it against the model after every step: the ready and handed-out nodes are exactly
/// those not completed whose dependencies all completed, and each node is handed out once. Also
/// tries a wrong completion now and then and checks it is refused without effect.
fn random_run(scheduler: &mut Scheduler, edges: &[(u32, u32)], seed: u64) -> Result<Trace, TestCaseError> {
    let nodes = scheduler.node_count() as usize;
    let mut state = seed;
    let (mut handed_out, mut completed) = (vec![false; nodes], vec![false; nodes]);
    let (mut in_flight, mut batch, mut trace) = (Vec::new(), Vec::new(), Trace::new());
    for _ in 0..=2 * nodes {
        if scheduler.is_complete() {
            break;
        }
        let available = |node: usize| edges.iter().all(|&(from, to)| to as usize != node || completed[from as usize]);
        let mut model_ready: Vec<u32> =
            (0..nodes).filter(|&node| !handed_out[node] && available(node)).map(|node| node as u32).collect();
        let mut ready = scheduler.ready().to_vec();
        ready.sort_unstable();
        model_ready.sort_unstable();
        prop_assert_eq!(ready, model_ready);
        // A wrong completion: a node not in flight.
        let wrong = below(&mut state, nodes) as u32;
        if !in_flight.contains(&wrong) {
            let before = (scheduler.ready().to_vec(), scheduler.completed_count(), scheduler.in_flight_count());
            let expected_kind = if completed[wrong as usize] {
                2
            } else if available(wrong as usize) {
                1
            } else {
                0
            };
            let kind = match scheduler.mark_completed(wrong) {
                Err(SchedError::NotReady { node, .. }) if node == wrong => 0,
                Err(SchedError::NotHandedOut { node, .. }) if node == wrong => 1,
                Err(SchedError::CompletedTwice { node, .. }) if node == wrong => 2,
                other => return Err(TestCaseError::fail(format!("{wrong}: {other:?}"))),
            };
            prop_assert_eq!(kind, expected_kind);
            prop_assert_eq!(
                before,
                (scheduler.ready().to_vec(), scheduler.completed_count(), scheduler.in_flight_count())
            );
        }
        // Hand out all ready nodes, or some of them one by one.
        batch.clear();
        if next(&mut state).is_multiple_of(2) {
            scheduler.take_ready_into(&mut batch);
        } else {
            for _ in 0..=below(&mut state, 3) {
                batch.extend(scheduler.pop_ready());
            }
        }
        for &node in &batch {
            prop_assert!(!handed_out[node as usize] && available(node as usize), "node {} handed out wrongly", node);
            handed_out[node as usize] = true;
            trace.push((node, true));
        }
        in_flight.extend_from_slice(&batch);
        prop_assert_eq!(scheduler.in_flight_count() as usize, in_flight.len());
        // Complete a random nonempty part of what is in flight.
        if !in_flight.is_empty() {
            for _ in 0..=below(&mut state, in_flight.len()) {
                let node = in_flight.swap_remove(below(&mut state, in_flight.len()));
                scheduler.mark_completed(node).map_err(|error| TestCaseError::fail(error.to_string()))?;
                completed[node as usize] = true;
                trace.push((node, false));
            }
        }
    }
    prop_assert!(scheduler.is_complete());
    prop_assert!(completed.iter().all(|&done| done));
    prop_assert_eq!((scheduler.completed_count() as usize, scheduler.in_flight_count()), (nodes, 0));
    Ok(trace)
}

proptest! {
    /// A graph has a cycle iff building it says so, from edges or from names, and the cycle
    /// reported is a real cycle of the input.
    #[test]
    fn build_reports_a_cycle_iff_there_is_one((nodes, edges) in any_graph()) {
        let cyclic = has_cycle_model(nodes, &edges);
        match Dag::from_edges(nodes, &edges) {
            Ok(dag) => {
                prop_assert!(!cyclic);
                prop_assert_eq!(dag.edge_count() as usize, edges.len());
            }
            Err(DagError::NumberedCycle { cycle }) => prop_assert!(cyclic && is_real_cycle(&cycle, &edges), "{:?}", cycle),
            Err(other) => return Err(TestCaseError::fail(other.to_string())),
        }
        let mut builder = DagBuilder::new();
        for node in 0..nodes {
            let dependencies = edges.iter().filter(|&&(_, to)| to == node).map(|&(from, _)| format!("n{from}"));
            builder.add(format!("n{node}"), dependencies).map_err(|error| TestCaseError::fail(error.to_string()))?;
        }
        match builder.build() {
            Ok(_) => prop_assert!(!cyclic),
            Err(DagError::Cycle { cycle }) => {
                let indices: Vec<u32> = cycle.iter().filter_map(|name| name.strip_prefix('n')?.parse().ok()).collect();
                prop_assert!(cyclic && is_real_cycle(&indices, &edges), "{:?}", cycle);
            }
            Err(other) => return Err(TestCaseError::fail(other.to_string())),
        }
    }

    /// A run in random batches hands out every node once, never before its dependencies, and
    /// the same choices after a reset (or on a new scheduler) give the same run.
    #[test]
    fn random_runs_follow_the_model_and_repeat_after_reset((nodes, edges) in any_dag(), seed in any::<u64>()) {
        let dag = Dag::from_edges(nodes, &edges).map_err(|error| TestCaseError::fail(error.to_string()))?;
        let mut scheduler = Scheduler::new(dag.clone());
        let first = random_run(&mut scheduler, &edges, seed)?;
        scheduler.reset();
        let second = random_run(&mut scheduler, &edges, seed)?;
        prop_assert_eq!(&first, &second);
        let fresh = random_run(&mut Scheduler::new(dag), &edges, seed)?;
        prop_assert_eq!(&first, &fresh);
    }
}
