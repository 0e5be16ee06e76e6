//! One run: set up, attack on the schedule while the clients work, heal, check, tear down.

use crate::args::{FaultKind, RunArgs};
use crate::net::{Network, namespaces_unavailable};
use crate::nodes::{Endpoints, LIBFAKETIME, Nodes};
use crate::records::{self, Acknowledged};
use crate::schedule::{self, Action, Window};
use crate::verdict::{self, Failure, Findings};
use crate::workload::{ClientPlan, Recorder, run_client};
use anyhow::{Context, Result, bail};
use pangea_node::api::Client;
use pangea_sim::plan::Partition;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the cluster may take to form before the run gives up.
const FORM_BOUND: Duration = Duration::from_secs(60);
/// How often the run looks for crashed nodes and Ctrl-C while it waits.
const POLL: Duration = Duration::from_millis(100);

/// What a run sets up and must take down: shared with the signal handler, which takes it down
/// itself on a second Ctrl-C.
#[derive(Default)]
pub struct Resources {
    /// The network, once set up.
    pub network: Option<Network>,
    /// The processes and mounts, once set up.
    pub nodes: Option<Nodes>,
}

impl Resources {
    /// Kills, unmounts and removes everything; answers the errors met.
    pub fn teardown(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(nodes) = &mut self.nodes {
            errors.extend(nodes.teardown());
        }
        if let Some(network) = &mut self.network {
            errors.extend(network.teardown());
        }
        self.nodes = None;
        self.network = None;
        errors
    }
}

impl Drop for Resources {
    fn drop(&mut self) {
        for error in self.teardown() {
            eprintln!("pangea-nemesis: teardown: {error}");
        }
    }
}

/// One line of `faults.jsonl`: a window as it really happened.
#[derive(Serialize)]
struct FaultLine<'a> {
    #[serde(flatten)]
    window: &'a Window,
    applied_ms: u64,
    healed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The fault kinds to use: those asked for (all must be available) or every available one.
fn choose_kinds(asked: &[FaultKind], network: &Network) -> Result<Vec<FaultKind>> {
    let root = crate::net::run("id", &["-u"]).is_ok_and(|uid| uid.trim() == "0");
    let why_not = |kind: FaultKind| -> Option<String> {
        match kind {
            FaultKind::Kill | FaultKind::Pause => None,
            FaultKind::Partition | FaultKind::Loss => {
                (!network.has_faults()).then(|| "the nodes run on loopback, without namespaces".to_owned())
            }
            FaultKind::Delay if !network.has_faults() => {
                Some("the nodes run on loopback, without namespaces".to_owned())
            }
            FaultKind::Delay => crate::delay::unavailable(),
            FaultKind::Disk => (!root).then(|| "mounting a tmpfs per data directory needs root".to_owned()),
            FaultKind::Skew => (!Path::new(LIBFAKETIME).exists())
                .then(|| format!("{LIBFAKETIME} is missing (apt-get install faketime)")),
        }
    };
    if !asked.is_empty() {
        for &kind in asked {
            if let Some(reason) = why_not(kind) {
                bail!("the {} fault is not available here: {reason}", kind.name());
            }
        }
        let mut kinds = asked.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        return Ok(kinds);
    }
    let mut kinds = Vec::new();
    for kind in FaultKind::ALL {
        match why_not(kind) {
            None => kinds.push(kind),
            Some(reason) => eprintln!("pangea-nemesis: no {} faults: {reason}", kind.name()),
        }
    }
    Ok(kinds)
}

/// The `pangea` binary to run.
fn pangea_binary(asked: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = asked {
        return Ok(path.to_owned());
    }
    let sibling = std::env::current_exe()?.with_file_name("pangea");
    if sibling.exists() {
        return Ok(sibling);
    }
    Ok(PathBuf::from("pangea"))
}

