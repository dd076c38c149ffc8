//! The hardware primitives the engine needs, as a trait: implemented by the chip's accelerators
//! (`firmware/chip`) and by software for the virtual device ([`software`]).
//!
//! Methods are the smallest units the accelerators offer, so that every piece of logic above
//! them (framing, dispatch, chaining, padding, Montgomery constants) stays in the engine, where
//! it is tested on the host.
use ucrypto_protocol::{Chip, Entropy, HashAlg};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub mod key_hardware;
pub mod reed_solomon;
#[cfg(any(test, feature = "software"))]
pub mod software;
#[cfg(any(test, feature = "software"))]
pub mod virtual_key_hardware;

pub use key_hardware::KeyHardware;

/// A hardware failure reported by a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendError {
    /// The entropy source is not running or failed its check.
    EntropyUnavailable,
    /// The accelerator does not handle this size.
    Unsupported,
    /// The accelerator did not complete.
    Hardware,
    /// A continuous health test of the RNG's output failed (SP 800-90B 4.4): no more draws
    /// until a reset.
    HealthTestFailed,
}

/// A device's identity and its hardware crypto primitives.
pub trait Backend {
    /// The chip model; the engine reports its [`crate::ChipProfile`].
    fn chip(&self) -> Chip;

    /// A unique id (the factory MAC address on hardware).
    fn device_id(&self) -> [u8; 6];

    /// True for the software backend: results are marked as not from hardware.
    fn is_virtual(&self) -> bool;

    /// The entropy source and its state.
    fn entropy(&self) -> Entropy;

    /// Fills `out` with bytes from the true RNG (never a plain pseudo-random generator on
    /// hardware). `out.len()` is a multiple of 4: words are written little-endian.
    fn fill_random(&mut self, out: &mut [u8]) -> Result<(), BackendError>;

    /// Encrypts one block in place with the AES accelerator. Returns
    /// [`BackendError::Unsupported`] for a key size the accelerator lacks (the engine then uses
    /// its software AES).
    fn aes_encrypt_block(&mut self, key: &AesKey, block: &mut [u8; 16])
        -> Result<(), BackendError>;

    /// Decrypts one block in place; see [`Backend::aes_encrypt_block`].
    fn aes_decrypt_block(&mut self, key: &AesKey, block: &mut [u8; 16])
        -> Result<(), BackendError>;

    /// The state of a SHA computation (SHA-256, SHA-224 or SHA-1) between two requests (the
    /// accelerator's saved context on hardware), so that a message can arrive over many frames.
    type ShaState;

    /// Starts a computation with `alg` (the ESP32-C3/C6 SHA accelerator has all three).
    fn sha_start(&mut self, alg: HashAlg) -> Self::ShaState;

    /// Feeds `data` into the computation.
    fn sha_update(&mut self, state: &mut Self::ShaState, data: &[u8]);

    /// Finishes the computation: the digest (`alg.digest_len()` bytes) goes to the start of
    /// `out`, and the rest of `out` is zero.
    fn sha_finish(&mut self, state: Self::ShaState, out: &mut [u8; 32]);

    /// Starts a SHA-256 computation.
    fn sha256_start(&mut self) -> Self::ShaState {
        self.sha_start(HashAlg::Sha256)
    }

    /// Feeds `data` into a SHA-256 computation.
    fn sha256_update(&mut self, state: &mut Self::ShaState, data: &[u8]) {
        self.sha_update(state, data)
    }

    /// Finishes a SHA-256 computation and returns the digest.
    fn sha256_finish(&mut self, state: Self::ShaState) -> [u8; 32] {
        let mut out = [0; 32];
        self.sha_finish(state, &mut out);
        out
    }

    /// `out = base ^ exponent mod modulus` on the RSA accelerator. All operands are
    /// little-endian `u32` words (word 0 least significant), as long as `modulus.words`, with
    /// `base < modulus`. The accelerator keeps its constant-time setting for this operation.
    fn rsa_mod_exp(
        &mut self,
        base: &[u32],
        exponent: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError>;

    /// `out = a * b mod modulus` on the RSA accelerator; operands as in
    /// [`Backend::rsa_mod_exp`], with `a, b < modulus`.
    fn rsa_mod_mul(
        &mut self,
        a: &[u32],
        b: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError>;

    /// The eFuse, key-record flash and Digital Signature hardware, on a chip that has them and
    /// whose backend drives them; `None` turns device keys off.
    fn key_hardware(&mut self) -> Option<&mut dyn KeyHardware> {
        None
    }
}

/// An AES key of one of the three sizes, wiped when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub enum AesKey {
    Aes128([u8; 16]),
    Aes192([u8; 24]),
    Aes256([u8; 32]),
}

impl AesKey {
    /// The key for `bytes` (16, 24 or 32 of them).
    pub fn from_slice(bytes: &[u8]) -> Option<AesKey> {
        Some(match bytes.len() {
            16 => AesKey::Aes128(bytes.try_into().ok()?),
            24 => AesKey::Aes192(bytes.try_into().ok()?),
            32 => AesKey::Aes256(bytes.try_into().ok()?),
            _ => return None,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            AesKey::Aes128(k) => k,
            AesKey::Aes192(k) => k,
            AesKey::Aes256(k) => k,
        }
    }
}

impl core::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AesKey({} bits, redacted)", self.as_bytes().len() * 8)
    }
}

/// An RSA modulus with the Montgomery constants the accelerator needs, computed by the engine
/// (`crate::engine`'s Montgomery code, tested on the host).
#[derive(Debug, Clone, Copy)]
pub struct Modulus<'a> {
    /// The modulus, little-endian words; odd.
    pub words: &'a [u32],
    /// `R^2 mod M` with `R = 2^(32 * words.len())`, little-endian words.
    pub r_squared: &'a [u32],
    /// `-M^-1 mod 2^32`.
    pub m_prime: u32,
}
