//! The membership driver of `log-membership`: an operator who, every second or few, asks the
//! cluster to add a spare replica or remove a member, through the log, with timeouts and retries
//! like any client (a retry keeps its sequence number, so a change applies at most once).
//!
//! It picks changes from the most advanced replica's view of the configuration; the leader checks
//! each change against the configuration it will replace, so a stale pick is refused or becomes a
//! no-op, never a wrong configuration.

use pangea_core::PangeaNode;
use pangea_core::log::{LogRequest, LogResponse, MemberChange, Members};
use pangea_core::pangea::{MetadataResponse, PangeaRequest, PangeaResponse};
use pangea_core::random::{below, duration_between};
use pangea_core::{Duration, Instant, NodeId, RequestId};
use pangea_sim::{Reply, SeedStreams, Sim, SimRng};
/// One attempt's timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(400);
/// A change unanswered for this long is given up (its outcome unknown).
const GIVE_UP_AFTER: Duration = Duration::from_secs(4);
/// Pause after a refused or failed attempt.
const BACKOFF: Duration = Duration::from_millis(50);

/// What became of one requested change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Applied: the configuration after it (`changed` false when another change got in first).
    Done {
        /// Whether it took effect.
        changed: bool,
        /// The configuration after it.
        members: Members,
    },
    /// Refused by the leader (the node was already a member, or not one).
    Refused,
    /// Never answered: it may or may not have taken effect.
    Unknown,
}

/// One requested change and its outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRecord {
    /// The change.
    pub change: MemberChange,
    /// When it was first sent.
    pub invoked_at: Instant,
    /// Its outcome.
    pub outcome: ChangeOutcome,
}

#[derive(Clone, Debug)]
enum State {
    Idle {
        at: Instant,
    },
    /// Waiting for `request` (opening a session when `opening`) until `deadline`.
    Waiting {
        request: RequestId,
        deadline: Instant,
        opening: bool,
    },
    BackingOff {
        at: Instant,
    },
}

/// The membership driver.
pub struct MemberChanger {
    rng: SimRng,
    /// Its session with the log, once opened.
    session: Option<u64>,
    sequence: u64,
    target: u32,
    state: State,
    stop_at: Instant,
    /// Smallest and largest configuration it aims for.
    size_range: (usize, usize),
    /// Every change it asked for, in order.
    pub changes: Vec<ChangeRecord>,
}

impl MemberChanger {
    /// A driver for a run of `seed` that starts with `initial` members and issues its last change
    /// before `stop_at`.
    #[must_use]
    pub fn new(streams: &SeedStreams, initial: usize, stop_at: Instant) -> MemberChanger {
        let rng = streams.stream("membership");
        MemberChanger {
            rng,
            session: None,
            sequence: 0,
            target: 0,
            state: State::Idle { at: Instant::ZERO + Duration::from_secs(1) },
            stop_at,
            size_range: (initial.saturating_sub(1).max(2), initial + 1),
            changes: Vec::new(),
        }
    }

    /// True while a change is on its way.
    #[must_use]
    pub fn busy(&self) -> bool {
        !matches!(self.state, State::Idle { .. })
    }

    /// Takes the replies meant for it, then acts if it is time to.
    pub fn act(&mut self, sim: &mut Sim<PangeaNode>, replies: Vec<Reply<PangeaResponse>>) {
        for reply in replies {
            if matches!(self.state, State::Waiting { request, .. } if request == reply.request) {
                match reply.body {
                    PangeaResponse::Log(body) => self.on_reply(sim, body),
                    _ => self.retry(sim, true),
                }
            }
        }
        let now = sim.now();
        match self.state {
            State::Idle { at } if now >= at && now < self.stop_at => self.start(sim),
            State::Waiting { deadline, .. } if now >= deadline => self.retry(sim, true),
            State::BackingOff { at } if now >= at => self.send(sim),
            _ => {}
        }
    }

    /// The configuration of the replica that has applied the most.
    fn freshest_view(sim: &Sim<PangeaNode>) -> Option<Members> {
        (0..sim.nodes())
            .filter_map(|index| sim.node(index))
            .map(PangeaNode::log)
            .max_by_key(|replica| replica.applied_index())
            .map(|replica| replica.members().clone())
    }

