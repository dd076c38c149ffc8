//! The software backend of the virtual device: ChaCha20 for random words, seeded from the host
//! OS or from a fixed number (deterministic, for tests).
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use num_bigint::BigUint;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use ucrypto_protocol::{Chip, Entropy, EntropySource, EntropyState, HashAlg};

use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256};

use super::virtual_key_hardware::VirtualKeyHardware;
use super::{AesKey, Backend, BackendError, KeyHardware, Modulus};

/// Where the virtual device's randomness comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// 32 bytes from the host OS's RNG: random, but software.
    HostOs([u8; 32]),
    /// A fixed number: the same output every run, reported as deterministic.
    Fixed(u64),
}

/// A software SHA computation of one of the three algorithms, wiped when dropped: between an
/// HMAC's key block and its end the state is as good as the key.
#[derive(Clone)]
pub enum ShaState {
    Sha256(Sha256),
    Sha224(Sha224),
    Sha1(Sha1),
}

impl ShaState {
    /// Overwrites every byte of the state (hash words, buffered block, length) with a fresh
    /// state of the same algorithm; a volatile write, so it is not optimised away before the
    /// drop.
    pub fn wipe(&mut self) {
        // SAFETY: each place is valid, aligned and exclusive, and a fresh hasher of its type a
        // valid value for it; the old value owns no resources (plain words and bytes), so not
        // dropping it leaks nothing.
        unsafe {
            match self {
                ShaState::Sha256(s) => core::ptr::write_volatile(s, Sha256::new()),
                ShaState::Sha224(s) => core::ptr::write_volatile(s, Sha224::new()),
                ShaState::Sha1(s) => core::ptr::write_volatile(s, Sha1::new()),
            }
        }
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the state is a fresh one's (for tests).
    pub fn is_initial(&self) -> bool {
        match self {
            ShaState::Sha256(s) => s.clone().finalize() == Sha256::new().finalize(),
            ShaState::Sha224(s) => s.clone().finalize() == Sha224::new().finalize(),
            ShaState::Sha1(s) => s.clone().finalize() == Sha1::new().finalize(),
        }
    }
}

impl Drop for ShaState {
    fn drop(&mut self) {
        self.wipe();
    }
}

/// Software crypto behind the [`Backend`] trait.
pub struct SoftwareBackend {
    chip: Chip,
    rng: ChaCha20Rng,
    entropy: Entropy,
    device_id: [u8; 6],
    /// eFuses, flash and the DS peripheral, on a chip that has them.
    keys: Option<VirtualKeyHardware>,
    /// A fault: the RNG gives zero words (a stuck entropy source).
    rng_stuck: bool,
}

impl SoftwareBackend {
    pub fn new(chip: Chip, seed: Seed) -> Self {
        let (mut rng, entropy) = match seed {
            Seed::HostOs(bytes) => (
                ChaCha20Rng::from_seed(bytes),
                Entropy {
                    source: EntropySource::HostOs,
                    state: EntropyState::Ready,
                },
            ),
            Seed::Fixed(n) => (
                ChaCha20Rng::seed_from_u64(n),
                Entropy {
                    source: EntropySource::FixedSeed,
                    state: EntropyState::Deterministic,
                },
            ),
        };
        // A locally administered unicast MAC, so it cannot collide with a real chip's id.
        let mut device_id = [0u8; 6];
        rng.fill_bytes(&mut device_id);
        device_id[0] = (device_id[0] & 0xfc) | 0x02;
        // The id comes from its own stream position: reseed so random output does not start
        // with the id's bytes.
        let mut reseed = [0u8; 32];
        rng.fill_bytes(&mut reseed);
        let keys = crate::ChipProfile::of(chip)
            .ds_max_bits
            .map(|_| VirtualKeyHardware::new());
        Self {
            chip,
            rng: ChaCha20Rng::from_seed(reseed),
            entropy,
            device_id,
            keys,
            rng_stuck: false,
        }
    }

    /// A fault for tests: from now on the RNG gives only zero words, as a stuck entropy source
    /// would (the engine's health tests catch it), or gives random words again.
    pub fn stick_rng(&mut self, stuck: bool) {
        self.rng_stuck = stuck;
    }

    /// The eFuses, flash and DS peripheral (`None` for a chip without DS).
    pub fn keys(&self) -> Option<&VirtualKeyHardware> {
        self.keys.as_ref()
    }

    pub fn keys_mut(&mut self) -> Option<&mut VirtualKeyHardware> {
        self.keys.as_mut()
    }
}

impl Backend for SoftwareBackend {
    fn chip(&self) -> Chip {
        self.chip
    }

    fn device_id(&self) -> [u8; 6] {
        self.device_id
    }

    fn is_virtual(&self) -> bool {
        true
    }

    fn entropy(&self) -> Entropy {
        self.entropy
    }

    fn fill_random(&mut self, out: &mut [u8]) -> Result<(), BackendError> {
        if self.rng_stuck {
            out.fill(0);
        } else {
            self.rng.fill_bytes(out);
        }
        Ok(())
    }

    fn aes_encrypt_block(
        &mut self,
        key: &AesKey,
        block: &mut [u8; 16],
    ) -> Result<(), BackendError> {
        self.aes_block(key, block, true)
    }

    fn aes_decrypt_block(
        &mut self,
        key: &AesKey,
        block: &mut [u8; 16],
    ) -> Result<(), BackendError> {
        self.aes_block(key, block, false)
    }

    type ShaState = ShaState;