/// Waits until every node reports every member and a leader.
async fn wait_formed(cluster: &Endpoints) -> Result<()> {
    let started = Instant::now();
    let count = cluster.addresses.len();
    loop {
        let mut ready = 0;
        for &addr in &cluster.addresses {
            let mut client = Client::new(vec![addr], cluster.token, Duration::from_secs(2));
            if let Ok((view, _)) = client.status(addr).await
                && view.log.members.nodes.len() == count
                && view.log.leader.is_some()
            {
                ready += 1;
            }
        }
        if ready == count {
            return Ok(());
        }
        if started.elapsed() > FORM_BOUND {
            bail!("the cluster did not form within {FORM_BOUND:?} (see the node logs)");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs with `args`; answers the findings and the output directory.
pub async fn run(
    args: RunArgs,
    resources: Arc<Mutex<Resources>>,
    interrupted: Arc<AtomicBool>,
) -> Result<(Findings, PathBuf)> {
    let binary = pangea_binary(args.pangea.as_deref())?;
    let out = match &args.out {
        Some(out) => out.clone(),
        None => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
            PathBuf::from("pangea-nemesis-out").join(format!("seed-{}-{now}", args.seed))
        }
    };
    if out.exists() {
        bail!("{} exists already: give another --out", out.display());
    }
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let network = if args.loopback {
        eprintln!("pangea-nemesis: on loopback (--loopback): no partitions or packet loss");
        Network::loopback(args.nodes)?
    } else if let Some(reason) = namespaces_unavailable() {
        eprintln!(
            "pangea-nemesis: network namespaces unavailable ({reason}): on loopback, no partitions or packet loss"
        );
        Network::loopback(args.nodes)?
    } else {
        Network::namespaces(args.nodes)?
    };
    let kinds = choose_kinds(&args.faults, &network);
    resources.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.network = Some(network);
    let kinds = kinds?;
    if kinds.contains(&FaultKind::Delay) {
        let mut guard = resources.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        guard.network.as_mut().context("network")?.start_delay(args.seed)?;
    }
    let disk = kinds.contains(&FaultKind::Disk).then_some(args.disk_mib);
    let nodes = {
        let guard = resources.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        Nodes::init(&binary, &out, guard.network.as_ref().context("network")?, args.nodes, disk, args.plant.clone())
    };
    let nodes = nodes?;
    resources.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.nodes = Some(nodes);
    let windows = schedule::draw(args.seed, args.nodes, args.time, &kinds);
    let mut planned = std::fs::File::create(out.join("schedule.jsonl"))?;
    for window in &windows {
        serde_json::to_writer(&mut planned, window)?;
        planned.write_all(b"\n")?;
    }
    eprintln!(
        "pangea-nemesis: {} nodes, {} of attack, {} fault windows ({}), seed {}, output in {}",
        args.nodes,
        humanize(args.time),
        windows.len(),
        kinds.iter().map(|kind| kind.name()).collect::<Vec<_>>().join(", "),
        args.seed,
        out.display()
    );
    let mut attack =
        Attack { resources: resources.clone(), nodes: args.nodes, crashes: Vec::new(), skewed: Vec::new() };
    attack.with(|network, nodes| {
        for index in 0..args.nodes {
            nodes.start(index, network)?;
        }
        Ok(())
    })?;
    let cluster = attack.with(|_, nodes| Ok(nodes.endpoints()))?;
    wait_formed(&cluster).await?;
    eprintln!("pangea-nemesis: cluster formed; clients start");
    let recorder = Arc::new(Recorder::new(&out.join("history.jsonl"))?);
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for index in 0..args.clients {
        let plan = ClientPlan {
            index,
            seed: args.seed,
            keys: args.keys,
            addresses: cluster.addresses.clone(),
            token: cluster.token,
            deadline: args.call_deadline,
        };
        clients.push(tokio::spawn(run_client(plan, recorder.clone(), stop.clone())));
    }
    let records = Arc::new(Acknowledged::default());
    clients.push(tokio::spawn(records::run_graph_client(
        cluster.addresses.clone(),
        cluster.token,
        args.call_deadline,
        records.clone(),
        stop.clone(),
    )));
    clients.push(tokio::spawn(records::run_events_client(
        cluster.addresses.clone(),
        cluster.token,
        args.call_deadline,
        records.clone(),
        stop.clone(),
    )));
    let mut faults_file = std::fs::File::create(out.join("faults.jsonl"))?;
    let started = Instant::now();
    let mut last_report = Instant::now();
    for window in &windows {
        if !attack.wait_until(started + window.start, &interrupted).await {
            break;
        }
        let applied_ms = started.elapsed().as_millis() as u64;
        let error = attack.apply(&window.action, true).err().map(|error| error.to_string());
        let completed = attack.wait_until(started + window.start + window.length, &interrupted).await;
        let undo_error = attack.apply(&window.action, false).err().map(|error| error.to_string());
        let line = FaultLine {
            window,
            applied_ms,
            healed_ms: started.elapsed().as_millis() as u64,
            error: error.or(undo_error),
        };
        serde_json::to_writer(&mut faults_file, &line)?;
        faults_file.write_all(b"\n")?;
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            let operations = recorder.history.lock().map(|history| history.len()).unwrap_or(0);
            eprintln!(
                "pangea-nemesis: {} of {}: {operations} operations, last fault {}",
                humanize(started.elapsed()),
                humanize(args.time),
                window.action.kind().name()
            );
        }
        if !completed {
            break;
        }
    }
    attack.wait_until(started + args.time, &interrupted).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.await;
    }
    eprintln!("pangea-nemesis: attack over; healing");
    attack.heal_all()?;
    let mut findings = Findings::default();
    match verdict::progress(&cluster, args.heal_bound).await {
        Some(took) => findings.recovered_ms = Some(took.as_millis() as u64),
        None => findings.failures.push((
            Failure::Liveness,
            format!("no write and read succeeded within {} of the heal", humanize(args.heal_bound)),
        )),
    }
    let acknowledged = recorder.acknowledged_once.lock().map(|list| list.clone()).unwrap_or_default();
    findings.acknowledged_once = acknowledged.len();
    if findings.recovered_ms.is_some() {
        let mut keys: Vec<Vec<u8>> = (0..args.keys).map(|key| format!("k{key}").into_bytes()).collect();
        keys.extend(acknowledged.iter().map(|(key, _)| key.clone()));
        eprintln!("pangea-nemesis: final reads of {} keys", keys.len());
        let finals = verdict::final_reads(&cluster, &recorder, &keys).await;
        let (lost, unread) = verdict::lost_once(&acknowledged, &finals);
        findings.unread_once = unread;
        findings.lost_once = lost.len();
        for line in lost.iter().take(10) {
            findings.failures.push((Failure::Correctness, format!("write lost: {line}")));
        }
        findings.entities_acknowledged = records.entities.lock().map(|list| list.len()).unwrap_or(0);
        findings.events_acknowledged = records.events.lock().map(|list| list.len()).unwrap_or(0);
        eprintln!(
            "pangea-nemesis: reading back {} graph entities and {} events",
            findings.entities_acknowledged, findings.events_acknowledged
        );
        let problems = records::check(&cluster.addresses, cluster.token, &records).await;
        findings.records_lost = problems.len();
        for problem in problems.iter().take(10) {
            findings.failures.push((Failure::Correctness, format!("graph or events: {problem}")));
        }
        eprintln!("pangea-nemesis: waiting for every node to hold the final values");
        for difference in verdict::convergence(&cluster, &finals, args.heal_bound).await.iter().take(10) {
            findings.failures.push((Failure::Correctness, format!("not converged: {difference}")));
        }
    } else {
        // Nothing can be read back from a cluster that does not serve: every key would time out.
        findings.unread_once = acknowledged.len();
        eprintln!("pangea-nemesis: the cluster does not serve: no final reads, no convergence check");
    }
    recorder.flush();
    let history = recorder.history.lock().map(|history| history.clone()).unwrap_or_default();
    eprintln!("pangea-nemesis: checking the linearizability of {} operations", history.len());
    let (text, failure) = verdict::linearizability(&history);
    findings.linearizability = text.clone();
    if let Some(failure) = failure {
        findings.failures.push((failure, text));
    }
    let panics = attack.with(|_, nodes| Ok(panicked(nodes)))?;
    attack.crashes.extend(panics);
    for crash in &attack.crashes {
        findings.failures.push((Failure::Crash, crash.clone()));
    }
    Ok((findings, out))
}

