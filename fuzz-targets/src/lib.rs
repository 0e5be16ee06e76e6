//! The bodies of Pangea's fuzz targets: one function per target, taking the fuzzer's bytes.
//!
//! Every decoder that takes bytes from outside — a peer, a client, a file — has a target here. Each
//! function promises the same two things of its decoders, and panics (which the fuzzer reports)
//! when one fails: decoding answers with a value or a typed error, never a panic or an allocation
//! out of proportion to its input; and a decoded value encodes back to bytes that decode to the
//! same value.
//!
//! The nightly `fuzz/` crate (cargo-fuzz) calls these functions from `fuzz/fuzz_targets/*.rs`; the
//! stable test `tests/corpus.rs` runs every stored input under `fuzz/corpus/TARGET/` and
//! `fuzz/regressions/TARGET/` through them, so `cargo test --workspace` replays the corpus without a
//! nightly toolchain. [`TARGETS`] lists them all.
//!
//! Targets of `pangea-core` alone are always built; those of the `pangea` binary need the `node`
//! feature and those of `pangea-sim` the `scenarios` feature (both on by default).

pub mod ces;
pub mod frames;
#[cfg(feature = "node")]
pub mod node;
pub mod records;
#[cfg(feature = "scenarios")]
pub mod scenarios;
pub mod seeds;

use pangea_core::Codec;
use pangea_core::codec::{FRAME_CHECKSUM_BYTES, FRAME_HEADER_BYTES};
use std::fmt::Debug;

/// A fuzz target: its name (the file under `fuzz/fuzz_targets/` and the corpus directory) and its
/// body.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The target's name.
    pub name: &'static str,
    /// Runs one input.
    pub run: fn(&[u8]),
}

/// Every target this build has, in name order.
pub const TARGETS: &[Target] = &[
    #[cfg(feature = "node")]
    Target { name: "client_envelopes", run: node::client_envelopes },
    Target { name: "dht_frames", run: frames::dht_frames },
    #[cfg(feature = "scenarios")]
    Target { name: "fault_plans", run: scenarios::fault_plans },
    #[cfg(feature = "scenarios")]
    Target { name: "history_files", run: scenarios::history_files },
    Target { name: "log_frames", run: frames::log_frames },
    Target { name: "manifest_decode", run: ces::manifest_decode },
    Target { name: "membership_frames", run: frames::membership_frames },
    Target { name: "metadata_images", run: records::metadata_images },
    #[cfg(feature = "node")]
    Target { name: "node_files", run: node::node_files },
    Target { name: "node_frames", run: frames::node_frames },
    Target { name: "object_frames", run: frames::object_frames },
    #[cfg(feature = "node")]
    Target { name: "peer_certificates", run: node::peer_certificates },
    #[cfg(feature = "scenarios")]
    Target { name: "replay_files", run: scenarios::replay_files },
    Target { name: "shard_decode", run: ces::shard_decode },
    Target { name: "snapshot_images", run: records::snapshot_images },
    Target { name: "stored_records", run: records::stored_records },
    #[cfg(feature = "node")]
    Target { name: "wal_records", run: node::wal_records },
];

/// Decodes `bytes` as a frame of `T`, as they are and [`resealed`]; when either works, checks that
/// the value encodes and that its frame decodes to the same value. Returns the value.
///
/// # Panics
/// When a decoded value does not encode, or its frame does not decode to it.
pub fn frame_round_trip<T: Codec + PartialEq + Debug>(bytes: &[u8]) -> Option<T> {
    let resealed = resealed(bytes);
    let value = T::decode(bytes).or_else(|_| T::decode(resealed.as_deref().unwrap_or(&[]))).ok()?;
    let frame = value.encode().expect("a decoded value encodes");
    assert_eq!(T::decode(&frame).expect("its frame decodes"), value);
    Some(value)
}

/// `bytes` with a frame header's payload length and the frame's checksum made right for the bytes
/// between them (`None` when they are too short to be a frame). A mutated frame almost never
/// carries the checksum of its new payload, so without this the fuzzer would test little beyond the
/// checksum; with it, mutations reach the payload decoders, on stable replays as under the fuzzer.
#[must_use]
pub fn resealed(bytes: &[u8]) -> Option<Vec<u8>> {
    let minimum = FRAME_HEADER_BYTES + FRAME_CHECKSUM_BYTES;
    if bytes.len() < minimum {
        return None;
    }
    let mut frame = bytes.to_vec();
    let payload = u32::try_from(bytes.len() - minimum).ok()?;
    frame[6..10].copy_from_slice(&payload.to_le_bytes());
    let body_end = frame.len() - FRAME_CHECKSUM_BYTES;
    // The codec's checksum: XXH3-64 of everything before it, little-endian.
    let checksum = twox_hash::XxHash3_64::oneshot(&frame[..body_end]).to_le_bytes();
    frame[body_end..].copy_from_slice(&checksum);
    Some(frame)
}

/// Reads `bytes` as UTF-8 text, as the readers of text files do (`None` when they are not).
#[must_use]
pub fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}
