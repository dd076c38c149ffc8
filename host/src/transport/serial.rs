//! A serial port (USB-Serial-JTAG, a USB-UART bridge, or `ucrypto sim`'s pseudo-terminal),
//! opened exclusively.
use std::io::{Read, Write};
use std::time::Duration;

use serialport::{ClearBuffer, SerialPort, TTYPort};

use super::Transport;
use crate::error::TransportError;

/// Longest a write may block (a device that stopped reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct SerialTransport {
    port: TTYPort,
    path: String,
    baud: u32,
}

impl SerialTransport {
    /// Opens `path` exclusively (TIOCEXCL and an exclusive `flock`), raw, 8N1 at `baud`.
    pub fn open(path: &str, baud: u32) -> Result<Self, TransportError> {
        let port = serialport::new(path, baud)
            .timeout(WRITE_TIMEOUT)
            .open_native()
            .map_err(|e| open_error(path, e))?;
        Ok(Self {
            port,
            path: path.to_string(),
            baud,
        })
    }
}

fn open_error(path: &str, e: serialport::Error) -> TransportError {
    use serialport::ErrorKind;
    let busy = || TransportError::PortBusy(path.to_string());
    match e.kind() {
        // serialport reports a held flock as NoDevice with this description.
        ErrorKind::NoDevice if e.description.contains("lock") => busy(),
        ErrorKind::Io(std::io::ErrorKind::ResourceBusy) => busy(),
        ErrorKind::Io(std::io::ErrorKind::NotFound) | ErrorKind::NoDevice => TransportError::Open {
            port: path.to_string(),
            reason: "no such device; list candidates with `ucrypto ports`".to_string(),
        },
        _ if e.description.contains("EBUSY") || e.description.contains("busy") => busy(),
        _ if e.description.contains("ENOTTY")
            || e.description.contains("Inappropriate ioctl")
            || e.description.contains("Not a typewriter") =>
        {
            TransportError::NotSerial {
                port: path.to_string(),
            }
        }
        _ => TransportError::Open {
            port: path.to_string(),
            reason: e.description,
        },
    }
}

impl Transport for SerialTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.port
            .set_timeout(WRITE_TIMEOUT)
            .map_err(|e| self.lost(e.into()))?;
        self.port.write_all(bytes).map_err(|e| self.lost(e))?;
        self.port.flush().map_err(|e| self.lost(e))
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let timeout = timeout.max(Duration::from_millis(1));
        self.port
            .set_timeout(timeout)
            .map_err(|e| self.lost(e.into()))?;
        match self.port.read(buf) {
            // The port said it was readable and gave nothing: the other end hung up.
            Ok(0) => Err(TransportError::Disconnected(format!(
                "{} hung up",
                self.path
            ))),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(0),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(self.lost(e)),
        }
    }

    fn discard_input(&mut self) -> Result<(), TransportError> {
        self.port
            .clear(ClearBuffer::Input)
            .map_err(|e| self.lost(e.into()))
    }

    fn line_rate(&self) -> Option<u32> {
        // 8N1: ten bits on the line per byte.
        Some(self.baud / 10)
    }

    fn baud(&self) -> Option<u32> {
        Some(self.baud)
    }

    fn describe(&self) -> String {
        self.path.clone()
    }

    fn set_baud(&mut self, baud: u32) -> Result<(), TransportError> {
        self.port
            .set_baud_rate(baud)
            .map_err(|e| self.lost(e.into()))?;
        self.baud = baud;
        Ok(())
    }
}

impl SerialTransport {
    fn lost(&self, e: std::io::Error) -> TransportError {
        if e.kind() == std::io::ErrorKind::TimedOut {
            return TransportError::Timeout(WRITE_TIMEOUT);
        }
        TransportError::Disconnected(format!("{}: {e}", self.path))
    }
}

impl Drop for SerialTransport {
    fn drop(&mut self) {
        // TIOCEXCL outlives the descriptor while anyone else holds the tty open (the virtual
        // device holds its own side): release it so the next run can open the port.
        let _ = self.port.set_exclusive(false);
    }
}
