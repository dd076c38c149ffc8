//! Unsigned integers as little-endian `u32` word slices (word 0 least significant): the few
//! operations the RSA accelerator lacks (add, subtract, reduce, multiply, compare, conversions).
//!
//! Hand-written rather than `crypto-bigint`: the accelerator works on moduli of any word count
//! with `R = 2^(32 * words)`, while crypto-bigint's fixed-width `Uint<LIMBS>` works on its full
//! width with 64-bit limbs on the host and 32-bit limbs on the chip. Every loop here runs a
//! count fixed by the operands' lengths, and secret-dependent choices go through `subtle`
//! (`Choice`, whose value the optimiser cannot see through, and `ConditionallySelectable`).
//!
//! The functions on the secret path (values derived from p, q, dp, dq, qinv or the message) are
//! `#[inline(never)]` so that they keep their own symbols in the release firmware: `.ci/ct-check.py`
//! disassembles them there and fails on any conditional branch on data (docs/security.md).

use ucrypto_protocol::MAX_RSA_BITS;

/// Words of the largest modulus the protocol carries.
pub(crate) const MAX_WORDS: usize = MAX_RSA_BITS as usize / 32;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// `a += b` over `a.len()` words (`b` no longer than `a`); returns the carry out.
#[inline(never)]
pub(crate) fn add_assign(a: &mut [u32], b: &[u32]) -> u32 {
    let mut carry = 0u64;
    for (i, word) in a.iter_mut().enumerate() {
        let sum = u64::from(*word) + u64::from(b.get(i).copied().unwrap_or(0)) + carry;
        *word = sum as u32;
        carry = sum >> 32;
    }
    carry as u32
}

/// `out = a - b` (all of one length); returns the borrow out (1 if `a < b`).
#[inline(never)]
pub(crate) fn sub_into(out: &mut [u32], a: &[u32], b: &[u32]) -> u32 {
    let mut borrow = 0u32;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        let (d1, b1) = x.overflowing_sub(y);
        let (d2, b2) = d1.overflowing_sub(borrow);
        *o = d2;
        borrow = u32::from(b1 | b2);
    }
    borrow
}

/// `a += b` if `choice` is set, with the same work either way; returns the carry out.
#[inline(never)]
pub(crate) fn cond_add_assign(a: &mut [u32], b: &[u32], choice: Choice) -> u32 {
    let mut carry = 0u64;
    for (word, &y) in a.iter_mut().zip(b) {
        let addend = u32::conditional_select(&0, &y, choice);
        let sum = u64::from(*word) + u64::from(addend) + carry;
        *word = sum as u32;
        carry = sum >> 32;
    }
    carry as u32
}

/// `a = b` if `choice` is set, with the same work either way.
#[inline(never)]
pub(crate) fn cond_copy(a: &mut [u32], b: &[u32], choice: Choice) {
    for (x, &y) in a.iter_mut().zip(b) {
        x.conditional_assign(&y, choice);
    }
}

/// `a = 2a + bit`; returns the bit shifted out of the top word.
fn shl1_with(a: &mut [u32], bit: u32) -> u32 {
    let mut carry = bit & 1;
    for word in a.iter_mut() {
        let out = *word >> 31;
        *word = (*word << 1) | carry;
        carry = out;
    }
    carry
}

/// One step of shift-and-subtract reduction: `r = (2r + bit) mod m`, given `r < m`. `tmp` is
/// scratch of `m`'s length.
#[inline(never)]
fn double_mod(r: &mut [u32], bit: u32, m: &[u32], tmp: &mut [u32]) {
    let carry = shl1_with(r, bit);
    let borrow = sub_into(tmp, r, m);
    // 2r + bit < 2m: subtract m once if the value overflowed the words or is at least m. Both
    // flags are 0 or 1 (Choice::from requires it).
    let reduce = Choice::from(carry as u8) | !Choice::from(borrow as u8);
    cond_copy(r, tmp, reduce);
}

