//! The node's own coverage probes (its parts have theirs), one table.

crate::names! {
    /// Coverage probes: conditions a sweep should see hold at least once.
    pub mod probes {
        /// The node noticed that its storage failed.
        STORAGE_FAILED = "node.storage_failed",
        /// A failed storage was reopened and the node rebuilt.
        STORAGE_REOPENED = "node.storage_reopened",
        /// A reopen of the failed storage failed itself.
        STORAGE_REOPEN_FAILED = "node.storage_reopen_failed",
        /// A request that needs the log was refused because the storage was failing.
        WRITE_REFUSED_STORAGE_FAILING = "node.write_refused_storage_failing",
    }
}
