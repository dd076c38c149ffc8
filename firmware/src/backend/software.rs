//! The software backend of the virtual device: ChaCha20 for random words, seeded from the host
//! OS or from a fixed number (deterministic, for tests).
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use ucrypto_protocol::{Chip, Entropy, EntropySource, EntropyState};

use super::{Backend, BackendError};

/// Where the virtual device's randomness comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seed {
    /// 32 bytes from the host OS's RNG: random, but software.
    HostOs([u8; 32]),
    /// A fixed number: the same output every run, reported as deterministic.
    Fixed(u64),
}

/// Software crypto behind the [`Backend`] trait.
pub struct SoftwareBackend {
    chip: Chip,
    rng: ChaCha20Rng,
    entropy: Entropy,
    device_id: [u8; 6],
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
        Self {
            chip,
            rng: ChaCha20Rng::from_seed(reseed),
            entropy,
            device_id,
        }
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
        self.rng.fill_bytes(out);
        Ok(())
    }
}
