//! Snapshots: taken every `snapshot_threshold` applied slots (and, for a large state, no sooner
//! than [`LOG_BYTES_PER_SNAPSHOT_BYTE`] times its size in applied entries), stored, and sent to a
//! replica whose
//! missing entries were compacted away — in chunks of `snapshot_chunk_bytes_max`, which the
//! receiver pulls one at a time and installs only when every chunk arrived and the whole matches
//! the sender's digest.

use super::Replica;
use crate::id::NodeId;
use crate::log::messages::LogMessage;
use crate::log::names::probes;
use crate::log::snapshot::{Snapshot, SnapshotImage};
use crate::log::state_machine::StateMachine;
use crate::node::{Context, TraceEvent};
use crate::time::Instant;

/// Heartbeats without progress after which a snapshot transfer is abandoned (the sender may have
/// died; catch-up starts over with whoever leads).
const SNAPSHOT_STALLED_HEARTBEATS_MAX: u32 = 20;

/// Bytes of entries to apply since the latest snapshot, per byte of it, before the next is taken.
/// A snapshot writes the whole state, on the event loop: without this, a large state under small
/// writes would be written out every `snapshot_threshold` slots (a 64 MiB state under 100-byte
/// puts, many times a second); with it, snapshots write at most half the bytes the log does, and
/// the entries kept in memory until the next one stay within twice the state's size.
pub const LOG_BYTES_PER_SNAPSHOT_BYTE: u64 = 2;

/// A snapshot arriving in chunks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct IncomingSnapshot {
    /// Who sends it.
    pub from: NodeId,
    /// Its last slot.
    pub index: u64,
    /// Its full size, as the sender announced it.
    pub total_bytes: u64,
    /// blake3 of the whole, as the sender announced it.
    pub digest: [u8; 32],
    /// The chunks so far, in order.
    pub bytes: Vec<u8>,
    /// When the last chunk was asked for.
    pub asked_at: Instant,
    /// Heartbeats that passed without a new chunk.
    pub stalled: u32,
}

