//! Serving one [`Engine`] on several byte-stream ports (the chip's UART0 and USB-Serial-JTAG):
//! whole frames in, each answer queued on the port its request came from, no call ever waits.
//!
//! A port's bytes are collected up to a frame's closing delimiter before the engine sees any of
//! them, so bytes from two ports never mix in the engine's one decoder. An answer is sent as fast
//! as its port takes it; a port that takes nothing for [`STALL_TIMEOUT_MS`] (a USB port with no
//! host reading it) loses that answer instead of freezing the other port.
use ucrypto_protocol::{FRAME_GAP_TIMEOUT_MS, MAX_WIRE_FRAME_LEN};
use zeroize::Zeroize;

use crate::{Backend, Engine, PortId};

mod ring;

pub use ring::ByteRing;

/// A serial port driven by polling. Neither method may wait for the line or the host.
pub trait Port {
    /// Moves bytes already received into `buf`; returns how many (0 when none are waiting).
    fn read(&mut self, buf: &mut [u8]) -> usize;

    /// Queues bytes from the start of `data` for sending; returns how many it took (0 when the
    /// port's transmit buffer is full).
    fn write(&mut self, data: &[u8]) -> usize;

    /// Which port this is: a session belongs to the port that opened it, so each port of a
    /// device with several must give its own id.
    fn id(&self) -> PortId {
        PortId::DEFAULT
    }
}

/// How long a port may take none of an answer's bytes before the rest of the answer is dropped.
/// A host that reads the port takes bytes within milliseconds; one that does not may never come.
pub const STALL_TIMEOUT_MS: u64 = 1000;

/// Bytes read from a port per poll: bounded, so one busy port cannot starve the other.
const READ_CHUNK: usize = 64;

/// Counters of one port, for diagnostics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames handed to the engine (including damaged ones, which it counts and drops).
    pub frames: u32,
    /// Answers dropped because the port took none of their bytes for [`STALL_TIMEOUT_MS`].
    pub abandoned: u32,
}

/// One port's side of the link: the frame being received and the answer being sent.
///
/// All zero when new, so that a `static` link costs no flash for its initial value.
pub struct Link {
    /// COBS bytes of the frame being received, without its delimiters.
    frame: [u8; MAX_WIRE_FRAME_LEN],
    frame_len: usize,
    /// More than `frame.len()` bytes arrived without a delimiter.
    overflowed: bool,
    /// When the last bytes of the frame being received arrived: [`FRAME_GAP_TIMEOUT_MS`] later
    /// a frame without its closing delimiter is dropped and wiped.
    last_byte_ms: u64,
    /// Bytes read from the port and not yet looked at.
    input: [u8; READ_CHUNK],
    input_pos: usize,
    input_len: usize,
    /// The answer frame being sent.
    answer: [u8; MAX_WIRE_FRAME_LEN],
    answer_len: usize,
    answer_sent: usize,
    /// When the port last took bytes of the answer (or when the answer was ready).
    last_progress_ms: u64,
    stats: LinkStats,
}

impl Default for Link {
    fn default() -> Self {
        Self::new()
    }
}

impl Link {
    pub const fn new() -> Self {
        Self {
            frame: [0; MAX_WIRE_FRAME_LEN],
            frame_len: 0,
            overflowed: false,
            last_byte_ms: 0,
            input: [0; READ_CHUNK],
            input_pos: 0,
            input_len: 0,
            answer: [0; MAX_WIRE_FRAME_LEN],
            answer_len: 0,
            answer_sent: 0,
            last_progress_ms: 0,
            stats: LinkStats {
                frames: 0,
                abandoned: 0,
            },
        }
    }

    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Whether an answer is still (partly) waiting to be sent.
    pub fn is_sending(&self) -> bool {
        self.answer_sent < self.answer_len
    }

