//! The command line: what to attack, with which faults, for how long, and where to write.

use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Most nodes a run starts (each gets a namespace, a veth pair and a data directory).
pub const NODES_MAX: u32 = 9;
/// Most concurrent clients.
pub const CLIENTS_MAX: u32 = 256;
/// Most keys the clients share.
pub const KEYS_MAX: u32 = 4_096;
/// Longest run.
pub const RUN_TIME_MAX: Duration = Duration::from_secs(24 * 3600);

/// Attacks a cluster of real `pangea` processes on this machine with faults on a seeded schedule,
/// records what its clients saw, then heals everything and checks the history with the checkers
/// `pangea-sim` uses.
#[derive(Parser, Debug)]
#[command(name = "pangea-nemesis", version, about, long_about = LONG_ABOUT)]
pub struct Cli {
    /// What to do (default: a run).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The run's settings.
    #[command(flatten)]
    pub run: RunArgs,
}

const LONG_ABOUT: &str = "\
Attacks a cluster of real `pangea` processes on this machine and checks it.

Each node runs in its own network namespace, joined to the others through veth pairs routed by the
host namespace, where nftables rules cut links (partitions of every shape the simulator draws) and
drop packets at random, and an iptables NFQUEUE rule hands packets to this program to hold for
random times (delay and reordering, without tc netem). Processes are killed with SIGKILL and restarted, paused with SIGSTOP and
resumed, restarted with their clock skewed (libfaketime), and their data directories (size-limited
tmpfs mounts) filled up. Clients put, read and compare-and-set keys all along and record every
invocation and completion; a call that times out is recorded as unknown.

Then everything is healed and the run is checked: the whole history must be linearizable, no
acknowledged write may be lost, every node must converge to the same values, and the cluster must
make progress within a bound. The history (JSONL), the fault schedule, each node's log and the
verdict go into one directory.

Without root or network namespaces the nodes run on loopback, without the network faults; the run
says so. Everything the run creates (processes, namespaces, links, rules, mounts) is removed on exit,
Ctrl-C included; `pangea-nemesis cleanup` removes what a killed run left behind.

Exit codes, as pangea-sim's: 0 pass, 1 correctness failure (not linearizable, a write lost,
replicas that differ), 2 usage or set-up error, 3 liveness failure (no progress after the heal),
4 crash (a node exited on its own or panicked), 6 the checker's budget ran out undecided.";

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Removes namespaces, links, rules and mounts a killed run left behind (by their names).
    Cleanup,
}

/// A run's settings.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=i64::from(NODES_MAX)))]
    pub nodes: u32,
    /// How long to attack, e.g. 60s, 30m (then heal and check).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub time: Duration,
    /// The seed of the fault schedule and the clients' choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fault kinds to use (comma-separated); default: every kind this machine supports.
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<FaultKind>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=i64::from(CLIENTS_MAX)))]
    pub clients: u32,
    /// Keys the clients share (reads, writes and compare-and-sets on each).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=i64::from(KEYS_MAX)))]
    pub keys: u32,
    /// How long the cluster may take to serve again after the heal before the run fails (liveness).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub heal_bound: Duration,
    /// A client call's deadline; a call that has not completed by then is recorded as unknown.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub call_deadline: Duration,
    /// The directory to write the history, schedule, logs and verdict into (created; must not
    /// exist). Default: pangea-nemesis-out/seed-SEED-UNIXTIME.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The `pangea` binary (default: the one next to this program, else `pangea` on PATH).
    #[arg(long)]
    pub pangea: Option<PathBuf>,
    /// Run on loopback even where network namespaces are available (no network faults).
    #[arg(long)]
    pub loopback: bool,
    /// Start every node with this bug planted in its log (`pangea node --plant BUG`; the `pangea`
    /// binary must be built with `--features planted-bugs`), to see the run catch it.
    #[arg(long, value_name = "BUG")]
    pub plant: Option<String>,
    /// Size of each node's data directory mount when the disk fault is on, in MiB. Big enough
    /// for what the run writes (a 30-minute run's store stays under a few hundred MiB); the disk
    /// fault fills whatever is left.
    #[arg(long, default_value_t = 1024)]
    pub disk_mib: u32,
}

/// A kind of fault the nemesis injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// SIGKILL a minority of the nodes, restart them at the window's end.
    Kill,
    /// SIGSTOP a minority of the nodes, SIGCONT them at the window's end.
    Pause,
    /// Cut links: one node isolated, halves, majority and minority, a bridge, a ring, one-way.
    Partition,
    /// Drop a share of the packets between nodes.
    Loss,
    /// Hold a share of the packets between nodes for random times (delay and reordering).
    Delay,
    /// Fill a minority of the nodes' data directories until writes fail.
    Disk,
    /// Restart a minority of the nodes with their clocks moved by up to a minute.
    Skew,
}

impl FaultKind {
    /// Every kind, in order.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Partition,
        FaultKind::Loss,
        FaultKind::Delay,
        FaultKind::Disk,
        FaultKind::Skew,
    ];

    /// Its name on the command line and in files.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
            FaultKind::Loss => "loss",
            FaultKind::Delay => "delay",
            FaultKind::Disk => "disk",
            FaultKind::Skew => "skew",
        }
    }
}

/// Parses `90`, `90s`, `1500ms`, `30m` or `2h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 90s, 30m or 1500ms"))?;
    let duration = match unit {
        "" | "s" => Duration::from_secs(number),
        "ms" => Duration::from_millis(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        _ => return Err(format!("unknown unit {unit:?} in {text:?} (use ms, s, m or h)")),
    };
    if duration > RUN_TIME_MAX {
        return Err(format!("{text} is longer than the limit of 24h"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_parse_with_units_and_refuse_garbage() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("48h").is_err());
    }
}
