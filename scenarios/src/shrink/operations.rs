//! Operation-aligned shrinking, as Hypothesis deletes whole generated values: a client marks the
//! draws of each operation as a span of its stream ([`pangea_sim::SimRng::begin_span`], labelled
//! with the virtual time it was drawn, which is when it is invoked) and draws
//! [`pangea_core::random::present`] first, so that a span cut to one zero draw is an operation left
//! out, in whose place the client pauses. Cutting a span leaves the draws of the operations after
//! it as they were; deleting draws blindly would hand them to the wrong operations.
//!
//! The kit's model clients and the log scenarios' workload mark their operations, so this works for
//! every scenario built on the kit, with no code of the scenario's own.

use super::Shrinker;
use crate::report::RunOptions;
use pangea_sim::{Choices, Span};
use std::collections::BTreeSet;

/// The most blocks one level of [`Shrinker::fewer_operations`] splits a stream's operations into:
/// bounds a level's runs on a client of hundreds of operations.
const OPERATION_BLOCKS_MAX: usize = 16;

impl Shrinker<'_> {
    /// Only the operations the first violation's evidence cites are issued (matched by their
    /// invocation times), every other operation a client drew left out; else only those on the
    /// keys it cites (for clients that tag their operations with keys); else only those from the
    /// first cited one on.
    pub(super) fn evidence_operations(&mut self) {
        let Some(first) = self.best.first_violation() else { return };
        let cited: BTreeSet<u64> = first.involved.operations.iter().map(|op| op.invoked_at.as_nanos()).collect();
        let keys = first.involved.keys.clone();
        let Some(&earliest) = cited.first() else { return };
        // Off the cited keys: a span tagged with another key, or with none.
        let off_keys = |span: &Span| span.tag.as_ref().is_none_or(|key| !keys.contains(key));
        let _ = self.leave_out(|span| !cited.contains(&span.label), "the evidence cites")
            || (!keys.is_empty() && self.leave_out(off_keys, "on the keys it cites"))
            || self.leave_out(|span| span.label < earliest, "from the first the evidence cites on");
    }

    /// Tries the run with every issued operation whose span `out` picks left out; `kept` says
    /// which are kept, for a person.
    fn leave_out(&mut self, out: impl Fn(&Span) -> bool, kept: &str) -> bool {
        let Some(recorded) = &self.best.recorded_choices else { return false };
        let mut choices = self.options.choices.clone().unwrap_or_default();
        let (mut issued_count, mut left_out) = (0, 0);
        for name in recorded.spans.keys() {
            let (tape, spans) = recorded.stream(name);
            let issued = issued_spans(tape, spans);
            let cut: BTreeSet<usize> = issued.iter().copied().filter(|span| out(&spans[*span])).collect();
            issued_count += issued.len();
            if !cut.is_empty() {
                left_out += cut.len();
                choices.0.insert(name.clone(), without_spans(tape, spans, &cut));
            }
        }
        if left_out == 0 || left_out == issued_count {
            return false;
        }
        let candidate = RunOptions { choices: Some(Choices::trimmed(choices)), ..self.options.clone() };
        let kept_count = issued_count - left_out;
        self.attempt(candidate, || format!("only the {kept_count} operation(s) {kept} ({left_out} left out)"))
    }

    /// Leaves out blocks of each client's operations: halves, quarters, ... (at most
    /// [`OPERATION_BLOCKS_MAX`] blocks a level), down to single operations once few are left; the
    /// client with the fewest operations first, each level from its last operation backwards.
    pub(super) fn fewer_operations(&mut self) {
        for name in self.streams_by_operations() {
            let mut block = self.issued(&name).len().div_ceil(2);
            while block > 0 && !self.exhausted() {
                if self.issued(&name).len().div_ceil(block) <= OPERATION_BLOCKS_MAX {
                    let mut end = self.issued(&name).len();
                    while end > 0 && !self.exhausted() {
                        let start = end.saturating_sub(block);
                        let issued = self.issued(&name);
                        end = end.min(issued.len());
                        let cut: BTreeSet<usize> = issued[start.min(end)..end].iter().copied().collect();
                        if !cut.is_empty() {
                            self.cut_spans(&name, &cut, start, end, issued.len());
                        }
                        end = start;
                    }
                }
                block /= 2;
            }
        }
    }

    /// The streams that mark operations, the one with the fewest issued first.
    fn streams_by_operations(&self) -> Vec<String> {
        let Some(recorded) = &self.best.recorded_choices else { return Vec::new() };
        let mut names: Vec<(usize, &String)> =
            recorded.spans.keys().map(|name| (self.issued(name).len(), name)).filter(|(count, _)| *count > 0).collect();
        names.sort();
        names.into_iter().map(|(_, name)| name.clone()).collect()
    }

    /// The spans of stream `name` in the best run so far whose operations were issued.
    fn issued(&self, name: &str) -> Vec<usize> {
        let Some(recorded) = &self.best.recorded_choices else { return Vec::new() };
        let (tape, spans) = recorded.stream(name);
        issued_spans(tape, spans)
    }

    /// Tries the run with stream `name`'s spans `cut` left out (issued operations `start..end` of
    /// `count`).
    fn cut_spans(&mut self, name: &str, cut: &BTreeSet<usize>, start: usize, end: usize, count: usize) -> bool {
        let Some(recorded) = &self.best.recorded_choices else { return false };
        let (tape, spans) = recorded.stream(name);
        let tape = without_spans(tape, spans, cut);
        self.try_tape(name, tape, || format!("stream {name}: operations {start}..{end} of {count} left out"))
    }
}

