//! The DHT's frames from outside: its message, request and answer decoders answer with a value or
//! a typed error, never a panic, and a decoded value encodes back to a frame that decodes to the
//! same value. (That a DHT takes any decoded message from a peer without panicking is a property
//! test in `core/src/dht/tests.rs`.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use pangea_core::Codec;
use pangea_core::dht::{DhtMessage, DhtRequest, DhtResponse};

fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Option<T> {
    let value = T::decode(bytes).ok()?;
    let frame = value.encode().expect("a decoded value encodes");
    assert_eq!(T::decode(&frame).expect("its frame decodes"), value);
    Some(value)
}

fuzz_target!(|bytes: &[u8]| {
    let _ = round_trip::<DhtMessage>(bytes);
    let _ = round_trip::<DhtRequest>(bytes);
    let _ = round_trip::<DhtResponse>(bytes);
});
