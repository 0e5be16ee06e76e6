//! The replicated log's frames from outside: peer messages of the metadata log, and its requests
//! and answers (the metadata's commands and queries).
//!
//! The body is `pangea_fuzz_targets::frames::log_frames`, which says what it asserts; the stable test
//! `cargo test -p pangea-fuzz-targets` replays this target's stored corpus through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| pangea_fuzz_targets::frames::log_frames(bytes));
