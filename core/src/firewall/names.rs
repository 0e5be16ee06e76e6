//! The firewall's coverage probes, one table (apart from the node's: only runs with the firewall
//! on can hold them).

crate::names! {
    /// Coverage probes: conditions a sweep with the firewall on should see hold at least once.
    pub mod probes {
        /// A message from a peer the firewall does not allow was dropped.
        DROPPED_DENIED = "firewall.dropped_denied",
        /// A message from a peer over its rate was dropped.
        DROPPED_RATE = "firewall.dropped_rate",
    }
}
