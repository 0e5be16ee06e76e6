//! The network the nodes talk over: one network namespace per node, each joined to the host
//! namespace by a veth pair and routed there, so that every packet between two nodes crosses the
//! host's forward hook, where one nftables table cuts links and drops packets (and, for delay,
//! an iptables chain queues them to [`crate::delay`]). Or, where namespaces
//! are not available, plain loopback without network faults.
//!
//! Every name starts with [`PREFIX`] (namespaces `pgnem-N`, host-side links `pgnem-vN`, the table
//! `inet pgnem`), so that `pangea-nemesis cleanup` can find what a killed run left behind.

use crate::delay::Delayer;
use anyhow::{Context, Result, bail};
use pangea_sim::plan::Partition;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};

/// The prefix of every namespace, link and table a run creates.
pub const PREFIX: &str = "pgnem";
/// The nftables table (family `inet`).
const TABLE: &str = "pgnem";
/// The port every node listens on inside its namespace.
const NODE_PORT: u16 = 7100;
/// The second octet of the nodes' subnets: node `i` is on 10.213.`i`.0/24.
const SUBNET_OCTET: u8 = 213;

/// Where the nodes run.
#[derive(Debug)]
pub enum Network {
    /// Each node in a namespace; network faults available.
    Namespaces {
        /// Nodes set up.
        nodes: u32,
        /// `net.ipv4.ip_forward` before the run, put back at teardown.
        forward_before: String,
        /// The packet holder, once the delay fault is switched on.
        delayer: Option<Delayer>,
    },
    /// Loopback: no network faults.
    Loopback {
        /// Each node's address.
        addresses: Vec<SocketAddr>,
    },
}

