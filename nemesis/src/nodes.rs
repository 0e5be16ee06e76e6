//! The `pangea` processes: data directories (on size-limited tmpfs mounts when the disk fault is
//! on), starting each in its namespace, killing, pausing, resuming and restarting them (with a
//! skewed clock through libfaketime), and noticing a process that exited on its own.

use crate::net::{Network, run};
use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Where Debian's libfaketime is.
pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
/// The ballast file that fills a data directory.
const BALLAST: &str = "nemesis-ballast";
/// How much a ballast write adds at a time.
const BALLAST_CHUNK_BYTES: usize = 1 << 20;

/// One node's process and files.
#[derive(Debug)]
pub struct NodeProcess {
    /// Its number.
    pub index: u32,
    /// Its data directory.
    pub dir: PathBuf,
    /// Its log (stderr, appended across restarts).
    pub log: PathBuf,
    /// Its address.
    pub addr: SocketAddr,
    /// The running process, if any.
    child: Option<Child>,
    /// Whether it is stopped (SIGSTOP).
    pub paused: bool,
    /// Whether its data directory is a tmpfs this run mounted.
    mounted: bool,
    /// The clock offset it runs with, in seconds (0: none).
    pub skew_seconds: i64,
    /// Times it was started.
    pub starts: u32,
}

/// The cluster's processes and shared secrets.
#[derive(Debug)]
pub struct Nodes {
    /// Every node.
    pub nodes: Vec<NodeProcess>,
    /// The `pangea` binary.
    binary: PathBuf,
    /// The client token.
    pub token: [u8; 32],
    /// The bug every node runs with, if any (`pangea node --plant`).
    planted_bug: Option<String>,
}

/// What a client needs to reach the cluster: every node's address and the client token.
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// Node `i`'s address at `i`.
    pub addresses: Vec<SocketAddr>,
    /// The client token.
    pub token: [u8; 32],
}

/// The value after `label` in `pangea init`'s output.
fn field(output: &str, label: &str) -> Result<String> {
    output
        .lines()
        .find_map(|line| line.strip_prefix(label).map(|rest| rest.trim().to_owned()))
        .with_context(|| format!("no {label} in pangea init's output: {output}"))
}

impl Nodes {
    /// Initialises `count` data directories under `root` sharing one cluster key and token; with
    /// `disk_mib`, each is first mounted as a tmpfs of that size. Starts nothing.
    pub fn init(
        binary: &Path,
        root: &Path,
        network: &Network,
        count: u32,
        disk_mib: Option<u32>,
        planted_bug: Option<String>,
    ) -> Result<Nodes> {
        let mut nodes = Nodes { nodes: Vec::new(), binary: binary.to_owned(), token: [0; 32], planted_bug };
        if let Err(error) = nodes.build(root, network, count, disk_mib) {
            // Unmount what was mounted before the failure.
            for teardown_error in nodes.teardown() {
                eprintln!("pangea-nemesis: teardown: {teardown_error}");
            }
            return Err(error);
        }
        Ok(nodes)
    }

    /// Mounts and initialises the data directories, keeping each node as soon as it has one.
    fn build(&mut self, root: &Path, network: &Network, count: u32, disk_mib: Option<u32>) -> Result<()> {
        let mut secrets: Option<(String, String)> = None;
        for index in 0..count {
            let dir = root.join(format!("n{index}-data"));
            std::fs::create_dir_all(&dir)?;
            let mut node = NodeProcess {
                index,
                dir: dir.clone(),
                log: root.join(format!("n{index}.log")),
                addr: network.address(index),
                child: None,
                paused: false,
                mounted: false,
                skew_seconds: 0,
                starts: 0,
            };
            if let Some(mib) = disk_mib {
                run("mount", &["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs", path_str(&dir)?])?;
                node.mounted = true;
            }
            self.nodes.push(node);
            let mut args = vec!["init".to_owned(), "--data-dir".to_owned(), path_str(&dir)?.to_owned()];
            if let Some((key, token)) = &secrets {
                args.extend(["--cluster-key".into(), key.clone(), "--client-token".into(), token.clone()]);
            }
            let output = Command::new(&self.binary).args(&args).output().context("running pangea init")?;
            if !output.status.success() {
                bail!("pangea init failed: {}", String::from_utf8_lossy(&output.stderr));
            }
            if secrets.is_none() {
                let text = String::from_utf8_lossy(&output.stdout);
                let token = field(&text, "client token:")?;
                self.token = pangea_node::hex::decode_32(&token).context("the client token")?;
                secrets = Some((field(&text, "cluster key:")?, token));
            }
        }
        Ok(())
    }

