//! The UART rate the host asked for with `SetBaud`, and the way back to [`DEFAULT_BAUD`] when
//! the host falls silent ([`BAUD_FALLBACK_MS`]), so that host and device never disagree for
//! good. The engine only keeps the number; the port applies it once the answer is out.
//!
//! The rate is UART0's (or the one port of a single-port device): a `SetBaud` from the chip's
//! USB-Serial-JTAG port, which has no line rate, is answered without moving it, and that port's
//! frames do not keep a raised rate alive.
use ucrypto_protocol::{
    ErrorCode, ResponseBody, BAUD_FALLBACK_MS, DEFAULT_BAUD, MAX_BAUD, MIN_BAUD,
};

use super::outcome::Outcome;
use crate::PortId;

pub(crate) struct LineRate {
    baud: u32,
    /// The port of the request being served.
    port: PortId,
    /// Whether a frame was served since the last clock tick, and the tick that saw the last.
    active: bool,
    last_frame_ms: u64,
}

impl LineRate {
    pub(crate) const fn new() -> Self {
        Self {
            baud: DEFAULT_BAUD,
            port: PortId::DEFAULT,
            active: false,
            last_frame_ms: 0,
        }
    }

    pub(crate) fn baud(&self) -> u32 {
        self.baud
    }

    /// Sets the port of the requests that follow.
    pub(crate) fn serve_from(&mut self, port: PortId) {
        self.port = port;
    }

    /// Whether the requesting port is the one whose rate this is (a USB port has none).
    fn own_port(&self) -> bool {
        self.port != PortId::USB_SERIAL_JTAG
    }

    /// `SetBaud`: takes `baud` when it is in range and asked on the UART; a USB port's host
    /// gets its answer (its own port's rate setting does nothing either) and UART0 keeps its
    /// rate.
    pub(crate) fn set<'d>(&mut self, baud: u32) -> Outcome<'d> {
        if !(MIN_BAUD..=MAX_BAUD).contains(&baud) {
            return Err((ErrorCode::BadArgument, "baud rate outside 9600 to 5000000"));
        }
        if self.own_port() {
            self.baud = baud;
        }
        Ok(ResponseBody::BaudSet { baud })
    }

    /// A valid frame was served: the host on the UART is talking at this rate.
    pub(crate) fn touch(&mut self) {
        if self.own_port() {
            self.active = true;
        }
    }

    /// The device's clock. Counted from the tick after the last frame, so a long computation
    /// (its answer goes out after it) never counts as silence.
    pub(crate) fn tick(&mut self, now_ms: u64) {
        if self.active || self.baud == DEFAULT_BAUD {
            self.active = false;
            self.last_frame_ms = now_ms;
        } else if now_ms.saturating_sub(self.last_frame_ms) >= BAUD_FALLBACK_MS {
            self.baud = DEFAULT_BAUD;
        }
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::new();
    }
}
