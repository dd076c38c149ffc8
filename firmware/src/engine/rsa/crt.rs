//! The RSA private operation by the Chinese remainder theorem (RFC 8017 section 5.1.2, Garner's
//! recombination) on the accelerator, and its check with the public exponent.
//!
//! With `m` the message representative: `m1 = (m mod p)^dp mod p`, `m2 = (m mod q)^dq mod q`,
//! `h = qinv (m1 - m2) mod p`, `s = m2 + h q`. The two exponentiations are half the modulus
//! length, about four times faster than one full-length exponentiation with `d`.
use subtle::Choice;
use ucrypto_protocol::ErrorCode;

use super::{backend_refusal, bigint, Refusal, Workspace};
use crate::Backend;

/// Computes the signature of `ws.em` into `ws.b[..n.len]`.
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

    // h q < p q = n, so the accelerator's product modulo n is the plain product; in b.
    ws.a[pl..nl].fill(0);
    backend
        .rsa_mod_mul(
            &ws.a[..nl],
            &ws.q.words[..nl],
            &ws.n.as_modulus(),
            &mut ws.b[..nl],
        )
        .map_err(backend_refusal)?;

    // s = m2 + h q <= (q - 1) + (p - 1) q < n: no carry and below n, unless something failed.
    ws.c[ql..nl].fill(0);
    let carry = bigint::add_assign(&mut ws.b[..nl], &ws.c[..nl]);
    if carry != 0 || !bigint::less_than(&ws.b[..nl], &ws.n.words[..nl]) {
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
    backend
        .rsa_mod_exp(
            &ws.b[..nl],
            &ws.e[..nl],
            &ws.n.as_modulus(),
            &mut ws.d[..nl],
        )
        .map_err(backend_refusal)?;
    if bigint::equal(&ws.d[..nl], &ws.em[..nl]) {
        Ok(())
    } else {
        Err(FAULT)
    }
}

const FAULT: Refusal = (
    ErrorCode::FaultDetected,
    "the signature failed the device's check with the public exponent: not released",
);