/// Runs a command to the end; fails with its output when it fails.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not run {program}"))?;
    if !output.status.success() {
        bail!("{program} {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Why namespaces cannot be used here, or `None` when they can.
pub fn namespaces_unavailable() -> Option<String> {
    if run("id", &["-u"]).map(|uid| uid.trim() != "0").unwrap_or(true) {
        return Some("not running as root".into());
    }
    for (program, args) in [("ip", &["-V"][..]), ("nft", &["--version"][..])] {
        if run(program, args).is_err() {
            return Some(format!("`{program}` is not installed (apt-get install iproute2 nftables)"));
        }
    }
    let probe = format!("{PREFIX}-probe");
    if let Err(error) = run("ip", &["netns", "add", &probe]) {
        return Some(format!("cannot create a network namespace: {error}"));
    }
    let _ = run("ip", &["netns", "del", &probe]);
    None
}

/// The namespace of node `index`.
pub fn namespace(index: u32) -> String {
    format!("{PREFIX}-{index}")
}

fn host_link(index: u32) -> String {
    format!("{PREFIX}-v{index}")
}

fn node_ip(index: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, SUBNET_OCTET, index as u8, 2)
}

fn host_ip(index: u32) -> Ipv4Addr {
    Ipv4Addr::new(10, SUBNET_OCTET, index as u8, 1)
}

impl Network {
    /// Creates `nodes` namespaces and links, routing between them, and an empty fault table.
    /// Refuses to start over leftovers of another run.
    pub fn namespaces(nodes: u32) -> Result<Network> {
        let leftovers = leftovers()?;
        if !leftovers.is_empty() {
            bail!("leftovers of another run: {} (run `pangea-nemesis cleanup`)", leftovers.join(", "));
        }
        let forward_before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .context("reading net.ipv4.ip_forward")?
            .trim()
            .to_owned();
        let mut network = Network::Namespaces { nodes: 0, forward_before, delayer: None };
        if let Err(error) = network.build(nodes) {
            // Take down what was made before the failure.
            for teardown_error in network.teardown() {
                eprintln!("pangea-nemesis: teardown: {teardown_error}");
            }
            return Err(error);
        }
        Ok(network)
    }

    /// Creates the namespaces, links, routes and table, counting namespaces as they are made.
    fn build(&mut self, count: u32) -> Result<()> {
        for index in 0..count {
            let (ns, link) = (namespace(index), host_link(index));
            run("ip", &["netns", "add", &ns])?;
            if let Network::Namespaces { nodes, .. } = self {
                *nodes = index + 1;
            }
            run("ip", &["link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
            run("ip", &["addr", "add", &format!("{}/24", host_ip(index)), "dev", &link])?;
            run("ip", &["link", "set", &link, "up"])?;
            run("ip", &["-n", &ns, "addr", "add", &format!("{}/24", node_ip(index)), "dev", "eth0"])?;
            run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
            run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
            run("ip", &["-n", &ns, "route", "add", "default", "via", &host_ip(index).to_string()])?;
        }
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").context("enabling net.ipv4.ip_forward")?;
        nft(&format!(
            "table inet {TABLE} {{\n  chain forward {{\n    type filter hook forward priority -10; policy accept;\n  }}\n}}\n"
        ))
    }

    /// Loopback addresses for `nodes` nodes: free UDP ports below the kernel's ephemeral range
    /// (32768 and up by default), so that no socket bound to port 0 (a client's) can be given one
    /// between this pick and the node's bind.
    pub fn loopback(nodes: u32) -> Result<Network> {
        const PORTS: std::ops::Range<u16> = 20_000..32_000;
        let start = (std::process::id() % u32::from(PORTS.end - PORTS.start)) as u16;
        let candidates =
            (0..PORTS.end - PORTS.start).map(|offset| PORTS.start + (start + offset) % (PORTS.end - PORTS.start));
        let addresses: Vec<SocketAddr> = candidates
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .filter(|address| std::net::UdpSocket::bind(address).is_ok())
            .take(nodes as usize)
            .collect();
        if addresses.len() < nodes as usize {
            bail!("fewer than {nodes} free UDP ports in {PORTS:?}");
        }
        Ok(Network::Loopback { addresses })
    }

    /// Starts holding packets for the delay fault (none held until [`Network::set_delay`]).
    pub fn start_delay(&mut self, seed: u64) -> Result<()> {
        if let Network::Namespaces { delayer: delayer @ None, .. } = self {
            *delayer = Some(Delayer::start(seed)?);
        }
        Ok(())
    }

    /// Holds `per_mille` of the packets between nodes for up to `max_ms` each (0: none).
    pub fn set_delay(&self, per_mille: u32, max_ms: u64) -> Result<()> {
        match self {
            Network::Namespaces { delayer: Some(delayer), .. } => delayer.set(per_mille, max_ms),
            _ => Ok(()),
        }
    }

    /// Whether links can be cut and packets dropped.
    pub fn has_faults(&self) -> bool {
        matches!(self, Network::Namespaces { .. })
    }

    /// Node `index`'s address.
    pub fn address(&self, index: u32) -> SocketAddr {
        match self {
            Network::Namespaces { .. } => SocketAddr::new(IpAddr::V4(node_ip(index)), NODE_PORT),
            Network::Loopback { addresses } => addresses[index as usize],
        }
    }

    /// The namespace node `index` runs in, if any.
    pub fn namespace_of(&self, index: u32) -> Option<String> {
        matches!(self, Network::Namespaces { .. }).then(|| namespace(index))
    }

    /// Replaces the fault rules: `partition`'s links cut (among `nodes`), and `loss_per_mille` of
    /// the packets between nodes dropped at random.
    pub fn set_faults(&self, partition: Option<&Partition>, loss_per_mille: u32, nodes: u32) -> Result<()> {
        if !self.has_faults() {
            return Ok(());
        }
        let mut script = format!("flush chain inet {TABLE} forward\n");
        if let Some(partition) = partition {
            for (from, to) in partition.blocked_links(nodes) {
                script.push_str(&format!(
                    "add rule inet {TABLE} forward ip saddr {} ip daddr {} drop\n",
                    node_ip(from),
                    node_ip(to)
                ));
            }
        }
        if loss_per_mille > 0 {
            script.push_str(&format!(
                "add rule inet {TABLE} forward numgen random mod 1000 < {} drop\n",
                loss_per_mille.min(1000)
            ));
        }
        nft(&script)
    }

    /// Removes every fault rule.
    pub fn heal(&self, nodes: u32) -> Result<()> {
        self.set_delay(0, 0)?;
        self.set_faults(None, 0, nodes)
    }

    /// Removes the table, the links and the namespaces, and puts `ip_forward` back. Goes on past
    /// errors; answers the ones it met.
    pub fn teardown(&mut self) -> Vec<String> {
        let Network::Namespaces { nodes, forward_before, delayer } = self else { return Vec::new() };
        let mut errors = Vec::new();
        if let Some(mut delayer) = delayer.take() {
            errors.extend(delayer.teardown());
        }
        if let Err(error) = run("nft", &["delete", "table", "inet", TABLE]) {
            errors.push(error.to_string());
        }
        for index in 0..*nodes {
            // The host's end first: deleting it deletes the pair at once, while a deleted
            // namespace frees its links later, in the kernel's cleanup work (CI saw them linger).
            if let Err(error) = run("ip", &["link", "del", &host_link(index)]) {
                errors.push(error.to_string());
            }
            if let Err(error) = run("ip", &["netns", "del", &namespace(index)]) {
                errors.push(error.to_string());
            }
        }
        if let Err(error) = std::fs::write("/proc/sys/net/ipv4/ip_forward", forward_before.as_bytes()) {
            errors.push(format!("restoring net.ipv4.ip_forward: {error}"));
        }
        *nodes = 0;
        errors
    }
}

/// Applies an nftables script.
fn nft(script: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("could not run nft")?;
    child.stdin.take().context("nft's stdin")?.write_all(script.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("nft refused the rules: {}\n{script}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// Namespaces, links and the table of an earlier run that are still there.
pub fn leftovers() -> Result<Vec<String>> {
    let mut found = Vec::new();
    if let Ok(namespaces) = run("ip", &["netns", "list"]) {
        found.extend(
            namespaces
                .lines()
                .filter_map(|line| line.split_whitespace().next())
                .filter(|name| name.starts_with(PREFIX))
                .map(|name| format!("namespace {name}")),
        );
    }
    if let Ok(links) = run("ip", &["-o", "link", "show"]) {
        found.extend(
            links
                .lines()
                .filter_map(|line| line.split(':').nth(1))
                .map(|name| name.trim().split('@').next().unwrap_or("").to_owned())
                .filter(|name| name.starts_with(PREFIX))
                .map(|name| format!("link {name}")),
        );
    }
    if run("nft", &["list", "table", "inet", TABLE]).is_ok() {
        found.push(format!("nftables table inet {TABLE}"));
    }
    if crate::delay::chain_left_behind() {
        found.push(format!("iptables chain {}", crate::delay::CHAIN));
    }
    Ok(found)
}

/// Removes whatever [`leftovers`] finds; answers what it removed.
pub fn cleanup() -> Result<Vec<String>> {
    let found = leftovers()?;
    for item in &found {
        let mut words = item.split_whitespace();
        match (words.next(), words.last()) {
            (Some("namespace"), Some(name)) => {
                run("ip", &["netns", "del", name])?;
            }
            (Some("link"), Some(name)) => {
                // Gone already when its namespace went.
                let _ = run("ip", &["link", "del", name]);
            }
            (Some("iptables"), _) => {
                if let Some(error) = crate::delay::remove_chain().into_iter().next() {
                    bail!("{error}");
                }
            }
            (Some("nftables"), _) => {
                run("nft", &["delete", "table", "inet", TABLE])?;
            }
            _ => {}
        }
    }
    Ok(found)
}
