//! The ucrypto device engine: bytes from the host in, frames decoded, requests served on a
//! [`Backend`] (the chip's accelerators, or software for the virtual device), frames out.
//!
//! Everything here is `no_std` logic tested on the host; the chip binary in `chip/` only adds a
//! hardware backend and the serial transports.
#![no_std]

#[cfg(any(test, feature = "software"))]
extern crate std;

pub mod backend;
pub mod engine;
pub mod link;
pub mod profile;

pub use backend::{Backend, BackendError};
pub use engine::{Engine, EngineStats};
pub use profile::ChipProfile;

#[cfg(feature = "software")]
pub use backend::software::SoftwareBackend;

/// Firmware version reported in `Hello`.
pub const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");
