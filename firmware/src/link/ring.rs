//! A fixed-size byte queue: the chip's UART receive interrupt fills it, the main loop drains it,
//! so bytes that arrive while the engine is busy (an RSA signature) are kept, not overrun.
//!
//! Hand-written rather than taken from `heapless` to keep the engine's dependencies to the ones
//! the workspace already locks; it is two indices over an array, tested below. Bytes are wiped
//! as they are taken out: they may be parts of a key.
use zeroize::Zeroize;

/// A first-in first-out queue of at most `N` bytes.
pub struct ByteRing<const N: usize> {
    buf: [u8; N],
    /// Index of the oldest byte.
    head: usize,
    len: usize,
}

impl<const N: usize> Default for ByteRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ByteRing<N> {
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            head: 0,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left, in bytes.
    pub fn free(&self) -> usize {
        N - self.len
    }

    /// Appends as many bytes of `data` as fit; returns how many (the rest is the caller's to
    /// count as lost).
    pub fn push(&mut self, data: &[u8]) -> usize {
        let take = data.len().min(self.free());
        let tail = (self.head + self.len) % N.max(1);
        let first = take.min(N - tail);
        self.buf[tail..tail + first].copy_from_slice(&data[..first]);
        self.buf[..take - first].copy_from_slice(&data[first..take]);
        self.len += take;
        take
    }

    /// Moves the oldest bytes into `out`, wiping them from the ring; returns how many.
    pub fn pop(&mut self, out: &mut [u8]) -> usize {
        let take = out.len().min(self.len);
        let first = take.min(N - self.head);
        out[..first].copy_from_slice(&self.buf[self.head..self.head + first]);
        out[first..take].copy_from_slice(&self.buf[..take - first]);
        self.buf[self.head..self.head + first].zeroize();
        self.buf[..take - first].zeroize();
        self.head = (self.head + take) % N.max(1);
        self.len -= take;
        take
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::vec::Vec;

    use super::ByteRing;

    #[test]
    fn keeps_order_across_the_wrap() {
        let mut ring = ByteRing::<8>::new();
        assert_eq!(ring.push(&[1, 2, 3, 4, 5, 6]), 6);
        let mut out = [0u8; 4];
        assert_eq!(ring.pop(&mut out), 4);
        assert_eq!(out, [1, 2, 3, 4]);
        // Wraps: tail at 6, two bytes to the end, four at the start.
        assert_eq!(ring.push(&[7, 8, 9, 10, 11, 12]), 6);
        assert_eq!(ring.len(), 8);
        let mut out = [0u8; 10];
        assert_eq!(ring.pop(&mut out), 8);
        assert_eq!(&out[..8], &[5, 6, 7, 8, 9, 10, 11, 12]);
        assert!(ring.is_empty());
    }

    #[test]
    fn taken_bytes_are_wiped_from_the_ring() {
        let mut ring = ByteRing::<8>::new();
        let mut out = [0u8; 6];
        ring.push(&[0xaa; 6]);
        ring.pop(&mut out);
        // Wraps: two bytes at the end, three at the start; take four of them.
        ring.push(&[0xbb; 5]);
        ring.pop(&mut out[..4]);
        assert_eq!(ring.buf, [0, 0, 0xbb, 0, 0, 0, 0, 0]);
        ring.pop(&mut out);
        assert_eq!(ring.buf, [0; 8]);
    }

    #[test]
    fn a_full_ring_takes_only_what_fits() {
        let mut ring = ByteRing::<4>::new();
        assert_eq!(ring.push(&[1, 2, 3]), 3);
        assert_eq!(ring.push(&[4, 5, 6]), 1);
        assert_eq!(ring.free(), 0);
        assert_eq!(ring.push(&[7]), 0);
        let mut out = [0u8; 8];
        assert_eq!(ring.pop(&mut out), 4);
        assert_eq!(&out[..4], &[1, 2, 3, 4]);
        assert_eq!(ring.pop(&mut out), 0);
    }

    /// Random pushes and pops against `VecDeque`, which is not our code.
    #[test]
    fn behaves_like_a_vecdeque_bounded_to_n() {
        let mut ring = ByteRing::<13>::new();
        let mut model = VecDeque::new();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut counter = 0u8;
        for _ in 0..10_000 {
            let n = (next() % 9) as usize;
            if next() % 2 == 0 {
                let data: Vec<u8> = (0..n)
                    .map(|_| {
                        counter = counter.wrapping_add(1);
                        counter
                    })
                    .collect();
                let taken = ring.push(&data);
                assert_eq!(taken, n.min(13 - model.len()));
                model.extend(&data[..taken]);
            } else {
                let mut out = std::vec![0u8; n];
                let got = ring.pop(&mut out);
                let expected: Vec<u8> = model.drain(..n.min(model.len())).collect();
                assert_eq!(&out[..got], &expected[..]);
            }
            assert_eq!(ring.len(), model.len());
        }
    }
}
