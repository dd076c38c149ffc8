//! RSA decryption's message decoding, in constant time: EME-OAEP with SHA-256 and MGF1-SHA-256
//! (RFC 8017 section 7.1.2, step 3) and EME-PKCS1-v1_5 (section 7.2.2, step 3).
//!
//! Whether a block is well formed, and where its message starts, are secrets: a device that
//! answered or timed differently by the kind of malformation would be a padding oracle
//! (Bleichenbacher 1998 for PKCS#1 v1.5, Manger 2001 for OAEP). So every check runs on every
//! byte, the results are combined in masks (no early return, no branch or index on a secret),
//! the message is moved to the front of the buffer by a shift whose work does not depend on its
//! length, and the caller branches once, on the combined result, to release it or to answer
//! `DecryptFailed`. The decoding functions are on `.ci/ct-check/functions.txt`.
//!
//! The masks are written out (the BoringSSL `constant_time_*` idiom) rather than taken from
//! `subtle`: its `Choice` passes each byte through a non-inlined barrier, and these loops look at
//! up to 512 bytes for every block.
use zeroize::Zeroize;

use crate::Backend;

/// SHA-256's output length, `hLen`.
const H_LEN: usize = 32;

/// The shortest block OAEP with SHA-256 decodes: `2 hLen + 2` bytes.
pub(crate) const OAEP_MIN_LEN: usize = 2 * H_LEN + 2;

/// The shortest block PKCS#1 v1.5 decodes: `0x00 0x02`, eight bytes of padding, `0x00`.
pub(crate) const PKCS1_MIN_LEN: usize = 11;

/// A decoded block: `good` is all ones when it was well formed (zero otherwise), and the
/// message starts at byte `start`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoded {
    pub(crate) good: u32,
    pub(crate) start: u32,
}

/// All ones when `x` is zero, else zero.
#[inline(always)]
fn mask_zero(x: u32) -> u32 {
    // The top bit of `x | -x` is set exactly when `x` is not zero.
    ((x | x.wrapping_neg()) >> 31).wrapping_sub(1)
}

/// All ones when `a < b` (both below 2^31), else zero.
#[inline(always)]
fn mask_lt(a: u32, b: u32) -> u32 {
    0u32.wrapping_sub(a.wrapping_sub(b) >> 31)
}

/// `a` where `mask` is all ones, `b` where it is zero.
#[inline(always)]
fn select(mask: u32, a: u32, b: u32) -> u32 {
    (a & mask) | (b & !mask)
}

/// Step 3 of EME-OAEP decoding on the unmasked block `em = Y ‖ seed ‖ DB` with
/// `DB = lHash' ‖ PS ‖ 0x01 ‖ M`: `Y` must be zero, `lHash'` must be `lhash`, and the first
/// nonzero byte after it must be `0x01`. `em` is at least [`OAEP_MIN_LEN`] bytes (a public
/// length, checked by the caller).
#[inline(never)]
pub(crate) fn oaep_decode(em: &[u8], lhash: &[u8; 32]) -> Decoded {
    let db = &em[1 + H_LEN..];
    let mut good = mask_zero(u32::from(em[0]));
    let mut diff = 0u32;
    for (&a, &b) in db[..H_LEN].iter().zip(lhash) {
        diff |= u32::from(a ^ b);
    }
    good &= mask_zero(diff);
    // Scanning for the separator: `looking` stays all ones over the zero bytes of PS.
    let mut looking = u32::MAX;
    let mut index = 0u32;
    for (i, &byte) in db.iter().enumerate().skip(H_LEN) {
        let byte = u32::from(byte);
        let zero = mask_zero(byte);
        let one = mask_zero(byte ^ 1);
        index = select(looking & one, i as u32, index);
        // A byte other than 0x00 or 0x01 before the separator.
        good &= !(looking & !zero & !one);
        looking &= zero;
    }
    // No separator at all.
    good &= !looking;
    Decoded {
        good,
        start: (1 + H_LEN) as u32 + index + 1,
    }
}

