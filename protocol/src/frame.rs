//! Framing for a byte stream: `0x00, COBS(postcard message ++ CRC-32C little-endian), 0x00`.
//!
//! The leading delimiter ends whatever came before (a boot banner, half a frame), so noise on the
//! line costs at most one dropped frame. The CRC is CRC-32C (Castagnoli, `crc::CRC_32_ISCSI`).
use crc::{Crc, CRC_32_ISCSI};
use serde::Serialize;
use zeroize::Zeroize;

use crate::{CRC_LEN, MAX_FRAME_LEN, MAX_WIRE_FRAME_LEN};

/// CRC-32C, as used on each frame.
pub const FRAME_CRC: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// Why a frame was dropped. Dropped frames are counted, never acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameError {
    /// More than [`MAX_WIRE_FRAME_LEN`] bytes arrived before a delimiter.
    TooLong,
    /// The bytes between two delimiters are not valid COBS.
    BadCobs,
    /// The frame is shorter than its CRC.
    TooShort,
    /// The CRC does not match: the frame was damaged on the line.
    BadCrc,
}

/// Why a message could not be encoded into a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The message does not fit in [`MAX_FRAME_LEN`] (or the buffer given).
    TooLarge,
}

/// Encodes `msg` as one frame into `out` (at least [`MAX_WIRE_FRAME_LEN`] bytes), using
/// `scratch` (at least [`MAX_FRAME_LEN`] bytes) for the unframed message. Returns the frame.
pub fn encode_frame<'o, T: Serialize>(
    msg: &T,
    scratch: &mut [u8],
    out: &'o mut [u8],
) -> Result<&'o [u8], EncodeError> {
    let limit = scratch.len().min(MAX_FRAME_LEN);
    let body_room = limit.checked_sub(CRC_LEN).ok_or(EncodeError::TooLarge)?;
    let body_len = postcard::to_slice(msg, &mut scratch[..body_room])
        .map_err(|_| EncodeError::TooLarge)?
        .len();
    let crc = FRAME_CRC.checksum(&scratch[..body_len]);
    scratch[body_len..body_len + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    let raw = &scratch[..body_len + CRC_LEN];
    if out.len() < cobs::max_encoding_length(raw.len()) + 2 {
        return Err(EncodeError::TooLarge);
    }
    out[0] = 0;
    let n = cobs::encode(raw, &mut out[1..]);
    out[1 + n] = 0;
    Ok(&out[..n + 2])
}

/// Encodes `msg` as one frame into a new vector.
#[cfg(feature = "std")]
pub fn encode_frame_vec<T: Serialize>(msg: &T) -> Result<std::vec::Vec<u8>, EncodeError> {
    let mut scratch = std::vec![0u8; MAX_FRAME_LEN];
    let mut out = std::vec![0u8; MAX_WIRE_FRAME_LEN];
    let len = encode_frame(msg, &mut scratch, &mut out)?.len();
    out.truncate(len);
    Ok(out)
}

/// Counts of frames the decoder dropped, by reason.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DropCounts {
    pub too_long: u32,
    pub bad_cobs: u32,
    pub too_short: u32,
    pub bad_crc: u32,
}

impl DropCounts {
    pub const fn total(&self) -> u32 {
        self.too_long + self.bad_cobs + self.too_short + self.bad_crc
    }

    fn count(&mut self, err: FrameError) {
        let slot = match err {
            FrameError::TooLong => &mut self.too_long,
            FrameError::BadCobs => &mut self.bad_cobs,
            FrameError::TooShort => &mut self.too_short,
            FrameError::BadCrc => &mut self.bad_crc,
        };
        *slot = slot.saturating_add(1);
    }
}

/// Incremental frame decoder with a fixed buffer: bytes in, checked message bodies out.
///
/// Memory is bounded by `N` whatever arrives; an over-long run of bytes is skipped up to the next
/// delimiter and reported once as [`FrameError::TooLong`].
pub struct FrameDecoder<const N: usize = MAX_WIRE_FRAME_LEN> {
    buf: [u8; N],
    len: usize,
    /// Bytes of the buffer the last frame took (until [`FrameDecoder::wipe_frame`]).
    frame_len: usize,
    overflowed: bool,
    drops: DropCounts,
}

