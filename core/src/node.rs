//! The node boundary: what a node reacts to ([`Node`]) and what it may do ([`Context`]).
//!
//! A node is a state machine with four inputs — start, a message from a peer, a timer that fired, a
//! client request — and it acts only through its context. The simulator implements the context with
//! virtual time, its seeded RNG and its network and disk models; the real node with tokio timers,
//! QUIC streams and redb. Both call the same handlers, so what the simulator tested is what runs.

use crate::codec::Codec;
use crate::effects::{Effect, Effects};
use crate::id::NodeId;
use crate::storage::Storage;
use crate::time::{Duration, Instant, WallTime};
use rand_core::Rng;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::hash::{Hash, Hasher};

/// Names a timer a node set, so that it can cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimerId(pub u64);

/// Names a client request, so that the reply finds its way back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

/// Something a node wants recorded in the run's trace (a leader change, a peer marked dead). Trace
/// events are part of the run's fingerprint, so their text must itself be deterministic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TraceEvent {
    /// A short, stable name for the kind of event, e.g. `"peer_status"`.
    pub kind: String,
    /// Details, formatted deterministically (no addresses, no hash-map order).
    pub detail: String,
}

impl TraceEvent {
    /// An event of `kind` with `detail`.
    #[must_use]
    pub fn new(kind: &str, detail: impl Into<String>) -> TraceEvent {
        TraceEvent { kind: kind.to_owned(), detail: detail.into() }
    }

    /// True for a report of a broken invariant (see [`invariant`]).
    #[must_use]
    pub fn is_invariant_violation(&self) -> bool {
        self.kind == INVARIANT_VIOLATED
    }
}

/// The trace kind of a broken invariant. The simulator turns every such event into a correctness
/// failure of the run; the real node logs it as an error.
pub const INVARIANT_VIOLATED: &str = "invariant_violated";

/// Checks an invariant whose breach a peer's message could cause (a conflicting chosen value, say):
/// when `holds` is false, reports it through the trace as [`INVARIANT_VIOLATED`] instead of
/// panicking, since no input from a peer may crash a node. Invariants of the node's own state, which
/// no input can break, are plain `assert!`s. Returns `holds`.
pub fn invariant<N: Node>(cx: &mut dyn Context<N>, holds: bool, name: &str, detail: impl FnOnce() -> String) -> bool {
    if !holds {
        cx.trace(TraceEvent::new(INVARIANT_VIOLATED, format!("{name}: {}", detail())));
    }
    holds
}

/// A node: a deterministic state machine driven by a runtime through a [`Context`].
///
/// Node state is `Clone` and `Hash`, so that a runtime can snapshot a run, branch it, and compare
/// states (see [`state_digest`]). Handlers must not panic on any input a peer or client can send.
pub trait Node: Clone + Hash {
    /// Messages between peers; the codec checks and versions them.
    type Message: Codec + Clone + Debug;
    /// What a timer carries back to the node when it fires.
    type Timer: Clone + Debug;
    /// What clients ask.
    type Request: Codec + Clone + Debug;
    /// What the node answers.
    type Response: Codec + Clone + Debug;

    /// Boot, or restart after a crash: volatile state is fresh, and whatever the node needs from
    /// before must be read back from `cx.storage()`.
    fn on_start(&mut self, cx: &mut dyn Context<Self>);

    /// A message from `from` arrived (already decoded and checked by the codec).
    fn on_message(&mut self, cx: &mut dyn Context<Self>, from: NodeId, message: Self::Message);

    /// A timer set earlier fired (cancelled timers never fire).
    fn on_timer(&mut self, cx: &mut dyn Context<Self>, timer: Self::Timer);

    /// A client asked something; answer with [`Context::reply`], now or later.
    fn on_client(&mut self, cx: &mut dyn Context<Self>, request: RequestId, body: Self::Request);
}

