//! What membership keeps in storage: the boot counter and the ids of tracked peers (their health
//! is soft state and is not kept).

use super::Membership;
use crate::id::NodeId;
use crate::membership::names::probes;
use crate::node::{Context, TraceEvent};
use crate::storage::{StorageError, WriteBatch};

/// The storage table holding the boot counter and the known peers.
pub const TABLE: &str = "membership";
pub(super) const BOOT_KEY: &[u8] = b"boot";
pub(super) const PEER_PREFIX: &[u8] = b"peer/";

/// Peers read back per storage page at start.
const RESTORE_PAGE_MAX: usize = 256;

pub(super) fn peer_key(peer: &NodeId) -> Vec<u8> {
    let mut key = PEER_PREFIX.to_vec();
    key.extend_from_slice(&peer.0);
    key
}

impl Membership {
    /// Reads the boot counter (and counts this start) and the known peers, then adds the
    /// bootstrap peers and saves.
    pub(super) fn restore(&mut self, cx: &mut dyn Context<Self>) {
        let previous_boot = match cx.storage().get(TABLE, BOOT_KEY) {
            Ok(Some(bytes)) => match <[u8; 8]>::try_from(bytes.as_slice()) {
                Ok(array) => u64::from_le_bytes(array),
                Err(_) => {
                    cx.trace(TraceEvent::new("storage_error", "boot counter has a bad length"));
                    0
                }
            },
            Ok(None) => 0,
            Err(error) => {
                cx.trace(TraceEvent::new("storage_error", format!("reading boot counter: {error}")));
                0
            }
        };
        // Saturates rather than overflowing (and panicking) on a stored counter at the end of its range.
        self.boot = previous_boot.saturating_add(1);
        self.boot_unsaved = true;

        // Peers are soft state: page by page, keeping what was read before an error (unlike
        // `storage::read_all`, which gives all or nothing).
        let mut start = PEER_PREFIX.to_vec();
        let mut restored = 0_usize;
        'pages: loop {
            let page = match cx.storage().range(TABLE, &start, Some(b"peer0"), RESTORE_PAGE_MAX) {
                Ok(page) => page,
                Err(error) => {
                    // Gossip and the bootstrap list find them again.
                    cx.trace(TraceEvent::new("storage_error", format!("reading peers: {error}")));
                    break 'pages;
                }
            };
            let Some((last_key, _)) = page.last() else {
                break;
            };
            start = last_key.clone();
            start.push(0);
            for (key, _) in &page {
                let Ok(bytes) = <[u8; 32]>::try_from(&key[PEER_PREFIX.len()..]) else {
                    cx.trace(TraceEvent::new("storage_error", "peer key has a bad length"));
                    continue;
                };
                if self.learn(cx, NodeId(bytes)) {
                    restored += 1;
                }
            }
        }
        // Restored peers are on disk already.
        self.unsaved.clear();
        cx.sometimes(probes::RESTART_RESTORED_PEERS, self.boot > 1 && restored > 0);

        let bootstrap = self.config.bootstrap.clone();
        for peer in bootstrap {
            self.learn(cx, peer);
        }
        self.save(cx, true);
    }

    /// Writes the boot counter and the peers added or dropped since the last save, and syncs:
    /// always when `force` is set (at start), otherwise only when something is unsaved (once a
    /// period at most: the tick calls it). On failure the node keeps running and retries on the
    /// next tick; the boot counter stays unsaved too, or the next incarnation would reuse it.
    pub(super) fn save(&mut self, cx: &mut dyn Context<Self>, force: bool) {
        if !force && !self.boot_unsaved && self.unsaved.is_empty() {
            return;
        }
        let mut batch = WriteBatch::new();
        batch.put(TABLE, BOOT_KEY.to_vec(), self.boot.to_le_bytes().to_vec());
        for (id, present) in &self.unsaved {
            if *present {
                batch.put(TABLE, peer_key(id), Vec::new());
            } else {
                batch.remove(TABLE, peer_key(id));
            }
        }
        let result = cx.storage().write(batch).and_then(|()| cx.storage().sync());
        match result {
            Ok(()) => {
                self.unsaved.clear();
                self.boot_unsaved = false;
            }
            Err(error) => {
                cx.sometimes(probes::SAVE_FAILED, true);
                if matches!(error, StorageError::Full(_)) {
                    cx.sometimes(probes::DISK_FULL, true);
                }
                cx.trace(TraceEvent::new("storage_error", format!("saving peers: {error}")));
            }
        }
    }
}