impl<const N: usize> Default for FrameDecoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameDecoder<N> {
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            frame_len: 0,
            overflowed: false,
            drops: DropCounts {
                too_long: 0,
                bad_cobs: 0,
                too_short: 0,
                bad_crc: 0,
            },
        }
    }

    /// Frames dropped so far, by reason.
    pub const fn drops(&self) -> DropCounts {
        self.drops
    }

    /// Forgets a partly received frame (after a timeout, before a new exchange) and wipes the
    /// whole buffer: a request cut short may have carried part of a key.
    pub fn reset(&mut self) {
        self.buf.zeroize();
        self.len = 0;
        self.frame_len = 0;
        self.overflowed = false;
    }

    /// Whether bytes of a frame arrived without its closing delimiter yet.
    pub const fn is_receiving(&self) -> bool {
        self.len > 0 || self.overflowed
    }

    /// Zeroes the bytes the last frame took in the buffer, once the request it carried was
    /// served: a key in a request must not stay in memory after it was used.
    pub fn wipe_frame(&mut self) {
        self.buf[..self.frame_len].zeroize();
        self.frame_len = 0;
    }

    /// Consumes bytes from `input` up to and including the first delimiter that ends a frame.
    /// Returns how many bytes were consumed and, if a frame ended, its checked message body
    /// (without the CRC) or why it was dropped. Call again with the rest of the input.
    pub fn push<'s>(&'s mut self, input: &[u8]) -> (usize, Option<Result<&'s [u8], FrameError>>) {
        for (i, &byte) in input.iter().enumerate() {
            if byte != 0 {
                if self.len < N {
                    self.buf[self.len] = byte;
                    self.len += 1;
                } else {
                    self.overflowed = true;
                }
                continue;
            }
            let consumed = i + 1;
            let len = core::mem::replace(&mut self.len, 0);
            self.frame_len = self.frame_len.max(len.min(N));
            if core::mem::replace(&mut self.overflowed, false) {
                self.drops.count(FrameError::TooLong);
                return (consumed, Some(Err(FrameError::TooLong)));
            }
            if len == 0 {
                // Two delimiters in a row: the gap between frames, not a frame.
                continue;
            }
            let result = Self::check(&mut self.buf[..len]);
            if let Err(err) = result {
                self.drops.count(err);
            }
            return (consumed, Some(result));
        }
        (input.len(), None)
    }

    fn check(encoded: &mut [u8]) -> Result<&[u8], FrameError> {
        let decoded_len = cobs::decode_in_place(encoded).map_err(|_| FrameError::BadCobs)?;
        if decoded_len > MAX_FRAME_LEN {
            return Err(FrameError::TooLong);
        }
        let body_len = decoded_len
            .checked_sub(CRC_LEN)
            .filter(|&n| n > 0)
            .ok_or(FrameError::TooShort)?;
        let (body, crc) = encoded[..decoded_len].split_at(body_len);
        let expected = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if FRAME_CRC.checksum(body) != expected {
            return Err(FrameError::BadCrc);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_wipes_a_frame_cut_short() {
        let mut decoder: FrameDecoder<64> = FrameDecoder::new();
        let (_, frame) = decoder.push(&[0x21, 0x22, 0x23, 0x24]);
        assert!(frame.is_none());
        assert!(decoder.is_receiving());
        decoder.reset();
        assert!(!decoder.is_receiving());
        assert!(decoder.buf.iter().all(|&b| b == 0));
        // An over-long run, cut short, is wiped whole too.
        let _ = decoder.push(&[0x41; 100]);
        assert!(decoder.is_receiving());
        decoder.reset();
        assert!(decoder.buf.iter().all(|&b| b == 0));
    }

    #[test]
    fn wipe_frame_zeroes_every_byte_the_frame_took() {
        let mut decoder: FrameDecoder<64> = FrameDecoder::new();
        // Not a valid frame (bad CRC) but it fills the buffer all the same, as a key would.
        let input = [0u8, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0];
        let (_, frame) = decoder.push(&input);
        assert!(frame.is_some());
        assert!(decoder.buf.iter().any(|&b| b != 0));
        decoder.wipe_frame();
        assert!(decoder.buf.iter().all(|&b| b == 0));

        // An over-long run fills the whole buffer; it is wiped whole.
        let mut long = [0x41u8; 100];
        long[99] = 0;
        let _ = decoder.push(&long);
        decoder.wipe_frame();
        assert!(decoder.buf.iter().all(|&b| b == 0));
    }
}
