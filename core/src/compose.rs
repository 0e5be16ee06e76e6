//! Composing subsystems into one node.
//!
//! A node made of parts (membership, the log, and so on) is itself a [`Node`] whose message, timer,
//! request and response types are enums with one variant per part (see
//! [`composite!`](crate::composite)). Each part is written against a [`Context`] of its own types;
//! [`Scoped`] is the adapter that hands it one, wrapping everything the part emits into the parent's
//! enums through `From`. So no part knows another's types, and no forwarding context is written by
//! hand per part:
//!
//! ```ignore
//! PangeaMessage::Log(message) => self.log.on_message(&mut Scoped::new(cx), from, message),
//! ```
//!
//! What the parts say to each other inside a node is explicit: a part exposes typed queries
//! (getters) and collects typed notifications, which the composite drains after each input and hands
//! to the parts that care, in a fixed order.

use crate::id::NodeId;
use crate::node::{Context, Node, RequestId, TimerId, TraceEvent};
use crate::storage::Storage;
use crate::time::{Duration, Instant, WallTime};
use rand_core::Rng;
use std::marker::PhantomData;

/// A [`Context`] of part `S` inside parent `P`: time, randomness, storage and probes are the
/// parent's; sends, timers and replies are wrapped into the parent's types.
pub struct Scoped<'a, P: Node, S: Node> {
    parent: &'a mut dyn Context<P>,
    part: PhantomData<fn() -> S>,
}

impl<'a, P: Node, S: Node> Scoped<'a, P, S> {
    /// Part `S`'s view of `parent`.
    pub fn new(parent: &'a mut dyn Context<P>) -> Scoped<'a, P, S> {
        Scoped { parent, part: PhantomData }
    }
}

impl<P, S> Context<S> for Scoped<'_, P, S>
where
    P: Node,
    S: Node,
    P::Message: From<S::Message>,
    P::Timer: From<S::Timer>,
    P::Response: From<S::Response>,
{
    fn id(&self) -> NodeId {
        self.parent.id()
    }

    fn now(&self) -> Instant {
        self.parent.now()
    }

    fn wall_clock(&self) -> WallTime {
        self.parent.wall_clock()
    }

    fn rng(&mut self) -> &mut dyn Rng {
        self.parent.rng()
    }

    fn send(&mut self, to: NodeId, message: S::Message) {
        self.parent.send(to, message.into());
    }

    fn set_timer(&mut self, after: Duration, timer: S::Timer) -> TimerId {
        self.parent.set_timer(after, timer.into())
    }

    fn cancel_timer(&mut self, id: TimerId) {
        self.parent.cancel_timer(id);
    }

    fn cancel_all_timers(&mut self) {
        self.parent.cancel_all_timers();
    }

    fn reply(&mut self, request: RequestId, body: S::Response) {
        self.parent.reply(request, body.into());
    }

    fn storage(&mut self) -> &mut dyn Storage {
        self.parent.storage()
    }

    fn buggify(&mut self, site: &'static str) -> bool {
        self.parent.buggify(site)
    }

    fn sometimes(&mut self, probe: &'static str, condition: bool) {
        self.parent.sometimes(probe, condition);
    }

    fn trace(&mut self, event: TraceEvent) {
        self.parent.trace(event);
    }
}
