//! The vocabulary of peer health that subsystems share: the membership subsystem judges peers, and
//! the others (the log, the object store) consult its judgement through notifications, without
//! knowing the membership subsystem's own types.

use serde::{Deserialize, Serialize};

/// How a node judges a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Health {
    /// Heard from recently.
    Alive,
    /// Silent for a while, or not yet heard from since this node started.
    Suspect,
    /// Silent for long; still pinged, so that it can come back.
    Dead,
}

impl Health {
    /// A lower-case word for people: `alive`, `suspect`, `dead`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Health::Alive => "alive",
            Health::Suspect => "suspect",
            Health::Dead => "dead",
        }
    }
}
