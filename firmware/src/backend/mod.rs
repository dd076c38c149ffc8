//! The hardware primitives the engine needs, as a trait: implemented by the chip's accelerators
//! (`firmware/chip`) and by software for the virtual device ([`software`]).
//!
//! Methods are the smallest units the accelerators offer, so that every piece of logic above
//! them (framing, dispatch, chaining, padding, Montgomery constants) stays in the engine, where
//! it is tested on the host.
use ucrypto_protocol::{Chip, Entropy};

#[cfg(feature = "software")]
pub mod software;

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
}
