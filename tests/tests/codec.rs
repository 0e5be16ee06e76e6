//! Property tests of the wire codec on real message types: round trips, and malformed input that is
//! refused with an error, never a panic.

use pangea_core::membership::{Health, MembershipMessage, MembershipRequest, MembershipResponse, PeerView};
use pangea_core::{Codec, NodeId};
use proptest::prelude::*;

fn node_id() -> impl Strategy<Value = NodeId> {
    any::<[u8; 32]>().prop_map(NodeId)
}

fn message() -> impl Strategy<Value = MembershipMessage> {
    prop_oneof![
        (any::<u64>(), any::<u64>(), any::<u64>(), proptest::collection::vec(node_id(), 0..10)).prop_map(
            |(sequence, boot, sent_at_nanos, known)| MembershipMessage::Ping { sequence, boot, sent_at_nanos, known }
        ),
        (any::<u64>(), any::<u64>(), any::<u64>(), proptest::collection::vec(node_id(), 0..10)).prop_map(
            |(sequence, echo_boot, echo_sent_at_nanos, known)| MembershipMessage::Pong {
                sequence,
                echo_boot,
                echo_sent_at_nanos,
                known
            }
        ),
    ]
}

fn response() -> impl Strategy<Value = MembershipResponse> {
    let health = prop_oneof![Just(Health::Alive), Just(Health::Suspect), Just(Health::Dead)];
    let peer = (node_id(), health, any::<Option<u64>>()).prop_map(|(id, health, rtt_micros)| PeerView {
        id,
        health,
        rtt_micros,
    });
    (any::<u64>(), proptest::collection::vec(peer, 0..10))
        .prop_map(|(boot, peers)| MembershipResponse::Status { boot, peers })
}

proptest! {
    #[test]
    fn messages_round_trip(message in message()) {
        prop_assert_eq!(MembershipMessage::decode(&message.encode()), Ok(message));
    }

    #[test]
    fn responses_round_trip(response in response()) {
        prop_assert_eq!(MembershipResponse::decode(&response.encode()), Ok(response));
    }

    #[test]
    fn arbitrary_bytes_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(MembershipMessage::decode(&bytes).is_err());
        let _ = MembershipRequest::decode(&bytes);
        let _ = MembershipResponse::decode(&bytes);
    }

    #[test]
    fn truncations_and_bit_flips_are_refused(message in message(), cut in any::<prop::sample::Index>(), bit in any::<prop::sample::Index>()) {
        let frame = message.encode();
        let cut = cut.index(frame.len());
        prop_assert!(MembershipMessage::decode(&frame[..cut]).is_err());
        let mut flipped = frame.clone();
        let bit = bit.index(frame.len() * 8);
        flipped[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(MembershipMessage::decode(&flipped).is_err());
    }
}

#[test]
fn a_frame_of_another_family_is_refused() {
    let request = MembershipRequest::Status.encode();
    assert!(matches!(MembershipMessage::decode(&request), Err(pangea_core::CodecError::WrongFamily { .. })));
}
