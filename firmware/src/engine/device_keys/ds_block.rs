//! The Digital Signature peripheral's encrypted parameter block, computed on the device exactly
//! as ESP-IDF's `esp_ds_encrypt_params` and esp_secure_cert_mgr's `configure_ds.py` do:
//!
//! - `Y = d`, `M = n`, `Rb = R² mod n` with `R = 2^(32 (L + 1))`, `M' = -n⁻¹ mod 2³²`,
//!   `L = bits / 32 - 1`; numbers little-endian, zero-padded to the chip's largest modulus
//!   (384 bytes on the ESP32-C3/C6);
//! - `MD = SHA-256(Y ‖ M ‖ Rb ‖ M' ‖ L ‖ IV)` (`M'` and `L` as u32 little-endian);
//! - plaintext `Y ‖ M ‖ Rb ‖ MD ‖ M' ‖ L ‖ 0x08 × 8`, encrypted with AES-256-CBC under
//!   `HMAC-SHA256(K, 0xFF × 32)` (the key the HMAC peripheral derives from the eFuse key `K`
//!   for the DS peripheral), with a random IV and no further padding.
use aes::cipher::{BlockEncrypt, KeyInit};
use zeroize::Zeroize;

use crate::backend::key_hardware::DsBlock;
use crate::Backend;

/// `HMAC-SHA256(key, message)` (RFC 2104) on the backend's SHA-256 accelerator. Written here
/// rather than with the `hmac` crate because the hash is the backend's, not a `Digest` type.
pub(crate) fn hmac_sha256<B: Backend>(backend: &mut B, key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut pad = [0u8; 64];
    pad[..32].copy_from_slice(key);
    pad.iter_mut().for_each(|b| *b ^= 0x36);
    let mut inner = backend.sha256_start();
    backend.sha256_update(&mut inner, &pad);
    backend.sha256_update(&mut inner, message);
    let mut inner_digest = backend.sha256_finish(inner);
    // 0x36 ^ 0x5c turns the inner pad into the outer one.
    pad.iter_mut().for_each(|b| *b ^= 0x36 ^ 0x5c);
    let mut outer = backend.sha256_start();
    backend.sha256_update(&mut outer, &pad);
    backend.sha256_update(&mut outer, &inner_digest);
    pad.zeroize();
    inner_digest.zeroize();
    let mac = backend.sha256_finish(outer);
    clear_sha_registers(backend);
    mac
}

/// Hashes one block of zeros, so that the SHA accelerator's registers hold nothing of the last
/// computation: after an HMAC its digest registers hold the MAC (here the DS peripheral's AES
/// key) and its message registers the last block. The backends wipe the saved states
/// themselves when a computation finishes.
fn clear_sha_registers<B: Backend>(backend: &mut B) {
    let mut scrub = backend.sha256_start();
    backend.sha256_update(&mut scrub, &[0; 64]);
    backend.sha256_finish(scrub);
}

/// The AES key the HMAC peripheral gives the DS peripheral for eFuse key `k`.
pub(crate) fn ds_aes_key<B: Backend>(backend: &mut B, k: &[u8; 32]) -> [u8; 32] {
    hmac_sha256(backend, k, &[0xff; 32])
}

/// The numbers of a DS key, little-endian words of `n.len()` = `L + 1` words each.
pub(crate) struct DsNumbers<'a> {
    pub(crate) d: &'a [u32],
    pub(crate) n: &'a [u32],
    pub(crate) r_squared: &'a [u32],
    pub(crate) m_prime: u32,
}

/// Writes `words` little-endian into `out`, zero-padded to its length.
fn put_le(words: &[u32], out: &mut [u8]) {
    out.fill(0);
    for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
}

