//! The XDP firewall on a real veth, in network namespaces of its own (root only; skipped
//! otherwise).
//!
//! Topology, every name prefixed `pghw<pid>` so that parallel runs and other suites (the
//! nemesis tests use `pgnem`) cannot collide:
//!
//! ```text
//!  ns …n (node)            ns …s (switch)              ns …a (allowed)   ns …d (denied)
//!  pghwN0 10.77.0.1 ──── pghwN0p ┐                  ┌ pghwNap ──── pghwNa 10.77.0.2
//!    (XDP firewall)              └─ bridge pghwNbr ─┤
//!                                                   └ pghwNdp ──── pghwNd 10.77.0.3
//! ```
//!
//! Each host also has fd77::1, ::2 and ::3 (/64) for the IPv6 phase. Phases: an IPv4
//! allow-list; another port (ignored); a replaced allow-list; an IPv6 allow-list; a rate limit;
//! then generic mode. Dropping or detaching the firewall must leave no XDP program behind.
//!
//! Neighbour entries are static so that no datagram waits on ARP (the kernel would drop those
//! beyond its small queue). The test thread enters the node namespace with `setns`, attaches the
//! firewall there and receives; senders run `pangea-udp-flood` through `ip netns exec`, paced
//! so that nothing is lost before the firewall. Every wait is a bounded poll for an expected
//! count.

#![cfg(all(feature = "ebpf", target_os = "linux"))]
// `setns(2)` for the node thread, through libc.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use pangea_hw::xdp::{AllowPrefix, RateLimit, XdpCounters, XdpFirewall, XdpMode, XdpModeWanted};

/// The filtered port.
const PORT: u16 = 7_700;
/// A port the firewall ignores.
const OTHER_PORT: u16 = 7_701;
const NODE_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const ALLOWED_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const DENIED_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 3);
const NODE_ADDRESS_V6: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 1);
const ALLOWED_ADDRESS_V6: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 2);
const DENIED_ADDRESS_V6: Ipv6Addr = Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 3);
const NODE_MAC: &str = "02:77:00:00:00:01";
const ALLOWED_MAC: &str = "02:77:00:00:00:02";
const DENIED_MAC: &str = "02:77:00:00:00:03";
/// Pace of every sender, in datagrams per second: slow enough that no queue before the
/// firewall overflows, fast enough for a short test.
const SEND_RATE_PER_SECOND: u64 = 1_000;
/// The rate phase's limit.
const LIMIT: RateLimit = RateLimit { per_second: 100, burst: 50 };
/// Longest wait for an expected count.
const WAIT_MAX: Duration = Duration::from_secs(15);
/// Pause between two looks at the counts while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// How long a receive blocks before the receiver looks at its stop flag.
const RECEIVE_TIMEOUT: Duration = Duration::from_millis(50);

/// The namespaces and interface names of one run.
struct Names {
    prefix: String,
    node: String,
    switch: String,
    allowed: String,
    denied: String,
}

impl Names {
    fn new() -> Self {
        let prefix = format!("pghw{}", std::process::id());
        Self {
            node: format!("{prefix}n"),
            switch: format!("{prefix}s"),
            allowed: format!("{prefix}a"),
            denied: format!("{prefix}d"),
            prefix,
        }
    }

    /// The node's veth, where the firewall sits.
    fn node_interface(&self) -> String {
        format!("{}0", self.prefix)
    }
}

/// Deletes the namespaces it holds when dropped (their veths and bridge go with them).
struct NamespaceGuard(Vec<String>);

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        for name in &self.0 {
            let deleted = Command::new("ip").args(["netns", "del", name]).status();
            if !matches!(deleted, Ok(status) if status.success()) {
                eprintln!("xdp_netns: could not delete namespace {name}: {deleted:?}");
            }
        }
    }
}

/// Runs `ip ARGS…` and panics with its stderr if it fails.
fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("running ip");
    assert!(output.status.success(), "ip {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
}