/// Node logs that show a panic.
fn panicked(nodes: &Nodes) -> Vec<String> {
    nodes
        .nodes
        .iter()
        .filter(|node| std::fs::read_to_string(&node.log).is_ok_and(|log| log.contains("panicked at")))
        .map(|node| format!("n{} panicked (see {})", node.index, node.log.display()))
        .collect()
}

/// "1m 30s" for 90 s.
pub fn humanize(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 60, seconds % 60) {
        (0, seconds) => format!("{seconds}s"),
        (minutes, 0) => format!("{minutes}m"),
        (minutes, seconds) => format!("{minutes}m {seconds}s"),
    }
}

/// Applies and undoes faults on the shared resources.
struct Attack {
    resources: Arc<Mutex<Resources>>,
    nodes: u32,
    /// Nodes that exited on their own.
    crashes: Vec<String>,
    /// Nodes running with a skewed clock.
    skewed: Vec<u32>,
}

impl Attack {
    /// Runs `action` on the network and nodes.
    fn with<T>(&self, action: impl FnOnce(&Network, &mut Nodes) -> Result<T>) -> Result<T> {
        let mut guard = self.resources.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let Resources { network, nodes } = &mut *guard;
        action(network.as_ref().context("no network")?, nodes.as_mut().context("no nodes")?)
    }

