//! The property graph (`pangea_core::graph`) at scale: 1,000,000 entities and 10,000,000 edges by
//! default, in one process, one thread, with memory counted by the allocator. Prints a markdown
//! table of rates and bytes next to Deed's published claims.
//!
//! ```text
//! cargo bench -p pangea-benches --bench graph
//! cargo bench -p pangea-benches --bench graph -- --entities 1000000 --edges 10000000
//! ```
//!
//! A plain program (`harness = false`), not criterion: one run builds a graph of a gigabyte, and
//! criterion's repetitions would build it again and again. Like criterion's benchmarks it takes a
//! word as a filter, so `cargo bench -p pangea-benches -- sched` skips it.
//!
//! The comparison is against the figures Deed publishes (500,000 point lookups/s, 100,000
//! inserts/s, 50,000 depth-3 traversals/s, 50–100 bytes per record), not a side-by-side run: Deed's
//! code is not ours to run, and its hardware and workload are not known. Our figures come from this
//! machine, one core, with whatever else runs on it.
//!
//! The workload, all from one fixed seed (ChaCha8):
//! - **entities**: N, in 4 collections (`c0`..`c3`, round robin), each with 2 properties
//!   `{"n": Int(i), "name": Str("e{i}")}`.
//! - **edges**: M, with 4 labels (`l0`..`l3`, drawn), no properties, between entities drawn
//!   uniformly, except that 1 edge in 10 starts and 1 in 10 ends at one of the first 1% of the
//!   entities (so about 20% of the edges touch that 1%: a mild skew, a few hubs).
//!
//! What each figure means:
//! - **inserts/s**: commands applied through `StateMachine::apply` (`GraphOp::AddEntity`, then
//!   `GraphOp::AddEdge`) per second. The commands are built beforehand, in batches, outside the
//!   timing (a replica receives them decoded from the log); `validate`, which the leader runs
//!   before proposing, is not counted.
//! - **bytes per entity**: live heap bytes after the entities, less those before the graph, over N:
//!   the slots, the encoded properties, the collection indexes and the names, with every `Vec`'s
//!   spare capacity — what the allocator handed out (requested sizes, without malloc's own
//!   per-allocation overhead). **bytes per edge**: the growth of live heap bytes while adding the
//!   edges, over M (the edge slots and both ends' adjacency lists).
//! - **lookups/s**: `Graph::read(&GraphQuery::Entity(id))` for random ids, which decodes the
//!   properties into a `Properties` map and copies the collection name.
//! - **depth-3 traversals/s**: `GraphQuery::Traverse` from random starts, out-edges, depth 3; one
//!   row with one label and a limit of 100, one with every label and a limit of 1,000. The average
//!   number of entities reached is shown.
//! - **neighbours/s**: `GraphQuery::Neighbors` out-edges, one label, limit 100.
//!
//! Read rates are the best of `--repeat` rounds (3 by default). The peak heap is the allocator's
//! high-water mark over the whole run; the peak RSS (`VmHWM`) adds malloc's overhead and freed
//! memory it kept.
//!
//! Random reads of a large graph are bound by address translation: with 4 KiB pages nearly every
//! edge or entity slot read misses the TLB. glibc's malloc asks for transparent huge pages only when
//! told to (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`, with `madvise` in
//! `/sys/kernel/mm/transparent_hugepage/enabled`); the benchmark prints both settings with the table.
//!
//! The allocator is [`cap::Cap`] around [`System`]: it keeps live and peak bytes in atomics. The
//! workspace forbids `unsafe`, and a `GlobalAlloc` cannot be written without it.

use cap::Cap;
use pangea_core::graph::{
    Direction, EntityId, Graph, GraphAnswer, GraphConfig, GraphOp, GraphQuery, GraphResult, Properties, TraverseSpec,
    Value,
};
use pangea_core::log::StateMachine;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::alloc::System;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// The seed of every draw.
const SEED: u64 = 11;
/// Collections the entities are spread over, round robin.
const COLLECTIONS: u64 = 4;
/// Edge labels.
const LABELS: u64 = 4;
/// Of every [`SKEW_DENOMINATOR`] edges, this many start at a hot entity, and as many end at one.
const SKEW_NUMERATOR: u64 = 1;
const SKEW_DENOMINATOR: u64 = 10;
/// Hot entities: the first 1 in this many.
const HOT_FRACTION_INVERSE: u64 = 100;
/// Commands built and applied per batch (building them is not timed).
const BATCH_COMMANDS_MAX: usize = 100_000;

