//! The RSA private operation by the Chinese remainder theorem (RFC 8017 section 5.1.2, Garner's
//! recombination) on the accelerator, and its check with the public exponent.
//!
//! With `m` the message representative: `m1 = (m mod p)^dp mod p`, `m2 = (m mod q)^dq mod q`,
//! `h = qinv (m1 - m2) mod p`, `s = m2 + h q`. The two exponentiations are half the modulus
//! length, about four times faster than one full-length exponentiation with `d`. Only the two
//! half-length exponentiations and `qinv (m1 - m2) mod p` need the accelerator, so a 4096-bit key
//! signs on a chip whose accelerator stops at 3072 bits; the check with `e` then runs in software.
use subtle::Choice;
use ucrypto_protocol::ErrorCode;

use super::workspace::{backend_refusal, Workspace};
use super::{bigint, public_exp};
use crate::engine::outcome::Refusal;
use crate::{Backend, ChipProfile};

/// Raises `ws.em` to the private exponent into `ws.b[..n.len]` (a signature, or a decryption).
pub(super) fn sign<B: Backend>(backend: &mut B, ws: &mut Workspace) -> Result<(), Refusal> {
    let (nl, pl, ql) = (ws.n.len, ws.p.len, ws.q.len);

    // m1 = (m mod p)^dp mod p, in b.
    bigint::reduce(
        &ws.em[..nl],
        &ws.p.words[..pl],
        &mut ws.a[..pl],
        &mut ws.tmp[..pl],
    );
    backend
        .rsa_mod_exp(
            &ws.a[..pl],
            &ws.dp[..pl],
            &ws.p.as_modulus(),
            &mut ws.b[..pl],
        )
        .map_err(backend_refusal)?;

    // m2 = (m mod q)^dq mod q, in c.
    bigint::reduce(
        &ws.em[..nl],
        &ws.q.words[..ql],
        &mut ws.a[..ql],
        &mut ws.tmp[..ql],
    );
    backend
        .rsa_mod_exp(
            &ws.a[..ql],
            &ws.dq[..ql],
            &ws.q.as_modulus(),
            &mut ws.c[..ql],
        )
        .map_err(backend_refusal)?;

    // (m1 - m2) mod p, in d: m2 is below q, which may exceed p, so reduce it first.
    bigint::reduce(
        &ws.c[..ql],
        &ws.p.words[..pl],
        &mut ws.a[..pl],
        &mut ws.tmp[..pl],
    );
    // The borrow says whether m1 < m2: secret, so it only selects, through `subtle`.
    let borrow = bigint::sub_into(&mut ws.d[..pl], &ws.b[..pl], &ws.a[..pl]);
    bigint::cond_add_assign(
        &mut ws.d[..pl],
        &ws.p.words[..pl],
        Choice::from(borrow as u8),
    );

    // h = qinv (m1 - m2) mod p, in a.
    backend
        .rsa_mod_mul(
            &ws.qinv[..pl],
            &ws.d[..pl],
            &ws.p.as_modulus(),
            &mut ws.a[..pl],
        )
        .map_err(backend_refusal)?;

    // h q < p q = n, in software: the full-length product may exceed the accelerator's operand
    // size (a 4096-bit key on a 3072-bit accelerator), and a schoolbook product of two halves
    // costs far less than the exponentiations.
    bigint::mul(&ws.a[..pl], &ws.q.words[..ql], &mut ws.product[..pl + ql]);
    ws.product[pl + ql..].fill(0);

    // s = m2 + h q <= (q - 1) + (p - 1) q < n: no carry and below n, unless something failed.
    ws.c[ql..nl].fill(0);
    let carry = bigint::add_assign(&mut ws.product[..nl], &ws.c[..nl]);
    let high = ws.product[nl..].iter().fold(0, |acc, &w| acc | w);
    ws.b[..nl].copy_from_slice(&ws.product[..nl]);
    ws.product.fill(0);
    if carry != 0 || high != 0 || !bigint::less_than(&ws.b[..nl], &ws.n.words[..nl]) {
        return Err(FAULT);
    }
    Ok(())
}

/// Checks the signature in `ws.b` with the public exponent: `s^e mod n` must be the message
/// representative. A fault during the private operation (a glitch, a bad accelerator result)
/// gives a signature that fails this, and one such signature would reveal a prime factor of
/// `n` (the Bellcore attack on CRT): it must never leave the device.
pub(super) fn check<B: Backend>(backend: &mut B, ws: &mut Workspace) -> Result<(), Refusal> {
    let nl = ws.n.len;
    let accelerator_bits = usize::from(ChipProfile::of(backend.chip()).rsa_accelerator_bits);
    if 32 * nl <= accelerator_bits {
        backend
            .rsa_mod_exp(
                &ws.b[..nl],
                &ws.e[..nl],
                &ws.n.as_modulus(),
                &mut ws.d[..nl],
            )
            .map_err(backend_refusal)?;
    } else {
        // The modulus is longer than the accelerator takes: the same check in software.
        let scratch = public_exp::Scratch {
            base: &mut ws.a[..nl],
            acc: &mut ws.c[..nl],
            next: &mut ws.tmp[..nl],
            t: &mut ws.product[..nl + 2],
        };
        public_exp::pow(&ws.b[..nl], &ws.e[..nl], &ws.n, &mut ws.d[..nl], scratch);
    }
    if bigint::equal(&ws.d[..nl], &ws.em[..nl]) {
        Ok(())
    } else {
        Err(FAULT)
    }
}

const FAULT: Refusal = (
    ErrorCode::FaultDetected,
    "the private operation failed the device's check with the public exponent: not released",
);