/// `out = x mod m` by shift-and-subtract over every bit of `x`; `out` and `tmp` are `m`'s
/// length. `m` must be non-zero with a non-zero top word.
#[inline(never)]
pub(crate) fn reduce(x: &[u32], m: &[u32], out: &mut [u32], tmp: &mut [u32]) {
    out.fill(0);
    for &word in x.iter().rev() {
        for bit in (0..32).rev() {
            double_mod(out, word >> bit, m, tmp);
        }
    }
}

/// `out = 2^power mod m`, for `power` at least `bit_len(m) - 1`; `out` and `tmp` are `m`'s
/// length. Starts from `2^(bit_len(m) - 1)`, the largest power of two below `m`.
pub(crate) fn pow2_mod(power: usize, m: &[u32], out: &mut [u32], tmp: &mut [u32]) {
    let top = bit_len(m) - 1;
    out.fill(0);
    out[top / 32] = 1 << (top % 32);
    for _ in top..power {
        double_mod(out, 0, m, tmp);
    }
}

/// `out = a * b`, schoolbook; `out` is at least `a.len() + b.len()` words.
#[inline(never)]
pub(crate) fn mul(a: &[u32], b: &[u32], out: &mut [u32]) {
    out.fill(0);
    for (i, &x) in a.iter().enumerate() {
        let mut carry = 0u64;
        for (j, &y) in b.iter().enumerate() {
            let t = u64::from(x) * u64::from(y) + u64::from(out[i + j]) + carry;
            out[i + j] = t as u32;
            carry = t >> 32;
        }
        out[i + b.len()] = carry as u32;
    }
}

/// Whether `a < b` (same length), without branching on the words. The answer itself is a
/// public verdict (a key check, the final range check of a signature).
#[inline(never)]
pub(crate) fn less_than(a: &[u32], b: &[u32]) -> bool {
    let mut borrow = 0u32;
    for (&x, &y) in a.iter().zip(b) {
        let (d1, b1) = x.overflowing_sub(y);
        let (_, b2) = d1.overflowing_sub(borrow);
        borrow = u32::from(b1 | b2);
    }
    bool::from(Choice::from(borrow as u8))
}

/// Whether two equal-length values are equal, looking at every word (`subtle`'s slice
/// comparison; different lengths are simply unequal).
#[inline(never)]
pub(crate) fn equal(a: &[u32], b: &[u32]) -> bool {
    bool::from(a.ct_eq(b))
}

/// Number of significant bits (0 for zero).
pub(crate) fn bit_len(a: &[u32]) -> usize {
    match a.iter().rposition(|&w| w != 0) {
        Some(i) => i * 32 + 32 - a[i].leading_zeros() as usize,
        None => 0,
    }
}

/// Number of significant words (0 for zero).
pub(crate) fn word_len(a: &[u32]) -> usize {
    bit_len(a).div_ceil(32)
}

/// Loads big-endian `bytes` into `out` (zero-padded); false if the value does not fit. Looks
/// at every byte whatever their values (p, q and the CRT exponents pass through here): the time
/// depends on the lengths only, not on where the first non-zero byte is.
#[inline(never)]
pub(crate) fn from_be_bytes(bytes: &[u8], out: &mut [u32]) -> bool {
    out.fill(0);
    let (high, low) = bytes.split_at(bytes.len().saturating_sub(out.len() * 4));
    for (i, &byte) in low.iter().rev().enumerate() {
        out[i / 4] |= u32::from(byte) << (8 * (i % 4));
    }
    // Bytes beyond what `out` holds must all be zero.
    high.iter().fold(0u8, |acc, &byte| acc | byte) == 0
}

