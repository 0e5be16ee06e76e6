//! The node's own frames and the composites that route every peer message, request and answer.
//!
//! The body is `pangea_fuzz_targets::frames::node_frames`, which says what it asserts; the stable test
//! `cargo test -p pangea-fuzz-targets` replays this target's stored corpus through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| pangea_fuzz_targets::frames::node_frames(bytes));
