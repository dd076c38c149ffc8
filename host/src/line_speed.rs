//! Moving a UART to a faster rate after the handshake (`SetBaud`), and the rate to aim for: the
//! fastest the port's USB-UART bridge carries, from a table of known bridges.
//!
//! The exchange can fail at any step (the answer lost, a rate the bridge or the divider cannot
//! make); whatever happens, both sides end at one rate: the host checks the new rate with a
//! ping, and otherwise goes back to `DEFAULT_BAUD`, where the device returns by itself once no
//! valid frame reached it for `BAUD_FALLBACK_MS`.
use std::time::Duration;

use ucrypto_protocol::{Command, RequestBody, ResponseBody, BAUD_FALLBACK_MS, DEFAULT_BAUD};

use crate::client::Client;
use crate::error::{Error, Result, TransportError};
use crate::transport::Transport;

/// The rate to move a UART to after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineSpeed {
    /// Stay at the rate the port was opened at.
    Keep,
    /// The fastest the port's USB bridge carries ([`fastest_baud`]); none for USB-Serial-JTAG
    /// and pseudo-terminals, whose rate means nothing.
    #[default]
    Fastest,
    /// This rate.
    Baud(u32),
}

/// USB-UART bridges by VID:PID (and a product-name hint where one id covers several chips), with
/// the fastest rate they carry that an ESP32-C3/C6 UART also makes (at most 5 Mbaud).
const BRIDGES: [(u16, u16, &str, u32); 5] = [
    (0x10c4, 0xea60, "CP2102N", 3_000_000),
    (0x10c4, 0xea60, "", 921_600),
    (0x1a86, 0x7523, "", 2_000_000),
    (0x1a86, 0x55d4, "", 2_000_000),
    (0x0403, 0x6001, "", 3_000_000),
];

/// Espressif's USB-Serial-JTAG: USB all the way, no UART to speed up.
const USB_SERIAL_JTAG: (u16, u16) = (0x303a, 0x1001);

/// The rate to propose for a UART behind a bridge `vid:pid` whose product string is `product`:
/// the table's, 921600 for another USB serial adapter, none for USB-Serial-JTAG.
pub fn bridge_baud(vid: u16, pid: u16, product: Option<&str>) -> Option<u32> {
    if (vid, pid) == USB_SERIAL_JTAG {
        return None;
    }
    let product = product.unwrap_or("");
    BRIDGES
        .iter()
        .find(|(v, p, hint, _)| (*v, *p) == (vid, pid) && product.contains(hint))
        .map(|&(.., baud)| baud)
        .or(Some(921_600))
}

/// The rate to propose for the port at `path`: its bridge's, or none when it is not a USB serial
/// port (a pseudo-terminal such as `ucrypto sim`'s, a built-in UART).
pub fn fastest_baud(path: &str) -> Option<u32> {
    let ports = serialport::available_ports().ok()?;
    ports.into_iter().find_map(|p| match p.port_type {
        serialport::SerialPortType::UsbPort(usb) if p.port_name == path => {
            bridge_baud(usb.vid, usb.pid, usb.product.as_deref())
        }
        _ => None,
    })
}

