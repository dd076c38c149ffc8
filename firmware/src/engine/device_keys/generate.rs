//! RSA key generation on the device (FIPS 186-5 appendix A.1.3 style, probable primes): random
//! odd candidates with their two top bits set, trial division by the small primes, then
//! Miller–Rabin with random bases, every exponentiation on the backend's RSA accelerator.
//! `e` = 65537; `|p - q|` must exceed `2^(bits/2 - 100)`; `d = e⁻¹ mod (p-1)(q-1)`.
//!
//! Timing (docs/security.md, "Constant time"; `.ci/ct-check/functions.txt` lists the functions
//! the check disassembles). The arithmetic on the key's numbers runs in constant time: the
//! residues of trial division ([`mod_small`], no `%` on secret words), the distance between the
//! primes ([`far_apart`]), `φ` ([`phi_of`]), and `d` ([`private_exponent`]: a constant-time
//! inverse modulo `e` and an exact division by multiplication, no division instruction). What
//! does branch on secret data, and why that is harmless:
//! - the search: whether a candidate has a small factor, is 1 modulo `e`, or fails a Miller–Rabin
//!   round decides only to reject it, and a rejected candidate is never used; the number of
//!   candidates walked from the random start reveals nothing of the prime without the start;
//! - Miller–Rabin on the accepted prime runs every round, but its squaring loop stops at `-1`
//!   and its length is `v = v2(p - 1)` ([`shift_right`] by it too): this shows at most the few
//!   low bits of `p - 1` that `v` counts, far from the half of `p`'s bits that factoring from
//!   known bits needs (Coppersmith);
//! - whether `|p - q|` is large enough and whether `e` divides `φ` (both answers are public:
//!   the pair is drawn again).
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeLess};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::super::rsa::bigint;
use super::super::rsa::montgomery::MontModulus;
use super::super::rsa::MAX_WORDS;
use crate::{Backend, BackendError};

/// Words of the largest prime (half the largest modulus).
const HALF_WORDS: usize = MAX_WORDS / 2;

/// The public exponent of generated keys.
pub(crate) const E: u32 = 65_537;

/// The odd primes below 2000, for trial division (a candidate with a small factor never
/// reaches the accelerator).
const SMALL_PRIMES: [u16; 302] = small_primes();

const fn small_primes() -> [u16; 302] {
    let mut out = [0u16; 302];
    let mut count = 0;
    let mut n = 3u16;
    while count < 302 {
        let mut d = 3u16;
        let mut prime = true;
        while d * d <= n {
            if n.is_multiple_of(d) {
                prime = false;
                break;
            }
            d += 2;
        }
        if prime {
            out[count] = n;
            count += 1;
        }
        n += 2;
    }
    out
}

/// `a mod m` for an odd `m` above 1 (a small prime, or `e`), in constant time: one conditional
/// subtraction per bit of `a`, no division (the ESP32-C3's divider, and `__umoddi3` for `u64`,
/// take time that depends on the operands).
#[inline(never)]
pub(crate) fn mod_small(a: &[u32], m: u32) -> u32 {
    let m = u64::from(m);
    let mut r = 0u64;
    for &word in a.iter().rev() {
        for bit in (0..32).rev() {
            // r < m, so 2r + 1 < 2m: one subtraction of m at most, kept when it does not borrow.
            // The choice goes through `subtle`: a plain mask on a u64 compiles to a branch on
            // the 32-bit target.
            let doubled = (r << 1) | u64::from((word >> bit) & 1);
            let t = doubled.wrapping_sub(m);
            r = u64::conditional_select(&t, &doubled, Choice::from((t >> 63) as u8));
        }
    }
    r as u32
}

/// `(r + 2) mod m` for `r < m`, `m` odd and at least 3, in constant time.
fn add_two_mod(r: u32, m: u32) -> u32 {
    let t = (r + 2).wrapping_sub(m);
    u32::conditional_select(&t, &(r + 2), Choice::from((t >> 31) as u8))
}

/// A generated key's numbers, wiped when dropped.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct KeyNumbers {
    pub(crate) n: MontModulus,
    pub(crate) d: [u32; MAX_WORDS],
    pub(crate) p: [u32; HALF_WORDS + 1],
    pub(crate) q: [u32; HALF_WORDS + 1],
    /// Candidates tried (for the timing figures).
    pub(crate) candidates: u32,
    /// Miller–Rabin exponentiations done.
    pub(crate) exponentiations: u32,
}