/// Writes `a` big-endian into all of `out` (zero-padded at the front); false if it does not fit.
pub(crate) fn to_be_bytes(a: &[u32], out: &mut [u8]) -> bool {
    if bit_len(a).div_ceil(8) > out.len() {
        return false;
    }
    for (i, byte) in out.iter_mut().rev().enumerate() {
        *byte = a.get(i / 4).map_or(0, |w| (w >> (8 * (i % 4))) as u8);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;
    use std::vec;
    use std::vec::Vec;

    /// A reproducible stream of words (SplitMix64), independent of the code under test.
    fn words(seed: u64, n: usize) -> Vec<u32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (z ^ (z >> 31)) as u32
            })
            .collect()
    }

    fn big(w: &[u32]) -> BigUint {
        BigUint::from_slice(w)
    }

    fn padded(v: &BigUint, len: usize) -> Vec<u32> {
        let mut d = v.to_u32_digits();
        d.resize(len, 0);
        d
    }

    #[test]
    fn reduce_matches_num_bigint_for_many_sizes() {
        for (seed, (xl, ml)) in [
            (1, 4),
            (8, 3),
            (64, 32),
            (128, 64),
            (96, 48),
            (5, 5),
            (2, 7),
        ]
        .into_iter()
        .enumerate()
        {
            let x = words(seed as u64, xl);
            let mut m = words(seed as u64 + 100, ml);
            *m.last_mut().unwrap() |= 1 << 31 >> (seed % 7);
            let mut out = vec![0; ml];
            let mut tmp = vec![0; ml];
            reduce(&x, &m, &mut out, &mut tmp);
            assert_eq!(big(&out), big(&x) % big(&m), "x {xl} words, m {ml} words");
        }
    }

    #[test]
    fn pow2_mod_matches_num_bigint() {
        for (seed, ml) in [(3u64, 1usize), (4, 2), (5, 32), (6, 48), (7, 128)] {
            let mut m = words(seed, ml);
            m[0] |= 1;
            m[ml - 1] >>= seed % 5;
            m[ml - 1] |= 1;
            let mut out = vec![0; ml];
            let mut tmp = vec![0; ml];
            let power = 64 * ml;
            pow2_mod(power, &m, &mut out, &mut tmp);
            assert_eq!(big(&out), (BigUint::from(1u8) << power) % big(&m));
        }
    }

    #[test]
    fn add_sub_mul_and_compare_match_num_bigint() {
        let a = words(11, 40);
        let b = words(12, 40);
        let mut sum = a.clone();
        let carry = add_assign(&mut sum, &b);
        let expected = big(&a) + big(&b);
        assert_eq!(big(&sum) + (BigUint::from(carry) << (32 * 40)), expected);

        let mut diff = vec![0; 40];
        let borrow = sub_into(&mut diff, &a, &b);
        assert_eq!(borrow == 1, big(&a) < big(&b));
        assert_eq!(less_than(&a, &b), big(&a) < big(&b));
        assert!(!less_than(&a, &a) && equal(&a, &a) && !equal(&a, &b));
        let wrapped = (big(&a) + (BigUint::from(1u8) << (32 * 40)) - big(&b))
            % (BigUint::from(1u8) << (32 * 40));
        assert_eq!(big(&diff), wrapped);

        let mut product = vec![0; 80];
        mul(&a, &b[..17], &mut product);
        assert_eq!(big(&product), big(&a) * big(&b[..17]));

        let mut c = a.clone();
        assert_eq!(cond_add_assign(&mut c, &b, Choice::from(0)), 0);
        assert_eq!(c, a);
        cond_add_assign(&mut c, &b, Choice::from(1));
        assert_eq!(c, sum);
        let mut d = a.clone();
        cond_copy(&mut d, &b, Choice::from(0));
        assert_eq!(d, a);
        cond_copy(&mut d, &b, Choice::from(1));
        assert_eq!(d, b);
    }

    #[test]
    fn byte_conversions_round_trip_big_endian() {
        let bytes = [0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05];
        let mut w = [0u32; 3];
        assert!(from_be_bytes(&bytes, &mut w));
        assert_eq!(w, [0x0203_0405, 0x01, 0]);
        let mut out = [0xffu8; 9];
        assert!(to_be_bytes(&w, &mut out));
        assert_eq!(out, [0, 0, 0, 0, 1, 2, 3, 4, 5]);
        assert!(!to_be_bytes(&w, &mut out[..4]));
        assert!(!from_be_bytes(&[1; 13], &mut w));
        assert!(from_be_bytes(
            &[0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            &mut w
        ));
        assert_eq!(bit_len(&w), 89);
        assert_eq!(word_len(&w), 3);
        assert_eq!(padded(&big(&w), 3), w);
    }
}
