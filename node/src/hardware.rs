//! The node's optional hardware paths, chosen once at start-up from what the machine offers
//! ([`pangea_hw::caps`]) and what the operator asked for (`--io`, `--firewall`): shard files through
//! io_uring or plain file I/O; the firewall as an XDP program on the node's interface, in userspace
//! in front of QUIC, or off. Each fallback says why in one log line.

use crate::transport::filter::{AllowList, SocketFilter};
use pangea_core::firewall::{FirewallCounters, RateLimit};
use pangea_hw::caps::{self, Capabilities, Wanted};
use pangea_hw::file_io::{FileIo, StdFileIo};
use pangea_hw::prefix::AllowPrefix;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use thiserror::Error;

/// How the node reads and writes shard files (`--io`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum IoChoice {
    /// io_uring where the kernel and this build offer it, else plain file I/O.
    #[default]
    Auto,
    /// io_uring, or refuse to start.
    Uring,
    /// Plain file I/O.
    Std,
}

/// Where the node's firewall runs (`--firewall`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FirewallChoice {
    /// XDP where this build, the privileges and the interface allow it, else userspace.
    #[default]
    Auto,
    /// An XDP program on the node's interface, or refuse to start.
    Xdp,
    /// In the node, in front of QUIC.
    Userspace,
    /// No firewall.
    Off,
}

/// The operator's hardware settings.
#[derive(Clone, Debug, Default)]
pub struct HardwareOptions {
    /// `--io`.
    pub io: IoChoice,
    /// `--firewall`.
    pub firewall: FirewallChoice,
    /// `--firewall-allow`: when any is given, only these prefixes and the node's peers may send.
    pub allow: Vec<AllowPrefix>,
    /// `--firewall-rate` and `--firewall-burst`: each source's limit, in datagrams.
    pub rate: RateLimit,
    /// `--firewall-interface`: the interface for XDP (default: the one holding the listen address).
    pub interface: Option<String>,
}

/// `pangea node`'s hardware paths and firewall rules.
#[derive(clap::Args, Debug)]
pub struct HardwareArgs {
    /// How shard files are read and written: io_uring (builds with the `uring` feature, Linux;
    /// batches of files go through the ring, single files and reads through plain calls, which
    /// measured faster), plain file I/O, or auto (io_uring where the kernel allows it, honouring
    /// kernel.io_uring_disabled). `pangea status` shows the choice and why.
    #[arg(long, value_enum, default_value_t = IoChoice::Auto)]
    pub io: IoChoice,
    /// Where the firewall runs: an XDP program on the node's interface (builds with the `ebpf`
    /// feature, Linux, root or CAP_BPF+CAP_NET_ADMIN), userspace (in front of QUIC), off, or auto
    /// (XDP where possible, else userspace).
    #[arg(long, value_enum, default_value_t = FirewallChoice::Auto)]
    pub firewall: FirewallChoice,
    /// Only these addresses or prefixes (ADDR or ADDR/LEN, repeatable), and the node's peers, may
    /// send to the node; without any, every address may (the rate limit still applies). Clients
    /// and nodes about to join must be in one.
    #[arg(long = "firewall-allow", value_name = "PREFIX", value_parser = parse_prefix)]
    pub allow: Vec<AllowPrefix>,
    /// Datagrams a second each source may send (0: no limit).
    #[arg(long = "firewall-rate", value_name = "PER_SECOND", default_value_t = 0)]
    pub rate: u32,
    /// Datagrams a source may send at once, above its rate (default: a second's worth).
    #[arg(long = "firewall-burst", value_name = "DATAGRAMS")]
    pub burst: Option<u32>,
    /// The interface the XDP program attaches to (default: the one holding the listen address).
    #[arg(long = "firewall-interface", value_name = "NAME")]
    pub interface: Option<String>,
}

/// An allow-list prefix of `--firewall-allow`.
fn parse_prefix(text: &str) -> Result<AllowPrefix, String> {
    text.parse().map_err(|error: pangea_hw::prefix::PrefixError| error.to_string())
}

impl HardwareArgs {
    /// The options these arguments ask for, or why they cannot work.
    pub fn options(self) -> Result<HardwareOptions, String> {
        let rate = RateLimit { per_second: self.rate, burst: self.burst.unwrap_or(self.rate) };
        rate.validate().map_err(|error| error.to_string())?;
        Ok(HardwareOptions { io: self.io, firewall: self.firewall, allow: self.allow, rate, interface: self.interface })
    }
}

/// What the node found and chose, for `pangea status` and the metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardwareFacts {
    /// CPU vector extensions.
    pub cpu: String,
    /// The io_uring probe's answer.
    pub io_uring: String,
    /// The eBPF probe's answer.
    pub ebpf: String,
    /// Whether the kernel has BTF.
    pub btf: bool,
    /// The shard file path (`io_uring`, `std`) and why.
    pub io: (String, String),
    /// The firewall path (`xdp native`, `xdp generic`, `userspace`, `off`) and why.
    pub firewall: (String, String),
}

