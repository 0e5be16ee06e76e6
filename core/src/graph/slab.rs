//! Slots indexed by number, kept in pages of [`PAGE_SLOTS`].
//!
//! The graph never reuses an id, so the numbers handed out only grow. Kept in one flat `Vec`,
//! every removed entity or edge would cost its slot for ever, and a snapshot image that claims
//! billions of slots (a damaged disk, a hostile peer; found by the `metadata_images` fuzz target)
//! would make the reader allocate them all. Here a page is materialised only up to its highest
//! slot ever set, and given back when its last live slot is vacated: memory follows the live
//! slots, and the numbers handed out cost only the page table (24 bytes a page).

/// A slot kind: what a vacant slot holds, and how to tell.
pub trait Slot: Sized {
    /// A vacant slot.
    fn vacant() -> Self;
    /// Whether this slot is vacant.
    fn is_vacant(&self) -> bool;
}

/// Slots in a page (a power of two).
pub const PAGE_SLOTS: usize = 1 << PAGE_SHIFT;
const PAGE_SHIFT: u32 = 12;
const SLOT_MASK: u32 = PAGE_SLOTS as u32 - 1;

/// Numbered slots in pages. Equality and hashing see the live slots and the count handed out,
/// not how the pages happen to be laid out.
#[derive(Clone, Debug)]
pub struct Slab<T> {
    /// Per page, its slots from its first up to the highest set since it was last empty.
    pages: Vec<Vec<T>>,
    /// Per page, how many of its slots are live.
    live: Vec<u32>,
    /// Slots handed out: live, vacant, or never materialised.
    len: u32,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { pages: Vec::new(), live: Vec::new(), len: 0 }
    }
}

/// The page of `slot` and its place there.
fn place(slot: u32) -> (usize, usize) {
    ((slot >> PAGE_SHIFT) as usize, (slot & SLOT_MASK) as usize)
}

impl<T: Slot> Slab<T> {
    /// Slots handed out (live or vacant).
    #[must_use]
    pub fn handed_out(&self) -> u32 {
        self.len
    }

    /// Counts `len` slots as handed out (reading an image back), without materialising any.
    pub fn hand_out(&mut self, len: u32) {
        self.len = self.len.max(len);
    }

    /// The live slot `slot`.
    #[inline]
    #[must_use]
    pub fn get(&self, slot: u32) -> Option<&T> {
        let (page, at) = place(slot);
        self.pages.get(page)?.get(at).filter(|value| !value.is_vacant())
    }

    /// The live slot `slot`, to change it (not to vacate it: that is [`Slab::vacate`]).
    #[must_use]
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut T> {
        let (page, at) = place(slot);
        self.pages.get_mut(page)?.get_mut(at).filter(|value| !value.is_vacant())
    }

    /// Puts `value` (not vacant) in `slot`, which counts as handed out from then on.
    pub fn put(&mut self, slot: u32, value: T) {
        debug_assert!(!value.is_vacant());
        let (page, at) = place(slot);
        if self.pages.len() <= page {
            self.pages.resize_with(page + 1, Vec::new);
            self.live.resize(page + 1, 0);
        }
        let slots = &mut self.pages[page];
        if slots.len() <= at {
            slots.resize_with(at + 1, T::vacant);
        }
        if slots[at].is_vacant() {
            self.live[page] += 1;
        }
        slots[at] = value;
        self.len = self.len.max(slot + 1);
    }

    /// Puts `value` in the next slot; answers it. The caller keeps the count below `u32::MAX`.
    pub fn push(&mut self, value: T) -> u32 {
        let slot = self.len;
        self.put(slot, value);
        slot
    }

    /// Vacates the live slot `slot`; answers what it held. A page left with no live slot is given
    /// back.
    pub fn vacate(&mut self, slot: u32) -> Option<T> {
        let (page, at) = place(slot);
        let value = self.pages.get_mut(page)?.get_mut(at).filter(|value| !value.is_vacant())?;
        let value = std::mem::replace(value, T::vacant());
        self.live[page] -= 1;
        if self.live[page] == 0 {
            self.pages[page] = Vec::new();
            while self.live.last() == Some(&0) {
                self.live.pop();
                self.pages.pop();
            }
        }
        Some(value)
    }

    /// Every live slot with its number, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.pages.iter().enumerate().flat_map(|(page, slots)| {
            let first = (page as u32) << PAGE_SHIFT;
            slots
                .iter()
                .enumerate()
                .filter(|(_, value)| !value.is_vacant())
                .map(move |(at, value)| (first + at as u32, value))
        })
    }

    /// Bytes on the heap: the page table, the pages' capacity, and `owned` bytes per live slot.
    pub fn heap_bytes(&self, owned: impl Fn(&T) -> usize) -> usize {
        self.pages.capacity() * size_of::<Vec<T>>()
            + self.live.capacity() * size_of::<u32>()
            + self.pages.iter().map(|slots| slots.capacity() * size_of::<T>()).sum::<usize>()
            + self.iter().map(|(_, value)| owned(value)).sum::<usize>()
    }
}

impl<T: Slot + PartialEq> PartialEq for Slab<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Slot + Eq> Eq for Slab<T> {}

impl<T: Slot + std::hash::Hash> std::hash::Hash for Slab<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.len.hash(state);
        for (slot, value) in self.iter() {
            slot.hash(state);
            value.hash(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{PAGE_SLOTS, Slab, Slot};

    impl Slot for u64 {
        fn vacant() -> u64 {
            0
        }

        fn is_vacant(&self) -> bool {
            *self == 0
        }
    }

    #[test]
    fn slots_live_and_vacant_across_pages() {
        let mut slab = Slab::<u64>::default();
        for value in 1..=(PAGE_SLOTS as u64 * 2 + 5) {
            assert_eq!(slab.push(value), value as u32 - 1);
        }
        assert_eq!(slab.get(4096), Some(&4097));
        assert_eq!(slab.vacate(4096), Some(4097));
        assert_eq!(slab.vacate(4096), None);
        assert_eq!(slab.get(4096), None);
        assert_eq!(slab.iter().count(), PAGE_SLOTS * 2 + 4);
        // Emptying the middle page gives it back; the count handed out stays.
        for slot in PAGE_SLOTS as u32..2 * PAGE_SLOTS as u32 {
            slab.vacate(slot);
        }
        assert!(slab.pages[1].is_empty());
        assert_eq!(slab.handed_out(), PAGE_SLOTS as u32 * 2 + 5);
        assert_eq!(slab.push(7), PAGE_SLOTS as u32 * 2 + 5);
    }

    #[test]
    fn a_huge_count_handed_out_costs_nothing_and_equality_ignores_layout() {
        let mut sparse = Slab::<u64>::default();
        sparse.hand_out(u32::MAX - 1);
        assert_eq!(sparse.heap_bytes(|_| 0), 0);
        sparse.put(u32::MAX - 2, 9);
        assert_eq!(sparse.get(u32::MAX - 2), Some(&9));
        assert!(sparse.heap_bytes(|_| 0) < 40 << 20);

        let mut a = Slab::<u64>::default();
        a.push(1);
        a.push(2);
        a.vacate(1);
        let mut b = Slab::<u64>::default();
        b.put(0, 1);
        b.hand_out(2);
        assert_eq!(a, b);
        b.vacate(0);
        assert_ne!(a, b);
        assert!(b.pages.is_empty());
    }
}
