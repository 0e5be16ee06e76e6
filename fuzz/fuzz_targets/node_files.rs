//! The small files of a data directory (meta.json, key and certificate, stored genesis and DHT
//! contacts) and the owner's master key file.
//!
//! The body is `pangea_fuzz_targets::node::node_files`, which says what it asserts; the stable test
//! `cargo test -p pangea-fuzz-targets` replays this target's stored corpus through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| pangea_fuzz_targets::node::node_files(bytes));
