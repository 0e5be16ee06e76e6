//! Shards from outside (a peer, a rotten disk) through the Reed-Solomon decoder and the chunk path.
//!
//! The body is `pangea_fuzz_targets::ces::shard_decode`, which says what it asserts; the stable test
//! `cargo test -p pangea-fuzz-targets` replays this target's stored corpus through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| pangea_fuzz_targets::ces::shard_decode(bytes));