    /// One step for `port`: sends what the port takes of the pending answer; when none is
    /// pending, reads at most one chunk and answers the frame it completes, if any. `now_ms` is a
    /// monotonic clock in milliseconds, read again after the engine's work (which may take long).
    pub fn poll<B: Backend>(
        &mut self,
        port: &mut impl Port,
        engine: &mut Engine<B>,
        mut now_ms: impl FnMut() -> u64,
    ) {
        engine.tick(now_ms());
        if self.is_sending() {
            self.send(port, now_ms());
            if self.is_sending() {
                // Requests wait in the port (its receive buffer or the host) until the answer
                // before them is out: one answer in flight per port bounds the memory.
                return;
            }
        }
        if self.input_pos == self.input_len {
            // Read bytes may be parts of a key: wipe them before reading more.
            self.input[..self.input_len].zeroize();
            self.input_pos = 0;
            self.input_len = port.read(&mut self.input);
            let now = now_ms();
            if self.input_len > 0 {
                self.last_byte_ms = now;
            } else if (self.frame_len > 0 || self.overflowed)
                && now.saturating_sub(self.last_byte_ms) >= FRAME_GAP_TIMEOUT_MS
            {
                // The rest of the frame is not coming: its bytes may be part of a key.
                self.drop_frame();
            }
        }
        while self.input_pos < self.input_len && !self.is_sending() {
            let start = self.input_pos;
            let delimiter = self.input[start..self.input_len]
                .iter()
                .position(|&byte| byte == 0);
            let end = delimiter.map_or(self.input_len, |i| start + i);
            self.collect(start, end);
            if delimiter.is_some() {
                self.input_pos = end + 1;
                self.answer_frame(engine, port.id(), now_ms());
                // Read after the engine's work, which may take long: the stall clock of this
                // answer starts now.
                let now = now_ms();
                self.last_progress_ms = now;
                self.send(port, now);
            } else {
                self.input_pos = end;
            }
        }
    }

    /// Appends `input[start..end]` (no delimiter in it) to the frame being received.
    fn collect(&mut self, start: usize, end: usize) {
        let room = self.frame.len() - self.frame_len;
        let take = room.min(end - start);
        self.frame[self.frame_len..self.frame_len + take]
            .copy_from_slice(&self.input[start..start + take]);
        self.frame_len += take;
        if take < end - start {
            self.overflowed = true;
        }
    }

    /// Hands the completed frame to the engine and queues its answer.
    fn answer_frame<B: Backend>(&mut self, engine: &mut Engine<B>, from: PortId, now_ms: u64) {
        if self.frame_len == 0 && !self.overflowed {
            // Two delimiters in a row: the gap before a frame, not a frame.
            return;
        }
        self.stats.frames = self.stats.frames.wrapping_add(1);
        let answer = &mut self.answer;
        let mut answer_len = 0;
        let mut queue = |bytes: &[u8]| {
            // Engine frames are at most MAX_WIRE_FRAME_LEN long; one frame in gives at most one
            // frame out, since the engine only ever sees whole frames here.
            if let Some(slot) = answer.get_mut(..bytes.len()) {
                slot.copy_from_slice(bytes);
                answer_len = bytes.len();
            }
        };
        if self.overflowed {
            // Let the engine see an over-long run too, so that it drops and counts it as it does
            // for a single stream: the buffer is full of non-zero bytes, one more overflows.
            engine.receive_on(from, now_ms, &self.frame, &mut queue);
            engine.receive_on(from, now_ms, &[1, 0], &mut queue);
        } else {
            engine.receive_on(from, now_ms, &self.frame[..self.frame_len], &mut queue);
            engine.receive_on(from, now_ms, &[0], &mut queue);
        }
        // The request may have carried a key: none of it stays here.
        self.drop_frame();
        self.answer_len = answer_len;
        self.answer_sent = 0;
    }

    /// Wipes the frame being received and forgets it.
    fn drop_frame(&mut self) {
        let used = if self.overflowed {
            self.frame.len()
        } else {
            self.frame_len
        };
        self.frame[..used].zeroize();
        self.frame_len = 0;
        self.overflowed = false;
    }

    /// Writes what the port takes of the pending answer; drops the rest after a stall.
    fn send(&mut self, port: &mut impl Port, now_ms: u64) {
        while self.is_sending() {
            let taken = port
                .write(&self.answer[self.answer_sent..self.answer_len])
                .min(self.answer_len - self.answer_sent);
            if taken == 0 {
                break;
            }
            self.answer_sent += taken;
            self.last_progress_ms = now_ms;
        }
        if self.is_sending() && now_ms.saturating_sub(self.last_progress_ms) >= STALL_TIMEOUT_MS {
            // The host sees a cut frame, which its decoder drops at the next delimiter.
            self.stats.abandoned = self.stats.abandoned.wrapping_add(1);
            self.answer_sent = self.answer_len;
        }
        if !self.is_sending() {
            // The answer may carry plaintext, random bytes or a signature: none of it stays.
            self.answer[..self.answer_len].zeroize();
            self.answer_len = 0;
            self.answer_sent = 0;
        }
    }

    /// The link's buffers, for tests that look for secrets left behind.
    #[cfg(test)]
    pub(crate) fn buffers(&self) -> [&[u8]; 3] {
        [&self.frame, &self.input, &self.answer]
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod wipe_tests;
