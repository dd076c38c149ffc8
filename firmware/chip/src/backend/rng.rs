//! Random bytes from the true RNG with the SAR-ADC entropy source on (esp-hal's `TrngSource`);
//! without that source the RNG is a plain pseudo-random generator, which is never used.
use esp_hal::{
    peripherals::{ADC1, RNG},
    rng::{Trng, TrngSource},
};
use ucrypto_firmware::BackendError;
use ucrypto_protocol::{Entropy, EntropySource, EntropyState};

/// Turns the entropy source on; the `Trng` handle exists only while it is on.
pub(super) fn start(rng: RNG<'static>, adc1: ADC1<'static>) -> (TrngSource<'static>, Option<Trng>) {
    let source = TrngSource::new(rng, adc1);
    (source, Trng::try_new().ok())
}

pub(super) fn entropy(trng: Option<&Trng>) -> Entropy {
    let running = trng.is_some() && TrngSource::is_enabled();
    Entropy {
        source: EntropySource::SarAdc,
        state: if running {
            EntropyState::Ready
        } else {
            EntropyState::Failed
        },
    }
}

/// Fills `out` from the TRNG (esp-hal paces the reads so each word gathers fresh entropy).
pub(super) fn fill(trng: Option<&Trng>, out: &mut [u8]) -> Result<(), BackendError> {
    match trng {
        Some(trng) if TrngSource::is_enabled() => {
            trng.read(out);
            Ok(())
        }
        _ => Err(BackendError::EntropyUnavailable),
    }
}