/// A hardware path asked for that this machine or build does not offer.
#[derive(Debug, Error)]
pub enum HardwareError {
    /// `--io uring` or `--firewall xdp` without the capability.
    #[error(transparent)]
    Unsupported(#[from] caps::Unsupported),
    /// The io_uring ring could not be set up.
    #[error("io_uring: {0}")]
    Uring(std::io::Error),
    /// The XDP program could not be attached.
    #[error("XDP firewall: {0}")]
    Xdp(String),
    /// The firewall's settings cannot work.
    #[error("firewall: {0}")]
    Firewall(#[from] pangea_core::firewall::FirewallConfigError),
}

/// The running firewall.
pub enum ActiveFirewall {
    /// None.
    Off,
    /// In front of QUIC.
    Userspace(Arc<SocketFilter>),
    /// On the interface.
    #[cfg(all(feature = "ebpf", target_os = "linux"))]
    Xdp {
        /// The attached program.
        program: Box<std::sync::Mutex<pangea_hw::xdp::XdpFirewall>>,
        /// The prefixes configured, merged with the peers' addresses on each update.
        allow: AllowList,
    },
}

impl std::fmt::Debug for ActiveFirewall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ActiveFirewall::Off => "off",
            ActiveFirewall::Userspace(_) => "userspace",
            #[cfg(all(feature = "ebpf", target_os = "linux"))]
            ActiveFirewall::Xdp { .. } => "xdp",
        })
    }
}

impl ActiveFirewall {
    /// The socket filter, when the firewall runs in userspace.
    #[must_use]
    pub fn socket_filter(&self) -> Option<Arc<SocketFilter>> {
        match self {
            ActiveFirewall::Userspace(filter) => Some(Arc::clone(filter)),
            _ => None,
        }
    }

    /// Datagrams passed and dropped so far.
    #[must_use]
    pub fn counters(&self) -> FirewallCounters {
        match self {
            ActiveFirewall::Off => FirewallCounters::default(),
            ActiveFirewall::Userspace(filter) => filter.counters(),
            #[cfg(all(feature = "ebpf", target_os = "linux"))]
            ActiveFirewall::Xdp { program, .. } => {
                let program = program.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                program.counters().map_or_else(
                    |_| FirewallCounters::default(),
                    |counters| FirewallCounters {
                        passed: counters.passed,
                        dropped_denied: counters.dropped_denied,
                        dropped_rate: counters.dropped_rate,
                    },
                )
            }
        }
    }

    /// The node's peers are now at `peers`: they may send.
    pub fn set_peers(&self, peers: BTreeSet<IpAddr>) {
        match self {
            ActiveFirewall::Off => {}
            ActiveFirewall::Userspace(filter) => filter.set_peers(peers),
            #[cfg(all(feature = "ebpf", target_os = "linux"))]
            ActiveFirewall::Xdp { program, allow } => {
                if !allow.enforce {
                    return;
                }
                let prefixes: Vec<AllowPrefix> =
                    allow.configured.iter().copied().chain(peers.into_iter().map(AllowPrefix::host)).collect();
                let mut program = program.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Err(error) = program.set_allowed(Some(&prefixes)) {
                    tracing::warn!(%error, "cannot update the XDP firewall's allow-list");
                }
            }
        }
    }
}

/// What [`choose`] set up.
#[derive(Debug)]
pub struct Chosen {
    /// For status and metrics.
    pub facts: HardwareFacts,
    /// The shard files' I/O.
    pub file_io: Box<dyn FileIo>,
    /// The firewall.
    pub firewall: ActiveFirewall,
}

fn wanted(fast: bool, portable: bool) -> Wanted {
    match (fast, portable) {
        (true, _) => Wanted::Fast,
        (_, true) => Wanted::Portable,
        _ => Wanted::Auto,
    }
}

