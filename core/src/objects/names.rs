//! The object store's coverage probes, one table.

crate::names! {
    /// Coverage probes: conditions a sweep should see hold at least once.
    pub mod probes {
        /// A chunk whose shards were all lost or rotten beyond k was found by repair.
        CHUNK_BEYOND_REPAIR = "objects.chunk_beyond_repair",
        /// A shard fetched for a read failed its hash.
        FETCHED_SHARD_BAD_HASH = "objects.fetched_shard_bad_hash",
        /// Garbage shards were collected.
        GARBAGE_COLLECTED = "objects.garbage_collected",
        /// A gateway refused a transfer: too many in progress.
        GATEWAY_BUSY = "objects.gateway_busy",
        /// A holder answered that it lacks the shard asked for.
        HOLDER_LACKED_SHARD = "objects.holder_lacked_shard",
        /// A holder that did not acknowledge its shard in time was replaced by the next member.
        HOLDER_REPLACED = "objects.holder_replaced",
        /// A holder assembling too many shards dropped the oldest.
        INCOMING_SHARD_DROPPED = "objects.incoming_shard_dropped",
        /// A lookup found too few members near a chunk for its shards: members beyond it were used.
        PLACED_BEYOND_LOOKUP = "objects.placed_beyond_lookup",
        /// A read asked members beyond the named holders (for shards repair moved).
        READ_ASKED_BEYOND_HOLDERS = "objects.read_asked_beyond_holders",
        /// A read was decoded with a parity shard (a data shard was slow, lost or rotten).
        READ_DECODED_WITH_PARITY = "objects.read_decoded_with_parity",
        /// A read was answered from the gateway's rebuilt-chunk cache.
        READ_FROM_CACHE = "objects.read_from_cache",
        /// A slow read asked the parity holders too (the long-tail hedge).
        READ_HEDGED = "objects.read_hedged",
        /// A read did not find k good shards in time.
        READ_TIMED_OUT = "objects.read_timed_out",
        /// Encoding a chunk again for repair gave a shard unlike the manifest's (nothing stored).
        REBUILT_SHARD_MISMATCH = "objects.rebuilt_shard_mismatch",
        /// Repair postponed a chunk: its byte budget for the scan was spent.
        REPAIR_DEFERRED_BY_BUDGET = "objects.repair_deferred_by_budget",
        /// Repair checked a chunk and found shards missing.
        REPAIR_FOUND_SHARDS_MISSING = "objects.repair_found_shards_missing",
        /// Fewer members live than a chunk has shards: repair gave a member a second shard of it.
        REPAIR_DOUBLED_UP = "objects.repair_doubled_up",
        /// Repair found no live member at all to take a rebuilt shard.
        REPAIR_WITHOUT_TARGET = "objects.repair_without_target",
        /// A holder found a shard whose bytes fail their hash (or that its disk reports rotten).
        ROTTEN_SHARD_FOUND = "objects.rotten_shard_found",
        /// Repair rebuilt a shard and sent it to a new holder.
        SHARD_REBUILT = "objects.shard_rebuilt",
        /// A holder refused a shard whose bytes do not match the hash it came with.
        STORE_BAD_HASH_REFUSED = "objects.store_bad_hash_refused",
        /// A holder refused a shard whose upload deadline had passed there (a gateway behind the log).
        STORE_EXPIRED_REFUSED = "objects.store_expired_refused",
        /// A chunk's shards were not all durable before its deadline.
        STORE_TIMED_OUT = "objects.store_timed_out",
        /// A put found fewer live members than a chunk has shards.
        TOO_FEW_PEERS_TO_PLACE = "objects.too_few_peers_to_place",
    }
}

#[cfg(test)]
mod tests {
    use super::probes;

    #[test]
    fn names_are_distinct_and_prefixed() {
        let mut all: Vec<&str> = probes::ALL.to_vec();
        assert!(all.iter().all(|name| name.starts_with("objects.")), "{all:?}");
        all.sort_unstable();
        let count = all.len();
        all.dedup();
        assert_eq!(all.len(), count, "a name is declared twice");
    }
}