impl KeyNumbers {
    pub(crate) const fn new() -> Self {
        Self {
            n: MontModulus::new(),
            d: [0; MAX_WORDS],
            p: [0; HALF_WORDS + 1],
            q: [0; HALF_WORDS + 1],
            candidates: 0,
            exponentiations: 0,
        }
    }
}

/// Scratch for one prime search, wiped when dropped.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Search {
    m: MontModulus,
    residues: [u32; 302],
    base: [u32; HALF_WORDS],
    exponent: [u32; HALF_WORDS],
    x: [u32; HALF_WORDS],
    y: [u32; HALF_WORDS],
    minus_one: [u32; HALF_WORDS],
    tmp: [u32; MAX_WORDS],
}

impl Search {
    const fn new() -> Self {
        Self {
            m: MontModulus::new(),
            residues: [0; 302],
            base: [0; HALF_WORDS],
            exponent: [0; HALF_WORDS],
            x: [0; HALF_WORDS],
            y: [0; HALF_WORDS],
            minus_one: [0; HALF_WORDS],
            tmp: [0; MAX_WORDS],
        }
    }
}

/// Whether `candidate` (odd, above 3) passes Miller–Rabin with random bases, as a generated
/// prime must: `KeyImport` checks `p` and `q` with it before anything is burned. A number longer
/// than half the largest modulus is [`BackendError::Unsupported`].
pub(crate) fn is_probable_prime<B: Backend>(
    backend: &mut B,
    candidate: &[u32],
) -> Result<bool, BackendError> {
    let words = bigint::word_len(candidate);
    if words > HALF_WORDS {
        return Err(BackendError::Unsupported);
    }
    if words == 0 || candidate[0] & 1 == 0 || bigint::bit_len(candidate) < 3 {
        return Ok(false);
    }
    let mut s = Search::new();
    s.m.words[..words].copy_from_slice(&candidate[..words]);
    miller_rabin(backend, &mut s, words, &mut (0, 0))
}

/// Miller–Rabin rounds for a prime of `bits` bits (FIPS 186-5 table B.1: 5 for 1024-bit
/// primes, 4 above; 1024-bit keys get the 1024-bit-prime count too).
fn rounds(bits: usize) -> u32 {
    if bits <= 1024 {
        5
    } else {
        4
    }
}

/// Fills `out` with a random probable prime of `words * 32` bits (two top bits set) that is not
/// 1 modulo `E`.
fn prime<B: Backend>(
    backend: &mut B,
    words: usize,
    out: &mut [u32],
    stats: &mut (u32, u32),
) -> Result<(), BackendError> {
    let mut s = Search::new();
    let mut bytes = [0u8; 4 * HALF_WORDS];
    'fresh: loop {
        backend.fill_random(&mut bytes[..4 * words])?;
        let c = &mut s.m.words[..words];
        for (w, chunk) in c.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        bytes.zeroize();
        c[words - 1] |= 0xc000_0000;
        c[0] |= 1;
        for (r, &p) in s.residues.iter_mut().zip(&SMALL_PRIMES) {
            *r = mod_small(c, u32::from(p));
        }
        // Walk odd numbers upwards from the random start; a fresh start after 2^16 steps or
        // when the top bits would change.
        for _ in 0..(1 << 16) {
            let sieved = s.residues.iter().all(|&r| r != 0);
            if sieved && mod_small(&s.m.words[..words], E) != 1 {
                stats.0 += 1;
                if miller_rabin(backend, &mut s, words, stats)? {
                    out[..words].copy_from_slice(&s.m.words[..words]);
                    out[words..].fill(0);
                    return Ok(());
                }
            }
            let carry = bigint::add_assign(&mut s.m.words[..words], &[2]);
            if carry != 0 || s.m.words[words - 1] < 0xc000_0000 {
                continue 'fresh;
            }
            for (r, &p) in s.residues.iter_mut().zip(&SMALL_PRIMES) {
                *r = add_two_mod(*r, u32::from(p));
            }
        }
    }
}

