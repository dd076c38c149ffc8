//! The continuous health tests (NIST SP 800-90B 4.4): every word the engine draws from the RNG,
//! after start-up as before it, goes through the repetition count and adaptive proportion tests
//! of [`super::startup_health`]. One failure latches until the next reset: every later draw is
//! refused ([`BackendError::HealthTestFailed`], answered `HealthTestFailed`), and the entropy
//! state reads `Failed` in `Hello`.
//!
//! A wrapper around the backend rather than a check in each request handler, so that no draw
//! (random output, key generation, the eFuse key and IV, session ids) can bypass it.
use core::ops::{Deref, DerefMut};

use ucrypto_protocol::{Chip, Entropy, EntropyState};
use zeroize::Zeroize;

use super::startup_health::HealthTests;
use crate::backend::{AesKey, KeyHardware, Modulus};
use crate::{Backend, BackendError};

/// A backend whose RNG output is health-tested word by word.
pub(crate) struct HealthChecked<B> {
    inner: B,
    tests: HealthTests,
    failed: bool,
}

impl<B> HealthChecked<B> {
    pub(crate) fn new(inner: B) -> Self {
        Self {
            inner,
            tests: HealthTests::default(),
            failed: false,
        }
    }

    /// What a chip reset does: the tests start over (a failure is found again if it persists).
    pub(crate) fn restart(&mut self) {
        self.tests = HealthTests::default();
        self.failed = false;
    }

    pub(crate) fn failed(&self) -> bool {
        self.failed
    }
}

// The engine's tests reach the wrapped backend's fields (a counter, a fault switch) through it.
impl<B> Deref for HealthChecked<B> {
    type Target = B;
    fn deref(&self) -> &B {
        &self.inner
    }
}

impl<B> DerefMut for HealthChecked<B> {
    fn deref_mut(&mut self) -> &mut B {
        &mut self.inner
    }
}

impl<B: Backend> Backend for HealthChecked<B> {
    fn chip(&self) -> Chip {
        self.inner.chip()
    }
    fn device_id(&self) -> [u8; 6] {
        self.inner.device_id()
    }
    fn is_virtual(&self) -> bool {
        self.inner.is_virtual()
    }
    fn entropy(&self) -> Entropy {
        let mut entropy = self.inner.entropy();
        if self.failed {
            entropy.state = EntropyState::Failed;
        }
        entropy
    }
    fn fill_random(&mut self, out: &mut [u8]) -> Result<(), BackendError> {
        if !self.failed {
            self.inner.fill_random(out)?;
            // The trait asks for whole words; a tail is tested zero-padded all the same.
            for chunk in out.chunks(4) {
                let mut word = [0u8; 4];
                word[..chunk.len()].copy_from_slice(chunk);
                if !self.tests.feed(u32::from_le_bytes(word)) {
                    self.failed = true;
                }
            }
        }
        if self.failed {
            out.zeroize();
            return Err(BackendError::HealthTestFailed);
        }
        Ok(())
    }
    fn aes_encrypt_block(
        &mut self,
        key: &AesKey,
        block: &mut [u8; 16],
    ) -> Result<(), BackendError> {
        self.inner.aes_encrypt_block(key, block)
    }
    fn aes_decrypt_block(
        &mut self,
        key: &AesKey,
        block: &mut [u8; 16],
    ) -> Result<(), BackendError> {
        self.inner.aes_decrypt_block(key, block)
    }
    type ShaState = B::ShaState;
    fn sha_start(&mut self, alg: ucrypto_protocol::HashAlg) -> Self::ShaState {
        self.inner.sha_start(alg)
    }
    fn sha_update(&mut self, state: &mut Self::ShaState, data: &[u8]) {
        self.inner.sha_update(state, data)
    }
    fn sha_finish(&mut self, state: Self::ShaState, out: &mut [u8; 32]) {
        self.inner.sha_finish(state, out)
    }
    fn rsa_mod_exp(
        &mut self,
        base: &[u32],
        exponent: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        self.inner.rsa_mod_exp(base, exponent, modulus, out)
    }
    fn rsa_mod_mul(
        &mut self,
        a: &[u32],
        b: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        self.inner.rsa_mod_mul(a, b, modulus, out)
    }
    fn key_hardware(&mut self) -> Option<&mut dyn KeyHardware> {
        self.inner.key_hardware()
    }
}
