//! The trace of a run: every input a node handled, every message's fate, every fault, and what the
//! nodes chose to record. The blake3 hash of the trace fingerprints the run: the same seed must give
//! the same hash, and a replay must reproduce it exactly.

use pangea_core::Instant;
use serde::Serialize;
use std::fmt;

/// One thing that happened at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceRecord {
    /// Virtual time.
    pub at: Instant,
    /// The node it happened on (or to), if any.
    pub node: Option<u32>,
    /// What happened.
    pub kind: TraceKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TraceKind {
    /// The node started (first boot or restart), for the `incarnation`-th time.
    Start {
        /// Starts so far, this one included.
        incarnation: u64,
    },
    /// The node crashed.
    Crash,
    /// The node was paused.
    Pause,
    /// The node resumed.
    Resume,
    /// The node sent a message.
    Send {
        /// Receiver.
        to: u32,
        /// Digest of the encoded bytes.
        digest: u64,
        /// Encoded size.
        bytes: u32,
    },
    /// A message was delivered to the node.
    Deliver {
        /// Sender.
        from: u32,
        /// Digest of the bytes as sent.
        digest: u64,
    },
    /// A message or client request was lost.
    Drop {
        /// Sender ([`crate::kernel::CLIENT`] for a client).
        from: u32,
        /// Intended receiver.
        to: u32,
        /// Why.
        reason: &'static str,
    },
    /// A timer fired on the node.
    Timer {
        /// Which one.
        id: u64,
    },
    /// A client request reached the node.
    Client {
        /// Request id.
        request: u64,
        /// Digest of the encoded request.
        digest: u64,
    },
    /// The node answered a client.
    Reply {
        /// Request id.
        request: u64,
        /// Digest of the encoded answer.
        digest: u64,
    },
    /// The simulator applied a fault.
    Fault {
        /// The fault, as the plan prints it.
        description: String,
    },
    /// The node recorded an event of its own.
    Node {
        /// Kind, as the node named it.
        event: String,
        /// Details.
        detail: String,
    },
}

impl TraceKind {
    fn tag(&self) -> u8 {
        match self {
            TraceKind::Start { .. } => 1,
            TraceKind::Crash => 2,
            TraceKind::Pause => 3,
            TraceKind::Resume => 4,
            TraceKind::Send { .. } => 5,
            TraceKind::Deliver { .. } => 6,
            TraceKind::Drop { .. } => 7,
            TraceKind::Timer { .. } => 8,
            TraceKind::Client { .. } => 9,
            TraceKind::Reply { .. } => 10,
            TraceKind::Fault { .. } => 11,
            TraceKind::Node { .. } => 12,
        }
    }
}

/// A run's fingerprint: the blake3 hash of its trace.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TraceHash(pub [u8; 32]);

impl fmt::Display for TraceHash {
    /// The first 16 hex digits: plenty to tell runs apart by eye.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceHash({self})")
    }
}

/// Most records a trace keeps in memory; past it the trace still hashes every record but keeps
/// no more of them (and says so).
pub const TRACE_RECORDS_MAX: usize = 2_000_000;

/// How many bytes of encoded records the trace collects before it feeds them to the hasher.
const TRACE_HASH_BATCH_BYTES: usize = 16 * 1024;

/// A run's trace: always hashed, optionally kept.
#[derive(Clone, Debug)]
pub struct Trace {
    hasher: blake3::Hasher,
    records: Option<Vec<TraceRecord>>,
    count: u64,
    truncated: bool,
    /// Encoded records not yet fed to the hasher. Hashing them in batches lets blake3 hash many
    /// chunks at once with SIMD; the hash is the same as if each record were fed on its own.
    unhashed: Vec<u8>,
}

impl Trace {
    /// A trace that keeps its records when `keep` is set.
    #[must_use]
    pub fn new(keep: bool) -> Trace {
        Trace {
            hasher: blake3::Hasher::new(),
            records: keep.then(Vec::new),
            count: 0,
            truncated: false,
            unhashed: Vec::with_capacity(TRACE_HASH_BATCH_BYTES + 256),
        }
    }