    fn sha_start(&mut self, alg: HashAlg) -> ShaState {
        match alg {
            HashAlg::Sha256 => ShaState::Sha256(Sha256::new()),
            HashAlg::Sha224 => ShaState::Sha224(Sha224::new()),
            HashAlg::Sha1 => ShaState::Sha1(Sha1::new()),
        }
    }

    fn sha_update(&mut self, state: &mut ShaState, data: &[u8]) {
        match state {
            ShaState::Sha256(s) => s.update(data),
            ShaState::Sha224(s) => s.update(data),
            ShaState::Sha1(s) => s.update(data),
        }
    }

    fn sha_finish(&mut self, mut state: ShaState, out: &mut [u8; 32]) {
        out.fill(0);
        match &mut state {
            ShaState::Sha256(s) => out.copy_from_slice(&s.finalize_reset()),
            ShaState::Sha224(s) => out[..28].copy_from_slice(&s.finalize_reset()),
            ShaState::Sha1(s) => out[..20].copy_from_slice(&s.finalize_reset()),
        }
        // Dropping the state wipes it.
    }

    fn rsa_mod_exp(
        &mut self,
        base: &[u32],
        exponent: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        let m = accelerator_modulus(self.rsa_accelerator_bits(), modulus, &[base, exponent], out)?;
        let base = below(base, &m)?;
        let r = base.modpow(&BigUint::from_slice(exponent), &m);
        write_words(&r, out)
    }

    fn rsa_mod_mul(
        &mut self,
        a: &[u32],
        b: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        let m = accelerator_modulus(self.rsa_accelerator_bits(), modulus, &[a, b], out)?;
        let r = (below(a, &m)? * below(b, &m)?) % m;
        write_words(&r, out)
    }

    fn key_hardware(&mut self) -> Option<&mut dyn KeyHardware> {
        self.keys.as_mut().map(|k| k as &mut dyn KeyHardware)
    }
}

impl SoftwareBackend {
    /// The chip's RSA accelerator size: the virtual device refuses longer operands as the chip
    /// does, so the engine's path for larger keys is the one the chip runs.
    fn rsa_accelerator_bits(&self) -> usize {
        usize::from(crate::ChipProfile::of(self.chip).rsa_accelerator_bits)
    }

    /// The chip's accelerator lacks some key sizes (192 bits on the ESP32-C3 and -C6): the
    /// virtual device refuses them here too, so the engine's software fallback is exercised.
    fn aes_block(
        &mut self,
        key: &AesKey,
        block: &mut [u8; 16],
        encrypt: bool,
    ) -> Result<(), BackendError> {
        let profile = crate::ChipProfile::of(self.chip);
        let size = ucrypto_protocol::KeySize::from_key_len(key.as_bytes().len())
            .ok_or(BackendError::Unsupported)?;
        if profile.aes_hw_key_sizes & size as u8 == 0 {
            return Err(BackendError::Unsupported);
        }
        let block = aes::Block::from_mut_slice(block);
        match key {
            AesKey::Aes128(k) => run(&aes::Aes128::new(k.into()), block, encrypt),
            AesKey::Aes192(k) => run(&aes::Aes192::new(k.into()), block, encrypt),
            AesKey::Aes256(k) => run(&aes::Aes256::new(k.into()), block, encrypt),
        }
        Ok(())
    }
}

fn run<
    C: BlockEncrypt + BlockDecrypt + aes::cipher::BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
>(
    cipher: &C,
    block: &mut aes::Block,
    encrypt: bool,
) {
    if encrypt {
        cipher.encrypt_block(block);
    } else {
        cipher.decrypt_block(block);
    }
}

/// The modulus, after checking what the chip's accelerator relies on: operands as long as the
/// modulus, and the Montgomery constants the engine computed. The accelerator computes with the
/// constants it is given, so wrong ones give wrong results on a chip: the virtual device
/// refuses them instead of computing without them.
fn accelerator_modulus(
    max_bits: usize,
    modulus: &Modulus<'_>,
    operands: &[&[u32]],
    out: &[u32],
) -> Result<BigUint, BackendError> {
    let k = modulus.words.len();
    if 32 * k > max_bits {
        return Err(BackendError::Unsupported);
    }
    let lengths_match = k > 0
        && modulus.r_squared.len() == k
        && out.len() == k
        && operands.iter().all(|o| o.len() == k);
    if !lengths_match || modulus.words[0] & 1 == 0 {
        return Err(BackendError::Hardware);
    }
    if modulus.m_prime.wrapping_mul(modulus.words[0]) != u32::MAX {
        return Err(BackendError::Hardware);
    }
    let m = BigUint::from_slice(modulus.words);
    if (BigUint::from(1u8) << (64 * k)) % &m != BigUint::from_slice(modulus.r_squared) {
        return Err(BackendError::Hardware);
    }
    Ok(m)
}

/// An operand, which must be below the modulus.
fn below(words: &[u32], m: &BigUint) -> Result<BigUint, BackendError> {
    let value = BigUint::from_slice(words);
    if &value < m {
        Ok(value)
    } else {
        Err(BackendError::Hardware)
    }
}

/// Writes `value` as little-endian words into `out`, zero-padded.
fn write_words(value: &BigUint, out: &mut [u32]) -> Result<(), BackendError> {
    let digits = value.to_u32_digits();
    if digits.len() > out.len() {
        return Err(BackendError::Hardware);
    }
    out.fill(0);
    out[..digits.len()].copy_from_slice(&digits);
    Ok(())
}
