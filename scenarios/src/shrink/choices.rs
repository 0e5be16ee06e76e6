//! Choice-sequence shrinking, as Hypothesis does it: every random stream of a run (the network's,
//! each node's and disk's, each client's) is recorded as a tape of draws, and the shrinker edits
//! the tapes without knowing what the draws mean: it cuts a tape short (draws past its end are
//! zero), deletes blocks of draws, zeroes blocks, and moves single draws towards zero. Zero is the
//! simplest choice of every helper draws go through (the lowest value, the first option, the
//! shortest duration, "no" for every chance), so each edit makes the run simpler; it is kept when
//! the run still fails the same way and is no larger.
//!
//! This works for any scenario whose streams come from its run's `SeedStreams` (every scenario
//! built on the kit), with no code of the scenario's own.

use super::Shrinker;
use crate::report::RunOptions;
use pangea_sim::Choices;

/// The most blocks one level of the block passes splits a tape into: bounds a pass's runs on a
/// tape of tens of thousands of draws.
const BLOCKS_MAX: usize = 8;
/// Single draws are moved towards zero only on tapes with at most this many non-zero draws.
const MINIMISED_DRAWS_MAX: usize = 8;

impl Shrinker<'_> {
    /// The first half of the choice passes, on every recorded stream: cut each tape short, then
    /// delete blocks of draws (which moves what a stream decides earlier in the run, so that the
    /// next heal can end the run sooner).
    pub(super) fn shorter_choices(&mut self) {
        for name in self.streams_by_length() {
            self.shorter_tape(&name);
        }
        for name in self.streams_by_length() {
            self.without_blocks(&name, false);
        }
    }

    /// The second half: zero blocks of draws, then move single draws towards zero.
    pub(super) fn smaller_choices(&mut self) {
        for name in self.streams_by_length() {
            self.without_blocks(&name, true);
        }
        for name in self.streams_by_length() {
            self.smaller_draws(&name);
        }
    }

    /// The recorded streams, the shortest tape first (the cheapest to edit, and often the ones a
    /// failure hinges on: a client's operations, the crashes a standing fault draws).
    fn streams_by_length(&self) -> Vec<String> {
        let Some(recorded) = &self.best.recorded_choices else { return Vec::new() };
        let mut names: Vec<(usize, &String)> =
            recorded.choices.0.iter().map(|(name, tape)| (tape.len(), name)).collect();
        names.sort();
        names.into_iter().filter(|(length, _)| *length > 0).map(|(_, name)| name.clone()).collect()
    }

    /// The draws stream `name` made in the best run so far, without trailing zeros.
    fn tape(&self, name: &str) -> Vec<u64> {
        let tape = self.best.recorded_choices.as_ref().and_then(|recorded| recorded.choices.0.get(name));
        let mut tape = tape.cloned().unwrap_or_default();
        let kept = tape.iter().rposition(|draw| *draw != 0).map_or(0, |last| last + 1);
        tape.truncate(kept);
        tape
    }

    /// Tries the run with stream `name` replaying `tape`; keeps it if it fails the same way and is
    /// no larger.
    pub(super) fn try_tape(&mut self, name: &str, tape: Vec<u64>, what: impl FnOnce() -> String) -> bool {
        let mut choices = self.options.choices.clone().unwrap_or_default();
        choices.0.insert(name.to_owned(), tape);
        let candidate = RunOptions { choices: Some(Choices::trimmed(choices)), ..self.options.clone() };
        self.attempt(candidate, what)
    }

    /// Cuts the tape as short as still fails: all zeros, else a bisection on its length.
    fn shorter_tape(&mut self, name: &str) {
        let tape = self.tape(name);
        if tape.is_empty() || self.exhausted() {
            return;
        }
        if self.try_tape(name, Vec::new(), || format!("stream {name}: every draw zero")) {
            return;
        }
        let (mut low, mut high) = (0, tape.len());
        while high - low > (high / 64).max(1) && !self.exhausted() {
            let middle = low + (high - low) / 2;
            let from = high;
            if self.try_tape(name, tape[..middle].to_vec(), || format!("stream {name}: {middle} draws of {from}")) {
                high = middle;
            } else {
                low = middle;
            }
        }
    }

    /// Deletes (or, with `zero`, zeroes) blocks of the tape: halves, quarters, ... down to
    /// single draws once the tape is short, each level from the end backwards.
    fn without_blocks(&mut self, name: &str, zero: bool) {
        let mut block = self.tape(name).len().div_ceil(2);
        while block > 0 && !self.exhausted() {
            let length = self.tape(name).len();
            if length.div_ceil(block) <= BLOCKS_MAX {
                let mut end = length;
                while end > 0 && !self.exhausted() {
                    let start = end.saturating_sub(block);
                    let mut tape = self.tape(name);
                    if end > tape.len() {
                        end = tape.len();
                        continue;
                    }
                    if zero {
                        if tape[start..end].iter().all(|draw| *draw == 0) {
                            end = start;
                            continue;
                        }
                        tape[start..end].fill(0);
                    } else {
                        tape.drain(start..end);
                    }
                    let verb = if zero { "zeroed" } else { "deleted" };
                    self.try_tape(name, tape, || format!("stream {name}: draws {start}..{end} {verb}"));
                    end = start;
                }
            }
            block /= 2;
        }
    }

    /// Moves each non-zero draw towards zero (to zero, else to a right shift of itself), on a tape
    /// with few of them.
    fn smaller_draws(&mut self, name: &str) {
        let tape = self.tape(name);
        let nonzero: Vec<usize> = (0..tape.len()).filter(|index| tape[*index] != 0).collect();
        if nonzero.len() > MINIMISED_DRAWS_MAX {
            return;
        }
        for index in nonzero.into_iter().rev() {
            for shift in [64, 32, 16, 8, 4, 2, 1] {
                if self.exhausted() {
                    return;
                }
                let mut tape = self.tape(name);
                let Some(draw) = tape.get_mut(index) else { break };
                let smaller = draw.checked_shr(shift).unwrap_or(0);
                if smaller == *draw {
                    break;
                }
                *draw = smaller;
                if self.try_tape(name, tape, || format!("stream {name}: draw {index} made {smaller}")) {
                    break;
                }
            }
        }
    }
}