    /// Sleeps until `until`, watching for crashed nodes; false when interrupted.
    async fn wait_until(&mut self, until: Instant, interrupted: &AtomicBool) -> bool {
        loop {
            if interrupted.load(Ordering::Relaxed) {
                return false;
            }
            if let Ok(exited) = self.with(|_, nodes| Ok(nodes.exited())) {
                for (index, status) in exited {
                    self.crashes.push(format!("n{index} exited on its own ({status})"));
                }
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            tokio::time::sleep(POLL.min(until - now)).await;
        }
    }

    /// Applies (`start`) or undoes a window's fault.
    fn apply(&mut self, action: &Action, start: bool) -> Result<()> {
        let count = self.nodes;
        let mut skewed = std::mem::take(&mut self.skewed);
        let result = self.with(|network, nodes| {
            match action {
                Action::Kill { nodes: chosen } => {
                    for &index in chosen {
                        if start {
                            nodes.kill(index);
                        } else {
                            nodes.start(index, network)?;
                        }
                    }
                }
                Action::Pause { nodes: chosen } => {
                    for &index in chosen {
                        nodes.pause(index, start)?;
                    }
                }
                Action::Partition { partition } => {
                    network.set_faults(start.then_some(partition), 0, count)?;
                }
                Action::Loss { per_mille } => {
                    network.set_faults(None::<&Partition>, if start { *per_mille } else { 0 }, count)?;
                }
                Action::Delay { per_mille, max_ms } => {
                    if start {
                        network.set_delay(*per_mille, *max_ms)?;
                    } else {
                        network.set_delay(0, 0)?;
                    }
                }
                Action::Disk { nodes: chosen } => {
                    for &index in chosen {
                        if start {
                            nodes.fill_disk(index)?;
                        } else {
                            nodes.free_disk(index);
                        }
                    }
                }
                Action::Skew { nodes: chosen, seconds } => {
                    for &index in chosen {
                        nodes.kill(index);
                        nodes.nodes[index as usize].skew_seconds = if start { *seconds } else { 0 };
                        nodes.start(index, network)?;
                        if start {
                            skewed.push(index);
                        } else {
                            skewed.retain(|&other| other != index);
                        }
                    }
                }
            }
            Ok(())
        });
        self.skewed = skewed;
        result
    }

    /// Undoes every fault: rules flushed, disks freed, every node resumed, restarted if down, and
    /// restarted without skew if skewed.
    fn heal_all(&mut self) -> Result<()> {
        let count = self.nodes;
        let skewed = std::mem::take(&mut self.skewed);
        self.with(|network, nodes| {
            network.heal(count)?;
            for index in 0..count {
                nodes.free_disk(index);
                nodes.pause(index, false)?;
                if skewed.contains(&index) || nodes.nodes[index as usize].skew_seconds != 0 {
                    nodes.kill(index);
                    nodes.nodes[index as usize].skew_seconds = 0;
                }
                if !nodes.running(index) {
                    nodes.start(index, network)?;
                }
            }
            Ok(())
        })
    }
}