/// Everything a node may do or know beyond its own state.
pub trait Context<N: Node> {
    /// This node's identity.
    fn id(&self) -> NodeId;

    /// Monotonic time: never goes back within one incarnation of the node.
    fn now(&self) -> Instant;

    /// Wall-clock time; may be skewed against other nodes and may jump.
    fn wall_clock(&self) -> WallTime;

    /// The node's random number generator: seeded in the simulator, from the OS in the real node.
    fn rng(&mut self) -> &mut dyn Rng;

    /// Sends `message` to `to`. Delivery is not guaranteed: it may be lost, delayed, duplicated or
    /// reordered, and it is never delivered to the sender itself.
    fn send(&mut self, to: NodeId, message: N::Message);

    /// Arranges for `timer` to come back through [`Node::on_timer`] after `after`.
    fn set_timer(&mut self, after: Duration, timer: N::Timer) -> TimerId;

    /// Cancels a timer; cancelling one that fired or was cancelled already does nothing.
    fn cancel_timer(&mut self, id: TimerId);

    /// Cancels every timer the whole node has set — its parts' too. For a node that rebuilds its
    /// volatile state (after reopening its storage), so that no timer of the old state fires into
    /// the new one; a part must not call it.
    fn cancel_all_timers(&mut self);

    /// Answers a client request.
    fn reply(&mut self, request: RequestId, body: N::Response);

    /// The node's storage.
    fn storage(&mut self) -> &mut dyn Storage;

