//! RSA decryption (`Decrypt`, `DecryptLoaded`, `DecryptSlot`): the raw private operation on the
//! RSA accelerator by CRT (a sent or loaded key) or on the Digital Signature peripheral (a
//! device key), checked with the public exponent, then the padding decoded in constant time
//! (`rsa::unpad`). The plaintext leaves the device only when the padding is valid; every other
//! outcome of the decoding is the one [`rsa::DECRYPT_FAILED`], after the same work.
use ucrypto_protocol::{ResponseBody, RsaPadding, RsaPrivateKey, SelfTest, MAX_CHUNK_LEN};
use zeroize::Zeroize;

use super::device_keys;
use super::loaded_key::KeySlot;
use super::outcome::{refuse_after_failed_self_test, Outcome, Relies};
use super::rsa::{self, unpad, Workspace};
use crate::{Backend, ChipProfile};

/// `Decrypt`: with a key sent for this request.
pub(super) fn with_key<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    padding: RsaPadding,
    ciphertext: &[u8],
    key: &RsaPrivateKey<'_>,
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    refuse_after_failed_self_test(self_test, Relies::Decryption)?;
    let max_bits = ChipProfile::of(backend.chip()).max_rsa_bits;
    // Wiped when dropped, on every return below.
    let mut ws = Workspace::new();
    let k = ws.load(key, max_bits)?;
    rsa::decrypt_raw_loaded(backend, &mut ws, k, ciphertext, out)?;
    unpad_block(backend, padding, k, out)
}

/// `DecryptLoaded`: with the key loaded under `handle`.
pub(super) fn loaded<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    keys: &mut KeySlot,
    handle: u32,
    padding: RsaPadding,
    ciphertext: &[u8],
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    let k = keys.decrypt_raw(backend, self_test, handle, ciphertext, out)?;
    unpad_block(backend, padding, k, out)
}

/// `DecryptSlot`: with the device key in `slot`, through the DS peripheral.
pub(super) fn slot<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    slot: u8,
    padding: RsaPadding,
    ciphertext: &[u8],
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    let k = device_keys::decrypt_raw(backend, self_test, slot, ciphertext, out)?;
    unpad_block(backend, padding, k, out)
}

/// Decodes the block `out[..k]` (the private operation's result) with `padding` and answers its
/// message, moved to the front of `out`; the block is wiped when the padding is invalid.
fn unpad_block<'d, B: Backend>(
    backend: &mut B,
    padding: RsaPadding,
    k: usize,
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    let block = &mut out[..k];
    // Block lengths are public (the modulus's): these branches reveal nothing.
    let decoded = match padding {
        RsaPadding::OaepSha256 if k >= unpad::OAEP_MIN_LEN => {
            // lHash: SHA-256 of the empty label.
            let empty = backend.sha256_start();
            let lhash = backend.sha256_finish(empty);
            unpad::oaep_unmask(backend, block);
            unpad::oaep_decode(block, &lhash)
        }
        RsaPadding::Pkcs1v15 if k >= unpad::PKCS1_MIN_LEN => unpad::pkcs1v15_decode(block),
        _ => {
            block.zeroize();
            return Err(rsa::DECRYPT_FAILED);
        }
    };
    unpad::move_to_front(block, decoded.start);
    // The one branch on the decoding's result: the release.
    if decoded.good == 0 {
        block.zeroize();
        return Err(rsa::DECRYPT_FAILED);
    }
    let len = k - decoded.start as usize;
    Ok(ResponseBody::Plaintext { data: &out[..len] })
}
