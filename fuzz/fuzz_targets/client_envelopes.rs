//! The client protocol from outside: a stream's frame, the envelope (token and request) and the node
//! request inside it, the reply and the node answer inside it.
//!
//! The body is `pangea_fuzz_targets::node::client_envelopes`, which says what it asserts; the stable test
//! `cargo test -p pangea-fuzz-targets` replays this target's stored corpus through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| pangea_fuzz_targets::node::client_envelopes(bytes));
