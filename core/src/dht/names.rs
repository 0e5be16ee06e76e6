//! The DHT's coverage probes and trace kinds, one table each.

crate::names! {
    /// Coverage probes: conditions a sweep should see hold at least once.
    pub mod probes {
        /// A contact was evicted: its queries failed, or it did not answer the ping of a full bucket.
        CONTACT_EVICTED = "dht.contact_evicted",
        /// A join found nobody to answer it and was tried again.
        JOIN_RETRIED = "dht.join_retried",
        /// A lookup was refused: `lookups_max` were running.
        LOOKUP_REFUSED_BUSY = "dht.lookup_refused_busy",
        /// A query was not sent: `rpcs_max` were in flight.
        QUERY_REFUSED_BUSY = "dht.query_refused_busy",
        /// A node refused to keep a record (over its limits, or full).
        STORE_REFUSED = "dht.store_refused",
    }
}

crate::names! {
    /// Kinds of trace event the DHT records.
    pub mod trace {
        /// A contact left the routing table: `<peer> <why>`.
        EVICTED = "dht.evicted",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_distinct_and_prefixed() {
        let mut all: Vec<&str> = super::probes::ALL.iter().chain(super::trace::ALL).copied().collect();
        assert!(all.iter().all(|name| name.starts_with("dht.")), "{all:?}");
        all.sort_unstable();
        let count = all.len();
        all.dedup();
        assert_eq!(all.len(), count, "a name is declared twice");
    }
}
