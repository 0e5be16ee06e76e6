//! Pangea's topological scheduler (`pangea_core::sched`) against Python's
//! `graphlib.TopologicalSorter`, on the same DAGs of 1,000, 100,000 and 1,000,000 nodes, printed as
//! a markdown table.
//!
//! The DAG: node `i` depends on up to three distinct earlier nodes, the `j`-th being
//! `hash(i, j) % i` (a splitmix64 finalizer of `i` and `j`; no RNG, the same graph every time).
//! It is written to a file in a temporary directory, one line per node: `i dep dep dep`.
//!
//! - **pangea**: build ([`Dag::from_edges`], which checks for cycles, and [`Scheduler::new`]),
//!   then run: [`Scheduler::take_ready_into`] a reused buffer and [`Scheduler::mark_completed`] each
//!   node, until [`Scheduler::is_complete`]. Best of several repetitions, build, run and their sum
//!   apart.
//! - **graphlib**: `python3 benches/sched_vs_graphlib.py FILE` parses the file (not timed), then
//!   times building (`add` per node, `prepare()`) and the same loop (`get_ready()`, `done(*nodes)`
//!   until `is_active()` is false), best of `--python-repeat`, and `static_order()` on its own; it
//!   prints its seconds as JSON. Both sides hand out whole batches, so they take the same number of
//!   rounds; the example checks it.
//!
//! The ratio is graphlib's total over Pangea's. Without `python3` the table has Pangea's columns
//! only.
//!
//! ```text
//! cargo run --release -p pangea-benches --example sched_vs_graphlib
//! cargo run --release -p pangea-benches --example sched_vs_graphlib -- --nodes 1000,100000 --python-repeat 5
//! ```

use pangea_core::sched::{Dag, Scheduler};
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant as WallInstant;

/// Each node depends on at most this many earlier nodes.
const DEPENDENCIES_PER_NODE_MAX: u32 = 3;

const USAGE: &str = "\
usage: sched_vs_graphlib [--nodes 1000,100000,1000000] [--python-repeat 3]
  --nodes          comma-separated node counts
  --python-repeat  repetitions of each graphlib timing (the best is kept)";

/// The command line.
struct Args {
    nodes: Vec<u32>,
    python_repeat: u32,
}

/// Parses the command line; `Ok(None)` for `--help`.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args { nodes: vec![1_000, 100_000, 1_000_000], python_repeat: 3 };
    let mut words = std::env::args().skip(1);
    while let Some(flag) = words.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = words.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |_| format!("bad value {value:?} for {flag}\n{USAGE}");
        match flag.as_str() {
            "--nodes" => {
                args.nodes =
                    value.split(',').map(|n| n.trim().parse::<u32>()).collect::<Result<_, _>>().map_err(bad)?;
            }
            "--python-repeat" => args.python_repeat = value.parse().map_err(bad)?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(Some(args))
}

/// A splitmix64 finalizer of `(node, slot)`: the graph's only source of variety.
fn hash(node: u32, slot: u32) -> u64 {
    let mut z = (u64::from(node) << 32 | u64::from(slot)).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The benchmark DAG of `nodes` nodes, as `(dependency, dependent)` edges grouped by dependent.
fn generate(nodes: u32) -> Vec<(u32, u32)> {
    let mut edges = Vec::with_capacity(nodes as usize * DEPENDENCIES_PER_NODE_MAX as usize);
    for node in 1..nodes {
        let first = edges.len();
        for slot in 0..DEPENDENCIES_PER_NODE_MAX.min(node) {
            let dependency = (hash(node, slot) % u64::from(node)) as u32;
            if !edges[first..].contains(&(dependency, node)) {
                edges.push((dependency, node));
            }
        }
    }
    edges
}

/// Writes the DAG as one line per node: `i dep dep dep`.
fn write_graph(path: &Path, nodes: u32, edges: &[(u32, u32)]) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut edges = edges.iter().peekable();
    for node in 0..nodes {
        write!(file, "{node}")?;
        while let Some((dependency, _)) = edges.next_if(|&&(_, dependent)| dependent == node) {
            write!(file, " {dependency}")?;
        }
        writeln!(file)?;
    }
    file.flush()
}

/// Best seconds of one side, and the rounds (batches of ready nodes) of a run.
#[derive(Clone, Copy, Debug)]
struct Timing {
    build: f64,
    run: f64,
    total: f64,
    rounds: u64,
}

