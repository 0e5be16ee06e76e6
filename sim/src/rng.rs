//! Seeded random streams, and the choice tapes that record and replay them.
//!
//! Every random choice of a run is drawn from a stream derived from the seed and a name (`"net"`,
//! `"node/3"`, `"disk/3"`, `"workload/client/0"`), so that adding a new consumer of randomness does
//! not reshuffle the draws of the existing ones.
//!
//! A stream can also be *taped*, as Hypothesis does: every 64-bit draw it makes is recorded, and a
//! run can replay a stream from a (possibly edited) tape instead of its generator, with draws past
//! the tape's end falling back to zero. The shrinker edits tapes (deletes, zeroes and minimises
//! spans of draws) without knowing what the draws mean, which works because the helpers every draw
//! goes through ([`pangea_core::random`]) make zero the simplest choice: the lowest value, the first
//! option, the shortest duration, and "no" for every chance.

use rand_chacha::ChaCha8Rng;
use rand_core::{Infallible, Rng, SeedableRng, TryRng};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// The pinned generator of every simulated stream: ChaCha with 8 rounds, whose output is fixed by
/// its specification, not by a library's choice of default.
pub type StreamGenerator = ChaCha8Rng;

/// The most draws one stream's tape holds in a replay file; a longer tape is refused as input.
pub const TAPE_DRAWS_MAX: usize = 1 << 22;

/// Tapes of draws, by stream name: what a run recorded, or what a run replays in place of the
/// named streams' generators.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Choices(pub BTreeMap<String, Vec<u64>>);

impl Choices {
    /// True when no stream is taped.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Draws on every tape.
    #[must_use]
    pub fn draws(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }

    /// Every tape without its trailing zeros, which replay the same (draws past a tape's end are
    /// zero); tapes left empty stay, since an empty tape still replaces its stream.
    #[must_use]
    pub fn trimmed(mut self) -> Choices {
        for tape in self.0.values_mut() {
            let kept = tape.iter().rposition(|draw| *draw != 0).map_or(0, |last| last + 1);
            tape.truncate(kept);
        }
        self
    }

    /// The first stream whose tape is longer than [`TAPE_DRAWS_MAX`], if one is.
    #[must_use]
    pub fn oversized(&self) -> Option<&str> {
        self.0.iter().find(|(_, tape)| tape.len() > TAPE_DRAWS_MAX).map(|(name, _)| name.as_str())
    }
}

/// Where the draws a generator made for one value begin on its stream's tape (see
/// [`SimRng::begin_span`]): what lets the shrinker remove a whole value, such as one client
/// operation, without shifting the draws of the values after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The index on the tape of the span's first draw; the span ends where the next one begins.
    pub start: usize,
    /// What the generator labelled it with (the kit's clients: the virtual time in nanoseconds at
    /// which the operation was drawn, which is when it is invoked).
    pub label: u64,
    /// What the value is about, as a checker's evidence prints it ([`SimRng::tag_span`]): the log
    /// workload tags each operation with its key.
    pub tag: Option<String>,
}

/// What a recording run's streams drew.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Every stream's draws.
    pub choices: Choices,
    /// The spans marked on each stream that marked any, in order.
    pub spans: BTreeMap<String, Vec<Span>>,
}

impl Recorded {
    /// Stream `name`'s draws and spans (empty when it recorded none).
    #[must_use]
    pub fn stream(&self, name: &str) -> (&[u64], &[Span]) {
        let draws = self.choices.0.get(name).map_or(&[][..], Vec::as_slice);
        let spans = self.spans.get(name).map_or(&[][..], Vec::as_slice);
        (draws, spans)
    }
}

/// One stream's draws and spans, as recorded.
#[derive(Debug, Default)]
struct Tape {
    draws: Vec<u64>,
    spans: Vec<Span>,
}

/// Where one stream's draws are recorded.
type Recording = Rc<RefCell<Tape>>;

/// What a run's streams replay and record; shared by every stream of the run.
#[derive(Debug, Default)]
struct ChoiceBook {
    /// Tapes that replace their streams' generators.
    replay: BTreeMap<String, Rc<[u64]>>,
    /// Where each stream's draws are recorded, when recording.
    recorded: Option<RefCell<BTreeMap<String, Recording>>>,
}

/// Derives named, independent streams from one seed, optionally replaying and recording tapes.
#[derive(Clone, Debug)]
pub struct SeedStreams {
    seed: u64,
    book: Rc<ChoiceBook>,
}

impl SeedStreams {
    /// The streams of `seed`, each from its generator, none recorded.
    #[must_use]
    pub fn new(seed: u64) -> SeedStreams {
        SeedStreams { seed, book: Rc::new(ChoiceBook::default()) }
    }