/// Whether this process runs as root (`/proc/self` belongs to the effective user).
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|metadata| metadata.uid() == 0)
}

/// Creates the first namespace, or says why the test cannot run.
fn add_namespace(name: &str) -> Result<(), String> {
    match Command::new("ip").args(["netns", "add", name]).output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(String::from_utf8_lossy(&output.stderr).trim().to_owned()),
        Err(error) => Err(format!("cannot run ip: {error}")),
    }
}

/// Builds the topology of the module doc.
fn build_topology(names: &Names) {
    let bridge = format!("{}br", names.prefix);
    ip(&["-n", &names.switch, "link", "add", &bridge, "type", "bridge", "forward_delay", "0"]);
    ip(&["-n", &names.switch, "link", "set", &bridge, "up"]);
    let hosts: [(&str, String, Ipv4Addr, Ipv6Addr, &str); 3] = [
        (&names.node, names.node_interface(), NODE_ADDRESS, NODE_ADDRESS_V6, NODE_MAC),
        (&names.allowed, format!("{}a", names.prefix), ALLOWED_ADDRESS, ALLOWED_ADDRESS_V6, ALLOWED_MAC),
        (&names.denied, format!("{}d", names.prefix), DENIED_ADDRESS, DENIED_ADDRESS_V6, DENIED_MAC),
    ];
    for (namespace, interface, address, address_v6, mac) in &hosts {
        let peer = format!("{interface}p");
        let address = format!("{address}/24");
        let address_v6 = format!("{address_v6}/64");
        ip(&[
            "-n",
            namespace,
            "link",
            "add",
            interface,
            "address",
            mac,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
            "netns",
            &names.switch,
        ]);
        ip(&["-n", &names.switch, "link", "set", &peer, "master", &bridge, "up"]);
        ip(&["-n", namespace, "addr", "add", &address, "dev", interface]);
        // No duplicate address detection: the address is usable at once.
        ip(&["-n", namespace, "addr", "add", &address_v6, "dev", interface, "nodad"]);
        ip(&["-n", namespace, "link", "set", interface, "up"]);
        ip(&["-n", namespace, "link", "set", "lo", "up"]);
    }
    // Static neighbours: nothing waits on (or is dropped during) address resolution.
    for (namespace, interface, _, _, _) in &hosts {
        for (_, _, address, address_v6, mac) in &hosts {
            for address in [address.to_string(), address_v6.to_string()] {
                ip(&[
                    "-n",
                    namespace,
                    "neigh",
                    "replace",
                    &address,
                    "lladdr",
                    mac,
                    "nud",
                    "permanent",
                    "dev",
                    interface,
                ]);
            }
        }
    }
}

/// Moves the calling thread into the named network namespace.
fn enter_namespace(name: &str) -> io::Result<()> {
    let namespace = File::open(format!("/run/netns/{name}"))?;
    // SAFETY: `setns` reads only the descriptor, which `namespace` keeps open across the call,
    // and changes only the calling thread's network namespace; this thread is the test's own
    // and is never handed back to a pool.
    let result = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) };
    if result == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Datagrams received by the node, by sender and port.
#[derive(Default)]
struct Received {
    from_allowed: AtomicU64,
    from_denied: AtomicU64,
    on_other_port: AtomicU64,
    stop: AtomicBool,
}

impl Received {
    fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.from_allowed.load(Ordering::SeqCst),
            self.from_denied.load(Ordering::SeqCst),
            self.on_other_port.load(Ordering::SeqCst),
        )
    }
}

