//! The log's snapshot images, as recovery and a follower assembling chunks read them.
//!
//! The body is `pangea_fuzz_targets::records::snapshot_images`, which says what it asserts; the stable test
//! `cargo test -p pangea-fuzz-targets` replays this target's stored corpus through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| pangea_fuzz_targets::records::snapshot_images(bytes));