/// Deed's published claims.
const DEED_LOOKUPS_PER_SECOND: f64 = 500_000.0;
const DEED_INSERTS_PER_SECOND: f64 = 100_000.0;
const DEED_TRAVERSALS_PER_SECOND: f64 = 50_000.0;
const DEED_RECORD_BYTES_MAX: f64 = 100.0;
/// What this benchmark aims at: each of Deed's rates this many times over, and at most
/// [`DEED_RECORD_BYTES_MAX`] bytes per entity.
const TARGET_RATE_FACTOR: f64 = 2.0;

/// The name a filter word is matched against.
const BENCHMARK_NAME: &str = "graph";

const USAGE: &str = "\
usage: cargo bench -p pangea-benches --bench graph -- [--entities 1000000] [--edges 10000000] [--lookups 2000000] [--traversals 200000] [--repeat 3]
  --entities    entities added (at least 100)
  --edges       edges added
  --lookups     point lookups per round
  --traversals  labelled traversals and neighbour reads per round (a tenth of it for the unlabelled ones)
  --repeat      rounds of each read (the best is kept)";

/// The command line.
struct Args {
    entities: u64,
    edges: u64,
    lookups: u64,
    traversals: u64,
    repeat: u32,
}

/// Parses the command line; `Ok(None)` for `--help`, or when a filter word leaves this benchmark out.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args { entities: 1_000_000, edges: 10_000_000, lookups: 2_000_000, traversals: 200_000, repeat: 3 };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        match flag.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(None);
            }
            // What `cargo bench` adds.
            "--bench" => continue,
            // A filter, as criterion takes: a word this benchmark's name does not hold skips it.
            word if !word.starts_with('-') => {
                if BENCHMARK_NAME.contains(word) {
                    continue;
                }
                return Ok(None);
            }
            _ => {}
        }
        let value = words.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = value.replace(['_', ','], "");
        let bad = |_| format!("bad value {value:?} for {flag}\n{USAGE}");
        match flag.as_str() {
            "--entities" => args.entities = number.parse().map_err(bad)?,
            "--edges" => args.edges = number.parse().map_err(bad)?,
            "--lookups" => args.lookups = number.parse().map_err(bad)?,
            "--traversals" => args.traversals = number.parse().map_err(bad)?,
            "--repeat" => args.repeat = number.parse().map_err(bad)?,
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    if args.entities < HOT_FRACTION_INVERSE || args.lookups == 0 || args.traversals < 10 || args.repeat == 0 {
        return Err(format!("need at least 100 entities, 10 traversals, one lookup and one round\n{USAGE}"));
    }
    let limits = GraphConfig::default().limits;
    if args.entities > limits.entities_max || args.edges > limits.edges_max {
        return Err(format!(
            "at most {} entities and {} edges (the graph's limits)",
            limits.entities_max, limits.edges_max
        ));
    }
    Ok(Some(args))
}

/// A draw in `0..bound` (multiply-shift: no modulo bias worth counting).
fn below(rng: &mut ChaCha8Rng, bound: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(bound)) >> 64) as u64
}

/// A random entity id among `entities`.
fn random_entity(rng: &mut ChaCha8Rng, entities: u64) -> EntityId {
    EntityId(below(rng, entities) + 1)
}

/// Live heap bytes now.
fn live_bytes() -> usize {
    ALLOCATOR.allocated()
}

