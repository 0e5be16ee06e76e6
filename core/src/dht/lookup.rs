//! One iterative lookup, pure: which peers to ask next, what their answers teach, and when the k
//! closest are known. The DHT part sends the queries and feeds the answers back.
//!
//! The rule is Kademlia's, as rust-libp2p's closest-peers iterator applies it: ask the `alpha`
//! closest peers not yet asked; each answer may bring closer peers; when `alpha` answers in a row
//! bring none closer (a stall), ask up to `k` at once; finish when the `k` closest peers that did
//! not fail have all answered, or nobody is left to ask. With several disjoint paths
//! (S/Kademlia), each path runs this rule over its own peers, and a peer belongs to the first
//! path that learned of it, so no single peer can steer every path.

use super::key::{Distance, Key};
use crate::id::NodeId;
use std::collections::BTreeMap;

/// Where a candidate stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum State {
    /// Not asked yet.
    Waiting,
    /// Asked; no answer yet.
    Asked,
    /// Answered.
    Answered,
    /// Did not answer in time, or is not to be asked.
    Failed,
}

/// A peer the lookup knows of.
#[derive(Clone, Copy, Debug, Hash)]
struct Candidate {
    id: NodeId,
    state: State,
    /// Answers between the lookup's start and learning of this peer (0: from the own table).
    depth: u8,
    /// The disjoint path it belongs to.
    path: u8,
}

/// How a lookup ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupResult {
    /// The closest peers that answered, nearest first, at most `k`.
    pub closest: Vec<NodeId>,
    /// Hops to the nearest of them: 1 + the answers it took to learn of it (1 when the own table
    /// knew it). 0 when nobody answered.
    pub hops: u32,
    /// Queries sent.
    pub queried: u32,
}

/// The state of one lookup.
#[derive(Clone, Debug, Hash)]
pub struct Lookup {
    target: Key,
    k: usize,
    alpha: usize,
    paths: usize,
    candidates_max: usize,
    candidates: BTreeMap<Distance, Candidate>,
    /// Per path: answers in a row that brought no peer closer than the closest known.
    stalls: Vec<usize>,
    queried: u32,
    /// Set by the planted bug that stops at the first stall.
    stopped: bool,
    stop_at_first_stall: bool,
}

impl Lookup {
    /// A lookup of `target` starting from `seeds` (the own table's closest), spread over `paths`
    /// disjoint paths.
    #[must_use]
    pub fn new(target: Key, seeds: &[NodeId], k: usize, alpha: usize, paths: usize, candidates_max: usize) -> Lookup {
        assert!(k > 0 && alpha > 0 && paths > 0, "a lookup needs k, alpha and paths");
        let mut lookup = Lookup {
            target,
            k,
            alpha,
            paths,
            candidates_max: candidates_max.max(k * paths),
            candidates: BTreeMap::new(),
            stalls: vec![0; paths],
            queried: 0,
            stopped: false,
            stop_at_first_stall: false,
        };
        for (position, seed) in seeds.iter().enumerate() {
            let path = (position % paths) as u8;
            lookup.learn(*seed, 0, path);
        }
        lookup
    }

    /// Plants the bug that ends the lookup at its first stall.
    pub fn plant_stop_at_first_stall(&mut self) {
        self.stop_at_first_stall = true;
    }

    /// The key looked up.
    #[must_use]
    pub fn target(&self) -> Key {
        self.target
    }

    fn learn(&mut self, id: NodeId, depth: u8, path: u8) {
        let distance = self.target.distance(&Key::from(id));
        if self.candidates.contains_key(&distance) {
            return;
        }
        self.candidates.insert(distance, Candidate { id, state: State::Waiting, depth, path });
        if self.candidates.len() > self.candidates_max {
            // Forget the farthest peer not asked yet; one asked stays until it answers.
            let farthest = self
                .candidates
                .iter()
                .rev()
                .find(|(_, candidate)| candidate.state == State::Waiting)
                .map(|(distance, _)| *distance);
            if let Some(farthest) = farthest {
                self.candidates.remove(&farthest);
            }
        }
    }

    fn find_mut(&mut self, id: &NodeId) -> Option<&mut Candidate> {
        self.candidates.get_mut(&self.target.distance(&Key::from(id)))
    }

    /// The peers to ask now (each marked asked). Empty when the lookup waits for answers or is
    /// done.
    pub fn next_queries(&mut self) -> Vec<NodeId> {
        let mut out = Vec::new();
        if self.stopped {
            return out;
        }
        for path in 0..self.paths {
            let parallelism = if self.stalls[path] >= self.alpha { self.k } else { self.alpha };
            let mut answered = 0;
            let mut asked = 0;
            for candidate in self.candidates.values_mut().filter(|candidate| usize::from(candidate.path) == path) {
                if answered >= self.k {
                    break;
                }
                match candidate.state {
                    State::Answered => answered += 1,
                    State::Asked => asked += 1,
                    State::Failed => {}
                    State::Waiting if asked < parallelism => {
                        candidate.state = State::Asked;
                        asked += 1;
                        self.queried += 1;
                        out.push(candidate.id);
                    }
                    State::Waiting => {}
                }
            }
        }
        out
    }

