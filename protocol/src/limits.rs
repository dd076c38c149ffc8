//! Sizes both sides must agree on, defined once.

/// Largest decoded frame: the postcard message plus its 4-byte CRC.
pub const MAX_FRAME_LEN: usize = 4096;

/// Largest frame on the wire: COBS overhead plus the leading and trailing `0x00` delimiters.
pub const MAX_WIRE_FRAME_LEN: usize = cobs::max_encoding_length(MAX_FRAME_LEN) + 2;

/// Largest data payload in one request or response (AES chunks, message chunks, random bytes).
/// Leaves room in [`MAX_FRAME_LEN`] for the message header.
pub const MAX_CHUNK_LEN: usize = 3072;

/// Most 32-bit words one `Random` request may ask for (`MAX_CHUNK_LEN / 4`).
pub const MAX_RANDOM_WORDS: u16 = (MAX_CHUNK_LEN / 4) as u16;

/// Smallest RSA modulus the device accepts, in bits.
pub const MIN_RSA_BITS: u16 = 1024;

/// Largest RSA modulus the protocol can carry (a CRT private key must fit in one frame).
pub const MAX_RSA_BITS: u16 = 4096;

/// Length of the CRC-32C trailer of each frame.
pub const CRC_LEN: usize = 4;

/// A loaded signing key (`LoadKey`) is wiped after this long without any request, in
/// milliseconds: a host that went away without `UnloadKey` leaves no key behind for long.
pub const KEY_IDLE_MS: u64 = 60_000;

/// A session (AES stream or message hash) unused for this long is ended and its key wiped by the
/// device (the chip and the virtual device alike). A host that pauses longer gets `NoSession`
/// and starts the stream again.
pub const SESSION_IDLE_TIMEOUT_MS: u32 = 60_000;

/// A frame whose bytes stop arriving for this long before its closing delimiter is dropped, and
/// its bytes wiped, by the device, in milliseconds: a request cut short (a host that died
/// mid-frame) must not leave part of a key in the receive buffer. A host sends each frame's
/// bytes without pausing.
pub const FRAME_GAP_TIMEOUT_MS: u64 = 1_000;