/// The process's peak resident set (`VmHWM`), in bytes, where `/proc` tells it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Applies `count` commands, built by `build(index)` in batches, timing only the applies (building
/// and dropping the commands are not timed). Every command must add something. Answers the time
/// spent applying.
fn apply_all(
    graph: &mut Graph,
    count: u64,
    mut build: impl FnMut(u64) -> GraphOp,
    what: &str,
) -> Result<Duration, String> {
    let mut applying = Duration::ZERO;
    let mut batch = Vec::with_capacity(BATCH_COMMANDS_MAX);
    let mut done = 0u64;
    let mut reported = 0u64;
    while done < count {
        let size = (count - done).min(BATCH_COMMANDS_MAX as u64);
        batch.extend((done..done + size).map(&mut build));
        let started = Instant::now();
        for command in &batch {
            let result = graph.apply(command);
            if !matches!(result, GraphResult::Entity(_) | GraphResult::Edge(_)) {
                return Err(format!("{what}: {result:?}"));
            }
            black_box(&result);
        }
        applying += started.elapsed();
        batch.clear();
        done += size;
        if done - reported >= count / 10 || done == count {
            reported = done;
            eprintln!("  {what}: {done} of {count} ({:.1} s applying)", applying.as_secs_f64());
        }
    }
    Ok(applying)
}

/// The best (shortest) of `repeat` timings of `round`, and what the last round counted.
fn best_of(repeat: u32, what: &str, mut round: impl FnMut() -> Result<u64, String>) -> Result<(Duration, u64), String> {
    let mut best = Duration::MAX;
    let mut counted = 0;
    for index in 0..repeat {
        let started = Instant::now();
        counted = round()?;
        let elapsed = started.elapsed();
        eprintln!("  {what}: round {} in {:.3} s", index + 1, elapsed.as_secs_f64());
        best = best.min(elapsed);
    }
    Ok((best, counted))
}

/// One row of the table.
struct Row {
    operation: String,
    /// Operations per second, or bytes for the memory rows.
    value: f64,
    unit: &'static str,
    claim: String,
    /// Our figure over Deed's (for bytes: Deed's upper bound over ours, so above 1 is better too).
    ratio: Option<f64>,
    note: String,
}

fn rate_row(operation: &str, count: u64, elapsed: Duration, claim: Option<f64>, note: String) -> Row {
    let value = count as f64 / elapsed.as_secs_f64().max(1e-9);
    Row {
        operation: operation.to_owned(),
        value,
        unit: "/s",
        claim: claim.map_or_else(|| "–".to_owned(), |claim| format!("{}/s", thousands(claim))),
        ratio: claim.map(|claim| value / claim),
        note,
    }
}

fn bytes_row(operation: &str, bytes: f64, note: String) -> Row {
    Row {
        operation: operation.to_owned(),
        value: bytes,
        unit: " B",
        claim: "50–100 B/record".to_owned(),
        ratio: Some(DEED_RECORD_BYTES_MAX / bytes.max(1e-9)),
        note,
    }
}

/// `value` rounded, with thousands separators.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn main() {
    if let Err(error) = run() {
        eprintln!("graph bench: {error}");
        std::process::exit(2);
    }
}

