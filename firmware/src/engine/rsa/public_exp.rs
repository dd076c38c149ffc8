//! `s^e mod n` in software, for a modulus longer than the chip's RSA accelerator (a 4096-bit key
//! on the ESP32-C3 and -C6): the check of a signature with the public exponent.
//!
//! Hand-written Montgomery multiplication (CIOS, Koc et al. 1996) on the same word slices and
//! constants the accelerator takes, so no second big-number library enters the firmware. The
//! exponent is public and short (65537 in practice), so its bits may steer the loop.
use super::bigint;
use super::montgomery::MontModulus;

/// `out = a * b * R^-1 mod m` with `R = 2^(32k)`, `k = m.len`; `a, b < m`. `t` is scratch of at
/// least `k + 2` words.
pub(super) fn mont_mul(a: &[u32], b: &[u32], m: &MontModulus, out: &mut [u32], t: &mut [u32]) {
    let k = m.len;
    let n = &m.words[..k];
    let t = &mut t[..k + 2];
    t.fill(0);
    for &bi in &b[..k] {
        // t += a * b[i]
        let mut carry = 0u64;
        for (tj, &aj) in t.iter_mut().zip(&a[..k]) {
            let s = u64::from(*tj) + u64::from(aj) * u64::from(bi) + carry;
            *tj = s as u32;
            carry = s >> 32;
        }
        let s = u64::from(t[k]) + carry;
        t[k] = s as u32;
        t[k + 1] = (s >> 32) as u32;
        // t = (t + q n) / 2^32, with q chosen so that the low word becomes zero.
        let q = t[0].wrapping_mul(m.m_prime);
        let mut carry = (u64::from(t[0]) + u64::from(q) * u64::from(n[0])) >> 32;
        for j in 1..k {
            let s = u64::from(t[j]) + u64::from(q) * u64::from(n[j]) + carry;
            t[j - 1] = s as u32;
            carry = s >> 32;
        }
        let s = u64::from(t[k]) + carry;
        t[k - 1] = s as u32;
        t[k] = t[k + 1] + (s >> 32) as u32;
    }
    // t < 2m: subtract m unless t (with its top word t[k]) is already below m.
    let out = &mut out[..k];
    let borrow = bigint::sub_into(out, &t[..k], n);
    // The values are public (a signature being checked): no need to hide this choice.
    let keep_t = borrow & u32::from(t[k] == 0);
    bigint::cond_copy(out, &t[..k], subtle::Choice::from(keep_t as u8));
}

/// Scratch for [`pow`]: three values of the modulus's length and one of two more words.
pub(super) struct Scratch<'a> {
    pub(super) base: &'a mut [u32],
    pub(super) acc: &'a mut [u32],
    pub(super) next: &'a mut [u32],
    pub(super) t: &'a mut [u32],
}

/// `out = base^exponent mod m` by left-to-right square-and-multiply in Montgomery form;
/// `base < m`, `exponent` non-zero.
pub(super) fn pow(
    base: &[u32],
    exponent: &[u32],
    m: &MontModulus,
    out: &mut [u32],
    s: Scratch<'_>,
) {
    let k = m.len;
    // base * R mod m
    mont_mul(base, &m.r_squared, m, s.base, s.t);
    s.acc[..k].copy_from_slice(&s.base[..k]);
    let top = bigint::bit_len(exponent);
    for bit in (0..top.saturating_sub(1)).rev() {
        mont_mul(s.acc, s.acc, m, s.next, s.t);
        if exponent[bit / 32] >> (bit % 32) & 1 == 1 {
            mont_mul(s.next, s.base, m, s.acc, s.t);
        } else {
            s.acc[..k].copy_from_slice(&s.next[..k]);
        }
    }
    // Out of Montgomery form: multiply by 1.
    s.next[..k].fill(0);
    s.next[0] = 1;
    mont_mul(s.acc, s.next, m, out, s.t);
}

#[cfg(test)]
mod tests {
    use num_bigint::BigUint;
    use std::vec;
    use std::vec::Vec;

    use super::*;
    use crate::engine::rsa::tests::vectors;
    use crate::engine::rsa::MAX_WORDS;

    fn modulus(bytes: &[u8]) -> MontModulus {
        let mut m = MontModulus::new();
        assert!(bigint::from_be_bytes(bytes, &mut m.words));
        m.compute(&mut [0u32; MAX_WORDS]);
        m
    }

    fn words(value: &BigUint, k: usize) -> Vec<u32> {
        let mut w = value.to_u32_digits();
        w.resize(k, 0);
        w
    }

    /// Against num-bigint's `modpow` (an independent implementation) on every vector's modulus,
    /// with bases near 0, near the modulus and in between.
    #[test]
    fn powers_equal_num_bigints() {
        for v in vectors() {
            let m = modulus(v.get("n"));
            let k = m.len;
            let n = BigUint::from_bytes_be(v.get("n"));
            let e = BigUint::from_bytes_be(v.get("e"));
            for base in [
                BigUint::from(2u8),
                &n - 1u8,
                BigUint::from_bytes_be(v.get("signature")),
                &n / 3u8,
            ] {
                for exponent in [e.clone(), BigUint::from(3u8), BigUint::from(1u8), &n - 2u8] {
                    let (mut out, mut a, mut b, mut c) =
                        (vec![0; k], vec![0; k], vec![0; k], vec![0; k]);
                    let mut t = vec![0; k + 2];
                    let scratch = Scratch {
                        base: &mut a,
                        acc: &mut b,
                        next: &mut c,
                        t: &mut t,
                    };
                    pow(
                        &words(&base, k),
                        &words(&exponent, k),
                        &m,
                        &mut out,
                        scratch,
                    );
                    assert_eq!(
                        out,
                        words(&base.modpow(&exponent, &n), k),
                        "{} bits",
                        v.name
                    );
                }
            }
        }
    }
}