/// The spans (by index) whose operation was issued: those whose first draw, the
/// [`pangea_core::random::present`] draw, is not zero.
fn issued_spans(tape: &[u64], spans: &[Span]) -> Vec<usize> {
    (0..spans.len()).filter(|span| tape.get(spans[*span].start).is_some_and(|draw| *draw != 0)).collect()
}

/// `tape` with each span in `cut` (by index) cut to one zero draw: its operation left out, the
/// draws before and after it kept.
fn without_spans(tape: &[u64], spans: &[Span], cut: &BTreeSet<usize>) -> Vec<u64> {
    let mut edited = Vec::with_capacity(tape.len());
    let mut from = 0;
    for (index, span) in spans.iter().enumerate() {
        if !cut.contains(&index) {
            continue;
        }
        let start = span.start.min(tape.len());
        let end = spans.get(index + 1).map_or(tape.len(), |next| next.start).min(tape.len());
        edited.extend_from_slice(&tape[from.min(start)..start]);
        edited.push(0);
        from = end.max(start);
    }
    edited.extend_from_slice(&tape[from.min(tape.len())..]);
    edited
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: usize) -> Span {
        Span { start, label: start as u64, tag: None }
    }

    #[test]
    fn a_cut_span_becomes_one_zero_draw_and_the_rest_stay() {
        // A draw before any span (a client's first target), then three operations.
        let tape = [9, 1, 11, 12, 2, 21, 3, 31, 32];
        let spans = [span(1), span(4), span(6)];
        assert_eq!(issued_spans(&tape, &spans), vec![0, 1, 2]);
        let middle = without_spans(&tape, &spans, &BTreeSet::from([1]));
        assert_eq!(middle, vec![9, 1, 11, 12, 0, 3, 31, 32]);
        let ends = without_spans(&tape, &spans, &BTreeSet::from([0, 2]));
        assert_eq!(ends, vec![9, 0, 2, 21, 0]);
        let edited_spans = [span(1), span(2), span(4)];
        assert_eq!(issued_spans(&ends, &edited_spans), vec![1], "the cut ones are not issued");
    }

    #[test]
    fn spans_past_the_tape_are_not_issued_and_cut_to_nothing_new() {
        let tape = [5, 6];
        let spans = [span(0), span(2)];
        assert_eq!(issued_spans(&tape, &spans), vec![0]);
        assert_eq!(without_spans(&tape, &spans, &BTreeSet::from([1])), vec![5, 6, 0]);
    }
}
