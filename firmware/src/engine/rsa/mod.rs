//! RSASSA-PKCS1-v1_5 with SHA-256 on the backend's RSA accelerator: key loading and checks,
//! Montgomery constants, the CRT private operation, and the check with the public exponent.
//!
//! All big numbers live in one fixed-size [`Workspace`] (no allocation), wiped when dropped, so
//! every exit path, success or refusal, leaves no key material behind.
use ucrypto_protocol::{ErrorCode, RsaPrivateKey, MAX_RSA_BITS, MIN_RSA_BITS};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Backend, BackendError};

pub(crate) mod bigint;
mod crt;
pub(crate) mod emsa;
pub(crate) mod kat;
pub(crate) mod montgomery;
mod public_exp;
pub(crate) mod unpad;

use montgomery::MontModulus;

/// Words of the largest modulus the protocol carries.
pub(crate) const MAX_WORDS: usize = MAX_RSA_BITS as usize / 32;

/// Why a signature was refused: an error code and a hint for people.
pub(crate) use super::outcome::Refusal;

/// Every number of one signature: the key in word form with its Montgomery constants, the
/// message representative and the intermediate values.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct Workspace {
    n: MontModulus,
    p: MontModulus,
    q: MontModulus,
    /// The public exponent, zero-padded to the modulus length.
    e: [u32; MAX_WORDS],
    dp: [u32; MAX_WORDS],
    dq: [u32; MAX_WORDS],
    qinv: [u32; MAX_WORDS],
    /// The EMSA-PKCS1-v1_5 encoding as a number.
    em: [u32; MAX_WORDS],
    /// Intermediate values of the private operation (see `crt`).
    a: [u32; MAX_WORDS],
    b: [u32; MAX_WORDS],
    c: [u32; MAX_WORDS],
    d: [u32; MAX_WORDS],
    tmp: [u32; MAX_WORDS],
    /// `p * q`, to check it is `n`; then `h * q` in the private operation.
    product: [u32; 2 * MAX_WORDS],
}

impl Workspace {
    /// Wipes the values of one signature, keeping the key and its constants.
    fn wipe_intermediates(&mut self) {
        for v in [
            &mut self.em,
            &mut self.a,
            &mut self.b,
            &mut self.c,
            &mut self.d,
            &mut self.tmp,
        ] {
            v.zeroize();
        }
        self.product.zeroize();
    }

    pub(crate) const fn new() -> Self {
        Self {
            n: MontModulus::new(),
            p: MontModulus::new(),
            q: MontModulus::new(),
            e: [0; MAX_WORDS],
            dp: [0; MAX_WORDS],
            dq: [0; MAX_WORDS],
            qinv: [0; MAX_WORDS],
            em: [0; MAX_WORDS],
            a: [0; MAX_WORDS],
            b: [0; MAX_WORDS],
            c: [0; MAX_WORDS],
            d: [0; MAX_WORDS],
            tmp: [0; MAX_WORDS],
            product: [0; 2 * MAX_WORDS],
        }
    }

    /// Loads and checks `key` for a chip whose largest modulus is `max_bits`, and computes
    /// the Montgomery constants. Returns the modulus length in bytes.
    pub(crate) fn load(
        &mut self,
        key: &RsaPrivateKey<'_>,
        max_bits: u16,
    ) -> Result<usize, Refusal> {
        const TOO_LARGE: Refusal = (
            ErrorCode::Unsupported,
            "modulus larger than this chip's RSA accelerator: see max_rsa_bits",
        );
        if !bigint::from_be_bytes(key.n, &mut self.n.words) {
            return Err(TOO_LARGE);
        }
        let bits = bigint::bit_len(&self.n.words);
        if bits > usize::from(max_bits) {
            return Err(TOO_LARGE);
        }
        if bits < usize::from(MIN_RSA_BITS) {
            return Err((
                ErrorCode::Unsupported,
                "modulus smaller than 1024 bits: refused as too weak",
            ));
        }
        if self.n.words[0] & 1 == 0 {
            return Err((ErrorCode::BadArgument, "the modulus is even"));
        }
        let nl = bits.div_ceil(32);

        if !bigint::from_be_bytes(key.e, &mut self.e)
            || bigint::word_len(&self.e) > nl
            || !bigint::less_than(&self.e[..nl], &self.n.words[..nl])
            || self.e[0] & 1 == 0
            || bigint::bit_len(&self.e) < 2
        {
            return Err((
                ErrorCode::BadArgument,
                "the public exponent must be odd, at least 3 and below the modulus",
            ));
        }

        const BAD_PRIME: Refusal = (
            ErrorCode::BadArgument,
            "p and q must be odd and their product must be the modulus",
        );
        for (bytes, prime) in [(key.p, &mut self.p), (key.q, &mut self.q)] {
            if !bigint::from_be_bytes(bytes, &mut prime.words) {
                return Err(BAD_PRIME);
            }
        }
        let (pl, ql) = (
            bigint::word_len(&self.p.words),
            bigint::word_len(&self.q.words),
        );
        if pl + ql > nl + 1 {
            return Err(BAD_PRIME);
        }
        for prime in [&self.p.words, &self.q.words] {
            if prime[0] & 1 == 0 || bigint::bit_len(prime) < 2 {
                return Err(BAD_PRIME);
            }
        }
        bigint::mul(
            &self.p.words[..pl],
            &self.q.words[..ql],
            &mut self.product[..pl + ql],
        );
        self.product[pl + ql..].fill(0);
        let high_is_zero = self.product[MAX_WORDS..].iter().fold(0, |acc, &w| acc | w) == 0;
        if !(high_is_zero && bigint::equal(&self.product[..MAX_WORDS], &self.n.words)) {
            return Err(BAD_PRIME);
        }

        const BAD_CRT: Refusal = (
            ErrorCode::BadArgument,
            "dp, dq and qinv must be below p, q and p",
        );
        for (bytes, out, below) in [
            (key.dp, &mut self.dp, &self.p),
            (key.dq, &mut self.dq, &self.q),
            (key.qinv, &mut self.qinv, &self.p),
        ] {
            let len = bigint::word_len(&below.words);
            if !bigint::from_be_bytes(bytes, out)
                || bigint::word_len(out) > len
                || !bigint::less_than(&out[..len], &below.words[..len])
            {
                return Err(BAD_CRT);
            }
        }

        self.n.compute(&mut self.tmp);
        self.p.compute(&mut self.tmp);
        self.q.compute(&mut self.tmp);
        Ok(bits.div_ceil(8))
    }
}

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

/// The accelerator's failures as answers.
fn backend_refusal(e: BackendError) -> Refusal {
    match e {
        BackendError::Unsupported => (
            ErrorCode::Unsupported,
            "the RSA accelerator does not take this operand size",
        ),
        _ => (ErrorCode::Internal, "the RSA accelerator failed"),
    }
}

#[cfg(test)]
pub(super) mod tests;
