//! Recorded histories of `pangea-sim check-history`: Jepsen's EDN, porcupine's logs and Pangea's JSONL.
//!
//! The body is `pangea_fuzz_targets::scenarios::history_files`, which says what it asserts; the stable test
//! `cargo test -p pangea-fuzz-targets` replays this target's stored corpus through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| pangea_fuzz_targets::scenarios::history_files(bytes));
