//! The one table of message families: the byte in every frame's header that says which
//! subsystem's type the payload holds (see [`crate::codec`]).
//!
//! A composite type (a node's message, request or response enum) routes a frame to the variant whose
//! type accepts its family, so each family belongs to exactly one leaf type. Families are part of the
//! wire format: a number, once used, is never reused for another type. Users' own systems take
//! numbers from [`USER_FIRST`] up; Pangea never will.

/// The membership subsystem's peer messages (pings and pongs).
pub const MEMBERSHIP_MESSAGE: u8 = 1;
/// Requests to the membership subsystem.
pub const MEMBERSHIP_REQUEST: u8 = 2;
/// The membership subsystem's answers.
pub const MEMBERSHIP_RESPONSE: u8 = 3;
/// The replicated log's peer messages.
pub const LOG_MESSAGE: u8 = 10;
/// Requests to the replicated log.
pub const LOG_REQUEST: u8 = 11;
/// The replicated log's answers.
pub const LOG_RESPONSE: u8 = 12;
/// Node-level requests of `PangeaNode` (status, hello).
pub const NODE_REQUEST: u8 = 13;
/// Node-level answers of `PangeaNode`.
pub const NODE_RESPONSE: u8 = 14;
/// The object store's peer messages (shards, fetches, inventories).
pub const OBJECT_MESSAGE: u8 = 15;
/// Requests to the object store (pieces to put and to get).
pub const OBJECT_REQUEST: u8 = 16;
/// The object store's answers.
pub const OBJECT_RESPONSE: u8 = 17;
/// The DHT's peer messages (queries and answers).
pub const DHT_MESSAGE: u8 = 18;
/// Requests to the DHT (lookups, records).
pub const DHT_REQUEST: u8 = 19;
/// The real runtime's client envelope (token and request).
pub const CLIENT_ENVELOPE: u8 = 20;
/// The real runtime's reply to a client envelope.
pub const CLIENT_REPLY: u8 = 21;
/// The DHT's answers.
pub const DHT_RESPONSE: u8 = 22;
/// The first family number left to users' own systems (up to 255).
pub const USER_FIRST: u8 = 128;

/// Every family Pangea uses, with the type that owns it, in number order.
pub const FAMILIES: [(u8, &str); 16] = [
    (MEMBERSHIP_MESSAGE, "MembershipMessage"),
    (MEMBERSHIP_REQUEST, "MembershipRequest"),
    (MEMBERSHIP_RESPONSE, "MembershipResponse"),
    (LOG_MESSAGE, "LogMessage"),
    (LOG_REQUEST, "LogRequest"),
    (LOG_RESPONSE, "LogResponse"),
    (NODE_REQUEST, "NodeRequest"),
    (NODE_RESPONSE, "NodeResponse"),
    (OBJECT_MESSAGE, "ObjectMessage"),
    (OBJECT_REQUEST, "ObjectRequest"),
    (OBJECT_RESPONSE, "ObjectResponse"),
    (DHT_MESSAGE, "DhtMessage"),
    (DHT_REQUEST, "DhtRequest"),
    (CLIENT_ENVELOPE, "ClientEnvelope"),
    (CLIENT_REPLY, "ClientReply"),
    (DHT_RESPONSE, "DhtResponse"),
];

/// The type that owns `family`, if Pangea uses it.
#[must_use]
pub fn name_of(family: u8) -> Option<&'static str> {
    FAMILIES.iter().find(|(number, _)| *number == family).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_distinct_ordered_and_below_the_users_range() {
        for pair in FAMILIES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{pair:?} out of order or repeated");
        }
        assert!(FAMILIES.iter().all(|(number, _)| *number > 0 && *number < USER_FIRST));
        assert_eq!(name_of(LOG_MESSAGE), Some("LogMessage"));
        assert_eq!(name_of(USER_FIRST), None);
    }
}
