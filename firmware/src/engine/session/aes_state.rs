//! The state of an AES stream session between chunks: the key, the chaining state and the
//! marks a chunk may go back to. `aes` processes chunks with it; this module only holds it and
//! wipes it when the session ends.
use ucrypto_protocol::{AesDirection, AesMode};
use zeroize::Zeroize;

use crate::backend::AesKey;

/// The AES block size in bytes.
pub(crate) const BLOCK: usize = 16;

/// Where a session's block cipher runs, chosen once when the session opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AesUnit {
    /// The chip's AES accelerator, through the backend.
    Accelerator,
    /// The `aes` crate on the device's CPU: the accelerator refused this key size.
    Software,
}

/// The state of one AES stream.
pub(crate) struct AesSession {
    pub(crate) direction: AesDirection,
    pub(crate) mode: AesMode,
    pub(crate) key: AesKey,
    pub(crate) engine: AesUnit,
    pub(crate) chaining: Chaining,
    /// Bytes processed so far: where the next chunk goes unless it names a mark.
    pub(crate) position: u64,
    /// The chaining state at the session's start and at the ends of the latest chunks (CBC and
    /// CFB): the offsets a chunk may go back (or forward) to.
    pub(crate) marks: [Mark; MARKS],
    /// Marks written so far: each mark's `written` is its number, the lowest is the oldest (after
    /// 2^32 marks the count wraps, which only changes which mark goes first).
    pub(crate) marks_written: u32,
}

/// How many chunk ends a session remembers: four times the pipelining depth (protocol section
/// 1), so the chunk after any answer a host may lose is still among them.
pub(crate) const MARKS: usize = 16;

/// The chaining state at one offset of the stream.
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    /// `None` while the slot is unused.
    pub(crate) offset: Option<u64>,
    pub(crate) register: [u8; BLOCK],
    pub(crate) block_pos: usize,
    /// When it was last written (`AesSession::marks_written` then).
    pub(crate) written: u32,
}

impl Mark {
    pub(crate) const EMPTY: Mark = Mark {
        offset: None,
        register: [0; BLOCK],
        block_pos: 0,
        written: 0,
    };
}

/// What links one chunk to the next.
pub(crate) struct Chaining {
    /// CBC and CFB8: the register (last ciphertext, or the IV). CFB128: the cipher-feedback block
    /// as `cfb_mode` keeps it. CTR: the initial counter block (the stream position seeks from it).
    pub(crate) register: [u8; BLOCK],
    /// CFB128: bytes of `register` already used in the current block.
    pub(crate) block_pos: usize,
}

impl Drop for Chaining {
    fn drop(&mut self) {
        self.register.zeroize();
    }
}

impl Drop for AesSession {
    fn drop(&mut self) {
        for mark in &mut self.marks {
            mark.register.zeroize();
            mark.offset = None;
        }
    }
}