/// Builds and runs the DAG `repeat` times; the best of each part.
fn time_pangea(nodes: u32, edges: &[(u32, u32)], repeat: u32) -> Timing {
    let mut best = Timing { build: f64::INFINITY, run: f64::INFINITY, total: f64::INFINITY, rounds: 0 };
    let mut batch = Vec::new();
    for _ in 0..repeat {
        let started = WallInstant::now();
        let dag = Dag::from_edges(nodes, black_box(edges)).expect("the generated graph is a DAG");
        let mut scheduler = Scheduler::new(dag);
        let built = WallInstant::now();
        let mut rounds = 0;
        while !scheduler.is_complete() {
            batch.clear();
            scheduler.take_ready_into(&mut batch);
            assert!(!batch.is_empty(), "a DAG always has a ready node until it is complete");
            for &node in &batch {
                scheduler.mark_completed(node).expect("handed out");
            }
            rounds += 1;
        }
        let finished = WallInstant::now();
        black_box(&scheduler);
        best.build = best.build.min((built - started).as_secs_f64());
        best.run = best.run.min((finished - built).as_secs_f64());
        best.total = best.total.min((finished - started).as_secs_f64());
        best.rounds = rounds;
    }
    best
}

/// What running graphlib gave.
enum Python {
    /// Its timing, and `static_order()`'s seconds.
    Timed(Timing, f64),
    /// `python3` is not on the path.
    Missing,
    /// It ran and failed.
    Failed(String),
}

/// Runs the Python side on `file`.
fn time_graphlib(file: &Path, repeat: u32) -> Python {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("sched_vs_graphlib.py");
    let output = match Command::new("python3").arg(&script).arg(file).arg("--repeat").arg(repeat.to_string()).output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Python::Missing,
        Err(error) => return Python::Failed(error.to_string()),
    };
    if !output.status.success() {
        return Python::Failed(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let json = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> Option<f64> {
        let start = json.find(&format!("\"{name}\": "))? + name.len() + 4;
        let end = json[start..].find([',', '}']).map_or(json.len(), |end| start + end);
        json[start..end].trim().parse().ok()
    };
    match (field("build"), field("run"), field("total"), field("static_order"), field("rounds")) {
        (Some(build), Some(run), Some(total), Some(static_order), Some(rounds)) => {
            Python::Timed(Timing { build, run, total, rounds: rounds as u64 }, static_order)
        }
        _ => Python::Failed(format!("unexpected output: {json}")),
    }
}

/// Pangea's repetitions: more for small graphs, whose runs take microseconds.
fn pangea_repeat(nodes: u32) -> u32 {
    if nodes <= 10_000 { 100 } else { 7 }
}

fn main() {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let directory: PathBuf = std::env::temp_dir().join(format!("pangea-sched-vs-graphlib-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("create the temporary directory");
    let mut rows = Vec::new();
    let mut python_missing = false;
    for &nodes in &args.nodes {
        let edges = generate(nodes);
        let file = directory.join(format!("dag-{nodes}.txt"));
        write_graph(&file, nodes, &edges).expect("write the graph file");
        eprintln!("{nodes} nodes, {} edges: pangea…", edges.len());
        let pangea = time_pangea(nodes, &edges, pangea_repeat(nodes));
        let python = if python_missing {
            Python::Missing
        } else {
            eprintln!("{nodes} nodes: graphlib…");
            time_graphlib(&file, args.python_repeat)
        };
        match &python {
            Python::Missing => python_missing = true,
            Python::Failed(message) => eprintln!("graphlib failed at {nodes} nodes: {message}"),
            Python::Timed(graphlib, _) => assert_eq!(
                graphlib.rounds, pangea.rounds,
                "both sides hand out whole batches, so they must take the same rounds"
            ),
        }
        rows.push((nodes, edges.len(), pangea, python));
        let _ = std::fs::remove_file(&file);
    }
    let _ = std::fs::remove_dir(&directory);
    if python_missing {
        println!("python3 was not found: Pangea's column only.\n");
        println!("| N | edges | rounds | Pangea build s | Pangea run s | Pangea s |");
        println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    } else {
        println!(
            "| N | edges | rounds | Pangea build s | Pangea run s | Pangea s | graphlib build s | graphlib run s \
             | graphlib s | ratio | graphlib static_order s |"
        );
        println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    }
    for (nodes, edges, pangea, python) in rows {
        print!(
            "| {nodes} | {edges} | {} | {:.6} | {:.6} | {:.6} |",
            pangea.rounds, pangea.build, pangea.run, pangea.total
        );
        match python {
            Python::Timed(graphlib, static_order) => println!(
                " {:.4} | {:.4} | {:.4} | {:.0}× | {static_order:.4} |",
                graphlib.build,
                graphlib.run,
                graphlib.total,
                graphlib.total / pangea.total
            ),
            Python::Missing => println!(),
            Python::Failed(_) => println!(" failed | | | | |"),
        }
    }
}
