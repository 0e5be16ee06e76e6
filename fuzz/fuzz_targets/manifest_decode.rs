//! A manifest from outside bytes (a snapshot, a peer, a disk): decoding gives a manifest that
//! validates, or a typed error — never a panic — and a decoded manifest encodes back to bytes that
//! decode to the same manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pangea_core::ces::Manifest;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(manifest) = Manifest::decode(bytes) {
        assert!(manifest.validate().is_ok());
        let again = Manifest::decode(&manifest.encode()).expect("a decoded manifest encodes back");
        assert_eq!(again, manifest);
        let _ = manifest.chunks_for_range(u64::from(bytes.len() as u32), 1 << 20);
    }
});
