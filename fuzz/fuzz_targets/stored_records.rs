//! What storage gives back at recovery: the acceptor's records, chosen entries, shard records.
//!
//! The body is `pangea_fuzz_targets::records::stored_records`, which says what it asserts; the stable test
//! `cargo test -p pangea-fuzz-targets` replays this target's stored corpus through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| pangea_fuzz_targets::records::stored_records(bytes));
