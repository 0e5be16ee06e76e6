//! Cutting entries into messages that respect the byte budget.

/// Splits slot-ordered `items` into runs of consecutive slots, each at most `entries_max` items and
/// at most `bytes_max` bytes by `size` (an item larger than `bytes_max` on its own makes a run of
/// one: the entry limit keeps every entry below the budget, so that only happens when a caller
/// checks nothing).
pub fn contiguous_runs<T>(
    items: Vec<(u64, T)>,
    entries_max: usize,
    bytes_max: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<Vec<(u64, T)>> {
    let mut runs: Vec<Vec<(u64, T)>> = Vec::new();
    let mut run_bytes = 0_usize;
    for (slot, item) in items {
        let bytes = size(&item);
        let extend = runs.last().is_some_and(|run| {
            run.len() < entries_max
                && run_bytes.saturating_add(bytes) <= bytes_max
                && run.last().is_some_and(|(last, _)| last.checked_add(1) == Some(slot))
        });
        if extend {
            run_bytes += bytes;
            if let Some(run) = runs.last_mut() {
                run.push((slot, item));
            }
        } else {
            run_bytes = bytes;
            runs.push(vec![(slot, item)]);
        }
    }
    runs
}

/// How many of `sizes` (in order) fit `entries_max` and `bytes_max`: at least one when there is one.
pub fn prefix_within(sizes: impl IntoIterator<Item = usize>, entries_max: usize, bytes_max: usize) -> usize {
    let mut taken = 0;
    let mut bytes = 0_usize;
    for size in sizes {
        if taken >= entries_max || (taken > 0 && bytes.saturating_add(size) > bytes_max) {
            break;
        }
        bytes = bytes.saturating_add(size);
        taken += 1;
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_break_at_gaps_counts_and_bytes() {
        let items: Vec<(u64, usize)> = vec![(1, 10), (2, 10), (3, 10), (5, 10), (6, 50), (7, 5)];
        let runs = contiguous_runs(items, 2, 25, |size| *size);
        let slots: Vec<Vec<u64>> = runs.iter().map(|run| run.iter().map(|(slot, _)| *slot).collect()).collect();
        assert_eq!(slots, vec![vec![1, 2], vec![3], vec![5], vec![6], vec![7]]);
        assert_eq!(prefix_within([10, 10, 10], 5, 25), 2);
        assert_eq!(prefix_within([100, 1], 5, 25), 1, "one item always fits");
        assert_eq!(prefix_within([1, 1, 1], 2, 25), 2);
        assert_eq!(prefix_within(std::iter::empty(), 2, 25), 0);
    }
}
