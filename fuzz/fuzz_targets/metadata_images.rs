//! The graph's and the event store's snapshot images from outside (a peer's snapshot, a data
//! directory): reading one back answers with a state or a typed error, never a panic, and a state
//! read back writes an image that reads back to the same state. Also the log's request frames,
//! which carry graph and event commands from clients.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pangea_core::Codec;
use pangea_core::events::Events;
use pangea_core::graph::{Graph, GraphConfig};
use pangea_core::log::StateMachine;
use pangea_core::pangea::{MetadataRequest, MetadataResponse};

fn image_round_trip<S: StateMachine + PartialEq + std::fmt::Debug>(fresh: S, bytes: &[u8]) {
    let mut state = fresh.clone();
    if state.restore(bytes).is_err() {
        return;
    }
    let mut again = fresh;
    again.restore(&state.snapshot()).expect("a restored state's image reads back");
    assert_eq!(again, state);
}

fuzz_target!(|bytes: &[u8]| {
    image_round_trip(Graph::new(GraphConfig::default()), bytes);
    image_round_trip(Events::default(), bytes);
    if let Ok(request) = MetadataRequest::decode(bytes) {
        let frame = request.encode().expect("a decoded request encodes");
        assert_eq!(MetadataRequest::decode(&frame).expect("its frame decodes"), request);
    }
    let _ = MetadataResponse::decode(bytes);
});
