//! The hardware backend: the chip's crypto peripherals, owned in one place ([`Accelerators`])
//! and lent to the engine's requests through the [`Backend`] trait.
//!
//! Only register traffic lives here (through esp-hal's drivers); every piece of logic above a
//! single accelerator operation (chaining, padding, Montgomery constants, CRT) is in the engine
//! crate, where it is tested on the host against the software backend.
use esp_hal::{
    aes::Aes,
    peripherals::{ADC1, AES, FLASH, HMAC, RNG, RSA, SHA, TIMG0},
    rng::{Trng, TrngSource},
    rsa::Rsa,
    sha::Sha,
    timer::timg::Wdt,
    Blocking,
};
use ucrypto_firmware::backend::{AesKey, KeyHardware, Modulus};
use ucrypto_firmware::{Backend, BackendError};
use ucrypto_protocol::{Chip, Entropy, HashAlg};

mod aes;
mod ds;
mod efuse;
mod key_hardware;
mod record;
mod rng;
mod rsa;
mod sha;

use key_hardware::ChipKeyHardware;

/// The chip this image is built for.
#[cfg(feature = "esp32c3")]
pub const CHIP: Chip = Chip::Esp32C3;
#[cfg(feature = "esp32c6")]
pub const CHIP: Chip = Chip::Esp32C6;

/// The peripherals the engine's requests use. The AES, SHA, RSA, HMAC and Digital Signature
/// blocks share a clock and reset domain: one owner, so no driver can reset a block another one
/// is using.
pub struct Accelerators {
    // Keeps the SAR-ADC entropy source on for as long as the firmware runs.
    _entropy_source: TrngSource<'static>,
    trng: Option<Trng>,
    aes: Aes<'static>,
    sha: Sha<'static>,
    rsa: Rsa<'static, Blocking>,
    keys: ChipKeyHardware,
    watchdog: Wdt<TIMG0<'static>>,
    device_id: [u8; 6],
}

/// The peripheral singletons [`Accelerators`] takes over.
pub struct CryptoPeripherals {
    pub rng: RNG<'static>,
    pub adc1: ADC1<'static>,
    pub aes: AES<'static>,
    pub sha: SHA<'static>,
    pub rsa: RSA<'static>,
    pub hmac: HMAC<'static>,
    pub flash: FLASH<'static>,
    /// The running main-loop watchdog, fed by the loop and after each RSA operation.
    pub watchdog: Wdt<TIMG0<'static>>,
}

impl Accelerators {
    /// Starts the drivers: the TRNG with its SAR-ADC entropy source, and the RSA block with its
    /// constant-time mode set (and checked before each operation).
    pub fn new(p: CryptoPeripherals) -> Self {
        let (entropy_source, trng) = rng::start(p.rng, p.adc1);
        Self {
            _entropy_source: entropy_source,
            trng,
            aes: Aes::new(p.aes),
            sha: Sha::new(p.sha),
            rsa: rsa::start(p.rsa),
            keys: ChipKeyHardware::new(p.flash, p.hmac),
            watchdog: p.watchdog,
            device_id: device_id(),
        }
    }
}

impl Accelerators {
    /// The running application image's appended SHA-256 (see `record.rs`), read once at
    /// start-up for `Hello`.
    pub fn app_image_digest(&mut self) -> Option<[u8; 32]> {
        self.keys.app_image_digest()
    }

    /// Called by the main loop on each pass, and after each RSA operation so that a key
    /// generation's long prime search is not taken for a hang.
    pub fn feed_watchdog(&mut self) {
        self.watchdog.feed();
    }
}

/// The factory MAC address from eFuse: unique per chip.
fn device_id() -> [u8; 6] {
    let mut id = [0u8; 6];
    id.copy_from_slice(esp_hal::efuse::base_mac_address().as_bytes());
    id
}

impl Backend for Accelerators {
    fn chip(&self) -> Chip {
        CHIP
    }

    fn device_id(&self) -> [u8; 6] {
        self.device_id
    }

    fn is_virtual(&self) -> bool {
        false
    }

    fn entropy(&self) -> Entropy {
        rng::entropy(self.trng.as_ref())
    }

    fn fill_random(&mut self, out: &mut [u8]) -> Result<(), BackendError> {
        rng::fill(self.trng.as_ref(), out)
    }

    fn aes_encrypt_block(
        &mut self,
        key: &AesKey,
        block: &mut [u8; 16],
    ) -> Result<(), BackendError> {
        aes::encrypt_block(&mut self.aes, key, block)
    }

    fn aes_decrypt_block(
        &mut self,
        key: &AesKey,
        block: &mut [u8; 16],
    ) -> Result<(), BackendError> {
        aes::decrypt_block(&mut self.aes, key, block)
    }

    /// The accelerator's saved registers: a message can arrive over many requests, and the SHA
    /// block is free for other work between them.
    type ShaState = sha::ShaState;

    fn sha_start(&mut self, alg: HashAlg) -> sha::ShaState {
        sha::ShaState::new(alg)
    }

    fn sha_update(&mut self, state: &mut sha::ShaState, data: &[u8]) {
        sha::update(&mut self.sha, state, data)
    }

    fn sha_finish(&mut self, state: sha::ShaState, out: &mut [u8; 32]) {
        sha::finish(&mut self.sha, state, out)
    }

    fn rsa_mod_exp(
        &mut self,
        base: &[u32],
        exponent: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        let result = rsa::mod_exp(&mut self.rsa, base, exponent, modulus, out);
        self.feed_watchdog();
        result
    }

    fn rsa_mod_mul(
        &mut self,
        a: &[u32],
        b: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        let result = rsa::mod_mul(&mut self.rsa, a, b, modulus, out);
        self.feed_watchdog();
        result
    }

    fn key_hardware(&mut self) -> Option<&mut dyn KeyHardware> {
        Some(&mut self.keys)
    }
}