    /// The streams of `seed`, where the streams `replay` names draw from their tapes (then zeros)
    /// instead of their generators; with `record`, every stream's draws are kept for
    /// [`SeedStreams::recorded`].
    #[must_use]
    pub fn taped(seed: u64, replay: &Choices, record: bool) -> SeedStreams {
        let replay = replay.0.iter().map(|(name, tape)| (name.clone(), Rc::from(tape.as_slice()))).collect();
        let recorded = record.then(|| RefCell::new(BTreeMap::new()));
        SeedStreams { seed, book: Rc::new(ChoiceBook { replay, recorded }) }
    }

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream called `name`: from its tape if one replaces it, else from a generator keyed by
    /// blake3(seed, name). A name is recorded once: a second stream of the same name (which
    /// repeats the first one's draws) is not recorded again.
    #[must_use]
    pub fn stream(&self, name: &str) -> SimRng {
        let source = match self.book.replay.get(name) {
            Some(tape) => Source::Tape { tape: Rc::clone(tape), next: 0 },
            None => Source::Generator(Box::new(StreamGenerator::from_seed(self.key(name)))),
        };
        let record = self.book.recorded.as_ref().and_then(|recorded| {
            let mut recorded = recorded.borrow_mut();
            if recorded.contains_key(name) {
                return None;
            }
            let tape = Rc::new(RefCell::new(Tape::default()));
            recorded.insert(name.to_owned(), Rc::clone(&tape));
            Some(tape)
        });
        SimRng { source, record }
    }

    /// The draws every stream made so far, and the spans marked on them (empty unless recording).
    #[must_use]
    pub fn recorded(&self) -> Recorded {
        let Some(recorded) = &self.book.recorded else { return Recorded::default() };
        let recorded = recorded.borrow();
        let choices =
            Choices(recorded.iter().map(|(name, tape)| (name.clone(), tape.borrow().draws.clone())).collect());
        let spans = recorded
            .iter()
            .filter(|(_, tape)| !tape.borrow().spans.is_empty())
            .map(|(name, tape)| (name.clone(), tape.borrow().spans.clone()))
            .collect();
        Recorded { choices, spans }
    }

    /// A 64-bit value fixed by the seed and `name`, for choices that must not depend on the order of
    /// other draws (for example whether a buggify site is enabled). Not taped.
    #[must_use]
    pub fn fixed_u64(&self, name: &str) -> u64 {
        let key = self.key(name);
        u64::from_le_bytes([key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7]])
    }

    fn key(&self, name: &str) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"pangea/sim-stream/v1");
        hasher.update(&self.seed.to_le_bytes());
        hasher.update(name.as_bytes());
        *hasher.finalize().as_bytes()
    }
}

/// Where a stream's draws come from.
#[derive(Clone, Debug)]
enum Source {
    /// Boxed: a generator is large beside a tape.
    Generator(Box<StreamGenerator>),
    Tape {
        tape: Rc<[u64]>,
        next: usize,
    },
}

/// One named stream of a run: a generator or a tape, recorded if the run records.
///
/// Each `next_u64` and `next_u32` is one draw (a `u32` keeps the low half of a taped draw); a
/// `fill_bytes` of `n` bytes is `ceil(n / 8)` draws, little-endian.
#[derive(Clone, Debug)]
pub struct SimRng {
    source: Source,
    record: Option<Recording>,
}

impl SimRng {
    /// The next draw of the tape (zero past its end), or `None` for a generator.
    fn taped_draw(&mut self) -> Option<u64> {
        match &mut self.source {
            Source::Generator(_) => None,
            Source::Tape { tape, next } => {
                let draw = tape.get(*next).copied().unwrap_or(0);
                *next += 1;
                Some(draw)
            }
        }
    }

    fn keep(&self, draw: u64) {
        if let Some(record) = &self.record {
            record.borrow_mut().draws.push(draw);
        }
    }

    /// Marks that the draws from here on generate one new value labelled `label` (one client
    /// operation, say), until the next mark: recorded as a [`Span`] when the run records, nothing
    /// otherwise. A generator that marks spans should draw [`pangea_core::random::present`] first
    /// in each, so that a span cut down to one zero draw leaves its value out.
    pub fn begin_span(&mut self, label: u64) {
        if let Some(record) = &self.record {
            let mut record = record.borrow_mut();
            let start = record.draws.len();
            record.spans.push(Span { start, label, tag: None });
        }
    }

    /// Tags the span begun last with what its value is about (the key an operation is on, as the
    /// checkers print keys), when the run records; nothing otherwise.
    pub fn tag_span(&mut self, tag: impl FnOnce() -> String) {
        if let Some(record) = &self.record
            && let Some(span) = record.borrow_mut().spans.last_mut()
        {
            span.tag = Some(tag());
        }
    }
}

