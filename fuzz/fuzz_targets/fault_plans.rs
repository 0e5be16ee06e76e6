//! Fault plans (`pangea-sim run --plan FILE`): JSON parsed, validated and used.
//!
//! The body is `pangea_fuzz_targets::scenarios::fault_plans`, which says what it asserts; the stable test
//! `cargo test -p pangea-fuzz-targets` replays this target's stored corpus through the same function.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| pangea_fuzz_targets::scenarios::fault_plans(bytes));