/// Counts what arrives on `socket` until told to stop.
fn receive(socket: UdpSocket, received: Arc<Received>, other_port: bool) {
    socket.set_read_timeout(Some(RECEIVE_TIMEOUT)).expect("setting the receive timeout");
    let mut buffer = [0_u8; 2048];
    while !received.stop.load(Ordering::SeqCst) {
        let Ok((_, from)) = socket.recv_from(&mut buffer) else { continue };
        let counter = match from.ip() {
            _ if other_port => &received.on_other_port,
            address if address == ALLOWED_ADDRESS || address == ALLOWED_ADDRESS_V6 => &received.from_allowed,
            address if address == DENIED_ADDRESS || address == DENIED_ADDRESS_V6 => &received.from_denied,
            other => panic!("datagram from unexpected address {other}"),
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// Sends `count` paced datagrams from `namespace` (source `from`) to the node's `port`, at the
/// node's address of the same family.
fn send(flood: &str, namespace: &str, from: impl Into<IpAddr>, port: u16, count: u64) {
    let from = from.into();
    let node: IpAddr = if from.is_ipv4() { NODE_ADDRESS.into() } else { NODE_ADDRESS_V6.into() };
    let to = SocketAddr::new(node, port).to_string();
    let (from, count, rate) = (from.to_string(), count.to_string(), SEND_RATE_PER_SECOND.to_string());
    let output = Command::new("ip")
        .args(["netns", "exec", namespace, flood, "--to", &to, "--bind", &from])
        .args(["--count", &count, "--rate", &rate])
        .output()
        .expect("running pangea-udp-flood");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.trim() == format!("sent {count}"),
        "pangea-udp-flood from {namespace}: {}, stdout {stdout:?}, stderr {:?}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Polls `done` until it holds, failing the test after [`WAIT_MAX`] with `describe()`.
fn wait_for(what: &str, mut done: impl FnMut() -> bool, describe: impl Fn() -> String) {
    let deadline = Instant::now() + WAIT_MAX;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {}", describe());
        thread::sleep(POLL_INTERVAL);
    }
}

/// `after - before`, counter by counter.
fn delta(after: XdpCounters, before: XdpCounters) -> XdpCounters {
    XdpCounters {
        passed: after.passed - before.passed,
        dropped_denied: after.dropped_denied - before.dropped_denied,
        dropped_rate: after.dropped_rate - before.dropped_rate,
        ignored: after.ignored - before.ignored,
    }
}

/// The scenario, on a thread inside the node namespace.
fn run_on_node(names: &Names) {
    enter_namespace(&names.node).expect("entering the node namespace");
    let flood = env!("CARGO_BIN_EXE_pangea-udp-flood");
    let interface = names.node_interface();
    let mut firewall = XdpFirewall::attach(&interface, PORT, XdpModeWanted::Auto).expect("attaching the firewall");
    eprintln!("xdp_netns: firewall attached to {} in {} mode", firewall.interface(), firewall.mode());
    let attached = Command::new("ip").args(["link", "show", &interface]).output().unwrap();
    assert!(String::from_utf8_lossy(&attached.stdout).contains("xdp"), "ip link shows no XDP");

    let received = Arc::new(Received::default());
    let receivers: Vec<_> = [
        (IpAddr::from(NODE_ADDRESS), PORT, false),
        (IpAddr::from(NODE_ADDRESS_V6), PORT, false),
        (IpAddr::from(NODE_ADDRESS), OTHER_PORT, true),
    ]
    .into_iter()
    .map(|(address, port, other_port)| {
        let socket = UdpSocket::bind((address, port)).expect("binding a receiver");
        let received = Arc::clone(&received);
        thread::spawn(move || receive(socket, received, other_port))
    })
    .collect();
    let counters = |firewall: &XdpFirewall| firewall.counters().expect("reading the counters");

    // Phase 1: allow-list [10.77.0.2/32], no rate limit.
    let allowed_only = [AllowPrefix::new(ALLOWED_ADDRESS.into(), 32).unwrap()];
    firewall.set_allowed(Some(&allowed_only)).unwrap();
    let before = counters(&firewall);
    send(flood, &names.denied, DENIED_ADDRESS, PORT, 200);
    send(flood, &names.allowed, ALLOWED_ADDRESS, PORT, 300);
    wait_for(
        "phase 1 (allow-list)",
        || {
            let change = delta(counters(&firewall), before);
            change.passed >= 300 && change.dropped_denied >= 200 && received.snapshot().0 >= 300
        },
        || format!("{:?}, received {:?}", delta(counters(&firewall), before), received.snapshot()),
    );
    let change = delta(counters(&firewall), before);
    eprintln!("xdp_netns: phase 1 {change:?}, received {:?}", received.snapshot());
    assert_eq!((change.passed, change.dropped_denied, change.dropped_rate), (300, 200, 0));
    assert_eq!(received.snapshot(), (300, 0, 0));

    // Phase 2: another port is not the firewall's business, even from a denied source.
    let before = counters(&firewall);
    send(flood, &names.denied, DENIED_ADDRESS, OTHER_PORT, 100);
    wait_for(
        "phase 2 (other port)",
        || received.snapshot().2 >= 100,
        || format!("{:?}, received {:?}", delta(counters(&firewall), before), received.snapshot()),
    );
    let change = delta(counters(&firewall), before);
    eprintln!("xdp_netns: phase 2 {change:?}, received {:?}", received.snapshot());
    assert!(change.ignored >= 100, "{change:?}");
    assert_eq!((change.passed, change.dropped_denied, change.dropped_rate), (0, 0, 0));
    assert_eq!(received.snapshot(), (300, 0, 100));

    // Phase 3: replacing the list removes the old entry.
    let denied_only = [AllowPrefix::host(DENIED_ADDRESS.into())];
    firewall.set_allowed(Some(&denied_only)).unwrap();
    let before = counters(&firewall);
    send(flood, &names.allowed, ALLOWED_ADDRESS, PORT, 50);
    send(flood, &names.denied, DENIED_ADDRESS, PORT, 60);
    wait_for(
        "phase 3 (replaced allow-list)",
        || {
            let change = delta(counters(&firewall), before);
            change.passed >= 60 && change.dropped_denied >= 50 && received.snapshot().1 >= 60
        },
        || format!("{:?}, received {:?}", delta(counters(&firewall), before), received.snapshot()),
    );
    let change = delta(counters(&firewall), before);
    eprintln!("xdp_netns: phase 3 {change:?}, received {:?}", received.snapshot());
    assert_eq!((change.passed, change.dropped_denied, change.dropped_rate), (60, 50, 0));
    assert_eq!(received.snapshot(), (300, 60, 100));

    // Phase 3b: IPv6 sources, against an IPv6 allow-list entry.
    firewall.set_allowed(Some(&[AllowPrefix::host(ALLOWED_ADDRESS_V6.into())])).unwrap();
    let before = counters(&firewall);
    let received_before = received.snapshot();
    send(flood, &names.denied, DENIED_ADDRESS_V6, PORT, 40);
    send(flood, &names.allowed, ALLOWED_ADDRESS_V6, PORT, 70);
    wait_for(
        "phase 3b (IPv6)",
        || {
            let change = delta(counters(&firewall), before);
            change.passed >= 70 && change.dropped_denied >= 40 && received.snapshot().0 >= received_before.0 + 70
        },
        || format!("{:?}, received {:?}", delta(counters(&firewall), before), received.snapshot()),
    );
    let change = delta(counters(&firewall), before);
    eprintln!("xdp_netns: phase 3b (IPv6) {change:?}, received {:?}", received.snapshot());
    assert_eq!((change.passed, change.dropped_denied, change.dropped_rate), (70, 40, 0));
    assert_eq!(received.snapshot(), (received_before.0 + 70, received_before.1, received_before.2));

    // Phase 4: no allow-list, 100/s with a burst of 50; 400 datagrams at 1000/s. The source has
    // no bucket yet (the rate stage was off), so it starts full.
    firewall.set_allowed(None).unwrap();
    firewall.set_rate(LIMIT).unwrap();
    let sent = 400;
    let before = counters(&firewall);
    let received_before = received.snapshot().0;
    let start = Instant::now();
    send(flood, &names.allowed, ALLOWED_ADDRESS, PORT, sent);
    wait_for(
        "phase 4 (rate limit)",
        || {
            let change = delta(counters(&firewall), before);
            change.passed + change.dropped_rate >= sent
        },
        || format!("{:?}, received {:?}", delta(counters(&firewall), before), received.snapshot()),
    );
    let elapsed = start.elapsed();
    let change = delta(counters(&firewall), before);
    wait_for(
        "phase 4's passed datagrams to arrive",
        || received.snapshot().0 >= received_before + change.passed,
        || format!("{change:?}, received {:?}", received.snapshot()),
    );
    let bound = u64::from(LIMIT.burst)
        + u64::try_from(u128::from(LIMIT.per_second) * elapsed.as_nanos() / 1_000_000_000).unwrap()
        + 1;
    eprintln!("xdp_netns: phase 4 {change:?} over {elapsed:?} (bound {bound}), received {:?}", received.snapshot());
    assert_eq!(change.passed + change.dropped_rate, sent, "{change:?}");
    assert_eq!(change.dropped_denied, 0);
    assert!(change.passed >= u64::from(LIMIT.burst), "fewer than a burst passed: {change:?}");
    assert!(change.passed <= bound, "{} passed, above the bucket's bound {bound}", change.passed);
    assert_eq!(received.snapshot().0, received_before + change.passed);

    drop(firewall);
    assert_detached(&interface);

    // Phase 5: generic mode filters the same way.
    let mut generic =
        XdpFirewall::attach(&interface, PORT, XdpModeWanted::Generic).expect("attaching the firewall in generic mode");
    assert_eq!(generic.mode(), XdpMode::Generic);
    generic.set_allowed(Some(&allowed_only)).unwrap();
    let received_before = received.snapshot();
    send(flood, &names.denied, DENIED_ADDRESS, PORT, 20);
    send(flood, &names.allowed, ALLOWED_ADDRESS, PORT, 30);
    wait_for(
        "phase 5 (generic mode)",
        || {
            let change = counters(&generic);
            change.passed >= 30 && change.dropped_denied >= 20 && received.snapshot().0 >= received_before.0 + 30
        },
        || format!("{:?}, received {:?}", counters(&generic), received.snapshot()),
    );
    let change = counters(&generic);
    eprintln!("xdp_netns: phase 5 (generic) {change:?}, received {:?}", received.snapshot());
    assert_eq!((change.passed, change.dropped_denied, change.dropped_rate), (30, 20, 0));
    assert_eq!(received.snapshot(), (received_before.0 + 30, received_before.1, received_before.2));
    generic.detach().expect("detaching");
    assert_detached(&interface);

    received.stop.store(true, Ordering::SeqCst);
    for receiver in receivers {
        receiver.join().expect("a receiver panicked");
    }
}

/// Asserts that `ip link` shows no XDP program on `interface`.
fn assert_detached(interface: &str) {
    let shown = Command::new("ip").args(["link", "show", interface]).output().unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(!shown.contains("xdp"), "an XDP program is still attached: {shown}");
}

#[test]
fn firewall_filters_and_rate_limits_on_a_veth() {
    if !is_root() {
        eprintln!("skipped: xdp_netns needs root (network namespaces and XDP)");
        return;
    }
    let names = Names::new();
    if let Err(why) = add_namespace(&names.node) {
        eprintln!("skipped: `ip netns add` failed: {why}");
        return;
    }
    let mut guard = NamespaceGuard(vec![names.node.clone()]);
    for name in [&names.switch, &names.allowed, &names.denied] {
        add_namespace(name).unwrap_or_else(|why| panic!("ip netns add {name}: {why}"));
        guard.0.push(name.clone());
    }
    build_topology(&names);

    let outcome = thread::scope(|scope| scope.spawn(|| run_on_node(&names)).join());
    drop(guard);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
