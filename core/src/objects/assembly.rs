//! Bytes that arrive in pieces (a shard, a sealed chunk), in any order and perhaps twice, put back
//! together. Pieces have one fixed size (the last may be shorter), so a piece is known by its
//! offset, and a duplicate costs nothing.

use serde::{Deserialize, Serialize};

/// Cutting `total` bytes into pieces of at most `piece` bytes: each piece's offset and length.
pub fn pieces(total: u32, piece: u32) -> impl Iterator<Item = (u32, u32)> {
    let piece = piece.max(1);
    let count = total.div_ceil(piece).max(1);
    (0..count).map(move |index| {
        let offset = index * piece;
        (offset, piece.min(total - offset.min(total)))
    })
}

/// A whole being put together from its pieces.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Assembly {
    total: u32,
    piece: u32,
    #[serde(with = "serde_bytes")]
    bytes: Vec<u8>,
    got: Vec<bool>,
    missing: u32,
}

/// A piece that cannot belong to the whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfRange;

impl Assembly {
    /// An empty whole of `total` bytes, arriving in pieces of `piece` bytes.
    #[must_use]
    pub fn new(total: u32, piece: u32) -> Assembly {
        let piece = piece.max(1);
        let count = total.div_ceil(piece).max(1) as usize;
        Assembly { total, piece, bytes: vec![0; total as usize], got: vec![false; count], missing: count as u32 }
    }

    /// The whole's length.
    #[must_use]
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Bytes received so far.
    #[must_use]
    pub fn received(&self) -> u32 {
        let pieces_got = self.got.len() as u32 - self.missing;
        (pieces_got * self.piece).min(self.total)
    }

    /// Adds a piece; true when the whole is complete. A piece not at a piece boundary, or of the
    /// wrong length, is refused.
    pub fn add(&mut self, offset: u32, bytes: &[u8]) -> Result<bool, OutOfRange> {
        if !offset.is_multiple_of(self.piece) || offset > self.total {
            return Err(OutOfRange);
        }
        let index = (offset / self.piece) as usize;
        let expected = self.piece.min(self.total - offset) as usize;
        if index >= self.got.len() || bytes.len() != expected {
            return Err(OutOfRange);
        }
        if !self.got[index] {
            self.bytes[offset as usize..offset as usize + expected].copy_from_slice(bytes);
            self.got[index] = true;
            self.missing -= 1;
        }
        Ok(self.missing == 0)
    }

    /// True when every piece is in.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.missing == 0
    }

    /// The whole, once complete.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_in_any_order_and_twice_make_the_whole() {
        let whole: Vec<u8> = (0..=255).cycle().take(1000).collect();
        let cut: Vec<(u32, u32)> = pieces(1000, 300).collect();
        assert_eq!(cut, vec![(0, 300), (300, 300), (600, 300), (900, 100)]);
        let mut assembly = Assembly::new(1000, 300);
        for (offset, len) in cut.iter().rev().chain(&cut) {
            let done = assembly.add(*offset, &whole[*offset as usize..(*offset + *len) as usize]).unwrap();
            assert_eq!(done, assembly.is_complete());
        }
        assert_eq!(assembly.into_bytes(), whole);
    }

    #[test]
    fn misplaced_or_misshapen_pieces_are_refused() {
        let mut assembly = Assembly::new(1000, 300);
        assert_eq!(assembly.add(10, &[0; 300]), Err(OutOfRange));
        assert_eq!(assembly.add(0, &[0; 299]), Err(OutOfRange));
        assert_eq!(assembly.add(1200, &[0; 300]), Err(OutOfRange));
        assert_eq!(assembly.add(900, &[0; 300]), Err(OutOfRange));
        assert_eq!(assembly.received(), 0);
    }

    #[test]
    fn an_empty_whole_is_one_empty_piece() {
        assert_eq!(pieces(0, 10).collect::<Vec<_>>(), vec![(0, 0)]);
        let mut assembly = Assembly::new(0, 10);
        assert_eq!(assembly.add(0, &[]), Ok(true));
    }
}
