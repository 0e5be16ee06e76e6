//! Delay and reordering without `tc netem` (which many kernels, this machine's included, do not
//! build): an iptables rule in the host namespace sends a share of the packets between nodes to an
//! NFQUEUE, and a thread here holds each one for a random time up to the window's bound before it
//! lets it go. Packets held for different times overtake each other, so delay comes with
//! reordering, as netem's jitter gives.
//!
//! The rule lives in its own chain, [`CHAIN`], jumped to from `FORWARD`; the queue is bound with
//! `--queue-bypass`, so that if this program dies the kernel lets packets through instead of
//! dropping them. Teardown removes the jump and the chain (and iptables' `filter` table, if the run
//! made it).

use crate::net::run;
use anyhow::{Context, Result};
use pangea_core::random::below;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The iptables chain the queue rule lives in.
pub const CHAIN: &str = "PGNEM";
/// The NFQUEUE number.
const QUEUE_NUM: u16 = 7213;
/// Most packets held at once; past it the kernel lets packets through (fail open).
const HELD_MAX: u32 = 8_192;
/// How often the thread looks for packets due and new ones.
const POLL: Duration = Duration::from_micros(500);

/// The thread that holds packets, and the rule that sends it them.
#[derive(Debug)]
pub struct Delayer {
    /// The longest a packet is held, in milliseconds (0: every packet let go at once).
    delay_ms_max: Arc<AtomicU64>,
    /// Set to stop the thread.
    stop: Arc<AtomicBool>,
    /// The thread.
    thread: Option<JoinHandle<()>>,
    /// Whether iptables' `filter` table existed before the run (else teardown removes it).
    filter_table_before: bool,
}

/// Why delay cannot be used here, or `None` when it can.
pub fn unavailable() -> Option<String> {
    if run("iptables", &["-V"]).is_err() {
        return Some("`iptables` is not installed (apt-get install iptables)".into());
    }
    match nfq::Queue::open() {
        Ok(_) => None,
        Err(error) => Some(format!("cannot open a netfilter queue socket: {error}")),
    }
}

impl Delayer {
    /// Binds the queue, starts the thread (its choices drawn from `seed`) and makes the chain with
    /// no rule in it yet.
    pub fn start(seed: u64) -> Result<Delayer> {
        let filter_table_before = run("nft", &["list", "table", "ip", "filter"]).is_ok();
        let mut queue = nfq::Queue::open().context("opening a netfilter queue socket")?;
        queue.bind(QUEUE_NUM).context("binding the netfilter queue")?;
        queue.set_fail_open(QUEUE_NUM, true).context("setting the queue to fail open")?;
        queue.set_queue_max_len(QUEUE_NUM, HELD_MAX).context("sizing the queue")?;
        queue.set_nonblocking(true);
        let delay_ms_max = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (delay_ms_max, stop) = (delay_ms_max.clone(), stop.clone());
            std::thread::Builder::new()
                .name("delayer".into())
                .spawn(move || hold(queue, &delay_ms_max, &stop, seed))
                .context("starting the delay thread")?
        };
        let delayer = Delayer { delay_ms_max, stop, thread: Some(thread), filter_table_before };
        run("iptables", &["-N", CHAIN])?;
        run("iptables", &["-I", "FORWARD", "-j", CHAIN])?;
        Ok(delayer)
    }

    /// Holds `per_mille` of the packets between nodes for up to `delay_ms_max` each; 0 stops.
    pub fn set(&self, per_mille: u32, delay_ms_max: u64) -> Result<()> {
        self.delay_ms_max.store(delay_ms_max, Ordering::Relaxed);
        run("iptables", &["-F", CHAIN])?;
        if per_mille > 0 {
            let probability = format!("{:.3}", f64::from(per_mille.min(1000)) / 1000.0);
            run(
                "iptables",
                &[
                    "-A",
                    CHAIN,
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    &probability,
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    &QUEUE_NUM.to_string(),
                    "--queue-bypass",
                ],
            )?;
        }
        Ok(())
    }

    /// Removes the rule and chain, lets every held packet go and stops the thread. Goes on past
    /// errors; answers the ones it met.
    pub fn teardown(&mut self) -> Vec<String> {
        let mut errors = remove_chain();
        if !self.filter_table_before {
            let _ = run("nft", &["delete", "table", "ip", "filter"]);
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            errors.push("the delay thread panicked".into());
        }
        errors
    }
}

/// Removes the jump to [`CHAIN`] and the chain; answers the errors met.
pub fn remove_chain() -> Vec<String> {
    let mut errors = Vec::new();
    while run("iptables", &["-D", "FORWARD", "-j", CHAIN]).is_ok() {}
    if run("iptables", &["-S", CHAIN]).is_ok() {
        for args in [["-F", CHAIN], ["-X", CHAIN]] {
            if let Err(error) = run("iptables", &args) {
                errors.push(error.to_string());
            }
        }
    }
    errors
}

/// Whether a chain of an earlier run is still there.
pub fn chain_left_behind() -> bool {
    run("iptables", &["-S", CHAIN]).is_ok()
}

/// The thread: takes packets off the queue, gives each a release time, lets go of those due.
fn hold(mut queue: nfq::Queue, delay_ms_max: &AtomicU64, stop: &AtomicBool, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xde1a_7000);
    // Release time and arrival number (unique) to the packet.
    let mut held: BTreeMap<(Instant, u64), nfq::Message> = BTreeMap::new();
    let mut arrivals: u64 = 0;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if !stopping {
            take_arrivals(&mut queue, &mut held, &mut arrivals, delay_ms_max, &mut rng);
        }
        let now = Instant::now();
        while let Some(entry) = held.first_entry() {
            if !stopping && entry.key().0 > now {
                break;
            }
            let mut message = entry.remove();
            message.set_verdict(nfq::Verdict::Accept);
            if let Err(error) = queue.verdict(message) {
                eprintln!("pangea-nemesis: delay queue verdict: {error}");
            }
        }
        if stopping {
            let _ = queue.unbind(QUEUE_NUM);
            return;
        }
        std::thread::sleep(POLL);
    }
}

/// Takes every packet waiting on the queue and gives each a release time.
fn take_arrivals(
    queue: &mut nfq::Queue,
    held: &mut BTreeMap<(Instant, u64), nfq::Message>,
    arrivals: &mut u64,
    delay_ms_max: &AtomicU64,
    rng: &mut ChaCha8Rng,
) {
    loop {
        match queue.recv() {
            Ok(message) => {
                let bound = delay_ms_max.load(Ordering::Relaxed);
                let delay = Duration::from_micros(below(rng, bound.saturating_mul(1000) + 1));
                held.insert((Instant::now() + delay, *arrivals), message);
                *arrivals += 1;
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(error) => {
                eprintln!("pangea-nemesis: delay queue: {error}");
                return;
            }
        }
    }
}