    /// What a client needs.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints { addresses: self.nodes.iter().map(|node| node.addr).collect(), token: self.token }
    }

    /// Starts node `index` (joining through node 0 unless it is node 0), in its namespace, with its
    /// clock skewed by its `skew_seconds`.
    pub fn start(&mut self, index: u32, network: &Network) -> Result<()> {
        let bootstrap = self.nodes[0].addr;
        let node = &mut self.nodes[index as usize];
        if node.child.is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&node.log)?;
        let mut command = match network.namespace_of(index) {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", &ns]).arg(&self.binary);
                command
            }
            None => Command::new(&self.binary),
        };
        command.args(["node", "--data-dir", path_str(&node.dir)?, "--listen", &node.addr.to_string()]);
        if index != 0 {
            command.args(["--bootstrap", &bootstrap.to_string()]);
        }
        if let Some(bug) = &self.planted_bug {
            command.args(["--plant", bug]);
        }
        if node.skew_seconds != 0 {
            command.env("LD_PRELOAD", LIBFAKETIME).env("FAKETIME", format!("{:+}s", node.skew_seconds));
            // Monotonic clocks stay true: the skew is of the wall clock, as NTP trouble would be.
            command.env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        command.env("RUST_LOG", "info").stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        node.child = Some(command.spawn().context("starting pangea node")?);
        node.paused = false;
        node.starts += 1;
        Ok(())
    }

    /// Kills node `index` with SIGKILL and reaps it.
    pub fn kill(&mut self, index: u32) {
        let node = &mut self.nodes[index as usize];
        if let Some(mut child) = node.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        node.paused = false;
    }

    /// Sends SIGSTOP (`pause`) or SIGCONT to node `index`.
    pub fn pause(&mut self, index: u32, pause: bool) -> Result<()> {
        let node = &mut self.nodes[index as usize];
        let Some(child) = &node.child else { return Ok(()) };
        run("kill", &["-s", if pause { "STOP" } else { "CONT" }, &child.id().to_string()])?;
        node.paused = pause;
        Ok(())
    }

    /// Whether node `index` is running (started and not killed).
    pub fn running(&self, index: u32) -> bool {
        self.nodes[index as usize].child.is_some()
    }

    /// Nodes whose process exited without being killed: index and exit status.
    pub fn exited(&mut self) -> Vec<(u32, String)> {
        let mut exited = Vec::new();
        for node in &mut self.nodes {
            if let Some(child) = &mut node.child
                && let Ok(Some(status)) = child.try_wait()
            {
                exited.push((node.index, status.to_string()));
                node.child = None;
            }
        }
        exited
    }

    /// Fills node `index`'s data directory with a ballast file until a write fails.
    pub fn fill_disk(&self, index: u32) -> Result<u64> {
        let path = self.nodes[index as usize].dir.join(BALLAST);
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        let chunk = vec![0u8; BALLAST_CHUNK_BYTES];
        let mut written = 0u64;
        while std::io::Write::write_all(&mut file, &chunk).is_ok() {
            written += chunk.len() as u64;
        }
        Ok(written)
    }

    /// Removes node `index`'s ballast.
    pub fn free_disk(&self, index: u32) {
        let _ = std::fs::remove_file(self.nodes[index as usize].dir.join(BALLAST));
    }

    /// Kills every process and unmounts every mount this run made (copying nothing: the data
    /// directories on tmpfs go with them). Goes on past errors; answers them.
    pub fn teardown(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        for index in 0..self.nodes.len() as u32 {
            let _ = self.pause(index, false);
            self.kill(index);
        }
        for node in &mut self.nodes {
            if node.mounted {
                match run("umount", &[&node.dir.to_string_lossy()]) {
                    Ok(_) => node.mounted = false,
                    Err(error) => errors.push(error.to_string()),
                }
            }
        }
        errors
    }
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))
}
