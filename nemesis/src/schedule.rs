//! The fault schedule, drawn from the seed before the run: quiet gaps and fault windows one after
//! the other, each window one fault on a minority of the nodes (or on links). The same seed, node
//! count, time and kinds give the same schedule; the run follows it in real time.

use crate::args::FaultKind;
use pangea_core::random::below;
use pangea_sim::plan::{Partition, draw_partition};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde::Serialize;
use std::time::Duration;

/// Shortest quiet gap between windows, in milliseconds.
const GAP_MS_MIN: u64 = 1_000;
/// Longest quiet gap between windows, in milliseconds.
const GAP_MS_MAX: u64 = 5_000;
/// Shortest fault window, in milliseconds.
const WINDOW_MS_MIN: u64 = 2_000;
/// Longest fault window, in milliseconds.
const WINDOW_MS_MAX: u64 = 12_000;
/// Most packets dropped, per mille, in a loss window.
const LOSS_PER_MILLE_MAX: u64 = 400;
/// Longest a delayed packet is held, in milliseconds.
const DELAY_MS_MAX: u64 = 400;
/// Largest clock skew, in seconds either way.
const SKEW_SECONDS_MAX: u64 = 60;

/// What a window does.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "kebab-case", tag = "fault")]
pub enum Action {
    /// SIGKILL these nodes; restart them at the end.
    Kill {
        /// The nodes.
        nodes: Vec<u32>,
    },
    /// SIGSTOP these nodes; SIGCONT them at the end.
    Pause {
        /// The nodes.
        nodes: Vec<u32>,
    },
    /// Cut these links.
    Partition {
        /// The partition, as the simulator draws them.
        #[serde(serialize_with = "debug_text")]
        partition: Partition,
    },
    /// Drop this share of the packets between nodes.
    Loss {
        /// Per mille.
        per_mille: u32,
    },
    /// Hold this share of the packets between nodes for random times up to a bound.
    Delay {
        /// Per mille of the packets.
        per_mille: u32,
        /// The longest a packet is held.
        max_ms: u64,
    },
    /// Fill these nodes' data directories.
    Disk {
        /// The nodes.
        nodes: Vec<u32>,
    },
    /// Restart these nodes with their clocks moved.
    Skew {
        /// The nodes.
        nodes: Vec<u32>,
        /// Seconds, either way.
        seconds: i64,
    },
}

impl Action {
    /// Its kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            Action::Kill { .. } => FaultKind::Kill,
            Action::Pause { .. } => FaultKind::Pause,
            Action::Partition { .. } => FaultKind::Partition,
            Action::Loss { .. } => FaultKind::Loss,
            Action::Delay { .. } => FaultKind::Delay,
            Action::Disk { .. } => FaultKind::Disk,
            Action::Skew { .. } => FaultKind::Skew,
        }
    }
}

fn debug_text<S: serde::Serializer>(partition: &Partition, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{partition:?}"))
}

/// One window: from `start` after the run began, for `length`.
#[derive(Clone, Debug, Serialize)]
pub struct Window {
    /// From the start of the run.
    #[serde(rename = "start_ms", serialize_with = "millis")]
    pub start: Duration,
    /// How long the fault lasts.
    #[serde(rename = "length_ms", serialize_with = "millis")]
    pub length: Duration,
    /// The fault.
    #[serde(flatten)]
    pub action: Action,
}

fn millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_millis() as u64)
}

/// Draws the windows of a run of `time` over `nodes` nodes with `kinds` (not empty).
pub fn draw(seed: u64, nodes: u32, time: Duration, kinds: &[FaultKind]) -> Vec<Window> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut windows = Vec::new();
    let mut at = Duration::ZERO;
    if kinds.is_empty() {
        return windows;
    }
    loop {
        at += Duration::from_millis(GAP_MS_MIN + below(&mut rng, GAP_MS_MAX - GAP_MS_MIN + 1));
        let length = Duration::from_millis(WINDOW_MS_MIN + below(&mut rng, WINDOW_MS_MAX - WINDOW_MS_MIN + 1));
        if at + length > time {
            return windows;
        }
        let kind = kinds[below(&mut rng, kinds.len() as u64) as usize];
        let action = match kind {
            FaultKind::Kill => Action::Kill { nodes: minority(&mut rng, nodes) },
            FaultKind::Pause => Action::Pause { nodes: minority(&mut rng, nodes) },
            FaultKind::Partition => Action::Partition { partition: draw_partition(&mut rng, nodes) },
            FaultKind::Loss => Action::Loss { per_mille: 50 + below(&mut rng, LOSS_PER_MILLE_MAX - 49) as u32 },
            FaultKind::Delay => Action::Delay {
                per_mille: 200 + below(&mut rng, 801) as u32,
                max_ms: 5 + below(&mut rng, DELAY_MS_MAX - 4),
            },
            FaultKind::Disk => Action::Disk { nodes: minority(&mut rng, nodes) },
            FaultKind::Skew => {
                let magnitude = 1 + below(&mut rng, SKEW_SECONDS_MAX) as i64;
                let seconds = if below(&mut rng, 2) == 0 { magnitude } else { -magnitude };
                Action::Skew { nodes: minority(&mut rng, nodes), seconds }
            }
        };
        windows.push(Window { start: at, length, action });
        at += length;
    }
}

/// One to `(nodes - 1) / 2` distinct nodes (at least one), in increasing order.
fn minority(rng: &mut ChaCha8Rng, nodes: u32) -> Vec<u32> {
    let most = ((nodes.saturating_sub(1)) / 2).max(1);
    let count = 1 + below(rng, u64::from(most)) as u32;
    let mut all: Vec<u32> = (0..nodes).collect();
    for index in (1..all.len()).rev() {
        let other = below(rng, index as u64 + 1) as usize;
        all.swap(index, other);
    }
    let mut chosen: Vec<u32> = all.into_iter().take(count as usize).collect();
    chosen.sort_unstable();
    chosen
}

#[cfg(test)]
mod tests {
    use super::{FaultKind, draw};
    use std::time::Duration;

    #[test]
    fn a_schedule_is_a_function_of_its_seed_and_fits_the_run() {
        let time = Duration::from_secs(600);
        let first = draw(7, 5, time, &FaultKind::ALL);
        let again = draw(7, 5, time, &FaultKind::ALL);
        assert_eq!(format!("{first:?}"), format!("{again:?}"));
        assert_ne!(format!("{first:?}"), format!("{:?}", draw(8, 5, time, &FaultKind::ALL)));
        assert!(first.len() > 30);
        for pair in first.windows(2) {
            assert!(pair[0].start + pair[0].length < pair[1].start);
        }
        assert!(first.last().is_some_and(|last| last.start + last.length <= time));
        for kind in FaultKind::ALL {
            assert!(first.iter().any(|window| window.action.kind() == kind), "{kind:?} never drawn");
        }
        assert!(draw(7, 3, time, &[]).is_empty());
    }
}
