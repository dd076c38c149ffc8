//! RSA key generation on the device (FIPS 186-5 appendix A.1.3 style, probable primes): random
//! odd candidates with their two top bits set, trial division by the small primes, then
//! Miller–Rabin with random bases, every exponentiation on the backend's RSA accelerator.
//! `e` = 65537; `|p - q|` must exceed `2^(bits/2 - 100)`; `d = e⁻¹ mod (p-1)(q-1)`.
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

/// `a mod m` for a small `m`.
fn mod_small(a: &[u32], m: u32) -> u32 {
    a.iter()
        .rev()
        .fold(0u64, |r, &w| ((r << 32) | u64::from(w)) % u64::from(m)) as u32
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
    let mut s = Search {
        m: MontModulus::new(),
        residues: [0; 302],
        base: [0; HALF_WORDS],
        exponent: [0; HALF_WORDS],
        x: [0; HALF_WORDS],
        y: [0; HALF_WORDS],
        minus_one: [0; HALF_WORDS],
        tmp: [0; MAX_WORDS],
    };
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
                *r = (*r + 2) % u32::from(p);
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
        s.base[w - 1] %= s.m.words[w - 1];
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

/// `d = e⁻¹ mod φ` with `φ = (p-1)(q-1)` given in `phi` (`words` words), for a small odd `e`
/// coprime to `φ`: `d = (k φ + 1) / e` with `k = -φ⁻¹ mod e`, which needs only word-by-small
/// arithmetic. Returns false when `e` and `φ` are not coprime.
pub(crate) fn private_exponent(phi: &[u32], e: u32, d: &mut [u32]) -> bool {
    let phi_mod_e = mod_small(phi, e);
    let Some(inverse) = inverse_mod(u64::from(phi_mod_e), u64::from(e)) else {
        return false;
    };
    let k = (u64::from(e) - inverse) % u64::from(e);
    // t = k φ + 1, one word longer than φ.
    let mut carry = 1u64;
    d.fill(0);
    let mut t = [0u32; MAX_WORDS + 1];
    for (i, &w) in phi.iter().enumerate() {
        let v = u64::from(w) * k + carry;
        t[i] = v as u32;
        carry = v >> 32;
    }
    t[phi.len()] = carry as u32;
    // d = t / e, exact.
    let mut rem = 0u64;
    for i in (0..=phi.len()).rev() {
        let cur = (rem << 32) | u64::from(t[i]);
        let q = cur / u64::from(e);
        rem = cur % u64::from(e);
        if i < d.len() {
            d[i] = q as u32;
        }
    }
    t.zeroize();
    rem == 0
}

/// `a⁻¹ mod m` by the extended Euclidean algorithm, or `None` when they share a factor.
fn inverse_mod(a: u64, m: u64) -> Option<u64> {
    let (mut r0, mut r1) = (m as i128, a as i128);
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    (r0 == 1).then(|| t0.rem_euclid(m as i128) as u64)
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
    let mut diff = [0u32; HALF_WORDS + 1];
    loop {
        prime(backend, half, &mut out.p, &mut stats)?;
        prime(backend, half, &mut out.q, &mut stats)?;
        // |p - q| > 2^(bits/2 - 100), which also rules out p = q.
        let borrow = bigint::sub_into(&mut diff[..half], &out.p[..half], &out.q[..half]);
        if borrow != 0 {
            bigint::sub_into(&mut diff[..half], &out.q[..half], &out.p[..half]);
        }
        if bigint::bit_len(&diff[..half]) > 32 * half - 100 {
            break;
        }
    }
    diff.zeroize();
    let words = 2 * half;
    bigint::mul(&out.p[..half], &out.q[..half], &mut out.n.words[..words]);
    out.n.words[words..].fill(0);
    let mut tmp = [0u32; MAX_WORDS];
    out.n.compute(&mut tmp);
    // φ = (p-1)(q-1) = n - p - q + 1.
    let mut phi = [0u32; MAX_WORDS];
    phi[..words].copy_from_slice(&out.n.words[..words]);
    let mut scratch = [0u32; MAX_WORDS];
    for prime in [&out.p, &out.q] {
        scratch[..words].fill(0);
        scratch[..half].copy_from_slice(&prime[..half]);
        tmp[..words].copy_from_slice(&phi[..words]);
        bigint::sub_into(&mut phi[..words], &tmp[..words], &scratch[..words]);
    }
    bigint::add_assign(&mut phi[..words], &[1]);
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
