//! The object store's frames from outside: every decoder of the object families (and the node's
//! composites that route to them) answers with a value or a typed error, never a panic, and a
//! decoded value encodes back to a frame that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pangea_core::Codec;
use pangea_core::objects::{ObjectMessage, ObjectRequest, ObjectResponse};
use pangea_core::pangea::{PangeaMessage, PangeaRequest, PangeaResponse};

fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(value) = T::decode(bytes) {
        let frame = value.encode().expect("a decoded value encodes");
        assert_eq!(T::decode(&frame).expect("its frame decodes"), value);
    }
}

fuzz_target!(|bytes: &[u8]| {
    round_trip::<ObjectMessage>(bytes);
    round_trip::<ObjectRequest>(bytes);
    round_trip::<ObjectResponse>(bytes);
    round_trip::<PangeaMessage>(bytes);
    round_trip::<PangeaRequest>(bytes);
    round_trip::<PangeaResponse>(bytes);
});
