//! The node's watch over its storage: noticing that it failed, refusing writes with the reason
//! while it does, and reopening it with back-off.
//!
//! The storage contract (`crate::storage`) says a failed write, sync or read poisons the store until
//! it is reopened. Each part already treats a storage error as a refusal (no promise without a
//! synced promise), so the parts stay safe on a poisoned store; what they cannot do is get it back.
//! The node does that for all of them: after each input it asks the store whether it failed, and if
//! so it steps the log down (answering its waiting clients), answers writes with
//! [`NodeResponse::CannotWrite`](super::NodeResponse::CannotWrite), and sets a timer to reopen. A
//! successful reopen rebuilds the node as a restart would: every timer cancelled, every part new,
//! and `on_start` reading the durable state back. If the rebuilt node's first writes fail again
//! (the disk is still full), the back-off grows.

use super::names::probes;
use crate::node::{Context, Node, TraceEvent};
use crate::time::{Duration, Instant, WallTime};
use serde::{Deserialize, Serialize};

/// The first wait before reopening a failed store.
pub const REOPEN_BACKOFF_MIN: Duration = Duration::from_millis(50);
/// The longest wait between reopens: how long writes may stay refused after space returns.
pub const REOPEN_BACKOFF_MAX: Duration = Duration::from_secs(2);
/// A failure this long after the last reopen starts the back-off over; a sooner one doubles it.
const REOPEN_CALM: Duration = Duration::from_secs(30);
/// Most bytes of a failure's description kept for status and clients.
pub const CAUSE_BYTES_MAX: usize = 256;

/// How the node's storage is doing, as status shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StorageStatus {
    /// Working.
    #[default]
    Healthy,
    /// Failed, and refusing every operation until a reopen succeeds.
    Failing {
        /// The node's wall clock when it noticed.
        since: WallTime,
        /// What failed, e.g. "disk full (No space left on device (os error 28))".
        cause: String,
        /// Reopens tried since.
        reopens: u32,
    },
}

/// The watch's state, kept in the node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct StorageWatch {
    pub status: StorageStatus,
    /// The wait before the next reopen.
    backoff: Duration,
    /// When the last reopen succeeded.
    last_reopen: Option<Instant>,
}

/// What the node must do after the watch looked at the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WatchAction {
    /// Nothing new.
    None,
    /// The store just failed: step down and arm a reopen after this long.
    Failed(Duration),
}

impl StorageWatch {
    /// The failure's description while the store fails.
    pub fn cause(&self) -> Option<&str> {
        match &self.status {
            StorageStatus::Healthy => None,
            StorageStatus::Failing { cause, .. } => Some(cause),
        }
    }

    /// Looks at the store after an input; reports a failure the node has not handled yet.
    pub fn check<N: Node>(&mut self, cx: &mut dyn Context<N>) -> WatchAction {
        if matches!(self.status, StorageStatus::Failing { .. }) {
            return WatchAction::None;
        }
        let Some(failure) = cx.storage().failure() else {
            return WatchAction::None;
        };
        let mut cause = failure.to_string();
        truncate_at_char(&mut cause, CAUSE_BYTES_MAX);
        let now = cx.now();
        self.backoff = match self.last_reopen {
            Some(at) if now - at < REOPEN_CALM => (self.backoff * 2).clamp(REOPEN_BACKOFF_MIN, REOPEN_BACKOFF_MAX),
            _ => REOPEN_BACKOFF_MIN,
        };
        cx.sometimes(probes::STORAGE_FAILED, true);
        cx.trace(TraceEvent::new(STORAGE_FAILED, format!("{cause}; reopening in {:?}", self.backoff)));
        self.status = StorageStatus::Failing { since: cx.wall_clock(), cause, reopens: 0 };
        WatchAction::Failed(self.backoff)
    }

    /// Tries to reopen the store. True when it reopened (the node must rebuild itself); false when
    /// it did not, and the node must try again after [`StorageWatch::retry_after`].
    pub fn reopen<N: Node>(&mut self, cx: &mut dyn Context<N>) -> bool {
        let StorageStatus::Failing { reopens, .. } = &mut self.status else {
            return false;
        };
        *reopens = reopens.saturating_add(1);
        match cx.storage().reopen() {
            Ok(()) => {
                cx.sometimes(probes::STORAGE_REOPENED, true);
                cx.trace(TraceEvent::new(STORAGE_REOPENED, "storage reopened; rebuilding the node"));
                self.status = StorageStatus::Healthy;
                self.last_reopen = Some(cx.now());
                true
            }
            Err(error) => {
                cx.sometimes(probes::STORAGE_REOPEN_FAILED, true);
                self.backoff = (self.backoff * 2).clamp(REOPEN_BACKOFF_MIN, REOPEN_BACKOFF_MAX);
                cx.trace(TraceEvent::new(
                    STORAGE_FAILED,
                    format!("reopening failed: {error}; next try in {:?}", self.backoff),
                ));
                false
            }
        }
    }

    /// The wait before the next reopen.
    pub fn retry_after(&self) -> Duration {
        self.backoff
    }
}

/// The trace kind of a storage failure the node noticed (the real runtime logs it at ERROR).
pub const STORAGE_FAILED: &str = "storage_failed";
/// The trace kind of a reopened store.
pub const STORAGE_REOPENED: &str = "storage_reopened";

/// Cuts `text` to at most `bytes`, on a character boundary.
fn truncate_at_char(text: &mut String, bytes: usize) {
    if text.len() > bytes {
        let mut cut = bytes;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}
