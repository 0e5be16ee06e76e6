//! Pangea's Linux hardware paths, each optional and each with a portable fallback in the node:
//!
//! - [`blobs`]: blob (shard) files beside the database, written through a [`file_io::FileIo`].
//! - [`caps`]: what this machine offers (CPU features, io_uring, eBPF/XDP), probed once at start-up.
//! - `uring` (feature `uring`): file reads, writes and syncs submitted in batches through io_uring,
//!   from registered buffers.
//! - `xdp` (feature `ebpf`): an XDP program that drops UDP to the node's port from addresses
//!   outside an allow-list and rate-limits every source, with its maps and counters.

pub mod blobs;
pub mod caps;
pub mod file_io;
pub mod prefix;
#[cfg(all(feature = "uring", target_os = "linux"))]
pub mod uring;
#[cfg(all(feature = "ebpf", target_os = "linux"))]
pub mod xdp;