impl<T: Transport> Client<T> {
    /// Moves the line to `baud` (`SetBaud`, then a ping at the new rate). On any failure of the
    /// line both sides end at `DEFAULT_BAUD`, a warning says so, and the connection carries on
    /// there. Returns the rate in use; an error only when the device refused the rate (the
    /// device's error, nothing changed) or when it no longer answers even at `DEFAULT_BAUD`.
    pub fn set_line_baud(&mut self, baud: u32) -> Result<u32> {
        if baud == DEFAULT_BAUD {
            return Ok(DEFAULT_BAUD);
        }
        if !self.info().raw_capabilities.supports(Command::SetBaud) {
            log::warn!("this device cannot change its rate: staying at {DEFAULT_BAUD} baud");
            return Ok(DEFAULT_BAUD);
        }
        self.asked_baud = Some(baud);
        let body = RequestBody::SetBaud { baud };
        // Well short of the device's fallback: if the answer is lost, the ping at the new rate
        // must still reach the device before it goes back by itself.
        let wait = self
            .wait_for(&body)
            .min(Duration::from_millis(BAUD_FALLBACK_MS / 2));
        let seq = self.send(&body)?;
        let answer = self.receive(seq, wait, |body| match body {
            ResponseBody::BaudSet { baud: set } if set == baud => Ok(()),
            other => Err(Error::Verification(format!(
                "the device answered SetBaud with {other:?}"
            ))),
        });
        match answer {
            // Acknowledged: the device switches once the answer is out.
            Ok(()) => {}
            // The device could not read the request, or answered a ping sent behind it at the
            // old rate (it answers in order: it never switched, or has already fallen back).
            // Either way it is at the old rate now, as the host is.
            Err(e @ (Error::Device { .. } | Error::Transport(TransportError::AnswerLost)))
                if e.is_retryable() =>
            {
                log::warn!(
                    "the device answered at {DEFAULT_BAUD} baud after SetBaud ({e}): staying there"
                );
                return Ok(DEFAULT_BAUD);
            }
            // Refused (a rate out of its range): nothing changed on either side.
            Err(e @ Error::Device { .. }) => return Err(e),
            Err(e @ (Error::Interrupted | Error::Input(_))) => return Err(e),
            // The answer lost (the device may have switched), or not the answer expected: try
            // the rate, which settles it.
            Err(e) => log::info!("no BaudSet answer ({e}): trying {baud} baud all the same"),
        }
        self.transport_mut().set_baud(baud)?;
        if self.ping().is_ok() {
            self.negotiated_baud = Some(baud);
            return Ok(baud);
        }
        log::warn!("{baud} baud did not work on this line: back to {DEFAULT_BAUD}");
        self.transport_mut().set_baud(DEFAULT_BAUD)?;
        // Nothing valid reached the device since its last answer (the pings at the new rate did
        // not): it returns to DEFAULT_BAUD once that has lasted BAUD_FALLBACK_MS.
        std::thread::sleep(Duration::from_millis(BAUD_FALLBACK_MS + 200));
        self.transport_mut().discard_input()?;
        self.ping()?;
        Ok(DEFAULT_BAUD)
    }

    /// The rate the line is at now, for a line that has one (a UART, or a pseudo-terminal).
    pub fn line_baud(&self) -> Option<u32> {
        self.transport().baud()
    }

    /// The rate `SetBaud` proposed on this connection, if it did.
    pub fn asked_baud(&self) -> Option<u32> {
        self.asked_baud
    }

    /// Puts the device back at `DEFAULT_BAUD` (at the end of a connection), so that the next
    /// connection's `Hello` at that rate is heard at once. Best effort: the device falls back by
    /// itself anyway.
    pub fn restore_line_baud(&mut self) {
        if self.negotiated_baud.take().is_some() {
            let body = RequestBody::SetBaud { baud: DEFAULT_BAUD };
            // Short: a device that stopped answering must not hold up the end of a command.
            let wait = Duration::from_millis(300);
            if let Ok(seq) = self.send(&body) {
                let _ = self.receive(seq, wait, |_| Ok(()));
            }
            let _ = self.transport_mut().set_baud(DEFAULT_BAUD);
        }
    }

    /// One `Ping`, answered.
    fn ping(&mut self) -> Result<()> {
        let nonce = 0x5eed_ba0d;
        let body = RequestBody::Ping { nonce };
        let wait = self.wait_for(&body);
        let seq = self.send(&body)?;
        self.receive(seq, wait, |body| match body {
            ResponseBody::Pong { nonce: n } if n == nonce => Ok(()),
            other => Err(Error::Verification(format!(
                "the device answered Ping with {other:?}"
            ))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridges_get_their_fastest_rate_and_usb_serial_jtag_none() {
        assert_eq!(
            bridge_baud(
                0x10c4,
                0xea60,
                Some("CP2102N USB to UART Bridge Controller")
            ),
            Some(3_000_000)
        );
        assert_eq!(
            bridge_baud(0x10c4, 0xea60, Some("CP2102 USB to UART Bridge Controller")),
            Some(921_600)
        );
        assert_eq!(bridge_baud(0x1a86, 0x7523, None), Some(2_000_000));
        assert_eq!(
            bridge_baud(0x0403, 0x6001, Some("FT232R USB UART")),
            Some(3_000_000)
        );
        assert_eq!(bridge_baud(0x303a, 0x1001, None), None);
        assert_eq!(bridge_baud(0x1234, 0x5678, None), Some(921_600));
    }
}
