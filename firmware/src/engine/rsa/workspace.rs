//! The numbers of one RSA private operation: the key in word form with its Montgomery
//! constants, the message representative and the intermediate values, wiped when dropped.
use ucrypto_protocol::{ErrorCode, RsaPrivateKey, MIN_RSA_BITS};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::bigint::{self, MAX_WORDS};
use super::montgomery::MontModulus;
use crate::engine::outcome::Refusal;
use crate::BackendError;

/// Every number of one signature: the key in word form with its Montgomery constants, the
/// message representative and the intermediate values.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct Workspace {
    pub(super) n: MontModulus,
    pub(super) p: MontModulus,
    pub(super) q: MontModulus,
    /// The public exponent, zero-padded to the modulus length.
    pub(super) e: [u32; MAX_WORDS],
    pub(super) dp: [u32; MAX_WORDS],
    pub(super) dq: [u32; MAX_WORDS],
    pub(super) qinv: [u32; MAX_WORDS],
    /// The EMSA-PKCS1-v1_5 encoding as a number.
    pub(super) em: [u32; MAX_WORDS],
    /// Intermediate values of the private operation (see `crt`).
    pub(super) a: [u32; MAX_WORDS],
    pub(super) b: [u32; MAX_WORDS],
    pub(super) c: [u32; MAX_WORDS],
    pub(super) d: [u32; MAX_WORDS],
    pub(super) tmp: [u32; MAX_WORDS],
    /// `p * q`, to check it is `n`; then `h * q` in the private operation.
    pub(super) product: [u32; 2 * MAX_WORDS],
}

impl Workspace {
    /// Wipes the values of one signature, keeping the key and its constants.
    pub(super) fn wipe_intermediates(&mut self) {
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

    /// Whether every number in the workspace is zero.
    #[cfg(test)]
    pub(crate) fn is_zero(&self) -> bool {
        let zero = |w: &[u32]| w.iter().all(|&x| x == 0);
        [&self.n, &self.p, &self.q]
            .iter()
            .all(|m| zero(&m.words) && zero(&m.r_squared) && m.m_prime == 0)
            && [
                &self.e, &self.dp, &self.dq, &self.qinv, &self.em, &self.a, &self.b, &self.c,
                &self.d, &self.tmp,
            ]
            .iter()
            .all(|w| zero(&w[..]))
            && zero(&self.product)
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

/// The accelerator's failures as answers.
pub(super) fn backend_refusal(e: BackendError) -> Refusal {
    match e {
        BackendError::Unsupported => (
            ErrorCode::Unsupported,
            "the RSA accelerator does not take this operand size",
        ),
        _ => (ErrorCode::Internal, "the RSA accelerator failed"),
    }
}
