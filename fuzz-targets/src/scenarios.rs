//! What `pangea-sim` reads from files: replay files (`replay`, `shrink`) and fault plans
//! (`run --plan`), JSON written by the simulator and edited by hand, and recorded histories
//! (`check-history`), written by other tools.

use crate::text;
use pangea_scenarios::ReplayFile;
use pangea_scenarios::history_file::{self, Format, Limits, ModelKind};
use pangea_scenarios::report::RunOptions;
use pangea_scenarios::sweep::run_guarded;
use pangea_sim::{FaultPlan, Latency};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// Cluster sizes a plan is checked against (partitions list their links, so they stay small).
const PLAN_NODES: [u32; 4] = [1, 3, 5, 16];
/// The cluster a small valid plan is run on, in the `health` scenario.
const RUN_NODES: u32 = 3;
/// Plans that heal later than this (virtual milliseconds) are not run: a run costs its virtual time.
const RUN_HEAL_AT_MS_MAX: u64 = 2_000;
/// Plans with more timed faults than this are not run.
const RUN_EVENTS_MAX: usize = 32;
/// Histories with more operations than this are read but not checked (the search is exponential).
const CHECK_OPERATIONS_MAX: usize = 64;
/// The search budget a history is checked with, per key.
const CHECK_STATES_MAX: usize = 20_000;

/// A replay file: parsing answers with a file or a typed error, never a panic; a parsed file writes
/// text that parses to the same file; and what `replay` does before it runs (finding the scenario,
/// checking the plan against the node count, printing the plan) does not panic either.
///
/// # Panics
/// When a parsed file does not read back to itself.
pub fn replay_files(bytes: &[u8]) {
    let Some(text) = text(bytes) else { return };
    let Ok(file) = ReplayFile::parse(text) else { return };
    let again = ReplayFile::parse(&file.to_json()).expect("a parsed replay file's text parses");
    assert_eq!(again, file);
    let _ = file.scenario();
    let _ = file.options(Some("fuzz.json"));
    if file.plan.validate(file.nodes).is_ok() && file.nodes <= PLAN_NODES[PLAN_NODES.len() - 1] {
        use_plan(&file.plan, file.nodes);
    }
}

/// A fault plan (`run --plan FILE`): parsing answers with a plan or a typed error, never a panic; a
/// parsed plan writes JSON that parses to the same plan; and a plan that validates against a cluster
/// can be used — summarised, printed, its latencies drawn and its partitions cut — without a panic;
/// a small one that validates against 3 nodes is run, in the `health` scenario, and no node and no
/// part of the simulator may panic under it.
///
/// # Panics
/// When a parsed plan does not read back to itself, or a valid plan cannot be used or run.
pub fn fault_plans(bytes: &[u8]) {
    let Some(text) = text(bytes) else { return };
    let Ok(plan) = serde_json::from_str::<FaultPlan>(text) else { return };
    let again: FaultPlan =
        serde_json::from_str(&serde_json::to_string(&plan).expect("a plan encodes")).expect("its JSON parses");
    assert_eq!(again, plan);
    for nodes in PLAN_NODES {
        if plan.validate(nodes).is_ok() {
            use_plan(&plan, nodes);
        }
    }
    if plan.validate(RUN_NODES).is_ok() && plan.heal_at_ms <= RUN_HEAL_AT_MS_MAX && plan.events.len() <= RUN_EVENTS_MAX
    {
        run_plan(plan);
    }
}

/// A recorded history (`check-history FILE`): reading it in any format, or the one its first line
/// tells, answers with a history or a typed error that names a line, never a panic; and a small
/// history that reads is checked against every model that accepts its operations, and its report
/// rendered as text and JSON, without a panic.
///
/// # Panics
/// When a history that reads has no operations, or cannot be checked or rendered.
pub fn history_files(bytes: &[u8]) {
    let limits = Limits::default();
    for format in [None, Some(Format::Edn), Some(Format::Porcupine), Some(Format::Jsonl)] {
        let Ok(history) = history_file::parse_history(bytes, format, &limits) else { continue };
        assert!(!history.operations.is_empty(), "a history read with no operations");
        if history.operations.len() > CHECK_OPERATIONS_MAX {
            continue;
        }
        for model in [ModelKind::Register, ModelKind::CasRegister, ModelKind::Kv] {
            let Ok(report) = history_file::check_history(&history, model, CHECK_STATES_MAX) else { continue };
            let _ = history_file::render_text(&history, &report);
            let json = history_file::render_json(&history, &report);
            serde_json::from_str::<serde_json::Value>(&json).expect("the JSON report parses");
        }
    }
}

/// Runs `plan` on [`RUN_NODES`] nodes of the `health` scenario: it may fail its checks (a plan can
/// be cruel), but nothing may panic.
fn run_plan(plan: FaultPlan) {
    let scenario = pangea_scenarios::registry::find("health").expect("the health scenario is built in");
    let options = RunOptions { seed: 1, nodes: Some(RUN_NODES), plan: Some(plan), ..RunOptions::default() };
    let report = run_guarded(scenario, &options).expect("a valid plan's options are accepted");
    if let Some(violation) = report.first_violation() {
        assert!(violation.checker != "no-panic", "a valid plan made the run panic: {}", violation.message);
    }
}

/// What the simulator does with a valid plan before and as it runs it, short of running it.
fn use_plan(plan: &FaultPlan, nodes: u32) {
    let _ = plan.to_string();
    let _ = plan.message_delay_max();
    let mut rng = ChaCha8Rng::seed_from_u64(u64::from(nodes));
    let latencies = [&plan.network.latency, &plan.disk.sync_latency];
    for latency in latencies.into_iter().chain(plan.network.links.iter().map(|link| &link.latency)) {
        draw(latency, &mut rng);
    }
    for event in &plan.events {
        let _ = (event.fault.to_string(), event.fault.node(), event.fault.kind(), event.fault.undoes());
        if let pangea_sim::Fault::Partition { partition } = &event.fault {
            let _ = partition.blocked_links(nodes);
        }
    }
}

/// Draws from `latency` a few times, checking each draw against its maximum.
fn draw(latency: &Latency, rng: &mut ChaCha8Rng) {
    let max = latency.max();
    for _ in 0..4 {
        assert!(latency.sample(rng) <= max, "a latency drawn over its maximum");
    }
}