impl<S: StateMachine> Replica<S> {
    /// Takes a snapshot once `snapshot_threshold` slots, and [`LOG_BYTES_PER_SNAPSHOT_BYTE`] times
    /// the latest snapshot's size in entries, were applied since it.
    pub(super) fn maybe_snapshot(&mut self, cx: &mut dyn Context<Self>) {
        let learner = &self.learner;
        if learner.applied_index - learner.snapshot.index < self.config.snapshot_threshold {
            return;
        }
        let log_bytes_wanted = learner.snapshot.total_bytes().saturating_mul(LOG_BYTES_PER_SNAPSHOT_BYTE);
        let waits_for_bytes = learner.applied_bytes_since_snapshot < log_bytes_wanted;
        cx.sometimes(probes::SNAPSHOT_WAITED_FOR_LOG_BYTES, waits_for_bytes);
        if waits_for_bytes {
            return;
        }
        let image = SnapshotImage {
            index: learner.applied_index,
            members: learner.members.clone(),
            sessions: learner.sessions.clone(),
            state: learner.state.snapshot(),
        };
        let snapshot = match Snapshot::of(&image) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                cx.trace(TraceEvent::new("storage_error", format!("encoding a snapshot: {error}")));
                return;
            }
        };
        if !self.persist_snapshot(cx, &snapshot, "taking a snapshot") {
            return;
        }
        cx.sometimes(probes::SNAPSHOT_TAKEN, true);
        cx.trace(TraceEvent::new("snapshot_taken", format!("up to slot {}", snapshot.index)));
        self.learner.snapshot = snapshot;
        self.learner.applied_bytes_since_snapshot = 0;
        self.compact(cx);
    }

    /// Sends `to` the chunk of the latest snapshot that starts at `offset`.
    pub(super) fn send_snapshot_chunk(&mut self, cx: &mut dyn Context<Self>, to: NodeId, offset: u64) {
        let snapshot = &mut self.learner.snapshot;
        if snapshot.index == 0 || offset > snapshot.total_bytes() {
            return;
        }
        let digest = snapshot.digest();
        cx.sometimes(probes::SNAPSHOT_SENT, offset == 0);
        cx.sometimes(probes::SNAPSHOT_CHUNK_SENT_LATER, offset > 0);
        let data = snapshot.chunk(offset, self.config.snapshot_chunk_bytes_max);
        let message = LogMessage::SnapshotChunk {
            index: snapshot.index,
            total_bytes: snapshot.total_bytes(),
            digest,
            offset,
            data,
        };
        cx.send(to, message);
    }

    pub(super) fn on_snapshot_request(&mut self, cx: &mut dyn Context<Self>, from: NodeId, index: u64, offset: u64) {
        // A request for an older snapshot than the latest starts the latest from its beginning.
        let offset = if index == self.learner.snapshot.index { offset } else { 0 };
        self.send_snapshot_chunk(cx, from, offset);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_snapshot_chunk(
        &mut self,
        cx: &mut dyn Context<Self>,
        from: NodeId,
        index: u64,
        total_bytes: u64,
        digest: [u8; 32],
        offset: u64,
        data: Vec<u8>,
    ) {
        if index <= self.learner.applied_index {
            return;
        }
        if total_bytes > self.config.snapshot_bytes_max {
            cx.sometimes(probes::SNAPSHOT_TOO_LARGE_REFUSED, true);
            cx.trace(TraceEvent::new(
                "snapshot_refused",
                format!("{total_bytes} bytes from {from}, over the limit of {}", self.config.snapshot_bytes_max),
            ));
            return;
        }
        let now = cx.now();
        let same = self.learner.incoming.as_ref().is_some_and(|incoming| {
            incoming.index == index && incoming.digest == digest && incoming.total_bytes == total_bytes
        });
        if !same {
            let older = self.learner.incoming.as_ref().is_some_and(|incoming| incoming.index > index);
            if older {
                return;
            }
            if offset != 0 {
                // A chunk of a snapshot not yet started here: start it from the beginning.
                cx.send(from, LogMessage::SnapshotRequest { index, offset: 0 });
                return;
            }
            self.learner.incoming = Some(IncomingSnapshot {
                from,
                index,
                total_bytes,
                digest,
                bytes: Vec::new(),
                asked_at: now,
                stalled: 0,
            });
        }
        let Some(incoming) = self.learner.incoming.as_mut() else { return };
        if offset != incoming.bytes.len() as u64 {
            return; // a duplicate or a late chunk; the one expected was asked for
        }
        let fits = offset.checked_add(data.len() as u64).is_some_and(|end| end <= total_bytes);
        if !fits || (data.is_empty() && offset < total_bytes) {
            cx.sometimes(probes::MALFORMED_SNAPSHOT_CHUNK, true);
            self.learner.incoming = None;
            return;
        }
        incoming.bytes.extend_from_slice(&data);
        incoming.from = from;
        incoming.asked_at = now;
        incoming.stalled = 0;
        if (incoming.bytes.len() as u64) < total_bytes {
            let offset = incoming.bytes.len() as u64;
            cx.send(from, LogMessage::SnapshotRequest { index, offset });
            return;
        }
        if let Some(incoming) = self.learner.incoming.take() {
            self.install_incoming(cx, incoming);
        }
    }

    /// Installs a fully arrived snapshot, if it is what its sender said it was.
    fn install_incoming(&mut self, cx: &mut dyn Context<Self>, incoming: IncomingSnapshot) {
        if *blake3::hash(&incoming.bytes).as_bytes() != incoming.digest {
            cx.sometimes(probes::SNAPSHOT_DIGEST_MISMATCH, true);
            cx.trace(TraceEvent::new("snapshot_refused", format!("snapshot {} failed its digest", incoming.index)));
            return;
        }
        let Ok(image) = Snapshot::decode::<S::Output>(&incoming.bytes) else {
            cx.trace(TraceEvent::new("snapshot_refused", format!("snapshot {} does not decode", incoming.index)));
            return;
        };
        let mut state = self.learner.state.clone();
        if image.index != incoming.index || state.restore(&image.state).is_err() {
            cx.trace(TraceEvent::new("snapshot_refused", format!("snapshot {} is malformed", incoming.index)));
            return;
        }
        let mut snapshot = Snapshot::from_bytes(image.index, image.members.clone(), incoming.bytes);
        snapshot.digest = Some(incoming.digest);
        if !self.persist_snapshot(cx, &snapshot, "installing a snapshot") {
            return;
        }
        cx.sometimes(probes::SNAPSHOT_INSTALLED, true);
        cx.trace(TraceEvent::new("snapshot_installed", format!("up to slot {}", snapshot.index)));
        self.learner.install(snapshot, image, state);
        self.compact(cx);
        self.learner.catch_up_asked_at = None;
        self.members_changed(cx);
        self.advance(cx);
    }

    /// Asks again for the chunk a transfer waits for, and abandons a transfer that stalled.
    pub(super) fn snapshot_transfer_tick(&mut self, cx: &mut dyn Context<Self>) {
        let now = cx.now();
        let heartbeat = self.config.heartbeat_interval;
        let Some(incoming) = self.learner.incoming.as_mut() else { return };
        if now - incoming.asked_at < heartbeat {
            return;
        }
        incoming.stalled += 1;
        if incoming.stalled > SNAPSHOT_STALLED_HEARTBEATS_MAX {
            cx.sometimes(probes::SNAPSHOT_TRANSFER_ABANDONED, true);
            self.learner.incoming = None;
            return;
        }
        incoming.asked_at = now;
        let (from, index, offset) = (incoming.from, incoming.index, incoming.bytes.len() as u64);
        cx.sometimes(probes::SNAPSHOT_CHUNK_ASKED_AGAIN, true);
        cx.send(from, LogMessage::SnapshotRequest { index, offset });
    }
}
