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

pub use backend::{Backend, BackendError};
pub use engine::{Engine, EngineStats};
pub use ucrypto_protocol::ChipProfile;

#[cfg(feature = "software")]
pub use backend::software::SoftwareBackend;

/// Which of the device's ports a request came in on ([`link::Port::id`]). A session belongs to
/// the port that opened it; [`Engine::receive`] serves everything as [`PortId::DEFAULT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortId(pub u8);

impl PortId {
    /// The one port of a single-port device (the virtual device).
    pub const DEFAULT: PortId = PortId(0);
    /// The chip's UART0.
    pub const UART0: PortId = PortId(1);
    /// The chip's USB-Serial-JTAG port.
    pub const USB_SERIAL_JTAG: PortId = PortId(2);
}

/// Firmware version reported in `Hello`.
pub const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");