    fn start(&mut self, sim: &mut Sim<PangeaNode>) {
        let Some(view) = Self::freshest_view(sim) else {
            self.state = State::Idle { at: sim.now() + Duration::from_millis(500) };
            return;
        };
        let all: Vec<NodeId> = (0..sim.nodes()).map(|index| sim.id_of(index)).collect();
        let spares: Vec<NodeId> = all.iter().copied().filter(|node| !view.contains(node)).collect();
        let (least, most) = self.size_range;
        let size = view.nodes.len();
        let add = !spares.is_empty() && (size <= least || (size < most && below(&mut self.rng, 2) == 0));
        let change = if add {
            MemberChange::Add(spares[below(&mut self.rng, spares.len() as u64) as usize])
        } else {
            MemberChange::Remove(view.nodes[below(&mut self.rng, size as u64) as usize])
        };
        self.sequence += 1;
        self.target = below(&mut self.rng, u64::from(sim.nodes())) as u32;
        self.changes.push(ChangeRecord { change, invoked_at: sim.now(), outcome: ChangeOutcome::Unknown });
        self.send(sim);
    }

    fn send(&mut self, sim: &mut Sim<PangeaNode>) {
        let Some(record) = self.changes.last() else { return };
        if sim.now() - record.invoked_at >= GIVE_UP_AFTER {
            self.finish(sim);
            return;
        }
        let (body, opening) = match self.session {
            None => (LogRequest::OpenSession, true),
            Some(client) => {
                (LogRequest::ChangeMembers { client, sequence: self.sequence, change: record.change }, false)
            }
        };
        let request = sim.client_request(self.target, &PangeaRequest::Log(body));
        self.state = State::Waiting { request, deadline: sim.now() + ATTEMPT_TIMEOUT, opening };
    }

    fn retry(&mut self, sim: &mut Sim<PangeaNode>, elsewhere: bool) {
        if elsewhere {
            self.target = below(&mut self.rng, u64::from(sim.nodes())) as u32;
        }
        self.state = State::BackingOff { at: sim.now() + BACKOFF };
    }

    fn finish(&mut self, sim: &mut Sim<PangeaNode>) {
        let pause = duration_between(&mut self.rng, Duration::from_millis(500), Duration::from_secs(2));
        self.state = State::Idle { at: sim.now() + pause };
    }

    fn on_reply(&mut self, sim: &mut Sim<PangeaNode>, body: MetadataResponse) {
        let opening = matches!(self.state, State::Waiting { opening: true, .. });
        match body {
            LogResponse::SessionOpened { client } if opening => {
                self.session = Some(client);
                self.sequence = 1;
                self.send(sim);
            }
            LogResponse::SessionExpired { .. } => {
                // The change's outcome is unknown; the next one opens a new session.
                self.session = None;
                self.finish(sim);
            }
            LogResponse::MembersChanged { sequence, changed, members, .. } if sequence == self.sequence && !opening => {
                if let Some(record) = self.changes.last_mut() {
                    record.outcome = ChangeOutcome::Done { changed, members };
                }
                self.finish(sim);
            }
            LogResponse::ChangeRefused { .. } => {
                if let Some(record) = self.changes.last_mut() {
                    record.outcome = ChangeOutcome::Refused;
                }
                self.finish(sim);
            }
            LogResponse::NotLeader { leader: Some(leader) } => match sim.index_of(&leader) {
                Some(index) => {
                    self.target = index;
                    self.retry(sim, false);
                }
                None => self.retry(sim, true),
            },
            _ => self.retry(sim, true),
        }
    }

    /// A line for the run's notes.
    #[must_use]
    pub fn summary(&self) -> String {
        let count = |pick: fn(&ChangeRecord) -> bool| self.changes.iter().filter(|record| pick(record)).count();
        let added = count(|record| {
            matches!(record.change, MemberChange::Add(_))
                && matches!(record.outcome, ChangeOutcome::Done { changed: true, .. })
        });
        let removed = count(|record| {
            matches!(record.change, MemberChange::Remove(_))
                && matches!(record.outcome, ChangeOutcome::Done { changed: true, .. })
        });
        let refused = count(|record| matches!(record.outcome, ChangeOutcome::Refused));
        let unknown = count(|record| matches!(record.outcome, ChangeOutcome::Unknown));
        format!(
            "{} membership changes asked: {added} adds and {removed} removes applied, {refused} refused, {unknown} unanswered",
            self.changes.len()
        )
    }
}