/// Builds the block for `numbers` under eFuse key `k` with `iv`, for a chip whose largest DS
/// modulus is `max_bits`.
pub(crate) fn build<B: Backend>(
    backend: &mut B,
    k: &[u8; 32],
    iv: [u8; 16],
    numbers: &DsNumbers<'_>,
    max_bits: u16,
    out: &mut DsBlock,
) {
    let num_len = usize::from(max_bits) / 8;
    let l = numbers.n.len() as u32 - 1;
    let c_len = 3 * num_len + 32 + 8 + 8;
    out.rsa_length = l;
    out.iv = iv;
    out.c_len = c_len;
    let p = &mut out.c[..c_len];
    put_le(numbers.d, &mut p[..num_len]);
    put_le(numbers.n, &mut p[num_len..2 * num_len]);
    put_le(numbers.r_squared, &mut p[2 * num_len..3 * num_len]);
    let tail = 3 * num_len;
    let mut m_prime_l = [0u8; 8];
    m_prime_l[..4].copy_from_slice(&numbers.m_prime.to_le_bytes());
    m_prime_l[4..].copy_from_slice(&l.to_le_bytes());

    let mut md = backend.sha256_start();
    backend.sha256_update(&mut md, &p[..tail]);
    backend.sha256_update(&mut md, &m_prime_l);
    backend.sha256_update(&mut md, &iv);
    let md = backend.sha256_finish(md);
    p[tail..tail + 32].copy_from_slice(&md);
    p[tail + 32..tail + 40].copy_from_slice(&m_prime_l);
    p[tail + 40..].fill(0x08);

    let mut key = ds_aes_key(backend, k);
    let cipher = aes::Aes256::new(&key.into());
    key.zeroize();
    let mut chain = iv;
    for block in p.chunks_exact_mut(16) {
        for (b, c) in block.iter_mut().zip(&chain) {
            *b ^= c;
        }
        cipher.encrypt_block(aes::Block::from_mut_slice(block));
        chain.copy_from_slice(block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::software::{Seed, SoftwareBackend};
    use ucrypto_protocol::Chip;

    /// A 32-byte key and the DS derivation's message, against Python's `hmac` module.
    #[test]
    fn hmac_matches_python() {
        let mut backend = SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(1));
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let mac = hmac_sha256(&mut backend, &key, &[0xff; 32]);
        assert_eq!(hex(&mac), python_hmac(&key));
    }

    /// A backend that remembers, as the accelerator's registers would, the last bytes fed and the
    /// last digest given out.
    struct Registers {
        inner: SoftwareBackend,
        last_fed: std::vec::Vec<u8>,
        last_digest: [u8; 32],
    }

    impl crate::Backend for Registers {
        fn chip(&self) -> Chip {
            self.inner.chip()
        }
        fn device_id(&self) -> [u8; 6] {
            self.inner.device_id()
        }
        fn is_virtual(&self) -> bool {
            true
        }
        fn entropy(&self) -> ucrypto_protocol::Entropy {
            self.inner.entropy()
        }
        fn fill_random(&mut self, out: &mut [u8]) -> Result<(), crate::BackendError> {
            self.inner.fill_random(out)
        }
        fn aes_encrypt_block(
            &mut self,
            k: &crate::backend::AesKey,
            b: &mut [u8; 16],
        ) -> Result<(), crate::BackendError> {
            self.inner.aes_encrypt_block(k, b)
        }
        fn aes_decrypt_block(
            &mut self,
            k: &crate::backend::AesKey,
            b: &mut [u8; 16],
        ) -> Result<(), crate::BackendError> {
            self.inner.aes_decrypt_block(k, b)
        }
        type ShaState = <SoftwareBackend as crate::Backend>::ShaState;
        fn sha_start(&mut self, alg: ucrypto_protocol::HashAlg) -> Self::ShaState {
            self.inner.sha_start(alg)
        }
        fn sha_update(&mut self, state: &mut Self::ShaState, data: &[u8]) {
            self.last_fed = data.to_vec();
            self.inner.sha_update(state, data)
        }
        fn sha_finish(&mut self, state: Self::ShaState, out: &mut [u8; 32]) {
            self.inner.sha_finish(state, out);
            self.last_digest = *out;
        }
        fn rsa_mod_exp(
            &mut self,
            base: &[u32],
            exponent: &[u32],
            modulus: &crate::backend::Modulus<'_>,
            out: &mut [u32],
        ) -> Result<(), crate::BackendError> {
            self.inner.rsa_mod_exp(base, exponent, modulus, out)
        }
        fn rsa_mod_mul(
            &mut self,
            a: &[u32],
            b: &[u32],
            modulus: &crate::backend::Modulus<'_>,
            out: &mut [u32],
        ) -> Result<(), crate::BackendError> {
            self.inner.rsa_mod_mul(a, b, modulus, out)
        }
    }

    /// After the DS key derivation neither the digest registers (the MAC: the DS block's AES
    /// key) nor the message registers (the inner digest) hold anything of it.
    #[test]
    fn the_sha_registers_hold_nothing_of_the_hmac_afterwards() {
        let mut backend = Registers {
            inner: SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(1)),
            last_fed: std::vec::Vec::new(),
            last_digest: [0; 32],
        };
        let key: [u8; 32] = core::array::from_fn(|i| 0xa0 ^ i as u8);
        let mac = ds_aes_key(&mut backend, &key);
        assert_eq!(hex(&mac), python_hmac(&key));
        assert_ne!(
            backend.last_digest, mac,
            "the MAC stayed in the digest registers"
        );
        assert!(
            backend.last_fed.iter().all(|&b| b == 0),
            "the last message block of the HMAC stayed in the message registers"
        );
    }

    /// A finished state is wiped: the software backend's state holds the initial value after
    /// `finish`, whatever it absorbed.
    #[test]
    fn a_finished_software_state_is_wiped() {
        let mut backend = SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(1));
        let mut state = backend.sha256_start();
        backend.sha256_update(&mut state, &[0x5a; 100]);
        assert!(!state.is_initial());
        state.wipe();
        assert!(state.is_initial());
    }

    fn hex(bytes: &[u8]) -> std::string::String {
        bytes.iter().map(|b| std::format!("{b:02x}")).collect()
    }

    fn python_hmac(key: &[u8; 32]) -> std::string::String {
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg(std::format!(
                "import hmac;print(hmac.new(bytes.fromhex('{}'), b'\\xff'*32, 'sha256').hexdigest())",
                hex(key)
            ))
            .output()
            .expect("python3 runs");
        std::string::String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .into()
    }
}
