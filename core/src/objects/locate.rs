//! Where a chunk's shards are: a gateway asks every member for its checked inventory of the chunk
//! and answers the client with who holds what — for operators (`pangea object stat`) and for
//! tests that watch repair restore redundancy.

use super::Objects;
use super::messages::{ObjectMessage, ObjectResponse};
use super::placement::usable;
use crate::ces::ObjectId;
use crate::id::NodeId;
use crate::node::{Context, RequestId};
use crate::time::Instant;
use std::collections::{BTreeMap, BTreeSet};

/// Most locate requests a gateway answers at once.
pub const LOCATES_MAX: usize = 16;

/// A locate request waiting for inventories.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Locate {
    request: RequestId,
    object: ObjectId,
    chunk: u32,
    started: Instant,
    asked: BTreeSet<NodeId>,
    holding: BTreeMap<NodeId, Vec<u8>>,
}

/// Locate requests by tag.
pub(super) type Locates = BTreeMap<u64, Locate>;

impl Objects {
    /// A client asks where chunk `chunk` of `object` is.
    pub(super) fn on_locate(
        &mut self,
        cx: &mut dyn Context<Objects>,
        request: RequestId,
        object: ObjectId,
        chunk: u32,
    ) {
        if self.locates.len() >= LOCATES_MAX {
            return cx.reply(request, ObjectResponse::Failed(super::ObjectError::Busy));
        }
        let me = cx.id();
        self.next_tag += 1;
        let tag = self.next_tag | super::LOCATE_TAG;
        let asked: BTreeSet<NodeId> = usable(me, &self.members, &self.health).into_iter().collect();
        for node in &asked {
            if *node != me {
                cx.send(*node, ObjectMessage::Inventory { object, chunk, tag });
            }
        }
        let mut holding = BTreeMap::new();
        holding.insert(me, self.inventory(cx, &object, chunk));
        let locate = Locate { request, object, chunk, started: cx.now(), asked, holding };
        self.locates.insert(tag, locate);
        self.answer_locate(cx, tag, false);
    }

    /// An inventory for a locate request; true when it was one.
    pub(super) fn on_locate_holding(
        &mut self,
        cx: &mut dyn Context<Objects>,
        from: NodeId,
        tag: u64,
        shards: Vec<u8>,
    ) -> bool {
        let Some(locate) = self.locates.get_mut(&tag) else { return false };
        if locate.asked.contains(&from) {
            locate.holding.insert(from, shards);
            self.answer_locate(cx, tag, false);
        }
        true
    }

    /// Answers a locate request once every member asked has answered (or `anyway`).
    fn answer_locate(&mut self, cx: &mut dyn Context<Objects>, tag: u64, anyway: bool) {
        let Some(locate) = self.locates.get(&tag) else { return };
        if !anyway && locate.holding.len() < locate.asked.len() {
            return;
        }
        let Some(locate) = self.locates.remove(&tag) else { return };
        let silent = locate.asked.iter().filter(|node| !locate.holding.contains_key(node)).copied().collect();
        let holders = locate.holding.into_iter().collect();
        cx.reply(locate.request, ObjectResponse::Located { chunk: locate.chunk, holders, silent });
        let _ = locate.object;
    }

    /// Answers locate requests whose members are slow with what is known.
    pub(super) fn tick_locates(&mut self, cx: &mut dyn Context<Objects>) {
        let now = cx.now();
        let wait = self.config.fetch_hedge_after * 4;
        let slow: Vec<u64> =
            self.locates.iter().filter(|(_, locate)| now - locate.started >= wait).map(|(tag, _)| *tag).collect();
        for tag in slow {
            self.answer_locate(cx, tag, true);
        }
    }
}