/// Builds the graph, measures, prints the table.
fn run() -> Result<(), String> {
    let Some(args) = parse_args()? else { return Ok(()) };
    let run_started = Instant::now();
    let (entities, edges) = (args.entities, args.edges);
    let collections: Vec<String> = (0..COLLECTIONS).map(|c| format!("c{c}")).collect();
    let labels: Vec<String> = (0..LABELS).map(|l| format!("l{l}")).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut rows = Vec::new();

    // ----- entities -----
    let before_graph = live_bytes();
    let mut graph = Graph::new(GraphConfig::default());
    eprintln!("adding {entities} entities");
    let entity_time = apply_all(
        &mut graph,
        entities,
        |index| {
            let mut properties = Properties::new();
            properties.insert("n".to_owned(), Value::int(index as i64));
            properties.insert("name".to_owned(), Value::str(format!("e{index}")));
            GraphOp::AddEntity { collection: collections[(index % COLLECTIONS) as usize].clone(), properties }
        },
        "entities",
    )?;
    let after_entities = live_bytes();
    let stats = graph.stats();
    if stats.entities != entities {
        return Err(format!("expected {entities} entities, the graph counts {}", stats.entities));
    }
    // Ids are handed out from 1 in order: the draws below rely on it.
    if !matches!(graph.read(&GraphQuery::Entity(EntityId(entities))), GraphAnswer::Entity(Some(_))) {
        return Err(format!("entity {entities} is missing"));
    }
    let entity_bytes = (after_entities - before_graph) as f64 / entities as f64;
    let entity_estimate = graph.store().heap_bytes();
    rows.push(rate_row(
        "insert entity (AddEntity via apply)",
        entities,
        entity_time,
        Some(DEED_INSERTS_PER_SECOND),
        format!("{entities} entities, 4 collections, 2 properties each"),
    ));

    // ----- edges -----
    eprintln!("adding {edges} edges");
    let hot = entities / HOT_FRACTION_INVERSE;
    let edge_time = apply_all(
        &mut graph,
        edges,
        |_| {
            let skew = below(&mut rng, SKEW_DENOMINATOR);
            let from_range = if skew < SKEW_NUMERATOR { hot } else { entities };
            let to_range = if (SKEW_NUMERATOR..2 * SKEW_NUMERATOR).contains(&skew) { hot } else { entities };
            let from = random_entity(&mut rng, from_range);
            let to = random_entity(&mut rng, to_range);
            let label = labels[below(&mut rng, LABELS) as usize].clone();
            GraphOp::AddEdge { from, to, label, properties: Properties::new() }
        },
        "edges",
    )?;
    let after_edges = live_bytes();
    let stats = graph.stats();
    if stats.edges != edges {
        return Err(format!("expected {edges} edges, the graph counts {}", stats.edges));
    }
    let edge_bytes = if edges == 0 { 0.0 } else { (after_edges - after_entities) as f64 / edges as f64 };
    let graph_estimate = graph.store().heap_bytes();
    rows.push(rate_row(
        "insert edge (AddEdge via apply)",
        edges,
        edge_time,
        Some(DEED_INSERTS_PER_SECOND),
        format!("{edges} edges, 4 labels, no properties, 20% touch the first 1% of entities"),
    ));

    // ----- point lookups -----
    eprintln!("{} rounds of {} point lookups", args.repeat, args.lookups);
    let ids: Vec<EntityId> = (0..args.lookups).map(|_| random_entity(&mut rng, entities)).collect();
    let (lookup_time, _) = best_of(args.repeat, "lookups", || {
        let mut found = 0u64;
        for &id in &ids {
            if let GraphAnswer::Entity(Some(view)) = graph.read(&GraphQuery::Entity(id)) {
                found += 1;
                black_box(&view);
            }
        }
        if found == args.lookups { Ok(found) } else { Err(format!("lookups found {found} of {}", args.lookups)) }
    })?;
    drop(ids);
    rows.push(rate_row(
        "point lookup (Entity, properties decoded)",
        args.lookups,
        lookup_time,
        Some(DEED_LOOKUPS_PER_SECOND),
        format!("{} random ids, best of {}", args.lookups, args.repeat),
    ));

    // ----- traversals -----
    let traversal_rows = [
        ("depth-3 traversal, 1 label, limit 100", args.traversals, vec![labels[0].clone()], 100),
        ("depth-3 traversal, any label, limit 1,000", args.traversals / 10, Vec::new(), 1_000),
    ];
    for (operation, count, labels, limit) in traversal_rows {
        eprintln!("{} rounds of {count} traversals ({operation})", args.repeat);
        let queries: Vec<GraphQuery> = (0..count)
            .map(|_| {
                GraphQuery::Traverse(TraverseSpec {
                    start: random_entity(&mut rng, entities),
                    depth: 3,
                    direction: Direction::Out,
                    labels: labels.clone(),
                    limit,
                })
            })
            .collect();
        let (elapsed, reached) = best_of(args.repeat, "traversals", || {
            let mut reached = 0u64;
            for query in &queries {
                match graph.read(query) {
                    GraphAnswer::Traversal(traversal) => reached += traversal.reached.len() as u64,
                    other => return Err(format!("traversal answered {other:?}")),
                }
            }
            Ok(reached)
        })?;
        let average = reached as f64 / count as f64;
        let note = format!(
            "out-edges, {count} random starts, {average:.1} entities reached on average, best of {}",
            args.repeat
        );
        rows.push(rate_row(operation, count, elapsed, Some(DEED_TRAVERSALS_PER_SECOND), note));
    }

    // ----- neighbours -----
    eprintln!("{} rounds of {} neighbour reads", args.repeat, args.traversals);
    let queries: Vec<GraphQuery> = (0..args.traversals)
        .map(|_| GraphQuery::Neighbors {
            entity: random_entity(&mut rng, entities),
            direction: Direction::Out,
            label: Some(labels[0].clone()),
            after: None,
            limit: 100,
        })
        .collect();
    let (neighbor_time, neighbors) = best_of(args.repeat, "neighbours", || {
        let mut neighbors = 0u64;
        for query in &queries {
            match graph.read(query) {
                GraphAnswer::Neighbors { neighbors: list, .. } => neighbors += list.len() as u64,
                other => return Err(format!("neighbours answered {other:?}")),
            }
        }
        Ok(neighbors)
    })?;
    drop(queries);
    let average = neighbors as f64 / args.traversals as f64;
    rows.push(rate_row(
        "neighbours (Out, 1 label, limit 100)",
        args.traversals,
        neighbor_time,
        None,
        format!("{average:.1} neighbours on average, best of {}", args.repeat),
    ));

    // ----- memory -----
    rows.push(bytes_row(
        "bytes per entity (with indexes)",
        entity_bytes,
        format!("allocator-counted; the store's own estimate: {:.1} B", entity_estimate as f64 / entities as f64),
    ));
    rows.push(bytes_row(
        "bytes per edge (slot + both adjacency lists)",
        edge_bytes,
        format!(
            "allocator-counted; estimate: {:.1} B; whole graph {:.1} MiB = {:.1} B per entity + edge",
            (graph_estimate - entity_estimate) as f64 / edges.max(1) as f64,
            mib((after_edges - before_graph) as u64),
            (after_edges - before_graph) as f64 / (entities + edges) as f64,
        ),
    ));

    // ----- the table -----
    println!("\n{entities} entities, {edges} edges; one thread; Deed's figures are its published claims\n");
    println!("| operation | measured | Deed's claim | ratio | notes |");
    println!("|---|---:|---|---:|---|");
    for row in &rows {
        let ratio = row.ratio.map_or_else(|| "–".to_owned(), |ratio| format!("{ratio:.2}×"));
        let value =
            if row.unit == " B" { format!("{:.1} B", row.value) } else { format!("{}/s", thousands(row.value)) };
        println!("| {} | {value} | {} | {ratio} | {} |", row.operation, row.claim, row.note);
    }
    println!("\nratio: ours over Deed's for rates; Deed's 100 B over ours for bytes (above 1 is better either way)");
    let peak = ALLOCATOR.max_allocated() as u64;
    let rss = peak_rss_bytes().map_or_else(|| "unknown".to_owned(), |rss| format!("{:.0} MiB", mib(rss)));
    println!("peak heap {:.0} MiB (allocator-counted); peak RSS {rss}", mib(peak));
    let huge_pages = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .map_or_else(|_| "unknown".to_owned(), |text| text.trim().to_owned());
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_else(|_| "unset".to_owned());
    println!("transparent huge pages: {huge_pages}; GLIBC_TUNABLES: {tunables}");
    println!("run time {:.1} s", run_started.elapsed().as_secs_f64());

    // ----- the targets -----
    let mut missed = Vec::new();
    for (row, claim) in [
        (&rows[0], DEED_INSERTS_PER_SECOND),
        (&rows[2], DEED_LOOKUPS_PER_SECOND),
        (&rows[3], DEED_TRAVERSALS_PER_SECOND),
    ] {
        if row.value < TARGET_RATE_FACTOR * claim {
            missed.push(format!(
                "{}: {:.2}× of the claim, under {TARGET_RATE_FACTOR}×",
                row.operation,
                row.value / claim
            ));
        }
    }
    if entity_bytes > DEED_RECORD_BYTES_MAX {
        missed.push(format!("bytes per entity: {entity_bytes:.1}, over {DEED_RECORD_BYTES_MAX}"));
    }
    if missed.is_empty() {
        println!("targets (2× each claimed rate, ≤ 100 B per entity): all met");
    } else {
        println!("targets missed: {}", missed.join("; "));
    }
    Ok(())
}
