//! AES stream sessions (ECB, CBC, CFB8, CFB128, CTR) over the backend's block cipher.
use ucrypto_protocol::{AesDirection, AesMode, ErrorCode};

use super::session::SessionSlot;
use super::Outcome;
use crate::Backend;

/// The state of one AES stream.
pub(crate) struct AesSession {}

pub(super) fn start<'d, B: Backend>(
    _backend: &mut B,
    _sessions: &mut SessionSlot<B>,
    _direction: AesDirection,
    _mode: AesMode,
    _key: &[u8],
    _iv: Option<[u8; 16]>,
) -> Outcome<'d> {
    Err((ErrorCode::Unsupported, "AES is not in this firmware"))
}