    /// A fault point: true when the simulator wants the node to take the rare-but-legal path named by
    /// `site` (a short read, an early timeout). Always false in the real node.
    fn buggify(&mut self, site: &'static str) -> bool;

    /// A coverage probe: records that `probe`'s condition was evaluated, and whether it held, so a
    /// sweep can report the probes that never fired. Does nothing in the real node.
    fn sometimes(&mut self, probe: &'static str, condition: bool);

    /// Records `event` in the run's trace.
    fn trace(&mut self, event: TraceEvent);
}

/// A deterministic 64-bit digest of a node's state: the same state gives the same digest on every
/// run and platform of the same build, so runs can be compared and states deduplicated.
#[must_use]
pub fn state_digest<N: Hash + ?Sized>(state: &N) -> u64 {
    let mut hasher = Fnv1a::default();
    state.hash(&mut hasher);
    hasher.finish()
}

/// FNV-1a: tiny, fixed, and seedless, which is what a deterministic digest needs.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// What a runtime supplies to a node's handlers besides the effect buffer: its clocks, its random
/// number generator, its storage, and the simulator's fault points and coverage probes. Each runtime
/// implements this small trait once; [`HandlerContext`] turns it into the full [`Context`].
pub trait Host {
    /// Monotonic time now (in the simulator: the event's time plus the disk time spent so far).
    fn now(&self) -> Instant;
    /// The wall clock now (may be skewed or jump).
    fn wall_clock(&self) -> WallTime;
    /// The node's random number generator.
    fn rng(&mut self) -> &mut dyn Rng;
    /// The node's storage.
    fn storage(&mut self) -> &mut dyn Storage;
    /// A fault point (see [`Context::buggify`]); never fires outside the simulator.
    fn buggify(&mut self, _site: &'static str) -> bool {
        false
    }
    /// A coverage probe (see [`Context::sometimes`]); recorded only by the simulator.
    fn sometimes(&mut self, _probe: &'static str, _condition: bool) {}
}

/// A runtime's way of carrying out effects while a handler still runs (see
/// [`HandlerContext::carrying_out_early`]).
pub trait CarryOut<N: Node> {
    /// Carries out every effect in `effects`, in order, leaving it empty.
    fn carry_out(&mut self, effects: &mut Effects<N>);
}

/// The one implementation of [`Context`] every runtime hands its node: effects go into an
/// [`Effects`] buffer stamped with the host's time, everything else comes from the [`Host`].
pub struct HandlerContext<'a, N: Node> {
    id: NodeId,
    host: &'a mut dyn Host,
    effects: &'a mut Effects<N>,
    early: Option<&'a mut dyn CarryOut<N>>,
}

impl<'a, N: Node> HandlerContext<'a, N> {
    /// The context of node `id` for one handler call.
    pub fn new(id: NodeId, host: &'a mut dyn Host, effects: &'a mut Effects<N>) -> HandlerContext<'a, N> {
        HandlerContext { id, host, effects, early: None }
    }

    /// The same context, but before each storage access the effects asked for so far go to
    /// `early` to be carried out at once. Each effect is stamped with the time it was asked for,
    /// and the simulator delivers it from then, however long the handler's later disk work takes;
    /// a runtime whose storage calls take real time (an fsync) uses this to do the same — a leader's
    /// accepts leave while it syncs its own acceptance, answers leave before the next batch's sync.
    #[must_use]
    pub fn carrying_out_early(self, early: &'a mut dyn CarryOut<N>) -> HandlerContext<'a, N> {
        HandlerContext { early: Some(early), ..self }
    }
}

impl<N: Node> Context<N> for HandlerContext<'_, N> {
    fn id(&self) -> NodeId {
        self.id
    }

    fn now(&self) -> Instant {
        self.host.now()
    }

    fn wall_clock(&self) -> WallTime {
        self.host.wall_clock()
    }

    fn rng(&mut self) -> &mut dyn Rng {
        self.host.rng()
    }

    fn send(&mut self, to: NodeId, message: N::Message) {
        let at = self.host.now();
        self.effects.push(at, Effect::Send { to, message });
    }

    fn set_timer(&mut self, after: Duration, timer: N::Timer) -> TimerId {
        let id = self.effects.next_timer_id();
        let at = self.host.now();
        self.effects.push(at, Effect::SetTimer { id, after, timer });
        id
    }

    fn cancel_timer(&mut self, id: TimerId) {
        let at = self.host.now();
        self.effects.push(at, Effect::CancelTimer { id });
    }

    fn cancel_all_timers(&mut self) {
        let at = self.host.now();
        self.effects.push(at, Effect::CancelAllTimers);
    }

    fn reply(&mut self, request: RequestId, body: N::Response) {
        let at = self.host.now();
        self.effects.push(at, Effect::Reply { request, response: body });
    }

    fn storage(&mut self) -> &mut dyn Storage {
        if let Some(early) = &mut self.early
            && !self.effects.is_empty()
        {
            early.carry_out(self.effects);
        }
        self.host.storage()
    }

    fn buggify(&mut self, site: &'static str) -> bool {
        self.host.buggify(site)
    }

    fn sometimes(&mut self, probe: &'static str, condition: bool) {
        self.host.sometimes(probe, condition);
    }

    fn trace(&mut self, event: TraceEvent) {
        let at = self.host.now();
        self.effects.push(at, Effect::Trace { event });
    }
}

/// Declares a subsystem's table of names — its coverage probes or its buggify sites — as one
/// constant per name and an `ALL` list of them, so that a call site names a constant (a typo does
/// not compile) and sweeps can tell which names were never reached:
///
/// ```
/// pangea_core::names! {
///     /// Probes of my subsystem.
///     pub mod probes {
///         /// A leader was elected.
///         LEADER_ELECTED = "mine.leader_elected",
///     }
/// }
/// assert_eq!(probes::ALL, &["mine.leader_elected"]);
/// ```
#[macro_export]
macro_rules! names {
    ($(#[$meta:meta])* $vis:vis mod $module:ident { $($(#[$doc:meta])* $constant:ident = $name:literal),* $(,)? }) => {
        $(#[$meta])*
        $vis mod $module {
            $(
                $(#[$doc])*
                pub const $constant: &str = $name;
            )*
            /// Every name of this table, in declaration order.
            pub const ALL: &[&str] = &[$($constant),*];
        }
    };
}