/// Step 3 of EME-PKCS1-v1_5 decoding on `em = 0x00 ‖ 0x02 ‖ PS ‖ 0x00 ‖ M`: PS is the run of
/// nonzero bytes up to the first zero after the two first bytes, and at least eight long. `em` is
/// at least [`PKCS1_MIN_LEN`] bytes (a public length, checked by the caller).
#[inline(never)]
pub(crate) fn pkcs1v15_decode(em: &[u8]) -> Decoded {
    let mut good = mask_zero(u32::from(em[0])) & mask_zero(u32::from(em[1]) ^ 2);
    let mut looking = u32::MAX;
    let mut index = 0u32;
    for (i, &byte) in em.iter().enumerate().skip(2) {
        let zero = mask_zero(u32::from(byte));
        index = select(looking & zero, i as u32, index);
        looking &= !zero;
    }
    // No zero separator, or fewer than eight bytes of PS before it.
    good &= !looking;
    good &= !mask_lt(index, 2 + 8);
    Decoded {
        good,
        start: index + 1,
    }
}

/// Moves `buf[start..]` to the front of `buf` and fills the rest with zeros, with the same work
/// for every `start` (at most `buf.len()`): a conditional shift by each power of two, each over
/// the whole buffer.
#[inline(never)]
pub(crate) fn move_to_front(buf: &mut [u8], start: u32) {
    let len = buf.len();
    let mut shift = 1usize;
    let mut bit = 0;
    while shift < len {
        let mask = 0u8.wrapping_sub(((start >> bit) & 1) as u8);
        for i in 0..len {
            // `i + shift` is public: the branch is on the position, never on the data.
            let moved = if i + shift < len { buf[i + shift] } else { 0 };
            buf[i] = (moved & mask) | (buf[i] & !mask);
        }
        shift <<= 1;
        bit += 1;
    }
    // `start == len` (an empty message) is a shift by `len`, a power of two or not: the bits of
    // `start` at or above `len`'s top bit would shift everything out.
    let all_out = 0u8.wrapping_sub((mask_zero(start ^ len as u32) & 1) as u8);
    for byte in buf.iter_mut() {
        *byte &= !all_out;
    }
}

/// Removes OAEP's masks (RFC 8017 section 7.1.2, steps 3b-3f) in place: `em = Y ‖ maskedSeed ‖
/// maskedDB` becomes `Y ‖ seed ‖ DB`. MGF1 runs on the backend's SHA-256; its input lengths are
/// public.
pub(crate) fn oaep_unmask<B: Backend>(backend: &mut B, em: &mut [u8]) {
    let (seed, db) = em[1..].split_at_mut(H_LEN);
    mgf1_xor(backend, db, seed);
    let mut seed_copy = [0u8; H_LEN];
    seed_copy.copy_from_slice(seed);
    mgf1_xor(backend, &seed_copy, db);
    seed_copy.zeroize();
}

/// `target ^= MGF1-SHA-256(seed, target.len())`.
fn mgf1_xor<B: Backend>(backend: &mut B, seed: &[u8], target: &mut [u8]) {
    for (counter, chunk) in target.chunks_mut(H_LEN).enumerate() {
        let mut state = backend.sha256_start();
        backend.sha256_update(&mut state, seed);
        backend.sha256_update(&mut state, &(counter as u32).to_be_bytes());
        let mut mask = backend.sha256_finish(state);
        for (t, m) in chunk.iter_mut().zip(&mask) {
            *t ^= m;
        }
        mask.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn move_to_front_moves_every_start() {
        for len in [1usize, 2, 3, 11, 64, 66, 127, 128, 129, 256, 384, 512] {
            let original: std::vec::Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
            for start in 0..=len {
                let mut buf = original.clone();
                move_to_front(&mut buf, start as u32);
                assert_eq!(
                    &buf[..len - start],
                    &original[start..],
                    "len {len} start {start}"
                );
                assert!(buf[len - start..].iter().all(|&b| b == 0));
            }
        }
    }

    #[test]
    fn masks() {
        assert_eq!(mask_zero(0), u32::MAX);
        for x in [1, 2, 0x80, 0x8000_0000, u32::MAX] {
            assert_eq!(mask_zero(x), 0);
        }
        assert_eq!(mask_lt(9, 10), u32::MAX);
        assert_eq!(mask_lt(10, 10), 0);
        assert_eq!(mask_lt(500, 10), 0);
        assert_eq!(mask_lt(0, 1), u32::MAX);
    }
}
