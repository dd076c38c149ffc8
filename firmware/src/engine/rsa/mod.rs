//! RSASSA-PKCS1-v1_5 with SHA-256 on the backend's RSA accelerator: key loading and checks,
//! Montgomery constants, the CRT private operation, and the check with the public exponent.
//!
//! All big numbers live in one fixed-size [`Workspace`] (no allocation), wiped when dropped, so
//! every exit path, success or refusal, leaves no key material behind.
use ucrypto_protocol::{ErrorCode, RsaPrivateKey};

use crate::Backend;

pub(crate) mod bigint;
mod crt;
pub(crate) mod emsa;
pub(crate) mod kat;
pub(crate) mod montgomery;
mod public_exp;
mod workspace;

#[cfg(test)]
use montgomery::MontModulus;

pub(crate) use bigint::MAX_WORDS;
pub(crate) use workspace::Workspace;

/// Why a signature was refused: an error code and a hint for people.
pub(crate) use super::outcome::Refusal;

/// Signs `digest` (SHA-256) with `key` on a chip whose largest modulus is `max_bits`; the
/// signature (as long as the modulus) goes to the start of `out`, and its length is returned.
/// The signature is checked with the public exponent first: a mismatch (a fault during the
/// private operation) is [`ErrorCode::FaultDetected`] and nothing is written.
pub(crate) fn sign_digest<B: Backend>(
    backend: &mut B,
    key: &RsaPrivateKey<'_>,
    digest: &[u8; 32],
    max_bits: u16,
    out: &mut [u8],
) -> Result<usize, Refusal> {
    // Wiped when dropped, on every return below.
    let mut ws = Workspace::new();
    let k = ws.load(key, max_bits)?;
    sign_loaded(backend, &mut ws, k, digest, out)
}

/// Signs `digest` with the key already loaded in `ws` (modulus of `k` bytes), as
/// [`sign_digest`] does. The key stays in `ws`; every intermediate value is wiped.
pub(crate) fn sign_loaded<B: Backend>(
    backend: &mut B,
    ws: &mut Workspace,
    k: usize,
    digest: &[u8; 32],
    out: &mut [u8],
) -> Result<usize, Refusal> {
    let result = sign_with(backend, ws, k, digest, out);
    ws.wipe_intermediates();
    result
}

fn sign_with<B: Backend>(
    backend: &mut B,
    ws: &mut Workspace,
    k: usize,
    digest: &[u8; 32],
    out: &mut [u8],
) -> Result<usize, Refusal> {
    let em = out.get_mut(..k).ok_or((
        ErrorCode::Internal,
        "signature buffer shorter than the modulus",
    ))?;
    if !emsa::encode_sha256(digest, em) || !bigint::from_be_bytes(em, &mut ws.em) {
        return Err((ErrorCode::Internal, "message encoding failed"));
    }
    em.fill(0);
    crt::sign(backend, ws)?;
    crt::check(backend, ws)?;
    if !bigint::to_be_bytes(&ws.b[..ws.n.len], em) {
        return Err((ErrorCode::Internal, "signature longer than the modulus"));
    }
    Ok(k)
}

/// Checks `key` as [`sign_digest`] does before signing, without signing; returns the modulus
/// length in bytes.
pub(crate) fn check_private_key(key: &RsaPrivateKey<'_>, max_bits: u16) -> Result<usize, Refusal> {
    Workspace::new().load(key, max_bits)
}

#[cfg(test)]
pub(super) mod tests;
