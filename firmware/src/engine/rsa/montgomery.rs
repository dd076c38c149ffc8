//! The Montgomery constants the RSA accelerator needs for a modulus `M` of `k` words:
//! `R^2 mod M` with `R = 2^(32k)`, and `M' = -M^-1 mod 2^32`.
use zeroize::Zeroize;

use super::bigint::{self, MAX_WORDS};
use crate::backend::Modulus;

/// A modulus (a prime factor, or the public modulus) with its constants, in fixed storage.
#[derive(Zeroize)]
pub(crate) struct MontModulus {
    /// The modulus, little-endian, zero above `len` words.
    pub(crate) words: [u32; MAX_WORDS],
    /// `R^2 mod M`, `len` words.
    pub(crate) r_squared: [u32; MAX_WORDS],
    pub(crate) m_prime: u32,
    /// Significant words of the modulus: the accelerator's operand length.
    pub(crate) len: usize,
}

impl MontModulus {
    pub(crate) const fn new() -> Self {
        Self {
            words: [0; MAX_WORDS],
            r_squared: [0; MAX_WORDS],
            m_prime: 0,
            len: 0,
        }
    }

    /// Computes the constants for the value already in `words` (odd, above 1); `tmp` is
    /// scratch of at least [`MAX_WORDS`] words.
    pub(crate) fn compute(&mut self, tmp: &mut [u32]) {
        self.len = bigint::word_len(&self.words);
        let k = self.len;
        self.m_prime = m_prime(self.words[0]);
        self.r_squared.fill(0);
        bigint::pow2_mod(
            64 * k,
            &self.words[..k],
            &mut self.r_squared[..k],
            &mut tmp[..k],
        );
    }

    /// The modulus as the backend takes it.
    pub(crate) fn as_modulus(&self) -> Modulus<'_> {
        Modulus {
            words: &self.words[..self.len],
            r_squared: &self.r_squared[..self.len],
            m_prime: self.m_prime,
        }
    }
}

/// `-m0^-1 mod 2^32` for odd `m0`, by Newton's iteration `x = x (2 - m0 x)`: `m0` is its own
/// inverse modulo 8, and each step doubles the correct low bits (3, 6, 12, 24, 48).
pub(crate) fn m_prime(m0: u32) -> u32 {
    let mut x = m0;
    for _ in 0..4 {
        x = x.wrapping_mul(2u32.wrapping_sub(m0.wrapping_mul(x)));
    }
    x.wrapping_neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m_prime_times_m_is_minus_one() {
        for m0 in [1u32, 3, 0xffff_ffff, 0x8000_0001, 0x1234_5679, 65537] {
            assert_eq!(m_prime(m0).wrapping_mul(m0), u32::MAX, "m0 = {m0:#x}");
        }
        // Python: (-pow(0xc0ffee01, -1, 2**32)) % 2**32
        assert_eq!(m_prime(0xc0ff_ee01), 0xf7bb_edff);
    }

    /// `R^2 mod M` against Python's big integers. (Full-size moduli are checked in
    /// `super::tests` against the key of the self-test, whose constants Python computed.)
    #[test]
    fn r_squared_of_a_small_modulus_matches_python() {
        // M = 2^64 - 59 (the largest 64-bit prime); Python: pow(2, 128, 2**64 - 59) == 3481.
        let mut m = MontModulus::new();
        m.words[0] = (u64::MAX - 58) as u32;
        m.words[1] = ((u64::MAX - 58) >> 32) as u32;
        let mut tmp = [0u32; MAX_WORDS];
        m.compute(&mut tmp);
        assert_eq!(m.len, 2);
        assert_eq!(&m.r_squared[..2], &[3481, 0]);
        assert_eq!(m.m_prime.wrapping_mul(m.words[0]), u32::MAX);
    }
}