/// Probes the machine once, logs what it found, and sets up the paths `options` ask for, for a node
/// listening on `listen`.
pub fn choose(options: &HardwareOptions, listen: SocketAddr) -> Result<Chosen, HardwareError> {
    let found = Capabilities::detect();
    tracing::info!(
        cpu = %found.cpu, io_uring = %found.io_uring, ebpf = %found.ebpf, btf = found.btf,
        "hardware capabilities"
    );
    let io =
        caps::choose("io_uring", &found.io_uring, wanted(options.io == IoChoice::Uring, options.io == IoChoice::Std))?;
    let file_io: Box<dyn FileIo> = if io.fast { uring_io()? } else { Box::new(StdFileIo) };
    if !io.fast && options.io == IoChoice::Auto {
        tracing::info!(reason = %io.reason, "shard files through plain file I/O");
    }
    let mut configured = options.allow.clone();
    if !configured.is_empty() {
        // The node talks to itself (registering its address, say): its own address may send.
        configured.push(AllowPrefix::host(listen.ip()));
    }
    let allow = AllowList { enforce: !configured.is_empty(), configured, peers: BTreeSet::new() };
    let (firewall, firewall_fact) = match options.firewall {
        FirewallChoice::Off => (ActiveFirewall::Off, ("off".to_owned(), "asked for".to_owned())),
        choice => {
            let fast = caps::choose(
                "XDP",
                &found.ebpf,
                wanted(choice == FirewallChoice::Xdp, choice == FirewallChoice::Userspace),
            )?;
            match attach_xdp(fast.fast, options, listen, &allow) {
                Ok(Some((firewall, mode))) => (firewall, (format!("xdp {mode}"), fast.reason)),
                Ok(None) => {
                    if choice == FirewallChoice::Auto {
                        tracing::info!(reason = %fast.reason, "firewall in userspace");
                    }
                    (
                        ActiveFirewall::Userspace(Arc::new(SocketFilter::new(allow, options.rate)?)),
                        ("userspace".to_owned(), fast.reason),
                    )
                }
                Err(error) if choice == FirewallChoice::Auto => {
                    tracing::info!(reason = %error, "firewall in userspace: the XDP program could not be attached");
                    let filter = Arc::new(SocketFilter::new(allow, options.rate)?);
                    (ActiveFirewall::Userspace(filter), ("userspace".to_owned(), error.to_string()))
                }
                Err(error) => return Err(error),
            }
        }
    };
    let facts = HardwareFacts {
        cpu: found.cpu.to_string(),
        io_uring: found.io_uring.to_string(),
        ebpf: found.ebpf.to_string(),
        btf: found.btf,
        io: (file_io.name().to_owned(), io.reason),
        firewall: firewall_fact,
    };
    tracing::info!(io = %facts.io.0, firewall = %facts.firewall.0, "hardware paths");
    Ok(Chosen { facts, file_io, firewall })
}

#[cfg(all(feature = "uring", target_os = "linux"))]
fn uring_io() -> Result<Box<dyn FileIo>, HardwareError> {
    let io = pangea_hw::uring::UringFileIo::new().map_err(HardwareError::Uring)?;
    if !io.registered() {
        tracing::info!("io_uring buffers unregistered: the kernel refused to pin them (memory-lock limit)");
    }
    Ok(Box::new(io))
}

#[cfg(not(all(feature = "uring", target_os = "linux")))]
fn uring_io() -> Result<Box<dyn FileIo>, HardwareError> {
    Err(HardwareError::Uring(std::io::Error::other("this build has no io_uring path")))
}

/// The interface holding `ip` (`/proc/net` has no such table: `getifaddrs` does).
#[cfg(all(feature = "ebpf", target_os = "linux"))]
fn interface_of(ip: IpAddr) -> Option<String> {
    let output = std::process::Command::new("ip").args(["-o", "addr", "show"]).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let addr = fields.get(3)?.split('/').next()?.parse::<IpAddr>().ok()?;
        (addr == ip).then(|| fields.get(1).map(|name| name.trim_end_matches(':').to_owned()))?
    })
}

#[cfg(all(feature = "ebpf", target_os = "linux"))]
fn attach_xdp(
    fast: bool,
    options: &HardwareOptions,
    listen: SocketAddr,
    allow: &AllowList,
) -> Result<Option<(ActiveFirewall, String)>, HardwareError> {
    use pangea_hw::xdp::{XdpFirewall, XdpModeWanted};
    if !fast {
        return Ok(None);
    }
    let interface =
        options.interface.clone().or_else(|| interface_of(listen.ip())).ok_or_else(|| {
            HardwareError::Xdp(format!("no interface holds {}; give --firewall-interface", listen.ip()))
        })?;
    let mut program = XdpFirewall::attach(&interface, listen.port(), XdpModeWanted::Auto)
        .map_err(|error| HardwareError::Xdp(error.to_string()))?;
    program
        .set_allowed(allow.enforce.then_some(allow.configured.as_slice()))
        .and_then(|()| program.set_rate(options.rate))
        .map_err(|error| HardwareError::Xdp(error.to_string()))?;
    let mode = program.mode().to_string();
    tracing::info!(%interface, %mode, "XDP firewall attached");
    Ok(Some((ActiveFirewall::Xdp { program: Box::new(std::sync::Mutex::new(program)), allow: allow.clone() }, mode)))
}

#[cfg(not(all(feature = "ebpf", target_os = "linux")))]
fn attach_xdp(
    _fast: bool,
    _options: &HardwareOptions,
    _listen: SocketAddr,
    _allow: &AllowList,
) -> Result<Option<(ActiveFirewall, String)>, HardwareError> {
    Ok(None)
}
