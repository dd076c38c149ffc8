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
pub(crate) mod unpad;
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

/// The answer to every decryption that fails on its input: a ciphertext of the wrong length or
/// not below the modulus, or a block whose padding is invalid. One code and one message, whatever
/// was wrong, so that the answer is no padding oracle.
pub(crate) const DECRYPT_FAILED: Refusal = (
    ErrorCode::DecryptFailed,
    "decryption failed: the ciphertext does not open with this key and padding",
);

/// RSADP (RFC 8017 section 5.1.2) with the key loaded in `ws` (modulus of `k` bytes): the
/// ciphertext `c` (exactly `k` bytes, below the modulus) raised to the private exponent by CRT,
/// checked with the public exponent (`m^e mod n` must give `c` back: the same fault guard as a
/// signature's), written big-endian to `out[..k]`. The key stays in `ws`; every intermediate
/// value is wiped.
pub(crate) fn decrypt_raw_loaded<B: Backend>(
    backend: &mut B,
    ws: &mut Workspace,
    k: usize,
    ciphertext: &[u8],
    out: &mut [u8],
) -> Result<(), Refusal> {
    let result = decrypt_raw_with(backend, ws, k, ciphertext, out);
    ws.wipe_intermediates();
    result
}

fn decrypt_raw_with<B: Backend>(
    backend: &mut B,
    ws: &mut Workspace,
    k: usize,
    ciphertext: &[u8],
    out: &mut [u8],
) -> Result<(), Refusal> {
    let nl = ws.n.len;
    // The ciphertext is public: these checks may branch.
    if ciphertext.len() != k
        || !bigint::from_be_bytes(ciphertext, &mut ws.em)
        || !bigint::less_than(&ws.em[..nl], &ws.n.words[..nl])
    {
        return Err(DECRYPT_FAILED);
    }
    let out = out.get_mut(..k).ok_or((
        ErrorCode::Internal,
        "plaintext buffer shorter than the modulus",
    ))?;
    crt::sign(backend, ws)?;
    crt::check(backend, ws)?;
    if !bigint::to_be_bytes(&ws.b[..nl], out) {
        return Err((ErrorCode::Internal, "result longer than the modulus"));
    }
    Ok(())
}

/// Checks `key` as [`sign_digest`] does before signing, without signing; returns the modulus
/// length in bytes.
pub(crate) fn check_private_key(key: &RsaPrivateKey<'_>, max_bits: u16) -> Result<usize, Refusal> {
    Workspace::new().load(key, max_bits)
}

#[cfg(test)]
pub(super) mod tests;
