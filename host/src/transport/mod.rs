//! Byte pipes to a device: a serial port, or the virtual device in this process. The client
//! never knows which.
use std::time::Duration;

use crate::error::TransportError;

pub mod serial;
#[cfg(feature = "virtual-device")]
pub mod virtual_device;

pub use serial::SerialTransport;
#[cfg(feature = "virtual-device")]
pub use virtual_device::VirtualTransport;

/// A bidirectional byte stream to one device.
pub trait Transport {
    /// Writes all of `bytes`, or fails within the transport's write timeout.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError>;

    /// Reads what is available into `buf`, waiting up to `timeout` for the first byte.
    /// Returns 0 when nothing arrived in time.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError>;

    /// Drops bytes received but not yet read (a boot banner, answers to an earlier run).
    fn discard_input(&mut self) -> Result<(), TransportError>;

    /// Bytes per second the line carries, if it is a real line (for timeouts).
    fn line_rate(&self) -> Option<u32> {
        None
    }

    /// The rate the host's side of a UART is at; none for lines without a rate.
    fn baud(&self) -> Option<u32> {
        None
    }

    /// Where the device is, for messages (`/dev/ttyACM0`, `sim`).
    fn describe(&self) -> String;

    /// Moves the host's side of a UART to `baud` (after the device acknowledged `SetBaud`).
    /// Lines without a rate (the in-process device) ignore it.
    fn set_baud(&mut self, baud: u32) -> Result<(), TransportError> {
        let _ = baud;
        Ok(())
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        (**self).write_all(bytes)
    }
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        (**self).read(buf, timeout)
    }
    fn discard_input(&mut self) -> Result<(), TransportError> {
        (**self).discard_input()
    }
    fn line_rate(&self) -> Option<u32> {
        (**self).line_rate()
    }
    fn baud(&self) -> Option<u32> {
        (**self).baud()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn set_baud(&mut self, baud: u32) -> Result<(), TransportError> {
        (**self).set_baud(baud)
    }
}