impl TryRng for SimRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let draw = match &mut self.source {
            Source::Generator(generator) => generator.next_u32(),
            Source::Tape { .. } => self.taped_draw().unwrap_or(0) as u32,
        };
        self.keep(u64::from(draw));
        Ok(draw)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let draw = match &mut self.source {
            Source::Generator(generator) => generator.next_u64(),
            Source::Tape { .. } => self.taped_draw().unwrap_or(0),
        };
        self.keep(draw);
        Ok(draw)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        if let Source::Generator(generator) = &mut self.source {
            generator.fill_bytes(dst);
        } else {
            for chunk in dst.chunks_mut(8) {
                let draw = self.taped_draw().unwrap_or(0).to_le_bytes();
                chunk.copy_from_slice(&draw[..chunk.len()]);
            }
        }
        if self.record.is_some() {
            for chunk in dst.chunks(8) {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                self.keep(u64::from_le_bytes(word));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_stable_and_independent() {
        let streams = SeedStreams::new(42);
        assert_eq!(streams.stream("net").next_u64(), streams.stream("net").next_u64());
        assert_ne!(streams.stream("net").next_u64(), streams.stream("disk/0").next_u64());
        assert_ne!(SeedStreams::new(43).stream("net").next_u64(), streams.stream("net").next_u64());
    }

    #[test]
    fn chacha8_output_is_pinned() {
        // If this changes, every recorded seed replays differently: that needs a stream version bump.
        let first = SeedStreams::new(0).stream("pin").next_u64();
        assert_eq!(first, SeedStreams::new(0).stream("pin").next_u64());
        // The ChaCha8 keystream for the all-zero key and nonce starts 3e 00 ef 2f (the published
        // reference vector), read as a little-endian word.
        let mut zero = StreamGenerator::from_seed([0; 32]);
        assert_eq!(zero.next_u32(), 0x2fef_003e);
    }

    fn draw_all(rng: &mut SimRng) -> (u64, u32, [u8; 12], u64) {
        let mut bytes = [0; 12];
        let first = rng.next_u64();
        let second = rng.next_u32();
        rng.fill_bytes(&mut bytes);
        (first, second, bytes, rng.next_u64())
    }

    #[test]
    fn recording_changes_no_draw_and_its_tape_replays_them() {
        let plain = draw_all(&mut SeedStreams::new(7).stream("net"));
        let recording = SeedStreams::taped(7, &Choices::default(), true);
        assert_eq!(draw_all(&mut recording.stream("net")), plain);
        let tapes = recording.recorded().choices;
        assert_eq!(tapes.0["net"].len(), 5, "a u64, a u32, 12 bytes as two draws, a u64");
        let replaying = SeedStreams::taped(99, &tapes, true);
        assert_eq!(draw_all(&mut replaying.stream("net")), plain, "the tape, not seed 99, decides");
        assert_eq!(replaying.recorded().choices, tapes, "a replayed run records the same tape");
    }

    #[test]
    fn draws_past_a_tape_are_zero_and_other_streams_keep_their_generator() {
        let tapes = Choices(BTreeMap::from([("net".to_owned(), vec![5])]));
        let streams = SeedStreams::taped(7, &tapes, false);
        let mut net = streams.stream("net");
        assert_eq!((net.next_u64(), net.next_u64(), net.next_u32()), (5, 0, 0));
        assert_eq!(streams.stream("disk/0").next_u64(), SeedStreams::new(7).stream("disk/0").next_u64());
        assert!(streams.recorded().choices.is_empty());
    }

    #[test]
    fn a_name_is_recorded_once_and_trimming_drops_only_trailing_zeros() {
        let streams = SeedStreams::taped(1, &Choices::default(), true);
        let _ = streams.stream("a").next_u64();
        let _ = streams.stream("a").next_u64();
        assert_eq!(streams.recorded().choices.0["a"].len(), 1);
        let tapes = Choices(BTreeMap::from([("a".to_owned(), vec![0, 3, 0, 0]), ("b".to_owned(), vec![0])]));
        assert_eq!(tapes.trimmed().0, BTreeMap::from([("a".to_owned(), vec![0, 3]), ("b".to_owned(), vec![])]));
    }

    #[test]
    fn spans_mark_where_values_begin_only_when_recording() {
        let streams = SeedStreams::taped(3, &Choices::default(), true);
        let mut work = streams.stream("work");
        work.begin_span(10);
        let _ = (work.next_u64(), work.next_u64());
        work.begin_span(20);
        let _ = work.next_u64();
        work.tag_span(|| "k1".to_owned());
        let _ = streams.stream("quiet").next_u64();
        let recorded = streams.recorded();
        let spans =
            vec![Span { start: 0, label: 10, tag: None }, Span { start: 2, label: 20, tag: Some("k1".to_owned()) }];
        assert_eq!(
            recorded.spans,
            BTreeMap::from([("work".to_owned(), spans)]),
            "no spans for a stream that marks none"
        );
        let mut plain = SeedStreams::new(3).stream("work");
        plain.begin_span(10);
        assert_eq!(plain.next_u64(), recorded.choices.0["work"][0], "a mark draws nothing");
    }
}