    /// `from` answered with `closer`, peers it knows near the target.
    pub fn answered(&mut self, from: &NodeId, closer: &[NodeId]) {
        let Some(candidate) = self.find_mut(from) else { return };
        if candidate.state != State::Asked {
            return;
        }
        candidate.state = State::Answered;
        let (depth, path) = (candidate.depth.saturating_add(1), candidate.path);
        let closest_before = self.closest_distance(path);
        for peer in closer {
            self.learn(*peer, depth, path);
        }
        let progress = self.closest_distance(path) < closest_before;
        let stalls = &mut self.stalls[usize::from(path)];
        if progress {
            *stalls = 0;
        } else {
            *stalls += 1;
            if self.stop_at_first_stall {
                self.stopped = true;
            }
        }
    }

    /// `from` did not answer in time (or its answer was unusable).
    pub fn failed(&mut self, from: &NodeId) {
        if let Some(candidate) = self.find_mut(from)
            && candidate.state == State::Asked
        {
            candidate.state = State::Failed;
        }
    }

    /// The distance of the closest peer of `path` that has not failed.
    fn closest_distance(&self, path: u8) -> Option<Distance> {
        self.candidates
            .iter()
            .find(|(_, candidate)| candidate.path == path && candidate.state != State::Failed)
            .map(|(distance, _)| *distance)
    }

    /// Queries awaiting an answer.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.candidates.values().filter(|candidate| candidate.state == State::Asked).count()
    }

    /// True when every path has its `k` closest live peers answered, or nobody left to ask.
    #[must_use]
    pub fn is_done(&self) -> bool {
        if self.stopped {
            return true;
        }
        (0..self.paths).all(|path| {
            let mut answered = 0;
            for candidate in self.candidates.values().filter(|candidate| usize::from(candidate.path) == path) {
                match candidate.state {
                    State::Answered => {
                        answered += 1;
                        if answered >= self.k {
                            return true;
                        }
                    }
                    State::Asked | State::Waiting => return false,
                    State::Failed => {}
                }
            }
            true
        })
    }

    /// The result so far: the `k` closest peers that answered.
    #[must_use]
    pub fn result(&self) -> LookupResult {
        let answered: Vec<&Candidate> =
            self.candidates.values().filter(|candidate| candidate.state == State::Answered).take(self.k).collect();
        LookupResult {
            closest: answered.iter().map(|candidate| candidate.id).collect(),
            hops: answered.first().map_or(0, |nearest| u32::from(nearest.depth) + 1),
            queried: self.queried,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lookup over a static network where each node knows every other: finds the true k closest.
    #[test]
    fn a_lookup_over_full_knowledge_finds_the_true_closest() {
        let nodes: Vec<NodeId> = (0..200).map(NodeId::for_index).collect();
        let target = Key(*blake3::hash(b"target").as_bytes());
        let mut truth = nodes.clone();
        truth.sort_by_key(|node| target.distance(&Key::from(node)));
        let mut lookup = Lookup::new(target, &nodes[..3], 20, 3, 1, 200);
        let mut rounds = 0;
        while !lookup.is_done() {
            rounds += 1;
            assert!(rounds < 100, "the lookup does not end");
            for peer in lookup.next_queries() {
                // Each peer answers with the 20 closest to the target it knows (all nodes).
                let mut known: Vec<NodeId> = nodes.iter().copied().filter(|node| *node != peer).collect();
                known.sort_by_key(|node| target.distance(&Key::from(node)));
                known.truncate(20);
                lookup.answered(&peer, &known);
            }
        }
        assert_eq!(lookup.result().closest, truth[..20].to_vec());
    }

    #[test]
    fn failed_peers_are_left_out_and_a_lookup_without_answers_ends_empty() {
        let nodes: Vec<NodeId> = (0..5).map(NodeId::for_index).collect();
        let mut lookup = Lookup::new(Key([0; 32]), &nodes, 20, 3, 1, 200);
        while !lookup.is_done() {
            for peer in lookup.next_queries() {
                lookup.failed(&peer);
            }
        }
        let result = lookup.result();
        assert!(result.closest.is_empty());
        assert_eq!((result.hops, result.queried), (0, 5));
    }

    #[test]
    fn disjoint_paths_never_share_a_peer() {
        let nodes: Vec<NodeId> = (0..50).map(NodeId::for_index).collect();
        let mut lookup = Lookup::new(Key([3; 32]), &nodes[..6], 4, 2, 3, 100);
        let mut asked = std::collections::BTreeSet::new();
        while !lookup.is_done() {
            for peer in lookup.next_queries() {
                assert!(asked.insert(peer), "{peer} asked twice");
                lookup.answered(&peer, &nodes);
            }
        }
    }
}