    /// Appends a record.
    pub fn record(&mut self, at: Instant, node: Option<u32>, kind: TraceKind) {
        self.count += 1;
        let scratch = &mut self.unhashed;
        scratch.extend_from_slice(&at.as_nanos().to_le_bytes());
        scratch.extend_from_slice(&node.unwrap_or(u32::MAX).to_le_bytes());
        scratch.push(kind.tag());
        let text = |scratch: &mut Vec<u8>, value: &str| {
            scratch.extend_from_slice(&(value.len() as u32).to_le_bytes());
            scratch.extend_from_slice(value.as_bytes());
        };
        match &kind {
            TraceKind::Start { incarnation } => scratch.extend_from_slice(&incarnation.to_le_bytes()),
            TraceKind::Crash | TraceKind::Pause | TraceKind::Resume => {}
            TraceKind::Send { to, digest, bytes } => {
                scratch.extend_from_slice(&to.to_le_bytes());
                scratch.extend_from_slice(&digest.to_le_bytes());
                scratch.extend_from_slice(&bytes.to_le_bytes());
            }
            TraceKind::Deliver { from, digest } => {
                scratch.extend_from_slice(&from.to_le_bytes());
                scratch.extend_from_slice(&digest.to_le_bytes());
            }
            TraceKind::Drop { from, to, reason } => {
                scratch.extend_from_slice(&from.to_le_bytes());
                scratch.extend_from_slice(&to.to_le_bytes());
                text(scratch, reason);
            }
            TraceKind::Timer { id } => scratch.extend_from_slice(&id.to_le_bytes()),
            TraceKind::Client { request, digest } | TraceKind::Reply { request, digest } => {
                scratch.extend_from_slice(&request.to_le_bytes());
                scratch.extend_from_slice(&digest.to_le_bytes());
            }
            TraceKind::Fault { description } => text(scratch, description),
            TraceKind::Node { event, detail } => {
                text(scratch, event);
                text(scratch, detail);
            }
        }
        if scratch.len() >= TRACE_HASH_BATCH_BYTES {
            self.hasher.update(scratch);
            scratch.clear();
        }
        if let Some(records) = &mut self.records {
            if records.len() < TRACE_RECORDS_MAX {
                records.push(TraceRecord { at, node, kind });
            } else {
                self.truncated = true;
            }
        }
    }

    /// The hash of everything recorded so far.
    #[must_use]
    pub fn hash(&self) -> TraceHash {
        let mut hasher = self.hasher.clone();
        hasher.update(&self.unhashed);
        TraceHash(*hasher.finalize().as_bytes())
    }

    /// Records appended so far (kept or not).
    #[must_use]
    pub fn len(&self) -> u64 {
        self.count
    }

    /// True before the first record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The kept records, if the trace keeps them.
    #[must_use]
    pub fn records(&self) -> Option<&[TraceRecord]> {
        self.records.as_deref()
    }

    /// True if records were dropped for exceeding [`TRACE_RECORDS_MAX`].
    #[must_use]
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

/// A 64-bit digest of an encoded message for the trace: the frame's own checksum.
#[must_use]
pub fn digest(frame: &[u8]) -> u64 {
    pangea_core::codec::frame_digest(frame)
}

impl fmt::Display for TraceRecord {
    /// One line: time, node, what happened.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.at.as_nanos();
        write!(f, "{:>5}.{:06}s ", nanos / 1_000_000_000, (nanos / 1_000) % 1_000_000)?;
        match self.node {
            Some(node) => write!(f, "n{node:<3} ")?,
            None => f.write_str("sim  ")?,
        }
        match &self.kind {
            TraceKind::Start { incarnation } => write!(f, "start #{incarnation}"),
            TraceKind::Crash => f.write_str("crash"),
            TraceKind::Pause => f.write_str("pause"),
            TraceKind::Resume => f.write_str("resume"),
            TraceKind::Send { to, digest, bytes } => {
                write!(f, "send -> n{to} {bytes}B {digest:016x}")
            }
            TraceKind::Deliver { from, digest } => write!(f, "recv <- n{from} {digest:016x}"),
            TraceKind::Drop { from, to, reason } => write!(f, "drop n{from} -> n{to} ({reason})"),
            TraceKind::Timer { id } => write!(f, "timer #{id}"),
            TraceKind::Client { request, digest } => {
                write!(f, "client request #{request} {digest:016x}")
            }
            TraceKind::Reply { request, digest } => write!(f, "reply #{request} {digest:016x}"),
            TraceKind::Fault { description } => write!(f, "fault: {description}"),
            TraceKind::Node { event, detail } => write!(f, "{event}: {detail}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_hashing_equals_hashing_every_record() {
        // Enough records for several batches and a partial one at the end.
        let mut trace = Trace::new(false);
        let mut expected = blake3::Hasher::new();
        for id in 0..5_000u64 {
            let at = Instant::from_nanos(id * 1_000);
            trace.record(at, Some(3), TraceKind::Timer { id });
            let mut record = Vec::new();
            record.extend_from_slice(&at.as_nanos().to_le_bytes());
            record.extend_from_slice(&3u32.to_le_bytes());
            record.push(TraceKind::Timer { id }.tag());
            record.extend_from_slice(&id.to_le_bytes());
            expected.update(&record);
            if id % 997 == 0 {
                assert_eq!(trace.hash(), TraceHash(*expected.finalize().as_bytes()));
            }
        }
        assert_eq!(trace.hash(), TraceHash(*expected.finalize().as_bytes()));
    }
}