/// Miller–Rabin on the candidate in `s.m.words[..words]`: true if it passed every round.
fn miller_rabin<B: Backend>(
    backend: &mut B,
    s: &mut Search,
    words: usize,
    stats: &mut (u32, u32),
) -> Result<bool, BackendError> {
    s.m.words[words..].fill(0);
    s.m.compute(&mut s.tmp);
    let w = words;
    // m - 1 = 2^a * exponent, exponent odd.
    s.minus_one[..w].copy_from_slice(&s.m.words[..w]);
    s.minus_one[0] &= !1;
    let a = s.minus_one[..w]
        .iter()
        .enumerate()
        .find(|(_, &x)| x != 0)
        .map(|(i, &x)| i * 32 + x.trailing_zeros() as usize)
        .unwrap_or(0);
    shift_right(&s.minus_one[..w], a, &mut s.exponent[..w]);
    let mut random = [0u8; 4 * HALF_WORDS];
    for _ in 0..rounds(w * 32) {
        // A base in [2, m - 2]: random words with the top word below the candidate's.
        backend.fill_random(&mut random[..4 * w])?;
        for (x, chunk) in s.base[..w].iter_mut().zip(random.chunks_exact(4)) {
            *x = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        // The top word scaled into [0, m's top word) by a multiply-high (no division on the
        // candidate, which is secret once accepted): the base stays below the candidate.
        s.base[w - 1] = ((u64::from(s.base[w - 1]) * u64::from(s.m.words[w - 1])) >> 32) as u32;
        if bigint::bit_len(&s.base[..w]) < 2 {
            s.base[0] = 2;
        }
        stats.1 += 1;
        backend.rsa_mod_exp(
            &s.base[..w],
            &s.exponent[..w],
            &s.m.as_modulus(),
            &mut s.x[..w],
        )?;
        let is_one = |x: &[u32]| x[0] == 1 && x[1..].iter().all(|&v| v == 0);
        if is_one(&s.x[..w]) || bigint::equal(&s.x[..w], &s.minus_one[..w]) {
            continue;
        }
        let mut witness = true;
        for _ in 1..a {
            backend.rsa_mod_mul(&s.x[..w], &s.x[..w], &s.m.as_modulus(), &mut s.y[..w])?;
            s.x[..w].copy_from_slice(&s.y[..w]);
            if bigint::equal(&s.x[..w], &s.minus_one[..w]) {
                witness = false;
                break;
            }
            if is_one(&s.x[..w]) {
                break;
            }
        }
        if witness {
            random.zeroize();
            return Ok(false);
        }
    }
    random.zeroize();
    Ok(true)
}

/// `out = a >> shift` (same lengths).
fn shift_right(a: &[u32], shift: usize, out: &mut [u32]) {
    let (words, bits) = (shift / 32, shift % 32);
    for (i, o) in out.iter_mut().enumerate() {
        let lo = a.get(i + words).copied().unwrap_or(0);
        let hi = a.get(i + words + 1).copied().unwrap_or(0);
        *o = if bits == 0 {
            lo
        } else {
            (lo >> bits) | (hi << (32 - bits))
        };
    }
}

/// `d = e⁻¹ mod m` for `m = φ = (p-1)(q-1)` or `m = λ = lcm(p-1, q-1)` given in `m` (`d` as long
/// as `m`), for an odd `e` above 1 coprime to `m`: `d = (k m + 1) / e` with `k = -m⁻¹ mod e`,
/// which needs only word-by-small arithmetic. Constant time in `m` and `d`; returns false (with
/// `d` meaningless) when `e` and `m` are not coprime, a public verdict.
#[inline(never)]
pub(crate) fn private_exponent(m: &[u32], e: u32, d: &mut [u32]) -> bool {
    let (inverse, coprime) = inverse_mod(mod_small(m, e), e);
    // inverse is in [1, e - 1] when coprime.
    let k = u64::from(e - inverse);
    // t = k m + 1, one word longer than m.
    let mut carry = 1u64;
    let mut t = [0u32; MAX_WORDS + 1];
    for (i, &w) in m.iter().enumerate() {
        let v = u64::from(w) * k + carry;
        t[i] = v as u32;
        carry = v >> 32;
    }
    t[m.len()] = carry as u32;
    divide_exact(&t[..=m.len()], e, d);
    t.zeroize();
    coprime == 1
}

/// `out = t / e` for a `t` that `e` (odd) divides exactly, by multiplying with `e⁻¹ mod 2^32`
/// word by word from the bottom (Jebelean's exact division): no division instruction, the
/// same work for every `t`. `out` takes the low `out.len()` words of the quotient.
#[inline(never)]
fn divide_exact(t: &[u32], e: u32, out: &mut [u32]) {
    // e⁻¹ mod 2^32 by Newton's iteration (e is public): each step doubles the correct bits.
    let mut e_inv = e;
    for _ in 0..5 {
        e_inv = e_inv.wrapping_mul(2u32.wrapping_sub(e.wrapping_mul(e_inv)));
    }
    let mut carry = 0u32;
    for (o, &word) in out.iter_mut().zip(t) {
        let (x, borrow) = word.overflowing_sub(carry);
        let q = x.wrapping_mul(e_inv);
        *o = q;
        // q e = x + 2^32 high(q e): what this word leaves for the next one.
        carry = ((u64::from(q) * u64::from(e)) >> 32) as u32 + u32::from(borrow);
    }
}

/// `(x⁻¹ mod m, 1)` for an odd `m` above 1 and `x < m` coprime to it, or `(_, 0)` when they share
/// a factor; in constant time (Pornin's binary extended GCD with masks, a fixed number of
/// steps): the extended Euclidean algorithm's divisions and step count depend on `x`, which
/// is `φ mod e`, a secret.
#[inline(never)]
fn inverse_mod(x: u32, m: u32) -> (u32, u32) {
    // Invariants: a ≡ u x and b ≡ v x (mod m); b stays odd; a + b shrinks by a bit a step.
    // Every choice goes through `subtle` (compared and selected without a branch).
    let (mut a, mut b) = (x, m);
    let (mut u, mut v) = (1u32, 0u32);
    let half_m_up = (m >> 1) + 1;
    for _ in 0..2 * 32 + 2 {
        let odd = Choice::from((a & 1) as u8);
        // a odd and a < b: swap, so that a - b below stays non-negative.
        let swap = odd & a.ct_lt(&b);
        u32::conditional_swap(&mut a, &mut b, swap);
        u32::conditional_swap(&mut u, &mut v, swap);
        // a odd: a -= b, u -= v (mod m).
        let (b_odd, v_odd) = (
            u32::conditional_select(&0, &b, odd),
            u32::conditional_select(&0, &v, odd),
        );
        a -= b_odd;
        let borrow = u.ct_lt(&v_odd);
        let t = u.wrapping_sub(v_odd);
        u = u32::conditional_select(&t, &t.wrapping_add(m), borrow);
        // a is even: halve it, and u modulo m: (u + m) / 2 when u is odd (m is odd).
        a >>= 1;
        let u_odd = Choice::from((u & 1) as u8);
        u = (u >> 1) + u32::conditional_select(&0, &half_m_up, u_odd);
    }
    // Now a = 0 and b = gcd(x, m), with v x ≡ b.
    (v, u32::from(b.ct_eq(&1).unwrap_u8()))
}

/// Whether `|p - q| > 2^(32 half - 100)` (which also rules out `p = q`), in constant time: the
/// answer is public (a pair too close is drawn again). `diff` is scratch of `half` words.
#[inline(never)]
fn far_apart(p: &[u32], q: &[u32], diff: &mut [u32], other: &mut [u32]) -> bool {
    let half = diff.len();
    let borrow = bigint::sub_into(diff, &p[..half], &q[..half]);
    bigint::sub_into(other, &q[..half], &p[..half]);
    bigint::cond_copy(diff, other, Choice::from(borrow as u8));
    // Some bit at 32 half - 100 or above: whole words from 32 half - 96 up, plus 4 bits below.
    let low_bit = 32 * half - 100;
    let word = low_bit / 32;
    let high = diff[word + 1..].iter().fold(0, |acc, &w| acc | w) | (diff[word] >> (low_bit % 32));
    let far = u32::from(high != 0);
    diff.zeroize();
    other.zeroize();
    far == 1
}

/// `φ = n - p - q + 1 = (p-1)(q-1)` into `phi` (`n`'s length), from `p` and `q` of half that
/// length; `tmp` and `scratch` as long as `n`.
#[inline(never)]
fn phi_of(n: &[u32], p: &[u32], q: &[u32], phi: &mut [u32], tmp: &mut [u32], scratch: &mut [u32]) {
    let half = n.len() / 2;
    phi.copy_from_slice(n);
    // p and q one after the other, not through an array of slices: the check sees slices in
    // registers only (one read back from memory counts as secret).
    subtract_half(phi, &p[..half], tmp, scratch);
    subtract_half(phi, &q[..half], tmp, scratch);
    bigint::add_assign(phi, &[1]);
}

/// `phi -= prime`, `prime` padded to `phi`'s length in `scratch`.
#[inline(always)]
fn subtract_half(phi: &mut [u32], prime: &[u32], tmp: &mut [u32], scratch: &mut [u32]) {
    scratch.fill(0);
    scratch[..prime.len()].copy_from_slice(prime);
    tmp.copy_from_slice(phi);
    bigint::sub_into(phi, tmp, scratch);
}

/// Generates a key of `bits` bits (a multiple of 64) into `out`: `n` with its Montgomery
/// constants, and `d`.
pub(crate) fn generate<B: Backend>(
    backend: &mut B,
    bits: usize,
    out: &mut KeyNumbers,
) -> Result<(), BackendError> {
    let half = bits / 64;
    let mut stats = (0u32, 0u32);
    let mut diff = [0u32; HALF_WORDS];
    let mut other = [0u32; HALF_WORDS];
    loop {
        prime(backend, half, &mut out.p, &mut stats)?;
        prime(backend, half, &mut out.q, &mut stats)?;
        if far_apart(&out.p, &out.q, &mut diff[..half], &mut other[..half]) {
            break;
        }
    }
    let words = 2 * half;
    bigint::mul(&out.p[..half], &out.q[..half], &mut out.n.words[..words]);
    out.n.words[words..].fill(0);
    let mut tmp = [0u32; MAX_WORDS];
    out.n.compute(&mut tmp);
    let mut phi = [0u32; MAX_WORDS];
    let mut scratch = [0u32; MAX_WORDS];
    phi_of(
        &out.n.words[..words],
        &out.p,
        &out.q,
        &mut phi[..words],
        &mut tmp[..words],
        &mut scratch[..words],
    );
    let ok = private_exponent(&phi[..words], E, &mut out.d[..words]);
    phi.zeroize();
    tmp.zeroize();
    scratch.zeroize();
    out.candidates = stats.0;
    out.exponentiations = stats.1;
    // Both primes are 1 mod E only by a bug: they were sieved for it.
    if ok {
        Ok(())
    } else {
        Err(BackendError::Hardware)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_primes_are_the_odd_primes_below_2000() {
        assert_eq!(SMALL_PRIMES[0], 3);
        assert_eq!(SMALL_PRIMES[301], 1999);
    }

    use num_bigint::BigUint;
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

    #[test]
    fn mod_small_matches_num_bigint() {
        let moduli = SMALL_PRIMES.iter().map(|&p| u32::from(p)).chain([
            E,
            3,
            0xffff_fffb,
            0x8000_0001,
            4_294_967_291,
        ]);
        for (seed, m) in moduli.enumerate() {
            let a = words(seed as u64, 1 + seed % 96);
            assert_eq!(
                BigUint::from(mod_small(&a, m)),
                big(&a) % m,
                "{m}, {} words",
                a.len()
            );
        }
        assert_eq!(mod_small(&[], 7), 0);
        assert_eq!(
            mod_small(&[u32::MAX, u32::MAX], E),
            ((u64::MAX) % 65_537) as u32
        );
    }

    #[test]
    fn add_two_mod_wraps_like_the_remainder() {
        for &p in &SMALL_PRIMES[..20] {
            let p = u32::from(p);
            for r in 0..p {
                assert_eq!(add_two_mod(r, p), (r + 2) % p);
            }
        }
    }

    /// Every x below every odd m up to 999 against a search for the inverse, and large moduli
    /// against the definition (x x⁻¹ mod m = 1, in u64 arithmetic).
    #[test]
    fn the_constant_time_inverse_is_the_inverse() {
        for m in (3u32..1000).step_by(2) {
            for x in 0..m {
                let expected = (1..m).find(|&y| u64::from(x) * u64::from(y) % u64::from(m) == 1);
                let (inverse, coprime) = inverse_mod(x, m);
                assert_eq!(coprime == 1, expected.is_some(), "{x} mod {m}");
                if let Some(y) = expected {
                    assert_eq!(inverse, y, "{x} mod {m}");
                }
            }
        }
        for (i, &w) in words(7, 2000).iter().enumerate() {
            let m = [E, u32::MAX, 0xffff_fffb, 3 * 5 * 7 * 11 * 13 * 17 * 19 * 23][i % 4];
            let x = w % m;
            let (inverse, coprime) = inverse_mod(x, m);
            let gcd_one = big(&[x]).gcd_one(m);
            assert_eq!(coprime == 1, gcd_one, "{x} mod {m}");
            if gcd_one {
                assert_eq!(
                    u64::from(x) * u64::from(inverse) % u64::from(m),
                    1,
                    "{x} mod {m}"
                );
                assert!(inverse < m);
            }
        }
    }

    trait GcdOne {
        fn gcd_one(&self, m: u32) -> bool;
    }

    impl GcdOne for BigUint {
        fn gcd_one(&self, m: u32) -> bool {
            let (mut a, mut b) = (self.clone(), BigUint::from(m));
            while b != BigUint::from(0u32) {
                (a, b) = (b.clone(), a % b);
            }
            a == BigUint::from(1u32)
        }
    }

    /// d e ≡ 1 modulo φ-like and λ-like moduli of many lengths (even numbers, any shape).
    #[test]
    fn private_exponent_inverts_e_modulo_any_even_modulus() {
        let mut coprime_seen = 0;
        for (seed, len) in [1usize, 2, 3, 16, 32, 47, 64, 96, 128]
            .into_iter()
            .enumerate()
        {
            for e in [E, 3, 17, 0xffff_fffb] {
                let mut m = words(seed as u64 * 31 + u64::from(e), len);
                m[0] &= !1;
                *m.last_mut().unwrap() |= 1 << 30;
                let mut d = std::vec![0u32; len];
                let ok = private_exponent(&m, e, &mut d);
                assert_eq!(ok, big(&m).gcd_one(e), "{len} words, e = {e}");
                if ok {
                    coprime_seen += 1;
                    assert_eq!(
                        big(&d) * e % big(&m),
                        BigUint::from(1u32),
                        "{len} words, e = {e}"
                    );
                }
            }
        }
        assert!(coprime_seen > 20);
    }

    #[test]
    fn far_apart_is_the_bit_length_rule() {
        let half = 16;
        let p = words(1, half);
        for delta_bit in [0usize, 100, 411, 412, 413, 500] {
            for sign in [false, true] {
                let mut q = p.clone();
                let mut delta = std::vec![0u32; half];
                delta[delta_bit / 32] = 1 << (delta_bit % 32);
                if sign {
                    bigint::add_assign(&mut q, &delta);
                } else {
                    let tmp = q.clone();
                    bigint::sub_into(&mut q, &tmp, &delta);
                }
                let distance = if big(&p) > big(&q) {
                    big(&p) - big(&q)
                } else {
                    big(&q) - big(&p)
                };
                let expected = distance.bits() as usize > 32 * half - 100;
                let (mut diff, mut other) = (std::vec![0; half], std::vec![0; half]);
                assert_eq!(
                    far_apart(&p, &q, &mut diff, &mut other),
                    expected,
                    "{delta_bit}"
                );
            }
        }
    }

    #[test]
    fn phi_is_p_minus_one_times_q_minus_one() {
        let (p, q) = (words(3, 8), words(4, 8));
        let mut n = std::vec![0u32; 16];
        bigint::mul(&p, &q, &mut n);
        let (mut phi, mut tmp, mut scratch) =
            (std::vec![0; 16], std::vec![0; 16], std::vec![0; 16]);
        phi_of(&n, &p, &q, &mut phi, &mut tmp, &mut scratch);
        let one = BigUint::from(1u32);
        assert_eq!(big(&phi), (big(&p) - &one) * (big(&q) - &one));
    }

    #[test]
    fn private_exponent_of_a_toy_key() {
        // p = 61, q = 53: φ = 3120, e = 17 → d = 2753 (the classic textbook example).
        let mut d = [0u32; 1];
        assert!(private_exponent(&[3120], 17, &mut d));
        assert_eq!(d[0], 2753);
        // e shares a factor with φ.
        assert!(!private_exponent(&[3120], 3, &mut d));
    }
}
